# Shared by the tests/bench/bench-*.sh scripts that push git.git: the
# environment, a predictable git, the source history, the policy with
# every built-in content check, and small helpers.  Sourced, not run.
#
# Reads GATE_BUILDDIR, GATE_SRCDIR, GATE_BENCH_DIR, GATE_BENCH_GIT_REPO,
# GATE_BENCH_SYNTHETIC (see bench-scan.sh); sets HOOK, GATE, GEN, WORK,
# SRC, SRC_NAME, BASE_TAG, NEW_TAG, OBJ_NOTE, BASE, NEW, ZERO, ENABLED,
# TYPES, MISSING, MACHINE, START_LOAD, and writes $WORK/policy.conf (rule
# refs/**; bench_policy REFS writes another).

: "${GATE_BUILDDIR:?set GATE_BUILDDIR to the build directory (or run make bench)}"
: "${GATE_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
HOOK=$GATE_BUILDDIR/hooks/pre-receive
GATE=$GATE_BUILDDIR/git-gate
GEN=$GATE_SRCDIR/tests/bench/gen-history.sh
WORK=${GATE_BENCH_DIR:-$GATE_BUILDDIR/tests/bench/work}
SRC=${GATE_BENCH_GIT_REPO:-}

for f in "$HOOK" "$GATE"; do
	[ -x "$f" ] || { echo "bench: $f is missing: build first (make)" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time (GNU time) is needed for peak memory" >&2; exit 2; }

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
# shellcheck source=tests/bench/env.sh
. "$GATE_SRCDIR/tests/bench/env.sh"
# a predictable git: nothing from the user's configuration
bench_env "$WORK/home"

say() { printf '%s\n' "$*"; }

fmt_s() { awk -v x="$1" 'BEGIN { printf "%.2f s", x }'; }
fmt_ms() { awk -v x="$1" 'BEGIN { printf "%.1f ms", x * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
holds() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = (op == "<=") ? v <= t : (op == ">=") ? v >= t : (op == ">") ? v > t : v < t; print ok ? "holds" : "MISSED" }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# the hook's own peak RSS in KiB (GIT_GATE_TRACE's VmHWM, without its git children)
own_kb() { sed -n 's/.*trace: ms: .*peak RSS \([0-9]*\) KiB.*/\1/p' "$1" | tail -1; }
# its phases, from the same trace line
phases() { sed -n 's/.*trace: ms: \(.*\); peak RSS.*/\1/p' "$1" | tail -1; }
# elapsed seconds of WHAT from a times file ("what start end status" lines)
elapsed() { awk -v w="$2" '$1 == w { printf "%.6f\n", $3 - $2 }' "$1"; }
rc_of() { awk -v w="$2" '$1 == w { print $4 }' "$1"; }

# seed the judged records as the first hook run after installing git-gate
# does, and keep them aside for restore()
seed_records() { # GIT_DIR
	rm -rf "$1/git-gate/judged" "$1/git-gate/judged.bench"
	(cd "$1" && GIT_DIR=. "$HOOK" </dev/null >/dev/null 2>&1) || true
	[ -d "$1/git-gate/judged" ] && mv "$1/git-gate/judged" "$1/git-gate/judged.bench"
	return 0
}

# a bare client holding NEW plus one commit on top that changes two files
# and adds one; prints that commit
one_commit_client() { # CLIENT NAME
	local client=$1 idx=$1.index tree blob1 blob2 blob3 f1 f2
	git init -q --bare "$client"
	echo "$SRC/objects" >"$client/objects/info/alternates"
	f1=$(git -C "$SRC" ls-tree --name-only "$NEW" | { grep -E '^(README|Makefile)' || true; } | head -1)
	[ -n "$f1" ] || f1=$(git -C "$SRC" ls-tree "$NEW" | awk '$2 == "blob" { print $4; exit }')
	f2=$(git -C "$SRC" ls-tree -r --name-only "$NEW" | { grep -E '\.c$' || true; } | { grep -vxF "$f1" || true; } | head -1)
	GIT_INDEX_FILE=$idx git -C "$client" read-tree "$NEW"
	blob1=$( (git -C "$client" cat-file blob "$NEW:$f1"; echo "one more line for the benchmark") | git -C "$client" hash-object -w --stdin)
	blob2=$( (git -C "$client" cat-file blob "$NEW:$f2"; printf '/* a comment for the benchmark */\n') | git -C "$client" hash-object -w --stdin)
	blob3=$(printf 'int bench_new_file(void)\n{\n\treturn 42;\n}\n' | git -C "$client" hash-object -w --stdin)
	GIT_INDEX_FILE=$idx git -C "$client" update-index --cacheinfo "100644,$blob1,$f1" \
		--cacheinfo "100644,$blob2,$f2" --add --cacheinfo "100644,$blob3,bench/new-file.c"
	tree=$(GIT_INDEX_FILE=$idx git -C "$client" write-tree)
	rm -f "$idx"
	printf 'bench: one small change\n\nTwo files changed, one added.\n\nSigned-off-by: Bench Mark <bench@example.com>\n' |
		GIT_AUTHOR_DATE='1700000000 +0000' GIT_COMMITTER_DATE='1700000000 +0000' git -C "$client" commit-tree "$tree" -p "$NEW"
}

# ---- the source history -------------------------------------------------

if [ "${GATE_BENCH_SYNTHETIC:-0}" != 1 ] && [ -n "$SRC" ] && git -C "$SRC" rev-parse -q --verify 'refs/tags/v2.30.0^{commit}' >/dev/null 2>&1 &&
	git -C "$SRC" rev-parse -q --verify 'refs/tags/v2.40.0^{commit}' >/dev/null 2>&1; then
	SRC=$(cd "$SRC" && pwd)
	SRC_NAME="a public copy of git.git"
	BASE_TAG=v2.30.0
	NEW_TAG=v2.40.0
	OBJ_NOTE=" (the issue's 42,785 counts v2.40.0's tag object too; main gets the commit)"
else
	SRC=$WORK/synthetic.git
	SRC_NAME="synthetic history (tests/bench/gen-history.sh; GATE_BENCH_GIT_REPO names no clone of git.git)"
	BASE_TAG=synthetic-base
	NEW_TAG=synthetic-new
	OBJ_NOTE=""
	if ! git -C "$SRC" rev-parse -q --verify "refs/tags/$NEW_TAG" >/dev/null 2>&1; then
		log "generating a synthetic history in $SRC"
		"$GEN" "$SRC"
	fi
fi
BASE=$(git -C "$SRC" rev-parse "refs/tags/$BASE_TAG^{commit}")
NEW=$(git -C "$SRC" rev-parse "refs/tags/$NEW_TAG^{commit}")
ZERO=0000000000000000000000000000000000000000

# ---- the policy: every built-in content check type this build has ---------

# name, then the settings; the first form that validates is used, else the
# bare type (a check type still being written may not know every key yet)
CANDIDATES=(
	'msg|type = "commit-message"; subject_max = 72; body_max = 100;'
	'who|type = "identity"; author_email = "@"; committer_email = "@"; max_future = "10 min";'
	'size|type = "max-file-size"; limit = "5 MiB";'
	'paths|type = "forbidden-paths"; patterns = [ "*.pem", "**/id_rsa", ".env", "node_modules/**" ];'
	'port|type = "portable-paths";'
	'hyg|type = "text-hygiene"; whitespace = false;'
	'sec|type = "secrets";'
	'lin|type = "history"; linear = true; max_commits = 100000;'
)
# bench_policy REFS NAME=SETTINGS... -> a policy file on stdout, one rule for REFS
bench_policy() {
	local refs=$1 names="" e
	shift
	echo "checks = {"
	for e in "$@"; do
		printf '  %s = { %s };\n' "${e%%=*}" "${e#*=}"
		names="$names${names:+, }\"${e%%=*}\""
	done
	echo "};"
	printf 'rules = ( { refs = [ "%s" ]; checks = [ %s ]; } );\n' "$refs" "$names"
}
policy_of() { bench_policy 'refs/**' "$@"; }
ENABLED=()
TYPES=()
MISSING=()
for c in "${CANDIDATES[@]}"; do
	name=${c%%|*}
	settings=${c#*|}
	type=$(printf '%s' "$settings" | sed -n 's/^type = "\([^"]*\)".*/\1/p')
	ok=
	for s in "$settings" "type = \"$type\";"; do
		policy_of "$name=$s" >"$WORK/probe.conf"
		if "$GATE" validate "$WORK/probe.conf" >/dev/null 2>&1; then
			ENABLED+=("$name=$s")
			TYPES+=("$type")
			ok=1
			break
		fi
	done
	[ -n "$ok" ] || MISSING+=("$type")
done
policy_of "${ENABLED[@]}" >"$WORK/policy.conf"
"$GATE" validate "$WORK/policy.conf" >/dev/null
log "checks enabled: ${TYPES[*]}${MISSING[*]:+ (not in this build: ${MISSING[*]})}"

MACHINE="$(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo), $(uname -sr), $(git --version)"
START_LOAD=$(load)

# write_wrapper HOOKFILE: the pre-receive that times the contenders.  It
# runs each of $BENCH_ORDER (floor, revlist, gate, catfile, peer, restore,
# sizes; keep and back save and put back the judged records)
# on the stdin git gave it (saved to a file), appends "what start end
# status" lines to $BENCH_OUT/times, and exits with $BENCH_EXIT (default
# 1: rejected on purpose, so that the push can be repeated).  With
# BENCH_RUSAGE=1 the hook runs under /usr/bin/time -v ($BENCH_OUT/gate.rusage).
PEER=$GATE_SRCDIR/tests/bench/peer-pre-receive.sh
write_wrapper() {
	cat >"$1" <<EOF
#!/bin/bash
o=\$BENCH_OUT
mkdir -p "\$o"
cat >"\$o/stdin"
read -r old new ref <"\$o/stdin"
floor() {
	git rev-list --objects "\$new" --not --all | cut -d' ' -f1 |
		/usr/bin/time -f %M -o "\$o/floor.rss" git cat-file --batch >/dev/null
}
revlist() {
	git rev-list "\$new" --not --all >/dev/null
}
gate() {
	if [ "\${BENCH_RUSAGE:-0}" = 1 ]; then
		GIT_GATE_TRACE=1 /usr/bin/time -v -o "\$o/gate.rusage" "$HOOK" <"\$o/stdin" >"\$o/gate.out" 2>&1
	else
		GIT_GATE_TRACE=1 "$HOOK" <"\$o/stdin" >"\$o/gate.out" 2>&1
	fi
}
catfile() {
	# the hook with every blob read through git cat-file, not from the pushed pack
	GIT_GATE_TRACE=1 GIT_GATE_TEST_NO_PACK=1 /usr/bin/time -v -o "\$o/catfile.rusage" "$HOOK" <"\$o/stdin" >"\$o/catfile.out" 2>&1
}
keep() {
	# the judged records before the hook runs: a second run in the same push must not find its commits judged
	rm -rf "\$o/judged.keep"
	if [ -d git-gate/judged ]; then cp -a git-gate/judged "\$o/judged.keep"; fi
}
back() {
	if [ -d "\$o/judged.keep" ]; then rm -rf git-gate/judged && cp -a "\$o/judged.keep" git-gate/judged; fi
}
peer() {
	"$PEER" <"\${BENCH_PEER_STDIN:-\$o/stdin}" >"\$o/peer.out" 2>&1
}
restore() {
	# the judged records as seeded before the first push
	if [ -d git-gate/judged.bench ]; then
		rm -rf git-gate/judged && cp -a git-gate/judged.bench git-gate/judged
	fi
}
sizes() {
	git rev-list --objects "\$new" --not --all | cut -d' ' -f1 |
		git cat-file --batch-check='%(objecttype) %(objectsize)' >"\$o/objects"
	du -sk "\$GIT_QUARANTINE_PATH" | cut -f1 >"\$o/quarantine.kb"
}
for what in \$BENCH_ORDER; do
	t0=\$EPOCHREALTIME
	\$what
	rc=\$?
	t1=\$EPOCHREALTIME
	echo "\$what \$t0 \$t1 \$rc" >>"\$o/times"
done
[ "\${BENCH_EXIT:-1}" = 0 ] || echo "bench: rejected on purpose, so that the push can be repeated"
exit \${BENCH_EXIT:-1}
EOF
	chmod +x "$1"
}
