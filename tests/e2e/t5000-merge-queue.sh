#!/bin/sh
# The merge queue over file://: changes pushed to refs/for/main land on
# main only after main's checks passed on them applied to main; direct
# pushes are refused with the way to do it; concurrent developers, a
# conflict, a batch with one bad change, cancelling, and a runner killed
# in the middle of a test run.
. "$GATE_SRCDIR/tests/e2e/lib.sh"
. "$GATE_SRCDIR/tests/e2e/queue-lib.sh"

test_expect_success 'setup: a repository whose main takes changes through the queue' '
	queue_victim victim.git work &&
	test -f victim.git/hooks/proc-receive &&
	test "$(git -C victim.git config receive.procReceiveRefs)" = refs/for &&
	git-gate explain --repo victim.git refs/heads/main >explain &&
	test_grep "queue              true (push to refs/for/<branch>; strategy rebase, batches of up to 4, direct pushes refused)" explain
'

test_expect_success 'a push to refs/for/main returns at once with the item, and the runner lands it later' '
	(cd work && commit_file a.txt a "Add a" && git push origin HEAD:refs/for/main 2>../err) &&
	test_grep "remote: git-gate: queued as item 1 for main (position 1)" err &&
	test_grep "HEAD -> refs/gate-queue/main/1" err &&
	test_grep "push again with -o gate.wait" err &&
	wait_for_ref victim.git refs/heads/main "$(git -C work rev-parse HEAD)" &&
	wait_runner_gone victim.git &&
	test -z "$(ref_of victim.git refs/gate-queue/main/1)" &&
	git-gate queue --repo victim.git >list &&
	test_grep "^ *1  landed .* main .*tester .*Add a" list
'

test_expect_success 'gate.wait: the push stays until the change landed and git shows main updated' '
	before=$(ref_of victim.git main) &&
	slow_queue victim.git 1 &&
	(cd work && git fetch -q && git reset -q --hard origin/main && commit_file b.txt b "Add b" &&
	 git push -o gate.wait origin HEAD:refs/for/main 2>../err) &&
	slow_queue victim.git 0 &&
	test_grep "remote: git-gate: item 2: testing (with item 2)" err &&
	test_grep "remote: git-gate: item 2 landed: main is now [0-9a-f]\{12\} (was ${before%????????????????????????????})" err &&
	test_grep "   ${before%?????????????????????????????????}\.\.[0-9a-f]*  HEAD -> main" err &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	test "$(git -C work rev-parse origin/main)" = "$(git -C work rev-parse HEAD)" &&
	git --git-dir=victim.git notes --ref=gate show main >note &&
	test_grep "\"hook\":\"queue\"" note &&
	test_grep "\"build\"" note
'

test_expect_success 'a change whose test fails is rejected with the output, and main does not move' '
	before=$(ref_of victim.git main) &&
	(cd work && echo bad >state.txt && git commit -q -a -m "Break the state" &&
	 test_must_fail git push -o gate.wait origin HEAD:refs/for/main 2>../err) &&
	test_grep "remote: git-gate: the merge queue tested main with [0-9a-f]* on top (item 3)" err &&
	test_grep "remote: git-gate:         | FAIL: state is bad" err &&
	test_grep "remote: git-gate: item 3 rejected: the checks failed on it" err &&
	test_grep "! \[remote rejected\] HEAD -> refs/for/main (item 3 rejected: the checks failed on it" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	test -z "$(ref_of victim.git refs/gate-queue/main/3)" &&
	git-gate queue show --repo victim.git 3 >show &&
	test_grep "^state:    rejected" show &&
	test_grep "FAIL: state is bad" show &&
	(cd work && git reset -q --hard origin/main)
'

