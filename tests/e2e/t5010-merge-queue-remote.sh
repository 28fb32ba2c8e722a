#!/bin/sh
# The merge queue over git:// (git daemon) and smart HTTP (lighttpd in
# front of git-http-backend, contrib/http): a good change lands, a bad one
# is rejected with its output, a direct push is refused with the pointer,
# an asynchronous push lands later, two developers pushing at once both
# land.  Both servers listen on loopback and are stopped at the end.
. "$GATE_SRCDIR/tests/e2e/lib.sh"
. "$GATE_SRCDIR/tests/e2e/queue-lib.sh"

DPORT=$(free_port)
DURL="git://127.0.0.1:$DPORT/victim.git"

# queue_over TRANSPORT URL GITDIR: the behaviours, through URL
queue_over() {
	t=$1 url=$2 dir=$3

	test_expect_success "$t: a good change lands, and gate.wait shows main updated" "
		git clone -q '$url' $t-a &&
		(cd $t-a && commit_file $t-a.txt a 'Add $t a' &&
		 timeout 120 git push -o gate.wait origin HEAD:refs/for/main 2>../err) &&
		test_grep 'remote: git-gate: item [0-9]* landed: main is now' err &&
		test_grep '\\.\\.[0-9a-f]*  HEAD -> main' err &&
		test \"\$(ref_of $dir main)\" = \"\$(git -C $t-a rev-parse HEAD)\"
	"

	test_expect_success "$t: a failing change is rejected with its output" "
		before=\$(ref_of $dir main) &&
		(cd $t-a && echo bad >state.txt && git commit -q -a -m 'Break it over $t' &&
		 test_must_fail timeout 120 git push -o gate.wait origin HEAD:refs/for/main 2>../err) &&
		test_grep 'remote: git-gate:         | FAIL: state is bad' err &&
		test_grep 'remote rejected\\] HEAD -> refs/for/main (item [0-9]* rejected' err &&
		test \"\$(ref_of $dir main)\" = \"\$before\" &&
		(cd $t-a && git reset -q --hard HEAD~1)
	"

	test_expect_success "$t: a direct push is refused with the pointer to refs/for/main" "
		(cd $t-a && commit_file $t-d.txt d 'Direct over $t' &&
		 test_must_fail git push origin HEAD:main 2>../err && git reset -q --hard HEAD~1) &&
		test_grep 'takes changes through its merge queue: push with .git push origin HEAD:refs/for/main.' err
	"

	test_expect_success "$t: a push without gate.wait returns at once and the change lands later" "
		(cd $t-a && git pull -q --rebase origin main && commit_file $t-b.txt b 'Later over $t' &&
		 git push origin HEAD:refs/for/main 2>../err) &&
		test_grep 'queued as item [0-9]* for main' err &&
		wait_for_ref $dir refs/heads/main \"\$(git -C $t-a rev-parse HEAD)\" &&
		wait_runner_gone $dir
	"

	test_expect_success "$t: two developers based on the same main both land" "
		git clone -q '$url' $t-1 && git clone -q '$url' $t-2 &&
		(cd $t-1 && commit_file $t-1.txt 1 'One over $t') &&
		(cd $t-2 && commit_file $t-2.txt 2 'Two over $t') || return 1
		(cd $t-1 && timeout 120 git push -o gate.wait origin HEAD:refs/for/main >../$t-o1 2>&1; echo \$? >../$t-rc1) &
		(cd $t-2 && timeout 120 git push -o gate.wait origin HEAD:refs/for/main >../$t-o2 2>&1; echo \$? >../$t-rc2) &
		wait &&
		test \"\$(cat $t-rc1)\" = 0 && test \"\$(cat $t-rc2)\" = 0 &&
		git --git-dir=$dir cat-file -e main:$t-1.txt &&
		git --git-dir=$dir cat-file -e main:$t-2.txt &&
		every_main_tree_passed $dir
	"
}

test_expect_success 'setup: a queued repository served by git daemon' '
	mkdir srv &&
	queue_victim srv/victim.git seed &&
	git daemon --reuseaddr --listen=127.0.0.1 --port=$DPORT --base-path="$TRASH/srv" \
		--export-all --enable=receive-pack --pid-file="$TRASH/daemon.pid" --detach "$TRASH/srv" &&
	test_atexit "kill \$(cat \"$TRASH/daemon.pid\")" &&
	for i in 1 2 3 4 5 6 7 8 9 10; do
		git ls-remote "$DURL" >/dev/null 2>&1 && break
		sleep 0.3
	done &&
	git ls-remote "$DURL"
'
queue_over daemon "$DURL" srv/victim.git

LIGHTTPD=$(command -v lighttpd 2>/dev/null || echo /usr/sbin/lighttpd)
BACKEND=$(git --exec-path)/git-http-backend
if [ ! -x "$LIGHTTPD" ] || [ ! -x "$BACKEND" ]; then
	say "lighttpd or git-http-backend is missing: smart HTTP not tested"
	test_done
fi
HPORT=$(free_port)

# an htpasswd line: htpasswd (apache2-utils) when there is one, else openssl
htpasswd_line() {
	if command -v htpasswd >/dev/null 2>&1; then
		htpasswd -nbB "$1" "$2" | sed -e '/^$/d'
	else
		printf '%s:%s\n' "$1" "$(openssl passwd -apr1 "$2")"
	fi
}
HURL="http://bob:bob-pw@127.0.0.1:$HPORT/git/victim.git"

test_expect_success 'setup: a queued repository behind lighttpd and git-http-backend' '
	mkdir repos &&
	queue_victim repos/victim.git hseed &&
	htpasswd_line bob bob-pw >git.htpasswd &&
	sed -e "s|/srv/git|$TRASH/repos|" -e "s|/etc/lighttpd/git.htpasswd|$TRASH/git.htpasswd|" \
	    -e "s|/usr/lib/git-core/git-http-backend/|$BACKEND/|" \
	    -e "s|\"GIT_HTTP_EXPORT_ALL\" => \"\",|&\n\t\t\"GIT_GATE_SYSTEM_CONFIG\" => \"$GIT_GATE_SYSTEM_CONFIG\",|" \
	    "$GATE_SRCDIR/contrib/http/lighttpd-git.conf" >git-gate.conf.lighttpd &&
	cat >lighttpd.conf <<-EOF &&
	server.bind = "127.0.0.1"
	server.port = $HPORT
	server.document-root = "$TRASH/repos"
	server.errorlog = "$TRASH/lighttpd.log"
	server.pid-file = "$TRASH/lighttpd.pid"
	include "$TRASH/git-gate.conf.lighttpd"
	EOF
	env -u GIT_GATE_USER "$LIGHTTPD" -f lighttpd.conf &&
	i=0 && while [ ! -s lighttpd.pid ] || ! git ls-remote "$HURL" >/dev/null 2>&1; do
		i=$((i + 1)) && [ $i -lt 50 ] || { cat lighttpd.log; return 1; }
		sleep 0.1
	done
'
test_atexit '[ -s "$TRASH/lighttpd.pid" ] && kill "$(cat "$TRASH/lighttpd.pid")"'
queue_over http "$HURL" repos/victim.git

test_expect_success 'http: the item is recorded as pushed by the logged-in user' '
	git-gate queue --repo repos/victim.git --all >list &&
	test_grep "  landed .* main .*bob .*Add http a" list
'

test_done
