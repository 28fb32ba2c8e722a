#!/bin/sh
# A small push (at most 32 commits, at most 256 blobs) is read in the
# hook's own process; a larger one through git's diff-tree and cat-file,
# its blobs read from the pushed pack by the hook (t3840) or, when there
# is none, through cat-file, and analysed where they were read.  All must
# judge the same content the same way: the same commits pushed at once
# and in small pieces give the same findings, and a small push with many
# blobs falls back to the stream.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# findings ERRFILE: the report's finding lines, without the commit ids
findings() {
	grep "leftover conflict marker\|KiB limit\|forbidden pattern" "$1" | sed 's/^remote: *//' | sort
}

policy() {
	cat >"$1/git-gate.conf" <<-\EOF
	rules = ( { refs = [ "refs/heads/**" ]; mode = "warn"; checks = [ "hyg", "size", "paths" ]; } );
	checks = {
	  hyg = { type = "text-hygiene"; };
	  size = { type = "max-file-size"; limit = "20 KiB"; };
	  paths = { type = "forbidden-paths"; patterns = [ "*.pem" ]; };
	};
	max_findings = 1000;
	EOF
}

test_expect_success 'setup: 40 commits, some with conflict markers, a large file, a forbidden path' '
	make_victim big.git && make_victim small.git &&
	make_work w big.git &&
	(cd w && git remote add small "$TRASH/small.git" && git push -q small main 2>/dev/null) &&
	policy big.git && policy small.git &&
	(cd w && i=0 && while test $i -lt 40; do
		i=$((i + 1)) &&
		if test $((i % 7)) = 0; then
			printf "a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> x\n" >"m$i.c"
		else
			printf "file %d\n" $i >"m$i.c"
		fi &&
		git add "m$i.c" && git commit -q -m "Add m$i" || exit 1
	 done &&
	 head -c 30000 /dev/zero | tr "\0" "x" >big.txt && echo key >k.pem && git add big.txt k.pem &&
	 git commit -q -m "Add big.txt and k.pem") &&
	test "$(git -C w rev-list --count main)" = 42
'

test_expect_success 'one push of 41 commits (warn mode: the report without a rejection): blobs from the pushed pack' '
	(cd w && GIT_GATE_TRACE=1 git push origin main 2>../err.big) &&
	test_grep "remote: git-gate: trace: 41 commits, 38 blobs read" err.big &&
	test_grep "remote: git-gate: trace: blobs read from the pushed pack: 38, through git cat-file: 0" err.big &&
	test_grep "remote: git-gate: trace: children: 1 diff-tree, 0 cat-file for blobs" err.big &&
	findings err.big >big &&
	test "$(grep -c "leftover conflict marker" big)" = 15 &&
	test_grep "big.txt: file is 29.3 KiB, over the 20.0 KiB limit" big &&
	test_grep "k.pem: path matches the forbidden pattern" big
'

test_expect_success 'the same push with its blobs through two cat-file streams: judged alike' '
	make_victim bigc.git && policy bigc.git &&
	(cd w && git push -q "$TRASH/bigc.git" main~41:refs/heads/main 2>/dev/null &&
	 GIT_GATE_TRACE=1 GIT_GATE_TEST_NO_PACK=1 git push "$TRASH/bigc.git" main 2>../err.bigc) &&
	test_grep "remote: git-gate: trace: 41 commits, 38 blobs read" err.bigc &&
	test_grep "remote: git-gate: trace: children: 1 diff-tree, 2 cat-file for blobs" err.bigc &&
	test_grep ! "blobs read from the pushed pack" err.bigc &&
	findings err.bigc >bigc &&
	test_cmp big bigc
'

