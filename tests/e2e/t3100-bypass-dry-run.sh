#!/bin/sh
# Push options: an audited bypass (-o gate.bypass=REASON) and a server-side
# preflight that always declines (-o gate.dry-run).
. "$GATE_SRCDIR/tests/e2e/lib.sh"

LOG=victim.git/git-gate/audit.log

# last_audit EXPR: EXPR (Python) over the last decision record `last`; a
# tuple prints space-separated, a list one element a line
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
	test "$(git --git-dir=victim.git config receive.advertisePushOptions)" = true &&
	cat >victim.git/git-gate.conf <<-\EOF &&
	groups = { oncall = [ "alice" ]; };
	rules = (
	  { refs = [ "refs/heads/main" ]; allow_force_push = false;
	    checks = [ "msg" ]; bypass_users = [ "@oncall", "carol" ]; },
	  { refs = [ "refs/heads/**" ]; checks = [ "msg" ]; }
	);
	checks = { msg = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
	make_work work victim.git &&
	(cd work && commit_file hot hot "WIP hotfix for the outage")
'

test_expect_success 'without a bypass the bad commit is rejected' '
	before=$(ref_of victim.git main) &&
	(cd work && test_must_fail git push origin main 2>../err) &&
	test_grep "subject matches the forbidden pattern" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'a bypass by someone bypass_users does not name is refused' '
	before=$(ref_of victim.git main) &&
	(cd work && GIT_GATE_USER=bob test_must_fail git push -o "gate.bypass=prod is down" origin main 2>../err) &&
	test_grep "remote: git-gate:   \[bypass\] .bob. may not bypass the checks on .refs/heads/main." err &&
	test_grep "remote: git-gate:       fix: push without -o gate.bypass" err &&
	test_grep "remote: git-gate: refs/heads/main rejected" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	test "$(last_audit "last[\"user\"], last[\"bypass\"][\"reason\"], last[\"bypass\"][\"granted\"], last[\"accepted\"]")" = "bob prod is down False False"
'

test_expect_success 'a bypass needs a reason, even from an allowed user' '
	before=$(ref_of victim.git main) &&
	for opt in gate.bypass gate.bypass= "gate.bypass=   "; do
		(cd work && GIT_GATE_USER=alice test_must_fail git push -o "$opt" origin main 2>../err) &&
		test_grep "remote: git-gate:   \[bypass\] a bypass needs a reason: git push -o gate.bypass=\"why\"" err &&
		test "$(ref_of victim.git main)" = "$before" || exit 1
	done
'

test_expect_success 'an allowed user (through a group) bypasses the checks, and it is logged' '
	(cd work && GIT_GATE_USER=alice git push -o "gate.bypass=prod is down, INC-42" origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	test_grep "remote: git-gate: refs/heads/main: checks BYPASSED, reason: \"prod is down, INC-42\" (logged)" err &&
	test "$(last_audit "last[\"user\"], last[\"bypass\"][\"reason\"], last[\"bypass\"][\"granted\"], last[\"refs\"][0][\"bypassed\"], last[\"accepted\"]")" = "alice prod is down, INC-42 True True True" &&
	test "$(last_audit "[(c[\"name\"], c[\"result\"]) for c in last[\"refs\"][0][\"checks\"]]")" = "msg skipped"
'

test_expect_success 'a user named directly may bypass too' '
	(cd work && commit_file hot2 hot2 "WIP second hotfix" &&
	 GIT_GATE_USER=carol git push -q -o "gate.bypass=rollback" origin main) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a bypass skips checks, not ref protection' '
	before=$(ref_of victim.git main) &&
	(cd work && git reset -q --hard HEAD~1 && commit_file other other "Other work" &&
	 GIT_GATE_USER=alice test_must_fail git push -f -o "gate.bypass=I know" origin main 2>../err) &&
	test_grep "is not a fast-forward" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	(cd work && git reset -q --hard "$before")
'

test_expect_success 'a bypass on a ref whose rule allows nobody to bypass is refused' '
	(cd work && git checkout -q -b topic && commit_file t t "WIP topic" &&
	 GIT_GATE_USER=alice test_must_fail git push -o "gate.bypass=urgent" origin topic 2>../err) &&
	test_grep ".alice. may not bypass the checks on .refs/heads/topic." err &&
	test -z "$(ref_of victim.git refs/heads/topic)" &&
	(cd work && git checkout -q main)
'

test_expect_success 'dry run of a good push: full report, declined, nothing moves' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file good good "Add good" &&
	 test_must_fail git push -o gate.dry-run origin main 2>../err) &&
	test_grep "remote: git-gate: dry run (-o gate.dry-run): the push would be accepted; declined, nothing changed" err &&
	test_grep "pre-receive hook declined" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	test "$(last_audit "last[\"dry_run\"], last[\"verdict\"], last[\"accepted\"], last[\"exit_code\"]")" = "True accept False 1"
'

test_expect_success 'dry run of a bad push: the findings, declined, nothing moves' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file bad bad "WIP bad" &&
	 test_must_fail git push -o gate.dry-run origin main 2>../err) &&
	test_grep "remote: git-gate: ---- refs/heads/main: REJECTED ----" err &&
	test_grep "remote: git-gate: .*subject matches the forbidden pattern" err &&
	test_grep "remote: git-gate: dry run (-o gate.dry-run): the push would be REJECTED; declined, nothing changed" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	test "$(last_audit "last[\"dry_run\"], last[\"verdict\"]")" = "True reject"
'

test_expect_success 'dry run of a new branch and a force push: nothing is created or moved' '
	(cd work && test_must_fail git push -o gate.dry-run origin main:refs/heads/fresh 2>../err) &&
	test -z "$(ref_of victim.git refs/heads/fresh)" &&
	before=$(ref_of victim.git main) &&
	(cd work && git reset -q --hard "$before~1" && commit_file z z "Rewrite" &&
	 test_must_fail git push -f -o gate.dry-run origin main 2>../err) &&
	test_grep "is not a fast-forward" err &&
	test_grep "the push would be REJECTED; declined" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'push options are ignored by the update hook, which sees none' '
	make_victim upd.git --hook update &&
	cp victim.git/git-gate.conf upd.git/ &&
	git --git-dir=upd.git config receive.advertisePushOptions true &&
	make_work work2 upd.git &&
	(cd work2 && commit_file w w "WIP in update" &&
	 GIT_GATE_USER=alice test_must_fail git push -o "gate.bypass=x" origin main 2>../err) &&
	test_grep "subject matches the forbidden pattern" err &&
	test_grep ! "BYPASSED" err
'

test_done
