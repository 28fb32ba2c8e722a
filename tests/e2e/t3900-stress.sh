#!/bin/sh
# Stress: 20 pushes at once, ten to branches of their own (two of them
# rejected) and ten racing to create one shared branch, under a policy with
# a command check and the audit log on.  Each push's exit status must
# match its verdict, every ref must hold what the records say, exactly one
# "updated" record for the shared branch, and nothing may be left behind:
# no workspace, temporary file, lock or quarantine directory, no process.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

LOG=victim.git/git-gate/audit.log
N=10

test_expect_success 'setup: a victim with a command check, ten own and ten shared commits' '
	make_victim victim.git &&
	make_work work victim.git &&
	mkdir ws &&
	cat >victim.git/git-gate.conf <<-EOF &&
	workspace = "$TRASH/ws";
	checks = {
	  build = { type = "command"; run = "test -f base.txt && sleep 1"; timeout = 60; };
	  msg = { type = "commit-message"; forbid = "^WIP"; };
	};
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "msg", "build" ]; } );
	EOF
	(cd work &&
	 for i in $(seq 1 $N); do
		git checkout -q -b own$i main || exit 1
		case $i in 3 | 7) subject="WIP own $i" ;; *) subject="Add own $i" ;; esac
		commit_file own$i.txt $i "$subject" || exit 1
		git checkout -q -b shared$i main || exit 1
		commit_file shared$i.txt $i "Add shared $i" || exit 1
	 done &&
	 git checkout -q main)
'

test_expect_success '20 concurrent pushes: verdicts, refs, audit records and no leftovers' '
	url="$TRASH/victim.git" &&
	start=$(date +%s) &&
	for i in $(seq 1 $N); do
		(cd work && GIT_GATE_USER=own-$i git push "$url" own$i:refs/heads/own$i >../own$i.out 2>&1
		 echo $? >../own$i.rc) &
		(cd work && GIT_GATE_USER=shared-$i git push "$url" shared$i:refs/heads/shared >../shared$i.out 2>&1
		 echo $? >../shared$i.rc) &
	done &&
	wait &&
	say "20 pushes took $(($(date +%s) - start)) s" &&

	# verdicts: own3 and own7 are rejected by the gate, the others land
	for i in $(seq 1 $N); do
		case $i in
		3 | 7)
			test "$(cat own$i.rc)" != 0 || exit 1
			test_grep "remote: git-gate: refs/heads/own$i rejected" own$i.out || exit 1
			test -z "$(ref_of victim.git refs/heads/own$i)" || exit 1 ;;
		*)
			test "$(cat own$i.rc)" = 0 || { cat own$i.out; exit 1; }
			test "$(ref_of victim.git refs/heads/own$i)" = "$(git -C work rev-parse own$i)" || exit 1 ;;
		esac
	done &&
	# the shared branch: exactly one push won, and the branch holds its commit
	winners=$(for i in $(seq 1 $N); do if test "$(cat shared$i.rc)" = 0; then echo $i; fi; done) &&
	test $(echo "$winners" | wc -w) = 1 &&
	test "$(ref_of victim.git refs/heads/shared)" = "$(git -C work rev-parse shared$winners)" &&
	for i in $(seq 1 $N); do
		test $i = $winners && continue
		test_grep "shared (.*)\|rejected\|failed" shared$i.out || exit 1
	done &&

	# the records match what happened
	git -C work rev-parse --all >/dev/null &&
	for r in $(git --git-dir=victim.git for-each-ref --format="%(refname)" refs/heads); do
		echo "$r $(git --git-dir=victim.git rev-parse $r)"
	done >refs.now &&
	python3 - "$LOG" refs.now "$winners" $N <<-\PY
	import json, sys
	log, now, winner, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
	recs = [json.loads(l) for l in open(log, encoding="utf-8")]
	final = dict(l.split() for l in open(now))
	dec = [r for r in recs if r["event"] == "decision"]
	upd = [r for r in recs if r["event"] == "updated"]
	assert all(r["hook"] == "pre-receive" for r in dec) and all(r["hook"] == "post-receive" for r in upd)
	def refs(rs, name):
	    return [(r, x) for r in rs for x in r["refs"] if x["ref"] == name]
	# every own push has one decision; accepted ones one update, rejected none
	for i in range(1, n + 1):
	    name = "refs/heads/own%d" % i
	    d, u = refs(dec, name), refs(upd, name)
	    assert len(d) == 1, (name, d)
	    if i in (3, 7):
	        assert d[0][0]["decision"] == "rejected" and not d[0][0]["accepted"] and not u, name
	        assert name not in final
	    else:
	        assert d[0][0]["decision"] == "accepted" and d[0][0]["user"] == "own-%d" % i, name
	        assert len(u) == 1 and u[0][1]["new"] == final[name] and u[0][0]["user"] == "own-%d" % i, (name, u)
	# the shared branch: any number of accepted decisions, ONE update, by the winner
	d, u = refs(dec, "refs/heads/shared"), refs(upd, "refs/heads/shared")
	assert len(d) >= 1 and all(r["decision"] == "accepted" for r, _ in d), d
	assert len(u) == 1, u
	rec, x = u[0]
	assert rec["user"] == "shared-" + winner and x["new"] == final["refs/heads/shared"], u
	assert x["old"] == "0" * 40 and x["kind"] == "create"
	# the update belongs to an earlier accepted decision about the same update by the same user
	assert [r for r, y in d if r["user"] == rec["user"] and y["old"] == x["old"] and y["new"] == x["new"]
	        and r["time"] <= rec["time"]], "no decision for the update"
	# and nothing moved without a record
	moved = {x["ref"] for r in upd for x in r["refs"]}
	assert moved >= set(final) - {"refs/heads/main"}, (moved, final)
	PY
'

test_expect_success 'nothing is left behind: workspaces, temporary files, locks, quarantine, processes' '
	ws_empty &&
	test -z "$(find victim.git -name "*.lock")" &&
	test -z "$(find victim.git/objects -maxdepth 1 -name "tmp_objdir-*")" &&
	test -z "$(find victim.git/objects -name "tmp_*" -o -name "incoming-*")" &&
	test -z "$(find victim.git/git-gate -name "*.tmp" -o -name "*.tmp.*" -o -name "tmp*" -o -name ".tmp*")" &&
	# no hook, command or remover still running for this test (bounded wait)
	i=0 &&
	while ps -eo pid=,args= | grep -v -e " grep " -e " ps " | grep -F "$TRASH" | grep -v -e "^ *$$ " >procs; do
		i=$((i + 1))
		test $i -gt 100 && { echo "still running:" >&2; cat procs >&2; exit 1; }
		sleep 0.1
	done &&
	# and no zombie child of this shell
	test -z "$(ps -o stat= --ppid $$ | grep Z)"
'

test_done
