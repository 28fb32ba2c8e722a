#!/bin/sh
# git gate install keeps what it found: an existing hook is chained (it
# still runs, with the same stdin, arguments and environment, and either
# rejecting rejects), uninstall puts it back exactly, a hooks/<name>.d/
# layout is joined instead of replaced; and install turns on git's own
# object checks (receive.fsckObjects) unless told not to.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# A previous pre-receive hook that records what it got and accepts,
# unless the pushed ref is refs/heads/nope.
write_prev_hook() {
	cat >"$1" <<-\HOOK
	#!/bin/sh
	in=$(cat)
	printf "%s\n" "$in" >"$GIT_DIR/prev-stdin"
	printf "%s\n" "${GIT_PUSH_OPTION_COUNT:-none} ${GIT_PUSH_OPTION_0:-}" >"$GIT_DIR/prev-env"
	echo "previous hook ran"
	case "$in" in *refs/heads/nope*) echo "previous hook: nope is not allowed" >&2; exit 7 ;; esac
	exit 0
	HOOK
	chmod 755 "$1"
}

test_expect_success 'setup: a repository with its own pre-receive hook' '
	git init -q --bare chained.git &&
	write_prev_hook chained.git/hooks/pre-receive &&
	cp -p chained.git/hooks/pre-receive original-hook &&
	git gate install --force chained.git >out &&
	test_grep "kept the existing pre-receive hook as .*pre-receive.before-git-gate" out &&
	test_grep "either rejecting rejects" out &&
	test -L chained.git/hooks/pre-receive &&
	cmp original-hook chained.git/hooks/pre-receive.before-git-gate
'

test_expect_success 'the chained hook runs with the same stdin and push options' '
	make_work work chained.git &&
	(cd work && commit_file a.txt a "Add a" && git push -o hello=world origin main 2>../err) &&
	test_grep "remote: previous hook ran" err &&
	echo "1 hello=world" >expect &&
	test_cmp expect chained.git/prev-env &&
	test_grep "refs/heads/main" chained.git/prev-stdin &&
	test "$(awk "{print \$2}" chained.git/prev-stdin | tail -n 1)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'the chained hook rejecting rejects the push git-gate accepts' '
	(cd work && test_must_fail git push origin HEAD:refs/heads/nope 2>../err) &&
	test_grep "remote: previous hook: nope is not allowed" err &&
	test_grep "remote: git-gate: the pre-receive hook that was here before git-gate (pre-receive.before-git-gate) rejected the push (exit status 7)" err &&
	test -z "$(ref_of chained.git refs/heads/nope)"
'

test_expect_success 'the audit record says the push was refused, and by the chained hook' '
	tail -n 1 chained.git/git-gate/audit.log >rec &&
	test_grep "\"accepted\":false" rec &&
	test_grep "\"exit_code\":7" rec &&
	test_grep "\"chained_hook\":\".*pre-receive.before-git-gate: exit status 7\"" rec
'

test_expect_success 'git-gate rejecting rejects too, and the chained hook still speaks' '
	(cd work && git commit -q --amend -m rewritten &&
	 test_must_fail git push -f origin main 2>../err) &&
	test_grep "remote: git-gate: .*not a fast-forward" err &&
	test_grep "remote: previous hook ran" err &&
	test "$(ref_of chained.git refs/heads/main)" != "$(git -C work rev-parse HEAD)"
'

test_expect_success 'git-gate speaks first, then the chained hook' '
	grep -n "remote:" err >lines &&
	gate=$(grep -m1 "git-gate:" lines | cut -d: -f1) &&
	prev=$(grep -m1 "previous hook ran" lines | cut -d: -f1) &&
	test "$gate" -lt "$prev"
'

