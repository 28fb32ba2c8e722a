#!/bin/sh
# contrib/http: pushes over smart HTTP, git-http-backend behind lighttpd
# with basic authentication; REMOTE_USER (the logged-in user) decides the
# verdict.  lighttpd listens on a free loopback port, runs as the current
# user, and is stopped at the end.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

LIGHTTPD=$(command -v lighttpd 2>/dev/null || echo /usr/sbin/lighttpd)
BACKEND=$(git --exec-path)/git-http-backend
if [ ! -x "$LIGHTTPD" ] || [ ! -x "$BACKEND" ]; then
	test_count=$((test_count + 1))
	printf 'ok %d # SKIP lighttpd or git-http-backend is not installed\n' "$test_count"
	test_done
fi

PORT=$(free_port)
URL="http://127.0.0.1:$PORT/git"

# an htpasswd line: htpasswd (apache2-utils) when there is one, else openssl
htpasswd_line() {
	if command -v htpasswd >/dev/null 2>&1; then
		htpasswd -nbB "$1" "$2" | sed -e '/^$/d'
	else
		printf '%s:%s\n' "$1" "$(openssl passwd -apr1 "$2")"
	fi
}

test_expect_success 'setup: repositories, users, lighttpd from contrib/http/lighttpd-git.conf' '
	mkdir -p repos &&
	make_victim repos/victim.git &&
	{ htpasswd_line alice alice-pw && htpasswd_line bob bob-pw; } >git.htpasswd &&
	cat >repos/victim.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "msg" ]; exempt_users = [ "alice" ]; } );
	checks = { msg = { type = "commit-message"; subject_max = 30; }; };
	EOF
	# the contrib snippet with this test paths, plus variables that keep the
	# hook away from the machine own system policy
	sed -e "s|/srv/git|$TRASH/repos|" -e "s|/etc/lighttpd/git.htpasswd|$TRASH/git.htpasswd|" \
	    -e "s|/usr/lib/git-core/git-http-backend/|$BACKEND/|" \
	    -e "s|\"GIT_HTTP_EXPORT_ALL\" => \"\",|&\n\t\t\"GIT_GATE_SYSTEM_CONFIG\" => \"$GIT_GATE_SYSTEM_CONFIG\",|" \
	    "$GATE_SRCDIR/contrib/http/lighttpd-git.conf" >git-gate.conf.lighttpd &&
	grep -q "GIT_GATE_SYSTEM_CONFIG" git-gate.conf.lighttpd &&
	cat >lighttpd.conf <<-EOF &&
	server.bind = "127.0.0.1"
	server.port = $PORT
	server.document-root = "$TRASH/repos"
	server.errorlog = "$TRASH/lighttpd.log"
	server.pid-file = "$TRASH/lighttpd.pid"
	include "$TRASH/git-gate.conf.lighttpd"
	EOF
	"$LIGHTTPD" -tt -f lighttpd.conf &&
	# started without the test suite GIT_GATE_USER: the hook must see REMOTE_USER
	env -u GIT_GATE_USER "$LIGHTTPD" -f lighttpd.conf &&
	i=0 && while [ ! -s lighttpd.pid ] || ! git ls-remote "http://alice:alice-pw@127.0.0.1:$PORT/git/victim.git" >/dev/null 2>&1; do
		i=$((i + 1)) && [ $i -lt 50 ] || { cat lighttpd.log; return 1; }
		sleep 0.1
	done &&
	git init -q work &&
	(cd work && commit_file a a "Add a" && git push -q "http://alice:alice-pw@127.0.0.1:$PORT/git/victim.git" main)
'
test_atexit '[ -s "$TRASH/lighttpd.pid" ] && kill "$(cat "$TRASH/lighttpd.pid")"'

test_expect_success 'a push without credentials is refused by the web server' '
	(cd work && commit_file b b "Add b" &&
	 GIT_TERMINAL_PROMPT=0 test_must_fail git push "$URL/victim.git" main 2>../err) &&
	test_grep "401\|Authentication failed\|could not read Username" err
'

test_expect_success 'bob (REMOTE_USER) may push a good commit' '
	(cd work && git push "http://bob:bob-pw@127.0.0.1:$PORT/git/victim.git" main 2>../err) &&
	test "$(ref_of repos/victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'bob is rejected for a bad commit, with the report' '
	before=$(ref_of repos/victim.git main) &&
	(cd work && commit_file c c "A subject longer than thirty characters" &&
	 test_must_fail git push "http://bob:bob-pw@127.0.0.1:$PORT/git/victim.git" main 2>../err) &&
	test_grep "remote: git-gate:       subject is 39 characters long, more than the 30 allowed" err &&
	test_grep "remote: git-gate: refs/heads/main rejected" err &&
	test "$(ref_of repos/victim.git main)" = "$before"
'

test_expect_success 'alice, exempt by the policy, pushes the same commit' '
	(cd work && git push "http://alice:alice-pw@127.0.0.1:$PORT/git/victim.git" main 2>../err) &&
	test "$(ref_of repos/victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a wrong password is refused before any hook runs' '
	(cd work && commit_file d d "Add d" &&
	 GIT_TERMINAL_PROMPT=0 test_must_fail git push "http://alice:wrong@127.0.0.1:$PORT/git/victim.git" main 2>../err) &&
	test_grep "401\|Authentication failed" err &&
	test_grep ! "remote: git-gate" err
'

test_done
