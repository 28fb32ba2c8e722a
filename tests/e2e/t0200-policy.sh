#!/bin/sh
# Finding, validating and explaining the policy; failing closed.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

test_expect_success 'setup' '
	make_victim victim.git &&
	make_work work victim.git &&
	cat >good.conf <<-\EOF
	rules = (
	  { refs = [ "refs/heads/main" ]; allow_force_push = false; checks = [ "msg" ]; },
	  { refs = [ "refs/tags/*" ]; allow_update = false; }
	);
	checks = {
	  msg = { type = "commit-message"; subject_max = 50; };
	};
	EOF
	cat >broken.conf <<-\EOF
	rules = (
	  { refs = [ "refs/heads/main" ]; checks = [ "msg" ]; allow_delete = "no"; }
	);
	checks = {
	  msg = { type = "commit-message"; require = "(unclosed"; };
	};
	EOF
	printf "rules = ( { refs = [ \"refs/heads/main\" ] ;\n" >syntax.conf
'

test_expect_success 'validate accepts a good file' '
	git gate validate good.conf >out &&
	test_grep "good.conf: valid (2 rules, 1 check)" out
'

test_expect_success 'validate lists every problem with FILE:LINE and exits 1' '
	test_expect_code 1 git gate validate broken.conf 2>err &&
	test_grep "^broken.conf:2: .allow_delete. must be a boolean" err &&
	test_grep "^broken.conf:5: .require.: bad pattern \"(unclosed\": missing closing parenthesis (at offset 9)" err &&
	test_grep "2 problems found" err
'

test_expect_success 'validate reports syntax errors with their line' '
	test_expect_code 1 git gate validate syntax.conf 2>err &&
	test_grep "^syntax.conf:[12]: " err
'

test_expect_success 'an @include that cannot be opened is named with where it was looked for' '
	mkdir -p inc/sub &&
	printf "checks = { m = { type = \"commit-message\"; }; };\n" >inc/sub/checks.conf &&
	printf "@include \"sub/checks.conf\"\nrules = ( { refs = [ \"refs/heads/main\" ]; checks = [ \"m\" ]; } );\n" >inc/top.conf &&
	git gate validate inc/top.conf &&
	printf "@include \"nope.conf\"\n" >inc/bad.conf &&
	test_expect_code 1 git gate validate inc/bad.conf 2>err &&
	test_grep "^inc/bad.conf:1: cannot open included file \"nope.conf\" (looked for it in inc:" err
'

test_expect_success 'an @include of a FIFO or a device is refused at once, not read' '
	mkfifo inc/pipe.conf &&
	printf "jobs = 1;\n@include \"pipe.conf\"\n" >inc/fifo.conf &&
	test_expect_code 1 timeout 20 git gate validate inc/fifo.conf 2>err &&
	test_grep "^inc/fifo.conf:2: included file \"pipe.conf\" is a FIFO; only regular files can be included" err &&
	ln -s /dev/zero inc/zero.conf &&
	printf "@include \"zero.conf\"\n" >inc/dev.conf &&
	test_expect_code 1 timeout 20 git gate validate inc/dev.conf 2>err &&
	test_grep "^inc/dev.conf:1: included file \"zero.conf\" is a device" err &&
	test_expect_code 1 timeout 20 git gate validate inc/pipe.conf 2>err &&
	test_grep "^inc/pipe.conf: the policy is a FIFO; it must be a regular file" err
'

test_expect_success 'a policy that includes itself, directly or in a cycle, says so' '
	printf "jobs = 1;\n@include \"self.conf\"\n" >inc/self.conf &&
	test_expect_code 1 git gate validate inc/self.conf 2>err &&
	test_grep "^inc/self.conf:2: \"self.conf\" is included recursively" err &&
	test_grep ! "cannot open" err &&
	printf "@include \"b.conf\"\n" >inc/a.conf &&
	printf "\n@include \"a.conf\"\n" >inc/b.conf &&
	test_expect_code 1 git gate validate inc/a.conf 2>err &&
	test_grep "^inc/b.conf:2: \"a.conf\" is included recursively" err
'

