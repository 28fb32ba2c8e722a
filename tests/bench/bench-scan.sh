#!/bin/bash
# git-gate's performance benchmark (issue 3, "Performance"): run by
# `make bench`, or by hand:
#
#   GATE_BUILDDIR=/path/to/build tests/bench/bench-scan.sh
#
# Two workloads, each measured inside real `git push`es to a bare
# repository whose pre-receive hook is a wrapper that times the contenders
# on the same stdin and quarantined objects, then rejects the push so that
# it can be repeated:
#
#  a. catch-up push: a repository holding git.git up to v2.30.0 receives
#     v2.40.0 on main (8,071 commits, 42,785 new objects).  Timed in the
#     same hook run:
#       floor  git rev-list --objects NEW --not --all | cut -d' ' -f1 |
#              git cat-file --batch >/dev/null (every new object's content
#              read once: what any reader pays; the cut matters, as cat-file
#              --batch takes a whole "<id> <path>" line for a name and would
#              print "missing" for most of them)
#       gate   git-gate's pre-receive with every built-in check enabled
#       catfile  the same with GIT_GATE_TEST_NO_PACK=1: every blob through
#              two git cat-file streams (the way before the pushed pack was
#              read in the hook), for comparison
#       peer   tests/bench/peer-pre-receive.sh, four checks per commit with
#              git plumbing, the way admins write a hook by hand
#     Targets: gate/floor <= 1.0 (issue 13; 1.5 before), peer/gate >= 20, gate peak
#     RSS <= 100 MiB.
#
#  b. small push: one new commit onto a repository holding git.git's whole
#     history up to v2.40.0 and over 1,000 refs (its tags plus generated
#     branches, packed).  Target: the hook decides in under 50 ms (median).
#
# Environment:
#   GATE_BENCH_GIT_REPO   a clone of git.git (a public copy; no default);
#                         when it is missing, a synthetic history of the same
#                         shape is generated (tests/bench/gen-history.sh)
#   GATE_BENCH_SYNTHETIC=1  use the synthetic history even when git.git is there
#   GATE_BENCH_DIR        where workloads are built and kept between runs
#                         (default $GATE_BUILDDIR/tests/bench/work)
#   GATE_BENCH_REPS       catch-up pushes (default 5; medians are reported)
#   GATE_BENCH_SMALL_REPS small pushes (default 20)
#   GATE_BENCH_PEER       full (default: the peer runs over the whole push, in
#                         the first repetition only), subset:N (over about N
#                         commits, extrapolated per commit, and said so), off
#   GATE_BENCH_ONLY       a or b: run one workload
#   GATE_BENCH_RECORD     a file to write the results to as Markdown
#                         (e.g. contrib/BENCHMARKS.md)
set -eu -o pipefail

REPS=${GATE_BENCH_REPS:-5}
SMALL_REPS=${GATE_BENCH_SMALL_REPS:-20}
PEER_MODE=${GATE_BENCH_PEER:-full}
ONLY=${GATE_BENCH_ONLY:-}
. "$(dirname "$0")/lib.sh"

# ---- the wrapper hook ------------------------------------------------------



RESULTS=$WORK/results.md
: >"$RESULTS"
out() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

# ---- workload a: catch-up push -------------------------------------------------

