#!/bin/bash
# The merge queue's benchmark (issue 10, "Performance"): run by
# `make bench`, or by hand:
#
#   GATE_BUILDDIR=/path/to/build GATE_BENCH_GIT_REPO=/path/to/git.git tests/bench/bench-queue.sh
#
# Workload: a bare repository holding git.git (all its refs) with main at
# v2.40.0 (a tree of 4,340 files), git-gate installed with --queue, and
# changes of one new file each, made on main and pushed with the real
# git client to refs/for/main over file://.  Measured in one run:
#
#  a. overhead: the runner's wall time per item beyond its checks, with
#     queue_batch = 1 and a command check `true` (cache off): N items
#     queued while the runner lock is held, then one
#     `git gate queue run --once`; (wall - the checks' times from the
#     runner's log: the command check's runs and the cheap checks of the
#     items' own commits) / N.  It includes reading the queue and the
#     policy, building the candidate (all N changes are made on the same
#     main, so every one after the first is a real rebase), the item's
#     files, the journal, moving main and the audit records.
#     Target: < 100 ms.
#  b. batch: 8 changes pushed at once with -o gate.wait against a
#     2-second test (`sleep 2` after the checkout), none failing, default
#     queue_batch (4).  Target: all land in <= 3 test runs.
#  c. bisect: the same with one bad change among the 8 (the test fails
#     when the tree has a file BAD).  Target: the 7 good land and the bad
#     one is named in <= 6 test runs.
#  d. latency: a push to refs/for/main without gate.wait (pre-receive's
#     cheap checks, queuing, the runner's start, post-receive), median of
#     GATE_BENCH_QUEUE_REPS pushes, each once the previous one was decided;
#     beside it the floor: the same push to a plain branch of a copy of
#     the repository without git-gate.  Target: < 300 ms.
#
# Environment:
#   GATE_BENCH_GIT_REPO     a clone of git.git (a public copy; required)
#   GATE_BENCH_DIR          where workloads are built (default
#                           $GATE_BUILDDIR/tests/bench/work); this script
#                           uses its subdirectory queue/, rebuilt each run
#   GATE_BENCH_QUEUE_ITEMS  items for (a) (default 20)
#   GATE_BENCH_QUEUE_REPS   pushes for (d) (default 11)
set -eu -o pipefail

: "${GATE_BUILDDIR:?set GATE_BUILDDIR to the build directory (or run make bench)}"
: "${GATE_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
GATE=$GATE_BUILDDIR/git-gate
SRC=${GATE_BENCH_GIT_REPO:-}
BASE=${GATE_BENCH_DIR:-$GATE_BUILDDIR/tests/bench/work}
ITEMS=${GATE_BENCH_QUEUE_ITEMS:-20}
REPS=${GATE_BENCH_QUEUE_REPS:-11}
TIP=v2.40.0

for f in "$GATE" "$GATE_BUILDDIR/hooks/proc-receive" "$GATE_BUILDDIR/hooks/pre-receive"; do
	[ -x "$f" ] || { echo "bench: $f is missing: build first (make)" >&2; exit 2; }
done
if ! git --git-dir="$SRC" rev-parse -q --verify "$TIP^{commit}" >/dev/null; then
	echo "bench: ${SRC:-(unset)} has no $TIP: set GATE_BENCH_GIT_REPO to a clone of git.git" >&2
	exit 2
fi

mkdir -p "$BASE"
W=$(cd "$BASE" && pwd)/queue
rm -rf "$W"
mkdir -p "$W/home" "$W/ws"
# shellcheck source=tests/bench/env.sh
. "$GATE_SRCDIR/tests/bench/env.sh"
bench_env "$W/home"

V=$W/victim.git
C=$W/client.git
Q=$V/git-gate/queue

# policy RUN [BATCH]: main queues; a commit-message check and a command check
policy() {
	cat >"$V/git-gate.conf" <<-EOF
	workspace = "$W/ws";
	checks = {
	  msg = { type = "commit-message"; forbid = "^WIP"; };
	  build = { type = "command"; sandbox = "none"; cache = false; timeout = 300; run = "$1"; };
	};
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "msg", "build" ]; queue = true; queue_batch = ${2:-4};
	            bypass_users = [ "admin" ]; } );
	EOF
}

