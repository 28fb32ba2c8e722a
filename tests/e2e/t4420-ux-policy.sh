#!/bin/sh
# What a team lead and an admin met writing policies: a repository file
# that a policy ref makes irrelevant is named, `validate --meta` without a
# system file, rules an earlier rule shadows are not "weakening", and
# paths are not secrets.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

SYS="$TRASH/system.conf"

test_expect_success 'validate lists problems like a compiler: FILE:LINE, by line' '
	cat >many.conf <<-\EOF &&
	rules = (
	  { refs = [ "heads/release/*" ]; },
	  { refs = [ "refs/heads/main" ]; mode = "bogus"; }
	);
	checks = { m = { type = "commit-message"; subject_max = "x"; }; };
	foo = 1;
	EOF
	test_expect_code 1 git gate validate many.conf 2>out &&
	grep "^many.conf:" out | cut -d: -f2 >lines &&
	printf "2\n3\n5\n6\n" >expect &&
	test_cmp expect lines &&
	test_grep "many.conf:2: .refs.: \"heads/release/\*\" is not a full ref name (did you mean \"refs/heads/release/\*\"?)" out &&
	test_grep ! "refs/heads/heads" out
'

test_expect_success 'a bare word for a branch is suggested under refs/heads/' '
	printf "rules = ( { refs = [ \"main\" ]; } );\n" >bare.conf &&
	test_expect_code 1 git gate validate bare.conf 2>out &&
	test_grep "did you mean \"refs/heads/main\"?" out &&
	test_expect_code 2 git gate explain heads/main 2>out &&
	test_grep "try refs/heads/main$" out
'

# syntax_case TEXT EXPECTED: validate reports EXPECTED for a one-line policy TEXT
syntax_case() {
	printf "%s\n" "$1" >syn.conf &&
	test_expect_code 1 git gate validate syn.conf 2>out &&
	test_grep -F "syn.conf:1: $2" out &&
	test_grep -F "; the line: $1" out
}

test_expect_success 'libconfig syntax errors are explained, with the line' '
	syntax_case "rules = ( { refs = [ \"refs/heads/main\" ]; mode = enforce; } );" \
		"syntax error: the value of '"'"'mode'"'"' is a word without quotes: strings are written in double quotes (mode = \"enforce\";)" &&
	syntax_case "rules = ( { refs = [ '"'"'refs/heads/main'"'"' ]; } );" \
		"syntax error: strings are written in double quotes" &&
	syntax_case "rules = ( { refs = [ \"refs/heads/main\", ]; } );" \
		"syntax error: a list cannot end with a comma" &&
	syntax_case "rules = ( { refs = [ \"a\"; \"b\" ]; } );" \
		"syntax error: the elements of a list [ ... ] are separated by commas, not '"'"';'"'"'" &&
	syntax_case "rules = ( { refs = [ \"refs/heads/main\" ]; } { refs = [ \"refs/tags/*\" ]; } );" \
		"syntax error: a comma is missing between two groups of a list"
'

test_expect_success 'a missing comma between rules on two lines names the line to end with },' '
	printf "rules = (\n  { refs = [ \"refs/heads/main\" ]; }\n  { refs = [ \"refs/tags/*\" ]; }\n);\n" >comma.conf &&
	test_expect_code 1 git gate validate comma.conf 2>out &&
	test_grep "comma.conf:3: syntax error: a comma is missing between two groups of a list: end line 2 with .}," out
'

test_expect_success 'a file that ends too early says a closing bracket is missing' '
	printf "rules = (\n  { refs = [ \"refs/heads/main\" ];\n" >short.conf &&
	test_expect_code 1 git gate validate short.conf 2>out &&
	test_grep "short.conf:3: syntax error: the file ends before every" out
'

test_expect_success 'a duplicate setting names the key and where it was first set' '
	printf "checks = { m = { type = \"commit-message\"; };\n m = { type = \"identity\"; }; };\n" >dup.conf &&
	test_expect_code 1 git gate validate dup.conf 2>out &&
	test_grep "dup.conf:2: .m. is set twice in the same group (also at line 1): each key may appear once in a group" out