test_expect_success 'uninstall puts the chained hook back exactly' '
	git gate uninstall chained.git >out &&
	test_grep "put back the pre-receive hook" out &&
	test ! -L chained.git/hooks/pre-receive &&
	test ! -e chained.git/hooks/pre-receive.before-git-gate &&
	cmp original-hook chained.git/hooks/pre-receive &&
	test "$(stat -c %a chained.git/hooks/pre-receive)" = "$(stat -c %a original-hook)"
'

test_expect_success 'a chained post-receive hook runs after the push with the same stdin' '
	git init -q --bare post.git &&
	cat >post.git/hooks/post-receive <<-\HOOK &&
	#!/bin/sh
	cat >"$GIT_DIR/post-stdin"
	echo "previous post-receive ran"
	exit 3
	HOOK
	chmod +x post.git/hooks/post-receive &&
	cp -p post.git/hooks/post-receive original-post &&
	git gate install --force post.git >out &&
	test_grep "kept the existing post-receive hook as" out &&
	make_work pwork post.git &&
	(cd pwork && commit_file p p "Add p" && git push origin main 2>../err) &&
	test "$(ref_of post.git main)" = "$(git -C pwork rev-parse HEAD)" &&
	test_grep "remote: previous post-receive ran" err &&
	test_grep "the post-receive hook that was here before git-gate (post-receive.before-git-gate) failed (exit status 3)" err &&
	test_grep "refs/heads/main$" post.git/post-stdin &&
	test "$(cut -d" " -f2 post.git/post-stdin)" = "$(git -C pwork rev-parse HEAD)" &&
	git gate uninstall post.git >/dev/null &&
	cmp original-post post.git/hooks/post-receive
'

test_expect_success 'a hook that was a symbolic link comes back as the same link' '
	git init -q --bare linked.git &&
	write_prev_hook shared-hook &&
	ln -s "$TRASH/shared-hook" linked.git/hooks/pre-receive &&
	git gate install --force linked.git >/dev/null &&
	test "$(readlink linked.git/hooks/pre-receive.before-git-gate)" = "$TRASH/shared-hook" &&
	git gate uninstall linked.git >/dev/null &&
	test "$(readlink linked.git/hooks/pre-receive)" = "$TRASH/shared-hook"
'

test_expect_success 'a chained update hook gets the same arguments, and its refusal counts for its ref' '
	git init -q --bare upd.git &&
	cat >upd.git/hooks/update <<-\HOOK &&
	#!/bin/sh
	echo "$1 $2 $3" >>"$GIT_DIR/prev-args"
	test "$1" != refs/heads/frozen || { echo "frozen is frozen" >&2; exit 1; }
	HOOK
	chmod +x upd.git/hooks/update &&
	git gate install --force --hook update upd.git >/dev/null &&
	make_work uwork upd.git &&
	test_grep "refs/heads/main 0000000000000000000000000000000000000000 $(git -C uwork rev-parse HEAD)" upd.git/prev-args &&
	(cd uwork && test_must_fail git push origin HEAD:refs/heads/frozen HEAD:refs/heads/other 2>../err) &&
	test_grep "remote: frozen is frozen" err &&
	test -z "$(ref_of upd.git refs/heads/frozen)" &&
	test -n "$(ref_of upd.git refs/heads/other)"
'

test_expect_success 'switching hooks puts back what the other one chained' '
	git gate install --hook pre-receive upd.git >/dev/null &&
	test -L upd.git/hooks/pre-receive &&
	test ! -L upd.git/hooks/update &&
	test -f upd.git/hooks/update &&
	test ! -e upd.git/hooks/update.before-git-gate
'

test_expect_success 'a second foreign hook cannot be chained over the first' '
	git init -q --bare twice.git &&
	write_prev_hook twice.git/hooks/pre-receive &&
	git gate install --force twice.git >/dev/null &&
	rm twice.git/hooks/pre-receive &&
	write_prev_hook twice.git/hooks/pre-receive &&
	test_expect_code 1 git gate install --force twice.git 2>err &&
	test_grep "already exists" err
