#!/bin/sh
# contrib/gitea: git-gate in a Gitea/Forgejo repository's
# hooks/pre-receive.d/.  The repository's hooks/pre-receive does what
# Gitea's does: run every executable in pre-receive.d/ with the push on
# stdin (Gitea's own "gitea" hook among them) and fail when any failed.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# Gitea's variables for the hooks, instead of the test suite's GIT_GATE_USER
push_as() {
	user=$1
	shift
	env -u GIT_GATE_USER GITEA_PUSHER_NAME="$user" GITEA_PUSHER_ID=3 GITEA_REPO_USER_NAME=team \
		GITEA_REPO_NAME=app GITEA_REPO_ID=9 GITEA_REPO_IS_WIKI=false git "$@"
}

test_expect_success 'setup: a Gitea-like repository with the contrib hook' '
	git init -q --bare victim.git &&
	cat >victim.git/hooks/pre-receive <<-\EOF &&
	#!/bin/sh
	# as Gitea: every executable in pre-receive.d, each with the push, then fail if any failed
	data=$(cat)
	failed=0
	for h in "${GIT_DIR:-.}"/hooks/pre-receive.d/*; do
		[ -f "$h" ] && [ -x "$h" ] || continue
		printf "%s\n" "$data" | "$h" || failed=$?
	done
	exit $failed
	EOF
	mkdir victim.git/hooks/pre-receive.d &&
	printf "#!/bin/sh\necho gitea-ran >>\"\${GIT_DIR:-.}/gitea.log\"\nexit 0\n" >victim.git/hooks/pre-receive.d/gitea &&
	cp "$GATE_SRCDIR/contrib/gitea/pre-receive.d/git-gate" victim.git/hooks/pre-receive.d/ &&
	chmod +x victim.git/hooks/pre-receive victim.git/hooks/pre-receive.d/* &&
	mkdir -p policies/team &&
	cat >policies/team/app.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "msg" ]; exempt_users = [ "renovate-bot" ]; } );
	checks = { msg = { type = "commit-message"; subject_max = 50; }; };
	EOF
	git init -q work &&
	git -C work remote add origin ../victim.git &&
	(cd work && commit_file a a "Add a" && push_as alice push -q origin main)
'

GIT_GATE_POLICY_DIR="$TRASH/policies"
export GIT_GATE_POLICY_DIR

test_expect_success 'a good push is accepted and the gitea hook still runs' '
	(cd work && commit_file b b "Add b" && push_as alice push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	test "$(grep -c gitea-ran victim.git/gitea.log)" = 2
'

test_expect_success 'a bad push is rejected by the owner/repository policy' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file c c "This subject line is written to be much longer than fifty characters" &&
	 test_must_fail push_as alice push origin main 2>../err) &&
	test_grep "remote: git-gate:       subject is 68 characters long, more than the 50 allowed" err &&
	test_grep "remote: git-gate: refs/heads/main rejected: 1 check failed (policy: .*policies/team/app.conf)" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'GITEA_PUSHER_NAME is the pusher: an exempt bot passes the same push' '
	(cd work && push_as renovate-bot push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'post-receive.d/git-gate records the refs that moved, as the pusher, by the same policy' '
	cat >victim.git/hooks/post-receive <<-\EOF &&
	#!/bin/sh
	# as Gitea: every executable in post-receive.d, each with the updates
	data=$(cat)
	for h in "${GIT_DIR:-.}"/hooks/post-receive.d/*; do
		[ -f "$h" ] && [ -x "$h" ] || continue
		printf "%s\n" "$data" | "$h"
	done
	exit 0
	EOF
	mkdir -p victim.git/hooks/post-receive.d &&
	cp "$GATE_SRCDIR/contrib/gitea/post-receive.d/git-gate" victim.git/hooks/post-receive.d/ &&
	chmod +x victim.git/hooks/post-receive victim.git/hooks/post-receive.d/git-gate &&
	(cd work && commit_file p p "Add p" && push_as alice push origin main 2>../err) &&
	test_grep ! "warning" err &&
	tail -n 1 victim.git/git-gate/audit.log >last &&
	test_grep "\"event\":\"updated\"" last &&
	test_grep "\"user\":\"alice\",\"user_source\":\"GITEA_PUSHER_NAME\"" last &&
	test_grep "\"hook\":\"post-receive\",\"policy\":\"[^\"]*policies/team/app.conf\"" last &&
	test_grep "\"ref\":\"refs/heads/main\",\"old\":\"$(git -C work rev-parse HEAD~1)\",\"new\":\"$(git -C work rev-parse HEAD)\"" last
'

test_expect_success 'without git-gate installed the push is rejected (fail closed)' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file d d "Add d" && GIT_GATE_LIBEXECDIR=/nonexistent && export GIT_GATE_LIBEXECDIR &&
	 test_must_fail push_as alice push origin main 2>../err) &&
	test_grep "git-gate: its hook program /nonexistent/pre-receive is missing" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'the owner/repository policy is layered: the system file.s final rules hold' '
	final_system_policy system.conf &&
	before=$(ref_of victim.git main) &&
	(cd work && git reset -q --hard "$before" && commit_file w w "WIP w" &&
	 GIT_GATE_SYSTEM_CONFIG="$TRASH/system.conf" test_must_fail push_as renovate-bot push origin main 2>../err) &&
	test_grep "remote: git-gate:   \[nowip\] commit-message: 1 problem" err &&
	test_grep "policy: .*system.conf + .*policies/team/app.conf" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_done
