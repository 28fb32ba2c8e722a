#!/bin/sh
# The command check's workspace: hostile trees (symlinks and names that
# try to escape) write nothing outside it, submodules and symlinks are
# checked out as such, and concurrent pushes to two repositories never
# share a workspace.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# mktree_raw MODE NAME ID...: write a tree object exactly as given (git
# mktree refuses such names; a hostile client does not ask)
mktree_raw() {
	perl -e 'binmode STDOUT; while (@ARGV) { my ($m, $n, $h) = splice(@ARGV, 0, 3); print "$m $n\0", pack("H*", $h); }' "$@" |
	git --git-dir="$TRASH/work/.git" hash-object -t tree --literally -w --stdin
}

# push_tree TREE MESSAGE: commit TREE on top of HEAD in ./work and push it
push_tree() {
	c=$(git -C work commit-tree "$1" -p HEAD -m "$2") &&
	git -C work update-ref refs/heads/main "$c" &&
	(cd work && git push origin main 2>../err)
}

# nothing_escaped: no "evil" anywhere around the test, nothing left in ws/
nothing_escaped() {
	test -z "$(ls -A "$TRASH/outside")" &&
	ws_empty &&
	! test -e "$TRASH/../evil" &&
	! test -e "$TRASH/evil" &&
	# other tests' trash folders (make check runs them at once) are theirs
	test -z "$(find "$GATE_BUILDDIR/tests" -path "$GATE_BUILDDIR/tests/e2e/trash.*" ! -path "$TRASH" -prune -o \
		-name evil -print 2>/dev/null)"
}

# git's own object checks (receive.fsckObjects, which install turns on)
# would refuse most of these trees first: git-gate must refuse them
# without that help, so they are off here.
test_expect_success 'setup' '
	make_victim victim.git --no-fsck-objects &&
	make_work work victim.git &&
	mkdir ws outside &&
	cat >victim.git/git-gate.conf <<-EOF &&
	workspace = "$TRASH/ws";
	checks = { build = { type = "command"; run = "echo ran >>../../runs; ls -la >../../listing"; }; };
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
	EOF
	evil=$(echo evil | git -C work hash-object -w --stdin) &&
	good=$(echo fine | git -C work hash-object -w --stdin) &&
	up=$(printf "../../.." | git -C work hash-object -w --stdin) &&
	abs=$(printf "%s" "$TRASH/outside" | git -C work hash-object -w --stdin) &&
	evil_dir=$(mktree_raw 100644 evil $evil) &&
	echo "$evil $good $up $abs $evil_dir" >ids
'

read_ids() {
	read evil good up abs evil_dir <"$TRASH/ids"
}

test_expect_success 'a symlink to ../../.. followed by escape/evil is refused, nothing written outside' '
	read_ids &&
	tree=$(mktree_raw 100644 README $good 120000 escape $up 40000 escape $evil_dir) &&
	before=$(ref_of victim.git main) &&
	test_must_fail push_tree $tree "Escape through a relative symlink" &&
	test_grep "remote: git-gate:   \[build\] command: 1 problem" err &&
	test_grep "remote: git-gate:       not checked out, nothing run: the tree holds the path .escape/evil., which lies below another entry" err &&
	test_grep "fix: remove or rename the path" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	! test -e runs &&
	nothing_escaped
'

test_expect_success 'an absolute symlink followed by a file below it is refused' '
	read_ids &&
	tree=$(mktree_raw 120000 out $abs 40000 out $evil_dir) &&
	test_must_fail push_tree $tree "Escape through an absolute symlink" &&
	test_grep "the tree holds the path .out/evil., which lies below another entry" err &&
	! test -e runs &&
	nothing_escaped
'

test_expect_success 'a tree entry named .. is refused' '
	read_ids &&
	inner=$(mktree_raw 40000 .. $evil_dir) &&
	tree=$(mktree_raw 40000 a $inner) &&
	test_must_fail push_tree $tree "Dot-dot" &&
	test_grep "not checked out, nothing run: the tree holds the path .a/\.\.., which is not a safe relative path" err &&
	! test -e runs &&
	nothing_escaped
'

test_expect_success 'a tree entry whose name holds slashes and .. is refused' '
	read_ids &&
	tree=$(mktree_raw 100644 "a/../../../evil" $evil) &&
	test_must_fail push_tree $tree "Slashes in a name" &&
	test_grep "not checked out, nothing run: the tree holds the path .a/\.\./\.\./\.\./evil." err &&
	! test -e runs &&
	nothing_escaped
'

test_expect_success 'an absolute path in a tree entry is refused' '
	read_ids &&
	tree=$(mktree_raw 100644 "/$TRASH/outside/evil" $evil) &&
	test_must_fail push_tree $tree "Absolute name" &&
	test_grep "not checked out, nothing run: the tree holds the path .//" err &&
	! test -e runs &&
	nothing_escaped