test_expect_success 'a NUL byte in a policy string, escaped or raw, is refused with FILE:LINE' '
	printf "rules = ( { refs = [ \"refs/heads/ma\\\\x00in\" ]; } );\n" >nul-esc.conf &&
	test_expect_code 1 git gate validate nul-esc.conf 2>err &&
	test_grep "^nul-esc.conf:1: a string holds a NUL byte" err &&
	printf "jobs = 1;\nmeta_ref = \"refs/meta/x\\000y\";\n" >nul-raw.conf &&
	test_expect_code 1 git gate validate nul-raw.conf 2>err &&
	test_grep "^nul-raw.conf:2: the policy holds a NUL byte" err
'

test_expect_success 'a push under a policy that includes a FIFO is rejected at once' '
	git init -q --bare fifo-victim.git &&
	git gate install fifo-victim.git >/dev/null &&
	mkfifo fifo-victim.git/pipe.conf &&
	printf "@include \"pipe.conf\"\n" >fifo-victim.git/git-gate.conf &&
	git init -q fifo-work &&
	(cd fifo-work && commit_file a a "Add a" &&
	 test_must_fail timeout 60 git push "$TRASH/fifo-victim.git" main 2>../err) &&
	test_grep "remote: git-gate: .*git-gate.conf:1: included file \"pipe.conf\" is a FIFO" err &&
	test_grep "pre-receive hook declined" err &&
	test -z "$(ref_of fifo-victim.git main)"
'

test_expect_success 'validate of a missing file is a usage error' '
	test_expect_code 2 git gate validate nosuch.conf 2>err &&
	test_grep "no such file" err
'

