#!/bin/sh
# What a developer and a team lead read: which policy `check` judged by,
# a fix said once, the whole command to reproduce, the branch names that
# may be created, and the policy author's hint on every check.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

sync_work() {
	(cd work && git reset -q --hard "$(git -C ../victim.git rev-parse main)")
}

test_expect_success 'setup' '
	make_victim victim.git &&
	make_work work victim.git
'

test_expect_success 'check in a clone names the built-in default and says the server may differ' '
	(cd work && git gate check refs/heads/main HEAD~0 HEAD >../out 2>&1) &&
	test_grep "judged by the built-in default (no policy file): only the default branch refs/heads/main is protected, from force-push and deletion" out &&
	test_grep "this is a clone: the server judges pushes by its own policy; .git gate check --remote NAME REF. asks it" out &&
	test_grep "refs/heads/main: accepted" out
'

test_expect_success 'check on the server names the policy file' '
	cat >victim.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/main" ]; } );
	EOF
	git gate check --repo victim.git refs/heads/main main main >out 2>&1 &&
	test_grep "judged by the policy .*victim.git/git-gate.conf$" out &&
	test_grep ! "this is a clone" out
'

test_expect_success 'check names both files of a layered policy' '
	cat >system.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/main" ]; final = true; } );
	EOF
	GIT_GATE_SYSTEM_CONFIG="$TRASH/system.conf" git gate check --repo victim.git refs/heads/main main main >out 2>&1 &&
	test_grep "judged by the system policy .*system.conf layered with the repository.s .*git-gate.conf" out
'

test_expect_success 'setup: a team policy with hints' '
	cat >victim.git/git-gate.conf <<-EOF &&
	rules = (
	  { refs = [ "refs/heads/main" ]; checks = [ "msg", "hyg", "build" ]; },
	  { refs = [ "refs/heads/feature/*", "refs/heads/fix/**" ]; allow_create = true; },
	  { refs = [ "refs/heads/**" ]; allow_create = false; },
	  { refs = [ "refs/tags/v*" ]; allow_create = true; allow_update = false; },
	  { refs = [ "refs/tags/**" ]; allow_create = false; }
	);
	checks = {
	  msg = { type = "commit-message"; require = "^[A-Z]+-[0-9]+: ";
	          hint = "Start the subject with the Jira ticket, e.g. \x27PAY-123: Fix rounding\x27"; };
	  hyg = { type = "text-hygiene"; hint = "Resolve the merge in your editor, then commit again"; };
	  build = { type = "command"; run = "test -f ok || { echo no ok file >&2; exit 1; } # $(printf "%0100d" 0) the long tail of a long command"; };
	};
	EOF
	git gate validate victim.git/git-gate.conf
'

test_expect_success 'a check hint is shown with its findings' '
	sync_work &&
	(cd work && echo ok >ok && git add ok && git commit -q -m "no ticket" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate:   \[msg\] commit-message: 1 problem" err &&
	test_grep "remote: git-gate:     hint: Start the subject with the Jira ticket, e.g. .PAY-123: Fix rounding." err
'

test_expect_success 'explain shows the hint' '
	git gate explain --repo victim.git refs/heads/main >out &&
	test_grep "hint: Start the subject with the Jira ticket" out
'

test_expect_success 'a bad hint is a policy error with its line' '
	printf "checks = { m = { type = \"commit-message\"; hint = \"\"; }; };\n" >badhint.conf &&
	test_expect_code 1 git gate validate badhint.conf >out 2>&1 &&
	test_grep "badhint.conf:1: .hint.: it must be one line of text" out
'

test_expect_success 'the same fix for many findings of one check is said once' '
	sync_work &&
	(cd work && echo ok >ok &&
	 for f in a.c b.c c.c; do
		printf "int a;\n<<<<<<< HEAD\nint b = 1;\n=======\nint b = 2;\n>>>>>>> topic\n" >$f || return 1
	 done &&
	 git add ok a.c b.c c.c && git commit -q -m "PAY-1: Merge topic" &&
	 test_must_fail git push origin main 2>../err) &&
	test "$(grep -c "leftover conflict marker" err)" = 9 &&
	test "$(grep -c "fix" err)" = 1 &&
	test_grep "remote: git-gate:     fix (all 9 problems above with this fix): " err &&
	test_grep "remote: git-gate:     hint: Resolve the merge in your editor, then commit again" err
'

test_expect_success 'two secrets: each with its fingerprint, the fix once' '
	git init -q --bare sec.git && git gate install sec.git >/dev/null &&
	cat >sec.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/**" ]; checks = [ "sec" ]; } );
	checks = { sec = { type = "secrets"; }; };
	EOF
	make_work swork sec.git &&
	(cd swork && printf "db_password: Xq7Lm2Pz9Wk4Rt8Nv3Bs\napi_token: Vb5Nc8Mx2Lz7Kq4Wj9Rt\n" >db.yml &&
	 git add db.yml && git commit -q -m "Add db config" && test_must_fail git push origin main 2>../err) &&
	test "$(grep -c "fingerprint [0-9a-f]\{16\})" err)" = 2 &&
	test "$(grep -c "treat the credential as leaked" err)" = 1 &&
	test_grep "fix (all 2 problems above with this fix): treat the credential as leaked" err &&
	test_grep "add its fingerprint to allow_fingerprints of check .sec." err
'

test_expect_success 'the reproduce command is shown whole' '
	sync_work &&
	(cd work && git rm -q --cached ok 2>/dev/null; rm -f ok &&
	 echo x >x && git add x && git commit -q -m "PAY-2: No ok file" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "fix: reproduce with .test -f ok || { echo no ok file >&2; exit 1; } # 0\{100\} the long tail of a long command. in a clean checkout" err
'

test_expect_success 'a refused new branch names the branches that may be created' '
	(cd work && test_must_fail git push origin HEAD:refs/heads/my-topic 2>../err) &&
	test_grep "creating .refs/heads/my-topic. is not allowed" err &&
	test_grep "fix: push to a name the policy lets you create: refs/heads/feature/\*, refs/heads/fix/\*\*; or ask an admin to create .refs/heads/my-topic." err &&
	test -z "$(ref_of victim.git refs/heads/my-topic)" &&
	(cd work && git push origin HEAD:refs/heads/feature/my-topic 2>../err) &&
	test -n "$(ref_of victim.git refs/heads/feature/my-topic)"
'

test_expect_success 'a refused tag names the tag patterns, not the branch ones' '
	(cd work && test_must_fail git push origin HEAD:refs/tags/nightly 2>../err) &&
	test_grep "fix: push to a name the policy lets you create: refs/tags/v\*; or ask" err &&
	test_grep ! "feature" err
'

test_expect_success 'when nothing may be created the refusal says so' '
	cat >victim.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/**" ]; allow_create = false; } );
	EOF
	(cd work && test_must_fail git push origin HEAD:refs/heads/other 2>../err) &&
	test_grep "fix: the policy lets nobody create refs like this by pushing; ask an admin to create .refs/heads/other." err
'

test_done
