#!/bin/bash
# git-gate at scale (issue 13, "Performance at scale"): run by `make bench`,
# or by hand:
#
#   GATE_BUILDDIR=/path/to/build GATE_BENCH_GIT_REPO=/path/to/git.git \
#       tests/bench/bench-scale.sh
#
# Three workloads on a public copy of git.git, each timed inside real
# `git push`es whose hooks time the contenders in the same run:
#
#  c. small push on 20,000 branches: a repository holding git.git up to
#     v2.40.0 with all its tags and 20,000 branches along main's
#     first-parent history (packed refs, a commit-graph), one rule
#     refs/heads/** with every built-in content check; one-commit pushes
#     to main.  A wrapper pre-receive times, on the same stdin and
#     quarantine, git-gate's pre-receive and git's own
#     `git rev-list NEW --not --all`, then rejects the push so that it can
#     be repeated (the judged records are restored to their state before
#     the first push each time, or the second push would find the commit
#     already judged).  Targets: hook median < 20 ms, and <= 0.5x the
#     rev-list's median.
#
#  d. catch-up push through gitolite: a gitolite3 repository (Debian's
#     gitolite3, gitolite-shell behind a stand-in for sshd's forced
#     command, driven by git's ssh transport) holding git.git up to
#     v2.30.0 receives v2.40.0 on main (8,071 commits).  gitolite's rules
#     run three VREFs (MAX_NEWBIN_SIZE, COUNT/NEWFILES, NAME) in its update
#     hook; git-gate runs as the repository's pre-receive with every
#     built-in content check.  In the same push: the wrapper pre-receive
#     times the content floor (`git rev-list --objects NEW --not --all |
#     cut -d' ' -f1 | git cat-file --batch >/dev/null`) and git-gate,
#     alternating which runs first, and accepts; a wrapper update hook
#     times gitolite's own update hook and rejects.  Targets: gate <= 1.0x
#     the floor (median), gate faster than gitolite's update hook.
#
#  f. the same small push on 20,000 unmerged branches: each branch one
#     commit of its own on top of an older first-parent commit of main,
#     so that the judged records hold a tip for each.  Targets as for c.
#
#  e. whole-history import: git.git up to v2.40.0 pushed to an empty
#     repository with every built-in content check; the hook's peak RSS
#     (VmHWM, GIT_GATE_TRACE).  Target: <= 100 MiB.
#
# Environment (besides those of tests/bench/lib.sh):
#   GATE_BENCH_SCALE_REFS   branches for c (default 20000)
#   GATE_BENCH_SCALE_REPS   pushes for c (default 9)
#   GATE_BENCH_GL_REPS      pushes for d (default 5)
#   GATE_BENCH_IMPORT_REPS  pushes for e (default 1)
#   GATE_BENCH_SCALE_ONLY   c, d, e or f: run one workload
#   GATE_BENCH_RECORD_SCALE a file to append the results to as Markdown
set -eu -o pipefail

NREFS=${GATE_BENCH_SCALE_REFS:-20000}
C_REPS=${GATE_BENCH_SCALE_REPS:-9}
D_REPS=${GATE_BENCH_GL_REPS:-5}
E_REPS=${GATE_BENCH_IMPORT_REPS:-1}
ONLY=${GATE_BENCH_SCALE_ONLY:-}
. "$(dirname "$0")/lib.sh"

RESULTS=$WORK/results-scale.md
: >"$RESULTS"
out() { printf '%s\n' "$*" | tee -a "$RESULTS"; }


# ---- workload c: small push on 20,000 branches ---------------------------

