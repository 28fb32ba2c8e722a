#!/bin/sh
# contrib/server: git-gate for every repository of a server through
# core.hooksPath, with a policy per repository path and the repository's
# own pre-receive hook chained after git-gate's verdict; the merge queue
# through server-hooks/proc-receive with the settings in the system config.
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

# The merge queue on such a server: server-hooks/proc-receive and the
# receive.* settings in the system config (GIT_CONFIG_SYSTEM stands for
# /etc/gitconfig), a policy from the policy folder that queues main.
# sgit: git with that system config (lib.sh turns the system config off)
sgit() {
	GIT_CONFIG_NOSYSTEM=0 GIT_CONFIG_SYSTEM="$TRASH/system-gitconfig" git "$@"
}
test_expect_success 'setup: a queued repository behind server-hooks, settings in the system config' '
	cp "$GATE_SRCDIR/contrib/server/hooks/proc-receive" "$GATE_SRCDIR/contrib/server/hooks/post-receive" \
		server-hooks/ &&
	chmod +x server-hooks/proc-receive server-hooks/post-receive &&
	git config --file system-gitconfig core.hooksPath "$TRASH/server-hooks" &&
	git config --file system-gitconfig receive.procReceiveRefs refs/for &&
	git config --file system-gitconfig receive.advertisePushOptions true &&
	git init -q --bare repos/team/queued.git &&
	cat >repos/team/queued.git/hooks/proc-receive <<-\EOF &&
	#!/bin/sh
	touch "${GIT_DIR:-.}/own-proc-receive-ran"
	exit 1
	EOF
	chmod +x repos/team/queued.git/hooks/proc-receive &&
	cat >policies/team/queued.conf <<-\EOF &&
	checks = {
	  build = { type = "command"; sandbox = "none"; timeout = 60; run = "sh ./check.sh"; };
	  msg = { type = "commit-message"; forbid = "^WIP"; };
	};
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "msg", "build" ]; queue = true;
	            bypass_users = [ "admin" ]; } );
	EOF
	git init -q qwork &&
	(cd qwork && git remote add origin ../repos/team/queued.git &&
	 printf "%s\n" "test \"\$(cat state.txt)\" = good || { echo \"FAIL: state is bad\"; exit 1; }" >check.sh &&
	 echo good >state.txt && git add . && git commit -q -m "Add the test" &&
	 GIT_GATE_USER=admin sgit push -q -o gate.bypass="seed the project" origin main 2>/dev/null) &&
	test "$(ref_of repos/team/queued.git main)" = "$(git -C qwork rev-parse HEAD)"
'

test_expect_success 'server-hooks/proc-receive: a change pushed to refs/for/main with gate.wait lands' '
	(cd qwork && commit_file q.txt q "Add q" &&
	 sgit push -o gate.wait origin HEAD:refs/for/main 2>../err) &&
	test_grep "remote: git-gate: queued as item 1 for main (position 1)" err &&
	test_grep "remote: git-gate: item 1 landed: main is now" err &&
	test_grep "\.\.[0-9a-f]*  HEAD -> main" err &&
	test "$(ref_of repos/team/queued.git main)" = "$(git -C qwork rev-parse HEAD)" &&
	test_must_fail test -e repos/team/queued.git/own-proc-receive-ran &&
	# the runner writes the ledger note and its audit record just after the
	# waiting push returned (up to 30 s)
	i=0 &&
	while ! grep -q "\"hook\":\"queue\".*\"verdict\":\"landed\"" repos/team/queued.git/git-gate/audit.log; do
		i=$((i + 1)) && test $i -le 300 || { echo "no landed record in the audit log" >&2; exit 1; }
		sleep 0.1
	done &&
	git --git-dir=repos/team/queued.git notes --ref=gate show main >note &&
	test_grep "\"hook\":\"queue\"" note &&
	test_grep "\"policy\":{\"file\":\"[^\"]*policies/team/queued.conf\"" note
'

test_expect_success 'server-hooks: the queued main refuses direct pushes; a failing change is rejected' '
	before=$(ref_of repos/team/queued.git main) &&
	(cd qwork && commit_file r.txt r "Add r" &&
	 test_must_fail sgit push origin HEAD:main 2>../err) &&
	test_grep "takes changes through its merge queue: push with .git push origin HEAD:refs/for/main." err &&
	(cd qwork && echo bad >state.txt && git commit -q -a -m "Break it" &&
	 test_must_fail sgit push -o gate.wait origin HEAD:refs/for/main 2>../err) &&
	test_grep "FAIL: state is bad" err &&
	test_grep "rejected: the checks failed on it" err &&
	test "$(ref_of repos/team/queued.git main)" = "$before"
'

test_expect_success 'server-hooks/proc-receive without git-gate installed queues nothing (fail closed)' '
	before=$(ref_of repos/team/queued.git main) &&
	(cd qwork && git reset -q --hard "$before" && commit_file s.txt s "Add s" &&
	 GIT_GATE_LIBEXECDIR="$TRASH/no-libexec" test_must_fail sgit push origin HEAD:refs/for/main 2>../err) &&
	test_grep "git-gate: its hook program .*no-libexec/pre-receive is missing" err &&
	mkdir -p partial-libexec && ln -sf "$GIT_GATE_LIBEXECDIR/pre-receive" partial-libexec/pre-receive &&
	(cd qwork && GIT_GATE_LIBEXECDIR="$TRASH/partial-libexec" test_must_fail sgit push origin HEAD:refs/for/main 2>../err) &&
	test_grep "git-gate: its hook program .*partial-libexec/proc-receive is missing; nothing was queued" err &&
	test -z "$(git --git-dir=repos/team/queued.git for-each-ref refs/gate-queue)" &&
	test "$(ref_of repos/team/queued.git main)" = "$before"
'

test_expect_success 'server-hooks without receive.procReceiveRefs: a refs/for push is refused, not made a plain ref' '
	git config --file system-noproc core.hooksPath "$TRASH/server-hooks" &&
	before=$(ref_of repos/team/queued.git main) &&
	(cd qwork && git reset -q --hard "$before" && commit_file t.txt t "Add t" &&
	 GIT_CONFIG_NOSYSTEM=0 GIT_CONFIG_SYSTEM="$TRASH/system-noproc" \
		test_must_fail git push origin HEAD:refs/for/main 2>../err) &&
	test_grep "the server does not hand .refs/for/main. to the merge queue (git.s proc-receive hook, receive.procReceiveRefs): it would become a plain ref and never land" err &&
	test_grep "receive.procReceiveRefs = refs/for (contrib/server/README)" err &&
	test -z "$(ref_of repos/team/queued.git refs/for/main)" &&
	test "$(ref_of repos/team/queued.git main)" = "$before"
'

test_done
