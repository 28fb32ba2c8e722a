#!/bin/sh
# The command check through real pushes: a small Makefile project whose
# `make check` fails on a bad commit, the report, logs, timeouts that
# kill grandchildren, on = "each", the verdict cache and the environment.
# Commands run in the default sandbox (bubblewrap): what they see is read
# back from the logs.  The tests of the unsandboxed supervisor (timeouts
# and leftovers killed by pid) set sandbox = "none".
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# The project: `make check` builds a tiny calculator and tests it.
write_project() {
	# recipes need tabs: printf, not an indented here-document
	printf '%s\n' 'check: calc' \
		'\t@echo run' \
		'\t./calc 2 3 >out.txt' \
		'\t@if test "$$(cat out.txt)" = 5; then echo "PASS: add"; else echo "FAIL: add(2, 3) gave $$(cat out.txt), not 5"; exit 1; fi' \
		'calc: calc.c' \
		'\tcc -o calc calc.c' \
		'.PHONY: check' | sed -e "s/\\\\t/$(printf '\t')/" >Makefile
	cat >calc.c <<-\EOF
	#include <stdio.h>
	#include <stdlib.h>
	int main(int argc, char **argv) { (void)argc; printf("%d\n", atoi(argv[1]) + atoi(argv[2])); return 0; }
	EOF
}

# break_project: make add subtract
break_project() {
	sed -e 's/atoi(argv\[1\]) + atoi/atoi(argv[1]) - atoi/' calc.c >calc.c.new && mv calc.c.new calc.c
}

fix_project() {
	sed -e 's/atoi(argv\[1\]) - atoi/atoi(argv[1]) + atoi/' calc.c >calc.c.new && mv calc.c.new calc.c
}

# process_gone PID: the process has ended (a zombie waiting for init to
# reap it counts as ended); waits up to 5 s for the kill to land
process_gone() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		state=$(sed -e 's/^.*) //' -e 's/ .*//' "/proc/$1/stat" 2>/dev/null) || return 0
		test "$state" = Z && return 0
		i=$((i + 1))
		test $i -gt 50 && { echo "process $1 is still running" >&2; return 1; }
		sleep 0.1
	done
	return 0
}

# runs: how many times victim.git ran the command (a log file per run)
runs() {
	ls "$TRASH/victim.git/git-gate/logs" 2>/dev/null | wc -l | tr -d ' '
}

# last_log REPO: the newest command log of REPO
last_log() {
	ls -t "$TRASH/$1/git-gate/logs/"*.log | head -n 1
}

test_expect_success 'setup' '
	make_victim victim.git &&
	make_work work victim.git &&
	mkdir ws &&
	cat >victim.git/git-gate.conf <<-EOF &&
	workspace = "$TRASH/ws";
	checks = {
	  build = { type = "command"; run = "make check"; timeout = 60; progress_interval = 1; };
	  msg = { type = "commit-message"; forbid = "^WIP"; };
	};
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "msg", "build" ]; } );
	EOF
	(cd work && write_project && git add . && git commit -q -m "Add the calculator")
'

