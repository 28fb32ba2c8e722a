#!/bin/sh
# Exemptions: users (or @groups) exempt from named checks, or from a whole
# rule; everyone else is still judged.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

LOG=victim.git/git-gate/audit.log

last_audit() {
	python3 - "$LOG" "$1" <<-\EOF
	import json, sys
	recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
	last = [x for x in recs if x["event"] == "decision"][-1]
	fmt = lambda x: " ".join(map(str, x)) if isinstance(x, tuple) else str(x)
	v = eval(sys.argv[2])
	print("\n".join(fmt(e) for e in v) if isinstance(v, list) else fmt(v))
	EOF
}

test_expect_success 'setup' '
	make_victim victim.git &&
	cat >victim.git/git-gate.conf <<-\EOF &&
	groups = { bots = [ "ci-bot", "deploy-bot" ]; };
	rules = (
	  { refs = [ "refs/heads/main" ]; allow_force_push = false;
	    checks = [ "nowip", "len" ];
	    exempt_users = [ "release-bot" ]; exempt_checks = [ "nowip" ]; },
	  { refs = [ "refs/heads/dev" ]; allow_force_push = false;
	    checks = [ "nowip" ]; exempt_users = [ "@bots" ]; }
	);
	checks = {
	  nowip = { type = "commit-message"; forbid = "^WIP"; };
	  len = { type = "commit-message"; subject_max = 30; };
	};
	EOF
	make_work work victim.git
'

test_expect_success 'the check rejects everyone else' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file a a "WIP release notes" && test_must_fail git push origin main 2>../err) &&
	test_grep "\[nowip\] commit-message: 1 problem" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'an exempt user passes the check they are exempt from' '
	(cd work && GIT_GATE_USER=release-bot git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	test_grep ! "nowip" err &&
	test "$(last_audit "[(c[\"name\"], c[\"result\"]) for c in last[\"refs\"][0][\"checks\"]]")" = "len pass
nowip skipped"
'

test_expect_success 'exempt_checks exempts only the named checks' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file b b "This subject is far longer than thirty characters" &&
	 GIT_GATE_USER=release-bot test_must_fail git push origin main 2>../err) &&
	test_grep "\[len\] commit-message: 1 problem" err &&
	test_grep ! "\[nowip\]" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	(cd work && git reset -q --hard HEAD~1)
'

test_expect_success 'an exempt user still gets ref protection on a rule with exempt_checks' '
	before=$(ref_of victim.git main) &&
	(cd work && git reset -q --hard HEAD~1 && commit_file c c "Other" &&
	 GIT_GATE_USER=release-bot test_must_fail git push -f origin main 2>../err) &&
	test_grep "is not a fast-forward" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	(cd work && git reset -q --hard "$before")
'

test_expect_success 'a group member is exempt from the whole rule' '
	(cd work && git checkout -q -b dev && commit_file d d "WIP dev work" &&
	 test_must_fail git push origin dev 2>../err) &&
	test_grep "\[nowip\]" err &&
	(cd work && GIT_GATE_USER=deploy-bot git push origin dev 2>../err) &&
	test "$(ref_of victim.git refs/heads/dev)" = "$(git -C work rev-parse HEAD)" &&
	test_grep "remote: git-gate: refs/heads/dev: the pusher is exempt from this ref.s rule" err &&
	test "$(last_audit "last[\"user\"], last[\"refs\"][0][\"exempt\"], last[\"accepted\"]")" = "deploy-bot True True"
'

test_expect_success 'the whole-rule exemption covers its ref protection too; others are refused' '
	before=$(ref_of victim.git refs/heads/dev) &&
	(cd work && git reset -q --hard HEAD~1 && commit_file e e "Rewritten" &&
	 test_must_fail git push -f origin dev 2>../err) &&
	test_grep "is not a fast-forward" err &&
	test "$(ref_of victim.git refs/heads/dev)" = "$before" &&
	(cd work && GIT_GATE_USER=ci-bot git push -q -f origin dev) &&
	test "$(ref_of victim.git refs/heads/dev)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'an exemption does not carry over to other refs' '
	(cd work && git checkout -q main && commit_file f f "WIP again" &&
	 GIT_GATE_USER=ci-bot test_must_fail git push origin main 2>../err) &&
	test_grep "\[nowip\]" err
'

test_expect_success 'explain shows who is exempt from what, and where it is set' '
	git gate explain --repo victim.git refs/heads/main >out &&
	test_grep "^  exempt_users       release-bot   (.*git-gate.conf:5)" out &&
	test_grep "^  exempt_checks      nowip   (.*git-gate.conf:5)" out &&
	git gate explain --repo victim.git refs/heads/dev >out &&
	test_grep "^  exempt_users       @bots (from the whole rule)   (.*git-gate.conf:7)" out
'

test_expect_success 'validate rejects exempt_checks naming no check, an unknown group, or no exempt_users' '
	cat >bad.conf <<-\EOF &&
	rules = (
	  { refs = [ "refs/heads/main" ]; exempt_users = [ "@robots" ]; },
	  { refs = [ "refs/heads/x" ]; exempt_users = [ "a" ]; exempt_checks = [ "nope" ]; },
	  { refs = [ "refs/heads/y" ]; exempt_checks = [ "nope" ]; }
	);
	EOF
	test_expect_code 1 git gate validate bad.conf 2>err &&
	test_grep "^bad.conf:2: .exempt_users.: no group .robots. is defined" err &&
	test_grep "^bad.conf:3: .exempt_checks.: no check named .nope." err &&
	test_grep "^bad.conf:4: .exempt_checks.: has no effect without .exempt_users." err
'

test_done
