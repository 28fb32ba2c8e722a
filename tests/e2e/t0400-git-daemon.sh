#!/bin/sh
# The gate over git:// with a real git daemon on loopback.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

PORT=$(free_port)
URL="git://127.0.0.1:$PORT/victim.git"

test_expect_success 'setup: a gated repository served by git daemon' '
	mkdir srv &&
	make_victim srv/victim.git &&
	cat >srv/victim.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/main" ]; allow_force_push = false; checks = [ "msg" ]; } );
	checks = { msg = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
	start_git_daemon $PORT victim.git &&
	git ls-remote "$URL"
'

test_expect_success 'a good push over git:// is accepted' '
	make_work work "$URL" &&
	(cd work && commit_file a a "Add a" && git push origin main) &&
	test "$(ref_of srv/victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a bad push over git:// is rejected with the report' '
	before=$(ref_of srv/victim.git main) &&
	(cd work && commit_file b b "WIP b" && test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate: ---- refs/heads/main: REJECTED ----" err &&
	test_grep "remote: git-gate: .*commit .* \"WIP b\":" err &&
	test_grep "subject matches the forbidden pattern" err &&
	test "$(ref_of srv/victim.git main)" = "$before"
'

test_expect_success 'a force-push over git:// is rejected' '
	(cd work && git reset -q --hard HEAD~2 && commit_file c c "Add c" &&
	 test_must_fail git push -f origin main 2>../err) &&
	test_grep "not a fast-forward" err
'

test_done
