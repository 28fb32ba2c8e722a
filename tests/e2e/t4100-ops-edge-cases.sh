#!/bin/sh
# Edge cases found by trying to break the command check, the audit log and
# the server integrations with real pushes.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

test_expect_success 'setup' '
	make_victim victim.git &&
	make_work work victim.git
'

test_expect_success 'a failure whose last line is longer than the kept output still shows it' '
	cat >victim.git/git-gate.conf <<-\EOF &&
	audit_log = "off";
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "b" ]; } );
	checks = { b = { type = "command"; cache = false;
	  run = "echo early; awk \"BEGIN { printf \\\"FAIL: \\\"; for (i = 0; i < 200000; i++) printf \\\"x\\\"; print \\\"\\\" }\"; exit 1"; }; };
	EOF
	before=$(ref_of victim.git main) &&
	(cd work && commit_file a a "Add a" && test_must_fail git push origin main 2>../err) &&
	test_grep "failed: exit status 1 after .*; its 1 line of output:" err &&
	test_grep "remote: git-gate:         | xxxxxxxxxx*\.\.\." err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'an audit log that is a FIFO nobody reads does not hang the push' '
	mkfifo audit.fifo &&
	cat >victim.git/git-gate.conf <<-EOF &&
	audit_log = "$TRASH/audit.fifo";
	rules = ( { refs = [ "refs/heads/*" ]; } );
	EOF
	(cd work && git reset -q --hard origin/main && commit_file b b "Add b" &&
	 timeout 60 git push origin main 2>../err) &&
	test_grep "warning for the server.s admin: this push was not recorded in the audit log: cannot open the audit log .*audit.fifo" err &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'contrib/server: a repository hook that is git-gate itself is not run a second time' '
	mkdir -p srv server-hooks &&
	cp "$GATE_SRCDIR/contrib/server/hooks/pre-receive" server-hooks/ &&
	chmod +x server-hooks/pre-receive &&
	make_victim srv/app.git &&
	git --git-dir=srv/app.git config core.hooksPath "$TRASH/server-hooks" &&
	cat >srv/app.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "b" ]; } );
	checks = { b = { type = "command"; run = "echo built >>\"$GIT_GATE_COMMIT.runs\"; true"; cache = false; }; };
	EOF
	(cd work && GIT_GATE_REPO_ROOT="$TRASH/srv" git push "$TRASH/srv/app.git" main 2>../err) &&
	test "$(ref_of srv/app.git main)" = "$(git -C work rev-parse HEAD)" &&
	test "$(grep -c "b: passed on" err)" = 1 &&
	test "$(wc -l <srv/app.git/git-gate/audit.log)" = 1
'

# Permission bits stop only other users: as root, push as nobody.
as_pusher() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$TRASH/nb" "$@"
	else
		"$@"
	fi
}

test_expect_success 'sandbox = "none": the workspace goes even when the command left directories without permissions' '
	mkdir nb &&
	if [ "$(id -u)" = 0 ]; then chown nobody nb; fi &&
	as_pusher sh -c "
		git init -q --bare nb/v.git && git-gate install nb/v.git >/dev/null &&
		mkdir nb/ws && git init -q nb/work && cd nb/work &&
		git commit -q --allow-empty -m c && git push -q ../v.git HEAD:refs/heads/main
	" &&
	cat >nb/v.git/git-gate.conf <<-EOF &&
	audit_log = "off";
	workspace = "$TRASH/nb/ws";
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "b" ]; } );
	checks = { b = { type = "command"; cache = false; sandbox = "none";
	  run = "mkdir -p ro/sub x && touch ro/sub/f x/f && chmod 000 ro/sub x && chmod 500 ro .; exit 1"; }; };
	EOF
	before=$(ref_of nb/v.git main) &&
	as_pusher sh -c "cd nb/work && echo a >a && git add a && git commit -q -m a &&
		! git push ../v.git HEAD:refs/heads/main" 2>err &&
	test_grep "b: FAILED on" err &&
	test "$(ref_of nb/v.git main)" = "$before" &&
	i=0 && while [ -n "$(ls nb/ws | grep -v "^git-gate-slots\.[0-9]*$")" ]; do
		i=$((i + 1)) && [ $i -lt 100 ] || { ls -laR nb/ws; return 1; }
		sleep 0.1
	done
'

test_done