# c (merged: each branch on an older first-parent commit of main) or f
# (unmerged: each branch one commit of its own on top of one)
small_push_many_branches() { # WORKLOAD merged|unmerged
	local C=$WORK/$1 kind=$2 victim client stamp commit
	victim=$C/victim.git
	client=$C/client.git
	stamp="$NEW $NREFS 1 $kind"
	if [ "$(cat "$C/stamp" 2>/dev/null)" != "$stamp" ]; then
		log "building workload $1 in $C (git.git up to $NEW_TAG, its tags, $NREFS $kind branches; takes minutes)"
		rm -rf "$C"
		mkdir -p "$C"
		git init -q --bare "$victim"
		git -C "$SRC" tag --merged "$NEW" | sed 's|.*|+refs/tags/&:refs/tags/&|' >"$C/tags"
		git -C "$victim" fetch -q --no-tags "$SRC" "+refs/tags/$NEW_TAG:refs/tags/$NEW_TAG" $(cat "$C/tags")
		git -C "$victim" update-ref refs/heads/main "$NEW"
		if [ "$kind" = merged ]; then
			# one branch on each older first-parent commit of main, newest first
			git -C "$victim" rev-list --first-parent "$NEW" |
				awk -v n="$NREFS" 'NR > 1 && c < n { c++; printf "create refs/heads/b/%05d %s\n", c, $1 }' |
				git -C "$victim" update-ref --stdin
		else
			# one commit of its own (main's tree there, its own message) on each
			git -C "$victim" rev-list --first-parent "$NEW" |
				awk -v n="$NREFS" 'NR > 1 && c < n { c++; printf "commit refs/heads/u/%05d\ncommitter Bench <bench@example.com> 1700000000 +0000\ndata 15\nunmerged %05d\nfrom %s\n\n", c, c, $1 }' |
				git -C "$victim" fast-import --quiet
		fi
		git -C "$victim" pack-refs --all
		git -C "$victim" commit-graph write --reachable
		commit=$(one_commit_client "$client")
		git -C "$client" update-ref refs/heads/main "$commit"
		echo "$stamp" >"$C/stamp"
	fi
	bench_policy 'refs/heads/**' "${ENABLED[@]}" >"$victim/git-gate.conf"
	write_wrapper "$victim/hooks/pre-receive"
	seed_records "$victim"
	local nrefs nbranches i order
	nrefs=$(git -C "$victim" for-each-ref | wc -l)
	nbranches=$(git -C "$victim" for-each-ref refs/heads | wc -l)
	rm -rf "$C/runs"
	log "small push on $nbranches branches: $C_REPS pushes of one commit"
	for i in $(seq 1 "$C_REPS"); do
		if [ $((i % 2)) = 1 ]; then order="restore gate revlist"; else order="restore revlist gate"; fi
		if BENCH_OUT=$C/runs/$i BENCH_ORDER=$order \
			git -C "$client" push -q "$victim" main:main >"$C/push.$i.log" 2>&1; then
			log "the push was accepted: the wrapper hook did not run?"
			exit 1
		fi
		grep -q 'rejected on purpose' "$C/push.$i.log" || { cat "$C/push.$i.log" >&2; exit 1; }
	done
	local gate rl gmin gmax grc judged
	gate=$(for i in $(seq 1 "$C_REPS"); do elapsed "$C/runs/$i/times" gate; done | median)
	gmin=$(for i in $(seq 1 "$C_REPS"); do elapsed "$C/runs/$i/times" gate; done | sort -g | head -1)
	gmax=$(for i in $(seq 1 "$C_REPS"); do elapsed "$C/runs/$i/times" gate; done | sort -g | tail -1)
	rl=$(for i in $(seq 1 "$C_REPS"); do elapsed "$C/runs/$i/times" revlist; done | median)
	grc=$(rc_of "$C/runs/1/times" gate)
	judged=$(sed -n 's/.*trace: \([0-9]*\) commits,.*/\1/p' "$C/runs/1/gate.out" | tail -1)
	if [ "$kind" = merged ]; then
		out "### c. small push on $nbranches branches"
		out ""
		out "Workload: one new commit (two files changed, one added) pushed to main of a repository holding $NEW_TAG's history with $nrefs refs ($nbranches branches along main's first-parent history, its tags; packed refs, a commit-graph); one rule refs/heads/** with every enabled check; the judged records restored to their seeded state before each push. $C_REPS pushes, medians; the load average: $(load)."
	else
		out "### f. small push on $nbranches unmerged branches"
		out ""
		out "Workload: as c, but each of the $nbranches branches holds one commit of its own (on an older first-parent commit of main): a judged record holds $(grep -c '^tip ' "$(ls "$victim"/git-gate/judged.bench/hyg.* | head -1)") tips. $C_REPS pushes, medians; the load average: $(load)."
	fi
	out ""
	out "| | median | min | max |"
	out "|---|---|---|---|"
	out "| git-gate pre-receive (exit $grc; judged $judged commit(s)) | $(fmt_ms "$gate") | $(fmt_ms "$gmin") | $(fmt_ms "$gmax") |"
	out "| \`git rev-list NEW --not --all\` in the same pre-receive | $(fmt_ms "$rl") | $(for i in $(seq 1 "$C_REPS"); do elapsed "$C/runs/$i/times" revlist; done | sort -g | head -1 | xargs -I{} awk -v x={} 'BEGIN { printf "%.1f ms", x * 1000 }') | $(for i in $(seq 1 "$C_REPS"); do elapsed "$C/runs/$i/times" revlist; done | sort -g | tail -1 | xargs -I{} awk -v x={} 'BEGIN { printf "%.1f ms", x * 1000 }') |"
	out ""
	out "- hook median < 20 ms: $(holds "$gate" "<" 0.020)"
	out "- gate/rev-list = $(ratio "$gate" "$rl") (target <= 0.5: $(holds "$(ratio "$gate" "$rl")" "<=" 0.5))"
	out "- the hook's phases in ms (run 1, GIT_GATE_TRACE): $(phases "$C/runs/1/gate.out")"
	out ""
}

