#!/bin/sh
# sandbox = "bwrap" (the default): the command runs without network, with
# a read-only system and a private /tmp; a missing or unusable bubblewrap
# fails the check with a clear message, and sandbox = "none" is flagged by
# validate and explain.  Where bubblewrap cannot create namespaces (some
# containers), the tests assert that clear failure instead.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

bwrap_works=no
if command -v bwrap >/dev/null 2>&1 &&
   bwrap --ro-bind / / --unshare-all --unshare-user --disable-userns --die-with-parent --cap-drop ALL true >/dev/null 2>&1; then
	bwrap_works=yes
fi
say "bubblewrap usable here: $bwrap_works"

marker="/tmp/git-gate-t2030-$$"

# set_policy SANDBOX RUN [TIMEOUT]
set_policy() {
	cat >victim.git/git-gate.conf <<-EOF
	workspace = "$TRASH/ws";
	checks = { build = { type = "command"; sandbox = "$1"; timeout = ${3:-60}; env = [ "PORT=$(cat "$TRASH/port")", "MARKER=$marker" ];
	  run = "$2"; }; };
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
	EOF
}

# expect_sandbox_result: the push must succeed where bwrap works, and fail
# with the namespace message where it does not
push_sandboxed() {
	if test $bwrap_works = yes; then
		(cd work && git push origin "$@" 2>../err)
	else
		(cd work && test_must_fail git push origin "$@" 2>../err) &&
		test_grep "sandbox = \"bwrap\": bubblewrap (.*) could not start the sandbox on this server" err
	fi
}

test_expect_success 'setup: a project that talks to a port outside' '
	make_victim victim.git &&
	make_work work victim.git &&
	mkdir ws &&
	python3 -c "
