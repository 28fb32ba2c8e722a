#!/bin/bash
# The visibility benchmark (issue 11): run by `make bench`, or by hand:
#
#   GATE_BUILDDIR=/path/to/build tests/bench/bench-status.sh
#
# Workloads, built by this script:
#  a. status: a repository whose audit log holds 100,000 decisions spread
#     over the last 60 days (generated records in the gate's own format:
#     two refs, three checks each, one in seven rejected, some bypassed,
#     command checks on trees that sometimes both pass and fail).
#     `git gate status` with no summary yet (the whole log is read) and
#     with the summary up to date.  Target: < 1 s.
#  b. refresh: one more decision appended, then the site refreshed as the
#     hook does after a decision (`git gate status --html`, which runs the
#     same gate_status_refresh_site code as the hooks: summary catch-up,
#     index.html, badge.svg, badge.json, metrics.prom).  Target: < 100 ms.
#  c. ledger: small pushes (one commit, one file) to a bare repository with
#     git-gate installed; post-receive's ledger step (reading the pending
#     entry, the notes commit, the compare-and-swap of refs/notes/gate) as
#     GIT_GATE_TRACE=1 reports it inside each push.  Besides that step the
#     ledger adds one small file that pre-receive writes.  Target: < 20 ms.
#  d. the same once the ledger holds 50,000 notes (a notes tree laid out as
#     git-gate writes it, one level of fanout, generated).
#
# Environment:
#   GATE_BENCH_DIR          where workloads are built (default
#                           $GATE_BUILDDIR/tests/bench/work); this script
#                           uses its subdirectory status/, rebuilt each run
#   GATE_BENCH_DECISIONS    decisions in the log (default 100000)
#   GATE_BENCH_STATUS_REPS  repetitions (default 7)
set -eu -o pipefail

: "${GATE_BUILDDIR:?set GATE_BUILDDIR to the build directory (or run make bench)}"
: "${GATE_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
GATE=$GATE_BUILDDIR/git-gate
BASE=${GATE_BENCH_DIR:-$GATE_BUILDDIR/tests/bench/work}/status
N=${GATE_BENCH_DECISIONS:-100000}
REPS=${GATE_BENCH_STATUS_REPS:-7}

[ -x "$GATE" ] || { echo "bench: $GATE is missing: build first (make)" >&2; exit 2; }
rm -rf "$BASE"
# shellcheck source=tests/bench/env.sh
. "$GATE_SRCDIR/tests/bench/env.sh"
bench_env "$BASE"
cd "$BASE"

now_ms() { date +%s%N | cut -c1-13; }

# time_ms CMD...: wall time of one run in ms
time_ms() {
	local t0 t1
	t0=$(now_ms)
	"$@" >/dev/null
	t1=$(now_ms)
	echo $((t1 - t0))
}

# cpu_ms CMD...: "WALL CPU" of one run of a program in ms (CPU = user + system:
# what the run costs whatever else the machine is doing)
cpu_ms() {
	local TIMEFORMAT='%R %U %S' t
	t=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
	echo "$t" | awk '{ printf "%.0f %.0f\n", $1 * 1000, ($2 + $3) * 1000 }'
}

# med2: the medians of the two columns on stdin, "WALL ms wall, CPU ms CPU"
med2() {
	local f
	f=$(cat)
	echo "$(printf '%s\n' "$f" | cut -d' ' -f1 | median) ms wall, $(printf '%s\n' "$f" | cut -d' ' -f2 | median) ms CPU"
}

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- a. the log ---------------------------------------------------------------
git init -q --bare big.git
git -C big.git config gc.auto 0
cat >big.git/git-gate.conf <<-EOF
checks = {
  msg = { type = "commit-message"; forbid = "^WIP"; };
  tests = { type = "command"; run = "true"; };
};
rules = ( { refs = [ "refs/heads/**" ]; checks = [ "msg", "tests" ]; } );
status_dir = "status";
EOF
mkdir -p big.git/git-gate
python3 - "$N" big.git/git-gate/audit.log <<-\EOF
import json, random, sys, time
n, path = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(11)
end = time.time()
start = end - 60 * 86400
with open(path, "w") as f:
    for i in range(n):
        t = start + (end - start) * i / n
        rejected = rnd.random() < 1 / 7
        bypass = not rejected and rnd.random() < 0.01
        tree = "%040x" % rnd.randrange(n // 3)
        ref = rnd.choice(["refs/heads/main", "refs/heads/main", "refs/heads/release",
                          "refs/heads/topic/%d" % rnd.randrange(300)])
        fail = rnd.choice(["msg", "tests"]) if rejected else None
        checks = [{"name": "msg", "type": "commit-message", "result": "fail" if fail == "msg" else "pass",
                   "seconds": 0.001, "findings": int(fail == "msg")},
                  {"name": "tests", "type": "command", "result": "fail" if fail == "tests" else "pass",
                   "seconds": rnd.uniform(5, 90), "findings": int(fail == "tests")},
                  {"name": "size", "type": "max-file-size", "result": "pass", "seconds": 0.002, "findings": 0}]
        rec = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z", "version": "0.1.0",
               "repository": "/srv/git/project.git", "user": "dev%d" % rnd.randrange(40),
               "user_source": "GIT_GATE_USER", "hook": "pre-receive", "policy": "/etc/git-gate.conf",
               "dry_run": False, "bypass": {"reason": "hotfix", "granted": True} if bypass else None,
               "verdict": "reject" if rejected else "accept", "accepted": not rejected,
               "exit_code": 1 if rejected else 0, "seconds": rnd.uniform(5, 120),
               "refs": [{"ref": ref, "old": "%040x" % rnd.getrandbits(160), "new": "%040x" % rnd.getrandbits(160),
                         "kind": "update", "tree": tree, "subject": "Change number %d of the project" % i,
                         "rule": "/etc/git-gate.conf:5", "mode": "enforce",
                         "verdict": "reject" if rejected else "accept", "exempt": False, "bypassed": bypass,
                         "protection": [], "checks": checks}]}
        f.write(json.dumps(rec, separators=(",", ":")) + "\n")
