#!/bin/sh
# Edge cases found by trying to break the gate as a new user would:
# odd objects and ref mixes in one push, hostile names, broken policies,
# and git gate check run the way the README tells developers to.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

test_expect_success 'setup' '
	cat >policy.conf <<-\EOF &&
	rules = (
	  { refs = [ "refs/heads/main", "refs/heads/release/*" ];
	    allow_force_push = false; allow_delete = false;
	    checks = [ "msg", "size", "paths", "port", "hyg" ]; },
	  { refs = [ "refs/tags/*" ]; allow_update = false; allow_delete = false; }
	);
	checks = {
	  msg   = { type = "commit-message"; forbid = "^(WIP|fixup!)"; };
	  size  = { type = "max-file-size"; limit = "1 KiB"; };
	  paths = { type = "forbidden-paths"; patterns = [ "*.pem" ]; };
	  port  = { type = "portable-paths"; };
	  hyg   = { type = "text-hygiene"; };
	};
	EOF
	make_victim victim.git &&
	cp policy.conf victim.git/git-gate.conf &&
	make_work work victim.git &&
	make_victim upd.git --hook update &&
	cp policy.conf upd.git/git-gate.conf &&
	(cd work && git remote add upd "$TRASH/upd.git" && git push -q upd main 2>/dev/null)
'

test_expect_success 'git gate check in a clone judges commits its own main already has' '
	git clone -q victim.git dev &&
	(
		cd dev &&
		commit_file wip.txt wip "WIP: not yet" &&
		test_expect_code 1 env GIT_GATE_CONFIG="$TRASH/policy.conf" \
			git gate check refs/heads/main origin/main HEAD >../out 2>&1
	) &&
	test_grep "subject matches the forbidden pattern" out &&
	test_grep "refs/heads/main rejected" out
'

test_expect_success 'git gate check with a short ref name says which name to use' '
	test_expect_code 2 git gate check --repo victim.git main main main 2>err &&
	test_grep "git-gate: .main. is not a full ref name; try refs/heads/main" err
'

test_expect_success 'tags on a tree and a blob are immutable like any tag' '
	(
		cd work &&
		git tag treetag "HEAD^{tree}" &&
		git tag blobtag "HEAD:base.txt" &&
		git push -q origin treetag blobtag 2>/dev/null &&
		git tag -f treetag "HEAD:base.txt" &&
		test_must_fail git push -f origin treetag 2>../err
	) &&
	test_grep "remote: git-gate:     updating .refs/tags/treetag. is not allowed" err &&
	test "$(ref_of victim.git refs/tags/treetag)" = "$(git -C work rev-parse "HEAD^{tree}")"
'

test_expect_success 'pre-receive: a create, an update and a delete in one push: all refused together' '
	(
		cd work &&
		git push -q origin main:refs/heads/scratch 2>/dev/null &&
		git checkout -q -b feat &&
		commit_file f.txt f "WIP feature" &&
		git checkout -q main &&
		commit_file g.txt g "Add g" &&
		test_must_fail git push origin feat:refs/heads/release/1 main :scratch 2>../err
	) &&
	test_grep "remote: git-gate: refs/heads/release/1 rejected" err &&
	test "$(ref_of victim.git main)" != "$(git -C work rev-parse main)" &&
	test -n "$(ref_of victim.git refs/heads/scratch)" &&
	test -z "$(ref_of victim.git refs/heads/release/1)"
'

test_expect_success 'update hook: the same mix lands except the refused ref; --atomic lands nothing' '
	(
		cd work &&
		git push -q upd main~1:refs/heads/scratch 2>/dev/null &&
		test_must_fail git push --atomic upd feat:refs/heads/release/1 main :scratch 2>../err.atomic &&
		test_must_fail git push upd feat:refs/heads/release/1 main :scratch 2>../err
	) &&
	test_grep "atomic push failure" err.atomic &&
	test_grep "remote: git-gate: refs/heads/release/1 rejected" err &&
	test "$(ref_of upd.git main)" = "$(git -C work rev-parse main)" &&
	test -z "$(ref_of upd.git refs/heads/scratch)" &&
	test -z "$(ref_of upd.git refs/heads/release/1)"
'

test_expect_success 'the same bad commit pushed to two checked branches is reported for each' '
	(
		cd work &&
		git push -q origin main 2>/dev/null &&
		git commit -q --allow-empty -m "fixup! Add g" &&
		test_must_fail git push origin HEAD:main HEAD:refs/heads/release/9 2>../err &&
		git reset -q --hard origin/main
	) &&
	test_grep "remote: git-gate: refs/heads/main rejected" err &&
	test_grep "remote: git-gate: refs/heads/release/9 rejected" err &&
	test -z "$(ref_of victim.git refs/heads/release/9)"
'

test_expect_success 'a gitlink, a symlink and mode changes pass the content checks' '
	(
		cd work &&
		git update-index --add --cacheinfo 160000,1234567890123456789012345678901234567890,sub &&
		ln -s base.txt link &&
		chmod +x base.txt &&
		git add link base.txt &&
		git commit -q -m "Add a submodule and a link" &&
		rm link && echo now-a-file >link && git add link &&
		git commit -q -m "Link becomes a file" &&
		git push origin main 2>../err
	) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse main)"
'

test_expect_success 'hostile names reach no check report raw' '
	(
		cd work &&
		esc=$(printf "\033") &&
		n1=$(printf "k\033[31m\nx\377.pem") &&
		n2=$(printf "m\033]0;t\a.txt") &&
		printf x >"$n1" &&
		printf "a\n<<<<<<< HEAD\n%01100d\n" 0 >"$n2" &&
		git add -A &&
		git commit -q -m "$(printf "Add \033[2J files")" &&
		test_must_fail git push origin main 2>../err &&
		git reset -q --hard origin/main
	) &&
	test_grep "\[size\]" err && test_grep "\[paths\]" err &&
	test_grep "\[port\]" err && test_grep "\[hyg\]" err &&
	test_grep "k\\\\x1b\[31m\\\\nx\\\\xff.pem" err &&
	test_grep "Add \\\\x1b\[2J files" err &&
	! LC_ALL=C grep -q "$(printf "[\033\007\377]")" err
'

test_expect_success 'a policy path that is a directory says so' '
	mkdir adir &&
	test_expect_code 1 git gate validate adir 2>err &&
	test_grep "adir: cannot read the policy: Is a directory" err &&
	(
		cd work &&
		commit_file h.txt h "Add h" &&
		test_must_fail env GIT_GATE_CONFIG="$TRASH/adir" git push origin main 2>../err
	) &&
	test_grep "remote: git-gate: .*adir: cannot read the policy: Is a directory" err &&
	test "$(ref_of victim.git main)" != "$(git -C work rev-parse main)"
'

test_expect_success 'a rule with an empty refs list is an error' '
	printf "rules = ( { refs = [ ]; allow_delete = false; } );\n" >empty.conf &&
	test_expect_code 1 git gate validate empty.conf 2>err &&
	test_grep "^empty.conf:1: .refs.: the list is empty" err
'

test_expect_success 'garbage on the pre-receive hook s stdin rejects, never crashes' '
	printf "not an update\377\001\n" >garbage &&
	(cd victim.git && test_expect_code 3 "$GIT_GATE_LIBEXECDIR/pre-receive" <../garbage 2>../err) &&
	test_grep "cannot read the ref updates" err
'

test_done