test_expect_success 'a push whose make check passes is accepted' '
	(cd work && git push origin main 2>../err) &&
	sid=$(git -C work rev-parse --short=7 HEAD) &&
	test_grep "remote: git-gate: build: running on $sid" err &&
	test_grep "remote: git-gate: build: passed on $sid in [0-9.]* s" err &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	test "$(runs)" = 1 &&
	ws_empty &&
	ls victim.git/git-gate/logs/*-build-refs_heads_main-$(git -C work rev-parse --short=10 HEAD).log
'

test_expect_success 'a push that breaks make check is rejected with the failing output' '
	before=$(ref_of victim.git main) &&
	(cd work && break_project && git commit -q -a -m "Make add faster" &&
	 test_must_fail git push origin main 2>../err) &&
	bad=$(git -C work rev-parse --short=10 HEAD) &&
	test_grep "remote: git-gate: build: FAILED on ${bad%???} (exit status 2) after" err &&
	test_grep "remote: git-gate:   \[build\] command: 1 problem" err &&
	test_grep "remote: git-gate:     commit $bad \"Make add faster\":" err &&
	test_grep "remote: git-gate:       .make check. failed: exit status 2 after [0-9.]* s; its [0-9]* lines of output:" err &&
	test_grep "remote: git-gate:         | FAIL: add(2, 3) gave -1, not 5" err &&
	test_grep "remote: git-gate:         | make: \*\*\* \[Makefile:4: check\] Error 1" err &&
	test_grep "fix: reproduce with .make check. in a clean checkout of $bad" err &&
	test_grep "remote: git-gate: refs/heads/main rejected: 1 check failed" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	ws_empty
'

test_expect_success 'the full log is kept on the server and named in the report' '
	log=$(sed -n "s/.*full log on the server: \([^ ]*\.log\).*/\1/p" err) &&
	test -n "$log" && test -f "$log" &&
	case "$log" in "$TRASH/victim.git/git-gate/logs/"*) ;; *) false ;; esac &&
	test_grep "^# run: make check$" "$log" &&
	test_grep "^# commit: $(git -C work rev-parse HEAD)" "$log" &&
	test_grep "^FAIL: add(2, 3) gave -1, not 5" "$log" &&
	test_grep "^# git-gate: exit status 2 after" "$log"
'

test_expect_success 'a failure is never cached: the same tree is built again' '
	n=$(runs) &&
	(cd work && test_must_fail git push origin main 2>../err) &&
	test_grep "FAIL: add" err &&
	test_grep ! "cached" err &&
	test "$(runs)" = $((n + 1))
'

test_expect_success 'a tree that already passed is not built again (cached)' '
	(cd work && fix_project && git commit -q -a -m "Fix add" && git push origin main 2>../err) &&
	n=$(runs) &&
	tree=$(git -C work rev-parse --short=7 HEAD^{tree}) &&
	(cd work && git commit -q --allow-empty -m "Same tree, new commit" &&
	 git push origin HEAD:refs/heads/feature 2>../err) &&
	test_grep "remote: git-gate: build: tree $tree already passed (cached) -- not run" err &&
	test_grep ! "build: running" err &&
	test "$(runs)" = $n &&
	test "$(ref_of victim.git feature)" = "$(git -C work rev-parse HEAD)" &&
	grep "\"event\":\"decision\"" victim.git/git-gate/audit.log | tail -n 1 >last &&
	test_grep "\"name\":\"build\",\"type\":\"command\",\"result\":\"cached\"" last &&
	test_grep "\"note\":\"tree $tree already passed (cached): not run\"" last
'

test_expect_success 'changing the check definition invalidates the cache' '
	n=$(runs) &&
	sed -e "s/timeout = 60;/timeout = 61;/" victim.git/git-gate.conf >conf.new &&
	mv conf.new victim.git/git-gate.conf &&
	(cd work && git commit -q --allow-empty -m "Same tree again" && git push origin HEAD:refs/heads/feature2 2>../err) &&
	test_grep ! "cached" err &&
	test_grep "build: passed on" err &&
	test "$(runs)" = $((n + 1))
'

