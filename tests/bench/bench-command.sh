#!/bin/bash
# The command check's benchmark (issues 4 and 9, "Performance"): run by
# `make bench`, or by hand:
#
#   GATE_BUILDDIR=/path/to/build tests/bench/bench-command.sh
#
# Workload: a bare repository holding git.git with main at v2.39.0 (and a
# commit-graph, as git gc leaves on a served repository) and
# git-gate's pre-receive hook (wrapped to time it), policy
#   build = { type = "command"; run = "true"; sandbox = MODE; }
# and real `git push`es of v2.40.0 (715 commits; a tree of 4,340 files),
# with the sandbox (the default, "bwrap") and without it ("none").
# Measured in the same run, repetitions interleaved, medians reported:
#
#  a. checkout: without the sandbox, the gate's checkout of v2.40.0's
#     tree into a workspace (GIT_GATE_TRACE's "checkout" time inside the
#     push) against `git archive v2.40.0 | tar -x` into the same file
#     system.  Target: checkout / archive <= 1.2.  With the sandbox, its
#     "checkout": the sandbox's start-up, the tree streamed in as tar and
#     unpacked into its tmpfs.
#  b. cached: a push of a new commit whose tree already passed (a rebase
#     that ends on the same tree; sandboxed, as the cache is off without
#     the sandbox).  Target: the hook decides in < 100 ms and starts no
#     command.  Also shown: the whole v2.39.0..v2.40.0 push again once
#     its tree passed (the scan of 715 commits included).
#  c. overhead: the hook's wall time around `run = "true"` minus the
#     checkout and the command itself (policy, scan, plan, workspace, log,
#     cache, cleanup), in both modes; and of that, the command check's
#     own part: less what the same push costs when its tree already
#     passed (b.'s range push: policy, the walk of 715 commits, the cache
#     look-up, which every push of that range pays whatever its checks).
#     Target: the command check's own overhead < 10% of the checkout time.
#  d. sandbox start-up: the sandboxed "checkout" of a tree of one small
#     file (a second repository): starting bwrap, unpacking, reporting
#     ready.  Target: < 50 ms.
#
# Environment:
#   GATE_BENCH_GIT_REPO   a clone of git.git (a public copy; required)
#   GATE_BENCH_DIR        where workloads are built (default
#                         $GATE_BUILDDIR/tests/bench/work); this script uses
#                         its subdirectory command/, rebuilt each run
#   GATE_BENCH_CMD_REPS   repetitions (default 7)
#   GATE_BENCH_OLD, GATE_BENCH_NEW   the range (default v2.39.0, v2.40.0)
set -eu -o pipefail

: "${GATE_BUILDDIR:?set GATE_BUILDDIR to the build directory (or run make bench)}"
: "${GATE_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
HOOK=$GATE_BUILDDIR/hooks/pre-receive
GATE=$GATE_BUILDDIR/git-gate
SRC=${GATE_BENCH_GIT_REPO:-}
BASE=${GATE_BENCH_DIR:-$GATE_BUILDDIR/tests/bench/work}
REPS=${GATE_BENCH_CMD_REPS:-7}
OLD=${GATE_BENCH_OLD:-v2.39.0}
NEW=${GATE_BENCH_NEW:-v2.40.0}

for f in "$HOOK" "$GATE"; do
	[ -x "$f" ] || { echo "bench: $f is missing: build first (make)" >&2; exit 2; }
done
if ! git --git-dir="$SRC" rev-parse -q --verify "$NEW^{commit}" >/dev/null; then
	echo "bench: $SRC has no $NEW: set GATE_BENCH_GIT_REPO to a clone of git.git" >&2
	exit 2
fi

mkdir -p "$BASE"
W=$(cd "$BASE" && pwd)/command
rm -rf "$W"
mkdir -p "$W/home" "$W/ws"
# shellcheck source=tests/bench/env.sh
. "$GATE_SRCDIR/tests/bench/env.sh"
bench_env "$W/home"

