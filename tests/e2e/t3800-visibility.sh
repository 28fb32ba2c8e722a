#!/bin/sh
# Visibility: the ledger notes in refs/notes/gate after real pushes
# (accepted, rejected, bypassed, two refs on one commit, concurrent
# pushes), `git gate status` as text and JSON, and the status site
# (status_dir): well-formed SVG, a valid shields.io endpoint, metrics in
# Prometheus' text format, and a page that shows a hostile commit subject
# as text.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

fetch_notes() {
	git -C work fetch -q -f origin refs/notes/gate:refs/notes/gate
}

# A strict reader of Prometheus' text exposition format (version 0.0.4):
# every line is a HELP, a TYPE, or a sample of a declared metric with
# well-formed labels and a float value; histogram buckets are cumulative
# and end with le="+Inf" equal to _count.
prom_check() {
	python3 - "$1" <<-\EOF
	import re, sys
	name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
	label_re = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
	sample = re.compile(r"^(%s)(\{(%s(?:,%s)*)?\})? (\S+)$" % (name_re, label_re, label_re))
	types, helps, seen = {}, set(), {}
	text = open(sys.argv[1], encoding="utf-8").read()
	assert text.endswith("\n"), "no final newline"
	for i, line in enumerate(text.split("\n")[:-1], 1):
	    if line.startswith("# HELP "):
	        name = line.split(" ")[2]
	        assert re.fullmatch(name_re, name) and name not in helps, line
	        helps.add(name)
	    elif line.startswith("# TYPE "):
	        _, _, name, t = line.split(" ")
	        assert t in ("counter", "gauge", "histogram", "summary", "untyped"), line
	        assert name not in types, "TYPE twice: " + line
	        types[name] = t
	    else:
	        m = sample.match(line)
	        assert m, "line %d is not a sample: %r" % (i, line)
	        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
	        float(value.replace("+Inf", "inf"))
	        base = re.sub(r"_(bucket|sum|count)$", "", name)
	        assert name in types or (base in types and types[base] == "histogram"), "undeclared " + name
	        key = (name, labels)
	        assert key not in seen, "duplicate sample " + line
	        seen[key] = float(value.replace("+Inf", "inf"))
	buckets = sorted((float(re.search(r'le="([^"]+)"', k[1]).group(1).replace("+Inf", "inf")), v)
	                 for k, v in seen.items() if k[0] == "git_gate_duration_seconds_bucket")
	assert buckets and buckets[-1][0] == float("inf"), "no +Inf bucket"
	assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), "buckets not cumulative"
	count = [v for k, v in seen.items() if k[0] == "git_gate_duration_seconds_count"][0]
	assert buckets[-1][1] == count, "+Inf bucket != count"
	EOF
}

test_expect_success 'setup' '
	make_victim victim.git &&
	mkdir ws &&
	cat >victim.git/git-gate.conf <<-EOF &&
	workspace = "$TRASH/ws";
	status_dir = "status";
	checks = {
	  msg = { type = "commit-message"; forbid = "^WIP"; };
	  tests = { type = "command"; run = "test -z \"\$LC_TESTS_FAIL\""; timeout = 30; };
	};
	rules = (
	  { refs = [ "refs/heads/main" ]; checks = [ "msg", "tests" ]; bypass_users = [ "oncall" ]; },
	  { refs = [ "refs/heads/**" ]; checks = [ "msg" ]; }
	);
	EOF
	make_work work victim.git &&
	test -L victim.git/hooks/post-receive
'

