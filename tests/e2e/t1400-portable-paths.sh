#!/bin/sh
# The portable-paths check through real pushes: case collisions in one
# commit, across commits and across pushes, Windows names and characters,
# control characters and invalid UTF-8 reported safely, lengths, and
# ".git" in disguise (trees made with git mktree: git add refuses them).
. "$GATE_SRCDIR/tests/e2e/lib.sh"

sync_work() {
	(cd work && git reset -q --hard "$(git -C ../victim.git rev-parse main)")
}

policy() {
	cat >victim.git/git-gate.conf <<-EOF
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "port" ]; } );
	checks = { port = { type = "portable-paths"; max_path_length = 120; max_component_length = 40; ${*:+$*;} }; };
	EOF
}

# raw_commit NAME MESSAGE: in work, a commit on HEAD adding a root file
# called NAME (any bytes), made without a checkout
raw_commit() {
	blob=$(echo content | git hash-object -w --stdin) &&
	tree=$({ git ls-tree -z HEAD && printf "100644 blob %s\t%s\0" "$blob" "$1"; } | git mktree -z) &&
	commit=$(git commit-tree -p HEAD -m "$2" "$tree") &&
	git update-ref HEAD "$commit"
}

# no_raw_controls FILE: every line is a remote: line, and no ESC or BEL got through
no_raw_controls() {
	! grep -v -e "^remote: " -e "^To " -e "^ ! \[" -e "^error: failed to push" "$1" &&
	! grep "$(printf "\033")" "$1" &&
	! grep "$(printf "\007")" "$1"
}

test_expect_success 'setup' '
	make_victim victim.git --no-fsck-objects &&
	make_work work victim.git &&
	policy &&
	git gate validate victim.git/git-gate.conf
'

