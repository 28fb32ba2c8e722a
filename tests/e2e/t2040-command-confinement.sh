#!/bin/sh
# Confinement of a command check: pushed code that tries to escape or to
# exhaust the server, pushed for real.  Each attack is a script in the
# pushed tree; each is bounded twice (small limits and timeouts in the
# policy, `timeout` around every push and a bounded count in every loop)
# so that a regression fails the test instead of taking the machine down.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

if ! bwrap --ro-bind / / --unshare-all --unshare-user --disable-userns --die-with-parent --cap-drop ALL true \
	>/dev/null 2>&1; then
	# t2030 covers the clear failure where bubblewrap cannot work
	say "bubblewrap cannot create its namespaces here: the sandboxed half of these tests is skipped"
	bwrap_works=no
else
	bwrap_works=yes
fi

# a name no other test (or helper's test run) uses in its process titles
tag="77$$"

# policy SANDBOX RUN [MORE_KEYS]: victim.git runs RUN in the given mode
policy() {
	case "${3:-}" in
	*timeout*) limit= ;;
	*) limit="timeout = 20;" ;;
	esac
	cat >victim.git/git-gate.conf <<-EOF
	workspace = "$TRASH/ws";
	checks = { build = { type = "command"; sandbox = "$1"; $limit progress_interval = 0;
	  run = "$2"; ${3:-} }; };
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
	EOF
}