# ---- workload d: catch-up push through gitolite ----------------------------

workload_d() {
	local D=$WORK/d GLHOME glrepo client stamp
	GLHOME=$D/gitolite-home
	glrepo=$GLHOME/repositories/bench.git
	client=$D/client.git
	stamp="$BASE $NEW 2"
	if ! command -v gitolite >/dev/null 2>&1 || [ ! -x /usr/share/gitolite3/gitolite-shell ]; then
		out "### d. catch-up push through gitolite: not measured (Debian's gitolite3 is not installed)"
		out ""
		return 0
	fi
	# sshd with command="gitolite-shell USER" in authorized_keys, minus the network
	mkdir -p "$D"
	cat >"$D/fake-ssh" <<-EOF
	#!/bin/sh
	for last; do :; done
	exec env -u GIT_GATE_USER HOME="$GLHOME" SSH_CONNECTION="127.0.0.1 1 127.0.0.1 22" \\
		SSH_ORIGINAL_COMMAND="\$last" /usr/share/gitolite3/gitolite-shell bench
	EOF
	chmod +x "$D/fake-ssh"
	if [ "$(cat "$D/stamp" 2>/dev/null)" != "$stamp" ]; then
		log "building workload d in $D (gitolite, git.git up to $BASE_TAG; takes a minute)"
		rm -rf "$GLHOME" "$client"
		mkdir -p "$GLHOME"
		rm -f "$D/admin" "$D/admin.pub"
		ssh-keygen -q -t ed25519 -N "" -C admin -f "$D/admin" </dev/null
		cp "$D/admin.pub" "$GLHOME/"
		(cd "$GLHOME" && HOME="$GLHOME" gitolite setup -pk admin.pub >/dev/null)
		# three VREFs on every push by bench; limits no push of git.git reaches
		cat >"$GLHOME/.gitolite/conf/gitolite.conf" <<-\EOF
		repo gitolite-admin
		    RW+     =   admin
		repo bench
		    RW+                                     =   bench
		    -       VREF/MAX_NEWBIN_SIZE/50000000   =   @all
		    -       VREF/COUNT/100000/NEWFILES      =   @all
		    -       VREF/NAME/secrets/              =   @all
		EOF
		(cd "$GLHOME" && HOME="$GLHOME" gitolite compile && HOME="$GLHOME" gitolite trigger POST_COMPILE) >/dev/null
		git -C "$glrepo" fetch -q --no-tags "$SRC" "+refs/tags/$BASE_TAG:refs/bench/base"
		git -C "$glrepo" update-ref refs/heads/main "$BASE"
		git -C "$glrepo" update-ref -d refs/bench/base
		git -C "$glrepo" commit-graph write --reachable
		git init -q --bare "$client"
		echo "$SRC/objects" >"$client/objects/info/alternates"
		git -C "$client" update-ref refs/heads/main "$NEW"
		echo "$stamp" >"$D/stamp"
	fi
	cp "$WORK/policy.conf" "$glrepo/git-gate.conf"
	write_wrapper "$glrepo/hooks/pre-receive"
	# gitolite's update hook, timed, then the push rejected: gitolite
	# insists that hooks/update be its link to hooks/common/update, so the
	# common hook itself becomes the wrapper around gitolite's own
	local common=$GLHOME/.gitolite/hooks/common
	[ -e "$common/update.gitolite" ] || mv "$common/update" "$common/update.gitolite"
	cat >"$common/update" <<-EOF
	#!/bin/bash
	t0=\$EPOCHREALTIME
	"$common/update.gitolite" "\$@" >"\$BENCH_OUT/gitolite.out" 2>&1
	rc=\$?
	echo "gitolite \$t0 \$EPOCHREALTIME \$rc" >>"\$BENCH_OUT/times"
	echo "bench: rejected on purpose, so that the push can be repeated"
	exit 1
	EOF
	chmod +x "$common/update"
	local ncommits i order
	ncommits=$(git -C "$client" rev-list --count "$NEW" --not "$BASE")
	rm -rf "$D/runs"
	for i in $(seq 1 "$D_REPS"); do
		if [ $((i % 2)) = 1 ]; then order="floor gate"; else order="gate floor"; fi
		log "catch-up push through gitolite $i/$D_REPS: $order, then gitolite's update hook"
		if BENCH_OUT=$D/runs/$i BENCH_ORDER=$order BENCH_EXIT=0 GIT_SSH_COMMAND=$D/fake-ssh \
			git -C "$client" push -q git@localhost:bench main:main >"$D/push.$i.log" 2>&1; then
			log "the push was accepted: the wrapper update hook did not run?"
			exit 1
		fi
		grep -q 'rejected on purpose' "$D/push.$i.log" || { cat "$D/push.$i.log" >&2; exit 1; }
		[ "$(rc_of "$D/runs/$i/times" gitolite)" = 0 ] || { cat "$D/runs/$i/gitolite.out" >&2; exit 1; }
	done
	local floor gate gl grc own
	floor=$(for i in $(seq 1 "$D_REPS"); do elapsed "$D/runs/$i/times" floor; done | median)
	gate=$(for i in $(seq 1 "$D_REPS"); do elapsed "$D/runs/$i/times" gate; done | median)
	gl=$(for i in $(seq 1 "$D_REPS"); do elapsed "$D/runs/$i/times" gitolite; done | median)
	own=$(for i in $(seq 1 "$D_REPS"); do own_kb "$D/runs/$i/gate.out"; done | sort -n | tail -1)
	grc=$(rc_of "$D/runs/1/times" gate)
	out "### d. catch-up push through gitolite: $BASE_TAG -> $NEW_TAG on main"
	out ""
	out "Workload: $ncommits new commits pushed over git's ssh transport to gitolite-shell (Debian's gitolite3, its forced command played by a wrapper) into a repository holding $BASE_TAG; gitolite's rules run VREF/MAX_NEWBIN_SIZE, VREF/COUNT/NEWFILES and VREF/NAME in its update hook; git-gate is the repository's pre-receive with checks ${TYPES[*]}. All three timed in the same push; floor and gate alternate which runs first; $D_REPS pushes, medians; the load average: $(load)."
	out ""
	out "| | median | runs |"
	out "|---|---|---|"
	out "| floor: \`git rev-list --objects NEW --not --all \\| cut -d' ' -f1 \\| git cat-file --batch >/dev/null\` | $(fmt_s "$floor") | $(for i in $(seq 1 "$D_REPS"); do elapsed "$D/runs/$i/times" floor; done | awk '{ printf "%s%.2f", (NR > 1 ? ", " : ""), $1 }') |"
	out "| git-gate pre-receive (exit $grc), 8 checks | $(fmt_s "$gate") | $(for i in $(seq 1 "$D_REPS"); do elapsed "$D/runs/$i/times" gate; done | awk '{ printf "%s%.2f", (NR > 1 ? ", " : ""), $1 }') |"
	out "| gitolite's update hook, 3 VREFs | $(fmt_s "$gl") | $(for i in $(seq 1 "$D_REPS"); do elapsed "$D/runs/$i/times" gitolite; done | awk '{ printf "%s%.2f", (NR > 1 ? ", " : ""), $1 }') |"
	out ""
	out "- gate/floor = $(ratio "$gate" "$floor") (target <= 1.0: $(holds "$(ratio "$gate" "$floor")" "<=" 1.0))"
	out "- gitolite/gate = $(ratio "$gl" "$gate") (target: git-gate faster, > 1: $(holds "$(ratio "$gl" "$gate")" ">" 1))"
	out "- the hook's peak RSS $(mib "$own"); its phases in ms (run 1, GIT_GATE_TRACE): $(phases "$D/runs/1/gate.out")"
	out ""
}

