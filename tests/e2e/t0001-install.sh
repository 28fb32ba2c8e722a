#!/bin/sh
# git gate install / uninstall, and the CLI's basic contract.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

test_expect_success 'install links the pre-receive and post-receive hooks and enables push options' '
	git init -q --bare victim.git &&
	git gate install victim.git >out &&
	test_grep "installed the pre-receive and post-receive hooks" out &&
	test -L victim.git/hooks/pre-receive &&
	test "$(readlink victim.git/hooks/pre-receive)" = "$GIT_GATE_LIBEXECDIR/pre-receive" &&
	test "$(readlink victim.git/hooks/post-receive)" = "$GIT_GATE_LIBEXECDIR/post-receive" &&
	test "$(git --git-dir=victim.git config receive.advertisePushOptions)" = true
'

test_expect_success 'installing twice is harmless' '
	git gate install victim.git &&
	test -L victim.git/hooks/pre-receive
'

test_expect_success 'a foreign hook is not overwritten without --force' '
	git init -q --bare foreign.git &&
	printf "#!/bin/sh\nexit 0\n" >foreign.git/hooks/pre-receive &&
	chmod +x foreign.git/hooks/pre-receive &&
	test_expect_code 1 git gate install foreign.git 2>err &&
	test_grep "not git-gate" err &&
	test_grep "force" err &&
	test ! -L foreign.git/hooks/pre-receive
'

test_expect_success 'a foreign post-receive hook is not overwritten either, and nothing is installed' '
	git init -q --bare foreign-post.git &&
	printf "#!/bin/sh\necho mine\n" >foreign-post.git/hooks/post-receive &&
	chmod +x foreign-post.git/hooks/post-receive &&
	test_expect_code 1 git gate install foreign-post.git 2>err &&
	test_grep "already has a post-receive hook that is not git-gate.s" err &&
	test ! -L foreign-post.git/hooks/post-receive &&
	test ! -e foreign-post.git/hooks/pre-receive &&
	git gate install --force foreign-post.git >out &&
	test_grep "kept the existing post-receive hook as" out &&
	test -L foreign-post.git/hooks/post-receive &&
	test_grep "echo mine" foreign-post.git/hooks/post-receive.before-git-gate
'

test_expect_success '--force replaces it and keeps the old one chained' '
	git gate install --force foreign.git >out &&
	test -L foreign.git/hooks/pre-receive &&
	test -f foreign.git/hooks/pre-receive.before-git-gate &&
	test_grep "kept the existing pre-receive hook as" out
'

test_expect_success '--hook update installs the update hook instead' '
	git init -q --bare upd.git &&
	git gate install --hook update upd.git &&
	test -L upd.git/hooks/update &&
	test -L upd.git/hooks/post-receive &&
	test ! -e upd.git/hooks/pre-receive
'

test_expect_success 'switching to the update hook removes our pre-receive' '
	git gate install --hook update victim.git &&
	test -L victim.git/hooks/update &&
	test ! -e victim.git/hooks/pre-receive
'

test_expect_success 'a bad --hook value is a usage error' '
	test_expect_code 2 git gate install --hook post-receive victim.git 2>err &&
	test_grep "pre-receive" err
'

test_expect_success 'install refuses a directory that is not a repository' '
	mkdir notrepo &&
	test_expect_code 2 git gate install notrepo 2>err &&
	test_grep "not a git repository" err
'

test_expect_success 'uninstall removes our hooks and leaves foreign ones' '
	git gate uninstall victim.git >out &&
	test_grep "removed" out &&
	test ! -e victim.git/hooks/update &&
	test ! -e victim.git/hooks/post-receive &&
	printf "#!/bin/sh\nexit 0\n" >victim.git/hooks/pre-receive &&
	git gate uninstall victim.git 2>err &&
	test_grep "leaving" err &&
	test -f victim.git/hooks/pre-receive
'

test_expect_success 'the installed hook gates real pushes' '
	make_victim gated.git &&
	make_work work gated.git &&
	(cd work && git commit -q --amend -m rewritten && test_must_fail git push -f origin main 2>../err) &&
	test_grep "remote: git-gate: .*not a fast-forward" err
'

test_expect_success 'git gate runs as a git subcommand and knows its version' '
	git gate --version >out &&
	test_grep "^git-gate [0-9]" out &&
	git-gate --help >out &&
	test_grep "usage: git gate" out
'

test_expect_success 'every verb has --help' '
	for v in install uninstall validate explain check replay; do
		git gate $v --help >out || return 1
		test_grep "usage: git gate $v" out || return 1
	done
'

test_expect_success 'unknown verbs and missing arguments exit 2' '
	test_expect_code 2 git gate frobnicate 2>err &&
	test_grep "not a git-gate command" err &&
	test_expect_code 2 git gate check refs/heads/main 2>err &&
	test_expect_code 2 git gate install
'

test_done