# push_script NAME CONTENT...: commit script NAME (from stdin) and push it;
# the push must be rejected.  The report is in err, the log in $log.
push_rejected() {
	(cd work && git add -A && git commit -q -m "$1" &&
	 test_must_fail timeout 120 git push origin main 2>../err) &&
	log=$(ls -t victim.git/git-gate/logs/*.log | head -n 1) &&
	test "$(ref_of victim.git main)" != "$(git -C work rev-parse HEAD)"
}

# gone PATTERN: no process whose command line has PATTERN, within 10 s
gone() {
	i=0
	while pgrep -f "$1" >/dev/null; do
		i=$((i + 1))
		if test $i -gt 100; then
			echo "still running:" >&2
			pgrep -af "$1" >&2
			return 1
		fi
		sleep 0.1
	done
}

# as_nobody COMMAND...: run as an ordinary account (when we are root)
as_nobody() {
	if test "$(id -u)" = 0; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$TRASH/nb" "$@"
	else
		"$@"
	fi
}

# modes: the modes this run can test
modes() {
	if test $bwrap_works = yes; then echo bwrap none; else echo none; fi
}

first_mode=$(modes | cut -d " " -f 1)

test_expect_success 'setup' '
	make_victim victim.git &&
	make_work work victim.git &&
	mkdir ws
'

test_expect_success 'fork bomb: bounded by max_processes, named in the report' '
	test $bwrap_works = yes || return 0
	cat >work/bomb.sh <<-EOF &&
	i=0
	while test \$i -lt 400; do sleep $tag.1 & i=\$((i + 1)); done
	wait
	EOF
	policy bwrap "sh bomb.sh" "max_processes = 32;" &&
	start=$(date +%s) &&
	push_rejected "Fork bomb" &&
	test $(($(date +%s) - start)) -lt 30 &&
	test_grep "hit max_processes = 32" err &&
	test_grep "stay within the limit it ran into, or ask an admin to raise it" err &&
	gone "sleep $tag.1"
'

test_expect_success 'a runaway process spawner ends within seconds of the timeout, leaving nothing' '
	for mode in $(modes); do
		cat >work/spawn.py <<-EOF &&
		import subprocess, time
		for i in range(3000):
		    for argv in (["sh", "-c", "sleep $tag.2"], ["setsid", "sleep", "$tag.2"]):
		        try:
		            subprocess.Popen(argv)
		        except OSError:
		            pass
		    time.sleep(0.01)
		EOF
		policy $mode "python3 spawn.py" "timeout = 3; max_processes = 64;" &&
		echo "$mode" >work/mode &&
		push_rejected "Spawner ($mode)" &&
		test_grep "timed out after 3 s" err &&
		# everything gone within seconds of the expiry, as the hook measured it
		took=$(sed -n "s/^# git-gate: timed out after 3 s.* after \([0-9.]*\) s$/\1/p" "$log") &&
		echo "$mode: the run took $took s" &&
		awk -v t="$took" "BEGIN { exit !(t != \"\" && t < 6) }" &&
		gone "sleep $tag.2" || return 1
	done &&
	ws_empty
'

test_expect_success 'memory hog: bounded by max_memory, named in the report' '
	for mode in $(modes); do
		cat >work/hog.py <<-\EOF &&
		chunks = []
		for i in range(64):
		    chunks.append(bytearray(64 * 1024 * 1024))
		print("allocated 4 GiB")
		EOF
		policy $mode "python3 hog.py" "max_memory = \"256 MiB\";" &&
		echo "$mode" >work/mode &&
		push_rejected "Memory hog ($mode)" &&
		test_grep "MemoryError" "$log" &&
		test_grep ! "allocated 4 GiB" "$log" &&
		test_grep "hit max_memory = 256 MiB" err || return 1
	done
'

test_expect_success 'disk filler: the workspace and /tmp together are bounded by max_disk' '
	test $bwrap_works = yes || return 0
	cat >work/fill.sh <<-\EOF &&
	dd if=/dev/zero of=in-workspace bs=1M count=12 2>/dev/null &&
	echo "wrote 12 MiB in the workspace"
	dd if=/dev/zero of=/tmp/in-tmp bs=1M count=12
	ls -l /tmp/in-tmp
	test $(stat -c %s /tmp/in-tmp) = 12582912
	EOF
	policy bwrap "sh fill.sh" "max_disk = \"20 MiB\";" &&
	push_rejected "Fill the disk" &&
	test_grep "wrote 12 MiB in the workspace" "$log" &&
	test_grep "No space left on device" "$log" &&
	test_grep "hit max_disk = 20 MiB" err
'

test_expect_success 'disk filler without the sandbox: one file is bounded by max_disk' '
	cat >work/fill.sh <<-\EOF &&
	dd if=/dev/zero of=big bs=1M count=40
	EOF
	policy none "sh fill.sh" "max_disk = \"20 MiB\";" &&
	push_rejected "Fill the disk unsandboxed" &&
	test_grep "killed by signal 25" err &&
	test_grep "hit max_disk = 20 MiB" err &&
	ws_empty
'

test_expect_success 'a small push that expands to a huge tree is not checked out' '
	policy bwrap "echo ran" "max_disk = \"50 MiB\";" &&
	blob=$(dd if=/dev/zero bs=1M count=8 2>/dev/null | git -C work hash-object -w --stdin) &&
	i=0 && while test $i -lt 20; do printf "100644 blob %s\tcopy%02d\n" $blob $i; i=$((i + 1)); done >entries &&
	tree=$(git -C work mktree <entries) &&
	commit=$(git -C work commit-tree -p HEAD -m "Twenty copies of 8 MiB" $tree) &&
	git -C work count-objects -v >/dev/null &&
	nlogs=$(ls victim.git/git-gate/logs 2>/dev/null | wc -l) &&
	(cd work && test_must_fail timeout 120 git push origin $commit:refs/heads/main 2>../err) &&
	test_grep "not checked out, nothing run: the tree takes 160.0 MiB checked out (20 entries, 160.0 MiB of content), more than max_disk = 50 MiB" err &&
	test_grep "ask an admin to raise max_disk" err &&
	test "$(ls victim.git/git-gate/logs | wc -l)" = "$nlogs" &&
	test "$(ref_of victim.git main)" != "$commit"
'

test_expect_success 'a tree of many tiny files counts each file' '
	empty=$(git -C work hash-object -w --stdin </dev/null) &&
	i=0 && while test $i -lt 2000; do printf "100644 blob %s\tf%04d\n" $empty $i; i=$((i + 1)); done >entries &&
	sub=$(git -C work mktree <entries) &&
	i=0 && while test $i -lt 10; do printf "040000 tree %s\td%d\n" $sub $i; i=$((i + 1)); done >entries &&
	tree=$(git -C work mktree <entries) &&
	commit=$(git -C work commit-tree -p HEAD -m "20000 empty files" $tree) &&
	(cd work && test_must_fail timeout 120 git push origin $commit:refs/heads/main 2>../err) &&
	test_grep "the tree takes 78.2 MiB checked out (20010 entries, 0 B of content), more than max_disk = 50 MiB" err
'

test_expect_success 'background processes end with the run: setsid, nohup, double fork, setpgid' '
	before=$(ref_of victim.git main) &&
	for mode in $(modes); do
		rm -f "$TRASH/marker" &&
		cat >work/daemon.sh <<-EOF &&
		later="sleep 3; echo escaped >$TRASH/marker; git --git-dir=$TRASH/victim.git update-ref refs/heads/main \$GIT_GATE_NEW"
		setsid sh -c "\$later; sleep $tag.3" &
		nohup sh -c "\$later; sleep $tag.3" >/dev/null 2>&1 &
		( sh -c "\$later; sleep $tag.3" & )
		python3 -c "import os, sys, time
		if os.fork() == 0:
		    os.setpgid(0, 0)
		    time.sleep(3)
		    open(sys.argv[1], \"w\").write(\"escaped\")
		    time.sleep(float(sys.argv[2]))
		" $TRASH/marker $tag.3 &
		echo "started four"
		exit 1
		EOF
		policy $mode "sh daemon.sh" &&
		echo "$mode" >work/mode &&
		push_rejected "Daemons ($mode)" &&
		test_grep "started four" "$log" &&
		gone "sleep $tag.3" &&
		sleep 4 &&
		! test -e "$TRASH/marker" &&
		test "$(ref_of victim.git main)" = "$before" || return 1
	done &&
	ws_empty
'

# hook_of PID: the pre-receive hook above PID (the topmost of the chain of
# processes named pre-receive: the hook, and without the sandbox the
# supervisor it forked)
hook_of() {
	p=$1 hook= n=0
	while test "$p" -gt 1 && test $n -lt 64; do
		comm=$(cat /proc/$p/comm 2>/dev/null) || break
		test "$comm" = pre-receive && hook=$p
		p=$(sed -e "s/.*) //" /proc/$p/stat | cut -d " " -f 2)
		n=$((n + 1))
	done
	echo "$hook"
}

test_expect_success 'a killed hook takes its command along; the next run sweeps the workspace' '
	for mode in $(modes); do
		cat >work/hang.sh <<-EOF &&
		sleep $tag.4 &
		setsid sleep $tag.4 &
		echo started
		sleep $tag.4
		EOF
		policy $mode "sh hang.sh" &&
		echo "$mode" >work/mode &&
		(cd work && git add -A && git commit -q -m "Hang ($mode)") || return 1
		(cd work && timeout 120 git push origin main >../push.out 2>&1; echo $? >../push.rc) &
		i=0 && while test "$(pgrep -f "sleep $tag.4" | wc -l)" -lt 3 && test $i -lt 100; do
			sleep 0.1; i=$((i + 1)); done &&
		sleeper=$(pgrep -f "sleep $tag.4" | head -n 1) &&
		hook=$(hook_of $sleeper) &&
		test -n "$hook" &&
		if test $mode = none; then ls ws | grep "^git-gate-......$"; fi &&
		kill -9 $hook &&
		wait &&
		test "$(cat push.rc)" != 0 &&
		gone "sleep $tag.4" &&
		if test $mode = none; then
			# the dead run left its workspace, which only the next run may remove
			ls ws | grep "^git-gate-......$" &&
			policy none "true" &&
			(cd work && commit_file next next "Next" && timeout 120 git push origin main 2>../err) &&
			ws_empty
		fi || return 1
	done
'

test_expect_success 'TIOCSTI: the command cannot type into the pusher terminal' '
	cat >work/tiocsti.py <<-\EOF &&
	import fcntl, os, sys, termios
	def inject(fd):
	    for ch in b"echo INJ" + b"ECTED\n":
	        fcntl.ioctl(fd, termios.TIOCSTI, bytes([ch]))
	try:
	    fd = os.open("/dev/tty", os.O_RDWR)
	    inject(fd)
	    print("typed into the terminal")
	except OSError as e:
	    print("no terminal:", e)
	for fd in (0, 1, 2):
	    try:
	        inject(fd)
	        print("typed through descriptor", fd)
	    except OSError as e:
	        print("descriptor", fd, "refused:", e.strerror)
	sys.exit(1)
	EOF
	cat >term.py <<-\EOF &&
	import os, pty, select, sys, time
	pid, fd = pty.fork()
	if pid == 0:
	    os.execvp(sys.argv[1], sys.argv[1:])
	out = b""
	deadline = time.time() + 120
	while time.time() < deadline:
	    r, _, _ = select.select([fd], [], [], 1)
	    if fd in r:
	        try:
	            data = os.read(fd, 65536)
	        except OSError:
	            break
	        if not data:
	            break
	        out += data
	os.waitpid(pid, 0)
	sys.stdout.write(out.decode("utf-8", "replace"))
	EOF
	# the control: in that terminal, the ioctl works
	(cd work && python3 ../term.py python3 tiocsti.py) >control.out &&
	test_grep "typed into the terminal" control.out &&
	test_grep "echo INJECTED" control.out &&
	for mode in $(modes); do
		policy $mode "python3 tiocsti.py" &&
		echo "$mode" >work/mode &&
		(cd work && git add -A && git commit -q -m "Type ($mode)") &&
		(cd work && python3 ../term.py sh -c "git push origin main; echo push-done") >pty.out &&
		test_grep "push-done" pty.out &&
		test_grep "pre-receive hook declined" pty.out &&
		log=$(ls -t victim.git/git-gate/logs/*.log | head -n 1) &&
		test_grep "^no terminal:" "$log" &&
		test_grep ! "^typed" "$log" &&
		test_grep ! "echo INJECTED" pty.out || return 1
	done
'

test_expect_success 'the hook environment does not reach the command' '
	for mode in $(modes); do
		policy $mode "env; exit 1" "env = [ \"FROM_POLICY=yes\" ];" &&
		echo "$mode" >work/mode &&
		(cd work && git add -A && git commit -q -m "Env ($mode)" &&
		 export SECRET_TOKEN=hunter2 AWS_SECRET_ACCESS_KEY=hunter3 && test_must_fail git push origin main 2>../err) &&
		log=$(ls -t victim.git/git-gate/logs/*.log | head -n 1) &&
		test_grep "^FROM_POLICY=yes$" "$log" &&
		test_grep "^GIT_GATE_REF=refs/heads/main$" "$log" &&
		test_grep "^PATH=" "$log" &&
		test_grep "^LC_ALL=C$" "$log" &&
		test_grep ! "hunter" "$log" &&
		test_grep ! "SECRET" "$log" &&
		test_grep ! "^GIT_DIR=" "$log" &&
		test_grep ! "^GIT_QUARANTINE_PATH=" "$log" &&
		test_grep ! "^XDG_CONFIG_HOME=" "$log" &&
		test_grep ! "^GIT_CONFIG_NOSYSTEM=" "$log" || return 1
	done
'

test_expect_success 'sandboxed: /etc secrets, the policies, repositories, cache and logs are not there' '
	test $bwrap_works = yes || return 0
	echo "secret policy" >system.conf &&
	cat >work/snoop.sh <<-EOF &&
	for f in /etc/shadow /etc/gshadow /etc/ssh /etc/ssl/private /etc/sudoers /root /home \
		$TRASH/victim.git/git-gate.conf $TRASH/system.conf $TRASH/victim.git/git-gate/cache \
		$TRASH/victim.git/git-gate/logs $TRASH/victim.git/git-gate/audit.log $TRASH/victim.git/objects \
		/etc/git-gate.conf /usr/local/etc/git-gate.conf; do
		if test -e "\$f"; then echo "visible: \$f"; else echo "absent: \$f"; fi
	done
	cat /etc/shadow 2>&1 | head -n 1
	id
	ls /etc
	exit 1
	EOF
	policy bwrap "sh snoop.sh" &&
	(cd work && git add -A && git commit -q -m "Snoop" && test_must_fail git push origin main 2>../err) &&
	log=$(ls -t victim.git/git-gate/logs/*.log | head -n 1) &&
	test_grep "^absent: /etc/shadow$" "$log" &&
	test_grep "^absent: /etc/ssh$" "$log" &&
	test_grep "^absent: /root$" "$log" &&
	test_grep "^absent: $TRASH/victim.git/git-gate.conf$" "$log" &&
	test_grep "^absent: $TRASH/system.conf$" "$log" &&
	test_grep "^absent: $TRASH/victim.git/objects$" "$log" &&
	test_grep ! "^visible:" "$log" &&
	test_grep "uid=65534(nobody) gid=65534(nogroup)" "$log" &&
	test_grep ! "^root:" "$log"
'

# forge.py writes valid verdict-cache entries saying that the failing tree
# passed, as pushed code that knows the policy and the (public) format can
test_expect_success 'setup: a failing tree and a script that forges a pass for it' '
	version=$(git gate --version | sed -n "s/.* //p" | head -n 1) &&
	(cd work && git checkout -q -b bad && echo "exit 1" >build.sh && git add build.sh &&
	 git commit -q -m "A failing build" && git checkout -q main) &&
	bad_tree=$(git -C work rev-parse bad^{tree}) &&
	echo $bad_tree >bad-tree &&
	cat >work/forge.py <<-EOF
	import hashlib, os, sys
	run = "sh forge.sh"
	def digest(mode):
	    keys = [("type", "command"), ("sandbox", mode), ("timeout", None), ("progress_interval", None), ("run", run)]
	    out = "{"
	    for k, v in keys:
	        if v is None:
	            v = {"timeout": "20", "progress_interval": "0"}[k]
	            out += k + "=" + v + ";"
	        else:
	            out += k + "=" + str(len(v)) + ":" + v + ";"
	    return out + "}"
	for mode in ("none", "bwrap"):
	    d = digest(mode)
	    key = "tree $bad_tree\nversion $version\ncheck %d:%s\n" % (len(d), d)
	    body = "git-gate verdict cache 1\nkey %d\n%s\nverdict pass\n" % (len(key), key)
	    body += "sum %s\n" % hashlib.sha256(body.encode()).hexdigest()
	    name = hashlib.sha256(key.encode()).hexdigest()
	    cache = "$TRASH/victim.git/git-gate/cache"
	    try:
	        os.makedirs(cache, exist_ok=True)
	        open(os.path.join(cache, name), "w").write(body)
	        print("forged", mode, name)
	    except OSError as e:
	        print("cannot forge:", e)
	EOF
'

test_expect_success 'cache forging: pushed code cannot make a failing tree pass' '
	bad_tree=$(cat bad-tree) &&
	for mode in $(modes); do
		echo "python3 forge.py" >work/forge.sh &&
		echo "$mode" >work/mode &&
		policy $mode "sh forge.sh" &&
		(cd work && git add -A && git commit -q -m "Forge ($mode)" && timeout 120 git push origin main 2>../err) &&
		log=$(ls -t victim.git/git-gate/logs/*.log | head -n 1) &&
		if test $mode = none; then
			# it can write anywhere the account can: the entries are there ...
			test_grep "^forged none " "$log" &&
			name=$(sed -n "s/^forged none //p" "$log") &&
			test -f victim.git/git-gate/cache/$name
		else
			# the sandbox has no path to the cache
			test_grep "^cannot forge: " "$log" &&
			test_grep ! "^forged" "$log" &&
			! grep -rl "tree $bad_tree" victim.git/git-gate/cache
		fi &&
		# ... and the failing tree is still built, and rejected
		(cd work && test_must_fail timeout 120 git push origin bad:refs/heads/smuggle-$mode 2>../err) &&
		test_grep ! "already passed (cached)" err &&
		test_grep "build: FAILED on" err || return 1
	done
'

test_expect_success 'sandbox = "none" never reads the cache: a tree that passed is built again' '
	policy none "true" &&
	(cd work && commit_file same same "Same tree" && timeout 120 git push origin main 2>../err) &&
	test_grep "build: passed on" err &&
	(cd work && git commit -q --allow-empty -m "Same tree again" && timeout 120 git push origin main 2>../err) &&
	test_grep ! "cached" err &&
	test_grep "build: passed on" err
'

test_expect_success 'setup: two repositories on one server with max_concurrent_commands = 1' '
	for r in c1 c2; do
		make_victim $r.git && make_work w-$r $r.git &&
		cat >$r.git/git-gate.conf <<-EOF &&
		workspace = "$TRASH/ws";
		max_concurrent_commands = 1;
		checks = { build = { type = "command"; sandbox = "$first_mode"; run = "echo start:\$(date +%s.%N); sleep 2; echo end:\$(date +%s.%N)"; }; };
		rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
		EOF
		(cd w-$r && commit_file f $r "Build $r") || return 1
	done
'

test_expect_success 'pushes beyond max_concurrent_commands wait and say so' '
	(cd w-c1 && timeout 120 git push origin main 2>../err.c1; echo $? >../rc.c1) &
	(cd w-c2 && timeout 120 git push origin main 2>../err.c2; echo $? >../rc.c2) &
	wait
	test "$(cat rc.c1)" = 0 && test "$(cat rc.c2)" = 0 &&
	cat err.c1 err.c2 >err.both &&
	test_grep "build: waiting to run on [0-9a-f]*: 1 command already running on this server (max_concurrent_commands = 1)" err.both &&
	# one after the other: the second started after the first ended
	s1=$(sed -n "s/^start://p" c1.git/git-gate/logs/*.log) && e1=$(sed -n "s/^end://p" c1.git/git-gate/logs/*.log) &&
	s2=$(sed -n "s/^start://p" c2.git/git-gate/logs/*.log) && e2=$(sed -n "s/^end://p" c2.git/git-gate/logs/*.log) &&
	awk -v s1=$s1 -v e1=$e1 -v s2=$s2 -v e2=$e2 "BEGIN { exit !(s2 >= e1 || s1 >= e2) }"
'

test_expect_success 'a hook that runs as an ordinary account: sandboxed, and max_processes holds' '
	test $bwrap_works = yes || return 0
	mkdir nb &&
	if test "$(id -u)" = 0; then chown nobody nb; fi &&
	as_nobody sh -c "
		git init -q --bare nb/v.git && git-gate install nb/v.git >/dev/null &&
		git init -q nb/work && cd nb/work && git commit -q --allow-empty -m c &&
		git push -q ../v.git HEAD:refs/heads/main
	" &&
	cat >nb/v.git/git-gate.conf <<-EOF &&
	audit_log = "off";
	workspace = "$TRASH/nb/ws";
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "b" ]; } );
	checks = { b = { type = "command"; max_processes = 16; timeout = 20; run = "sh bomb.sh"; }; };
	EOF
	cp work/bomb.sh nb/bomb.sh && chmod 644 nb/bomb.sh &&
	as_nobody sh -c "cd nb/work && cp ../bomb.sh . && git add bomb.sh && git commit -q -m bomb &&
		! timeout 120 git push ../v.git HEAD:refs/heads/main" 2>err &&
	test_grep "hit max_processes = 16" err &&
	gone "sleep $tag.1"
'

test_expect_success 'children start with default signal dispositions and nothing blocked' '
	for mode in $(modes); do
		printf "%s\n" "grep -E \"^Sig(Blk|Ign):\" /proc/self/status" "exit 1" >work/sigs.sh &&
		policy $mode "sh sigs.sh" &&
		echo "$mode" >work/mode &&
		(cd work && git add -A && git commit -q -m "Signals ($mode)") &&
		# as under git daemon: the hook starts with TERM ignored, and more blocked
		(cd work && python3 -c "
import os, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGUSR1, signal.SIGCHLD})
os.execvp(\"git\", [\"git\", \"push\", \"origin\", \"main\"])
" 2>../err; true) &&
		log=$(ls -t victim.git/git-gate/logs/*.log | head -n 1) &&
		test_grep "^SigBlk:	0000000000000000$" "$log" &&
		test_grep "^SigIgn:	0000000000000000$" "$log" || return 1
	done
'

test_expect_success 'sandbox = "none": the timeout reaches a command even when the hook started with TERM ignored' '
	policy none "sleep $tag.5" "timeout = 2;" &&
	(cd work && commit_file t t "Sleep") &&
	(cd work && python3 -c "
import os, signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.execvp(\"git\", [\"git\", \"push\", \"origin\", \"main\"])
" 2>../err; true) &&
	test_grep "timed out after 2 s" err &&
	# TERM ended it (KILL would have come 5 s later), as the hook measured it
	log=$(ls -t victim.git/git-gate/logs/*.log | head -n 1) &&
	took=$(sed -n "s/^# git-gate: timed out after 2 s after \([0-9.]*\) s$/\1/p" "$log") &&
	echo "the command ran $took s" &&
	awk -v t="$took" "BEGIN { exit !(t != \"\" && t < 5) }" &&
	gone "sleep $tag.5"
'

test_done
