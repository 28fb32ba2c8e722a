#!/bin/sh
# The commit-message check through real pushes, the report's safety, and
# which commits a check judges.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

test_expect_success 'setup' '
	make_victim victim.git &&
	make_work work victim.git &&
	cat >victim.git/git-gate.conf <<-\EOF
	rules = (
	  { refs = [ "refs/heads/main", "refs/heads/release/*" ]; checks = [ "msg" ]; },
	  { refs = [ "refs/heads/soft/*" ]; mode = "warn"; checks = [ "msg" ]; },
	  { refs = [ "refs/tags/checked/*" ]; checks = [ "msg" ]; }
	);
	checks = {
	  msg = { type = "commit-message"; subject_max = 50; require = "^[A-Za-z].*"; forbid = "^(WIP|fixup!|squash!)"; };
	};
	EOF
'

test_expect_success 'good commits are accepted' '
	(cd work && commit_file a a "Add a" && commit_file b b "Add b" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a bad commit among good ones is named with id and subject' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file c c "Add c" && commit_file d d "WIP: half of d" && commit_file e e "Add e" &&
	 test_must_fail git push origin main 2>../err) &&
	bad=$(git -C work rev-parse --short=10 HEAD~1) &&
	test_grep "remote: git-gate:   \[msg\] commit-message: 1 problem" err &&
	test_grep "remote: git-gate:     commit $bad \"WIP: half of d\":" err &&
	test_grep "subject matches the forbidden pattern" err &&
	test_grep "fix: reword" err &&
	test_grep "remote: git-gate: refs/heads/main rejected" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'every problem of the push is reported at once' '
	(cd work && git reset -q --hard origin/main 2>/dev/null || git reset -q --hard $(git -C ../victim.git rev-parse main)) &&
	(cd work && commit_file f f "1 starts with a digit" &&
	 commit_file g g "This subject is written to be far longer than fifty characters" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "\[msg\] commit-message: 2 problems" err &&
	test_grep "does not match the required pattern" err &&
	test_grep "more than the 50 allowed" err
'

test_expect_success 'escape sequences in a message are shown neutralised' '
	(cd work && git reset -q --hard $(git -C ../victim.git rev-parse main) &&
	 esc=$(printf "\033") && bel=$(printf "\007") &&
	 commit_file h h "WIP ${esc}]0;owned${bel}${esc}[31mred${esc}[0m" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "WIP \\\\x1b\]0;owned\\\\x07\\\\x1b\[31mred\\\\x1b\[0m" err &&
	! grep "$(printf "\033")" err &&
	! grep "$(printf "\007")" err
'

test_expect_success 'a branch whose commits are already on main re-judges nothing' '
	git --git-dir=victim.git config receive.denyCurrentBranch ignore &&
	(cd work && git reset -q --hard $(git -C ../victim.git rev-parse main)) &&
	# a commit that predates the policy: put it on main behind the gate
	(cd work && commit_file old old "WIP from before the gate" &&
	 GIT_GATE_CONFIG=/dev/null git push -q origin main) &&
	# ... before the gate kept its judged records (the next push seeds them)
	rm -r victim.git/git-gate/judged &&
	(cd work && git push origin main:refs/heads/release/2 2>../err) &&
	test_grep ! "remote: git-gate" err &&
	test "$(ref_of victim.git release/2)" = "$(ref_of victim.git main)"
'

test_expect_success 'a commit parked on an unchecked branch is judged when it enters main' '
	(cd work && commit_file p p "WIP parked first" &&
	 git push -q origin HEAD:refs/heads/scratch &&
	 test_must_fail git push origin HEAD:main 2>../err) &&
	test_grep "WIP parked first" err &&
	test "$(ref_of victim.git scratch)" = "$(git -C work rev-parse HEAD)" &&
	test "$(ref_of victim.git main)" != "$(git -C work rev-parse HEAD)"
'

test_expect_success 'commits already judged on a checked branch are not judged again' '
	(cd work && git reset -q --hard $(git -C ../victim.git rev-parse main) &&
	 commit_file q q "Add q" && git push -q origin HEAD:refs/heads/release/3 &&
	 GIT_GATE_TRACE=1 git push origin HEAD:main 2>../err) &&
	test_grep "trace: 0 commits" err
'

test_expect_success 'warn mode reports the same problems and accepts' '
	(cd work && commit_file w w "WIP on a soft branch" && git push origin HEAD:refs/heads/soft/x 2>../err) &&
	test_grep "refs/heads/soft/x: WARNING" err &&
	test_grep "WIP on a soft branch" err &&
	test "$(ref_of victim.git soft/x)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a ref with checks cannot be pointed at a tree, a blob or a tag of one' '
	(cd work && blob=$(echo data | git hash-object -w --stdin) &&
	 git tag -a -m "tree tag" treetag HEAD^{tree} &&
	 test_must_fail git push origin HEAD^{tree}:refs/tags/checked/t "$blob":refs/tags/checked/b \
		treetag:refs/tags/checked/tt 2>../err) &&
	test_grep "refs/tags/checked/t. would point at a tree, not a commit" err &&
	test_grep "refs/tags/checked/b. would point at a blob, not a commit" err &&
	test_grep "refs/tags/checked/tt. would point at a tag that leads to no commit" err &&
	test_grep "fix: point it at a commit" err &&
	test -z "$(ref_of victim.git refs/tags/checked/t)" &&
	(cd work && git push origin HEAD^{tree}:refs/tags/free-tree 2>../err) &&
	test -n "$(ref_of victim.git refs/tags/free-tree)"
'

test_expect_success 'a ref without a rule is not checked at all' '
	(cd work && commit_file n n "WIP anything goes here" && git push origin HEAD:refs/heads/free 2>../err) &&
	test_grep ! "remote: git-gate" err
'

test_done
