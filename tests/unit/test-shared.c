#include "unit.h"

#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared.h"
#include "workspace.h"

/* A fresh folder holding a config file with core.sharedRepository = value (NULL: none). */
static char *repo_with(const char *value)
{
	char tmpl[] = "/tmp/test-shared-XXXXXX";
	struct gate_buf b = GATE_BUF_INIT;
	char *path;
	int fd;

	assert_non_null(mkdtemp(tmpl));
	path = gate_xstrfmt("%s/config", tmpl);
	gate_buf_adds(&b, "[core]\n\tbare = true\n");
	if (value)
		gate_buf_addf(&b, "\tsharedRepository = %s\n", value);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(gate_write_all(fd, b.ptr, b.len), 0);
	close(fd);
	free(path);
	gate_buf_release(&b);
	return gate_xstrdup(tmpl);
}

static int perm_of(const char *value)
{
	char *dir = repo_with(value);
	int perm = gate_shared_perm(dir);

	gate_remove_tree(dir, NULL);
	free(dir);
	return perm;
}

static void test_shared__core_shared_repository_reads_as_git_reads_it(void **state)
{
	(void)state;
	assert_int_equal(perm_of(NULL), 0);
	assert_int_equal(perm_of("umask"), 0);
	assert_int_equal(perm_of("false"), 0);
	assert_int_equal(perm_of("0"), 0);
	assert_int_equal(perm_of("group"), 0660);
	assert_int_equal(perm_of("true"), 0660);
	assert_int_equal(perm_of("1"), 0660);
	assert_int_equal(perm_of("all"), 0664);
	assert_int_equal(perm_of("world"), 0664);
	assert_int_equal(perm_of("everybody"), 0664);
	assert_int_equal(perm_of("2"), 0664);
	assert_int_equal(perm_of("0640"), -0640);
	assert_int_equal(perm_of("0660"), -0660);
	/* an octal mode is kept as given */
	assert_int_equal(perm_of("0666"), -0666);
	/* an owner without read and write: git refuses the repository; we add nothing */
	assert_int_equal(perm_of("0440"), 0);
	assert_int_equal(gate_shared_perm(NULL), 0);
	assert_int_equal(gate_shared_perm("/nonexistent/repository"), 0);
}

static void test_shared__modes_match_git_adjust_shared_perm(void **state)
{
	(void)state;
	/* umask: untouched */
	assert_int_equal(gate_shared_mode(0, S_IFREG | 0644), S_IFREG | 0644);
	/* group: files group-writable, folders also setgid and searchable */
	assert_int_equal(gate_shared_mode(0660, S_IFREG | 0644), S_IFREG | 0664);
	assert_int_equal(gate_shared_mode(0660, S_IFREG | 0444), S_IFREG | 0444);
	assert_int_equal(gate_shared_mode(0660, S_IFREG | 0755), S_IFREG | 0775);
	assert_int_equal(gate_shared_mode(0660, S_IFDIR | 0755), S_IFDIR | S_ISGID | 02775);
	/* all: readable by everybody */
	assert_int_equal(gate_shared_mode(0664, S_IFREG | 0600), S_IFREG | 0664);
	assert_int_equal(gate_shared_mode(0664, S_IFDIR | 0700), S_IFDIR | 02775);
	/* an exact mode replaces the permission bits */
	assert_int_equal(gate_shared_mode(-0640, S_IFREG | 0666), S_IFREG | 0640);
	assert_int_equal(gate_shared_mode(-0640, S_IFDIR | 0777), S_IFDIR | 02750);
}

static void test_shared__created_folders_and_files_get_the_shared_mode(void **state)
{
	char *dir = repo_with("group"), *deep, *file;
	mode_t old = umask(022);
	int shared = gate_shared_perm(dir), fd;
	struct stat st;

	(void)state;
	deep = gate_xstrfmt("%s/git-gate/cache", dir);
	assert_int_equal(gate_shared_mkdir_p(shared, deep), 0);
	assert_int_equal(stat(deep, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02775);
	free(deep);
	deep = gate_xstrfmt("%s/git-gate", dir);
	assert_int_equal(stat(deep, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02775);
	/* a missing last folder is made by open, too */
	file = gate_xstrfmt("%s/git-gate/logs/one.log", dir);
	fd = gate_shared_open(shared, file, O_WRONLY | O_CREAT | O_EXCL, 0666);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0664);
	free(file);
	file = gate_xstrfmt("%s/git-gate/logs", dir);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02775);
	free(file);
	/* without sharing the umask alone decides, as before */
	file = gate_xstrfmt("%s/plain", dir);
	fd = gate_shared_open(0, file, O_WRONLY | O_CREAT | O_EXCL, 0666);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	free(file);
	free(deep);
	umask(old);
	gate_remove_tree(dir, NULL);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared__core_shared_repository_reads_as_git_reads_it),
		cmocka_unit_test(test_shared__modes_match_git_adjust_shared_perm),
		cmocka_unit_test(test_shared__created_folders_and_files_get_the_shared_mode),
	};
	int ret;

	git_libgit2_init();
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return ret;
}