test_expect_success 'commits parsed slowly while diff-tree runs ahead: each change stays with its commit' '
	# every commit parsed 2 ms late: the loop over diff-tree output looks
	# each one up before it is parsed, and must wait for it, not take another
	for mode in pack cat-file; do
		make_victim slow-$mode.git && policy slow-$mode.git &&
		(cd w && git push -q "$TRASH/slow-$mode.git" main~41:refs/heads/main 2>/dev/null &&
		 if test $mode = cat-file; then GIT_GATE_TEST_NO_PACK=1; export GIT_GATE_TEST_NO_PACK; fi &&
		 GIT_GATE_TEST_SLOW_PARSE=1 git push "$TRASH/slow-$mode.git" main 2>../err.slow) &&
		findings err.slow >slow &&
		test_cmp big slow &&
		grep -A1 "\[size\]" err.slow | test_grep "Add big.txt and k.pem" || return 1
	done
'

test_expect_success 'the same commits in small pushes: read in-process, judged alike' '
	: >small &&
	for n in 31 21 11 1 0; do
		(cd w && GIT_GATE_TRACE=1 git push small "main~$n:refs/heads/main" 2>../err.small) &&
		test_grep -E "remote: git-gate: trace: (10|1) commits, " err.small &&
		findings err.small >>small || return 1
	done &&
	test "$(ref_of small.git main)" = "$(git -C w rev-parse main)" &&
	sort small >small.sorted && sort big >big.sorted &&
	test_cmp big.sorted small.sorted
'

test_expect_success 'a small push with more than 256 blobs falls back to the stream' '
	make_victim many.git && policy many.git &&
	(cd w && git push -q "$TRASH/many.git" main~41:refs/heads/main 2>/dev/null &&
	 git checkout -q -b many main~41 && mkdir many && i=0 && while test $i -lt 300; do
		i=$((i + 1)) && printf "n %d\n" $i >"many/f$i" || exit 1
	 done && printf "<<<<<<< HEAD\n" >many/f300 && git add many && git commit -q -m "Add 300 files" &&
	 GIT_GATE_TRACE=1 git push "$TRASH/many.git" many:main 2>../err) &&
	test_grep "remote: git-gate: trace: 1 commits, 300 blobs read" err &&
	test_grep "many/f300:1: leftover conflict marker" err
'

test_expect_success 'in-process tree diffs list what git diff-tree lists: every kind of change, in order' '
	make_victim d1.git && make_victim d2.git && policy d1.git && policy d2.git &&
	git init -q -b main dw &&
	(cd dw &&
	 mkdir -p a/b c && echo 1 >a/b/f && echo 2 >a.c && echo 3 >a-b && echo 4 >c/x && echo 5 >"caf\303\251" &&
	 echo 6 >plain && echo 7 >todir && mkdir fromdir && echo 8 >fromdir/y && echo 9 >exe &&
	 git add -A && git commit -q -m "Root" &&
	 echo 1b >a/b/f && git rm -q a-b && chmod +x exe && rm plain && ln -s a.c plain &&
	 rm todir && mkdir todir && echo 10 >todir/z && git rm -q -r fromdir && echo 11 >fromdir &&
	 git update-index --add --cacheinfo "160000,$(git rev-parse HEAD),sub" &&
	 git add -A && git commit -q -m "Every kind of change" &&
	 git checkout -q -b side HEAD~1 && echo side >c/side && git add c/side && git commit -q -m "Side" &&
	 git checkout -q main && git merge -q --no-ff -m "Merge side" side &&
	 git update-index --add --cacheinfo "160000,$(git rev-parse HEAD~1),sub" && git rm -q -r c &&
	 git commit -q -m "Move the submodule, drop c") &&
	(cd dw && GIT_GATE_TRACE=1 git push "$TRASH/d1.git" main 2>../err.in) &&
	(cd dw && GIT_GATE_TRACE=1 GIT_GATE_TEST_STREAM=1 git push "$TRASH/d2.git" main 2>../err.stream) &&
	grep "trace: [0-9]* changes (digest" err.in >in &&
	grep "trace: [0-9]* changes (digest" err.stream >stream &&
	test_cmp stream in &&
	test_grep "trace: 5 commits, " err.in &&
	test_grep ! "trace: 0 changes" in &&
	sed -n "/---- refs/,/accepted/p" err.in >report.in &&
	sed -n "/---- refs/,/accepted/p" err.stream >report.stream &&
	test_cmp report.stream report.in