EOF
size=$(du -m big.git/git-gate/audit.log | cut -f1)
echo "a. status over an audit log of $N decisions ($size MiB), median of $REPS:"
cold=$(for i in $(seq "$REPS"); do
	rm -f big.git/git-gate/status-summary
	cpu_ms "$GATE" status --repo big.git
done | med2)
warm=$(for i in $(seq "$REPS"); do cpu_ms "$GATE" status --repo big.git; done | med2)
json=$(for i in $(seq "$REPS"); do cpu_ms "$GATE" status --repo big.git --json; done | med2)
echo "   no summary yet (reads the whole log): $cold"
echo "   summary up to date:                   $warm"
echo "   --json, summary up to date:           $json"

# --- b. refresh after one decision ------------------------------------------------
last=$(tail -n 1 big.git/git-gate/audit.log)
refresh=$(for i in $(seq "$REPS"); do
	printf '%s\n' "$last" >>big.git/git-gate/audit.log
	cpu_ms "$GATE" status --repo big.git --html big.git/status
done | med2)
echo "b. refresh of the site after one more decision: $refresh (median of $REPS)"
ls big.git/status

# --- c. the ledger's cost on a small push --------------------------------------------
git init -q --bare small.git
"$GATE" install small.git >/dev/null
printf 'rules = ( { refs = [ "refs/heads/**" ]; checks = [ "msg" ]; } );\nchecks = { msg = { type = "commit-message"; forbid = "^WIP"; }; };\n' >small.git/git-gate.conf
git init -q work
(cd work && git remote add origin ../small.git && echo 0 >f && git add f && git commit -qm "First" && git push -q origin main)
push_once() {
	(cd work && echo $RANDOM$RANDOM >>f && git commit -qam "Change" &&
	 GIT_GATE_TRACE=1 git push origin main 2>&1 |
	 sed -n 's/^remote: git-gate: trace: post-receive step ledger: \([0-9.]*\) ms (\([0-9.]*\) ms CPU).*/\1 \2/p')
}
times=$(for i in $(seq $((REPS * 2))); do push_once; done)
notes=$(git --git-dir=small.git notes --ref=gate list | wc -l)
[ "$(printf '%s\n' "$times" | grep -c .)" = $((REPS * 2)) ] || { echo "bench: no ledger trace in the pushes" >&2; exit 1; }
echo "c. the ledger step of post-receive in a small push: $(printf '%s\n' "$times" | med2) (median of $((REPS * 2)); $notes notes written)"

# --- d. the same with 50,000 notes in the ledger -------------------------------------------
blob=$(echo '{"ledger":1}' | git --git-dir=small.git hash-object -w --stdin)
python3 - "$blob" small.git <<-\EOF
import collections, hashlib, subprocess, sys
blob, gd = sys.argv[1], sys.argv[2]
groups = collections.defaultdict(list)
for i in range(50000):
    h = hashlib.sha1(b"note %d" % i).hexdigest()
    groups[h[:2]].append(h[2:])
def mktree(text):
    return subprocess.run(["git", "--git-dir=" + gd, "mktree"], input=text, capture_output=True, text=True,
                          check=True).stdout.strip()
old = subprocess.run(["git", "--git-dir=" + gd, "rev-parse", "refs/notes/gate"], capture_output=True, text=True,
                     check=True).stdout.strip()
root = "".join("040000 tree %s\t%s\n" % (mktree("".join("100644 blob %s\t%s\n" % (blob, n) for n in names)), d)
               for d, names in sorted(groups.items()))
c = subprocess.run(["git", "--git-dir=" + gd, "commit-tree", "-p", old, "-m", "50,000 generated notes", mktree(root)],
                   capture_output=True, text=True, check=True).stdout.strip()
subprocess.run(["git", "--git-dir=" + gd, "update-ref", "refs/notes/gate", c, old], check=True)
EOF
times=$(for i in $(seq $((REPS * 2))); do push_once; done)
notes=$(git --git-dir=small.git notes --ref=gate list | wc -l)
[ "$(printf '%s\n' "$times" | grep -c .)" = $((REPS * 2)) ] || { echo "bench: no ledger trace in the pushes" >&2; exit 1; }
echo "d. the same with $notes notes in the ledger: $(printf '%s\n' "$times" | med2) (median of $((REPS * 2)))"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