test_expect_success 'a corrupt cache entry is ignored, not trusted' '
	n=$(runs) &&
	for f in victim.git/git-gate/cache/*; do printf "garbage" >>"$f"; done &&
	(cd work && git commit -q --allow-empty -m "Same tree, third time" && git push origin HEAD:refs/heads/feature3 2>../err) &&
	test_grep ! "cached" err &&
	test "$(runs)" = $((n + 1))
'

test_expect_success 'the command is not started when a cheap check already rejected the push' '
	n=$(runs) &&
	(cd work && commit_file notes.txt x "WIP: not ready" && test_must_fail git push origin main 2>../err) &&
	test_grep "\[msg\] commit-message: 1 problem" err &&
	test_grep "\[build\] not started: the push is already rejected by the checks above" err &&
	test_grep ! "build: running" err &&
	test "$(runs)" = $n &&
	(cd work && git reset -q --hard HEAD~1)
'

test_expect_success 'setup: a repository per scenario' '
	for r in env timeout each out; do make_victim $r.git && make_work w-$r $r.git || return 1; done
'

test_expect_success 'the command gets GIT_GATE_* and none of git hook variables; git works in the checkout' '
	cat >env.git/git-gate.conf <<-EOF &&
	workspace = "$TRASH/ws";
	checks = { build = { type = "command"; env = [ "EXTRA=from the policy" ];
	  run = "env | sed s/^/env:/; pwd | sed s/^/pwd:/; git init -q . && git add -A && git -c user.name=T -c user.email=t@e commit -q -m t && git rev-parse HEAD^{tree} | sed s/^/tree:/"; }; };
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
	EOF
	long=a-directory-name-that-is-long-enough/to-make-the-path-longer-than-the-hundred-bytes-of-a-tar-header/and-then-some &&
	(cd w-env && write_project && chmod +x Makefile && ln -s calc.c link.c &&
	 mkdir -p sub/dir "$long" && echo deep >sub/dir/file && echo long >"$long/file.txt" &&
	 ln -s "../../../sub/dir/file/$long/$long" "$long/link-with-a-long-target" &&
	 git add . && git commit -q -m "Project" &&
	 git push origin main 2>../err) &&
	sed -n "s/^env://p" "$(last_log env.git)" >env.out &&
	old=$(git -C w-env rev-parse HEAD~1) && new=$(git -C w-env rev-parse HEAD) &&
	test_grep "^GIT_GATE_REF=refs/heads/main$" env.out &&
	test_grep "^GIT_GATE_OLD=$old$" env.out &&
	test_grep "^GIT_GATE_NEW=$new$" env.out &&
	test_grep "^GIT_GATE_COMMIT=$new$" env.out &&
	test_grep "^GIT_GATE_TREE=$(git -C w-env rev-parse HEAD^{tree})$" env.out &&
	test_grep "^GIT_GATE_USER=tester$" env.out &&
	test_grep "^GIT_GATE_CHECK=build$" env.out &&
	test_grep "^EXTRA=from the policy$" env.out &&
	test_grep ! "^GIT_DIR=" env.out &&
	test_grep ! "^GIT_QUARANTINE_PATH=" env.out &&
	test_grep ! "^GIT_OBJECT_DIRECTORY=" env.out &&
	test_grep ! "^GIT_ALTERNATE_OBJECT_DIRECTORIES=" env.out &&
	test_grep "^GIT_GATE_WORKSPACE=/tmp/workspace$" env.out &&
	test_grep "^pwd:/tmp/workspace$" "$(last_log env.git)" &&
	# the checkout is the exact tree: same modes, symlinks, contents
	test_grep "^tree:$(git -C w-env rev-parse HEAD^{tree})$" "$(last_log env.git)" &&
	ws_empty
'

test_expect_success 'push options do not reach the command' '
	git --git-dir=env.git config receive.advertisePushOptions true &&
	(cd w-env && commit_file more.txt more "More" && git push -o secret=1 origin main 2>../err) &&
	sed -n "s/^env://p" "$(last_log env.git)" >env.out &&
	test_grep "^GIT_GATE_COMMIT=$(git -C w-env rev-parse HEAD)$" env.out &&
	test_grep ! "^GIT_PUSH_OPTION" env.out
'

test_expect_success 'sandbox = "none": on timeout everything the command started is killed, grandchildren too' '
	cat >hang.sh <<-EOF &&
	sh -c "echo \\\$\\\$ >$TRASH/grandchild.pid; exec sleep 1000" &
	sh -c "trap \"\" TERM; echo \\\$\\\$ >$TRASH/stubborn.pid; exec sleep 1000" &
	echo started
	sleep 1000
	EOF
	cat >timeout.git/git-gate.conf <<-EOF &&
	workspace = "$TRASH/ws";
	checks = { build = { type = "command"; sandbox = "none"; timeout = 2; progress_interval = 1; run = "sh ../../hang.sh"; }; };
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
	EOF
	before=$(ref_of timeout.git main) &&
	start=$(date +%s) &&
	(cd w-timeout && commit_file a a "Hang" && test_must_fail git push origin main 2>../err) &&
	end=$(date +%s) &&
	test $((end - start)) -lt 30 &&
	test_grep "build: running on [0-9a-f]* (1 s)" err &&
	test_grep "build: FAILED on [0-9a-f]* (timed out after 2 s)" err &&
	test_grep "remote: git-gate:       .sh ../../hang.sh. timed out after 2 s (the command and everything it started were killed); its 1 line of output:" err &&
	test_grep "| started" err &&
	test "$(ref_of timeout.git main)" = "$before" &&
	test -s grandchild.pid && test -s stubborn.pid &&
	process_gone $(cat grandchild.pid) &&
	process_gone $(cat stubborn.pid) &&
	ws_empty
'

test_expect_success 'sandbox = "none": processes a passing command leaves running are killed' '
	cat >timeout.git/git-gate.conf <<-EOF &&
	workspace = "$TRASH/ws";
	checks = { build = { type = "command"; sandbox = "none"; run = "sleep 1000 & echo \$! >$TRASH/bg.pid; true"; }; };
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
	EOF
	(cd w-timeout && git push origin main 2>../err) &&
	test_grep "build: passed on" err &&
	test -s bg.pid &&
	process_gone $(cat bg.pid) &&
	ws_empty
'

test_expect_success 'on = "each" rejects a push whose middle commit breaks the build' '
	cat >each.git/git-gate.conf <<-EOF &&
	workspace = "$TRASH/ws";
	checks = { build = { type = "command"; run = "make check"; on = "each"; jobs = 2; }; };
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
	EOF
	before=$(ref_of each.git main) &&
	(cd w-each && write_project && git add . && git commit -q -m "Add the calculator" &&
	 break_project && git commit -q -a -m "Break add" &&
	 fix_project && echo "docs" >README && git add README && git commit -q -a -m "Fix add, add docs" &&
	 test_must_fail git push origin main 2>../err) &&
	bad=$(git -C w-each rev-parse --short=10 HEAD~1) &&
	test_grep "build: running on [0-9a-f]* (commit 1 of 3)" err &&
	test_grep "build: running on [0-9a-f]* (commit 3 of 3)" err &&
	test_grep "remote: git-gate:   \[build\] command: 1 problem" err &&
	test_grep "remote: git-gate:     commit $bad \"Break add\":" err &&
	test_grep "| FAIL: add(2, 3) gave -1, not 5" err &&
	test_grep ! "commit $(git -C w-each rev-parse --short=10 HEAD) " err &&
	test "$(ref_of each.git main)" = "$before" &&
	ws_empty
'

test_expect_success 'on = "each" accepts a history whose every commit builds' '
	(cd w-each && git reset -q --hard HEAD~2 && echo "/* tweak */" >>calc.c && git commit -q -a -m "Tweak" &&
	 git push origin main 2>../err) &&
	test_grep "build: passed on" err &&
	test "$(ref_of each.git main)" = "$(git -C w-each rev-parse HEAD)"