test_expect_success 'ordinary paths, UTF-8 names included, are accepted' '
	(cd work && commit_file "docs/café.md" x "Add café" && commit_file "src/.gitignore" x "Add ignore" &&
	 commit_file "a.b.c/file-1_2.txt" x "Add dotted dir" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'README and readme in one commit: one problem, both named' '
	before=$(ref_of victim.git main) &&
	(cd work && echo a >README && echo b >readme && git add README readme && git commit -q -m "Add readmes" &&
	 test_must_fail git push origin main 2>../err) &&
	c=$(git -C work rev-parse --short=10 HEAD) &&
	test_grep "remote: git-gate:   \[port\] portable-paths: 1 problem" err &&
	test_grep "remote: git-gate:     commit $c \"Add readmes\":" err &&
	test_grep "remote: git-gate:       README: .README. and .readme. differ only in case: a case-insensitive file system (Windows, macOS) keeps only one" err &&
	test_grep "fix: rename one of them (git mv)" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'a case collision across two commits names the second' '
	sync_work &&
	(cd work && commit_file Makefile x "Add Makefile" && commit_file src/Util.c x "Add Util" &&
	 commit_file makefile y "Add makefile" && test_must_fail git push origin main 2>../err) &&
	test_grep "\[port\] portable-paths: 1 problem" err &&
	test_grep "commit $(git -C work rev-parse --short=10 HEAD) \"Add makefile\":" err &&
	test_grep "makefile: .makefile. and .Makefile. differ only in case" err
'

test_expect_success 'a case collision with a file pushed earlier is found in the new tree' '
	sync_work &&
	(cd work && commit_file lib/Notes.txt x "Add Notes" && git push origin main 2>../err) &&
	(cd work && commit_file lib/NOTES.TXT y "Add NOTES" && test_must_fail git push origin main 2>../err) &&
	test_grep "lib/NOTES.TXT: .lib/NOTES.TXT. and .lib/Notes.txt. differ only in case" err
'

test_expect_success 'a directory differing in case is reported once, as the directory' '
	sync_work &&
	(cd work && commit_file Guide/a.md x "Add Guide" && git push -q origin main) &&
	(cd work && mkdir guide && echo b >guide/b.md && echo c >guide/c.md && git add guide &&
	 git commit -q -m "Add guide/b and c" && commit_file guide/d.md x "Add guide/d" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "\[port\] portable-paths: 1 problem" err &&
	test_grep "remote: git-gate:       guide: .guide. and .Guide. differ only in case" err &&
	test_grep "commit $(git -C work rev-parse --short=10 HEAD~1) \"Add guide/b and c\":" err
'

test_expect_success 'a collision that predates the gate is not reported again' '
	sync_work &&
	(cd work && echo 1 >X && echo 2 >x && git add X x && git commit -q -m "Add X and x" &&
	 GIT_GATE_CONFIG=/dev/null git push -q origin main) &&
	(cd work && echo 3 >X && commit_file y y "Change X, add y" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'Windows device names, characters and trailing dots or spaces' '
	sync_work &&
	(cd work && commit_file con.txt x "Add con" && commit_file sub/AUX x "Add aux" &&
	 commit_file "a:b.txt" x "Add colon" && commit_file "what?.txt" x "Add question" &&
	 commit_file "name." x "Add trailing dot" && commit_file "dir /f" x "Add trailing space" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "\[port\] portable-paths: 6 problems" err &&
	test_grep "con.txt: component .con.txt. is a reserved device name on Windows" err &&
	test_grep "sub/AUX: component .AUX. is a reserved device name on Windows" err &&
	test_grep "a:b.txt: component .a:b.txt. contains .:., which Windows does not allow in file names" err &&
	test_grep "what?.txt: component .what?.txt. contains .?." err &&
	test_grep "name.: component .name.. ends in a dot, which Windows drops from file names" err &&
	test_grep "dir /f: component .dir . ends in a space" err
'

test_expect_success 'windows = false accepts them' '
	policy "windows = false" &&
	(cd work && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	policy
'

test_expect_success 'a newline and an escape sequence in names are reported safely' '
	sync_work &&
	(cd work && commit_file "$(printf "new\nline.txt")" x "Add newline name" &&
	 commit_file "$(printf "esc\033[31mred.txt")" x "Add escape name" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate:       new\\\\nline.txt: path contains the control character 0x0a" err &&
	test_grep "remote: git-gate:       esc\\\\x1b\[31mred.txt: path contains the control character 0x1b" err &&
	no_raw_controls err
'

test_expect_success 'a name that is not UTF-8 is reported with the byte, shown escaped' '
	sync_work &&
	(cd work && commit_file "$(printf "bad\377name.txt")" x "Add latin-1 name" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate:       bad\\\\xffname.txt: path is not valid UTF-8 (byte 0xff at offset 3)" err &&
	no_raw_controls err &&
	policy "utf8 = false" &&
	(cd work && git push origin main 2>../err) &&
	policy
'

test_expect_success 'over-long paths and components' '
	sync_work &&
	long=$(printf "%045d" 0) &&
	deep=$(printf "d%03d/" 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25) &&
	(cd work && commit_file "$long.txt" x "Add long name" && commit_file "${deep}f" x "Add deep path" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "$long.txt: a component is 49 bytes long, more than the 40 allowed (max_component_length)" err &&
	test_grep "${deep}f: path is 126 bytes long, more than the 120 allowed (max_path_length)" err
'

test_expect_success '.git in any case or disguise is rejected' '
	sync_work &&
	(cd work && raw_commit .GIT "Add .GIT" && raw_commit "git~1" "Add short name" &&
	 raw_commit ".git. " "Add dotted" && raw_commit "$(printf ".g\342\200\214it")" "Add HFS trick" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "\[port\] portable-paths: [4-9] problems" err &&
	test_grep "\.GIT: component .\.GIT. is read as .\.git. by git or by Windows/macOS file systems" err &&
	test_grep "git~1: component .git~1. is read as .\.git." err &&
	test_grep "commit $(git -C work rev-parse --short=10 HEAD~1) \"Add dotted\":" err &&
	test_grep "commit $(git -C work rev-parse --short=10 HEAD) \"Add HFS trick\":" err
'

test_expect_success 'allow exempts paths, case = false turns collisions off' '
	sync_work &&
	policy "allow = [ \"legacy/**\" ]" &&
	(cd work && commit_file legacy/con x "Add legacy con" && git push origin main 2>../err) &&
	policy "case = false" &&
	(cd work && echo a >Readme.md && echo b >README.MD && git add Readme.md README.MD &&
	 git commit -q -m "Add readmes" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'bad keys are policy errors' '
	cat >bad.conf <<-\EOF &&
	checks = {
	  p1 = { type = "portable-paths"; windows = "no"; };
	  p2 = { type = "portable-paths"; max_path_length = -1; };
	  p3 = { type = "portable-paths"; allow = [ "[x" ]; cases = false; };
	};
	EOF
	test_expect_code 1 git gate validate bad.conf >out 2>&1 &&
	test_grep "bad.conf:2:.*windows" out &&
	test_grep "bad.conf:3:.*must not be negative" out &&
	test_grep "bad.conf:4:.*bad glob" out &&
	test_grep "bad.conf:4:.*cases" out
'

test_done
