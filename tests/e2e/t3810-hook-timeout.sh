#!/bin/sh
# hook_timeout: an overall deadline on what the hook itself does (git
# children included, command checks aside), so that nothing can hold a
# push forever: a git child that hangs, a lock that is never released.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

LOG=victim.git/git-gate/audit.log

test_expect_success 'setup: hooks that find a slow git first in PATH when told to' '
	make_victim victim.git &&
	make_work work victim.git &&
	mkdir slowbin ws &&
	# a git that hangs in the plumbing the gate runs, while $TRASH/slow exists
	cat >slowbin/git <<-EOF &&
	#!/bin/sh
	if test -e "$TRASH/slow"; then
		case "\$1" in
		for-each-ref | rev-list | cat-file) echo \$\$ >"$TRASH/slow-git.pid"; exec sleep 600 ;;
		esac
	fi
	exec "$(command -v git)" "\$@"
	EOF
	chmod +x slowbin/git &&
	# git puts its own directory first in a hook'"'"'s PATH: shadow it here
	rm victim.git/hooks/pre-receive &&
	cat >victim.git/hooks/pre-receive <<-EOF &&
	#!/bin/sh
	PATH="$TRASH/slowbin:\$PATH" exec "$GIT_GATE_LIBEXECDIR/pre-receive" "\$@"
	EOF
	chmod +x victim.git/hooks/pre-receive &&
	cat >victim.git/git-gate.conf <<-EOF &&
	hook_timeout = "2 s";
	workspace = "$TRASH/ws";
	checks = { msg = { type = "commit-message"; forbid = "^WIP"; }; };
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "msg" ]; } );
	EOF
	git gate validate victim.git/git-gate.conf &&
	(cd work && commit_file a a "Add a" && git push -q origin main)
'

test_expect_success 'hook_timeout must be a duration between 1 s and 24 h' '
	printf "hook_timeout = \"0\";\n" >bad1.conf &&
	test_expect_code 1 git gate validate bad1.conf 2>err &&
	test_grep "^bad1.conf:1: .hook_timeout.: must be between 1 second and 24 hours" err &&
	printf "hook_timeout = \"2 days\";\n" >bad2.conf &&
	test_expect_code 1 git gate validate bad2.conf 2>err &&
	test_grep "hook_timeout" err &&
	printf "hook_timeout = \"10 min\";\n" >good.conf &&
	git gate validate good.conf
'

test_expect_success 'a git child that hangs is killed at hook_timeout and the push rejected' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file b b "Add b") &&
	: >slow &&
	start=$(date +%s) &&
	(cd work && test_must_fail timeout 60 git push origin main 2>../err) &&
	end=$(date +%s) &&
	rm -f slow &&
	test $((end - start)) -lt 30 &&
	test_grep "remote: git-gate: hook_timeout (2 s) reached: the hook.s own work (git processes included, command checks aside) took longer; push rejected" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	tail -n 1 $LOG >last &&
	test_grep "\"event\":\"decision\"" last &&
	test_grep "\"decision\":\"rejected\"" last &&
	test_grep "\"error\":\"hook_timeout (2 s) reached" last &&
	# the hanging child is gone, not left behind
	pid=$(cat slow-git.pid) &&
	i=0 && while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1)); test $i -gt 50 && { echo "slow git $pid still runs" >&2; exit 1; }; sleep 0.1
	done
'

test_expect_success 'a hook stuck outside any child (a held lock) is stopped after a grace period' '
	before=$(ref_of victim.git main) &&
	# someone holds the audit log'"'"'s lock and never lets go
	{ flock -o $LOG sh -c "echo \$\$ >holder.pid; exec sleep 600" & } &&
	holder=$! &&
	test_atexit "kill $holder; kill \$(cat holder.pid)" &&
	i=0 && while ! test -s holder.pid && test $i -lt 100; do i=$((i + 1)); sleep 0.1; done &&
	start=$(date +%s) &&
	(cd work && test_must_fail timeout 60 git push origin main 2>../err) &&
	end=$(date +%s) &&
	kill $holder $(cat holder.pid) &&
	test $((end - start)) -lt 30 &&
	test_grep "remote: git-gate: the hook did not finish within hook_timeout (2 s) and was stopped; push rejected" err &&
	test "$(ref_of victim.git main)" = "$before"
'

# the command alone takes longer than the budget (kept roomy for slow,
# sanitizer builds on a loaded machine: the rest must fit in 5 s)
test_expect_success 'a command check does not count against hook_timeout' '
	cat >victim.git/git-gate.conf <<-EOF &&
	hook_timeout = "5 s";
	workspace = "$TRASH/ws";
	checks = { slow = { type = "command"; run = "sleep 7"; timeout = 30; }; };
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "slow" ]; } );
	EOF
	(cd work && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	test_grep ! "hook_timeout" err &&
	ws_empty
'

test_done