'

test_expect_success 'a pusher sees the explained syntax error of a broken policy, and the push is refused' '
	make_victim broken.git &&
	make_work bwork broken.git &&
	printf "rules = ( { refs = [ \"refs/heads/main\" ]; mode = enforce; } );\n" >broken.git/git-gate.conf &&
	(cd bwork && commit_file z z "Add z" && test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate: .*git-gate.conf:1: syntax error: the value of .mode. is a word without quotes" err
'

test_expect_success 'setup: a repository with its own git-gate.conf' '
	make_victim victim.git &&
	make_work work victim.git &&
	cat >victim.git/git-gate.conf <<-\EOF
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "msg" ]; } );
	checks = { msg = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
'

test_expect_success 'when the system file sets meta_ref, validate --repo names the ignored file' '
	cat >"$SYS" <<-\EOF &&
	meta_ref = "refs/meta/gate";
	meta_users = [ "tester" ];
	EOF
	GIT_GATE_SYSTEM_CONFIG="$SYS" git gate validate --repo victim.git >out 2>&1 &&
	test_grep "warning: .*victim.git/git-gate.conf: ignored: the system file .*system.conf sets meta_ref = \"refs/meta/gate\", so this repository.s policy is git-gate.conf in that ref; move the file.s rules there" out
'

test_expect_success 'explain names it too' '
	GIT_GATE_SYSTEM_CONFIG="$SYS" git gate explain --repo victim.git refs/heads/main >out 2>&1 &&
	test_grep "warning: .*victim.git/git-gate.conf: ignored" out
'

test_expect_success 'the audit log of a push names it for the admin' '
	(cd work && commit_file w w "WIP w" && GIT_GATE_SYSTEM_CONFIG="$SYS" git push -q origin main 2>../err) &&
	grep "\"event\":\"decision\"" victim.git/git-gate/audit.log | tail -n 1 >rec &&
	test_grep "\"policy_ignored\":\".*git-gate.conf: ignored: the system file" rec &&
	tail -n 1 victim.git/git-gate/audit.log >rec &&
	test_grep "\"event\":\"updated\".*\"policy_ignored\":" rec &&
	test_grep ! "ignored" err
'

test_expect_success 'without meta_ref nothing is said' '
	git gate validate --repo victim.git >out 2>&1 &&
	test_grep ! "ignored" out
'

test_expect_success 'validate --meta FILE works without a system file' '
	cat >stored.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "msg" ]; } );
	checks = { msg = { type = "commit-message"; subject_max = 60; }; };
	EOF
	git gate validate --meta stored.conf >out 2>&1 &&
	test_grep "there is no system file (.*no-system-policy.conf), so no repository reads its policy from a ref yet; checking stored.conf as a policy stored in a ref, on its own" out &&
	test_grep "stored.conf: valid" out &&
	printf "audit_log = \"/tmp/x\";\n" >server-key.conf &&
	test_expect_code 1 git gate validate --meta server-key.conf >out 2>&1 &&
	test_grep "server-key.conf:1:" out
'