# change NAME [FILE]: a commit on the victim's main adding FILE (default
# queue-bench/NAME.txt), made in the client without a work tree; prints it
change() {
	local base blob tree file=${2:-queue-bench/$1.txt}
	base=$(git --git-dir="$V" rev-parse main)
	git --git-dir="$C" fetch -q "$V" main 2>/dev/null || true
	blob=$(echo "$1" | git --git-dir="$C" hash-object -w --stdin)
	rm -f "$W/index"
	GIT_INDEX_FILE=$W/index git --git-dir="$C" read-tree "$base"
	GIT_INDEX_FILE=$W/index git --git-dir="$C" update-index --add --cacheinfo "100644,$blob,$file"
	tree=$(GIT_INDEX_FILE=$W/index git --git-dir="$C" write-tree)
	git --git-dir="$C" commit-tree "$tree" -p "$base" -m "Change $1"
}

# push [OPTION...] REFSPEC: to the victim, stderr kept in push.log
push() { git --git-dir="$C" push -q "${@:1:$#-1}" "$V" "${@: -1}" 2>>"$W/push.log"; }

runner_gone() {
	local i=0
	while [ -f "$Q/runner.lock" ] && ! flock -n "$Q/runner.lock" true; do
		i=$((i + 1)); [ $i -lt 3000 ] || { log "a runner is still active after 300 s"; return 1; }
		sleep 0.1
	done
}

test_runs() { grep -c '"hook":"queue".*"verdict":"\(passed\|failed\)"' "$V/git-gate/audit.log" 2>/dev/null || echo 0; }

# ---- the workload ----
log "building the workload in $W (hard links to the git.git clone)"
git clone -q --bare -l "$SRC" "$V"
git --git-dir="$V" update-ref refs/heads/main "$TIP^{commit}"
git --git-dir="$V" symbolic-ref HEAD refs/heads/main
git clone -q --bare -l "$V" "$C"
"$GATE" install --queue "$V" >/dev/null
NREFS=$(git --git-dir="$V" for-each-ref | wc -l)
NFILES=$(git --git-dir="$V" ls-tree -r main | wc -l)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- a. overhead per item ----
policy "true" 1
log "a. $ITEMS items queued while the runner lock is held, then one runner"
mkdir -p "$Q"
exec 9>"$Q/runner.lock"
flock 9
for i in $(seq 1 "$ITEMS"); do
	push "$(change a$i):refs/for/main"
done
flock -u 9
exec 9>&-
t0=$(now)
"$GATE" queue run --once --repo "$V" 2>"$W/run-a.log"
t1=$(now)
landed=$(grep -c "land item" "$W/run-a.log" || true)
# the checks: the command check's runs, and the cheap checks of each item's own commits
tests=$(sed -n 's/.*test run [0-9]*: passed in \([0-9.]*\) s/\1/p' "$W/run-a.log" | awk '{ s += $1 } END { printf "%.3f", s }')
commits=$(sed -n 's/.*its commits judged in \([0-9.]*\) ms.*/\1/p' "$W/run-a.log" | awk '{ s += $1 / 1000 } END { printf "%.3f", s }')
build=$(sed -n 's/.*candidate of 1 item built in \([0-9.]*\) ms.*/\1/p' "$W/run-a.log" | median)
landms=$(sed -n 's/.*(land item [0-9]*) in \([0-9.]*\) ms/\1/p' "$W/run-a.log" | median)
wall=$(echo "$t0 $t1" | awk '{ printf "%.3f", $2 - $1 }')
over=$(echo "$wall $tests $commits $ITEMS" | awk '{ printf "%.1f", ($1 - $2 - $3) * 1000 / $4 }')
A_RESULT="$ITEMS items (queue_batch = 1), $landed landed: runner wall $wall s, of which the checks: command runs $tests s, the items' commit checks $commits s; overhead $over ms per item (median phases: building the candidate $build ms, landing $landms ms)"
log "$A_RESULT"

# ---- b. 8 at once, none failing ----
policy "sleep 2"
runs0=$(test_runs)
log "b. 8 changes pushed at once with -o gate.wait, a 2-second test"
for i in 1 2 3 4 5 6 7 8; do c[$i]=$(change b$i); done
t0=$(now)
for i in 1 2 3 4 5 6 7 8; do
	(if push -o gate.wait "${c[$i]}:refs/for/main"; then echo 0; else echo 1; fi >"$W/b.rc$i") &
done
wait
t1=$(now)
runner_gone
ok=0
for i in 1 2 3 4 5 6 7 8; do
	[ "$(cat "$W/b.rc$i")" = 0 ] && git --git-dir="$V" cat-file -e "main:queue-bench/b$i.txt" && ok=$((ok + 1))