workload_a() {
	local A=$WORK/a victim client stamp
	victim=$A/victim.git
	client=$A/client.git
	stamp="$BASE $NEW"
	if [ "$(cat "$A/stamp" 2>/dev/null)" != "$stamp" ]; then
		log "building workload a in $A (a copy of the history up to $BASE_TAG; takes a minute)"
		rm -rf "$A"
		mkdir -p "$A"
		git init -q --bare "$victim"
		git -C "$victim" fetch -q --no-tags "$SRC" "+refs/tags/$BASE_TAG:refs/bench/base"
		git -C "$victim" update-ref refs/heads/main "$BASE"
		git -C "$victim" update-ref -d refs/bench/base
		git -C "$victim" commit-graph write --reachable
		git init -q --bare "$client"
		echo "$SRC/objects" >"$client/objects/info/alternates"
		git -C "$client" update-ref refs/heads/main "$NEW"
		echo "$stamp" >"$A/stamp"
	fi
	cp "$WORK/policy.conf" "$victim/git-gate.conf"
	write_wrapper "$victim/hooks/pre-receive"
	local ncommits nrefs_a
	ncommits=$(git -C "$client" rev-list --count "$NEW" --not "$BASE")
	nrefs_a=$(git -C "$victim" for-each-ref | wc -l)

	local peer_stdin="" peer_commits=$ncommits peer_note="over the whole push"
	case $PEER_MODE in
	subset:*)
		local want=${PEER_MODE#subset:} old
		old=$(git -C "$client" rev-list --first-parent "$NEW" --not "$BASE" | sed -n "$((want / 10 + 1))p")
		[ -n "$old" ] || old=$BASE
		# about `want` commits: walk back along the first parents until the range is that big
		while [ "$(git -C "$client" rev-list --count "$old..$NEW")" -lt "$want" ] &&
			git -C "$client" rev-parse -q --verify "$old^" >/dev/null && [ "$old" != "$BASE" ]; do
			old=$(git -C "$client" rev-parse "$old~10")
		done
		peer_commits=$(git -C "$client" rev-list --count "$old..$NEW")
		peer_stdin=$A/peer-stdin
		echo "$old $NEW refs/heads/main" >"$peer_stdin"
		peer_note="MEASURED ON A SUBSET of $peer_commits commits ($(git -C "$client" describe --always "$old" 2>/dev/null || echo "${old:0:12}")..$NEW_TAG) AND EXTRAPOLATED PER COMMIT to $ncommits"
		;;
	off) peer_note="not measured (GATE_BENCH_PEER=off)" ;;
	esac

	local i order
	rm -rf "$A/runs"
	for i in $(seq 1 "$REPS"); do
		# rotate the order so that no contender always runs first
		case $((i % 3)) in
		1) order="floor keep gate back catfile back" ;;
		2) order="keep gate back catfile back floor" ;;
		0) order="keep catfile back floor gate back" ;;
		esac
		[ "$i" = 1 ] && order="sizes $order"
		[ "$i" = 1 ] && [ "$PEER_MODE" != off ] && order="$order peer"
		log "catch-up push $i/$REPS: $order"
		if BENCH_OUT=$A/runs/$i BENCH_ORDER=$order BENCH_RUSAGE=1 BENCH_PEER_STDIN=$peer_stdin \
			git -C "$client" push -q "$victim" main:main >"$A/push.$i.log" 2>&1; then
			log "the push was accepted: the wrapper hook did not run?"
			cat "$A/push.$i.log" >&2
			exit 1
		fi
		if [ ! -s "$A/runs/$i/times" ]; then
			cat "$A/push.$i.log" >&2
			exit 1
		fi
		grep -q 'rejected on purpose' "$A/push.$i.log" || { cat "$A/push.$i.log" >&2; exit 1; }
	done

	local floor gate catfile catfile_own peer peer_per gate_kb own floor_kb nobj bytes qkb grc
	floor=$(for i in $(seq 1 "$REPS"); do elapsed "$A/runs/$i/times" floor; done | median)
	gate=$(for i in $(seq 1 "$REPS"); do elapsed "$A/runs/$i/times" gate; done | median)
	catfile=$(for i in $(seq 1 "$REPS"); do elapsed "$A/runs/$i/times" catfile; done | median)
	catfile_own=$(for i in $(seq 1 "$REPS"); do own_kb "$A/runs/$i/catfile.out"; done | sort -n | tail -1)
	gate_kb=$(for i in $(seq 1 "$REPS"); do awk -F': ' '/Maximum resident/ { print $2 }' "$A/runs/$i/gate.rusage"; done | sort -n | tail -1)
	own=$(for i in $(seq 1 "$REPS"); do own_kb "$A/runs/$i/gate.out"; done | sort -n | tail -1)
	floor_kb=$(for i in $(seq 1 "$REPS"); do cat "$A/runs/$i/floor.rss"; done | sort -n | tail -1)
	grc=$(rc_of "$A/runs/1/times" gate)
	nobj=$(wc -l <"$A/runs/1/objects")
	bytes=$(awk '{ s += $2 } END { printf "%.0f", s }' "$A/runs/1/objects")
	qkb=$(cat "$A/runs/1/quarantine.kb")

	out "### a. catch-up push: $BASE_TAG -> $NEW_TAG on main"
	out ""
	out "Workload: $ncommits new commits, $nobj new objects$OBJ_NOTE ($(awk '{ n[$1]++ } END { printf "%d commits, %d trees, %d blobs, %d tags", n["commit"], n["tree"], n["blob"], n["tag"] }' "$A/runs/1/objects")), $(awk -v b="$bytes" 'BEGIN { printf "%.2f GB", b / 1e9 }') inflated, a $(awk -v k="$qkb" 'BEGIN { printf "%.1f MiB", k / 1024 }') pack received; the repository had $nrefs_a ref(s)."
	out "Checks enabled: ${TYPES[*]}${MISSING[*]:+ (not yet in this build: ${MISSING[*]})}. Each contender ran in the same pre-receive, on the same quarantined objects; medians of $REPS pushes."
	out ""
	out "| | wall | peak RSS |"
	out "|---|---|---|"
	out "| floor: \`git rev-list --objects NEW --not --all \\| cut -d' ' -f1 \\| git cat-file --batch >/dev/null\` | $(fmt_s "$floor") | $(mib "$floor_kb") (git cat-file) |"
	out "| git-gate pre-receive (exit $grc) | $(fmt_s "$gate") | $(mib "$own") (the hook; $(mib "$gate_kb") for the largest of it and its git children) |"
	out "| the same, every blob through \`git cat-file\` (GIT_GATE_TEST_NO_PACK=1: the way before the pushed pack was read) | $(fmt_s "$catfile") | $(mib "$catfile_own") (the hook) |"
	if [ "$PEER_MODE" != off ]; then
		local pt
		pt=$(elapsed "$A/runs/1/times" peer)
		peer_per=$(awk -v t="$pt" -v n="$peer_commits" 'BEGIN { printf "%.6f", t / n }')
		peer=$(awk -v p="$peer_per" -v n="$ncommits" 'BEGIN { printf "%.6f", p * n }')
		if [ -n "$peer_stdin" ]; then
			out "| peer: tests/bench/peer-pre-receive.sh, extrapolated from $peer_commits commits ($(fmt_s "$pt")) | $(fmt_s "$peer") | |"
		else
			out "| peer: tests/bench/peer-pre-receive.sh (one run) | $(fmt_s "$peer") | |"
		fi
	fi
	out ""
	out "- gate/floor = $(ratio "$gate" "$floor") (target <= 1.0: $(holds "$(ratio "$gate" "$floor")" "<=" 1.0)); through cat-file: $(ratio "$catfile" "$floor")"
	out "- the hook's blobs (run 1): $(sed -n 's/.*trace: blobs read from the pushed pack: \(.*\)/from the pushed pack \1/p' "$A/runs/1/gate.out" | tr -d '\r' | sed 's/ *$//')"
	if [ "$PEER_MODE" != off ]; then
		out "- peer/gate = $(ratio "$peer" "$gate") (target >= 20: $(holds "$(ratio "$peer" "$gate")" ">=" 20)); the peer: $(fmt_ms "$peer_per") a commit, $peer_note"
	fi
	out "- gate peak memory = $(mib "$own") (target <= 100 MiB: $(holds "$(awk -v k="$own" 'BEGIN { print k / 1024 }')" "<=" 100)): the hook process's VmHWM. /usr/bin/time's figure ($(mib "$gate_kb")) is its largest git child, the long-running \`git cat-file --batch\`, whose resident pages are mostly the mapped pack; the floor's cat-file shows the same ($(mib "$floor_kb"))"
	out "- the hook's phases in ms (run 1, GIT_GATE_TRACE): $(phases "$A/runs/1/gate.out")"
	out ""
	out "git-gate's report (first run): $(grep -c . "$A/runs/1/gate.out") lines; its last line: \`$(tail -1 "$A/runs/1/gate.out" | cut -c1-120)\`"
	out ""
}