'

# A dispatcher like the one Gitea writes: every program in pre-receive.d
# gets the push on stdin, and any failure fails the push.
write_dispatcher() {
	cat >"$1" <<-\HOOK
	#!/bin/sh
	data=$(cat)
	rc=0
	for h in "$0".d/*; do
		test -x "$h" && test -f "$h" || continue
		printf "%s\n" "$data" | "$h" || rc=1
	done
	exit $rc
	HOOK
	chmod 755 "$1"
}

test_expect_success 'a hooks/pre-receive.d layout is joined, not replaced' '
	git init -q --bare gitea.git &&
	write_dispatcher gitea.git/hooks/pre-receive &&
	mkdir gitea.git/hooks/pre-receive.d &&
	write_prev_hook gitea.git/hooks/pre-receive.d/forge &&
	cp -p gitea.git/hooks/pre-receive dispatcher &&
	git gate install gitea.git >out &&
	test_grep "joins them as .*pre-receive.d/git-gate" out &&
	test -L gitea.git/hooks/pre-receive.d/git-gate &&
	cmp dispatcher gitea.git/hooks/pre-receive &&
	test ! -e gitea.git/hooks/pre-receive.before-git-gate
'

test_expect_success 'in the layout both git-gate and the other hooks judge' '
	make_work gwork gitea.git &&
	test_grep "refs/heads/main" gitea.git/prev-stdin &&
	(cd gwork && git commit -q --amend -m rewritten && test_must_fail git push -f origin main 2>../err) &&
	test_grep "remote: git-gate: .*not a fast-forward" err &&
	test_grep "remote: previous hook ran" err &&
	(cd gwork && test_must_fail git push origin HEAD:refs/heads/nope 2>../err) &&
	test_grep "nope is not allowed" err
'

test_expect_success 'uninstall takes git-gate out of the layout and nothing else' '
	git gate uninstall gitea.git >out &&
	test_grep "removed the hook" out &&
	test ! -e gitea.git/hooks/pre-receive.d/git-gate &&
	test -x gitea.git/hooks/pre-receive.d/forge &&
	cmp dispatcher gitea.git/hooks/pre-receive
'

test_expect_success 'install turns on receive.fsckObjects and says so' '
	git init -q --bare fsck.git &&
	git gate install fsck.git >out &&
	test_grep "set receive.fsckObjects = true" out &&
	test "$(git --git-dir=fsck.git config receive.fsckObjects)" = true
'

test_expect_success 'a malformed commit is then refused by git itself' '
	make_work fwork fsck.git &&
	(cd fwork &&
	 tree=$(git rev-parse HEAD^{tree}) &&
	 bad=$(printf "tree %s\nparent %s\nauthor A <a@example.com> notadate +0000\ncommitter A <a@example.com> 1 +0000\n\nbad date\n" \
		"$tree" "$(git rev-parse HEAD)" | git hash-object -t commit -w --literally --stdin) &&
	 test_must_fail git push origin "$bad:refs/heads/main" 2>../err) &&
	test_grep -i "badDate\|bad date\|fsck" err &&
	test "$(ref_of fsck.git refs/heads/main)" = "$(git -C fwork rev-parse HEAD)"
'

test_expect_success '--no-fsck-objects leaves it alone' '
	git init -q --bare nofsck.git &&
	git gate install --no-fsck-objects nofsck.git >out &&
	test_grep ! fsckObjects out &&
	test_expect_code 1 git --git-dir=nofsck.git config receive.fsckObjects
'

test_expect_success 'an explicit setting by the admin is kept, and said' '
	git init -q --bare keep.git &&
	git --git-dir=keep.git config receive.fsckObjects false &&
	git gate install keep.git >out &&
	test_grep "receive.fsckObjects = false is already set" out &&
	test "$(git --git-dir=keep.git config receive.fsckObjects)" = false
'

test_done