done
B_RUNS=$(( $(test_runs) - runs0 ))
B_RESULT="$ok of 8 landed in $B_RUNS test runs, $(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }') s from the first push to the last verdict"
log "$B_RESULT"

# ---- c. one bad among 8 ----
policy "sleep 2; test ! -e BAD"
runs0=$(test_runs)
log "c. the same with one bad change (the 5th adds BAD)"
for i in 1 2 3 4 5 6 7 8; do
	if [ $i = 5 ]; then c[$i]=$(change c$i BAD); else c[$i]=$(change c$i); fi
done
t0=$(now)
for i in 1 2 3 4 5 6 7 8; do
	(if push -o gate.wait "${c[$i]}:refs/for/main"; then echo 0; else echo 1; fi >"$W/c.rc$i") &
done
wait
t1=$(now)
runner_gone
ok=0
for i in 1 2 3 4 6 7 8; do
	[ "$(cat "$W/c.rc$i")" = 0 ] && git --git-dir="$V" cat-file -e "main:queue-bench/c$i.txt" && ok=$((ok + 1))
done
named=no
if [ "$(cat "$W/c.rc5")" != 0 ] && grep -q "rejected: the checks failed" "$W/push.log" && ! git --git-dir="$V" cat-file -e main:BAD 2>/dev/null; then
	named=yes
fi
C_RUNS=$(( $(test_runs) - runs0 ))
C_RESULT="$ok of 7 good landed, the bad one rejected and named: $named; $C_RUNS test runs, $(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }') s"
log "$C_RESULT"

# ---- d. latency of an asynchronous push ----
policy "true"
log "d. $REPS pushes to refs/for/main without gate.wait, each after the last was decided"
# the floor: the same push to a plain branch of a copy without git-gate
git clone -q --bare -l "$V" "$W/plain.git"
: >"$W/d.times"
: >"$W/d.floor"
# queue_idle: nothing undecided and no runner (the one the last push started included)
queue_idle() {
	local i=0
	while ls "$Q/items" 2>/dev/null | grep -q '^[0-9]*$' || { [ -f "$Q/runner.lock" ] && ! flock -n "$Q/runner.lock" true; }; do
		i=$((i + 1)); [ $i -lt 3000 ] || { log "the queue is still busy after 300 s"; return 1; }
		sleep 0.1
	done
}
for i in $(seq 1 "$REPS"); do
	queue_idle
	x=$(change d$i)
	t0=$(now)
	git --git-dir="$C" push -q "$W/plain.git" "$x:refs/heads/floor$i" 2>>"$W/push.log"
	t1=$(now)
	push "$x:refs/for/main"
	t2=$(now)
	echo "$t0 $t1" | awk '{ printf "%.1f\n", ($2 - $1) * 1000 }' >>"$W/d.floor"
	echo "$t1 $t2" | awk '{ printf "%.1f\n", ($2 - $1) * 1000 }' >>"$W/d.times"
done
queue_idle
D_MED=$(median <"$W/d.times")
D_MIN=$(sort -g "$W/d.times" | head -1)
D_MAX=$(sort -g "$W/d.times" | tail -1)
D_FLOOR=$(median <"$W/d.floor")
D_RESULT="median $D_MED ms over $REPS pushes (min $D_MIN ms, max $D_MAX ms); the same push to a plain branch of a copy without git-gate, interleaved: median $D_FLOOR ms"
log "$D_RESULT"
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 <= t + 0) ? "holds" : "MISSED" }'; }
cat <<EOF

## $(date -u '+%Y-%m-%d %H:%M UTC'): the merge queue (tests/bench/bench-queue.sh)

Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r), $(git --version). Load average at the start: $LOAD0; at the end: $LOAD1.
Workload: a public copy of git.git, main at $TIP ($NFILES files), $NREFS refs; each change adds one file to main; pushes with the real git client over file://.

- a. queue overhead per item beyond its checks: $A_RESULT (target < 100 ms: $(verdict "$over" 100))
- b. 8 changes at once, 2-second test, none failing: $B_RESULT (target <= 3 test runs: $(verdict "$B_RUNS" 3))
- c. one bad among 8: $C_RESULT (target <= 6 test runs: $(verdict "$C_RUNS" 6))
- d. a push to refs/for/main without gate.wait: $D_RESULT (target < 300 ms: $(verdict "$D_MED" 300))
EOF
