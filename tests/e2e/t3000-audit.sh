#!/bin/sh
# The audit log: one JSON line per decision and one per push that moved
# refs (post-receive), safe under concurrent pushes, its location, and
# what happens when it cannot be written.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

LOG=victim.git/git-gate/audit.log

# audit_q LOG EXPR: evaluate EXPR (Python) with r = the decision records,
# last = the last one, u = the "updated" records (post-receive), a = every
# record (fields also as attributes: last.refs[0].ref); a
# tuple prints space-separated, a list or set one element a line (sorted
# for a set)
audit_q() {
	python3 - "$1" "$2" <<-\EOF
	import json, sys
	class A(dict):
	    def __getattr__(self, k):
	        return self[k]
	def wrap(x):
	    if isinstance(x, dict):
	        return A((k, wrap(v)) for k, v in x.items())
	    if isinstance(x, list):
	        return [wrap(v) for v in x]
	    return x
	def fmt(x):
	    return " ".join(map(str, x)) if isinstance(x, tuple) else str(x)
	a = [wrap(json.loads(l)) for l in open(sys.argv[1], encoding="utf-8")]
	r = [x for x in a if x["event"] == "decision"]
	u = [x for x in a if x["event"] == "updated"]
	last = r[-1] if r else None
	v = eval(sys.argv[2])
	if isinstance(v, set):
	    v = sorted(v)
	if isinstance(v, list):
	    print("\n".join(fmt(e) for e in v))
	else:
	    print(fmt(v))
	EOF
}

# every line of LOG is one JSON object
valid_jsonl() {
	python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' <"$1" &&
	python3 -c 'import json,sys; assert all(isinstance(json.loads(l), dict) for l in sys.stdin)' <"$1"
}