test_expect_success 'a direct push to main is refused with the way to do it' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file c.txt c "Add c" && test_must_fail git push origin HEAD:main 2>../err) &&
	test_grep "remote: git-gate:     .refs/heads/main. takes changes through its merge queue: push with .git push origin HEAD:refs/for/main." err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'a bypass user may still push directly, and it is audited' '
	(cd work && GIT_GATE_USER=admin git push -q -o gate.bypass="hotfix for the outage" origin HEAD:main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	test_grep "hotfix for the outage" victim.git/git-gate/audit.log
'

test_expect_success 'a change the cheap checks refuse is refused at push time and never queues' '
	(cd work && git commit -q --allow-empty -m "WIP: not yet" &&
	 test_must_fail git push origin HEAD:refs/for/main 2>../err) &&
	test_grep "remote: git-gate: ---- refs/for/main: REJECTED ----" err &&
	test_grep "subject matches the forbidden pattern" err &&
	test_grep "\[build\] not run yet: runs in the merge queue" err &&
	test_grep ! "queued as" err &&
	(cd work && git reset -q --hard origin/main)
'

test_expect_success 'two developers based on the same main both land' '
	base=$(ref_of victim.git main) &&
	git clone -q victim.git dev1 && git clone -q victim.git dev2 &&
	(cd dev1 && commit_file one.txt one "Add one") &&
	(cd dev2 && commit_file two.txt two "Add two") || return 1
	(cd dev1 && timeout 120 git push -o gate.wait origin HEAD:refs/for/main >../out1 2>&1; echo $? >../rc1) &
	(cd dev2 && timeout 120 git push -o gate.wait origin HEAD:refs/for/main >../out2 2>&1; echo $? >../rc2) &
	wait &&
	test "$(cat rc1)" = 0 && test "$(cat rc2)" = 0 &&
	git --git-dir=victim.git cat-file -e main:one.txt &&
	git --git-dir=victim.git cat-file -e main:two.txt &&
	git --git-dir=victim.git merge-base --is-ancestor "$base" main &&
	test_grep "landed: main is now" out1 && test_grep "landed: main is now" out2
'

test_expect_success 'changes to different lines of the same file both land, merged' '
	(cd work && git fetch -q && git reset -q --hard origin/main &&
	 printf "one\ntwo\nthree\nfour\nfive\n" >lines.txt && git add lines.txt && git commit -q -m "Add lines" &&
	 git push -q -o gate.wait origin HEAD:refs/for/main 2>/dev/null) &&
	git clone -q victim.git dev4 && git clone -q victim.git dev5 &&
	(cd dev4 && sed -e s/one/ONE/ lines.txt >x && mv x lines.txt && git commit -q -a -m "Shout one" &&
	 git push -q -o gate.wait origin HEAD:refs/for/main 2>/dev/null) &&
	(cd dev5 && sed -e s/five/FIVE/ lines.txt >x && mv x lines.txt && git commit -q -a -m "Shout five" &&
	 git push -q -o gate.wait origin HEAD:refs/for/main 2>/dev/null) &&
	git --git-dir=victim.git show main:lines.txt >lines &&
	printf "ONE\ntwo\nthree\nfour\nFIVE\n" >expect &&
	test_cmp expect lines &&
	test_grep "by cherry-pick" victim.git/git-gate/queue/runner.log
'

test_expect_success 'a change that conflicts with main is rejected and the paths named' '
	git clone -q victim.git dev3 &&
	(cd dev3 && commit_file shared.txt "from dev3" "Write shared from dev3") &&
	(cd work && git fetch -q && git reset -q --hard origin/main &&
	 commit_file shared.txt "from work" "Write shared from work" &&
	 git push -q -o gate.wait origin HEAD:refs/for/main 2>/dev/null) &&
	before=$(ref_of victim.git main) &&
	(cd dev3 && test_must_fail git push -o gate.wait origin HEAD:refs/for/main 2>../err) &&
	test_grep "rejected: conflicts with main (commit [0-9a-f]* \"Write shared from dev3\"): shared.txt" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'a cancelled item never lands and its ref is removed' '
	slow_queue victim.git 3 &&
	(cd work && git fetch -q && git reset -q --hard origin/main &&
	 commit_file slow.txt slow "Slow one" && git push -q origin HEAD:refs/for/main 2>/dev/null &&
	 commit_file cancel.txt x "To be cancelled" && git push origin HEAD:refs/for/main 2>../err) &&
	id=$(sed -n "s/.*queued as item \([0-9]*\).*/\1/p" err) &&
	git-gate status --repo victim.git >status &&
	test_grep "^  main: [0-9]* waiting or testing$" status &&
	test_grep "^ *[0-9]*\. item $id  *waiting  *queued .* by tester  \"To be cancelled\"$" status &&
	git-gate queue cancel --repo victim.git "$id" &&
	test -z "$(ref_of victim.git refs/gate-queue/main/$id)" &&
	wait_runner_gone victim.git &&
	git --git-dir=victim.git cat-file -e main:slow.txt &&
	test_must_fail git --git-dir=victim.git cat-file -e main:cancel.txt &&
	git-gate queue show --repo victim.git "$id" >show &&
	test_grep "^state:    cancelled" show &&
	test_must_fail git-gate queue cancel --repo victim.git "$id" 2>err &&
	test_grep "is already cancelled" err &&
	slow_queue victim.git 0
'

test_expect_success 'a pusher cancels a waiting change by deleting its ref; nobody else can' '
	slow_queue victim.git 3 &&
	(cd work && git fetch -q && git reset -q --hard origin/main &&
	 commit_file slow2.txt slow "Slow two" && git push -q origin HEAD:refs/for/main 2>/dev/null &&
	 commit_file mine.txt x "Mine to cancel" && git push origin HEAD:refs/for/main 2>../err) &&
	id=$(sed -n "s/.*queued as item \([0-9]*\).*/\1/p" err) &&
	(cd work && GIT_GATE_USER=mallory test_must_fail git push origin --delete refs/gate-queue/main/$id 2>../err) &&
	test_grep "belongs to the merge queue" err &&
	(cd work && git push origin --delete refs/gate-queue/main/$id) &&
	wait_state victim.git "$id" cancelled &&
	wait_runner_gone victim.git &&
	test_must_fail git --git-dir=victim.git cat-file -e main:mine.txt &&
	git-gate queue show --repo victim.git "$id" >show &&
	test_grep "cancelled by its pusher" show &&
	slow_queue victim.git 0
'

test_expect_success 'eight changes at once, one bad: the seven land, the bad one is named' '
	(cd work && git fetch -q && git reset -q --hard origin/main) &&
	runs_before=$(test_runs victim.git) &&
	for i in 1 2 3 4 5 6 7 8; do
		git clone -q victim.git p$i &&
		(cd p$i && if test $i = 5; then echo bad >state.txt; git commit -q -a -m "Change $i (bad)";
		           else commit_file f$i.txt $i "Change $i"; fi) || return 1
	done &&
	for i in 1 2 3 4 5 6 7 8; do
		(cd p$i && timeout 300 git push -o gate.wait origin HEAD:refs/for/main >../o$i 2>&1; echo $? >../rc$i) &
	done &&
	wait &&
	for i in 1 2 3 4 6 7 8; do
		test "$(cat rc$i)" = 0 || { cat o$i; return 1; }
		git --git-dir=victim.git cat-file -e main:f$i.txt || return 1
	done &&
	test "$(cat rc5)" != 0 &&
	test_grep "FAIL: state is bad" o5 &&
	test_grep "rejected: the checks failed on it" o5 &&
	test "$(git --git-dir=victim.git show main:state.txt)" = good &&
	say "test runs for 8 changes with one bad: $(( $(test_runs victim.git) - runs_before ))"
'

test_expect_success 'main only ever held trees that passed' '
	every_main_tree_passed victim.git
'

test_expect_success 'the runner killed in the middle of a test run: nothing lost, main untouched, the next runner lands it' '
	slow_queue victim.git 4 &&
	before=$(ref_of victim.git main) &&
	(cd work && git fetch -q && git reset -q --hard origin/main &&
	 commit_file k.txt k "Survive a kill" && git push origin HEAD:refs/for/main 2>../err) &&
	id=$(sed -n "s/.*queued as item \([0-9]*\).*/\1/p" err) &&
	wait_state victim.git "$id" testing &&
	pid=$(cat victim.git/git-gate/queue/runner.pid) &&
	kill -9 -"$pid" &&
	wait_runner_gone victim.git &&
	test "$(ref_of victim.git main)" = "$before" &&
	test -n "$(ref_of victim.git refs/gate-queue/main/$id)" &&
	slow_queue victim.git 0 &&
	git-gate queue run --once --repo victim.git 2>runlog &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	git-gate queue show --repo victim.git "$id" >show &&
	test_grep "^state:    landed" show &&
	every_main_tree_passed victim.git
'

test_expect_success 'a runner killed while a pusher waits: the waiting hook starts another, and the change lands' '
	slow_queue victim.git 3 &&
	(cd work && git fetch -q && git reset -q --hard origin/main && commit_file w.txt w "Wait through a kill") &&
	(cd work && timeout 120 git push -o gate.wait origin HEAD:refs/for/main >../wout 2>&1; echo $? >../wrc) &
	i=0 && while ! grep -q "testing" wout 2>/dev/null; do
		i=$((i + 1)) && test $i -lt 600 || { cat wout; return 1; }
		sleep 0.1
	done &&
	before=$(ref_of victim.git main) &&
	pid=$(cat victim.git/git-gate/queue/runner.pid) &&
	kill -9 -"$pid" &&
	test "$(ref_of victim.git main)" = "$before" &&
	slow_queue victim.git 0 &&
	wait &&
	test "$(cat wrc)" = 0 &&
	test_grep "landed: main is now" wout &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	every_main_tree_passed victim.git
'

test_expect_success 'a runner killed after moving main: the next one records the items as landed' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file j.txt j "Journal" && git push -q origin HEAD:refs/for/main 2>../err) &&
	id=$(sed -n "s/.*queued as item \([0-9]*\).*/\1/p" err) &&
	wait_for_ref victim.git refs/heads/main "$(git -C work rev-parse HEAD)" &&
	wait_runner_gone victim.git &&
	# replay the state a kill between the move and the record leaves
	sed -e "s/^state landed/state testing/" -e "/^landed /d" -e "/^decided /d" \
		victim.git/git-gate/queue/items/decided/$id >victim.git/git-gate/queue/items/$id &&
	rm victim.git/git-gate/queue/items/decided/$id &&
	git --git-dir=victim.git update-ref refs/gate-queue/main/$id "$(git -C work rev-parse HEAD)" &&
	printf "branch refs/heads/main\nold %s\nitem %s %s\n" "$before" "$id" "$(git -C work rev-parse HEAD)" \
		>victim.git/git-gate/queue/landing &&
	git-gate queue run --once --repo victim.git 2>runlog &&
	test_grep "recovering" runlog &&
	git-gate queue show --repo victim.git "$id" >show &&
	test_grep "^state:    landed" show &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	test -z "$(ref_of victim.git refs/gate-queue/main/$id)" &&
	test ! -f victim.git/git-gate/queue/landing
