#!/bin/sh
# git gate check --remote NAME REF [COMMIT]: the server's own verdict on a
# push, by a dry-run push that cannot land, even on a server without
# git-gate; over file:// and git://.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

PORT=$(free_port)

gate_policy() {
	cat >"$1/git-gate.conf" <<-\EOF
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "msg" ]; } );
	checks = { msg = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
}

# refs of a repository, to prove nothing moved
refs_of() {
	git --git-dir="$1" for-each-ref --format="%(objectname) %(refname)"
}

test_expect_success 'setup: a gated server, a gateless one, and a clone' '
	mkdir srv &&
	make_victim srv/gated.git && gate_policy srv/gated.git &&
	git init -q --bare srv/plain.git &&
	git --git-dir=srv/plain.git config receive.advertisePushOptions true &&
	printf "#!/bin/sh\ncat >/dev/null\necho plain hook accepts\n" >srv/plain.git/hooks/pre-receive &&
	chmod +x srv/plain.git/hooks/pre-receive &&
	git init -q --bare srv/noopts.git &&
	git init -q --bare srv/noatomic.git &&
	git --git-dir=srv/noatomic.git config receive.advertisePushOptions true &&
	git --git-dir=srv/noatomic.git config receive.advertiseAtomic false &&
	make_work work srv/gated.git &&
	(cd work &&
	 for r in plain noopts noatomic; do
		git remote add $r "$TRASH/srv/$r.git" && git push -q $r main || return 1
	 done)
'

test_expect_success 'a good commit: the server would accept it, and nothing moved' '
	(cd work && commit_file a a "Add a") &&
	refs_of srv/gated.git >before &&
	(cd work && git gate check --remote origin refs/heads/main >../out 2>&1) &&
	test_grep "asking .origin. what its policy says to HEAD -> refs/heads/main" out &&
	test_grep "remote: git-gate: dry run (-o gate.dry-run): the push would be accepted" out &&
	test_grep "git-gate: refs/heads/main: the server.s gate would accept this push (nothing was pushed)" out &&
	refs_of srv/gated.git >after &&
	test_cmp before after
'

test_expect_success 'a bad commit: the server report and exit 1, nothing moved' '
	(cd work && commit_file b b "WIP b") &&
	(cd work && test_expect_code 1 git gate check --remote origin refs/heads/main >../out 2>&1) &&
	test_grep "remote: git-gate: ---- refs/heads/main: REJECTED ----" out &&
	test_grep "remote: git-gate: .*subject matches the forbidden pattern" out &&
	test_grep "the server.s gate would REJECT this push" out &&
	test_grep ! "dry-run-guard" out &&
	refs_of srv/gated.git >after &&
	test_cmp before after
'

test_expect_success 'a given commit and another ref are judged' '
	(cd work && git gate check --remote origin refs/heads/main HEAD~1 >../out 2>&1) &&
	test_grep "would accept" out &&
	(cd work && git gate check --remote "$TRASH/srv/gated.git" refs/heads/topic >../out 2>&1) &&
	test_grep "refs/heads/topic: the server.s gate would accept" out &&
	refs_of srv/gated.git >after &&
	test_cmp before after
'

test_expect_success 'a push git refuses itself (not a fast-forward) is said so; --force asks the server' '
	(cd work && git fetch -q origin && git reset -q --hard origin/main && commit_file c c "Add c" &&
	 git push -q origin main && git reset -q --hard HEAD~1 && commit_file d d "Add d") &&
	refs_of srv/gated.git >before &&
	(cd work && test_expect_code 1 git gate check --remote origin refs/heads/main >../out 2>&1) &&
	test_grep "git itself refuses this push before asking the server (not a fast-forward)" out &&
	(cd work && test_expect_code 0 git gate check --remote origin --force refs/heads/main >../out 2>&1) &&
	test_grep "would accept" out &&
	refs_of srv/gated.git >after &&
	test_cmp before after
'

test_expect_success 'a server without git-gate: no verdict, exit 2, and the push did not land' '
	refs_of srv/plain.git >before &&
	(cd work && test_expect_code 2 git gate check --remote plain refs/heads/main >../out 2>&1) &&
	test_grep "remote: plain hook accepts" out &&
	test_grep "gave no git-gate verdict: it has no git-gate" out &&
	refs_of srv/plain.git >after &&
	test_cmp before after
'

test_expect_success 'a server gated by the update hook (no push options) gives no verdict and takes nothing' '
	git init -q --bare srv/upd.git &&
	git gate install --hook update srv/upd.git >/dev/null &&
	gate_policy srv/upd.git &&
	(cd work && git push -q "$TRASH/srv/upd.git" origin/main:refs/heads/main) &&
	refs_of srv/upd.git >before &&
	(cd work && test_expect_code 2 git gate check --remote "$TRASH/srv/upd.git" --force refs/heads/main >../upd-out 2>&1) &&
	test_grep "gave no git-gate verdict: it has no git-gate, or runs it as the update hook" upd-out &&
	refs_of srv/upd.git >after &&
	test_cmp before after
'

test_expect_success 'a server without push options cannot be asked' '
	refs_of srv/noopts.git >before &&
	(cd work && test_expect_code 2 git gate check --remote noopts refs/heads/main >../out 2>&1) &&
	test_grep "does not advertise push options" out &&
	refs_of srv/noopts.git >after &&
	test_cmp before after
'

test_expect_success 'a server without atomic pushes is not asked' '
	refs_of srv/noatomic.git >before &&
	(cd work && test_expect_code 2 git gate check --remote noatomic refs/heads/main >../out 2>&1) &&
	test_grep "does not support atomic pushes" out &&
	refs_of srv/noatomic.git >after &&
	test_cmp before after
'

test_expect_success 'usage: a short ref name and extra arguments' '
	(cd work && test_expect_code 2 git gate check --remote origin main >../out 2>&1) &&
	test_grep "try refs/heads/main" out &&
	(cd work && test_expect_code 2 git gate check --remote origin refs/heads/main a b 2>/dev/null)
'

test_expect_success 'setup: both servers over git daemon' '
	start_git_daemon $PORT gated.git
'

test_expect_success 'over git://: the gated server judges, the gateless one cannot be fooled' '
	refs_of srv/gated.git >before-g &&
	refs_of srv/plain.git >before-p &&
	(cd work && git reset -q --hard origin/main && commit_file e e "WIP e" &&
	 test_expect_code 1 git gate check --remote "git://127.0.0.1:$PORT/gated.git" refs/heads/main >../out 2>&1) &&
	test_grep "remote: git-gate: .*subject matches the forbidden pattern" out &&
	test_grep "would REJECT" out &&
	(cd work && test_expect_code 2 git gate check --remote "git://127.0.0.1:$PORT/plain.git" refs/heads/main >../out 2>&1) &&
	test_grep "gave no git-gate verdict" out &&
	refs_of srv/gated.git >after-g &&
	refs_of srv/plain.git >after-p &&
	test_cmp before-g after-g &&
	test_cmp before-p after-p
'

test_done
