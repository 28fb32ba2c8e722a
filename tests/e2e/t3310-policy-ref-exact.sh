#!/bin/sh
# The policy ref and the CI's notes ref are looked up by their exact full
# names: a branch or a tag that merely ends in the same name (which any
# pusher may create) never stands in for them.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

SYS="$TRASH/etc/system.conf"
export GIT_GATE_SYSTEM_CONFIG="$SYS"

# a commit on an orphan branch of work holding git-gate.conf that turns the gate off
fake_policy() {
	(cd work && git checkout -q --orphan fake && git rm -q -rf . &&
	 printf "rules = ( { refs = [ \"refs/heads/main\" ]; mode = \"off\"; } );\n" >git-gate.conf &&
	 git add git-gate.conf && git commit -q -m "Turn the gate off" && git checkout -q main)
}

wip_push_is_rejected() {
	before=$(ref_of victim.git main) &&
	(cd work && git reset -q --hard "$before" && commit_file w "$1" "WIP: not ready" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate: ---- refs/heads/main: REJECTED ----" err &&
	test_grep "\[nowip\] commit-message: 1 problem" err &&
	test "$(ref_of victim.git main)" = "$before"
}

test_expect_success 'setup: the system file names refs/meta/gate, which does not exist yet' '
	mkdir etc &&
	cat >"$SYS" <<-\EOF &&
	meta_ref = "refs/meta/gate";
	meta_users = [ "alice" ];
	checks = { nowip = { type = "commit-message"; forbid = "^WIP"; }; };
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "nowip" ]; } );
	EOF
	make_victim victim.git &&
	make_work work victim.git &&
	fake_policy &&
	test -z "$(ref_of victim.git refs/meta/gate)"
'

test_expect_success 'a branch named refs/heads/refs/meta/gate is not the policy ref' '
	(cd work && GIT_GATE_USER=mallory git push origin fake:refs/heads/refs/meta/gate 2>../err) &&
	test -n "$(ref_of victim.git refs/heads/refs/meta/gate)" &&
	git gate explain --repo victim.git refs/heads/main >out &&
	test_grep "^policy:  $SYS" out &&
	test_grep "mode *enforce" out &&
	wip_push_is_rejected one
'

test_expect_success 'nor is a tag named refs/tags/refs/meta/gate' '
	(cd work && git push -q origin :refs/heads/refs/meta/gate &&
	 GIT_GATE_USER=mallory git push origin fake:refs/tags/refs/meta/gate 2>../err) &&
	test -z "$(ref_of victim.git refs/heads/refs/meta/gate)" &&
	test -n "$(ref_of victim.git refs/tags/refs/meta/gate)" &&
	wip_push_is_rejected two
'

test_expect_success 'nor a branch named meta/gate (refs/heads/meta/gate)' '
	(cd work && GIT_GATE_USER=mallory git push -q origin fake:refs/heads/meta/gate) &&
	wip_push_is_rejected three
'

# (the git client matches a destination like refs/meta/gate against the
# remote's refs/tags/refs/meta/gate too: the look-alikes go first)
test_expect_success 'the real policy ref is obeyed (the same text, pushed by a meta user)' '
	(cd work && git push -q origin :refs/tags/refs/meta/gate :refs/heads/meta/gate &&
	 GIT_GATE_USER=alice git push -q origin fake:refs/meta/gate) &&
	test "$(ref_of victim.git refs/meta/gate)" = "$(git -C work rev-parse fake)" &&
	(cd work && git reset -q --hard origin/main && commit_file w four "WIP: allowed now" &&
	 git push -q origin main)
'

test_expect_success 'validate refuses a policy ref that is not a full ref name, with FILE:LINE and the name to write' '
	cat >bad.conf <<-\EOF &&
	meta_ref = "meta/gate";
	meta_users = [ "alice" ];
	EOF
	test_expect_code 1 git gate validate bad.conf >out 2>&1 &&
	test_grep "bad.conf:1: .meta_ref.: \"meta/gate\" is not a full ref name: git-gate looks the ref up by exactly this name, never as refs/heads/NAME or refs/tags/NAME; write \"refs/meta/gate\"" out &&
	cat >bad2.conf <<-\EOF &&
	checks = { ci = { type = "ci-status"; notes_ref = "ci"; }; };
	EOF
	test_expect_code 1 git gate validate bad2.conf >out 2>&1 &&
	test_grep "bad2.conf:1: .*.notes_ref.: \"ci\" is not a full ref name.*write \"refs/notes/ci\"" out
'

test_expect_success 'setup: main needs a CI pass recorded in refs/notes/ci, which does not exist' '
	cat >"$SYS" <<-\EOF &&
	checks = { ci = { type = "ci-status"; notes_ref = "refs/notes/ci"; }; };
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "ci" ]; } );
	EOF
	git init -q --bare ci.git && git-gate install ci.git >/dev/null &&
	git init -q ciwork && (cd ciwork && git commit -q --allow-empty -m base &&
	 GIT_GATE_USER=admin git push -q --no-verify "$TRASH/ci.git" main 2>/dev/null || :) &&
	test -z "$(ref_of ci.git refs/notes/ci)"
'

test_expect_success 'a branch refs/heads/refs/notes/ci holding a pass does not vouch for a commit' '
	(cd ciwork && git commit -q --allow-empty -m "Untested" &&
	 git notes --ref=ci add -m pass HEAD &&
	 git push -q "$TRASH/ci.git" refs/notes/ci:refs/heads/refs/notes/ci &&
	 git push -q "$TRASH/ci.git" refs/notes/ci:refs/tags/refs/notes/ci &&
	 test_must_fail git push "$TRASH/ci.git" main 2>../err) &&
	test_grep "\[ci\] ci-status: 1 problem" err &&
	test_grep "refs/notes/ci. does not exist in this repository yet" err &&
	test "$(ref_of ci.git main)" != "$(git -C ciwork rev-parse HEAD)"
'

test_expect_success 'the real notes ref does' '
	(cd ciwork && git push -q "$TRASH/ci.git" :refs/heads/refs/notes/ci :refs/tags/refs/notes/ci &&
	 git push -q "$TRASH/ci.git" refs/notes/ci && git push -q "$TRASH/ci.git" main) &&
	test "$(ref_of ci.git main)" = "$(git -C ciwork rev-parse HEAD)"
'

test_done