test_expect_success 'a broken policy rejects every push, naming FILE:LINE' '
	cp broken.conf victim.git/git-gate.conf &&
	before=$(ref_of victim.git main) &&
	(cd work && commit_file a a "Add a" && test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate: .*victim.git/git-gate.conf:2: .allow_delete. must be a boolean" err &&
	test_grep "remote: git-gate: .*victim.git/git-gate.conf:5: .require.: bad pattern" err &&
	test_grep "remote: git-gate: the gate.s policy is invalid" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'an unreadable policy rejects the push too' '
	rm victim.git/git-gate.conf && mkdir victim.git/git-gate.conf &&
	(cd work && test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate: .*git-gate.conf" err &&
	rmdir victim.git/git-gate.conf
'

test_expect_success 'the repository file is read from GIT_DIR' '
	cp good.conf victim.git/git-gate.conf &&
	(cd work && git push -q origin main && git tag v1 && git push -q origin v1 &&
	 git tag -f v1 HEAD~1 && test_must_fail git push -f origin v1 2>../err) &&
	test_grep "updating .refs/tags/v1. is not allowed" err
'

test_expect_success 'the system file applies when the repository has none' '
	rm victim.git/git-gate.conf &&
	cp good.conf system.conf &&
	export GIT_GATE_SYSTEM_CONFIG="$TRASH/system.conf" &&
	(cd work && test_must_fail git push -f origin v1 2>../err) &&
	test_grep "policy: .*system.conf" err
'

test_expect_success 'GIT_GATE_CONFIG overrides both' '
	printf "rules = ( { refs = [ \"refs/tags/*\" ]; } );\n" >loose.conf &&
	(cd work && GIT_GATE_CONFIG="$TRASH/loose.conf" git push -f origin v1)
'

test_expect_success 'explain shows the rule, each setting and where it is set' '
	cp good.conf victim.git/git-gate.conf &&
	git gate explain --repo victim.git refs/heads/main >out &&
	test_grep "^policy:  .*victim.git/git-gate.conf" out &&
	test_grep "^rule:    #1 of 2 .*git-gate.conf:2)" out &&
	test_grep "allow_force_push   false .*git-gate.conf:2)" out &&
	test_grep "allow_delete       true   (default)" out &&
	test_grep "msg  *type commit-message .*git-gate.conf:6)" out &&
	git gate explain --repo victim.git refs/notes/x >out &&
	test_grep "none matches" out
'

test_expect_success 'explain names the embedded default when there is no file' '
	git init -q --bare bare2.git &&
	GIT_GATE_SYSTEM_CONFIG=/nonexistent git gate explain --repo bare2.git refs/heads/main >out &&
	test_grep "built-in default" out &&
	test_grep "allow_force_push   false" out
'

test_expect_success 'check judges an update without pushing, with the hook.s report' '
	(cd work && commit_file b b "This subject line is much longer than the fifty characters allowed") &&
	new=$(git -C work rev-parse HEAD) &&
	old=$(ref_of victim.git main) &&
	git -C work push -q origin HEAD:refs/heads/parked 2>/dev/null;
	test_expect_code 1 git gate check --repo victim.git refs/heads/main "$old" "$new" >out &&
	test_grep "git-gate: ---- refs/heads/main: REJECTED ----" out &&
	test_grep "more than the 50 allowed" out &&
	test "$(ref_of victim.git main)" = "$old" &&
	test_expect_code 0 git gate check --repo victim.git refs/heads/main "$old" "$old" >out &&
	test_grep "accepted" out
'

test_expect_success 'check accepts revisions and 0 for a missing side' '
	test_expect_code 0 git gate check --repo victim.git refs/heads/main main 0 >out &&
	test_expect_code 1 git gate check --repo victim.git refs/tags/v1 v1 main >out &&
	test_grep "updating .refs/tags/v1. is not allowed" out &&
	test_expect_code 0 git gate check --repo victim.git refs/heads/new 0 main >out &&
	test_expect_code 2 git gate check --repo victim.git refs/heads/main main no-such-rev 2>err &&
	test_grep "cannot resolve" err
'

test_expect_success 'a missing object rejects the push (fail closed)' '
	old=$(ref_of victim.git main) &&
	printf "%s %s refs/heads/main\n" "$old" 0123456789abcdef0123456789abcdef01234567 >in &&
	(cd victim.git && GIT_DIR=. test_expect_code 3 "$GIT_GATE_LIBEXECDIR/pre-receive" <../in 2>../err) &&
	test_grep "git-gate: cannot judge this push" err &&
	test_grep "rejected" err
'

test_expect_success 'garbage on stdin rejects the push' '
	(cd victim.git && printf "nonsense\n" | GIT_DIR=. test_must_fail "$GIT_GATE_LIBEXECDIR/pre-receive" 2>../err) &&
	test_grep "cannot read the ref updates" err
'

test_expect_success 'a repository whose path holds a colon still sees its old objects' '
	mkdir "odd:dir" &&
	make_victim "odd:dir/victim.git" &&
	cp good.conf "odd:dir/victim.git/git-gate.conf" &&
	make_work work4 "odd:dir/victim.git" &&
	(cd work4 && commit_file c c "Add c" && git push origin main 2>../err &&
	 commit_file d d "This subject line is much longer than the fifty characters allowed" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "more than the 50 allowed" err
'

test_expect_success 'a delete-only push (no quarantine) is judged' '
	(cd work && git push -q origin HEAD:refs/heads/gone && git push origin :gone) &&
	test -z "$(ref_of victim.git refs/heads/gone)" &&
	printf "rules = ( { refs = [ \"refs/heads/keep\" ]; allow_delete = false; } );\n" >victim.git/git-gate.conf &&
	(cd work && git push -q origin HEAD:refs/heads/keep && test_must_fail git push origin :keep 2>../err) &&
	test_grep "deleting .refs/heads/keep. is not allowed" err
'

test_expect_success 'a SHA-256 repository gets a clear refusal' '
	git init -q --bare --object-format=sha256 sha.git &&
	test_must_fail git gate install sha.git 2>err &&
	test_grep "sha256" err &&
	ln -s "$GIT_GATE_LIBEXECDIR/pre-receive" sha.git/hooks/pre-receive &&
	git init -q --object-format=sha256 work5 &&
	(cd work5 && commit_file x x "Add x" && test_must_fail git push ../sha.git main 2>../err) &&
	test_grep "remote: git-gate: .*SHA-256 object ids, which git-gate cannot judge yet" err &&
	test -z "$(git --git-dir=sha.git rev-parse -q --verify refs/heads/main)"
'

test_done
