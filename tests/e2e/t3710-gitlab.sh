#!/bin/sh
# contrib/gitlab: git-gate as a GitLab (Gitaly) custom server hook.  The
# bare repository's hooks/pre-receive does what Gitaly does: it runs every
# executable in custom_hooks/pre-receive.d/ (sorted, editor backups
# skipped) with the push's stdin and stops at the first that fails.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# GitLab's pusher variables instead of the test suite's GIT_GATE_USER
push_as() {
	user=$1
	shift
	env -u GIT_GATE_USER GL_USERNAME="$user" GL_ID=user-42 GL_PROTOCOL=ssh \
		GL_REPOSITORY=project-7 GL_PROJECT_PATH=group/project git "$@"
}

test_expect_success 'setup: a Gitaly-like repository with the contrib hook' '
	git init -q --bare victim.git &&
	cat >victim.git/hooks/pre-receive <<-\EOF &&
	#!/bin/sh
	# as Gitaly: custom_hooks/pre-receive.d/* in order, stdin to each, stop at the first failure
	data=$(cat)
	for h in "${GIT_DIR:-.}"/custom_hooks/pre-receive.d/*; do
		case $h in *~) continue ;; esac
		[ -f "$h" ] && [ -x "$h" ] || continue
		printf "%s\n" "$data" | "$h" || exit $?
	done
	exit 0
	EOF
	chmod +x victim.git/hooks/pre-receive &&
	mkdir -p victim.git/custom_hooks/pre-receive.d &&
	cp "$GATE_SRCDIR/contrib/gitlab/custom_hooks/pre-receive.d/git-gate" victim.git/custom_hooks/pre-receive.d/ &&
	chmod +x victim.git/custom_hooks/pre-receive.d/git-gate &&
	mkdir -p policies/group &&
	cat >policies/group/project.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "msg" ]; exempt_users = [ "release-bot" ]; } );
	checks = { msg = { type = "commit-message"; subject_max = 50; }; };
	EOF
	git-gate validate policies/group/project.conf &&
	git init -q work &&
	git -C work remote add origin ../victim.git &&
	(cd work && commit_file a a "Add a" && push_as alice push -q origin main)
'

GIT_GATE_POLICY_DIR="$TRASH/policies"
export GIT_GATE_POLICY_DIR

test_expect_success 'a good push is accepted without GL-HOOK-ERR' '
	(cd work && commit_file b b "Add b" && push_as alice push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	test_grep ! "GL-HOOK-ERR" err
'

test_expect_success 'a rejected push gets the full report and one GL-HOOK-ERR line' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file c c "This subject line is written to be much longer than fifty characters" &&
	 test_must_fail push_as alice push origin main 2>../err) &&
	test_grep "remote: git-gate:   \[msg\] commit-message: 1 problem" err &&
	test_grep "fix: shorten the subject" err &&
	test_grep "^remote: GL-HOOK-ERR: git-gate: refs/heads/main rejected: 1 check failed: subject is 68 characters long, more than the 50 allowed (push from the command line to see the full report)" err &&
	test "$(grep -c "GL-HOOK-ERR" err)" = 1 &&
	test_grep ! "policy:.*GL-HOOK-ERR" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'GL_USERNAME is the pusher: an exempt user passes the same push' '
	(cd work && push_as release-bot push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'the per-project policy is found by GL_PROJECT_PATH' '
	(cd work && commit_file d d "Another subject line written to be longer than fifty chars" &&
	 env -u GIT_GATE_USER GL_USERNAME=alice GL_PROJECT_PATH=group/other git push origin main 2>../err) &&
	test_grep ! "GL-HOOK-ERR" err &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a project path that climbs out of the policy directory is refused' '
	(cd work && commit_file e e "Add e" &&
	 test_must_fail env -u GIT_GATE_USER GL_USERNAME=alice GL_PROJECT_PATH=../../etc/x git push origin main 2>../err) &&
	test_grep "GL-HOOK-ERR: git-gate: unexpected project path" err
'

test_expect_success 'custom_hooks/post-receive.d/git-gate records the refs that moved, without GL-HOOK-ERR' '
	cat >victim.git/hooks/post-receive <<-\EOF &&
	#!/bin/sh
	# as Gitaly: custom_hooks/post-receive.d/* in order, stdin to each
	data=$(cat)
	for h in "${GIT_DIR:-.}"/custom_hooks/post-receive.d/*; do
		[ -f "$h" ] && [ -x "$h" ] || continue
		printf "%s\n" "$data" | "$h" || exit $?
	done
	exit 0
	EOF
	mkdir -p victim.git/custom_hooks/post-receive.d &&
	cp "$GATE_SRCDIR/contrib/gitlab/custom_hooks/post-receive.d/git-gate" victim.git/custom_hooks/post-receive.d/ &&
	chmod +x victim.git/hooks/post-receive victim.git/custom_hooks/post-receive.d/git-gate &&
	(cd work && push_as alice push origin HEAD:refs/heads/recorded 2>../err) &&
	test_grep ! "GL-HOOK-ERR\|warning" err &&
	tail -n 1 victim.git/git-gate/audit.log >last &&
	test_grep "\"event\":\"updated\"" last &&
	test_grep "\"user\":\"alice\",\"user_source\":\"GL_USERNAME\"" last &&
	test_grep "\"policy\":\"[^\"]*policies/group/project.conf\"" last &&
	test_grep "\"ref\":\"refs/heads/recorded\",\"old\":\"0\{40\}\",\"new\":\"$(git -C work rev-parse HEAD)\"" last
'

test_expect_success 'without git-gate installed the hook fails closed with a GL-HOOK-ERR line' '
	before=$(ref_of victim.git main) &&
	(cd work && GIT_GATE_LIBEXECDIR=/nonexistent && export GIT_GATE_LIBEXECDIR &&
	 test_must_fail push_as alice push origin main 2>../err) &&
	test_grep "GL-HOOK-ERR: git-gate: its hook program /nonexistent/pre-receive is missing" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'the per-project policy is layered: the system file.s final rules hold' '
	final_system_policy system.conf &&
	before=$(ref_of victim.git main) &&
	(cd work && git reset -q --hard "$before" && commit_file w w "WIP w" &&
	 GIT_GATE_SYSTEM_CONFIG="$TRASH/system.conf" test_must_fail push_as alice push origin main 2>../err) &&
	test_grep "git-gate:   \[nowip\] commit-message: 1 problem" err &&
	test_grep "policy: .*system.conf + .*policies/group/project.conf" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_done
