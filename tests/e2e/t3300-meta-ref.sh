#!/bin/sh
# Policy as code: the repository's policy lives in refs/meta/gate, is
# validated when pushed, and only meta_users may push it.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

SYS="$TRASH/etc/system.conf"
export GIT_GATE_SYSTEM_CONFIG="$SYS"

# push_policy USER [FILE...]: commit the given files (default: policy.conf
# as git-gate.conf) on the gate branch of work, push it as USER
push_policy() {
	user=$1
	(cd work && git checkout -q gate &&
	 git rm -q -r --cached . >/dev/null 2>&1; rm -f git-gate.conf other.txt;
	 cp ../policy.conf git-gate.conf && git add git-gate.conf &&
	 git commit -q --allow-empty -m "Policy change" &&
	 GIT_GATE_USER=$user git push origin gate:refs/meta/gate; rc=$?;
	 git checkout -q main; exit $rc)
}

test_expect_success 'setup: the system file enables the policy ref' '
	mkdir etc &&
	cat >"$SYS" <<-\EOF &&
	groups = { policy = [ "alice" ]; };
	meta_ref = "refs/meta/gate";
	meta_users = [ "@policy" ];
	rules = (
	  { refs = [ "refs/heads/main" ]; final = true; allow_force_push = false; allow_delete = false; }
	);
	EOF
	make_victim victim.git &&
	make_work work victim.git &&
	(cd work && git checkout -q --orphan gate && git rm -q -rf . && git commit -q --allow-empty -m "Empty policy branch" &&
	 git checkout -q main) &&
	git gate explain --repo victim.git refs/heads/main >out &&
	test_grep "^policy ref: refs/meta/gate, changed only by @policy ($SYS)" out
'

