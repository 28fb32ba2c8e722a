#!/bin/sh
# The merge queue where people look: `git gate status` (text and --json),
# the status site (status_dir: the page, metrics.prom), the ledger notes a
# clone fetches (refs/notes/gate: a line on each decided item's pushed
# tip) and the item refs it can list -- for waiting, landed, rejected and
# cancelled items, with a hostile subject (terminal escapes, a bidi
# override, HTML) and a hostile user name shown as text everywhere.
. "$GATE_SRCDIR/tests/e2e/lib.sh"
. "$GATE_SRCDIR/tests/e2e/queue-lib.sh"

# queue_note_q COMMIT EXPR: note_q (tests/e2e/lib.sh) as the work clone
# sees the ledger after fetching refs/notes/gate
queue_note_q() {
	git -C work fetch -q -f origin refs/notes/gate:refs/notes/gate &&
	note_q "$@"
}

# page_has [!] PATTERN: the status page holds (or not) PATTERN (without
# printing the whole page when it fails)
page_has() {
	if test "$1" = "!"; then
		! grep -q -e "$2" victim.git/status/index.html || { echo "the page holds: $2" >&2; return 1; }
	else
		grep -q -e "$1" victim.git/status/index.html || { echo "the page lacks: $1" >&2; return 1; }
	fi
}

# no_raw FILE: no ESC, no BEL and no U+202E (right-to-left override) in FILE
no_raw() {
	if grep -q "$(printf '\033')" "$1" || grep -q "$(printf '\007')" "$1" ||
		grep -q "$(printf '\342\200\256')" "$1"; then
		echo "$1 holds a raw control or bidi character" >&2
		return 1
	fi
}

ESC=$(printf '\033')
RLO=$(printf '\342\200\256')
EVIL_SUBJECT="Evil ${ESC}[31mred${ESC}[m ${RLO}txet <script>alert(1)</script> & <b>bold</b>"
EVIL_USER="eve${ESC}]0;owned$(printf '\007')<i>"

test_expect_success 'setup: a queued main, with the status site in status_dir' '
	queue_victim victim.git work &&
	echo "status_dir = \"status\";" >>victim.git/git-gate.conf &&
	git-gate validate --repo victim.git >/dev/null
'

# the first item's test run takes 6 s: long enough for the looks at the
# waiting queue below, even on a loaded machine (the second item may be
# tested with it in one batch, or wait)
test_expect_success 'waiting items: status shows position, item, who, subject and age, neutralised' '
	slow_queue victim.git 6 &&
	(cd work && commit_file a.txt a "Add a" && git push -q origin HEAD:refs/for/main 2>/dev/null &&
	 commit_file b.txt b "$EVIL_SUBJECT" &&
	 GIT_GATE_USER="$EVIL_USER" git push origin HEAD:refs/for/main 2>../err) &&
	test_grep "queued as item 2 for main (position 2)" err &&
	git-gate status --repo victim.git >status &&
	test_grep "^Merge queue" status &&
	test_grep "^  main: 2 waiting or testing$" status &&
	test_grep "^ *1\. item 1  *\(waiting\|testing\) .* by tester  \"Add a\"$" status &&
	test_grep "^ *2\. item 2  *\(waiting  *queued\|testing  *since\) [a-z0-9 ]* by eve\\\\x1b\]0;owned\\\\x07<i>  \"Evil \\\\x1b\[31mred\\\\x1b\[m \\\\xe2\\\\x80\\\\xaetxet <script>" status &&
	no_raw status
'