test_expect_success 'setup: a system file with a final rule for main' '
	cat >"$SYS" <<-\EOF
	rules = ( { refs = [ "refs/heads/main" ]; final = true; allow_force_push = false; checks = [ "nowip" ]; } );
	checks = { nowip = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
'

test_expect_success 'a warn rule for all branches after the repository.s rule for main is not weakening' '
	cat >repo.conf <<-\EOF &&
	rules = (
	  { refs = [ "refs/heads/main" ]; checks = [ "len" ]; },
	  { refs = [ "refs/heads/**" ]; mode = "warn"; allow_force_push = true; checks = [ "len" ]; }
	);
	checks = { len = { type = "commit-message"; subject_max = 50; }; };
	EOF
	GIT_GATE_SYSTEM_CONFIG="$SYS" git gate validate --layered repo.conf >out 2>&1 &&
	test_grep "valid" out &&
	test_grep ! "weakens" out
'

test_expect_success 'the same warn rule first is weakening, and said so' '
	cat >repo2.conf <<-\EOF &&
	rules = (
	  { refs = [ "refs/heads/**" ]; mode = "warn"; checks = [ "len" ]; },
	  { refs = [ "refs/heads/main" ]; checks = [ "len" ]; }
	);
	checks = { len = { type = "commit-message"; subject_max = 50; }; };
	EOF
	test_expect_code 1 env GIT_GATE_SYSTEM_CONFIG="$SYS" git gate validate --layered repo2.conf >out 2>&1 &&
	test_grep "repo2.conf:2: .mode = \"warn\". weakens final rule" out
'

test_expect_success 'a rule for a subset the earlier rule does not cover is still weakening' '
	cat >repo3.conf <<-\EOF &&
	rules = (
	  { refs = [ "refs/heads/release/*" ]; },
	  { refs = [ "refs/heads/**" ]; mode = "warn"; }
	);
	EOF
	test_expect_code 1 env GIT_GATE_SYSTEM_CONFIG="$SYS" git gate validate --layered repo3.conf >out 2>&1 &&
	test_grep "weakens final rule" out
'

test_expect_success 'pushed for real: the shadowed warn rule does not touch main' '
	cp repo.conf victim.git/git-gate.conf &&
	before=$(ref_of victim.git main) &&
	(cd work && commit_file x x "WIP x" &&
	 GIT_GATE_SYSTEM_CONFIG="$SYS" test_must_fail git push origin main 2>../err) &&
	test_grep "\[nowip\] commit-message: 1 problem" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	(cd work && GIT_GATE_SYSTEM_CONFIG="$SYS" git push origin HEAD:refs/heads/topic 2>../err) &&
	test "$(ref_of victim.git refs/heads/topic)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'GIT_GATE_REPO_CONFIG layers its file over the system file, and a missing one rejects' '
	before=$(ref_of victim.git main) &&
	(cd work && git reset -q --hard "$before" && commit_file y y "WIP y" &&
	 GIT_GATE_SYSTEM_CONFIG="$SYS" GIT_GATE_REPO_CONFIG="$TRASH/repo.conf" test_must_fail git push origin main 2>../err) &&
	test_grep "\[nowip\] commit-message: 1 problem" err &&
	test_grep "policy: .*system.conf + .*repo.conf" err &&
	(cd work && GIT_GATE_REPO_CONFIG="$TRASH/nosuch.conf" test_must_fail git push origin HEAD:refs/heads/other 2>../err) &&
	test_grep "nosuch.conf: policy file named by GIT_GATE_REPO_CONFIG does not exist" err &&
	test -z "$(ref_of victim.git refs/heads/other)"
'

test_expect_success 'secrets: Makefile rules and lists of paths push without generic-secret findings' '
	cat >victim.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/**" ]; checks = [ "sec" ]; } );
	checks = { sec = { type = "secrets"; }; };
	EOF
	(cd work && git reset -q --hard "$(ref_of ../victim.git main)" &&
	 mkdir -p contrib/credential/osxkeychain &&
	 printf "contrib/credential/osxkeychain/git-credential-osxkeychain: contrib/credential/osxkeychain/git-credential-osxkeychain.o\n\t\$(LINK) -o \$@ \$^\n" >Makefile &&
	 printf "token_file: config/deploy/token-store.yml\n" >deploy.yml &&
	 git add Makefile deploy.yml && git commit -q -m "Build the keychain helper" &&
	 git push origin main 2>../err) &&
	test_grep ! "generic-secret" err &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'secrets: a real-looking password is still found' '
	(cd work && printf "db_password: Xq7Lm2Pz9Wk4Rt8Nv3Bs\n" >db.yml && git add db.yml &&
	 git commit -q -m "Add db config" && test_must_fail git push origin main 2>../err) &&
	test_grep "generic-secret" err
'

test_done