'

test_expect_success 'a .git directory in the tree is refused' '
	read_ids &&
	cfg=$(printf "[core]\n\tfsmonitor = touch $TRASH/outside/evil\n" | git -C work hash-object -w --stdin) &&
	dotgit=$(mktree_raw 100644 config $cfg) &&
	tree=$(mktree_raw 100644 README $good 40000 .GIT $dotgit) &&
	test_must_fail push_tree $tree "Planted .git" &&
	test_grep "the tree holds the path .\.GIT., which is not a safe relative path" err &&
	! test -e runs &&
	nothing_escaped
'

test_expect_success 'symlinks are written as symlinks, submodules as empty directories (sandboxed and not)' '
	(cd work && git reset -q --hard $(git -C ../victim.git rev-parse main) &&
	 ln -s ../../outside link && ln -s README.md doc && echo readme >README.md &&
	 git update-index --add --cacheinfo 160000,$(git rev-parse HEAD),vendor/lib &&
	 git add link doc README.md && git commit -q -m "Links and a submodule") &&
	for sandbox in bwrap none; do
		cat >victim.git/git-gate.conf <<-EOF &&
		workspace = "$TRASH/ws";
		checks = { build = { type = "command"; sandbox = "$sandbox";
		  run = "test -L link && test \"\$(readlink link)\" = ../../outside && test -L doc && test \"\$(cat doc)\" = readme && test -d vendor/lib && test -z \"\$(ls -A vendor/lib)\" && echo links-ok-\$(pwd)"; }; };
		rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
		EOF
		(cd work && echo $sandbox >mode && git add mode && git commit -q -m "Mode $sandbox" &&
		 git push origin main 2>../err) &&
		test_grep "build: passed on" err &&
		test_grep "^links-ok-" "$(ls -t victim.git/git-gate/logs/*.log | head -n 1)" &&
		test -z "$(ls -A outside)" || return 1
	done &&
	ws_empty
'

test_expect_success 'sandbox = "none": the workspace is removed even when the command leaves read-only directories and symlinks to outside' '
	echo keep >outside/keep &&
	cat >victim.git/git-gate.conf <<-EOF &&
	workspace = "$TRASH/ws";
	checks = { build = { type = "command"; sandbox = "none";
	  run = "mkdir -p ro/deep && echo x >ro/deep/f && ln -s $TRASH/outside ro/out && chmod -R a-w ro; exit 1"; }; };
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
	EOF
	(cd work && commit_file x x "More" && test_must_fail git push origin main 2>../err) &&
	test_grep "exit status 1" err &&
	ws_empty &&
	test "$(cat outside/keep)" = keep
'

test_expect_success 'setup: two repositories whose command takes 2 s' '
	for r in a b; do
		make_victim $r.git && make_work w-$r $r.git &&
		cat >$r.git/git-gate.conf <<-EOF &&
		workspace = "$TRASH/ws";
		max_concurrent_commands = 4;
		checks = { build = { type = "command"; env = [ "EXPECT=$r" ];
		  run = "echo start:\$(date +%s.%N); sleep 2; echo commit:\$GIT_GATE_COMMIT; test \"\$(cat who)\" = \$EXPECT"; }; };
		rules = ( { refs = [ "refs/heads/*" ]; checks = [ "build" ]; } );
		EOF
		(cd w-$r && commit_file who $r "Who: $r") || exit 1
	done
'

test_expect_success 'two pushes to two repositories at once do not interfere' '
	(cd w-a && git push origin main 2>../err.a; echo $? >../rc.a) &
	(cd w-b && git push origin main 2>../err.b; echo $? >../rc.b) &
	wait
	test "$(cat rc.a)" = 0 && test "$(cat rc.b)" = 0 &&
	test_grep "build: passed on" err.a &&
	test_grep "build: passed on" err.b &&
	test "$(ref_of a.git main)" = "$(git -C w-a rev-parse HEAD)" &&
	test "$(ref_of b.git main)" = "$(git -C w-b rev-parse HEAD)" &&
	test_grep "^commit:$(git -C w-a rev-parse HEAD)$" a.git/git-gate/logs/*.log &&
	test_grep "^commit:$(git -C w-b rev-parse HEAD)$" b.git/git-gate/logs/*.log &&
	# they really ran at the same time
	awk -v a="$(sed -n "s/^start://p" a.git/git-gate/logs/*.log)" -v b="$(sed -n "s/^start://p" b.git/git-gate/logs/*.log)" \
		"BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 2) }" &&
	ws_empty
'

test_done