'

test_expect_success 'a push of 300 commits (two diff-trees, two blob streams) is judged as its pieces are' '
	make_victim long.git && make_victim pieces.git && policy long.git && policy pieces.git &&
	git init -q -b main lw &&
	(cd lw && i=0 && while test $i -lt 300; do
		i=$((i + 1)) &&
		d=dir$((i % 5)) && mkdir -p $d &&
		if test $((i % 37)) = 0; then
			printf "x\n<<<<<<< HEAD\ny %d\n" $i >>"$d/shared.c"
		else
			printf "line %d\n" $i >>"$d/shared.c"
		fi &&
		printf "file %d\n" $i >"$d/f$i.txt" &&
		if test $i = 290; then echo key >"$d/k.pem"; fi &&
		git add -A && git commit -q -m "Change $i" || exit 1
	 done) &&
	(cd lw && GIT_GATE_TRACE=1 git push "$TRASH/long.git" main 2>../err.long) &&
	test_grep "remote: git-gate: trace: 300 commits, 601 blobs read" err.long &&
	test_grep "remote: git-gate: trace: children: 2 diff-tree, 0 cat-file for blobs" err.long &&
	findings err.long >long &&
	# the second diff-tree read ahead only in part, the rest from its pipe, and
	# the blobs through two cat-file streams: the same changes, the same findings
	make_victim long2.git && policy long2.git &&
	(cd lw && GIT_GATE_TRACE=1 GIT_GATE_TEST_SLURP_MAX=1000 GIT_GATE_TEST_NO_PACK=1 \
		git push "$TRASH/long2.git" main 2>../err.long2) &&
	test_grep "remote: git-gate: trace: children: 2 diff-tree, 2 cat-file for blobs" err.long2 &&
	grep "trace: [0-9]* changes (digest" err.long >digest.long &&
	grep "trace: [0-9]* changes (digest" err.long2 >digest.long2 &&
	test_cmp digest.long digest.long2 &&
	findings err.long2 >long2 &&
	test_cmp long long2 &&
	test "$(grep -c "leftover conflict marker" long)" = 5 &&
	test_grep "k.pem: path matches the forbidden pattern" long &&
	: >pieces && changes=0 &&
	for n in 270 240 210 180 150 120 90 60 30 0; do
		(cd lw && GIT_GATE_TRACE=1 git push "$TRASH/pieces.git" "main~$n:refs/heads/main" 2>../err.piece) &&
		findings err.piece >>pieces &&
		c=$(sed -n "s/.*trace: \([0-9]*\) changes (digest.*/\1/p" err.piece) &&
		changes=$((changes + c)) || return 1
	done &&
	test "$changes" = "$(sed -n "s/.*trace: \([0-9]*\) changes (digest.*/\1/p" err.long)" &&
	sort long >long.sorted && sort pieces >pieces.sorted &&
	test_cmp long.sorted pieces.sorted
'

test_expect_success 'the commits read while rev-list walks are judged as those read after it' '
	make_victim ahead.git && make_victim after.git &&
	for r in ahead.git after.git; do
		cat >"$r/git-gate.conf" <<-\EOF || return 1
		rules = ( { refs = [ "refs/heads/**" ]; mode = "warn"; checks = [ "msg", "hyg", "paths" ]; } );
		checks = {
		  msg = { type = "commit-message"; subject_max = 9; };
		  hyg = { type = "text-hygiene"; };
		  paths = { type = "forbidden-paths"; patterns = [ "*.pem" ]; };
		};
		max_findings = 1000;
		EOF
	done &&
	(cd lw && GIT_GATE_TRACE=1 GIT_GATE_TEST_PREFETCH=1 git push "$TRASH/ahead.git" main 2>../err.ahead) &&
	(cd lw && GIT_GATE_TRACE=1 git push "$TRASH/after.git" main 2>../err.after) &&
	test_grep "remote: git-gate: trace: commits read while rev-list ran: 300, 300 of them judged" err.ahead &&
	# the two diff-trees (the blobs are read from the pushed pack: no cat-file)
	test_grep "remote: git-gate: trace: git children started while rev-list ran: 2, 2 of them used" err.ahead &&
	test_grep ! "commits read while rev-list ran" err.after &&
	test_grep "\[msg\] commit-message: 201 problems" err.ahead &&
	grep "trace: [0-9]* changes (digest" err.ahead >digest.ahead &&
	grep "trace: [0-9]* changes (digest" err.after >digest.after &&
	test_cmp digest.after digest.ahead &&
	sed -n "/---- refs/,/accepted/p" err.ahead | sed "s/(policy: .*//" >report.ahead &&
	sed -n "/---- refs/,/accepted/p" err.after | sed "s/(policy: .*//" >report.after &&
	test_cmp report.after report.ahead &&
	# a small push: the children started ahead are not needed, and end
	(cd lw && git checkout -q -b one main && commit_file one.txt 1 "One" &&
	 GIT_GATE_TRACE=1 GIT_GATE_TEST_PREFETCH=1 git push "$TRASH/ahead.git" one:main 2>../err.one) &&
	test_grep "remote: git-gate: trace: 1 commits, 1 blobs read" err.one &&
	test_grep "remote: git-gate: trace: git children started while rev-list ran: 4, 0 of them used" err.one &&
	test "$(ref_of ahead.git main)" = "$(git -C lw rev-parse one)"
'

test_expect_success 'read ahead: commits the quarantine lacks are read after the walk, those it alone holds are dropped' '
	make_victim mixed.git &&
	# the pack kept as sent (git unpacks a small one, leaving out what it already has)
	git --git-dir=mixed.git config receive.unpackLimit 1 &&
	cat >mixed.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/**" ]; checks = [ "msg" ]; } );
	checks = { msg = { type = "commit-message"; subject_max = 40; }; };
	EOF
	git init -q -b main mw &&
	(cd mw && commit_file a "1" "Base" && git push -q "$TRASH/mixed.git" main 2>/dev/null &&
	 commit_file b "2" "Judged on a branch since deleted" &&
	 git push -q "$TRASH/mixed.git" HEAD:refs/heads/gone 2>/dev/null &&
	 git push -q "$TRASH/mixed.git" :refs/heads/gone 2>/dev/null &&
	 commit_file c "3" "New on top of it" &&
	 GIT_GATE_TRACE=1 GIT_GATE_TEST_PREFETCH=1 git push "$TRASH/mixed.git" HEAD:refs/heads/again 2>../err.mixed) &&
	test "$(ref_of mixed.git again)" = "$(git -C mw rev-parse HEAD)" &&
	test_grep "remote: git-gate: trace: 1 commits, " err.mixed &&
	test_grep "remote: git-gate: trace: commits read while rev-list ran: 2, 1 of them judged" err.mixed &&
	# a commit on the server that no hook judged (fetched in) and a new one on top: the walk lists both
	(cd mw && git checkout -q -b side HEAD~2 &&
	 commit_file s "s" "Side work with a subject far too long to pass" &&
	 git --git-dir="$TRASH/mixed.git" fetch -q "$TRASH/mw" side:refs/heads/side &&
	 commit_file t "t" "On top of the side work" &&
	 GIT_GATE_TRACE=1 GIT_GATE_TEST_PREFETCH=1 git push "$TRASH/mixed.git" HEAD:refs/heads/side2 2>../err.side
	 test $? -ne 0) &&
	test "$(ref_of mixed.git side2)" = "" &&
	test_grep "remote: git-gate: trace: 2 commits, " err.side &&
	test_grep "remote: git-gate: trace: commits read while rev-list ran: 1, 1 of them judged" err.side &&
	test_grep "subject is 45 characters" err.side
'

test_done
