#!/bin/sh
# Symbolic refs on the server (refs/heads/latest -> refs/heads/main, a
# common master -> main alias): git updates through them, so a push to
# the alias is judged as one to the ref that really moves, by that ref's
# rule and with its old value; with pre-receive and with the update hook.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

policy() {
	cat >"$1/git-gate.conf" <<-\EOF
	checks = { nowip = { type = "commit-message"; forbid = "^WIP"; }; };
	rules = (
	  { refs = [ "refs/heads/main" ]; checks = [ "nowip" ]; allow_force_push = false; allow_delete = false; },
	  { refs = [ "refs/heads/release/*" ]; allow_create = false; },
	  { refs = [ "refs/heads/**" ]; allow_force_push = true; }
	);
	EOF
}

for hook in pre-receive update; do

test_expect_success "$hook: setup, refs/heads/latest -> refs/heads/main on the server" '
	rm -rf victim.git work &&
	make_victim victim.git --hook $hook &&
	policy victim.git &&
	make_work work victim.git &&
	(cd work && commit_file a one "Add a" && git push -q origin main) &&
	git --git-dir=victim.git symbolic-ref refs/heads/latest refs/heads/main &&
	git --git-dir=victim.git symbolic-ref refs/heads/alias2 refs/heads/latest &&
	git gate explain --repo victim.git refs/heads/latest >out &&
	test_grep "^symref:  a symbolic ref to refs/heads/main: a push to refs/heads/latest moves refs/heads/main," out &&
	test_grep "^rule:    #1 of 3" out &&
	git gate explain --repo victim.git refs/heads/alias2 >out &&
	test_grep "^symref:  a symbolic ref to refs/heads/main" out
'

test_expect_success "$hook: a WIP commit pushed to the alias does not move main" '
	before=$(ref_of victim.git refs/heads/main) &&
	(cd work && git fetch -q origin && git reset -q --hard origin/main && commit_file b wip "WIP: half done" &&
	 test_must_fail git push origin HEAD:refs/heads/latest 2>../err) &&
	test_grep "remote: git-gate: ---- refs/heads/main (pushed as refs/heads/latest, a symbolic ref to it): REJECTED ----" err &&
	test_grep "\[nowip\] commit-message: 1 problem" err &&
	test "$(ref_of victim.git refs/heads/main)" = "$before"
'

test_expect_success "$hook: nor through an alias of the alias" '
	before=$(ref_of victim.git refs/heads/main) &&
	(cd work && test_must_fail git push origin HEAD:refs/heads/alias2 2>../err) &&
	test_grep "pushed as refs/heads/alias2, a symbolic ref to it): REJECTED" err &&
	test "$(ref_of victim.git refs/heads/main)" = "$before"
'

test_expect_success "$hook: a force push to the alias does not rewind main (allow_force_push = false)" '
	(cd work && git reset -q --hard origin/main && commit_file c good "Add c" && git push -q origin HEAD:refs/heads/latest) &&
	before=$(ref_of victim.git refs/heads/main) &&
	test "$before" = "$(git -C work rev-parse HEAD)" &&
	(cd work && test_must_fail git push -f origin HEAD~2:refs/heads/latest 2>../err) &&
	test_grep "refs/heads/main. is not a fast-forward" err &&
	test "$(ref_of victim.git refs/heads/main)" = "$before"
'

test_expect_success "$hook: deleting through the alias does not delete main" '
	before=$(ref_of victim.git refs/heads/main) &&
	(cd work && test_must_fail git push origin :refs/heads/latest 2>../err) &&
	test_grep "deleting .refs/heads/main. is not allowed" err &&
	test "$(ref_of victim.git refs/heads/main)" = "$before"
'

test_expect_success "$hook: a good commit pushed to the alias moves main, and the audit log says how" '
	(cd work && commit_file d good "Add d" && git push -q origin HEAD:refs/heads/latest) &&
	test "$(ref_of victim.git refs/heads/main)" = "$(git -C work rev-parse HEAD)" &&
	test "$(git --git-dir=victim.git symbolic-ref refs/heads/latest)" = refs/heads/main &&
	tail -n 1 victim.git/git-gate/audit.log >last &&
	test_grep "\"ref\":\"refs/heads/main\",\"via\":\"refs/heads/latest\"" last
'

test_expect_success "$hook: a dangling symbolic ref: the push creates its target, judged by the target's rule" '
	git --git-dir=victim.git symbolic-ref refs/heads/next-release refs/heads/release/1 &&
	(cd work && test_must_fail git push origin HEAD:refs/heads/next-release 2>../err) &&
	test_grep "creating .refs/heads/release/1. is not allowed" err &&
	test -z "$(ref_of victim.git refs/heads/release/1)"
'

# (git itself refuses a "broken symref" before it runs the update hook)
test_expect_success "$hook: a symbolic ref loop cannot be judged: the push is rejected" '
	git --git-dir=victim.git symbolic-ref refs/heads/loop1 refs/heads/loop2 &&
	git --git-dir=victim.git symbolic-ref refs/heads/loop2 refs/heads/loop1 &&
	(cd work && test_must_fail git push origin HEAD:refs/heads/loop1 2>../err) &&
	if test $hook = pre-receive; then
		test_grep "cannot judge this push: .refs/heads/loop1. is a symbolic ref that leads through more than 5 others" err
	else
		test_grep "broken symref" err
	fi &&
	git --git-dir=victim.git update-ref -d --no-deref refs/heads/loop1 &&
	git --git-dir=victim.git update-ref -d --no-deref refs/heads/loop2
'

done

test_done
