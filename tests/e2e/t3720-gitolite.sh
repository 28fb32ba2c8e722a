#!/bin/sh
# contrib/gitolite: git-gate as a gitolite VREF and as a repo-specific
# pre-receive hook.  First the VREF is called exactly as gitolite's update
# hook calls it; then, when gitolite3 is installed, through a real gitolite
# (gitolite-shell behind a stand-in for sshd).
. "$GATE_SRCDIR/tests/e2e/lib.sh"

vref="$GATE_SRCDIR/contrib/gitolite/VREF/git-gate"
Z=0000000000000000000000000000000000000000

# call_vref REF OLD NEW [NAME]: as gitolite's check_vrefs(), in the repository, for GL_USER
call_vref() {
	refex=VREF/git-gate${4:+/$4}
	(cd victim.git && env -u GIT_GATE_USER GL_REPO=victim GIT_DIR=. "$vref" "$1" "$2" "$3" "$2" "$3" W "$refex" ${4:+"$4"})
}

test_expect_success 'setup: a repository, a policy, one good and one bad commit' '
	git init -q --bare victim.git &&
	make_work work victim.git &&
	mkdir policies &&
	cat >policies/victim.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "msg" ]; exempt_users = [ "bob" ]; } );
	checks = { msg = { type = "commit-message"; subject_max = 20; }; };
	EOF
	cat >policies/strict.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "msg" ]; } );
	checks = { msg = { type = "commit-message"; subject_max = 3; }; };
	EOF
	(cd work && commit_file a a "Add a" && commit_file b b "Add b with a subject far too long") &&
	git -C victim.git fetch -q ../work main
'

# as in gitolite's update hook: the objects are in the repository, no ref names them yet
base=$(git -C work rev-parse HEAD~2)
good=$(git -C work rev-parse HEAD~1)
bad=$(git -C work rev-parse HEAD)

GIT_GATE_POLICY_DIR="$TRASH/policies"
export GIT_GATE_POLICY_DIR

test_expect_success 'VREF: a good ref prints nothing to gitolite' '
	GL_USER=alice call_vref refs/heads/main "$base" "$good" >out 2>err &&
	test_must_fail test -s out
'

test_expect_success 'VREF: a rejected ref prints the refex, the report goes to stderr' '
	GL_USER=alice call_vref refs/heads/main "$base" "$bad" >out 2>err &&
	echo "VREF/git-gate git-gate rejected refs/heads/main (the report is above)" >expect &&
	test_cmp expect out &&
	test_grep "subject is 33 characters long, more than the 20 allowed" err
'

test_expect_success 'VREF: GL_USER is the pusher (an exempt user passes)' '
	GL_USER=bob call_vref refs/heads/main "$base" "$bad" >out 2>err &&
	test_must_fail test -s out
'

test_expect_success 'VREF: VREF/git-gate/NAME judges by policy NAME, and a missing one denies' '
	GL_USER=bob call_vref refs/heads/main "$base" "$good" strict >out 2>err &&
	test_grep "^VREF/git-gate/strict git-gate rejected refs/heads/main" out &&
	GL_USER=bob call_vref refs/heads/main "$base" "$good" nosuch >out 2>err &&
	test_grep "^VREF/git-gate/nosuch git-gate: policy .*/nosuch.conf (named by VREF/git-gate/nosuch) is missing" out &&
	GL_USER=bob call_vref refs/heads/main "$base" "$good" ../policies/strict >out 2>err &&
	test_grep "^VREF/git-gate/../policies/strict git-gate: bad policy name" out
'

test_expect_success 'VREF: the policy files are layered: the system file.s final rules hold' '
	final_system_policy system.conf &&
	(cd work && git checkout -q -b wip "$base" && commit_file w w "WIP w" && git checkout -q main) &&
	git -C victim.git fetch -q ../work wip &&
	wip=$(git -C work rev-parse wip) &&
	GIT_GATE_SYSTEM_CONFIG="$TRASH/system.conf" GL_USER=bob call_vref refs/heads/main "$base" "$wip" >out 2>err &&
	test_grep "^VREF/git-gate git-gate rejected refs/heads/main" out &&
	test_grep "\[nowip\] commit-message: 1 problem" err &&
	GIT_GATE_SYSTEM_CONFIG="$TRASH/system.conf" GL_USER=bob call_vref refs/heads/main "$base" "$wip" strict >out 2>err &&
	test_grep "policy: .*system.conf + .*policies/strict.conf" err
'

test_expect_success 'VREF: without git-gate installed it denies (fail closed)' '
	GIT_GATE_LIBEXECDIR=/nonexistent GL_USER=alice call_vref refs/heads/main "$base" "$good" >out 2>err &&
	test_grep "^VREF/git-gate git-gate: its hook program /nonexistent/update is missing" out
'

