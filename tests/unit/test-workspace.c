#include "unit.h"

#include <fcntl.h>
#include <git2.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run-command.h"
#include "slot.h"
#include "workspace.h"

struct fixture {
	char *dir;
	git_repository *repo; /* a bare repository in dir/repo.git */
	char *git_dir;
};

static int setup(void **state)
{
	struct fixture *f = gate_xcalloc(1, sizeof(*f));
	char tmpl[] = "/tmp/test-workspace-XXXXXX";

	git_libgit2_init();
	if (!mkdtemp(tmpl))
		return -1;
	f->dir = gate_xstrdup(tmpl);
	f->git_dir = gate_xstrfmt("%s/repo.git", tmpl);
	if (git_repository_init(&f->repo, f->git_dir, 1) < 0)
		return -1;
	unsetenv("GIT_QUARANTINE_PATH");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unsetenv("GIT_QUARANTINE_PATH");
	git_repository_free(f->repo);
	gate_remove_tree(f->dir, NULL);
	free(f->dir);
	free(f->git_dir);
	free(f);
	git_libgit2_shutdown();
	return 0;
}

static void blob(git_repository *repo, git_oid *out, const char *text)
{
	assert_int_equal(git_blob_create_from_buffer(out, repo, text, strlen(text)), 0);
}

/* A tree: README, run.sh (executable), link -> README, src/main.c, vendor/lib (a submodule). */
static void sample_tree(git_repository *repo, char out[41])
{
	git_treebuilder *tb = NULL, *sub = NULL, *vendor = NULL;
	git_oid readme, script, link, mainc, src, vend, tree, gitlink;

	blob(repo, &readme, "hello\n");
	blob(repo, &script, "#!/bin/sh\necho run\n");
	blob(repo, &link, "README");
	blob(repo, &mainc, "int main(void) { return 0; }\n");
	assert_int_equal(git_oid_fromstr(&gitlink, "0123456789abcdef0123456789abcdef01234567"), 0);
	assert_int_equal(git_treebuilder_new(&sub, repo, NULL), 0);
	assert_int_equal(git_treebuilder_insert(NULL, sub, "main.c", &mainc, GIT_FILEMODE_BLOB), 0);
	assert_int_equal(git_treebuilder_write(&src, sub), 0);
	assert_int_equal(git_treebuilder_new(&vendor, repo, NULL), 0);
	assert_int_equal(git_treebuilder_insert(NULL, vendor, "lib", &gitlink, GIT_FILEMODE_COMMIT), 0);
	assert_int_equal(git_treebuilder_write(&vend, vendor), 0);
	assert_int_equal(git_treebuilder_new(&tb, repo, NULL), 0);
	assert_int_equal(git_treebuilder_insert(NULL, tb, "README", &readme, GIT_FILEMODE_BLOB), 0);
	assert_int_equal(git_treebuilder_insert(NULL, tb, "run.sh", &script, GIT_FILEMODE_BLOB_EXECUTABLE), 0);
	assert_int_equal(git_treebuilder_insert(NULL, tb, "link", &link, GIT_FILEMODE_LINK), 0);
	assert_int_equal(git_treebuilder_insert(NULL, tb, "src", &src, GIT_FILEMODE_TREE), 0);
	assert_int_equal(git_treebuilder_insert(NULL, tb, "vendor", &vend, GIT_FILEMODE_TREE), 0);
	assert_int_equal(git_treebuilder_write(&tree, tb), 0);
	git_oid_tostr(out, 41, &tree);
	git_treebuilder_free(tb);
	git_treebuilder_free(sub);
	git_treebuilder_free(vendor);
}

static char *read_text(const char *dir, const char *rel)
{
	struct gate_buf b = GATE_BUF_INIT;
	char *p = gate_xstrfmt("%s/%s", dir, rel);

	assert_int_equal(gate_read_file(&b, p, NULL), 0);
	free(p);
	return gate_buf_detach(&b);
}

