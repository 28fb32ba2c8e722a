#!/bin/sh
# Which commits a check judges: a commit counts as judged only where the
# check was enforced and passed it (the judged record), never through warn
# mode, a bypass, an exemption, a dry run or git gate check; history that
# was there before a check applied is grandfathered.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# last_audit LOG EXPR: EXPR (Python) over the last record `last` of LOG
last_audit() {
	python3 - "$1" "$2" <<-\EOF
	import json, sys
	last = json.loads(open(sys.argv[1], encoding="utf-8").readlines()[-1])
	fmt = lambda x: " ".join(map(str, x)) if isinstance(x, tuple) else str(x)
	v = eval(sys.argv[2])
	print("\n".join(fmt(e) for e in v) if isinstance(v, list) else fmt(v))
	EOF
}

# record REPO [CHECK]: the judged record of CHECK (default msg) of type commit-message
record() {
	for f in "$1/git-gate/judged/${2:-msg}.commit-message".*; do
		echo "$f"
	done
}

# policy REPO RULE-FOR-OTHER-BRANCHES [MSG-CHECK]: main enforces msg; every
# other branch gets the given rule body
policy() {
	cat >"$1/git-gate.conf" <<-EOF
	rules = (
	  { refs = [ "refs/heads/main" ]; checks = [ "msg" ]; },
	  { refs = [ "refs/heads/**" ]; $2 }
	);
	checks = { msg = { type = "commit-message"; ${3:-forbid = \"^WIP\";} }; };
	EOF
}

# victim NAME RULE [--hook update]: a repository with that policy and a
# clone of it in NAME.work holding a WIP commit on top of main
victim() {
	v_name=$1 v_rule=$2
	shift 2
	make_victim "$v_name.git" "$@" &&
	policy "$v_name.git" "$v_rule" &&
	make_work "$v_name.work" "$v_name.git" &&
	(cd "$v_name.work" && commit_file wip.txt wip "WIP: half done")
}

test_expect_success 'a WIP commit accepted on a warn-mode branch is judged when it reaches main' '
	victim warn "mode = \"warn\"; checks = [ \"msg\" ];" &&
	before=$(ref_of warn.git main) &&
	wip=$(git -C warn.work rev-parse HEAD) &&
	(cd warn.work && git push origin HEAD:refs/heads/feature/x 2>../err) &&
	test_grep "subject matches the forbidden pattern" err &&
	test "$(ref_of warn.git feature/x)" = "$wip" &&
	(cd warn.work && test_must_fail git push origin HEAD:main 2>../err) &&
	test_grep "remote: git-gate: ---- refs/heads/main: REJECTED ----" err &&
	test_grep "subject matches the forbidden pattern" err &&
	test_grep "$(git -C warn.work rev-parse --short=10 HEAD)" err &&
	test "$(ref_of warn.git main)" = "$before"
'

test_expect_success 'a commit bypassed onto another branch is judged when it reaches main' '
	victim byp "checks = [ \"msg\" ]; bypass_users = [ \"alice\" ];" &&
	before=$(ref_of byp.git main) &&
	wip=$(git -C byp.work rev-parse HEAD) &&
	(cd byp.work && GIT_GATE_USER=alice git push -o "gate.bypass=demo tomorrow" origin HEAD:refs/heads/feature/b 2>../err) &&
	test "$(ref_of byp.git feature/b)" = "$wip" &&
	(cd byp.work && GIT_GATE_USER=bob test_must_fail git push origin HEAD:main 2>../err) &&
	test_grep "subject matches the forbidden pattern" err &&
	test "$(ref_of byp.git main)" = "$before" &&
	test "$(last_audit byp.git/git-gate/audit.log "last[\"user\"], last[\"accepted\"]")" = "bob False" &&
	test "$(last_audit byp.git/git-gate/audit.log "[(c[\"name\"], c[\"result\"]) for c in last[\"refs\"][0][\"checks\"]]")" = "msg fail"
'

test_expect_success 'a commit an exempt bot pushed to a branch is judged when someone else pushes it to main' '
	victim exm "checks = [ \"msg\" ]; exempt_users = [ \"bot\" ];" &&
	before=$(ref_of exm.git main) &&
	(cd exm.work && GIT_GATE_USER=bot git push origin HEAD:refs/heads/deps 2>../err) &&
	test "$(ref_of exm.git deps)" = "$(git -C exm.work rev-parse HEAD)" &&
	(cd exm.work && test_must_fail git push origin HEAD:main 2>../err) &&
	test_grep "subject matches the forbidden pattern" err &&
	test "$(ref_of exm.git main)" = "$before"
'

test_expect_success 'update hook: a warn-mode ref in the same push does not make the commit judged for main' '
	victim upd "mode = \"warn\"; checks = [ \"msg\" ];" --hook update &&
	before=$(ref_of upd.git main) &&
	wip=$(git -C upd.work rev-parse HEAD) &&
	(cd upd.work && git push -q origin main^:refs/heads/feature/u 2>/dev/null) &&
	# both refs exist: git updates them in name order, feature/u first
	(cd upd.work && test_must_fail git push origin HEAD:refs/heads/feature/u HEAD:main 2>../err) &&
	test "$(ref_of upd.git feature/u)" = "$wip" &&
	test_grep "remote: git-gate: ---- refs/heads/main: REJECTED ----" err &&
	test "$(ref_of upd.git main)" = "$before"
'

test_expect_success 'a bypassed commit is not laundered by a plain push on top of it' '
	victim lau "checks = [ \"msg\" ]; bypass_users = [ \"alice\" ];" &&
	before=$(ref_of lau.git main) &&
	(cd lau.work && git push -q origin HEAD^:refs/heads/feature/l 2>/dev/null) &&
	test -n "$(ref_of lau.git feature/l)" &&
	wip=$(git -C lau.work rev-parse HEAD) &&
	(cd lau.work && GIT_GATE_USER=alice git push -o "gate.bypass=hotfix" origin HEAD:refs/heads/feature/l 2>../err) &&
	(cd lau.work && commit_file more.txt more "Finish the work" && git push origin HEAD:refs/heads/feature/l 2>../err) &&
	test "$(ref_of lau.git feature/l)" = "$(git -C lau.work rev-parse HEAD)" &&
	test_grep "^except $wip$" "$(record lau.git)" &&
	(cd lau.work && test_must_fail git push origin HEAD:main 2>../err) &&
	test_grep "subject matches the forbidden pattern" err &&
	test_grep "WIP: half done" err &&
	test "$(ref_of lau.git main)" = "$before"
'

test_expect_success 'after a bypass on main, main.s later pushes judge only their own commits' '
	victim bym "checks = [ \"msg\" ];" &&
	sed -i "s/checks = \[ \"msg\" \]; },/checks = [ \"msg\" ]; bypass_users = [ \"alice\" ]; },/" bym.git/git-gate.conf &&
	test_grep "bypass_users" bym.git/git-gate.conf &&
	wip=$(git -C bym.work rev-parse HEAD) &&
	(cd bym.work && GIT_GATE_USER=alice git push -o "gate.bypass=outage" origin HEAD:main 2>../err) &&
	test "$(ref_of bym.git main)" = "$wip" &&
	(cd bym.work && commit_file n n "Next fix" && GIT_GATE_TRACE=1 git push origin HEAD:main 2>../err) &&
	test_grep "remote: git-gate: trace: 1 commits" err &&
	test_grep "^except $wip$" "$(record bym.git)" &&
	test_grep "^tip $(git -C bym.work rev-parse HEAD)$" "$(record bym.git)" &&
	# main.s own history, bypass included, holds up no branch made from it
	(cd bym.work && commit_file t t "Start a topic" && GIT_GATE_TRACE=1 git push origin HEAD:refs/heads/topic 2>../err) &&
	test_grep "remote: git-gate: trace: 1 commits" err &&
	test "$(ref_of bym.git topic)" = "$(git -C bym.work rev-parse HEAD)"
'

test_expect_success 'a commit bypassed onto main still counts nowhere else once main moved past it' '
	# main rewound behind the gate: its old bypass is no longer main.s history
	(cd bym.work && git push -q origin :refs/heads/topic 2>/dev/null) &&
	git --git-dir=bym.git update-ref refs/heads/main "$(git -C bym.work rev-parse HEAD~3)" &&
	(cd bym.work && test_must_fail git push origin HEAD:refs/heads/topic2 2>../err) &&
	test_grep "WIP: half done" err &&
	test_grep ! "Start a topic" err
'

test_expect_success 'switching a warn-mode branch rule to enforce does not make its WIP commits count' '
	victim roll "mode = \"warn\"; checks = [ \"msg\" ];" &&
	before=$(ref_of roll.git main) &&
	(cd roll.work && git push -q origin HEAD:refs/heads/feature/r 2>/dev/null) &&
	policy roll.git "checks = [ \"msg\" ];" &&
	(cd roll.work && commit_file r r "Finish it" && git push origin HEAD:refs/heads/feature/r 2>../err) &&
	test "$(ref_of roll.git feature/r)" = "$(git -C roll.work rev-parse HEAD)" &&
	(cd roll.work && test_must_fail git push origin HEAD:main 2>../err) &&
	test_grep "WIP: half done" err &&
	test "$(ref_of roll.git main)" = "$before"
'

test_expect_success 'grandfathered: history from before the policy is not judged again' '
	make_victim old.git &&
	make_work old.work old.git &&
	(
		cd old.work &&
		commit_file a a "WIP: an old mistake on main" &&
		git push -q origin main 2>/dev/null &&
		git checkout -q -b old/topic &&
		commit_file b b "WIP: an old topic" &&
		git push -q origin old/topic 2>/dev/null &&
		git checkout -q main
	) &&
	cat >old.git/git-gate.conf <<-\EOF &&
	rules = (
	  { refs = [ "refs/heads/old/*" ]; },
	  { refs = [ "refs/heads/**" ]; checks = [ "msg" ]; }
	);
	checks = { msg = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
	(cd old.work && git push origin old/topic:refs/heads/copy 2>../err) &&
	test "$(ref_of old.git copy)" = "$(git -C old.work rev-parse old/topic)" &&
	(cd old.work && commit_file c c "Fix the build" && git push origin main 2>../err) &&
	test "$(ref_of old.git main)" = "$(git -C old.work rev-parse main)" &&
	(cd old.work && commit_file d d "WIP: a new mistake" && test_must_fail git push origin main 2>../err) &&
	test_grep "WIP: a new mistake" err &&
	test_grep ! "an old mistake" err
'

test_expect_success 'grandfathered: a check added later to main does not judge main.s history' '
	(cd old.work && git reset -q --hard HEAD^) &&
	cat >old.git/git-gate.conf <<-\EOF &&
	rules = (
	  { refs = [ "refs/heads/old/*" ]; },
	  { refs = [ "refs/heads/**" ]; checks = [ "msg", "short" ]; }
	);
	checks = {
	  msg = { type = "commit-message"; forbid = "^WIP"; };
	  short = { type = "commit-message"; subject_max = 10; };
	};
	EOF
	(cd old.work && commit_file e e "Tidy up" && git push origin main 2>../err) &&
	test "$(ref_of old.git main)" = "$(git -C old.work rev-parse main)" &&
	test -f "$(record old.git short)" &&
	(cd old.work && commit_file f f "A subject far too long" && test_must_fail git push origin main 2>../err) &&
	test_grep "\[short\]" err
'

test_expect_success 'grandfathered: a commit kept only under refs/notes/ is not, and is judged on a branch' '
	make_victim notes.git &&
	make_work notes.work notes.git &&
	(
		cd notes.work &&
		commit_file n n "WIP: smuggled in as notes" &&
		git push -q origin HEAD:refs/notes/smuggled 2>/dev/null &&
		git tag smuggled &&
		git reset -q --hard HEAD^
	) &&
	policy notes.git "checks = [ \"msg\" ];" &&
	(cd notes.work && commit_file g g "Fine" && git push origin main 2>../err) &&
	test -f "$(record notes.git)" &&
	test_grep ! "$(git --git-dir=notes.git rev-parse refs/notes/smuggled)" "$(record notes.git)" &&
	(cd notes.work && test_must_fail git push origin smuggled^{commit}:refs/heads/topic 2>../err) &&
	test_grep "smuggled in as notes" err
'

test_expect_success 'a commit judged and passed on a branch is not judged again on main' '
	victim once "checks = [ \"msg\" ];" &&
	(cd once.work && git reset -q --hard HEAD^ && commit_file x x "Add x" &&
	 git push origin HEAD:refs/heads/feature/j 2>../err) &&
	test_grep "tip $(git -C once.work rev-parse HEAD)" "$(record once.git)" &&
	(cd once.work && git push -q origin :refs/heads/feature/j 2>/dev/null) &&
	policy once.git "checks = [ \"msg\" ];" "forbid = \"^(WIP|Add)\";" &&
	(cd once.work && GIT_GATE_TRACE=1 git push origin HEAD:main 2>../err) &&
	test_grep "remote: git-gate: trace: 0 commits" err &&
	test "$(ref_of once.git main)" = "$(git -C once.work rev-parse HEAD)" &&
	(cd once.work && commit_file y y "Add y" && test_must_fail git push origin HEAD:main 2>../err) &&
	test_grep "subject matches the forbidden pattern" err
'

test_expect_success 'concurrent pushes all land in the record, whole lines only' '
	victim conc "checks = [ \"msg\" ];" &&
	for i in 1 2 3 4 5 6 7 8; do
		git clone -q conc.git conc.$i &&
		(cd conc.$i && commit_file f$i f$i "Feature $i") || exit 1
	done &&
	for i in 1 2 3 4 5 6 7 8; do
		(cd conc.$i && git push -q origin HEAD:refs/heads/topic/$i 2>../conc-err.$i) &
	done &&
	wait &&
	for i in 1 2 3 4 5 6 7 8; do
		test "$(ref_of conc.git topic/$i)" = "$(git -C conc.$i rev-parse HEAD)" &&
		test_grep "^tip $(git -C conc.$i rev-parse HEAD)$" "$(record conc.git)" || exit 1
	done &&
	test "$(head -n1 "$(record conc.git)")" = "git-gate judged record 1" &&
	test_grep ! -v -E "^(git-gate judged record 1|base [0-9]+|tip [0-9a-f]{40}|(enter|leave) refs/[^ ]+)$" "$(record conc.git)" &&
	test "$(grep -c "^enter refs/heads/topic/" "$(record conc.git)")" = 8
'

test_expect_success 'a dry run and git gate check never record' '
	victim dry "checks = [ \"msg\" ];" &&
	(cd dry.work && git reset -q --hard HEAD^ && commit_file g g "Good work") &&
	good=$(git -C dry.work rev-parse HEAD) &&
	cp "$(record dry.git)" before &&
	(cd dry.work && test_must_fail git push -o gate.dry-run origin HEAD:refs/heads/feature/d 2>../err) &&
	test_grep "dry run" err &&
	test_cmp before "$(record dry.git)" &&
	# parked where no rule applies, so that git gate check finds the commit
	(cd dry.work && git push -q origin HEAD:refs/parked/good 2>/dev/null) &&
	cp "$(record dry.git)" before &&
	test_grep ! "$good" before &&
	test_expect_code 0 git gate check --repo dry.git refs/heads/feature/e 0 "$good" >out &&
	test_grep "accepted" out &&
	test_cmp before "$(record dry.git)" &&
	test_grep ! "$good" "$(record dry.git)"
'

test_expect_success 'a damaged record rejects the push and says how to recover' '
	victim dmg "checks = [ \"msg\" ];" &&
	(cd dmg.work && git reset -q --hard HEAD^ && commit_file h h "Good work") &&
	echo "tip not-an-id" >>"$(record dmg.git)" &&
	(cd dmg.work && test_must_fail git push origin HEAD:main 2>../err) &&
	test_grep "judged record .* is damaged" err &&
	rm "$(record dmg.git)" &&
	(cd dmg.work && git push origin HEAD:main 2>../err) &&
	test "$(ref_of dmg.git main)" = "$(git -C dmg.work rev-parse HEAD)"
'

test_expect_success 'two checks on one push: each skips only what it passed (a walk is shared only by equal records)' '
	make_victim two.git &&
	make_work two.work two.git &&
	cat >two.git/git-gate.conf <<-\EOF &&
	rules = (
	  { refs = [ "refs/heads/feature/*" ]; checks = [ "msg" ]; },
	  { refs = [ "refs/heads/**" ]; checks = [ "msg", "short" ]; }
	);
	checks = {
	  msg = { type = "commit-message"; forbid = "^WIP"; };
	  short = { type = "commit-message"; subject_max = 10; };
	};
	EOF
	(cd two.work && commit_file a a "Add a" && GIT_GATE_TRACE=1 git push origin main 2>../err) &&
	test "$(ref_of two.git main)" = "$(git -C two.work rev-parse main)" &&
	(cd two.work && commit_file b b "A subject longer than ten" && git push origin HEAD:refs/heads/feature/b 2>../err) &&
	test "$(ref_of two.git feature/b)" = "$(git -C two.work rev-parse HEAD)" &&
	test_grep "^tip $(git -C two.work rev-parse HEAD)$" "$(record two.git msg)" &&
	test_grep ! "^tip $(git -C two.work rev-parse HEAD)$" "$(ls two.git/git-gate/judged/short.commit-message.*)" &&
	# msg passed it on feature/b, short never judged it: on main short does
	(cd two.work && test_must_fail git push origin HEAD:main 2>../err) &&
	test_grep "\[short\] commit-message" err &&
	test_grep "subject is 25 characters long" err &&
	test_grep ! "\[msg\]" err
'

test_done
