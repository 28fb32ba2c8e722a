#!/bin/sh
# Which commits a check judges, for the push shapes where a walk from the
# new value that stops at the old one would be wrong (issue 13: the common
# fast-forward must cost in proportion to the push, but the rule of
# git-gate.conf(5), WHICH COMMITS A CHECK JUDGES, holds exactly): a push
# that merges a branch whose commits were never judged, a rewind, a new
# branch made from an old commit -- on a repository with many refs and a
# judged record, each a real push, counting what was judged.  Seeding the
# record of a repository with 2,000 refs reduces them to the one tip.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# judged ERRFILE: how many commits the hook judged (GIT_GATE_TRACE)
judged() {
	sed -n 's/^remote: git-gate: trace: \([0-9]*\) commits, .*/\1/p' "$1" | tail -1
}

test_expect_success 'setup: main with history, 2,000 branches along it, then the policy' '
	make_victim v.git &&
	make_work w v.git &&
	(cd w && i=0 && while test $i -lt 20; do
		i=$((i + 1)) && commit_file "f$i" "$i" "Add f$i" || exit 1
	 done && git push -q origin main 2>/dev/null) &&
	# 2,000 branches on main.s 21 commits: more tips than a pipe holds
	git -C v.git rev-list main >ids &&
	awk "{ id[NR - 1] = \$1 } END { for (i = 1; i <= 2000; i++) printf \"create refs/heads/b/%04d %s\\n\", i, id[i % NR] }" ids |
		git -C v.git update-ref --stdin &&
	git -C v.git pack-refs --all &&
	cat >v.git/git-gate.conf <<-\EOF &&
	rules = (
	  { refs = [ "refs/heads/topic/**" ]; mode = "warn"; checks = [ "msg" ]; },
	  { refs = [ "refs/heads/**" ]; checks = [ "msg" ]; allow_force_push = true; }
	);
	checks = { msg = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
	# what git merge-base --independent makes of the refs but notes (the ledger.s history is left out)
	git -C v.git for-each-ref --format="%(objectname) %(refname)" >refs &&
	test_grep " refs/notes/gate$" refs &&
	grep -v " refs/notes/" refs >branches &&
	nrefs=$(wc -l <branches) &&
	test "$nrefs" -gt 2000 &&
	nind=$(git -C v.git merge-base --independent $(cut -d" " -f1 branches | sort -u) | wc -l) &&
	(cd w && commit_file g g "Add g" && GIT_GATE_TRACE=1 git push origin main 2>../err) &&
	test_grep "judged record of msg: seeded with $nrefs ref tips ($nind independent)" err &&
	test "$(judged err)" = 1 &&
	test "$(ref_of v.git main)" = "$(git -C w rev-parse main)"
'

test_expect_success 'a plain fast-forward judges only its own commits' '
	(cd w && commit_file h h "Add h" && commit_file i i "Add i" && GIT_GATE_TRACE=1 git push origin main 2>../err) &&
	test "$(judged err)" = 2 &&
	test "$(ref_of v.git main)" = "$(git -C w rev-parse main)"
'

test_expect_success 'a merge of a branch never judged judges that branch.s commits too' '
	before=$(ref_of v.git main) &&
	(cd w && git checkout -q -b topic/t main~5 && commit_file t1 t1 "WIP: not yet" && commit_file t2 t2 "Finish t" &&
	 GIT_GATE_TRACE=1 git push origin topic/t 2>../err) &&
	test_grep "subject matches the forbidden pattern" err &&
	test "$(ref_of v.git topic/t)" = "$(git -C w rev-parse topic/t)" &&
	(cd w && git checkout -q main && git merge -q --no-ff -m "Merge topic t" topic/t &&
	 GIT_GATE_TRACE=1 test_must_fail git push origin main 2>../err) &&
	test "$(judged err)" = 3 &&
	test_grep "WIP: not yet" err &&
	test "$(ref_of v.git main)" = "$before"
'

test_expect_success 'a merge of a branch judged in enforce mode judges only the merge' '
	(cd w && git reset -q --hard "$(ref_of ../v.git main)" && git checkout -q -b feat/ok main~4 &&
	 commit_file o1 o1 "Add o1" && commit_file o2 o2 "Add o2" &&
	 GIT_GATE_TRACE=1 git push origin feat/ok 2>../err) &&
	test "$(judged err)" = 2 &&
	(cd w && git checkout -q main && git merge -q --no-ff -m "Merge feat ok" feat/ok &&
	 GIT_GATE_TRACE=1 git push origin main 2>../err) &&
	test "$(judged err)" = 1 &&
	test "$(ref_of v.git main)" = "$(git -C w rev-parse main)"
'

test_expect_success 'a rewind judges nothing, and going forward again judges nothing twice' '
	tip=$(ref_of v.git main) &&
	(cd w && GIT_GATE_TRACE=1 git push -f origin main~3:main 2>../err) &&
	test "$(judged err)" = 0 &&
	test "$(ref_of v.git main)" = "$(git -C w rev-parse main~3)" &&
	(cd w && GIT_GATE_TRACE=1 git push origin main:main 2>../err) &&
	test "$(judged err)" = 0 &&
	test "$(ref_of v.git main)" = "$tip"
'

test_expect_success 'a rewind to an old commit with new work on it judges only the new work' '
	(cd w && git checkout -q -b redo main~6 && commit_file r1 r1 "Add r1" && commit_file r2 r2 "WIP r2" &&
	 GIT_GATE_TRACE=1 test_must_fail git push -f origin redo:main 2>../err) &&
	test "$(judged err)" = 2 &&
	test_grep "WIP r2" err &&
	test_grep ! "Add f" err
'

test_expect_success 'a new branch from an old commit judges nothing; with a commit on top, that commit' '
	old=$(git -C w rev-parse main~15) &&
	(cd w && GIT_GATE_TRACE=1 git push origin "$old":refs/heads/release/1 2>../err) &&
	test "$(judged err)" = 0 &&
	test "$(ref_of v.git release/1)" = "$old" &&
	(cd w && git checkout -q -b rel2 "$old" && commit_file fix fix "WIP fix" &&
	 GIT_GATE_TRACE=1 test_must_fail git push origin rel2:refs/heads/release/2 2>../err) &&
	test "$(judged err)" = 1 &&
	test_grep "WIP fix" err &&
	test -z "$(ref_of v.git release/2)"
'

test_expect_success 'a new branch from a warn-mode branch.s commit judges that branch.s commits' '
	(cd w && git checkout -q -b rel3 topic/t && GIT_GATE_TRACE=1 test_must_fail git push origin rel3:refs/heads/release/3 2>../err) &&
	test "$(judged err)" = 2 &&
	test_grep "WIP: not yet" err
'

# Many unmerged branches keep as many tips in the record: a fast-forward
# of new commits walks from the old value alone, every other shape past
# all the tips, with the same result.
test_expect_success 'setup: 20 unmerged branches, each judged: a record of 20 more tips' '
	(cd w && git checkout -q main && git reset -q --hard "$(ref_of ../v.git main)" &&
	 i=0 && while test $i -lt 20; do
		i=$((i + 1)) && git checkout -q -b "u/$i" "main~$((i % 5 + 1))" &&
		commit_file "u$i" "$i" "Add u$i" || exit 1
	 done && git checkout -q main &&
	 GIT_GATE_TRACE=1 git push origin "refs/heads/u/*:refs/heads/u/*" 2>../err) &&
	test "$(git -C v.git for-each-ref refs/heads/u | wc -l)" = 20 &&
	test "$(judged err)" = 20
'

test_expect_success 'with many tips, a fast-forward of new commits walks from the old value alone' '
	(cd w && commit_file j1 j1 "Add j1" && commit_file j2 j2 "Add j2" &&
	 GIT_GATE_TRACE=1 git push origin main 2>../err) &&
	test_grep "trace: walks: 1 from the old value alone, 0 past every excluded tip" err &&
	test "$(judged err)" = 2 &&
	test "$(ref_of v.git main)" = "$(git -C w rev-parse main)" &&
	(cd w && commit_file j3 j3 "WIP j3" && GIT_GATE_TRACE=1 test_must_fail git push origin main 2>../err) &&
	test_grep "trace: walks: 1 from the old value alone, 0 past every excluded tip" err &&
	test_grep "WIP j3" err &&
	(cd w && git reset -q --hard HEAD~1)
'

test_expect_success 'with many tips, a merge of a judged branch walks past them all and judges only the merge' '
	(cd w && git merge -q --no-ff -m "Merge u 3" u/3 && GIT_GATE_TRACE=1 git push origin main 2>../err) &&
	test_grep "trace: walks: 0 from the old value alone, 1 past every excluded tip" err &&
	test "$(judged err)" = 1 &&
	test "$(ref_of v.git main)" = "$(git -C w rev-parse main)"
'

test_expect_success 'with many tips, a merge of commits no hook judged judges them' '
	before=$(ref_of v.git main) &&
	(cd w && git checkout -q -b side main~2 && commit_file s1 s1 "WIP side" && git checkout -q main) &&
	git -C v.git fetch -q "$TRASH/w" side:refs/heads/side &&
	(cd w && git merge -q --no-ff -m "Merge side" side && GIT_GATE_TRACE=1 test_must_fail git push origin main 2>../err) &&
	test_grep "trace: walks: 0 from the old value alone, 1 past every excluded tip" err &&
	test "$(judged err)" = 2 &&
	test_grep "WIP side" err &&
	test "$(ref_of v.git main)" = "$before" &&
	(cd w && git reset -q --hard "$before")
'

test_expect_success 'with many tips, a rewind judges nothing, going forward again nothing twice, a new ref walks past them' '
	tip=$(ref_of v.git main) &&
	(cd w && GIT_GATE_TRACE=1 git push -f origin main~2:main 2>../err) &&
	test_grep "trace: walks: 1 from the old value alone, 0 past every excluded tip" err &&
	test "$(judged err)" = 0 &&
	(cd w && GIT_GATE_TRACE=1 git push origin main:main 2>../err) &&
	test_grep "trace: walks: 0 from the old value alone, 1 past every excluded tip" err &&
	test "$(judged err)" = 0 &&
	test "$(ref_of v.git main)" = "$tip" &&
	(cd w && git checkout -q -b rel9 main~7 && commit_file r9 r9 "WIP r9" &&
	 GIT_GATE_TRACE=1 test_must_fail git push origin rel9:refs/heads/release/9 2>../err) &&
	test_grep ! "trace: walks:" err &&
	test "$(judged err)" = 1 &&
	test_grep "WIP r9" err
'

test_done
