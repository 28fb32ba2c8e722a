# Helpers for the merge queue's end-to-end tests (t50xx), sourced after
# lib.sh.  Every wait is bounded.

# write_queue_policy GITDIR [STRATEGY [BATCH]]: main queues its changes;
# its command check runs ./check.sh (state.txt must say "good") after
# sleeping as many seconds as GITDIR.delay says (slow_queue).
write_queue_policy() {
	cat >"$1/git-gate.conf" <<-EOF
	checks = {
	  build = { type = "command"; sandbox = "none"; timeout = 120; progress_interval = 1;
	            run = "sleep \$(cat '$TRASH/$(basename "$1").delay' 2>/dev/null || echo 0); sh ./check.sh"; };
	  msg = { type = "commit-message"; forbid = "^WIP"; };
	};
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "msg", "build" ];
	            queue = true; queue_strategy = "${2:-rebase}"; queue_batch = ${3:-4};
	            bypass_users = [ "admin" ]; } );
	EOF
}

# queue_victim NAME WORK [URL]: a bare repository with the gate and its
# queue installed, and a clone WORK whose main holds the project under
# test (seeded by a bypass user: main takes no direct pushes)
queue_victim() {
	git init -q --bare "$1" &&
	git-gate install --queue "$1" >/dev/null &&
	make_work "$2" "${3:-$1}" &&
	write_queue_policy "$1" &&
	(cd "$2" && queue_project && git add . && git commit -q -m "Add the test" &&
	 GIT_GATE_USER=admin git push -q -o gate.bypass="seed the project" origin main 2>/dev/null)
}

set_strategy() {
	write_queue_policy "$1" "$2"
}

# slow_queue GITDIR SECONDS: how long each test run takes
slow_queue() {
	echo "$2" >"$TRASH/$(basename "$1").delay"
}

# queue_project: the files of the project under test, in the current directory
queue_project() {
	printf '%s\n' 'if test "$(cat state.txt)" = good; then echo "PASS: state is good"; else echo "FAIL: state is bad"; exit 1; fi' >check.sh &&
	echo good >state.txt
}

# wait_for_ref GITDIR REF VALUE: up to 60 s
wait_for_ref() {
	i=0
	while test "$(ref_of "$1" "$2")" != "$3"; do
		i=$((i + 1))
		if test $i -gt 600; then
			echo "$2 is $(ref_of "$1" "$2"), not $3, after 60 s" >&2
			cat "$1/git-gate/queue/runner.log" >&2 2>/dev/null
			return 1
		fi
		sleep 0.1
	done
}

# wait_runner_gone GITDIR: no runner holds the lock (up to 60 s)
wait_runner_gone() {
	i=0
	while test -f "$1/git-gate/queue/runner.lock" && ! flock -n "$1/git-gate/queue/runner.lock" true; do
		i=$((i + 1))
		if test $i -gt 600; then
			echo "a runner is still active after 60 s" >&2
			return 1
		fi
		sleep 0.1
	done
}

# wait_state GITDIR ID STATE: up to 60 s
wait_state() {
	i=0
	while ! cat "$1/git-gate/queue/items/$2" "$1/git-gate/queue/items/decided/$2" 2>/dev/null | grep -q "^state $3\$"; do
		i=$((i + 1))
		if test $i -gt 600; then
			echo "item $2 is not $3 after 60 s:" >&2
			cat "$1/git-gate/queue/items/$2" "$1/git-gate/queue/items/decided/$2" >&2
			return 1
		fi
		sleep 0.1
	done
}

# test_runs GITDIR: how many candidates the queue has tested
test_runs() {
	grep -c '"hook":"queue".*"verdict":"\(passed\|failed\)"' "$1/git-gate/audit.log" 2>/dev/null || echo 0
}

# every_main_tree_passed GITDIR: every tree the queue moved main to
# passed main's checks first
every_main_tree_passed() {
	grep '"hook":"queue".*"verdict":"landed"' "$1/git-gate/audit.log" |
	sed -n 's/.*"tree":"\([0-9a-f]*\)".*/\1/p' >landed-trees &&
	test -s landed-trees &&
	while read -r tree; do
		grep -q "\"tree\":\"$tree\",\"verdict\":\"passed\"" "$1/git-gate/audit.log" ||
		{ echo "main was moved to tree $tree, which never passed" >&2; return 1; }
	done <landed-trees
}
