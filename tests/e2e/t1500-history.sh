#!/bin/sh
# The history check through real pushes: linear history, octopus merges,
# fixup!/squash!/amend! commits, and the number of commits per push.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

sync_work() {
	(cd work && git checkout -q main && git reset -q --hard "$(git -C ../victim.git rev-parse main)")
}

policy() {
	cat >victim.git/git-gate.conf <<-EOF
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "lin" ]; } );
	checks = { lin = { type = "history"; $*; }; };
	EOF
}

test_expect_success 'setup' '
	make_victim victim.git &&
	make_work work victim.git &&
	policy "linear = true; max_commits = 3" &&
	git gate validate victim.git/git-gate.conf
'

test_expect_success 'a linear series within the limit is accepted' '
	(cd work && commit_file a a "Add a" && commit_file b b "Add b" && commit_file c c "Add c" &&
	 git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a merge commit is rejected on a linear branch' '
	before=$(ref_of victim.git main) &&
	(cd work && git checkout -q -b topic && commit_file t t "Add t" && git checkout -q main &&
	 commit_file m m "Add m" && git merge -q --no-edit topic && test_must_fail git push origin main 2>../err) &&
	c=$(git -C work rev-parse --short=10 HEAD) &&
	test_grep "remote: git-gate:   \[lin\] history: 1 problem" err &&
	test_grep "remote: git-gate:     commit $c \"Merge branch .topic.\":" err &&
	test_grep "merge commit (2 parents): this branch takes a linear history only" err &&
	test_grep "fix: rebase instead of merging (git rebase UPSTREAM, or git pull --rebase)" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'more commits than max_commits: one problem without a commit' '
	sync_work &&
	(cd work && for i in 1 2 3 4; do commit_file n$i $i "Add n$i" || exit 1; done &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate:     the push brings 4 new commits to .refs/heads/main., more than the 3 allowed" err &&
	test_grep "fix: push in parts" err &&
	test_grep ! "commit [0-9a-f]\{10\}" err
'

test_expect_success 'pushing in parts passes' '
	(cd work && git push origin HEAD~1:main 2>../err && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'fixup!, squash! and amend! commits are rejected by default' '
	sync_work &&
	(cd work && commit_file f f "Add f" && commit_file f f2 "fixup! Add f" && commit_file g g "squash! Add f" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "\[lin\] history: 2 problems" err &&
	test_grep "commit subject starts with .fixup!.: it was meant to be squashed" err &&
	test_grep "commit subject starts with .squash!." err &&
	test_grep "fix (all 2 problems above with this fix): squash it into the commit it fixes before pushing: git rebase -i --autosquash" err &&
	sync_work &&
	(cd work && commit_file h h "amend! Add f" && test_must_fail git push origin main 2>../err) &&
	test_grep "starts with .amend!." err
'

test_expect_success 'no_fixup = false lets them through' '
	policy "no_fixup = false" &&
	(cd work && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'max_parents = 2 allows merges but not octopus merges' '
	sync_work &&
	policy "max_parents = 2" &&
	(cd work && git checkout -q -b t1 && commit_file t1 1 "Add t1" && git checkout -q main &&
	 git merge -q --no-ff --no-edit t1 && git push origin main 2>../err) &&
	(cd work && git checkout -q -b t2 && commit_file t2 2 "Add t2" && git checkout -q main &&
	 git checkout -q -b t3 && commit_file t3 3 "Add t3" && git checkout -q main &&
	 git merge -q --no-ff --no-edit t2 t3 && test_must_fail git push origin main 2>../err) &&
	test_grep "commit has 3 parents, more than the 2 allowed" err
'

test_expect_success 'negative limits are policy errors' '
	policy "max_commits = -1" &&
	test_expect_code 1 git gate validate victim.git/git-gate.conf >out 2>&1 &&
	test_grep "must not be negative" out
'

test_done
