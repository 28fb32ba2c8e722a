#!/bin/sh
# Names the pusher chooses (ref names with bidirectional overrides or C1
# controls, user names with newlines or escape sequences, push options)
# reach the pusher's terminal, the command logs and the audit log only
# neutralised: no raw control, C1 or bidi character gets through.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

RLO=$(printf '\342\200\256')   # U+202E RIGHT-TO-LEFT OVERRIDE
CSI=$(printf '\302\233')       # U+009B CONTROL SEQUENCE INTRODUCER, as UTF-8
RAW=$(printf '\233')           # the byte 0x9b alone (not UTF-8)
ESC=$(printf '\033')
LRI=$(printf '\342\201\246')   # U+2066 LEFT-TO-RIGHT ISOLATE
ALM=$(printf '\330\234')       # U+061C ARABIC LETTER MARK

# no_raw FILE: the gate's lines in FILE (all of FILE when it has no
# remote: lines: a log) hold none of the dangerous characters as such:
# C0 controls but tab, DEL, C1 (as UTF-8 or as a lone byte), U+061C,
# U+200E/F, U+2028-202E, U+2066-2069.  Bytes compared in the C locale.
no_raw() {
	if grep -q "^remote: " "$1"; then grep "^remote: git-gate" "$1"; else cat "$1"; fi |
	sed -e "s/[[:space:]]*\$//" >"$1.gate" &&
	if LC_ALL=C grep -n -P '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]|(?<![\xc2-\xf4\x80-\xbf])[\x80-\xbf]' "$1.gate" >"$1.bad"; then
		echo "raw dangerous bytes in $1:" >&2
		od -c "$1.bad" | head -20 >&2
		return 1
	fi
}

test_expect_success 'git accepts such ref names' '
	git check-ref-format "refs/heads/a${RLO}b" &&
	git check-ref-format "refs/heads/c${CSI}31m" &&
	git check-ref-format "refs/heads/r${RAW}x"
'

test_expect_success 'setup' '
	make_victim victim.git &&
	git --git-dir=victim.git config receive.advertisePushOptions true &&
	mkdir ws &&
	cat >victim.git/git-gate.conf <<-EOF &&
	workspace = "$TRASH/ws";
	checks = {
	  nowip = { type = "commit-message"; forbid = "^WIP"; };
	  build = { type = "command"; run = "sh paint.sh"; cache = false; };
	};
	rules = (
	  { refs = [ "refs/heads/main" ]; },
	  { refs = [ "refs/heads/**" ]; checks = [ "nowip" ]; exempt_users = [ "bot" ]; bypass_users = [ "lead" ]; }
	);
	EOF
	make_work work victim.git &&
	(cd work && printf "%s\\n" "printf '"'"'paint \\033[31m red \\302\\233 csi \\342\\200\\256 rlo\\n'"'"'" "exit 1" >paint.sh &&
	 git add paint.sh && git commit -q -m "Add paint" && commit_file w one "WIP: not ready" &&
	 git rev-parse HEAD >../wip.sha) &&
	sed -e "s/{ refs = \[ \"refs\/heads\/main\" \]; }/{ refs = [ \"refs\/heads\/main\" ]; checks = [ \"build\" ]; }/" \
		victim.git/git-gate.conf >with-build.conf &&
	test_grep "checks = \[ \"build\" \]" with-build.conf
'

test_expect_success 'a ref name with U+202E is shown neutralised in the report' '
	(cd work && test_must_fail git push origin "HEAD:refs/heads/a${RLO}b" 2>../err) &&
	test_grep "remote: git-gate: ---- refs/heads/a\\\\xe2\\\\x80\\\\xaeb: REJECTED ----" err &&
	test_grep "remote: git-gate: refs/heads/a\\\\xe2\\\\x80\\\\xaeb rejected: 1 check failed" err &&
	no_raw err
'

test_expect_success 'a ref name with a C1 CSI (as UTF-8, and as a raw byte) is shown neutralised' '
	(cd work && test_must_fail git push origin "HEAD:refs/heads/c${CSI}31m" 2>../err) &&
	test_grep -e "---- refs/heads/c\\\\xc2\\\\x9b31m: REJECTED ----" err &&
	no_raw err &&
	(cd work && test_must_fail git push origin "HEAD:refs/heads/r${RAW}x" 2>../err) &&
	test_grep -e "---- refs/heads/r\\\\x9bx: REJECTED ----" err &&
	no_raw err
'

test_expect_success 'the exemption line neutralises the ref name' '
	(cd work && GIT_GATE_USER=bot git push origin "HEAD:refs/heads/x${LRI}y${ALM}" 2>../err) &&
	test_grep "remote: git-gate: refs/heads/x\\\\xe2\\\\x81\\\\xa6y\\\\xd8\\\\x9c: the pusher is exempt from this ref.s rule" err &&
	no_raw err
'

test_expect_success 'the bypass line neutralises the ref name and the reason' '
	(cd work && GIT_GATE_USER=lead git push -o "gate.bypass=hotfix${RLO}now" origin "HEAD:refs/heads/b${CSI}z" 2>../err) &&
	test_grep "remote: git-gate: refs/heads/b\\\\xc2\\\\x9bz: checks BYPASSED, reason: \"hotfix\\\\xe2\\\\x80\\\\xaenow\" (logged)" err &&
	no_raw err
'

test_expect_success 'a user name with a newline and ESC forges no line in the command log' '
	cp with-build.conf victim.git/git-gate.conf &&
	(cd work && git reset -q --hard HEAD~1 && commit_file g good "Good change" &&
	 test_must_fail env -u GIT_GATE_USER REMOTE_USER="eve${ESC}[2J
# pusher: root" git push origin "HEAD:main" 2>../err) &&
	no_raw err &&
	test_grep "\[build\] command: 1 problem" err &&
	# (colour sequences are dropped from the report, the rest escaped)
	test_grep "| paint  red \\\\xc2\\\\x9b csi \\\\xe2\\\\x80\\\\xae rlo" err &&
	log=$(ls victim.git/git-gate/logs/*.log) &&
	test $(grep -c "^# pusher: " $log) = 1 &&
	test_grep "^# pusher: eve\\\\x1b\[2J\\\\n# pusher: root$" $log &&
	test_grep "^paint \\\\x1b\[31m red \\\\xc2\\\\x9b csi \\\\xe2\\\\x80\\\\xae rlo$" $log &&
	no_raw $log
'

test_expect_success 'the audit log stays valid JSON with every such character escaped' '
	log=victim.git/git-gate/audit.log &&
	python3 -c "import json,sys; [json.loads(l) for l in sys.stdin]" <$log &&
	no_raw $log &&
	test_grep "\"ref\":\"refs/heads/a\\\\u202eb\"" $log &&
	test_grep "\"ref\":\"refs/heads/c\\\\u009b31m\"" $log &&
	test_grep "\"ref\":\"refs/heads/x\\\\u2066y\\\\u061c\"" $log &&
	test_grep "\"user\":\"eve\\\\u001b\[2J\\\\n# pusher: root\"" $log
'

test_expect_success 'with the update hook too' '
	make_victim upd.git --hook update &&
	cp victim.git/git-gate.conf upd.git/ &&
	(cd work && test_must_fail git push "$TRASH/upd.git" "$(cat ../wip.sha):refs/heads/a${RLO}b" 2>../err) &&
	test_grep -e "---- refs/heads/a\\\\xe2\\\\x80\\\\xaeb: REJECTED ----" err &&
	no_raw err
'

test_done