'

test_expect_success 'the merge strategy lands a merge commit of main and the change' '
	set_strategy victim.git merge &&
	git clone -q victim.git m1 &&
	(cd work && git fetch -q && git reset -q --hard origin/main && commit_file m0.txt m0 "Move main" &&
	 git push -q -o gate.wait origin HEAD:refs/for/main 2>/dev/null) &&
	(cd m1 && commit_file m1.txt m1 "Merge me" && git push -q -o gate.wait origin HEAD:refs/for/main 2>/dev/null) &&
	test "$(git --git-dir=victim.git rev-parse main^2)" = "$(git -C m1 rev-parse HEAD)" &&
	git --git-dir=victim.git log -1 --format=%s main >subject &&
	test_grep "^Merge queue item [0-9]* into main" subject
'

test_expect_success 'fast-forward: a change that does not contain main is rejected' '
	set_strategy victim.git fast-forward &&
	git clone -q victim.git ff1 &&
	(cd work && git fetch -q && git reset -q --hard origin/main && commit_file ff0.txt ff0 "Move main again" &&
	 git push -q -o gate.wait origin HEAD:refs/for/main 2>/dev/null) &&
	(cd ff1 && commit_file ff1.txt ff1 "Old base" && test_must_fail git push -o gate.wait origin HEAD:refs/for/main 2>../err) &&
	test_grep "not a fast-forward of main" err &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	set_strategy victim.git rebase