# wait until the detached removal of earlier workspaces is done, so that
# it does not compete with the next measurement
settle() {
	local i=0
	while [ -n "$(ls -A "$W/ws" | grep -v '^git-gate-slots\.[0-9]*$')" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	sync
}

# ---- the workload ----
log "building the workload in $W (hard links to $SRC)"
git clone -q --bare --no-tags -l "$SRC" "$W/victim.git"
git clone -q --bare -l "$SRC" "$W/client.git"
old=$(git --git-dir="$W/client.git" rev-parse "$OLD^{commit}")
new=$(git --git-dir="$W/client.git" rev-parse "$NEW^{commit}")
tree=$(git --git-dir="$W/client.git" rev-parse "$NEW^{tree}")
(
	cd "$W/victim.git"
	git for-each-ref --format='delete %(refname)' | git update-ref --stdin
	git update-ref refs/heads/main "$old"
	git symbolic-ref HEAD refs/heads/main
	# as on a served repository: git gc writes one (gc.writeCommitGraph),
	# and so do bench-scan.sh and bench-scale.sh
	git commit-graph write --reachable
)
"$GATE" install "$W/victim.git" >/dev/null
# time the real hook from the outside: a wrapper records its wall time
mv "$W/victim.git/hooks/pre-receive" "$W/victim.git/hooks/pre-receive.gate"
cat >"$W/victim.git/hooks/pre-receive" <<EOF
#!/bin/bash
s=\$(date +%s%N)
"$W/victim.git/hooks/pre-receive.gate"
rc=\$?
e=\$(date +%s%N)
echo \$(( (e - s) / 1000 )) >"$W/hook-us"
exit \$rc
EOF
chmod +x "$W/victim.git/hooks/pre-receive"
for mode in none bwrap; do
	cat >"$W/policy.$mode" <<EOF
workspace = "$W/ws";
cache_dir = "$W/cache";
log_dir = "$W/logs";
checks = { build = { type = "command"; run = "true"; sandbox = "$mode"; }; };
rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
EOF
done
use_policy() { cp "$W/policy.$1" "$W/victim.git/git-gate.conf"; }
# d.: a second repository whose tree is one small file
git init -q --bare "$W/tiny.git"
"$GATE" install "$W/tiny.git" >/dev/null
cp "$W/policy.bwrap" "$W/tiny.git/git-gate.conf"
git init -q "$W/tiny"
git -C "$W/tiny" commit -q --allow-empty -m "Start"
git -C "$W/tiny" push -q "$W/tiny.git" HEAD:refs/heads/main
ncommits=$(git --git-dir="$W/client.git" rev-list --count "$old..$new")
nfiles=$(git --git-dir="$W/client.git" ls-tree -r "$tree" | wc -l)
treebytes=$(git --git-dir="$W/client.git" ls-tree -r -l "$tree" | awk '$4 ~ /^[0-9]+$/ { s += $4 } END { print s }')

# push REV [ARGS]: push REV to main of the victim, GIT_GATE_TRACE on; the
# hook's report in $W/push.err, its wall time (s) printed
push() {
	rm -f "$W/hook-us"
	GIT_GATE_TRACE=1 git --git-dir="$W/client.git" push -q "$W/victim.git" "$1:refs/heads/main" 2>"$W/push.err" || {
		log "push of $1 failed:"
		cat "$W/push.err" >&2
		exit 1
	}
	awk '{ printf "%.6f\n", $1 / 1e6 }' "$W/hook-us"
}
# trace FIELD: a number from the push's trace line ("checkout 0.412 s")
trace() {
	sed -n "s/.*trace: build: .* $1 \([0-9.]*\) s.*/\1/p" "$W/push.err" | head -n 1
}
# reset_main REV: main back at REV, and no commit counted as judged (the
# judged record, git-gate.conf(5)), so that the range is judged again
reset_main() {
	git --git-dir="$W/victim.git" update-ref refs/heads/main "$1"
	rm -rf "$W/victim.git/git-gate/judged"
}
# full_push MODE: the whole range pushed again with sandbox = MODE; the
# hook's wall time in $pushed
full_push() {
	settle
	use_policy "$1"
	reset_main "$old"
	pushed=$(push "$new")
	grep -q "build: passed on" "$W/push.err" || { cat "$W/push.err" >&2; exit 1; }
}

: >"$W/r.checkout"; : >"$W/r.archive"; : >"$W/r.overhead"; : >"$W/r.hook"
: >"$W/r.cached"; : >"$W/r.cached-range"
: >"$W/r.checkout-sb"; : >"$W/r.overhead-sb"; : >"$W/r.hook-sb"; : >"$W/r.startup"
: >"$W/r.own"; : >"$W/r.own-sb"
log "$REPS repetitions (plus one warm-up), interleaved"
for i in $(seq 0 "$REPS"); do
	# a. + c.: an uncached push of the range, without the sandbox
	rm -rf "$W/cache"
	full_push none
	hook=$pushed co=$(trace checkout) cmd=$(trace command)
	# the archive, into the same file system, right after
	settle
	mkdir "$W/ws/archive"
	s=$(now)
	git --git-dir="$W/client.git" archive "$new" | tar -x -C "$W/ws/archive"
	e=$(now)
	arch=$(echo "$e - $s" | bc -l)
	rm -rf "$W/ws/archive"
	# a. + c. with the sandbox
	full_push bwrap
	hook_sb=$pushed co_sb=$(trace checkout) cmd_sb=$(trace command)
	# d.: the sandbox's start-up, with a tree of one file
	echo "$i" >"$W/tiny/file"
	git -C "$W/tiny" add file
	git -C "$W/tiny" commit -q -m "Tiny $i"
	GIT_GATE_TRACE=1 git -C "$W/tiny" push -q "$W/tiny.git" HEAD:refs/heads/main 2>"$W/push.err" || {
		cat "$W/push.err" >&2
		exit 1
	}
	startup=$(trace checkout)
	# b.: a new commit whose tree already passed (in the sandbox)
	settle
	nlogs=$(ls "$W/logs" | wc -l)
	same=$(git --git-dir="$W/client.git" commit-tree "$tree" -p "$new" -m "Rebased, same tree ($i)")
	cached=$(push "$same")
	grep -q "already passed (cached) -- not run" "$W/push.err" || { log "no cache hit:"; cat "$W/push.err" >&2; exit 1; }
	if grep -q "build: running" "$W/push.err" || [ "$(ls "$W/logs" | wc -l)" != "$nlogs" ]; then
		log "a command was started on a cached tree"
		exit 1
	fi
	# b2.: the whole range again, its tree already passed
	reset_main "$old"
	range=$(push "$new")
	grep -q "already passed (cached)" "$W/push.err" || { log "no cache hit for the range"; exit 1; }
	if [ "$i" -eq 0 ]; then
		log "warm-up: checkout $co s, archive $arch s, hook $hook s, sandboxed: checkout $co_sb s, hook $hook_sb s, start-up $startup s; cached $cached s"
		continue
	fi
	echo "$co_sb" >>"$W/r.checkout-sb"
	echo "$hook_sb" >>"$W/r.hook-sb"
	echo "$hook_sb - $co_sb - $cmd_sb" | bc -l >>"$W/r.overhead-sb"
	echo "$startup" >>"$W/r.startup"
	echo "$co" >>"$W/r.checkout"
	echo "$arch" >>"$W/r.archive"
	echo "$hook" >>"$W/r.hook"
	echo "$hook - $co - $cmd" | bc -l >>"$W/r.overhead"
	# what the command check adds: the same, less what this push costs
	# when there is no command to run (b2.: policy, scan, cache look-up)
	echo "$hook - $range - $co - $cmd" | bc -l >>"$W/r.own"
	echo "$hook_sb - $range - $co_sb - $cmd_sb" | bc -l >>"$W/r.own-sb"
	echo "$cached" >>"$W/r.cached"
	echo "$range" >>"$W/r.cached-range"
	log "rep $i: checkout $co s, archive $arch s, hook $hook s (command $cmd s); sandboxed: checkout $co_sb s, hook $hook_sb s (command $cmd_sb s), start-up $startup s; cached $cached s, cached range $range s"
done
settle

m_co=$(median <"$W/r.checkout")
m_arch=$(median <"$W/r.archive")
m_hook=$(median <"$W/r.hook")
m_over=$(median <"$W/r.overhead")
m_cached=$(median <"$W/r.cached")
m_range=$(median <"$W/r.cached-range")
m_co_sb=$(median <"$W/r.checkout-sb")
m_hook_sb=$(median <"$W/r.hook-sb")
m_over_sb=$(median <"$W/r.overhead-sb")
m_startup=$(median <"$W/r.startup")
m_own=$(median <"$W/r.own")
m_own_sb=$(median <"$W/r.own-sb")
own_pct=$(echo "100 * $m_own / $m_co" | bc -l)
own_sb_pct=$(echo "100 * $m_own_sb / $m_co_sb" | bc -l)
over_sb_pct=$(echo "100 * $m_over_sb / $m_co_sb" | bc -l)
over_sb_disk_pct=$(echo "100 * $m_over_sb / $m_co" | bc -l)
startup_ms=$(echo "1000 * $m_startup" | bc -l)
ratio=$(echo "$m_co / $m_arch" | bc -l)
over_pct=$(echo "100 * $m_over / $m_co" | bc -l)
cached_ms=$(echo "1000 * $m_cached" | bc -l)
range_ms=$(echo "1000 * $m_range" | bc -l)
verdict() { if [ "$1" = 1 ]; then echo "met"; else echo "MISSED"; fi; }
ok_a=$(echo "$ratio <= 1.2" | bc -l)
ok_b=$(echo "$cached_ms < 100" | bc -l)
ok_c=$(echo "$own_pct < 10" | bc -l)
ok_c2=$(echo "$own_sb_pct < 10" | bc -l)
ok_d=$(echo "$startup_ms < 50" | bc -l)

cat <<EOF
== command check benchmark (issues 4 and 9) ==
workload: a public copy of git.git (with a commit-graph), main at $OLD, push of $NEW: $ncommits commits; tree $tree,
          $nfiles files, $(echo "$treebytes" | awk '{ printf "%.1f MiB", $1 / 1048576 }'); policy: run = "true"
machine:  $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $REPS repetitions, medians
a. checkout into a workspace     $(printf '%.3f' "$m_co") s
   git archive | tar -x          $(printf '%.3f' "$m_arch") s
   ratio                         $(printf '%.2f' "$ratio")   (target <= 1.2: $(verdict "$ok_a"))
b. push of a tree that passed    $(printf '%.1f' "$cached_ms") ms, no command started   (target < 100 ms: $(verdict "$ok_b"))
   (the whole $OLD..$NEW push, tree passed: $(printf '%.1f' "$range_ms") ms)
c. hook around run = "true", sandbox = "none"   $(printf '%.3f' "$m_hook") s
   hook - checkout - command             $(printf '%.3f' "$m_over") s = $(printf '%.1f' "$over_pct")% of the checkout
   of it, the command check's own (less b.'s range push: the same push with no command to run)
                                         $(printf '%.3f' "$m_own") s = $(printf '%.1f' "$own_pct")% of the checkout   (target < 10%: $(verdict "$ok_c"))
   the same in the sandbox (the default): hook $(printf '%.3f' "$m_hook_sb") s, its checkout (start-up, tar, unpack) $(printf '%.3f' "$m_co_sb") s
   hook - checkout - command             $(printf '%.3f' "$m_over_sb") s = $(printf '%.1f' "$over_sb_pct")% of its checkout, $(printf '%.1f' "$over_sb_disk_pct")% of the unsandboxed one
   of it, the command check's own        $(printf '%.3f' "$m_own_sb") s = $(printf '%.1f' "$own_sb_pct")% of its checkout   (target < 10%: $(verdict "$ok_c2"))
d. sandbox start-up (a tree of one file)  $(printf '%.1f' "$startup_ms") ms   (target < 50 ms: $(verdict "$ok_d"))
EOF
