#!/bin/sh
# Ref protection: fast-forward, force-push, delete, create, immutable tags,
# warn mode, and per-ref verdicts with the update hook.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

write_policy() {
	cat >"$1/git-gate.conf" <<-\EOF
	rules = (
	  { refs = [ "refs/heads/main", "refs/heads/release/*" ];
	    allow_force_push = false; allow_delete = false; },
	  { refs = [ "refs/heads/frozen/*" ]; allow_create = false; },
	  { refs = [ "refs/heads/soft" ]; mode = "warn"; allow_force_push = false; },
	  { refs = [ "refs/tags/*" ]; allow_update = false; allow_delete = false; }
	);
	EOF
}

test_expect_success 'setup' '
	make_victim victim.git &&
	make_work work victim.git &&
	write_policy victim.git
'

test_expect_success 'a fast-forward of main is accepted' '
	(cd work && commit_file a.txt a "Add a" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	test_grep ! "remote: git-gate" err
'

test_expect_success 'a force-push to main is rejected and main does not move' '
	before=$(ref_of victim.git main) &&
	(cd work && git reset -q --hard HEAD~1 && commit_file b.txt b "Add b instead" &&
	 test_must_fail git push -f origin main 2>../err) &&
	test_grep "remote: git-gate: ---- refs/heads/main: REJECTED ----" err &&
	test_grep "remote: git-gate: .*.refs/heads/main. is not a fast-forward" err &&
	test_grep "remote: git-gate: .*fix: fetch and rebase" err &&
	test_grep "remote: git-gate: refs/heads/main rejected: 1 check failed" err &&
	test_grep "pre-receive hook declined" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'deleting main is rejected' '
	before=$(ref_of victim.git main) &&
	(cd work && test_must_fail git push origin :main 2>../err) &&
	test_grep "deleting .refs/heads/main. is not allowed" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'release branches share the rule; other branches are free' '
	(cd work && git fetch -q origin && git push -q origin origin/main:refs/heads/release/1 &&
	 test_must_fail git push -f origin HEAD:refs/heads/release/1 2>../err) &&
	test_grep "refs/heads/release/1. is not a fast-forward" err &&
	(cd work && git push -q -f origin HEAD:refs/heads/topic &&
	 git push -q -f origin HEAD~1:refs/heads/topic &&
	 git push -q origin :topic) &&
	test -z "$(ref_of victim.git refs/heads/topic)"
'

test_expect_success 'creating a ref the rule forbids is rejected' '
	(cd work && test_must_fail git push origin HEAD:refs/heads/frozen/x 2>../err) &&
	test_grep "creating .refs/heads/frozen/x. is not allowed" err &&
	test -z "$(ref_of victim.git refs/heads/frozen/x)"
'

test_expect_success 'a tag cannot be moved or deleted once pushed' '
	(cd work && git tag v1 HEAD~1 && git push -q origin v1 &&
	 git tag -f v1 HEAD && test_must_fail git push -f origin v1 2>../err) &&
	test_grep "updating .refs/tags/v1. is not allowed" err &&
	test "$(ref_of victim.git v1)" = "$(git -C work rev-parse HEAD~1)" &&
	(cd work && test_must_fail git push origin :refs/tags/v1 2>../err) &&
	test_grep "deleting .refs/tags/v1. is not allowed" err
'

test_expect_success 'warn mode reports and accepts' '
	(cd work && git push -q origin HEAD:refs/heads/soft &&
	 git push -f origin HEAD~1:refs/heads/soft 2>../err) &&
	test_grep "remote: git-gate: ---- refs/heads/soft: WARNING" err &&
	test_grep "not a fast-forward" err &&
	test_grep "accepted with warnings" err &&
	test "$(ref_of victim.git soft)" = "$(git -C work rev-parse HEAD~1)"
'

test_expect_success 'pre-receive rejects the whole push when one ref is bad' '
	main_before=$(ref_of victim.git main) &&
	(cd work && test_must_fail git push -f origin HEAD:refs/heads/other HEAD:main 2>../err) &&
	test_grep "refs/heads/main: REJECTED" err &&
	test -z "$(ref_of victim.git refs/heads/other)" &&
	test "$(ref_of victim.git main)" = "$main_before"
'

test_expect_success 'the update hook refuses one ref and lets the other land' '
	make_victim per-ref.git --hook update &&
	make_work work2 per-ref.git &&
	write_policy per-ref.git &&
	(cd work2 && commit_file x x "Add x" && git push -q origin main &&
	 git reset -q --hard HEAD~1 && commit_file y y "Add y" &&
	 test_must_fail git push -f origin HEAD:main HEAD:refs/heads/feature 2>../err) &&
	test_grep "remote: git-gate: ---- refs/heads/main: REJECTED ----" err &&
	test_grep "HEAD -> main (hook declined)" err &&
	test "$(ref_of per-ref.git feature)" = "$(git -C work2 rev-parse HEAD)" &&
	test "$(ref_of per-ref.git main)" != "$(git -C work2 rev-parse HEAD)"
'

test_expect_success 'without a policy file the default branch is still protected' '
	make_victim plain.git &&
	make_work work3 plain.git &&
	(cd work3 && git commit -q --amend -m changed && test_must_fail git push -f origin main 2>../err) &&
	test_grep "policy: built-in default" err &&
	(cd work3 && test_must_fail git push origin :main 2>../err) &&
	test_grep "deleting .refs/heads/main. is not allowed" err &&
	(cd work3 && git push -q -f origin HEAD:refs/heads/scratch && git push -q -f origin HEAD~0:scratch && git push -q origin :scratch)
'

test_expect_success 'the default follows HEAD when the default branch is not main' '
	git init -q --bare -b trunk trunk.git &&
	git gate install trunk.git >/dev/null &&
	(cd work3 && git push -q ../trunk.git HEAD:trunk && git push -q ../trunk.git HEAD:main &&
	 git push -q ../trunk.git :main &&
	 test_must_fail git push ../trunk.git :trunk 2>../err) &&
	test_grep "deleting .refs/heads/trunk. is not allowed" err
'

test_done