'

test_expect_success 'pushing the same change again follows the item already queued' '
	slow_queue victim.git 2 &&
	(cd work && commit_file again.txt again "Pushed twice" && git push -q origin HEAD:refs/for/main 2>../err1 &&
	 git push -o gate.wait origin HEAD:refs/for/main 2>../err2) &&
	id=$(sed -n "s/.*queued as item \([0-9]*\).*/\1/p" err1) &&
	test_grep "is already queued for main as item $id" err2 &&
	test_grep "item $id landed" err2 &&
	slow_queue victim.git 0
'

test_expect_success 'an atomic push queues all of its changes or none' '
	cp victim.git/git-gate/queue/next before &&
	(cd work && commit_file atomic.txt a "Atomic" &&
	 test_must_fail git push --atomic origin HEAD:refs/for/main HEAD:refs/for/side 2>../err) &&
	test_grep "atomic push: another change of it was refused" err &&
	test_cmp before victim.git/git-gate/queue/next
'

test_expect_success 'the queue namespace cannot be pushed to' '
	(cd work && test_must_fail git push origin HEAD:refs/gate-queue/main/999 2>../err) &&
	test_grep "belongs to the merge queue, which alone writes refs under refs/gate-queue/" err &&
	test -z "$(ref_of victim.git refs/gate-queue/main/999)"
