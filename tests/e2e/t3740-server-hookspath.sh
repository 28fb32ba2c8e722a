#!/bin/sh
# contrib/server: git-gate for every repository of a server through
# core.hooksPath, with a policy per repository path and the repository's
# own pre-receive hook chained after git-gate's verdict.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

test_expect_success 'setup: repositories under a root, hooksPath pointing at contrib/server/hooks' '
	mkdir -p repos/team policies/team server-hooks &&
	cp "$GATE_SRCDIR/contrib/server/hooks/pre-receive" server-hooks/ &&
	chmod +x server-hooks/pre-receive &&
	git init -q --bare repos/team/app.git &&
	git init -q --bare repos/other.git &&
	for r in repos/team/app.git repos/other.git; do
		git --git-dir=$r config core.hooksPath "$TRASH/server-hooks" || return 1
	done &&
	cat >policies/team/app.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "msg" ]; } );
	checks = { msg = { type = "commit-message"; subject_max = 30; }; };
	EOF
	git init -q work &&
	(cd work && commit_file a a "Add a" &&
	 git remote add app ../repos/team/app.git && git remote add other ../repos/other.git &&
	 git push -q app main && git push -q other main)
'

GIT_GATE_REPO_ROOT="$TRASH/repos"
GIT_GATE_POLICY_DIR="$TRASH/policies"
export GIT_GATE_REPO_ROOT GIT_GATE_POLICY_DIR

test_expect_success 'the policy named by the repository path judges it' '
	before=$(ref_of repos/team/app.git main) &&
	(cd work && commit_file b b "A subject longer than thirty characters" &&
	 test_must_fail git push app main 2>../err) &&
	test_grep "subject is 39 characters long, more than the 30 allowed" err &&
	test_grep "(policy: .*policies/team/app.conf)" err &&
	test "$(ref_of repos/team/app.git main)" = "$before"
'

test_expect_success 'a repository without its own policy gets the default' '
	(cd work && git push other main 2>../err) &&
	test "$(ref_of repos/other.git main)" = "$(git -C work rev-parse HEAD)" &&
	(cd work && test_must_fail git push -f other HEAD~1:main 2>../err) &&
	test_grep "not a fast-forward\|force" err
'

test_expect_success 'the repository hook pre-receive runs after an accepting verdict, with the same updates' '
	cat >repos/other.git/hooks/pre-receive <<-\EOF &&
	#!/bin/sh
	cat >"${GIT_DIR:-.}/own-hook.in"
	echo "own hook: no pushes on Fridays" >&2
	exit 1
	EOF
	chmod +x repos/other.git/hooks/pre-receive &&
	before=$(ref_of repos/other.git main) &&
	(cd work && commit_file c c "Add c" && test_must_fail git push other main 2>../err) &&
	test_grep "remote: own hook: no pushes on Fridays" err &&
	test_grep "^$before $(git -C work rev-parse HEAD) refs/heads/main$" repos/other.git/own-hook.in &&
	test "$(ref_of repos/other.git main)" = "$before"
'

test_expect_success 'the own hook is not reached when git-gate rejects' '
	rm -f repos/other.git/own-hook.in &&
	printf "rules = ( { refs = [ \"refs/heads/*\" ]; checks = [ \"msg\" ]; } );\nchecks = { msg = { type = \"commit-message\"; subject_max = 3; }; };\n" >policies/other.conf &&
	(cd work && test_must_fail git push other main 2>../err) &&
	rm policies/other.conf &&
	test_grep "refs/heads/main rejected: 1 check failed (policy: .*policies/other.conf)" err &&
	test_grep ! "own hook" err &&
	test_must_fail test -e repos/other.git/own-hook.in
'

test_expect_success 'GIT_GATE_CHAIN=0 leaves the own hook alone' '
	(cd work && GIT_GATE_CHAIN=0 git push other main 2>../err) &&
	test "$(ref_of repos/other.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'the per-repository policy file is layered: the system file.s final rules hold' '
	final_system_policy system.conf &&
	cat >policies/other.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/**" ]; mode = "warn"; } );
	EOF
	before=$(ref_of repos/other.git main) &&
	(cd work && git reset -q --hard "$before" && commit_file w w "WIP w" &&
	 GIT_GATE_CHAIN=0 GIT_GATE_SYSTEM_CONFIG="$TRASH/system.conf" test_must_fail git push other main 2>../err) &&
	rm policies/other.conf &&
	test_grep "\[nowip\] commit-message: 1 problem" err &&
	test_grep "policy: .*system.conf + .*policies/other.conf" err &&
	test "$(ref_of repos/other.git main)" = "$before"
'

test_expect_success 'server-hooks/post-receive records what moved, then runs the own post-receive' '
	cp "$GATE_SRCDIR/contrib/server/hooks/post-receive" server-hooks/ &&
	chmod +x server-hooks/post-receive &&
	cat >repos/team/app.git/hooks/post-receive <<-\EOF &&
	#!/bin/sh
	cat >"${GIT_DIR:-.}/own-post.in"
	echo "own post-receive ran" >&2
	EOF
	chmod +x repos/team/app.git/hooks/post-receive &&
	(cd work && git checkout -q -b side app/main && commit_file p p "Short p" && git push app side 2>../err &&
	 git checkout -q main) &&
	test_grep "remote: own post-receive ran" err &&
	test_grep "^0\{40\} $(git -C work rev-parse side) refs/heads/side$" repos/team/app.git/own-post.in &&
	tail -n 1 repos/team/app.git/git-gate/audit.log >last &&
	test_grep "\"event\":\"updated\"" last &&
	test_grep "\"policy\":\"[^\"]*policies/team/app.conf\"" last &&
	test_grep "\"ref\":\"refs/heads/side\",\"old\":\"0\{40\}\",\"new\":\"$(git -C work rev-parse side)\",\"kind\":\"create\"" last
'

test_expect_success 'without git-gate installed every push is rejected (fail closed)' '
	before=$(ref_of repos/other.git main) &&
	(cd work && commit_file d d "Add d" && GIT_GATE_LIBEXECDIR=/nonexistent test_must_fail git push other main 2>../err) &&
	test_grep "git-gate: its hook program /nonexistent/pre-receive is missing" err &&
	test "$(ref_of repos/other.git main)" = "$before"
'

test_done