test_expect_success 'someone meta_users does not name cannot push the policy ref' '
	cat >policy.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/**" ]; checks = [ "nowip" ]; } );
	checks = { nowip = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
	test_must_fail push_policy bob 2>err &&
	test_grep "remote: git-gate: ---- refs/meta/gate: REJECTED ----" err &&
	test_grep "remote: git-gate: .*.refs/meta/gate. holds this repository.s policy: only the users named by meta_users in the system policy may change it, and .bob. is not one of them" err &&
	test -z "$(ref_of victim.git refs/meta/gate)"
'

test_expect_success 'a broken policy is rejected with FILE:LINE' '
	cat >policy.conf <<-\EOF &&
	rules = (
	  { refs = [ "refs/heads/**" ]; checks = [ "nowip" ]; colour = "blue"; }
	);
	checks = {
	  nowip = { type = "commit-message"; forbid = "(unclosed"; };
	};
	EOF
	test_must_fail push_policy alice 2>err &&
	test_grep "remote: git-gate: .*new policy: refs/meta/gate:git-gate.conf:2: unknown key .colour. in rule" err &&
	test_grep "remote: git-gate: .*new policy: refs/meta/gate:git-gate.conf:5: .forbid.: bad pattern" err &&
	test_grep "git gate validate --meta" err &&
	test -z "$(ref_of victim.git refs/meta/gate)"
'

test_expect_success 'escape sequences in a pushed policy are shown neutralised' '
	esc=$(printf "\033") &&
	printf "rules = ( { refs = [ \"refs/heads/*\" ]; checks = [ \"x${esc}[31mred\" ]; } );\n" >policy.conf &&
	test_must_fail push_policy alice 2>err &&
	test_grep "no check named .x\\\\x1b\[31mred." err &&
	! grep "$esc" err &&
	test -z "$(ref_of victim.git refs/meta/gate)"
'

test_expect_success 'a policy that would forbid changing itself is rejected' '
	printf "rules = ( { refs = [ \"refs/meta/*\" ]; allow_update = false; } );\n" >policy.conf &&
	test_must_fail push_policy alice 2>err &&
	test_grep "new policy: its rule for .refs/meta/gate. (refs/meta/gate:git-gate.conf:1) forbids updating that ref" err &&
	test_grep "fix: leave the policy ref out" err &&
	test -z "$(ref_of victim.git refs/meta/gate)"
'

test_expect_success 'a stored policy cannot point the signature check outside the git directory' '
	cat >policy.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/**" ]; checks = [ "signed" ]; } );
	checks = { signed = { type = "signature"; format = "gpg"; gnupg_home = "/tmp/evil";
	                      keyring = "../x.gpg"; }; };
	EOF
	test_must_fail push_policy alice 2>err &&
	test_grep "new policy: refs/meta/gate:git-gate.conf:2: check .signed.: .gnupg_home. must be a path inside the repository" err &&
	test_grep "new policy: refs/meta/gate:git-gate.conf:3: check .signed.: .keyring. must be a path inside the repository" err &&
	test -z "$(ref_of victim.git refs/meta/gate)"
'

test_expect_success 'a syntax error is rejected with its line too' '
	printf "rules = (\n  { refs = [ \"refs/heads/*\" ] \n  mode = ; }\n);\n" >policy.conf &&
	test_must_fail push_policy alice 2>err &&
	test_grep "remote: git-gate: .*new policy: refs/meta/gate:git-gate.conf:3: " err &&
	test -z "$(ref_of victim.git refs/meta/gate)"
'

test_expect_success 'a policy that weakens a final system rule is rejected' '
	cat >policy.conf <<-\EOF &&
	rules = (
	  { refs = [ "refs/heads/*" ];
	    allow_force_push = true; }
	);
	EOF
	test_must_fail push_policy alice 2>err &&
	test_grep "remote: git-gate: .*new policy: refs/meta/gate:git-gate.conf:3: .allow_force_push = true. weakens final rule at $SYS:5" err &&
	test -z "$(ref_of victim.git refs/meta/gate)" &&
	cp policy.conf weak.conf &&
	test_expect_code 1 git gate validate --meta weak.conf 2>err &&
	test_grep "^weak.conf:3: .allow_force_push = true. weakens final rule at $SYS:5" err
'

test_expect_success 'a warn rule for all branches after the rule for main is not refused as weakening' '
	cat >policy.conf <<-\EOF &&
	rules = (
	  { refs = [ "refs/heads/main" ]; },
	  { refs = [ "refs/heads/**" ]; mode = "warn"; allow_force_push = true; }
	);
	EOF
	push_policy alice 2>err &&
	test_grep ! "weakens" err &&
	test -n "$(ref_of victim.git refs/meta/gate)" &&
	git --git-dir=victim.git update-ref -d refs/meta/gate
'

test_expect_success 'a policy in the repository may not read server files or set server keys' '
	cat >policy.conf <<-\EOF &&
	audit_log = "/tmp/elsewhere.log";
	@include "/etc/passwd"
	EOF
	test_must_fail push_policy alice 2>err &&
	test_grep "new policy: refs/meta/gate:git-gate.conf:2: @include is not allowed" err &&
	echo "audit_log = \"/tmp/elsewhere.log\";" >policy.conf &&
	test_must_fail push_policy alice 2>err &&
	test_grep "new policy: refs/meta/gate:git-gate.conf:1: .audit_log.: is a server setting" err &&
	printf "checks = { t = { type = \"command\"; run = \"true\"; }; };\n" >policy.conf &&
	test_must_fail push_policy alice 2>err &&
	test_grep "check .t.: checks of type command run programs on the server" err &&
	test -z "$(ref_of victim.git refs/meta/gate)"
'

test_expect_success 'the policy must be git-gate.conf at the top of the tree' '
	(cd work && git checkout -q gate && git rm -q -r --cached . >/dev/null 2>&1; rm -f git-gate.conf;
	 echo x >other.txt && git add other.txt && git commit -q -m "No policy" &&
	 test_must_fail env GIT_GATE_USER=alice git push origin gate:refs/meta/gate 2>../err;
	 rc=$?; git checkout -q main; exit $rc) &&
	test_grep "new policy: there is no git-gate.conf at the top of the pushed tree" err &&
	test -z "$(ref_of victim.git refs/meta/gate)"
'

test_expect_success 'a good policy is accepted and judges the next push' '
	cat >policy.conf <<-\EOF &&
	# the team policy, reviewed like code
	rules = ( { refs = [ "refs/heads/**" ]; checks = [ "nowip" ]; } );
	checks = { nowip = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
	git gate validate --meta policy.conf &&
	push_policy alice 2>err &&
	test "$(ref_of victim.git refs/meta/gate)" = "$(git -C work rev-parse gate)" &&
	before=$(ref_of victim.git main) &&
	(cd work && commit_file a a "WIP a" && test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate:   \[nowip\] commit-message: 1 problem" err &&
	test_grep "policy: $SYS + refs/meta/gate:git-gate.conf" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	git gate explain --repo victim.git refs/heads/topic >out &&
	test_grep "^    nowip            type commit-message   (refs/meta/gate:git-gate.conf:3)" out &&
	git gate validate --repo victim.git >out &&
	test_grep "valid" out
'

test_expect_success 'GIT_DIR/git-gate.conf is not read while the policy ref is on' '
	printf "rules = ( { refs = [ \"refs/heads/**\" ]; allow_create = false; } );\n" >victim.git/git-gate.conf &&
	(cd work && git reset -q --hard HEAD~1 && git push -q origin main:refs/heads/new-branch) &&
	test -n "$(ref_of victim.git refs/heads/new-branch)" &&
	rm victim.git/git-gate.conf
'

test_expect_success 'someone else cannot delete the policy ref either, and a meta user can' '
	(cd work && GIT_GATE_USER=bob test_must_fail git push origin :refs/meta/gate 2>../err) &&
	test_grep "is not one of them" err &&
	test -n "$(ref_of victim.git refs/meta/gate)" &&
	(cd work && GIT_GATE_USER=alice git push -q origin :refs/meta/gate) &&
	test -z "$(ref_of victim.git refs/meta/gate)" &&
	(cd work && commit_file b b "WIP b" && git push -q origin main)
'

test_expect_success 'a stored policy the system file no longer allows can still be repaired' '
	cp "$SYS" sys.orig &&
	echo "meta_allow_commands = true;" >>"$SYS" &&
	printf "rules = ( { refs = [ \"refs/heads/**\" ]; checks = [ \"t\" ]; } );\nchecks = { t = { type = \"command\"; run = \"true\"; }; };\n" >policy.conf &&
	push_policy alice 2>err &&
	test -n "$(ref_of victim.git refs/meta/gate)" &&
	# even so, the command cannot be taken out of the sandbox from the ref
	printf "checks = { t = { type = \"command\"; run = \"true\"; sandbox = \"none\"; }; };\n" >policy.conf &&
	test_must_fail push_policy alice 2>err &&
	test_grep "new policy: refs/meta/gate:git-gate.conf:1: check .t.: sandbox = \"none\" cannot be set in a policy stored in the repository" err &&
	cp sys.orig "$SYS" &&
	before=$(ref_of victim.git main) &&
	(cd work && commit_file c c "Add c" && test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate: refs/meta/gate:git-gate.conf:2: check .t.: checks of type command" err &&
	test_grep "policy is invalid" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	printf "rules = ( { refs = [ \"refs/heads/**\" ]; } );\n" >policy.conf &&
	test_must_fail push_policy bob 2>err &&
	test_grep "is not one of them" err &&
	push_policy alice 2>err &&
	test_grep "this push changes only that ref, so it is judged by the system policy alone" err &&
	test "$(ref_of victim.git refs/meta/gate)" = "$(git -C work rev-parse gate)" &&
	(cd work && git push -q origin main) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse main)"
'

test_done
