#!/bin/sh
# Attacks with ordinary push rights that the integrity work (issue 8) did
# not list: each one tried with real pushes, and shown to fail.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# policy REPO FEATURE-MODE: main enforces msg, every other branch runs it in
# the given mode
policy() {
	cat >"$1/git-gate.conf" <<-EOF
	rules = (
	  { refs = [ "refs/heads/main" ]; checks = [ "msg" ]; },
	  { refs = [ "refs/heads/**" ]; mode = "$2"; checks = [ "msg" ]; }
	);
	checks = { msg = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
}

# mode_change NAME FIRST DURING: feature/x under a rule in mode FIRST
# ("none": no push yet), then a WIP commit pushed there in mode DURING,
# then the rule enforces and a good commit goes on top; pushing that to
# main must judge the WIP commit and be rejected
mode_change() {
	make_victim $1.git &&
	policy $1.git $3 &&
	make_work $1.work $1.git &&
	before=$(ref_of $1.git main) &&
	if test $2 != none; then
		policy $1.git $2 &&
		(cd $1.work && commit_file a a "Add a" && git push -q origin HEAD:refs/heads/feature/x 2>/dev/null) &&
		policy $1.git $3
	fi &&
	(cd $1.work && commit_file w w "WIP: pushed in mode $3" &&
	 git push origin HEAD:refs/heads/feature/x 2>../err) &&
	test "$(ref_of $1.git feature/x)" = "$(git -C $1.work rev-parse HEAD)" &&
	policy $1.git enforce &&
	(cd $1.work && commit_file g g "Finish the work" &&
	 git push origin HEAD:refs/heads/feature/x 2>../err) &&
	test "$(ref_of $1.git feature/x)" = "$(git -C $1.work rev-parse HEAD)" &&
	(cd $1.work && test_must_fail git push origin HEAD:main 2>../err) &&
	test_grep "WIP: pushed in mode $3" err &&
	test "$(ref_of $1.git main)" = "$before"
}

# the trial is over (git-gate.conf(5), EXAMPLES): the rule now enforces
test_expect_success 'a WIP commit pushed in warn mode is not grandfathered when the rule turns to enforce' '
	mode_change flip none warn
'

test_expect_success 'nor when the rule went enforce -> warn -> enforce' '
	mode_change flip2 enforce warn
'

test_expect_success 'nor what was pushed while the rule was switched off (enforce -> off -> enforce)' '
	mode_change off enforce off
'

test_expect_success 'a trial on main itself: after the switch, main.s history holds up nothing' '
	make_victim trial.git &&
	policy trial.git warn &&
	sed -i "s/checks = \[ \"msg\" \]; },/mode = \"warn\"; checks = [ \"msg\" ]; },/" trial.git/git-gate.conf &&
	test_grep "main\" ]; mode = \"warn\"" trial.git/git-gate.conf &&
	make_work trial.work trial.git &&
	(cd trial.work && commit_file w w "WIP: pushed during the trial" && git push origin HEAD:main 2>../err) &&
	test_grep "accepted with warnings" err &&
	policy trial.git enforce &&
	(cd trial.work && commit_file g g "Good work" && git push origin HEAD:main 2>../err) &&
	test "$(ref_of trial.git main)" = "$(git -C trial.work rev-parse HEAD)" &&
	(cd trial.work && commit_file t t "Start a topic" &&
	 GIT_GATE_TRACE=1 git push origin HEAD:refs/heads/topic 2>../err) &&
	test_grep "remote: git-gate: trace: 1 commits" err &&
	test "$(ref_of trial.git topic)" = "$(git -C trial.work rev-parse HEAD)"
'

test_expect_success 'a broken commit below a tip that passed a command check (on = "tip") is built when it reaches main' '
	make_victim tip.git &&
	cat >tip.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/**" ]; checks = [ "build" ]; } );
	checks = { build = { type = "command"; run = "test ! -e broken"; }; };
	EOF
	printf "workspace = \"%s\";\n" "$TRASH/ws" >>tip.git/git-gate.conf &&
	make_work tip.work tip.git &&
	before=$(ref_of tip.git main) &&
	(cd tip.work && commit_file broken x "Break the build" && git rm -q broken && commit_file fixed y "Fix the build" &&
	 git push origin HEAD:refs/heads/feature/x 2>../err) &&
	test_grep "build: passed on" err &&
	test "$(ref_of tip.git feature/x)" = "$(git -C tip.work rev-parse HEAD)" &&
	(cd tip.work && test_must_fail git push origin HEAD^:main 2>../err) &&
	test_grep "remote: git-gate: ---- refs/heads/main: REJECTED ----" err &&
	test "$(ref_of tip.git main)" = "$before" &&
	# the tip that passed goes to main as it is (a cached pass)
	(cd tip.work && git push origin HEAD:main 2>../err) &&
	test "$(ref_of tip.git main)" = "$(git -C tip.work rev-parse HEAD)"
'

test_expect_success 'nor does a CI pass noted for the tip vouch for the commits below it (ci-status, on = "tip")' '
	make_victim ci.git &&
	make_work ci.work ci.git &&
	cat >ci.git/git-gate.conf <<-\EOF &&
	rules = (
	  { refs = [ "refs/notes/ci" ]; },
	  { refs = [ "refs/heads/**" ]; checks = [ "ci" ]; }
	);
	checks = { ci = { type = "ci-status"; notes_ref = "refs/notes/ci"; }; };
	EOF
	before=$(ref_of ci.git main) &&
	(cd ci.work && commit_file a a "Red" && commit_file b b "Green" &&
	 git notes --ref=ci add -m pass HEAD && git push -q origin refs/notes/ci 2>/dev/null &&
	 git push origin HEAD:refs/heads/feature/ci 2>../err) &&
	test -n "$before" &&
	test "$(ref_of ci.git feature/ci)" = "$(git -C ci.work rev-parse HEAD)" &&
	(cd ci.work && test_must_fail git push origin HEAD^:main 2>../err) &&
	test_grep "remote: git-gate: ---- refs/heads/main: REJECTED ----" err &&
	test "$(ref_of ci.git main)" = "$before" &&
	(cd ci.work && git push origin HEAD:main 2>../err) &&
	test "$(ref_of ci.git main)" = "$(git -C ci.work rev-parse HEAD)"
'

test_expect_success 'a command with cache = false (its result depends on more than the tree) runs again on main' '
	make_victim nocache.git &&
	# the strict build runs on main only, so the result depends on the ref
	cat >nocache.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/**" ]; checks = [ "build" ]; } );
	checks = { build = { type = "command"; on = "each"; cache = false;
	                     run = "test \"$GIT_GATE_REF\" != refs/heads/main || test ! -e broken"; }; };
	EOF
	printf "workspace = \"%s\";\n" "$TRASH/ws" >>nocache.git/git-gate.conf &&
	make_work nocache.work nocache.git &&
	before=$(ref_of nocache.git main) &&
	(cd nocache.work && commit_file broken x "Break the build" &&
	 git push origin HEAD:refs/heads/feature/x 2>../err) &&
	test "$(ref_of nocache.git feature/x)" = "$(git -C nocache.work rev-parse HEAD)" &&
	(cd nocache.work && test_must_fail git push origin HEAD:main 2>../err) &&
	test_grep "remote: git-gate: ---- refs/heads/main: REJECTED ----" err &&
	test "$(ref_of nocache.git main)" = "$before"
'

test_expect_success 'a commit an exempt bot put on main does not count once main was rewound past it' '
	make_victim bot.git &&
	cat >bot.git/git-gate.conf <<-\EOF &&
	rules = (
	  { refs = [ "refs/heads/main" ]; checks = [ "msg" ]; exempt_users = [ "bot" ]; },
	  { refs = [ "refs/heads/**" ]; checks = [ "msg" ]; }
	);
	checks = { msg = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
	make_work bot.work bot.git &&
	before=$(ref_of bot.git main) &&
	(cd bot.work && commit_file b b "WIP: the bot.s change" && GIT_GATE_USER=bot git push -q origin HEAD:main 2>/dev/null &&
	 commit_file f f "Feature on top" && git push origin HEAD:refs/heads/feature/f 2>../err) &&
	test "$(ref_of bot.git feature/f)" = "$(git -C bot.work rev-parse HEAD)" &&
	# main.s rule allows force pushes (the default): anyone may rewind it
	(cd bot.work && git push -q -f origin "$before":main 2>/dev/null) &&
	test "$(ref_of bot.git main)" = "$before" &&
	(cd bot.work && test_must_fail git push origin HEAD:main 2>../err) &&
	test_grep "WIP: the bot" err &&
	test "$(ref_of bot.git main)" = "$before"
'

test_expect_success 'nobody can block the policy ref with a ref below it (or above it) before it exists' '
	mkdir -p etc &&
	cat >etc/meta.conf <<-\EOF &&
	meta_ref = "refs/meta/gate";
	meta_users = [ "alice" ];
	rules = ( { refs = [ "refs/heads/main" ]; final = true; allow_force_push = false; allow_delete = false; } );
	EOF
	make_victim meta.git &&
	make_work meta.work meta.git &&
	(cd meta.work && GIT_GATE_SYSTEM_CONFIG="$TRASH/etc/meta.conf" &&
	 export GIT_GATE_SYSTEM_CONFIG &&
	 test_must_fail git push origin HEAD:refs/meta/gate/x 2>../err &&
	 test_must_fail git push origin HEAD:refs/meta 2>>../err &&
	 test_must_fail env GIT_GATE_USER=alice git push origin HEAD:refs/meta/gate/y 2>>../err) &&
	test_grep "remote: git-gate: ---- refs/meta/gate/x: REJECTED ----" err &&
	test_grep "would stand in the way of the policy ref .refs/meta/gate." err &&
	test -z "$(git --git-dir=meta.git for-each-ref refs/meta)" &&
	(cd meta.work && git checkout -q --orphan gate && git rm -q -rf . &&
	 echo "rules = ( { refs = [ \"refs/heads/**\" ]; } );" >git-gate.conf && git add git-gate.conf &&
	 git commit -q -m "Policy" &&
	 GIT_GATE_SYSTEM_CONFIG="$TRASH/etc/meta.conf" GIT_GATE_USER=alice git push origin gate:refs/meta/gate 2>../err) &&
	test -n "$(ref_of meta.git refs/meta/gate)"
'

test_done