test_expect_success 'an accepted push leaves a ledger note on the new tip' '
	(cd work && commit_file a.txt a "Add a" && git push -q origin main) &&
	fetch_notes &&
	tip=$(git -C work rev-parse HEAD) &&
	test "$(note_q $tip "len(n), n[0][\"ledger\"], n[0][\"ref\"], n[0][\"new\"], n[0][\"pusher\"], n[0][\"verdict\"]")" = "1 1 refs/heads/main $tip tester accept" &&
	test "$(note_q $tip "n[0][\"old\"]")" = "$(git -C work rev-parse HEAD~1)" &&
	test "$(note_q $tip "n[0][\"tree\"]")" = "$(git -C work rev-parse HEAD^{tree})" &&
	test "$(note_q $tip "sorted((c[\"name\"], c[\"result\"]) for c in n[0][\"checks\"])")" = "[('"'"'msg'"'"', '"'"'pass'"'"'), ('"'"'tests'"'"', '"'"'pass'"'"')]" &&
	test "$(note_q $tip "n[0][\"policy\"][\"sha256\"]")" = "$(sha256sum victim.git/git-gate.conf | cut -d" " -f1)" &&
	note_q $tip "n[0][\"time\"]" | grep -E "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$" &&
	test "$(ls victim.git/git-gate/ledger-pending | wc -l)" = 0
'

test_expect_success 'a rejected push leaves no note' '
	(cd work && commit_file b.txt b "WIP b" && test_must_fail git push origin main 2>../err) &&
	fetch_notes &&
	test_must_fail git -C work notes --ref=gate show HEAD &&
	(cd work && git reset -q --hard HEAD~1)
'

test_expect_success 'a bypassed push is noted with its reason and the skipped checks' '
	(cd work && commit_file c.txt c "WIP hotfix" &&
	 GIT_GATE_USER=oncall git push -q -o "gate.bypass=prod is down" origin main) &&
	fetch_notes &&
	test "$(note_q HEAD "n[0][\"bypass\"], n[0][\"pusher\"]")" = "prod is down oncall" &&
	test "$(note_q HEAD "sorted(set(c[\"result\"] for c in n[0][\"checks\"]))")" = "['"'"'bypassed'"'"']"
'

test_expect_success 'two refs moved to one commit: both notes, merged, none overwritten' '
	(cd work && commit_file d.txt d "Add d" && git push -q origin main && git push -q origin main:refs/heads/release) &&
	fetch_notes &&
	test "$(note_q HEAD "sorted(r[\"ref\"] for r in n)")" = "['"'"'refs/heads/main'"'"', '"'"'refs/heads/release'"'"']"
'

test_expect_success 'a cached pass of a command check is noted as cached' '
	(cd work && git commit -q --allow-empty -m "Same tree" && git push -q origin main) &&
	fetch_notes &&
	test "$(note_q HEAD "[c[\"result\"] for c in n[0][\"checks\"] if c[\"name\"] == \"tests\"][0]")" = cached
'

test_expect_success 'concurrent pushes to eight branches lose no note' '
	for i in 1 2 3 4 5 6 7 8; do
		git clone -q victim.git c$i &&
		(cd c$i && git checkout -q -b topic$i && commit_file f$i f$i "Topic $i") || return 1
	done &&
	for i in 1 2 3 4 5 6 7 8; do
		(cd c$i && git push -q origin topic$i 2>../push$i.err; echo $? >../push$i.rc) &
	done &&
	wait &&
	for i in 1 2 3 4 5 6 7 8; do
		test "$(cat push$i.rc)" = 0 || { cat push$i.err; return 1; }
		git --git-dir=victim.git notes --ref=gate show refs/heads/topic$i >n$i &&
		test_grep "\"ref\":\"refs/heads/topic$i\"" n$i || return 1
	done
'

test_expect_success 'two pushes racing for one branch: only the update that happened is noted' '
	git clone -q victim.git ra && git clone -q victim.git rb &&
	(cd ra && commit_file ra.txt a "Racer a") && (cd rb && commit_file rb.txt b "Racer b") || return 1
	(cd ra && git push -q origin main:refs/heads/race 2>../ra.err; echo $? >../ra.rc) &
	(cd rb && git push -q origin main:refs/heads/race 2>../rb.err; echo $? >../rb.rc) &
	wait &&
	won=$(ref_of victim.git refs/heads/race) &&
	for r in ra rb; do
		c=$(git -C $r rev-parse HEAD) &&
		if test "$c" = "$won"; then
			git --git-dir=victim.git notes --ref=gate show $c >note.$r || return 1
		else
			test_must_fail git --git-dir=victim.git notes --ref=gate show $c || return 1
		fi
	done &&
	case "$(cat ra.rc)$(cat rb.rc)" in 01 | 10) ;; *) cat ra.err rb.err; false ;; esac
'

test_expect_success 'with the update hook, accepted refs are noted too' '
	make_victim upd.git --hook update &&
	test -L upd.git/hooks/post-receive &&
	git -C work push -q ../upd.git main &&
	git --git-dir=upd.git notes --ref=gate show main >upd.note &&
	test_grep "\"hook\":\"update\"" upd.note
'

test_expect_success 'a flaky command check: the same tree failed, then passed' '
	# the sandboxed command sees none of our files, but LC_* from the environment
	(cd work && commit_file e.txt e "Add e" &&
	 (export LC_TESTS_FAIL=1 && test_must_fail git push origin main 2>../err) && git push -q origin main)
'

test_expect_success 'a hostile subject is pushed (and rejected)' '
	(cd work &&
	 git commit -q --allow-empty -m "WIP <script>document.title=\"pwned\";document.body.innerHTML=\"\"</script> & <img src=x onerror=alert(1)>" &&
	 test_must_fail git push origin main 2>../err && git reset -q --hard HEAD~1)
'

test_expect_success 'git gate status shows main, the last decisions and the counts' '
	git gate status --repo victim.git -n 50 >status.out &&
	test_grep "^  refs/heads/main .* rejected .* by tester: msg" status.out &&
	test_grep "^  refs/heads/release .* accepted" status.out &&
	test_grep "rejected  refs/heads/main .*WIP <script>" status.out &&
	test_grep "bypassed  refs/heads/main .*bypass: prod is down" status.out &&
	test_grep "^  pushes  *[12][0-9]  *[12][0-9]$" status.out &&
	test_grep "top rejections, 7 days: msg (2), tests (1)" status.out &&
	test_grep "^  tests  tree $(git -C work rev-parse --short=12 HEAD^{tree})  on refs/heads/main" status.out &&
	test_grep ! "$(printf "\033")" status.out
'

test_expect_success 'git gate status REF shows that ref only' '
	git gate status --repo victim.git release >rel.out &&
	test_grep "^  refs/heads/release " rel.out &&
	test_grep ! "refs/heads/main" rel.out
'

test_expect_success 'colour only when asked or on a terminal' '
	git gate status --repo victim.git --color=always >color.out &&
	test_grep "$(printf "\033")\[31mrejected" color.out
'

test_expect_success 'git gate status --json is valid JSON with the same facts' '
	git gate status --repo victim.git --json >status.json &&
	python3 -m json.tool status.json >/dev/null &&
	test "$(json_q status.json "j[\"refs\"][0][\"ref\"], j[\"refs\"][0][\"state\"], j[\"refs\"][0][\"tip\"]")" = "refs/heads/main failing $(git -C work rev-parse HEAD)" &&
	test "$(json_q status.json "j[\"last_7_days\"][\"rejected\"], j[\"last_7_days\"][\"bypassed\"]")" = "3 1" &&
	test "$(json_q status.json "[r[\"check\"] for r in j[\"last_30_days\"][\"rejections_by_check\"]]")" = "['"'"'msg'"'"', '"'"'tests'"'"']" &&
	test "$(json_q status.json "j[\"recent\"][0][\"subject\"].startswith(\"WIP <script>\")")" = True &&
	test "$(json_q status.json "j[\"flaky_trees\"][0][\"check\"], j[\"flaky_trees\"][0][\"tree\"]")" = "tests $(git -C work rev-parse HEAD^{tree})" &&
	test "$(json_q status.json "j[\"last_7_days\"][\"seconds_p50\"] > 0")" = True
'

test_expect_success 'status_dir holds the site, refreshed by the last decision' '
	for f in index.html badge.svg badge.json metrics.prom; do
		test -s victim.git/status/$f || return 1
	done &&
	test "$(ls -a victim.git/status | grep -c tmp)" = 0 &&
	test_grep "WIP &lt;script&gt;" victim.git/status/index.html &&
	test_grep ! "<script" victim.git/status/index.html
'

test_expect_success 'badge.svg is well-formed SVG saying failing; badge.json is a shields endpoint' '
	python3 -c "
import sys, xml.etree.ElementTree as E
r = E.parse(\"victim.git/status/badge.svg\").getroot()
assert r.tag == \"{http://www.w3.org/2000/svg}svg\", r.tag
t = \"\".join(r.itertext())
assert \"failing\" in t, t
" &&
	test "$(json_q victim.git/status/badge.json "j[\"schemaVersion\"], j[\"label\"], j[\"message\"], j[\"color\"]")" = "1 gate failing red" &&
	test "$(json_q victim.git/status/badge.json "sorted(j)")" = "['"'"'color'"'"', '"'"'label'"'"', '"'"'message'"'"', '"'"'schemaVersion'"'"']"
'

test_expect_success 'every chart in the page is well-formed SVG' '
	python3 - victim.git/status/index.html <<-\EOF
	import re, sys, xml.etree.ElementTree as E
	page = open(sys.argv[1], encoding="utf-8").read()
	svgs = re.findall(r"<svg .*?</svg>", page, re.S)
	ids = []
	for s in svgs:
	    s = s.replace("<svg ", "<svg xmlns=\"http://www.w3.org/2000/svg\" ", 1)
	    ids.append(E.fromstring(s).get("id"))
	assert ids == ["chart-decisions", "chart-durations", "chart-rejections"], ids
	EOF
'

test_expect_success 'metrics.prom is in Prometheus text format with the counts' '
	prom_check victim.git/status/metrics.prom &&
	test_grep "^git_gate_pushes_total{repository=\"victim.git\",ref=\"refs/heads/main\",verdict=\"rejected\"} 3$" victim.git/status/metrics.prom &&
	test_grep "^git_gate_rejections_total{repository=\"victim.git\",check=\"msg\"} 2$" victim.git/status/metrics.prom &&
	test_grep "^git_gate_ref_passing{repository=\"victim.git\",ref=\"refs/heads/main\"} 0$" victim.git/status/metrics.prom &&
	if command -v promtool >/dev/null; then
		promtool check metrics <victim.git/status/metrics.prom
	fi
'

test_expect_success 'git gate status --html writes the same site elsewhere' '
	git gate status --repo victim.git --html site >out &&
	test_grep "wrote the status site to site" out &&
	for f in index.html badge.svg badge.json metrics.prom; do
		test -s site/$f || return 1
	done
'

# The page in a real browser (chrome: tests/e2e/lib.sh).

test_expect_success 'in a browser: main is failing, the counts and a chart are there, the script is text' '
	command -v chromium &&
	chrome --dump-dom "file://$TRASH/site/index.html" >dom.html &&
	pushes=$(json_q status.json "j[\"last_7_days\"][\"pushes\"]") &&
	dom_json dom.html >dom.json &&
	python3 - dom.json "$pushes" <<-\EOF
	import json, re, sys
	d = json.load(open(sys.argv[1], encoding="utf-8"))
	text, tags, title = d["text"], d["tags"], d["title"]
	assert text.get("main-state") == "failing", text.get("main-state")
	assert "pwned" not in title and title.startswith("victim.git"), title
	assert not [t for t in tags if t[0] in ("script", "img")], [t for t in tags if t[0] in ("script", "img")]
	assert "WIP <script>document.title=" in text["recent"], text["recent"][:300]
	assert "<img src=x onerror=alert(1)>" in text["recent"]
	assert re.match(r"(\d+)", text["counts-7"]).group(1) == sys.argv[2], (text["counts-7"], sys.argv[2])
	rects = [t for t in tags if t[0] == "rect" and t[1].get("class") in ("acc", "rej", "byp")]
	assert len(rects) >= 2, rects
	EOF
'

test_expect_success 'in a browser: a screenshot of the office-screen size' '
	chrome --screenshot="$TRASH/screen.png" --window-size=1280,900 "file://$TRASH/site/index.html" &&
	test -s screen.png &&
	python3 -c "
d = open(\"screen.png\", \"rb\").read(32)
assert d[:8] == b\"\\x89PNG\\r\\n\\x1a\\n\"
import struct
w, h = struct.unpack(\">II\", d[16:24])
assert (w, h) == (1280, 900), (w, h)
" &&
	if test -n "${GATE_KEEP_SCREENSHOT:-}"; then cp screen.png "$GATE_KEEP_SCREENSHOT"; fi
'

test_expect_success 'a deleted summary is rebuilt from the audit log with the same counts' '
	git gate status --repo victim.git --json >before.json &&
	rm victim.git/git-gate/status-summary &&
	git gate status --repo victim.git --json >after.json &&
	test "$(json_q before.json "j[\"last_30_days\"], j[\"recent\"], j[\"flaky_trees\"]")" = "$(json_q after.json "j[\"last_30_days\"], j[\"recent\"], j[\"flaky_trees\"]")"
'

test_expect_success 'a reader who cannot write the summary still gets the status' '
	cp -R victim.git ro.git && rm ro.git/git-gate/status-summary* &&
	mkdir ro.git/git-gate/status-summary.lock &&
	git gate status --repo ro.git --json >ro.json &&
	test ! -e ro.git/git-gate/status-summary &&
	test "$(json_q ro.json "j[\"last_7_days\"][\"pushes\"]")" = "$(json_q before.json "j[\"last_7_days\"][\"pushes\"]")"
'

test_expect_success 'nobody pushes to refs/notes/gate: a forged verdict is refused' '
	before=$(ref_of victim.git refs/notes/gate) &&
	fetch_notes &&
	(cd work && git notes --ref=gate add -f -m "{\"ledger\":1,\"verdict\":\"accept\"}" HEAD &&
	 test_must_fail git push origin refs/notes/gate:refs/notes/gate 2>../err &&
	 GIT_GATE_USER=oncall test_must_fail git push -o "gate.bypass=trust me" origin +refs/notes/gate:refs/notes/gate 2>../err2) &&
	test_grep "refs/notes/gate. is written by git-gate only" err &&
	test_grep "refs/notes/gate. is written by git-gate only" err2 &&
	test "$(ref_of victim.git refs/notes/gate)" = "$before" &&
	fetch_notes
'

test_done