static void test_workspace__checkout_writes_the_tree_with_modes_links_and_submodules(void **state)
{
	struct fixture *f = *state;
	struct gate_workspace ws = GATE_WORKSPACE_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	char tree[41], target[64], *p, *text, *root = gate_xstrfmt("%s/root", f->dir);
	struct stat st;
	size_t n = 0;
	ssize_t len;

	sample_tree(f->repo, tree);
	assert_int_equal(gate_workspace_create(&ws, root, &err), 0);
	assert_int_equal(gate_workspace_checkout(&ws, f->git_dir, tree, &n, &err), 0);
	assert_int_equal(n, 5);
	text = read_text(ws.path, "README");
	assert_string_equal(text, "hello\n");
	free(text);
	text = read_text(ws.path, "src/main.c");
	assert_string_equal(text, "int main(void) { return 0; }\n");
	free(text);
	p = gate_xstrfmt("%s/run.sh", ws.path);
	assert_int_equal(stat(p, &st), 0);
	assert_true(st.st_mode & S_IXUSR);
	free(p);
	p = gate_xstrfmt("%s/link", ws.path);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	len = readlink(p, target, sizeof(target) - 1);
	assert_int_equal(len, 6);
	target[len] = '\0';
	assert_string_equal(target, "README");
	free(p);
	p = gate_xstrfmt("%s/vendor/lib", ws.path);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(rmdir(p), 0); /* empty */
	free(p);
	/* the repository got no index (git forbids writing one in pre-receive) */
	p = gate_xstrfmt("%s/index", f->git_dir);
	assert_int_equal(access(p, F_OK), -1);
	free(p);
	assert_int_equal(gate_workspace_remove(&ws, &err), 0);
	assert_null(ws.path);
	free(root);
	gate_buf_release(&err);
}

static void test_workspace__quarantined_objects_are_visible(void **state)
{
	struct fixture *f = *state;
	struct gate_workspace ws = GATE_WORKSPACE_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	git_repository *incoming = NULL;
	char tree[41], *qdir = gate_xstrfmt("%s/incoming.git", f->dir), *objects, *text;

	/* the pushed objects exist only in the "quarantine" object directory */
	assert_int_equal(git_repository_init(&incoming, qdir, 1), 0);
	sample_tree(incoming, tree);
	git_repository_free(incoming);
	objects = gate_xstrfmt("%s/objects", qdir);
	assert_int_equal(gate_workspace_create(&ws, f->dir, &err), 0);
	assert_int_equal(gate_workspace_checkout(&ws, f->git_dir, tree, NULL, &err), -1);
	assert_non_null(strstr(err.ptr, tree));
	setenv("GIT_QUARANTINE_PATH", objects, 1);
	gate_buf_reset(&err);
	assert_int_equal(gate_workspace_checkout(&ws, f->git_dir, tree, NULL, &err), 0);
	text = read_text(ws.path, "README");
	assert_string_equal(text, "hello\n");
	free(text);
	assert_int_equal(gate_workspace_remove(&ws, &err), 0);
	free(objects);
	free(qdir);
	gate_buf_release(&err);
}