test_expect_success 'waiting items: --json lists them with position, state and the pushed strings as data' '
	git-gate status --repo victim.git --json >status.json &&
	no_raw status.json &&
	test "$(json_q status.json "j[\"queue\"][\"branches\"][0][\"branch\"]")" = refs/heads/main &&
	test "$(json_q status.json "[(i[\"position\"], i[\"item\"], i[\"user\"]) for i in j[\"queue\"][\"branches\"][0][\"pending\"]]")" = "[(1, 1, '"'"'tester'"'"'), (2, 2, '"'"'eve\\\\x1b]0;owned\\\\x07<i>'"'"')]" &&
	json_q status.json "j[\"queue\"][\"branches\"][0][\"pending\"][1][\"state\"]" | grep -x "waiting\|testing" &&
	json_q status.json "j[\"queue\"][\"branches\"][0][\"pending\"][1][\"subject\"]" >subject &&
	test_grep "^Evil \\\\x1b\[31mred\\\\x1b\[m \\\\xe2\\\\x80\\\\xaetxet <script>alert(1)</script> & <b>bold</b>$" subject &&
	test "$(json_q status.json "j[\"queue\"][\"branches\"][0][\"pending\"][1][\"ref\"]")" = refs/gate-queue/main/2 &&
	test "$(json_q status.json "j[\"queue\"][\"branches\"][0][\"pending\"][1][\"tip\"]")" = "$(git -C work rev-parse HEAD)" &&
	json_q status.json "j[\"queue\"][\"branches\"][0][\"pending\"][1][\"queued\"]" | grep -E "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$"
'

test_expect_success 'waiting items: the site shows them escaped, metrics count them, a clone lists their refs' '
	page_has "<section class=\"card wide\" id=\"queue\"><h2>Merge queue</h2>" &&
	page_has "Evil \\\\x1b\[31mred\\\\x1b\[m \\\\xe2\\\\x80\\\\xaetxet &lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" &&
	page_has "eve\\\\x1b\]0;owned\\\\x07&lt;i&gt;" &&
	page_has ! "<script\|<b>bold\|<i>" &&
	no_raw victim.git/status/index.html &&
	test "$(sed -n "s/^git_gate_queue_items{repository=\"victim.git\",branch=\"refs\/heads\/main\",state=\"\(waiting\|testing\)\"} //p" victim.git/status/metrics.prom | awk "{ n += \$1 } END { print n }")" = 2 &&
	if command -v promtool >/dev/null; then
		promtool check metrics <victim.git/status/metrics.prom
	fi &&
	git -C work ls-remote origin "refs/gate-queue/*" >remote &&
	test_grep "refs/gate-queue/main/1$" remote &&
	test_grep "^$(git -C work rev-parse HEAD)	refs/gate-queue/main/2$" remote
'

test_expect_success 'landed items: main passing by the queue, landed as which commit, in every view' '
	a=$(git -C work rev-parse HEAD~1) && b=$(git -C work rev-parse HEAD) &&
	wait_for_ref victim.git refs/heads/main "$b" &&
	wait_runner_gone victim.git &&
	slow_queue victim.git 0 &&
	git-gate status --repo victim.git >status &&
	test_grep "^  refs/heads/main  ${b%?????????????????????????????????}  landed  \(just now\|[0-9]* min ago\) (.* UTC) by the merge queue, item 2 by eve\\\\x1b" status &&
	test_grep "^  main: 0 waiting or testing$" status &&
	test_grep "^ *item 2  *landed  *\(just now\|[0-9]* min ago\) by eve.* as ${b%????????????????????????????}  \"Evil " status &&
	test_grep "^ *item 1  *landed  *\(just now\|[0-9]* min ago\) by tester as [0-9a-f]\{12\}  \"Add a\"$" status &&
	no_raw status &&
	git-gate status --repo victim.git --json >status.json &&
	test "$(json_q status.json "j[\"refs\"][0][\"state\"], j[\"refs\"][0][\"landed\"][\"item\"]")" = "passing 2" &&
	test "$(json_q status.json "[(i[\"item\"], i[\"state\"], i[\"landed\"]) for i in j[\"queue\"][\"branches\"][0][\"decided\"]][0]")" = "2 landed $b" &&
	test "$(json_q status.json "len(j[\"queue\"][\"branches\"][0][\"pending\"])")" = 0 &&
	page_has "id=\"main-state\">passing<" &&
	page_has "<span class=\"q-landed\">landed</span> by the merge queue (item 2)" &&
	test_grep "^git_gate_queue_items{repository=\"victim.git\",branch=\"refs/heads/main\",state=\"waiting\"} 0$" victim.git/status/metrics.prom &&
	no_raw victim.git/status/index.html
'

test_expect_success 'landed items: a line in the ledger on the pushed tip, fetched by a clone' '
	a=$(git -C work rev-parse HEAD~1) && b=$(git -C work rev-parse HEAD) &&
	test "$(queue_note_q $a "[(l[\"ref\"], l[\"verdict\"], l[\"hook\"], l[\"queue\"][\"item\"]) for l in n if l[\"ref\"].startswith(\"refs/gate-queue/\")]")" = "[('"'"'refs/gate-queue/main/1'"'"', '"'"'landed'"'"', '"'"'queue'"'"', 1)]" &&
	test "$(queue_note_q $b "[(l[\"verdict\"], l[\"queue\"][\"landed\"], l[\"queue\"][\"branch\"]) for l in n if l[\"ref\"] == \"refs/gate-queue/main/2\"]")" = "[('"'"'landed'"'"', '"'"'$b'"'"', '"'"'refs/heads/main'"'"')]" &&
	test "$(queue_note_q $b "[l[\"pusher\"] for l in n if l[\"ref\"] == \"refs/gate-queue/main/2\"]")" = "['"'"'eve\\\\x1b]0;owned\\\\x07<i>'"'"']" &&
	test "$(queue_note_q $b "[l[\"queue\"][\"candidate_tree\"] for l in n if l[\"ref\"] == \"refs/gate-queue/main/2\"][0]")" = "$(git -C work rev-parse HEAD^{tree})" &&
	test "$(queue_note_q $b "[l[\"policy\"][\"sha256\"] for l in n if l[\"ref\"] == \"refs/gate-queue/main/2\"][0]")" = "$(sha256sum victim.git/git-gate.conf | cut -d" " -f1)"
'

test_expect_success 'a rejected item: its reason in status, --json, the site, the audit log and the ledger' '
	(cd work && echo bad >state.txt && git commit -q -a -m "Break <the> state" &&
	 git push -q origin HEAD:refs/for/main 2>/dev/null) &&
	bad=$(git -C work rev-parse HEAD) &&
	wait_state victim.git 3 rejected &&
	wait_runner_gone victim.git &&
	git-gate status --repo victim.git >status &&
	test_grep "^ *item 3  *rejected  *\(just now\|[0-9]* min ago\) by tester  \"Break <the> state\": the checks failed on it" status &&
	git-gate status --repo victim.git --json >status.json &&
	test "$(json_q status.json "[(i[\"item\"], i[\"state\"], i[\"landed\"]) for i in j[\"queue\"][\"branches\"][0][\"decided\"]][0]")" = "3 rejected None" &&
	json_q status.json "j[\"queue\"][\"branches\"][0][\"decided\"][0][\"reason\"]" | grep "^the checks failed on it" &&
	test "$(json_q status.json "j[\"refs\"][0][\"state\"]")" = passing &&
	page_has "<td>3</td><td><span class=\"q-rejected\">rejected</span>" &&
	page_has "Break &lt;the&gt; state</td><td>the checks failed on it" &&
	grep "\"hook\":\"queue\"" victim.git/git-gate/audit.log | grep "\"id\":3," | grep -q "\"verdict\":\"rejected\"" &&
	test "$(queue_note_q $bad "[(l[\"ref\"], l[\"verdict\"], l[\"queue\"][\"landed\"]) for l in n]")" = "[('"'"'refs/gate-queue/main/3'"'"', '"'"'rejected'"'"', None)]" &&
	queue_note_q $bad "n[0][\"queue\"][\"reason\"]" | grep "^the checks failed on it" &&
	(cd work && git reset -q --hard HEAD~1)
'

test_expect_success 'an admin cancel: in the audit log, the ledger, status and the site' '
	slow_queue victim.git 3 &&
	(cd work && commit_file c.txt c "Slow c" && git push -q origin HEAD:refs/for/main 2>/dev/null &&
	 commit_file d.txt d "Cancel d" && git push -q origin HEAD:refs/for/main 2>/dev/null) &&
	d=$(git -C work rev-parse HEAD) &&
	git-gate queue cancel --repo victim.git 5 >out 2>err &&
	test_grep "item 5 cancelled" out &&
	test ! -s err &&
	grep "\"hook\":\"queue\"" victim.git/git-gate/audit.log | grep "\"id\":5," | grep -q "\"verdict\":\"cancelled\"" &&
	test "$(queue_note_q $d "[(l[\"ref\"], l[\"verdict\"]) for l in n]")" = "[('"'"'refs/gate-queue/main/5'"'"', '"'"'cancelled'"'"')]" &&
	queue_note_q $d "n[0][\"queue\"][\"reason\"]" | grep "^cancelled by " &&
	git-gate status --repo victim.git >status &&
	test_grep "^ *item 5  *cancelled  *\(just now\|[0-9]* min ago\) by tester  \"Cancel d\": cancelled by " status &&
	page_has "<td>5</td><td><span class=\"q-cancelled\">cancelled</span>" &&
	wait_for_ref victim.git refs/heads/main "$(git -C work rev-parse HEAD~1)" &&
	wait_runner_gone victim.git &&
	slow_queue victim.git 0 &&
	(cd work && git reset -q --hard HEAD~1)
'

test_expect_success 'a pusher cancel (deleting the item ref) is recorded at once: status, audit log, ledger' '
	(cd work && commit_file f.txt f "Withdraw f") &&
	f=$(git -C work rev-parse HEAD) &&
	# no runner may start meanwhile: the item is recorded by the delete push itself
	flock victim.git/git-gate/queue/runner.lock sh -c "
		cd work && git push -q origin HEAD:refs/for/main 2>/dev/null &&
		git push -q origin --delete refs/gate-queue/main/6 2>/dev/null" &&
	grep -q "^state cancelled$" victim.git/git-gate/queue/items/decided/6 &&
	git-gate status --repo victim.git >status &&
	test_grep "^ *item 6  *cancelled  *\(just now\|[0-9]* min ago\) by tester  \"Withdraw f\": cancelled by its pusher (its ref refs/gate-queue/main/6 was deleted)$" status &&
	test_grep "^  main: 0 waiting or testing$" status &&
	grep "\"hook\":\"queue\"" victim.git/git-gate/audit.log | grep "\"id\":6," | grep -q "\"verdict\":\"cancelled\"" &&
	test "$(queue_note_q $f "[(l[\"ref\"], l[\"verdict\"]) for l in n]")" = "[('"'"'refs/gate-queue/main/6'"'"', '"'"'cancelled'"'"')]" &&
	page_has "<td>6</td><td><span class=\"q-cancelled\">cancelled</span>" &&
	(cd work && git reset -q --hard HEAD~1)
'

test_expect_success 'a push to the ledger is still refused: the queue lines cannot be forged' '
	git -C work notes --ref=gate add -f -m "{\"ledger\":1,\"verdict\":\"landed\"}" HEAD &&
	test_must_fail git -C work push origin refs/notes/gate:refs/notes/gate 2>err &&
	test_grep "refs/notes/gate" err
'

# The page in a real browser (chrome: tests/e2e/lib.sh).

test_expect_success 'in a browser: the queue section shows the hostile subject and user as text' '
	command -v chromium &&
	chrome --dump-dom "file://$TRASH/victim.git/status/index.html" >dom.html &&
	dom_json dom.html >dom.json &&
	python3 - dom.json <<-\EOF
	import json, sys
	d = json.load(open(sys.argv[1], encoding="utf-8"))
	q = d["text"].get("queue", "")
	assert "<script>alert(1)</script> & <b>bold</b>" in q, q[:500]
	assert "eve\\x1b]0;owned\\x07<i>" in q, q[:500]
	assert "Break <the> state" in q and "the checks failed on it" in q, q[:500]
	assert not [t for t in d["tags"] if t[0] in ("script", "img", "i")], [t for t in d["tags"] if t[0] in ("script", "img", "i")]
	assert "\x1b" not in q and "\u202e" not in q
	EOF
'

test_done