# ---- workload b: small push onto a big repository ---------------------------------

workload_b() {
	local B=$WORK/b victim client stamp
	victim=$B/victim.git
	client=$B/client.git
	stamp="$BASE $NEW 2"
	if [ "$(cat "$B/stamp" 2>/dev/null)" != "$stamp" ]; then
		log "building workload b in $B (the full history up to $NEW_TAG and its tags; takes a minute)"
		rm -rf "$B"
		mkdir -p "$B"
		git init -q --bare "$victim"
		git -C "$SRC" tag --merged "$NEW" | sed 's|.*|+refs/tags/&:refs/tags/&|' >"$B/tags"
		git -C "$victim" fetch -q --no-tags "$SRC" "+refs/tags/$NEW_TAG:refs/tags/$NEW_TAG" $(cat "$B/tags")
		git -C "$victim" update-ref refs/heads/main "$NEW"
		# branches on older first-parent commits, up to 1,200 refs in all
		local have want
		have=$(git -C "$victim" for-each-ref | wc -l)
		want=$((1200 - have))
		[ "$want" -gt 0 ] || want=0
		git -C "$victim" rev-list --first-parent "$NEW" | awk -v n="$want" 'NR % 7 == 3 && c < n { c++; printf "create refs/heads/topic/%04d %s\n", c, $1 }' |
			git -C "$victim" update-ref --stdin
		git -C "$victim" pack-refs --all
		git -C "$victim" commit-graph write --reachable
		# the client: one new commit on top of NEW that changes two files and adds one
		local commit
		commit=$(one_commit_client "$client")
		git -C "$client" update-ref refs/heads/main "$commit"
		echo "$stamp" >"$B/stamp"
	fi
	cp "$WORK/policy.conf" "$victim/git-gate.conf"
	write_wrapper "$victim/hooks/pre-receive"
	local nrefs ncommits i
	nrefs=$(git -C "$victim" for-each-ref | wc -l)
	ncommits=$(git -C "$victim" rev-list --count --all)
	rm -rf "$B/runs"
	# The judged records (git-gate.conf(5), WHICH COMMITS A CHECK JUDGES)
	# as the first hook run after installing git-gate seeds them; restored
	# before every push, so that each judges the new commit afresh instead
	# of finding it recorded by the push before.
	seed_records "$victim"
	log "small push: $SMALL_REPS pushes of one commit"
	for i in $(seq 1 "$SMALL_REPS"); do
		local order="restore gate"
		[ "$i" = 1 ] && order="sizes restore gate"
		if BENCH_OUT=$B/runs/$i BENCH_ORDER=$order BENCH_RUSAGE=1 \
			git -C "$client" push -q "$victim" main:main >"$B/push.$i.log" 2>&1; then
			log "the push was accepted: the wrapper hook did not run?"
			exit 1
		fi
		grep -q 'rejected on purpose' "$B/push.$i.log" || { cat "$B/push.$i.log" >&2; exit 1; }
	done
	local med min max kb grc
	med=$(for i in $(seq 1 "$SMALL_REPS"); do elapsed "$B/runs/$i/times" gate; done | median)
	min=$(for i in $(seq 1 "$SMALL_REPS"); do elapsed "$B/runs/$i/times" gate; done | sort -g | head -1)
	max=$(for i in $(seq 1 "$SMALL_REPS"); do elapsed "$B/runs/$i/times" gate; done | sort -g | tail -1)
	kb=$(for i in $(seq 1 "$SMALL_REPS"); do own_kb "$B/runs/$i/gate.out"; done | sort -n | tail -1)
	grc=$(rc_of "$B/runs/1/times" gate)
	out "### b. small push: one commit onto the full history"
	out ""
	out "Workload: 1 new commit ($(wc -l <"$B/runs/1/objects") new objects, $(awk '{ s += $2 } END { printf "%d", s }' "$B/runs/1/objects") bytes) onto a repository of $ncommits commits and $nrefs refs (packed, with a commit-graph), every enabled check applying to every ref (refs/**)."
	out ""
	out "- git-gate pre-receive (exit $grc): median $(fmt_ms "$med") over $SMALL_REPS pushes (min $(fmt_ms "$min"), max $(fmt_ms "$max")), peak RSS $(mib "$kb")"
	out "- target < 50 ms: $(holds "$med" "<" 0.050)"
	out "- the hook's phases in ms (run 1, GIT_GATE_TRACE): $(phases "$B/runs/1/gate.out")"
	out ""
}