static void test_workspace__each_workspace_is_new_and_private(void **state)
{
	struct fixture *f = *state;
	struct gate_workspace a = GATE_WORKSPACE_INIT, b = GATE_WORKSPACE_INIT;
	char *root = gate_xstrfmt("%s/not/yet/there", f->dir);
	struct stat st;

	assert_int_equal(gate_workspace_create(&a, root, NULL), 0);
	assert_int_equal(gate_workspace_create(&b, root, NULL), 0);
	assert_string_not_equal(a.path, b.path);
	assert_int_equal(strncmp(a.path, f->dir, strlen(f->dir)), 0);
	assert_int_equal(stat(a.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(gate_workspace_remove(&a, NULL), 0);
	assert_int_equal(gate_workspace_remove(&b, NULL), 0);
	free(root);
}

static void test_workspace__unsafe_paths_are_recognised(void **state)
{
	(void)state;
	assert_true(gate_workspace_path_safe("a"));
	assert_true(gate_workspace_path_safe("a/b/c.txt"));
	assert_true(gate_workspace_path_safe(".gitignore"));
	assert_true(gate_workspace_path_safe("..."));
	assert_true(gate_workspace_path_safe("a/.git-hooks/x"));
	assert_true(gate_workspace_path_safe("new\nline"));
	assert_false(gate_workspace_path_safe(""));
	assert_false(gate_workspace_path_safe("/etc/passwd"));
	assert_false(gate_workspace_path_safe("a//b"));
	assert_false(gate_workspace_path_safe("a/"));
	assert_false(gate_workspace_path_safe("."));
	assert_false(gate_workspace_path_safe(".."));
	assert_false(gate_workspace_path_safe("../x"));
	assert_false(gate_workspace_path_safe("a/../../x"));
	assert_false(gate_workspace_path_safe("a/./b"));
	assert_false(gate_workspace_path_safe(".git"));
	assert_false(gate_workspace_path_safe(".GIT/config"));
	assert_false(gate_workspace_path_safe("sub/.Git/hooks/pre-commit"));
}

static void test_workspace__entries_below_a_symlink_file_or_submodule_are_refused(void **state)
{
	const char *escape[] = { "README", "escape", "escape/evil" };
	const char *prefix_like[] = { "a", "a-b", "a.c", "a/b" };
	const char *fine[] = { "a-b", "ab/c", "abc", "b/a" };
	const char *bad_name[] = { "ok", "x/../y" };
	const char *why = NULL;

	(void)state;
	assert_int_equal(gate_workspace_check_paths(escape, 3, &why), 2);
	assert_non_null(strstr(why, "below another entry"));
	/* "a-b" and "a.c" sort between "a" and "a/b": still found */
	assert_int_equal(gate_workspace_check_paths(prefix_like, 4, &why), 3);
	assert_int_equal(gate_workspace_check_paths(fine, 4, &why), -1);
	assert_int_equal(gate_workspace_check_paths(bad_name, 2, &why), 1);
	assert_non_null(strstr(why, "not a safe relative path"));
}

static void test_workspace__removal_never_follows_symlinks(void **state)
{
	struct fixture *f = *state;
	char *outside = gate_xstrfmt("%s/outside", f->dir), *keep = gate_xstrfmt("%s/outside/keep", f->dir);
	char *ws = gate_xstrfmt("%s/ws", f->dir), *p;
	int fd;

	assert_int_equal(mkdir(outside, 0755), 0);
	fd = open(keep, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mkdir(ws, 0755), 0);
	p = gate_xstrfmt("%s/link-to-dir", ws);
	assert_int_equal(symlink(outside, p), 0);
	free(p);
	p = gate_xstrfmt("%s/deep", ws);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = gate_xstrfmt("%s/deep/link-to-file", ws);
	assert_int_equal(symlink(keep, p), 0);
	free(p);
	/* a read-only directory with content */
	p = gate_xstrfmt("%s/ro", ws);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = gate_xstrfmt("%s/ro/f", ws);
	fd = open(p, O_WRONLY | O_CREAT, 0444);
	assert_true(fd >= 0);
	close(fd);
	free(p);
	p = gate_xstrfmt("%s/ro", ws);
	assert_int_equal(chmod(p, 0555), 0);
	free(p);

	assert_int_equal(gate_remove_tree(ws, NULL), 0);
	assert_int_equal(access(ws, F_OK), -1);
	assert_int_equal(access(keep, F_OK), 0);
	/* removing what is already gone is fine; "/" and "" never */
	assert_int_equal(gate_remove_tree(ws, NULL), 0);
	assert_int_equal(gate_remove_tree("/", NULL), -1);
	assert_int_equal(gate_remove_tree("", NULL), -1);
	free(outside);
	free(keep);
	free(ws);
}

static void test_workspace__detached_removal_finishes_in_the_background(void **state)
{
	struct fixture *f = *state;
	struct gate_workspace ws = GATE_WORKSPACE_INIT;
	char *path, *p;
	int i, fd;

	assert_int_equal(gate_workspace_create(&ws, f->dir, NULL), 0);
	path = gate_xstrdup(ws.path);
	p = gate_xstrfmt("%s/file", ws.path);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	free(p);
	assert_int_equal(gate_workspace_remove_detached(&ws, NULL), 0);
	assert_null(ws.path);
	for (i = 0; i < 100 && access(path, F_OK) == 0; i++)
		usleep(50000);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
}

/* A tree with a path and a link target longer than a tar header holds, and a big file. */
static void long_tree(git_repository *repo, char out[41])
{
	const char *dir = "a-directory-name-that-is-long-enough-to-push-the-path-over-the-hundred-bytes-"
			  "of-a-ustar-header";
	char big[5000];
	git_treebuilder *tb = NULL, *sub = NULL;
	git_oid text, target, bigid, d, tree;
	struct gate_buf link = GATE_BUF_INIT;

	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	gate_buf_addf(&link, "../%s/%s/file-with-a-long-name-too.txt", dir, dir);
	blob(repo, &text, "deep\n");
	blob(repo, &target, link.ptr);
	assert_int_equal(git_blob_create_from_buffer(&bigid, repo, big, sizeof(big)), 0);
	assert_int_equal(git_treebuilder_new(&sub, repo, NULL), 0);
	assert_int_equal(git_treebuilder_insert(NULL, sub, "file-with-a-long-name-too.txt", &text, GIT_FILEMODE_BLOB), 0);
	assert_int_equal(git_treebuilder_insert(NULL, sub, "link-with-a-long-target", &target, GIT_FILEMODE_LINK), 0);
	assert_int_equal(git_treebuilder_write(&d, sub), 0);
	assert_int_equal(git_treebuilder_new(&tb, repo, NULL), 0);
	assert_int_equal(git_treebuilder_insert(NULL, tb, dir, &d, GIT_FILEMODE_TREE), 0);
	assert_int_equal(git_treebuilder_insert(NULL, tb, "big", &bigid, GIT_FILEMODE_BLOB), 0);
	assert_int_equal(git_treebuilder_write(&tree, tb), 0);
	git_oid_tostr(out, 41, &tree);
	git_treebuilder_free(tb);
	git_treebuilder_free(sub);
	gate_buf_release(&link);
}

/* Stream the tree as tar into DIR/out.tar and unpack it with tar(1) into DIR/x. */
static char *tar_and_unpack(struct fixture *f, const char *tree)
{
	struct gate_tree_plan plan = GATE_TREE_PLAN_INIT;
	struct gate_tree_tar t = GATE_TREE_TAR_INIT;
	struct gate_buf err = GATE_BUF_INIT, all = GATE_BUF_INIT;
	char *x = gate_xstrfmt("%s/x", f->dir);
	const char *data;
	size_t len;
	int r, status = -1;

	assert_int_equal(gate_tree_plan_make(&plan, f->git_dir, tree, &err), 0);
	t.plan = &plan;
	while ((r = gate_tree_tar_next(&t, &data, &len, &err)) == 1) {
		/* as a pipe would take it: a few bytes at a time */
		size_t n = len > 700 ? 700 : len;
		gate_buf_add(&all, data, n);
		gate_tree_tar_advance(&t, n);
	}
	assert_int_equal(r, 0);
	assert_int_equal(all.len % 512, 0);
	assert_int_equal(mkdir(x, 0755), 0);
	{
		const char *argv[] = { "tar", "-x", "-m", "-p", "-f", "-", "-C", x, NULL };
		assert_int_equal(gate_run_capture(argv, NULL, NULL, all.ptr, all.len, NULL, NULL, &status, &err), 0);
	}
	assert_int_equal(status, 0);
	gate_tree_tar_release(&t);
	gate_tree_plan_release(&plan);
	gate_buf_release(&all);
	gate_buf_release(&err);
	return x;
}

static void test_workspace__the_tar_stream_unpacks_to_the_tree(void **state)
{
	struct fixture *f = *state;
	char tree[41], target[512], *x, *text, *p;
	struct stat st;
	ssize_t n;

	sample_tree(f->repo, tree);
	x = tar_and_unpack(f, tree);
	text = read_text(x, "README");
	assert_string_equal(text, "hello\n");
	free(text);
	text = read_text(x, "src/main.c");
	assert_string_equal(text, "int main(void) { return 0; }\n");
	free(text);
	p = gate_xstrfmt("%s/run.sh", x);
	assert_int_equal(stat(p, &st), 0);
	assert_true(st.st_mode & 0100);
	free(p);
	p = gate_xstrfmt("%s/link", x);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	n = readlink(p, target, sizeof(target) - 1);
	assert_int_equal(n, 6);
	free(p);
	p = gate_xstrfmt("%s/vendor/lib", x);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	free(p);
	free(x);
}

static void test_workspace__the_tar_stream_holds_long_names_and_links(void **state)
{
	struct fixture *f = *state;
	const char *dir = "a-directory-name-that-is-long-enough-to-push-the-path-over-the-hundred-bytes-"
			  "of-a-ustar-header";
	char tree[41], target[512], *x, *text, *p;
	struct stat st;
	ssize_t n;

	long_tree(f->repo, tree);
	x = tar_and_unpack(f, tree);
	p = gate_xstrfmt("%s/file-with-a-long-name-too.txt", dir);
	text = read_text(x, p);
	assert_string_equal(text, "deep\n");
	free(text);
	free(p);
	p = gate_xstrfmt("%s/%s/link-with-a-long-target", x, dir);
	n = readlink(p, target, sizeof(target) - 1);
	assert_true(n > 100);
	target[n] = '\0';
	assert_non_null(strstr(target, "/file-with-a-long-name-too.txt"));
	free(p);
	p = gate_xstrfmt("%s/big", x);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 5000);
	free(p);
	free(x);
}

static void test_workspace__the_plan_counts_every_entry_as_a_block_at_least(void **state)
{
	struct fixture *f = *state;
	struct gate_tree_plan plan = GATE_TREE_PLAN_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	char tree[41];

	long_tree(f->repo, tree);
	assert_int_equal(gate_tree_plan_make(&plan, f->git_dir, tree, &err), 0);
	/* the directory, its file and link, and big */
	assert_int_equal(plan.nr, 4);
	assert_true(plan.bytes > 5000);
	/* big: two blocks; the directory, the small file and the link: one each */
	assert_int_equal(plan.disk, 5 * GATE_BLOCK);
	gate_tree_plan_release(&plan);
	gate_buf_release(&err);
}

static void test_workspace__a_sweep_removes_only_workspaces_nobody_holds(void **state)
{
	struct fixture *f = *state;
	struct gate_workspace live = GATE_WORKSPACE_INIT, dead = GATE_WORKSPACE_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	char *root = gate_xstrfmt("%s/root", f->dir), *dead_path, *dead_lock;

	assert_int_equal(gate_workspace_create(&live, root, &err), 0);
	assert_int_equal(gate_workspace_create(&dead, root, &err), 0);
	dead_path = gate_xstrdup(dead.path);
	dead_lock = gate_xstrfmt("%s.lock", dead.path);
	/* its run died: the lock is no longer held */
	close(dead.lock_fd);
	dead.lock_fd = -1;
	assert_int_equal(gate_workspace_sweep(root), 1);
	assert_int_equal(access(dead_path, F_OK), -1);
	assert_int_equal(access(dead_lock, F_OK), -1);
	assert_int_equal(access(live.path, F_OK), 0);
	/* a second sweep finds nothing more */
	assert_int_equal(gate_workspace_sweep(root), 0);
	assert_int_equal(gate_workspace_remove(&live, &err), 0);
	free(dead.path);
	free(dead_path);
	free(dead_lock);
	free(root);
	gate_buf_release(&err);
}

static void test_slot__a_full_set_of_slots_waits_and_says_so(void **state)
{
	struct fixture *f = *state;
	struct gate_slot a = GATE_SLOT_INIT, b = GATE_SLOT_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	char *dir = gate_xstrfmt("%s/root/git-gate-slots", f->dir);
	pid_t pid;
	int status;

	assert_int_equal(gate_slot_acquire(&a, dir, 1, 0, NULL, NULL, &err), 0);
	/* another process cannot get it while we hold it ... */
	pid = fork();
	if (pid == 0) {
		struct gate_slot c = GATE_SLOT_INIT;
		/* our copy of the parent's descriptor would hold its lock too */
		gate_slot_release(&a);
		alarm(10);
		_exit(gate_slot_acquire(&c, dir, 1, 0, NULL, NULL, NULL) == 0 ? 0 : 1);
	}
	usleep(300000);
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	/* ... and gets it when we let go */
	gate_slot_release(&a);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(gate_slot_acquire(&b, dir, 2, 0, NULL, NULL, &err), 0);
	gate_slot_release(&b);
	free(dir);
	gate_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_workspace__checkout_writes_the_tree_with_modes_links_and_submodules,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_workspace__quarantined_objects_are_visible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workspace__each_workspace_is_new_and_private, setup, teardown),
		cmocka_unit_test(test_workspace__unsafe_paths_are_recognised),
		cmocka_unit_test(test_workspace__entries_below_a_symlink_file_or_submodule_are_refused),
		cmocka_unit_test_setup_teardown(test_workspace__removal_never_follows_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workspace__detached_removal_finishes_in_the_background, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_workspace__the_tar_stream_unpacks_to_the_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workspace__the_tar_stream_holds_long_names_and_links, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_workspace__the_plan_counts_every_entry_as_a_block_at_least, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_workspace__a_sweep_removes_only_workspaces_nobody_holds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_slot__a_full_set_of_slots_waits_and_says_so, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