test_expect_success 'setup' '
	make_victim victim.git &&
	cat >victim.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/**" ]; allow_force_push = false; checks = [ "msg" ]; } );
	checks = { msg = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
	make_work work victim.git &&
	test -f $LOG
'

test_expect_success 'an accepted push is recorded with every field' '
	(cd work && commit_file a a "Add a" && git push -q origin main) &&
	valid_jsonl $LOG &&
	test "$(audit_q $LOG "len(r), len(u), len(a)")" = "2 2 4" &&
	test "$(audit_q $LOG "last.verdict, last.accepted, last.exit_code")" = "accept True 0" &&
	test "$(audit_q $LOG "last.event, last.decision")" = "decision accepted" &&
	test "$(audit_q $LOG "last.user, last.user_source, last.hook")" = "tester GIT_GATE_USER pre-receive" &&
	test "$(audit_q $LOG "last.repository")" = "$(cd victim.git && pwd -P)" &&
	test "$(audit_q $LOG "last.refs[0].new")" = "$(git -C work rev-parse HEAD)" &&
	test "$(audit_q $LOG "last.refs[0].old")" = "$(git -C work rev-parse HEAD~1)" &&
	test "$(audit_q $LOG "last.refs[0].ref, last.refs[0].kind, last.refs[0].verdict")" = "refs/heads/main update accept" &&
	test "$(audit_q $LOG "[(c.name, c.type, c.result, c.findings) for c in last.refs[0].checks]")" = "msg commit-message pass 0" &&
	audit_q $LOG "last.time" | grep -E "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$" &&
	test "$(audit_q $LOG "last.version")" = "$(git gate --version | sed "s/^git-gate //")" &&
	test "$(audit_q $LOG "last.bypass, last.dry_run")" = "None False"
'

test_expect_success 'post-receive records the refs that moved, after the decision' '
	test "$(audit_q $LOG "a[-1].event, a[-1].hook, a[-1].user, a[-1].user_source")" = \
		"updated post-receive tester GIT_GATE_USER" &&
	test "$(audit_q $LOG "a[-1].refs[0].ref, a[-1].refs[0].kind")" = "refs/heads/main update" &&
	test "$(audit_q $LOG "a[-1].refs[0].old, a[-1].refs[0].new")" = \
		"$(git -C work rev-parse HEAD~1) $(git -C work rev-parse HEAD)" &&
	test "$(audit_q $LOG "a[-1].repository == last.repository, a[-1].time >= last.time")" = "True True" &&
	test "$(audit_q $LOG "a[-2].event")" = decision
'

test_expect_success 'a push that changes nothing or is rejected has no outcome record' '
	n=$(audit_q $LOG "len(u)") &&
	(cd work && git push -q origin main) &&
	test "$(audit_q $LOG "len(u)")" = "$n"
'

test_expect_success 'a delete and a create in one push are one outcome record' '
	(cd work && git push -q origin main:refs/heads/tmp) &&
	(cd work && git push -q origin :refs/heads/tmp main:refs/heads/tmp2) &&
	audit_q $LOG "sorted((x.ref, x.kind) for x in u[-1].refs)" >got &&
	printf "refs/heads/tmp delete\nrefs/heads/tmp2 create\n" >want &&
	test_cmp want got &&
	(cd work && git push -q origin :refs/heads/tmp2)
'

test_expect_success 'update-hook mode: a decision per ref, one outcome with only the refs that moved' '
	git init -q --bare upd.git &&
	git gate install --hook update upd.git >/dev/null &&
	cp victim.git/git-gate.conf upd.git/git-gate.conf &&
	(cd work && git push -q ../upd.git main &&
	 git checkout -q -b good main && commit_file g1 g1 "Add g1" &&
	 git checkout -q -b bad main && commit_file b1 b1 "WIP b1" &&
	 git checkout -q main &&
	 test_must_fail git push ../upd.git good bad 2>../err) &&
	U=upd.git/git-gate/audit.log &&
	test "$(ref_of upd.git good)" = "$(git -C work rev-parse good)" &&
	test -z "$(ref_of upd.git bad)" &&
	audit_q $U "sorted((x.hook, x.refs[0].ref, x.decision) for x in r[-2:])" >got &&
	printf "update refs/heads/bad rejected\nupdate refs/heads/good accepted\n" >want &&
	test_cmp want got &&
	test "$(audit_q $U "a[-1].event, a[-1].hook, len(a[-1].refs), a[-1].refs[0].ref")" = \
		"updated post-receive 1 refs/heads/good"
'

test_expect_success 'a rejected push is recorded with the failing check' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file b b "WIP b" && test_must_fail git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$before" &&
	valid_jsonl $LOG &&
	test "$(audit_q $LOG "last.verdict, last.accepted, last.exit_code")" = "reject False 1" &&
	test "$(audit_q $LOG "last.decision, a[-1].event")" = "rejected decision" &&
	test "$(audit_q $LOG "[(c.name, c.result, c.findings) for c in last.refs[0].checks]")" = "msg fail 1" &&
	(cd work && git reset -q --hard HEAD~1)
'

test_expect_success 'hostile bytes in the user and the bypass reason stay valid, escaped JSON' '
	(cd work && commit_file c c "Add c" &&
	 GIT_GATE_USER="$(printf "ev\033[31mil\nname\377")" \
		test_must_fail git push -o "gate.bypass=$(printf "x\033]0;pwn\007\"q")" origin main 2>../err) &&
	test_grep "may not bypass the checks" err &&
	valid_jsonl $LOG &&
	tail -n 1 $LOG >last &&
	test_grep "\"user\":\"ev\\\\u001b\[31mil\\\\nname\\\\ufffd\"" last &&
	test_grep "\"reason\":\"x\\\\u001b\]0;pwn\\\\u0007\\\\\"q\"" last &&
	! grep -q "$(printf "\033")" $LOG
'

test_expect_success '20 concurrent pushes give 20 whole, valid records' '
	before=$(wc -l <$LOG) &&
	(cd work &&
	 for i in $(seq 1 20); do
		git checkout -q -b b$i main && commit_file f$i $i "Add f$i" || exit 1
	 done &&
	 git checkout -q main &&
	 for i in $(seq 1 20); do
		git push -q origin b$i 2>../push-$i.err &
	 done &&
	 wait) &&
	for i in $(seq 1 20); do
		test "$(ref_of victim.git refs/heads/b$i)" = "$(git -C work rev-parse b$i)" || exit 1
	done &&
	valid_jsonl $LOG &&
	test $(wc -l <$LOG) -eq $((before + 40)) &&
	audit_q $LOG "sorted(x.refs[0].ref for x in r[-20:])" >got &&
	for i in $(seq 1 20); do echo refs/heads/b$i; done | sort >want &&
	test_cmp want got &&
	audit_q $LOG "sorted(x.refs[0].ref for x in u[-20:])" >got &&
	test_cmp want got &&
	test "$(audit_q $LOG "set((x.verdict, x.exit_code) for x in r[-20:])")" = "accept 0"
'

test_expect_success 'dry runs and pushes with an invalid policy are recorded too' '
	(cd work && commit_file d d "Add d" && test_must_fail git push -o gate.dry-run origin main 2>../err) &&
	test "$(audit_q $LOG "last.dry_run, last.verdict, last.accepted, last.exit_code")" = "True accept False 1" &&
	cp victim.git/git-gate.conf good.conf &&
	echo "colour = 1;" >>victim.git/git-gate.conf &&
	(cd work && test_must_fail git push origin main 2>../err) &&
	cp good.conf victim.git/git-gate.conf &&
	test "$(audit_q $LOG "last.verdict, last.exit_code, last.policy")" = "error 2 None" &&
	audit_q $LOG "last.error" | grep "unknown key .colour."
'

test_expect_success 'audit_log names another file; a relative path is taken from GIT_DIR' '
	cat good.conf >victim.git/git-gate.conf &&
	echo "audit_log = \"$TRASH/elsewhere.log\";" >>victim.git/git-gate.conf &&
	(cd work && git push -q origin main) &&
	valid_jsonl elsewhere.log &&
	test "$(audit_q elsewhere.log "len(r), len(u)")" = "1 1" &&
	cat good.conf >victim.git/git-gate.conf &&
	echo "audit_log = \"logs/gate.jsonl\";" >>victim.git/git-gate.conf &&
	(cd work && commit_file e e "Add e" && git push -q origin main) &&
	test "$(audit_q victim.git/logs/gate.jsonl "r[0].refs[0].new")" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'audit_log = "off" writes nothing' '
	rm -rf victim.git/git-gate &&
	cat good.conf >victim.git/git-gate.conf &&
	echo "audit_log = \"off\";" >>victim.git/git-gate.conf &&
	(cd work && commit_file f f "Add f" && git push origin main 2>../err) &&
	test_grep ! "remote:.*audit log" err &&
	test ! -e $LOG
'

test_expect_success 'a log that cannot be written is reported to the admin, and the push still lands' '
	cat good.conf >victim.git/git-gate.conf &&
	echo "audit_log = \"$TRASH/no/such/dir/audit.log\";" >>victim.git/git-gate.conf &&
	(cd work && commit_file g g "Add g" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	test_grep "remote: git-gate: warning for the server.s admin: this push was not recorded in the audit log: cannot open the audit log .*no/such/dir/audit.log" err &&
	test_grep "remote: git-gate: warning for the server.s admin: after the push, audit failed: cannot open the audit log .*no/such/dir/audit.log" err
'

test_expect_success 'with audit_required = true an unwritable log rejects the push' '
	echo "audit_required = true;" >>victim.git/git-gate.conf &&
	before=$(ref_of victim.git main) &&
	(cd work && commit_file h h "Add h" && test_must_fail git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$before" &&
	test_grep "not recorded in the audit log" err &&
	test_grep "remote: git-gate: push rejected: the policy requires the audit log (audit_required = true)" err &&
	mkdir -p no/such/dir &&
	(cd work && git push -q origin main) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	valid_jsonl no/such/dir/audit.log
'

test_expect_success 'git gate check is a trial and writes no record' '
	cat good.conf >victim.git/git-gate.conf &&
	rm -rf victim.git/git-gate &&
	git gate check --repo victim.git refs/heads/main main main >/dev/null &&
	test ! -e $LOG
'

test_done