# ---- workload e: whole-history import ---------------------------------------

workload_e() {
	local E=$WORK/e victim client i
	victim=$E/victim.git
	client=$E/client.git
	if [ ! -d "$client" ]; then
		mkdir -p "$E"
		git init -q --bare "$client"
		echo "$SRC/objects" >"$client/objects/info/alternates"
		git -C "$client" update-ref refs/heads/main "$NEW"
	fi
	rm -rf "$victim" "$E/runs"
	git init -q --bare "$victim"
	cp "$WORK/policy.conf" "$victim/git-gate.conf"
	write_wrapper "$victim/hooks/pre-receive"
	local ncommits
	ncommits=$(git -C "$client" rev-list --count "$NEW")
	for i in $(seq 1 "$E_REPS"); do
		log "whole-history import $i/$E_REPS"
		if BENCH_OUT=$E/runs/$i BENCH_ORDER=gate \
			git -C "$client" push -q "$victim" main:main >"$E/push.$i.log" 2>&1; then
			log "the push was accepted: the wrapper hook did not run?"
			exit 1
		fi
		grep -q 'rejected on purpose' "$E/push.$i.log" || { cat "$E/push.$i.log" >&2; exit 1; }
	done
	local gate own blobs
	gate=$(for i in $(seq 1 "$E_REPS"); do elapsed "$E/runs/$i/times" gate; done | median)
	own=$(for i in $(seq 1 "$E_REPS"); do own_kb "$E/runs/$i/gate.out"; done | sort -n | tail -1)
	blobs=$(sed -n 's/.*trace: [0-9]* commits, \([0-9]*\) blobs read.*/\1/p' "$E/runs/1/gate.out" | tail -1)
	out "### e. whole-history import: $NEW_TAG into an empty repository"
	out ""
	out "Workload: $ncommits commits ($blobs blobs read) pushed to main of an empty repository, checks ${TYPES[*]}; $E_REPS push(es); the load average: $(load)."
	out ""
	out "- the hook's peak RSS (VmHWM) $(mib "$own") (target <= 100 MiB: $(holds "$(awk -v k="$own" 'BEGIN { print k / 1024 }')" "<=" 100)); its wall time $(fmt_s "$gate")"
	out "- its phases in ms (GIT_GATE_TRACE): $(phases "$E/runs/1/gate.out")"
	out ""
}

out "## $(date -u '+%Y-%m-%d %H:%M UTC'): at scale (tests/bench/bench-scale.sh), $SRC_NAME"
out ""
out "Machine: $MACHINE. Load average at the start: $START_LOAD."
out ""
[ -n "$ONLY" ] && [ "$ONLY" != c ] || small_push_many_branches c merged
[ -n "$ONLY" ] && [ "$ONLY" != f ] || small_push_many_branches f unmerged
[ -n "$ONLY" ] && [ "$ONLY" != d ] || workload_d
[ -n "$ONLY" ] && [ "$ONLY" != e ] || workload_e
out "Load average at the end: $(load)."
if [ -n "${GATE_BENCH_RECORD_SCALE:-}" ]; then
	cat "$RESULTS" >>"$GATE_BENCH_RECORD_SCALE"
	log "results appended to $GATE_BENCH_RECORD_SCALE"
fi
