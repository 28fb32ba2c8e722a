#!/bin/sh
# The ci-status check: main accepts a commit only when the CI recorded a
# pass for it in a git notes ref, which only the CI may push; the CI side
# is contrib/ci/record-ci-status.sh.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

record="$GATE_SRCDIR/contrib/ci/record-ci-status.sh"

# ci STATUS [ARGS...]: the CI records a verdict for HEAD of ./work
ci() {
	(cd "$TRASH/work" && GIT_GATE_USER=ci-bot "$record" "$@")
}

test_expect_success 'setup' '
	make_victim victim.git &&
	make_work work victim.git &&
	cat >victim.git/git-gate.conf <<-\EOF
	checks = {
	  ci = { type = "ci-status"; };
	  ci_each = { type = "ci-status"; on = "each"; };
	  ci_tree = { type = "ci-status"; notes_ref = "refs/notes/builds"; pass = [ "success" ]; match_tree = true; };
	};
	rules = (
	  # only the CI may record verdicts
	  { refs = [ "refs/notes/*" ]; allow_create = false; allow_update = false; allow_delete = false;
	    exempt_users = [ "ci-bot" ]; },
	  { refs = [ "refs/heads/main" ]; checks = [ "ci" ]; },
	  { refs = [ "refs/heads/each/*" ]; checks = [ "ci_each" ]; },
	  { refs = [ "refs/heads/tree/*" ]; checks = [ "ci_tree" ]; }
	);
	EOF
'

test_expect_success 'a commit the CI has not seen is rejected (no notes ref yet)' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file a a "Add a" && test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate:   \[ci\] ci-status: 1 problem" err &&
	test_grep "no CI result has been recorded: .refs/notes/ci. does not exist in this repository yet" err &&
	test_grep "fix: wait for the CI to test $(git -C work rev-parse --short=10 HEAD) and record its result in refs/notes/ci, then push again" err &&
	test_grep ! "git notes" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'a developer cannot record a pass themselves' '
	(cd work && test_must_fail "$record" pass >../out 2>../err) &&
	test_grep "creating .refs/notes/ci. is not allowed" err &&
	test -z "$(ref_of victim.git refs/notes/ci)"
'

test_expect_success 'after the CI records a pass, the same commit is accepted' '
	ci pass --url https://ci.example.com/job/42 >out &&
	test_grep "recorded \"pass\" for $(git -C work rev-parse --short HEAD) in refs/notes/ci on origin" out &&
	test "$(git --git-dir=victim.git notes --ref=ci show $(git -C work rev-parse HEAD) | head -n 1)" = pass &&
	(cd work && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a commit the CI failed is rejected, with what the CI said' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file b b "Add b") &&
	ci fail >out &&
	(cd work && test_must_fail git push origin main 2>../err) &&
	test_grep "commit $(git -C work rev-parse --short=10 HEAD) \"Add b\":" err &&
	test_grep "the CI recorded \"fail\" in refs/notes/ci, not a pass (a pass is: .pass.)" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'a re-run that passes replaces the failure' '
	ci pass >out &&
	(cd work && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a commit without a note is rejected when other commits have notes' '
	(cd work && commit_file c c "Add c" && test_must_fail git push origin main 2>../err) &&
	test_grep "no CI pass recorded for this commit in refs/notes/ci (a note whose first line is .pass.)" err
'

test_expect_success 'a pass note pushed together with the commit does not count' '
	(cd work && git notes --ref=ci add -f -m pass HEAD &&
	 test_must_fail git push origin main refs/notes/ci 2>../err) &&
	test_grep "no CI pass recorded for this commit" err &&
	test "$(ref_of victim.git main)" != "$(git -C work rev-parse HEAD)"
'

test_expect_success 'on = "each": every new commit needs a pass; the one without is named' '
	(cd work && git reset -q --hard $(git -C ../victim.git rev-parse main) &&
	 git fetch -q origin +refs/notes/ci:refs/notes/ci) &&
	# the first commit reached main before the CI did: vouch for it now
	ci pass "$(git -C work rev-list --max-parents=0 HEAD)" >out &&
	(cd work && commit_file d d "Add d") && ci pass >out &&
	(cd work && commit_file e e "Add e, untested") &&
	(cd work && commit_file f f "Add f") && ci pass >out &&
	(cd work && test_must_fail git push origin HEAD:refs/heads/each/1 2>../err) &&
	test_grep "\[ci_each\] ci-status: 1 problem" err &&
	test_grep "commit $(git -C work rev-parse --short=10 HEAD~1) \"Add e, untested\":" err &&
	test_grep ! "Add d" err &&
	test_grep ! "\"Add f\"" err &&
	test -z "$(ref_of victim.git each/1)"
'

test_expect_success 'match_tree: a pass on the tree counts for another commit with that tree; pass text is configurable' '
	(cd work && git reset -q --hard $(git -C ../victim.git rev-parse main) && commit_file g g "Add g") &&
	ci pass --ref refs/notes/builds --tree >out &&
	(cd work && test_must_fail git push origin HEAD:refs/heads/tree/1 2>../err) &&
	test_grep "the CI recorded \"pass\" in refs/notes/builds, not a pass (a pass is: .success.)" err &&
	ci SUCCESS --ref refs/notes/builds --tree >out &&
	(cd work && git commit -q --amend -m "Add g, reworded" && git push origin HEAD:refs/heads/tree/1 2>../err) &&
	test "$(ref_of victim.git tree/1)" = "$(git -C work rev-parse HEAD)"
'

test_done