'

test_expect_success 'only the last output_lines lines are shown, neutralised; max_output caps the log' '
	cat >noisy.sh <<-\EOF &&
	i=0
	while test $i -lt 200; do echo "line $i"; i=$((i + 1)); done
	printf "\033[31mred\033[0m bell\007 done\n"
	printf "progress 10%%\rprogress 100%%\n"
	exit 3
	EOF
	cat >out.git/git-gate.conf <<-EOF &&
	workspace = "$TRASH/ws";
	checks = { build = { type = "command"; output_lines = 3; max_output = "1 KiB"; run = "sh noisy.sh"; }; };
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
	EOF
	cp noisy.sh w-out/ &&
	(cd w-out && git add noisy.sh && git commit -q -m "Noisy" && test_must_fail git push origin main 2>../err) &&
	test_grep "exit status 3 after [0-9.]* s; last 3 lines of output:" err &&
	test_grep "| line 199 *$" err &&
	test_grep "| red bell\\\\x07 done" err &&
	test_grep "| progress 100%" err &&
	test_grep ! "| line 198" err &&
	test_grep ! "progress 10%" err &&
	! grep "$(printf "\033")" err &&
	! grep "$(printf "\007")" err &&
	log=$(sed -n "s/.*full log on the server: \([^ ]*\.log\).*/\1/p" err) &&
	test_grep "more bytes of output not kept (max_output = 1024)" "$log" &&
	test $(wc -c <"$log") -lt 2000
'

test_done