import os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"127.0.0.1\", 0))
s.listen(16)
open(\"port.tmp\", \"w\").write(str(s.getsockname()[1]))
os.rename(\"port.tmp\", \"port\")
if os.fork():
    os._exit(0)
os.setsid()
open(\"listener.pid\", \"w\").write(str(os.getpid()))
sys.stdin.close()
while True:
    c, _ = s.accept()
    c.close()
" >/dev/null 2>&1 </dev/null &&
	i=0 && while ! test -s port && test $i -lt 50; do sleep 0.1; i=$((i + 1)); done &&
	test -s port &&
	i=0 && while ! test -s listener.pid && test $i -lt 50; do sleep 0.1; i=$((i + 1)); done &&
	test_atexit "kill \$(cat \"$TRASH/listener.pid\")" &&
	cat >work/connect.py <<-\EOF &&
	import os, socket, sys
	try:
	    socket.create_connection(("127.0.0.1", int(os.environ["PORT"])), 3).close()
	except OSError as e:
	    print("no network:", e)
	    sys.exit(1)
	print("connected")
	EOF
	(cd work && git add connect.py && git commit -q -m "Add a network probe")
'

test_expect_success 'without a sandbox the command reaches the port (the control)' '
	set_policy none "python3 connect.py" &&
	(cd work && git push origin main 2>../err) &&
	test_grep "build: passed on" err
'

test_expect_success 'sandbox = "bwrap": no network inside' '
	set_policy bwrap "python3 connect.py" &&
	(cd work && commit_file a a "Probe again" && test_must_fail git push origin main 2>../err) &&
	if test $bwrap_works = yes; then
		test_grep "| no network: " err &&
		test_grep "failed: exit status 1" err
	else
		test_grep "sandbox = \"bwrap\": bubblewrap (.*) could not start the sandbox on this server" err
	fi &&
	test "$(ref_of victim.git main)" != "$(git -C work rev-parse HEAD)"
'

test_expect_success 'sandbox = "bwrap": read-only system, private /tmp, writable workspace, nothing else visible' '
	rm -f "$marker" &&
	echo secret >secret &&
	set_policy bwrap "! touch /usr/git-gate-t2030 2>/dev/null && ! touch /etc/git-gate-t2030 2>/dev/null && echo x >\$MARKER && test -f \$MARKER && ! test -e $TRASH/secret && echo built >artifact && test -f artifact && test \$HOME = /tmp && make --version >/dev/null" &&
	push_sandboxed main &&
	! test -e /usr/git-gate-t2030 && ! test -e /etc/git-gate-t2030 &&
	! test -e "$marker" &&
	ws_empty
'

test_expect_success 'sandbox = "bwrap": the timeout still kills everything' '
	set_policy bwrap "sleep 1234.5 & sleep 1234.5" 2 &&
	(cd work && commit_file b b "Hang in the sandbox" && test_must_fail git push origin main 2>../err) &&
	if test $bwrap_works = yes; then
		test_grep "timed out after 2 s" err &&
		i=0 && while pgrep -f "sleep 1234.5" >/dev/null && test $i -lt 50; do sleep 0.1; i=$((i + 1)); done &&
		! pgrep -f "sleep 1234.5"
	else
		test_grep "could not start the sandbox" err
	fi &&
	ws_empty
'

test_expect_success 'the sandbox is the default: a check without the key runs in it' '
	cat >victim.git/git-gate.conf <<-EOF &&
	workspace = "$TRASH/ws";
	checks = { build = { type = "command"; run = "id -u; test -e /etc/shadow && echo shadow-visible; pwd"; }; };
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
	EOF
	(cd work && commit_file d d "Default" && git push origin main 2>../err) &&
	if test $bwrap_works = yes; then
		log=$(ls -t victim.git/git-gate/logs/*.log | head -n 1) &&
		test_grep "^65534$" "$log" &&
		test_grep "^/tmp/workspace$" "$log" &&
		test_grep ! "^shadow-visible" "$log"
	fi &&
	git gate validate victim.git/git-gate.conf 2>err &&
	test_grep ! "warning" err
'

test_expect_success 'validate and explain warn about sandbox = "none", naming the risk' '
	cat >none.conf <<-EOF &&
	checks = { build = { type = "command"; sandbox = "none"; run = "make check"; }; };
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
	EOF
	git gate validate none.conf >out 2>err &&
	test_grep "warning: none.conf:1: sandbox = \"none\": code from every push runs with the hook account.s rights (it can read and change every repository, hook and key of the account, reach the network, and fake the verdict cache, which is therefore off for this check)" err &&
	test_grep "valid" out &&
	GIT_GATE_CONFIG="$TRASH/none.conf" git gate explain --repo victim.git refs/heads/main >out 2>err &&
	test_grep "^warning: .*none.conf:1: sandbox = \"none\": code from every push runs with the hook account.s rights" out
'

test_expect_success 'a missing bubblewrap fails the check with a clear message' '
	set_policy bwrap "true" &&
	(cd work && commit_file c c "No bwrap" &&
	 GIT_GATE_BWRAP=/nonexistent/bwrap test_must_fail git push origin main 2>../err) &&
	test_grep "could not be evaluated: sandbox = \"bwrap\" needs bubblewrap, which is not installed at GIT_GATE_BWRAP; it needs bubblewrap installed (apt-get install bubblewrap" err &&
	test_grep "unprivileged user namespaces allowed" err &&
	test_grep "(or, unsafe, sandbox = \"none\")" err &&
	test "$(ref_of victim.git main)" != "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a bubblewrap that cannot create namespaces fails the check with a clear message' '
	cat >fake-bwrap <<-\EOF &&
	#!/bin/sh
	echo "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces." >&2
	exit 1
	EOF
	chmod +x fake-bwrap &&
	(cd work && GIT_GATE_BWRAP="$TRASH/fake-bwrap" test_must_fail git push origin main 2>../err) &&
	test_grep "could not be evaluated: sandbox = \"bwrap\": bubblewrap (.*fake-bwrap.) could not start the sandbox on this server (bwrap: No permissions to creating new namespace" err &&
	test_grep "kernel.apparmor_restrict_unprivileged_userns" err &&
	test "$(ref_of victim.git main)" != "$(git -C work rev-parse HEAD)"
'

test_done