'

test_expect_success 'a branch without a queue refuses refs/for pushes to it' '
	(cd work && git push -q origin HEAD:refs/heads/side 2>/dev/null &&
	 test_must_fail git push origin HEAD:refs/for/side 2>../err) &&
	test_grep "refs/heads/side has no merge queue" err
'

test_expect_success 'every queue decision is in the audit log with the candidate tree' '
	test_grep "\"hook\":\"queue\".*\"verdict\":\"landed\"" victim.git/git-gate/audit.log &&
	test_grep "\"hook\":\"queue\".*\"verdict\":\"rejected\"" victim.git/git-gate/audit.log &&
	grep "\"verdict\":\"passed\"" victim.git/git-gate/audit.log | test_grep "\"tree\":\"[0-9a-f]\{40\}\""
'

test_expect_success 'decided items are forgotten after 30 days' '
	sed -e "s/^decided .*/decided 1000000000/" victim.git/git-gate/queue/items/decided/1 >item &&
	cp item victim.git/git-gate/queue/items/decided/1 &&
	git-gate queue run --once --repo victim.git 2>runlog &&
	test ! -f victim.git/git-gate/queue/items/decided/1 &&
	test -f victim.git/git-gate/queue/items/decided/2 &&
	test -z "$(ls victim.git/git-gate/queue/items | grep -v decided)"
'

test_expect_success 'uninstall removes the proc-receive hook and its routing' '
	git-gate uninstall victim.git >/dev/null &&
	test ! -e victim.git/hooks/proc-receive &&
	test_must_fail git -C victim.git config receive.procReceiveRefs
'

test_done