if command -v gitolite >/dev/null 2>&1 && [ -x /usr/share/gitolite3/gitolite-shell ]; then
	GLHOME="$TRASH/gitolite-home"
	export GLHOME
	# sshd with command="gitolite-shell USER" in authorized_keys, minus the network
	cat >fake-ssh <<-\EOF
	#!/bin/sh
	for last; do :; done
	exec env -u GIT_GATE_USER HOME="$GLHOME" SSH_CONNECTION="127.0.0.1 1 127.0.0.1 22" \
		SSH_ORIGINAL_COMMAND="$last" /usr/share/gitolite3/gitolite-shell "$FAKE_USER"
	EOF
	chmod +x fake-ssh
	GIT_SSH_COMMAND="$TRASH/fake-ssh"
	export GIT_SSH_COMMAND

	test_expect_success 'gitolite: setup with the VREF and the repo-specific hook' '
		ssh-keygen -q -t ed25519 -N "" -C admin -f admin &&
		mkdir -p "$GLHOME" && cp admin.pub "$GLHOME/" &&
		(cd "$GLHOME" && HOME="$GLHOME" gitolite setup -pk admin.pub >/dev/null) &&
		sed -i -e "s|^\( *\)# LOCAL_CODE\( *\)=>  \"\$ENV{HOME}/local\",|\1LOCAL_CODE\2=>  \"\$ENV{HOME}/local\",|" \
			-e "s|^\( *\)# '"'"'repo-specific-hooks'"'"',|\1'"'"'repo-specific-hooks'"'"',|" "$GLHOME/.gitolite.rc" &&
		grep "^ *LOCAL_CODE *=> *\"\$ENV{HOME}/local\"," "$GLHOME/.gitolite.rc" &&
		grep "^ *'"'"'repo-specific-hooks'"'"'," "$GLHOME/.gitolite.rc" &&
		mkdir -p "$GLHOME/local/VREF" "$GLHOME/local/hooks/repo-specific" &&
		cp "$GATE_SRCDIR/contrib/gitolite/VREF/git-gate" "$GLHOME/local/VREF/" &&
		cp "$GATE_SRCDIR/contrib/gitolite/hooks/repo-specific/git-gate" "$GLHOME/local/hooks/repo-specific/" &&
		chmod +x "$GLHOME/local/VREF/git-gate" "$GLHOME/local/hooks/repo-specific/git-gate" &&
		cat >"$GLHOME/.gitolite/conf/gitolite.conf" <<-\EOF &&
		repo gitolite-admin
		    RW+     =   admin
		repo vref
		    RW+     =   alice bob
		    -       VREF/git-gate   =   @all
		    option hook.post-receive = git-gate
		repo hooked
		    RW+     =   alice bob
		    option hook.pre-receive = git-gate
		    option hook.post-receive = git-gate
		EOF
		(cd "$GLHOME" && HOME="$GLHOME" gitolite compile && HOME="$GLHOME" gitolite trigger POST_COMPILE) >/dev/null 2>&1 &&
		test -x "$GLHOME/repositories/hooked.git/hooks/pre-receive.h00-git-gate" &&
		cp policies/victim.conf policies/vref.conf && cp policies/victim.conf policies/hooked.conf &&
		(cd work && FAKE_USER=alice git push -q git@localhost:vref HEAD~2:refs/heads/main &&
		 FAKE_USER=alice git push -q git@localhost:hooked HEAD~2:refs/heads/main)
	'

	for repo in vref hooked; do
		test_expect_success "gitolite ($repo): a good push is accepted" '
			(cd work && FAKE_USER=alice git push git@localhost:'$repo' HEAD~1:refs/heads/main 2>../err) &&
			test "$(ref_of "$GLHOME/repositories/'$repo'.git" main)" = "$(git -C work rev-parse HEAD~1)"
		'

		test_expect_success "gitolite ($repo): a bad push is denied with the report" '
			before=$(ref_of "$GLHOME/repositories/'$repo'.git" main) &&
			(cd work && FAKE_USER=alice test_must_fail git push git@localhost:'$repo' HEAD:refs/heads/main 2>../err) &&
			test_grep "remote: git-gate:       subject is 33 characters long, more than the 20 allowed" err &&
			test "$(ref_of "$GLHOME/repositories/'$repo'.git" main)" = "$before"
		'

		test_expect_success "gitolite ($repo): GL_USER decides: bob is exempt" '
			(cd work && FAKE_USER=bob git push git@localhost:'$repo' HEAD:refs/heads/main 2>../err) &&
			test "$(ref_of "$GLHOME/repositories/'$repo'.git" main)" = "$(git -C work rev-parse HEAD)"
		'

		test_expect_success "gitolite ($repo): post-receive records what moved, as GL_USER" '
			tail -n 1 "$GLHOME/repositories/'$repo'.git/git-gate/audit.log" >last &&
			test_grep "\"event\":\"updated\"" last &&
			test_grep "\"user\":\"bob\",\"user_source\":\"GL_USER\"" last &&
			test_grep "\"new\":\"$(git -C work rev-parse HEAD)\"" last
		'
	done

	test_expect_success 'gitolite: the VREF denial names the rule' '
		(cd work && commit_file c c "Add c, another long subject" &&
		 FAKE_USER=alice test_must_fail git push git@localhost:vref HEAD:refs/heads/main 2>../err) &&
		test_grep "remote: FATAL: W VREF/git-gate vref alice DENIED by VREF/git-gate" err &&
		test_grep "remote: git-gate rejected refs/heads/main (the report is above)" err
	'
else
	test_count=$((test_count + 1))
	printf 'ok %d # SKIP gitolite3 is not installed: only the direct VREF calls were tested\n' "$test_count"
fi

test_done