out "## $(date -u '+%Y-%m-%d %H:%M UTC'): $SRC_NAME"
out ""
out "Machine: $MACHINE. Load average at the start: $START_LOAD."
out ""
[ "$ONLY" = b ] || workload_a
[ "$ONLY" = a ] || workload_b
out "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
if [ -n "${GATE_BENCH_RECORD:-}" ]; then
	{
		cat <<'EOF'
# git-gate benchmarks

The latest results of `make bench` (tests/bench/bench-scan.sh and
tests/bench/bench-scale.sh), which measure inside real `git push`es, each
against a contender timed in the same run:

- catch-up push (git.git v2.30.0 -> v2.40.0 onto a repository holding
  v2.30.0, every built-in content check enabled): the hook's wall time at
  most 1.0x the floor (`git rev-list --objects NEW --not --all | git
  cat-file --batch`, timed in the same pre-receive on the same quarantined
  objects; the built-in checks' issue asked 1.5x, the scale issue 1.0x,
  median of 5 interleaved runs), at least 20x faster than a shell hook
  doing four checks per commit with git plumbing
  (tests/bench/peer-pre-receive.sh), and faster than gitolite3's
  MAX_NEWBIN_SIZE, COUNT/NEWFILES and NAME VREFs on the same push;
- small push (one commit onto the full history with over 1,000 refs): the
  hook decides in under 50 ms (median), 31 ms recorded, not to regress;
- small push on 20,000 branches: under 20 ms (median of 9), and at most
  0.5x git's own `git rev-list NEW --not --all` in the same pre-receive;
- whole-history import of git.git: the hook's peak RSS at most 100 MiB;
- no TLS set-up in a hook process (tests/e2e/t0050-no-tls.sh).

Run them with `make bench` in a build directory, naming a clone of
git.git with GATE_BENCH_GIT_REPO (the other GATE_BENCH_* variables: see
the top of each script); GATE_BENCH_RECORD=FILE writes bench-scan.sh's
results as this file, GATE_BENCH_RECORD_SCALE=FILE appends
bench-scale.sh's.  The machine is named with each result: times depend
on it and on what else runs there (the load average is printed before
and after).  The commits that changed src/scan.c for speed give their
own before and after figures (git log -- src/scan.c).

Fuzzing campaigns (`make fuzz`) and their counts of executions are
recorded apart, in contrib/FUZZING.md.

EOF
		cat "$RESULTS"
	} >"$GATE_BENCH_RECORD"
	log "results written to $GATE_BENCH_RECORD"
fi
