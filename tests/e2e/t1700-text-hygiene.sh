#!/bin/sh
# The text-hygiene check through real pushes: conflict markers, whitespace
# errors only when enabled, files that held them before the gate, binary
# files and allowed paths.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

sync_work() {
	(cd work && git reset -q --hard "$(git -C ../victim.git rev-parse main)")
}

# write_policy EXTRA-KEYS
write_policy() {
	cat >victim.git/git-gate.conf <<-EOF
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "hyg" ]; } );
	checks = { hyg = { type = "text-hygiene"; allow_paths = [ "t/expect/**" ]; $1 }; };
	EOF
}

test_expect_success 'setup' '
	make_victim victim.git &&
	make_work work victim.git &&
	write_policy "" &&
	git gate validate victim.git/git-gate.conf
'

test_expect_success 'leftover conflict markers are rejected, each with its line' '
	before=$(ref_of victim.git main) &&
	(cd work && printf "int a;\n<<<<<<< HEAD\nint b = 1;\n=======\nint b = 2;\n>>>>>>> topic\nint c;\n" >merge.c &&
	 git add merge.c && git commit -q -m "Merge topic" && test_must_fail git push origin main 2>../err) &&
	c=$(git -C work rev-parse --short=10 HEAD) &&
	test_grep "remote: git-gate:   \[hyg\] text-hygiene: 3 problems" err &&
	test_grep "remote: git-gate:     commit $c \"Merge topic\":" err &&
	test_grep "merge.c:2: leftover conflict marker .<<<<<<<." err &&
	test_grep "merge.c:4: leftover conflict marker .=======." err &&
	test_grep "merge.c:6: leftover conflict marker .>>>>>>>." err &&
	test_grep "fix (all 3 problems above with this fix): resolve the conflict and delete the marker lines" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'a heading underline and trailing whitespace pass by default' '
	sync_work &&
	(cd work && printf "Title\n=======\n\nSome text   \n\n" >README.md && git add README.md &&
	 git commit -q -m "Add readme" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'whitespace errors are rejected when enabled, like git diff --check' '
	write_policy "whitespace = true;" &&
	(cd work && printf "x = 1  \n \tindented\nok\n\n" >ws.txt && git add ws.txt &&
	 git commit -q -m "Add ws" && test_must_fail git push origin main 2>../err &&
	 git diff --check HEAD~1 HEAD >../expect || :) &&
	test_grep "ws.txt:1: trailing whitespace" err &&
	test_grep "ws.txt:2: space before tab in indent" err &&
	test_grep "ws.txt:4: new blank line at EOF" err &&
	test_grep "git diff --check" err &&
	test_grep "^ws.txt:1: trailing whitespace" expect &&
	test_grep "^ws.txt:2: space before tab in indent" expect &&
	test_grep "^ws.txt:4: new blank line at EOF" expect
'

test_expect_success 'whitespace_rules choose the rules, as core.whitespace does' '
	write_policy "whitespace = true; whitespace_rules = \"-blank-at-eof,-space-before-tab\";" &&
	(cd work && test_must_fail git push origin main 2>../err) &&
	test_grep "ws.txt:1: trailing whitespace" err &&
	test_grep ! "ws.txt:2" err &&
	test_grep ! "ws.txt:4" err &&
	write_policy "whitespace = true;"
'

test_expect_success 'a file that held markers before the gate can still be edited' '
	sync_work &&
	(cd work && printf "<<<<<<< old\nkept\n>>>>>>> old\ntail\n" >legacy.txt && git add legacy.txt &&
	 git commit -q -m "Add legacy" && GIT_GATE_CONFIG=/dev/null git push -q origin main) &&
	(cd work && printf "<<<<<<< old\nkept\n>>>>>>> old\ntail, edited\n" >legacy.txt &&
	 git commit -q -am "Edit legacy" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	(cd work && printf "<<<<<<< old\nkept\n>>>>>>> old\ntail, edited\n<<<<<<< new\n" >legacy.txt &&
	 git commit -q -am "Add a marker" && test_must_fail git push origin main 2>../err) &&
	test_grep "legacy.txt:5: leftover conflict marker" err &&
	test_grep ! "legacy.txt:1:" err &&
	test_grep ! "legacy.txt:3:" err
'

test_expect_success 'binary files and allowed paths are not judged' '
	sync_work &&
	(cd work && printf "x\000y\n<<<<<<< HEAD\nx \n>>>>>>> b\n" >data.bin && mkdir -p t/expect &&
	 printf "<<<<<<< HEAD\na\n=======\nb\n>>>>>>> side\n" >t/expect/conflict.out && git add data.bin t &&
	 git commit -q -m "Add fixtures" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_done
