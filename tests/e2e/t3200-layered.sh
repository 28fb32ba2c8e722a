#!/bin/sh
# Layered policy: the system file and the repository's file both apply; a
# final system rule cannot be weakened; explain and validate show where
# every setting comes from, @include files too.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

test_expect_success 'setup: a system file with a final rule, split over an @include' '
	mkdir etc &&
	cat >etc/system.conf <<-\EOF &&
	# the server-wide policy
	rules = (
	  { refs = [ "refs/heads/main" ]; final = true;
	    allow_force_push = false; allow_delete = false;
	    checks = [ "subject" ]; },
	  { refs = [ "refs/tags/*" ]; allow_update = false; }
	);
	@include "checks.inc"
	EOF
	cat >etc/checks.inc <<-\EOF &&
	# shared check definitions
	checks = {
	  subject = { type = "commit-message"; subject_max = 50; };
	};
	EOF
	export GIT_GATE_SYSTEM_CONFIG="$TRASH/etc/system.conf" &&
	git gate validate etc/system.conf &&
	make_victim victim.git &&
	cat >victim.git/git-gate.conf <<-\EOF &&
	# the team wants force pushes everywhere, and its own check
	rules = (
	  { refs = [ "refs/heads/*" ];
	    allow_force_push = true;
	    mode = "warn";
	    checks = [ "nowip" ]; }
	);
	checks = { nowip = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
	make_work work victim.git &&
	test -n "$(ref_of victim.git main)"
'

export GIT_GATE_SYSTEM_CONFIG="$TRASH/etc/system.conf"

test_expect_success 'validate reports the repository file weakening the final rule' '
	test_expect_code 1 git gate validate --repo victim.git 2>err &&
	test_grep "^$(cd victim.git && pwd -P)/git-gate.conf:4: .allow_force_push = true. weakens final rule at $TRASH/etc/system.conf:3" err &&
	test_expect_code 1 git gate validate victim.git 2>err2 &&
	test_cmp err err2 &&
	test_grep "^$(cd victim.git && pwd -P)/git-gate.conf:5: .mode = \"warn\". weakens final rule at $TRASH/etc/system.conf:3" err &&
	test_grep "cannot take effect" err &&
	test_expect_code 1 git gate validate --layered victim.git/git-gate.conf 2>err &&
	test_grep "^victim.git/git-gate.conf:4: .allow_force_push = true. weakens final rule at $TRASH/etc/system.conf:3" err &&
	git gate validate victim.git/git-gate.conf
'

test_expect_success 'the weakening does not take effect: a force push to main is still rejected' '
	(cd work && commit_file a a "Add a" && git push -q origin main &&
	 git reset -q --hard HEAD~1 && commit_file b b "Add b instead" &&
	 test_must_fail git push -f origin main 2>../err) &&
	test_grep "remote: git-gate: ---- refs/heads/main: REJECTED ----" err &&
	test_grep "is not a fast-forward" err &&
	test "$(ref_of victim.git main)" != "$(git -C work rev-parse HEAD)"
'

test_expect_success 'the repository rule applies where the final rule does not reach' '
	(cd work && git checkout -q -b feature && commit_file c c "Add c" && git push -q origin feature &&
	 git reset -q --hard HEAD~1 && commit_file d d "Add d instead" && git push -q -f origin feature &&
	 commit_file e e "WIP e" && git push origin feature 2>../err) &&
	test "$(ref_of victim.git refs/heads/feature)" = "$(git -C work rev-parse HEAD)" &&
	test_grep "WARNING (mode = \"warn\": accepted anyway)" err
'

test_expect_success 'on main the repository can only add: its check runs, enforced' '
	(cd work && git checkout -q main && git reset -q --hard "$(ref_of ../victim.git main)" && commit_file f f "WIP f" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate:   \[nowip\] commit-message: 1 problem" err &&
	test_grep "remote: git-gate: refs/heads/main rejected" err &&
	(cd work && git reset -q --hard HEAD~1 && commit_file g g "This subject is much longer than fifty characters, far too long" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "\[subject\] commit-message" err
'

test_expect_success 'non-final system rules are defaults for refs the repository does not cover' '
	(cd work && git reset -q --hard "$(ref_of ../victim.git main)" && git tag v1 && git push -q origin v1 &&
	 git tag -f v1 HEAD~1 && test_must_fail git push -f origin v1 2>../err) &&
	test_grep "updating .refs/tags/v1. is not allowed" err
'

test_expect_success 'explain shows the combination, each setting with FILE:LINE, @include files too' '
	git gate explain --repo victim.git refs/heads/main >out &&
	R=$(cd victim.git && pwd -P)/git-gate.conf &&
	test_grep "^policy:  $TRASH/etc/system.conf + $R" out &&
	test_grep "^rule:    the system file.s final rule ($TRASH/etc/system.conf:3)" out &&
	test_grep "with the repository.s rule ($R:3) added to it" out &&
	test_grep "^  allow_force_push   false   ($TRASH/etc/system.conf:4)" out &&
	test_grep "^  mode               enforce" out &&
	test_grep "^  checks             subject, nowip" out &&
	test_grep "^    subject          type commit-message   ($TRASH/etc/checks.inc:3)" out &&
	test_grep "^    nowip            type commit-message   ($R:8)" out &&
	test_grep "^warning: $R:4: .allow_force_push = true. weakens final rule" out &&
	git gate explain --repo victim.git refs/heads/feature >out &&
	test_grep "^rule:    #1 of the repository.s 1   ($R:3)" out &&
	test_grep "^  allow_force_push   true   ($R:4)" out &&
	git gate explain --repo victim.git refs/tags/v1 >out &&
	test_grep "^rule:    #2 of the system file.s 2   ($TRASH/etc/system.conf:6)" out
'

test_expect_success 'an error in an @include file is reported with its name and line' '
	cp etc/checks.inc checks.good &&
	printf "checks = {\n  subject = { type = \"commit-message\"; subject_max = \"fifty\"; };\n};\n" >etc/checks.inc &&
	test_expect_code 1 git gate validate etc/system.conf 2>err &&
	test_grep "^etc/checks.inc:2: .subject_max. must be an integer" err &&
	before=$(ref_of victim.git main) &&
	(cd work && commit_file h h "Add h" && test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate: $TRASH/etc/checks.inc:2: " err &&
	test "$(ref_of victim.git main)" = "$before" &&
	cp checks.good etc/checks.inc
'

test_expect_success 'a repository check named like a system check is namespaced' '
	sed -i "s/nowip/subject/g" victim.git/git-gate.conf &&
	git gate explain --repo victim.git refs/heads/main >out &&
	test_grep "^  checks             subject, repo:subject" out &&
	test_grep "^note: .*check .subject. is also defined by the system file" out &&
	(cd work && git reset -q --hard "$(ref_of ../victim.git main)" && commit_file i i "WIP i" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate:   \[repo:subject\] commit-message: 1 problem" err
'

test_expect_success 'a broken system file rejects every push (fail closed)' '
	cp etc/system.conf system.good &&
	echo "rules = oops;" >>etc/system.conf &&
	(cd work && git reset -q --hard "$(ref_of ../victim.git main)" && commit_file j j "Add j" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate: $TRASH/etc/system.conf:" err &&
	test_grep "policy is invalid" err &&
	cp system.good etc/system.conf
'

test_expect_success 'GIT_GATE_CONFIG still overrides both layers, alone' '
	printf "rules = ( { refs = [ \"refs/heads/*\" ]; } );\n" >loose.conf &&
	(cd work && git reset -q --hard "$(ref_of ../victim.git main)~1" && commit_file k k "Add k" &&
	 GIT_GATE_CONFIG="$TRASH/loose.conf" git push -q -f origin main) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_done
