#include "unit.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "sha256.h"
#include "workspace.h"

#define TREE_A "1111111111111111111111111111111111111111"
#define TREE_B "2222222222222222222222222222222222222222"
#define DIGEST "{type=7:command;run=10:make check;}"

struct fixture {
	char *dir;   /* a fresh temporary directory */
	char *cache; /* dir/cache, not created */
};

static int setup(void **state)
{
	struct fixture *f = gate_xcalloc(1, sizeof(*f));
	char tmpl[] = "/tmp/test-cache-XXXXXX";

	if (!mkdtemp(tmpl))
		return -1;
	f->dir = gate_xstrdup(tmpl);
	f->cache = gate_xstrfmt("%s/cache", tmpl);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	gate_remove_tree(f->dir, NULL);
	free(f->dir);
	free(f->cache);
	free(f);
	return 0;
}

static void key_for(struct gate_buf *key, const char *tree, const char *digest)
{
	gate_buf_reset(key);
	gate_cache_key(key, tree, digest);
}

static void read_entry(const char *path, struct gate_buf *out)
{
	gate_buf_reset(out);
	assert_int_equal(gate_read_file(out, path, NULL), 0);
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(gate_write_all(fd, data, len), 0);
	close(fd);
}

static size_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_cache__a_stored_pass_is_found_again(void **state)
{
	struct fixture *f = *state;
	struct gate_buf key = GATE_BUF_INIT, err = GATE_BUF_INIT;

	key_for(&key, TREE_A, DIGEST);
	assert_int_equal(gate_cache_lookup(f->cache, key.ptr, key.len), 0);
	assert_int_equal(gate_cache_store(f->cache, 0, key.ptr, key.len, "passed in 1.0 s", &err), 0);
	assert_int_equal(gate_cache_lookup(f->cache, key.ptr, key.len), 1);
	/* one entry, no temporary file left behind */
	assert_int_equal(count_files(f->cache), 1);
	gate_buf_release(&key);
	gate_buf_release(&err);
}

static void test_cache__another_tree_or_definition_is_a_miss(void **state)
{
	struct fixture *f = *state;
	struct gate_buf key = GATE_BUF_INIT;

	key_for(&key, TREE_A, DIGEST);
	assert_int_equal(gate_cache_store(f->cache, 0, key.ptr, key.len, NULL, NULL), 0);
	key_for(&key, TREE_B, DIGEST);
	assert_int_equal(gate_cache_lookup(f->cache, key.ptr, key.len), 0);
	key_for(&key, TREE_A, "{type=7:command;run=13:make -j2 check;}");
	assert_int_equal(gate_cache_lookup(f->cache, key.ptr, key.len), 0);
	gate_buf_release(&key);
}

static void test_cache__a_missing_directory_is_a_miss(void **state)
{
	struct fixture *f = *state;
	struct gate_buf key = GATE_BUF_INIT;

	key_for(&key, TREE_A, DIGEST);
	assert_int_equal(gate_cache_lookup(f->cache, key.ptr, key.len), 0);
	assert_int_equal(gate_cache_lookup(NULL, key.ptr, key.len), 0);
	assert_int_equal(gate_cache_lookup("", key.ptr, key.len), 0);
	gate_buf_release(&key);
}

static void test_cache__a_corrupt_entry_is_ignored(void **state)
{
	struct fixture *f = *state;
	struct gate_buf key = GATE_BUF_INIT, data = GATE_BUF_INIT;
	char *path;
	size_t i;

	key_for(&key, TREE_A, DIGEST);
	assert_int_equal(gate_cache_store(f->cache, 0, key.ptr, key.len, "info", NULL), 0);
	path = gate_cache_entry_path(f->cache, key.ptr, key.len);
	read_entry(path, &data);
	/* every single flipped byte makes it a miss */
	for (i = 0; i < data.len; i++) {
		data.ptr[i] ^= 0x01;
		write_file(path, data.ptr, data.len);
		assert_int_equal(gate_cache_lookup(f->cache, key.ptr, key.len), 0);
		data.ptr[i] ^= 0x01;
	}
	write_file(path, data.ptr, data.len);
	assert_int_equal(gate_cache_lookup(f->cache, key.ptr, key.len), 1);
	free(path);
	gate_buf_release(&key);
	gate_buf_release(&data);
}

static void test_cache__a_truncated_or_empty_entry_is_ignored(void **state)
{
	struct fixture *f = *state;
	struct gate_buf key = GATE_BUF_INIT, data = GATE_BUF_INIT;
	char *path;
	size_t n;

	key_for(&key, TREE_A, DIGEST);
	assert_int_equal(gate_cache_store(f->cache, 0, key.ptr, key.len, NULL, NULL), 0);
	path = gate_cache_entry_path(f->cache, key.ptr, key.len);
	read_entry(path, &data);
	for (n = 0; n < data.len; n++) {
		write_file(path, data.ptr, n);
		assert_int_equal(gate_cache_lookup(f->cache, key.ptr, key.len), 0);
	}
	free(path);
	gate_buf_release(&key);
	gate_buf_release(&data);
}

static void test_cache__an_entry_for_another_key_under_this_name_is_ignored(void **state)
{
	struct fixture *f = *state;
	struct gate_buf a = GATE_BUF_INIT, b = GATE_BUF_INIT, data = GATE_BUF_INIT;
	char *pa, *pb;

	/* a hash collision, or a file copied by hand: the key inside decides */
	key_for(&a, TREE_A, DIGEST);
	key_for(&b, TREE_B, DIGEST);
	assert_int_equal(gate_cache_store(f->cache, 0, a.ptr, a.len, NULL, NULL), 0);
	pa = gate_cache_entry_path(f->cache, a.ptr, a.len);
	pb = gate_cache_entry_path(f->cache, b.ptr, b.len);
	read_entry(pa, &data);
	write_file(pb, data.ptr, data.len);
	assert_int_equal(gate_cache_lookup(f->cache, b.ptr, b.len), 0);
	assert_int_equal(gate_cache_lookup(f->cache, a.ptr, a.len), 1);
	free(pa);
	free(pb);
	gate_buf_release(&a);
	gate_buf_release(&b);
	gate_buf_release(&data);
}

static void test_cache__a_well_formed_entry_that_is_not_a_pass_is_ignored(void **state)
{
	struct fixture *f = *state;
	struct gate_buf key = GATE_BUF_INIT, body = GATE_BUF_INIT;
	char hex[2 * GATE_SHA256_LEN + 1];
	char *path;

	key_for(&key, TREE_A, DIGEST);
	assert_int_equal(mkdir(f->cache, 0755), 0);
	gate_buf_addf(&body, "git-gate verdict cache 1\nkey %zu\n", key.len);
	gate_buf_add(&body, key.ptr, key.len);
	gate_buf_adds(&body, "\nverdict fail\n");
	gate_sha256_hex(hex, body.ptr, body.len);
	gate_buf_addf(&body, "sum %s\n", hex);
	path = gate_cache_entry_path(f->cache, key.ptr, key.len);
	write_file(path, body.ptr, body.len);
	assert_int_equal(gate_cache_lookup(f->cache, key.ptr, key.len), 0);
	free(path);
	gate_buf_release(&key);
	gate_buf_release(&body);
}

static void test_cache__a_symlinked_entry_is_not_followed(void **state)
{
	struct fixture *f = *state;
	struct gate_buf key = GATE_BUF_INIT, other = GATE_BUF_INIT;
	char *path, *moved;

	key_for(&key, TREE_A, DIGEST);
	assert_int_equal(gate_cache_store(f->cache, 0, key.ptr, key.len, NULL, NULL), 0);
	path = gate_cache_entry_path(f->cache, key.ptr, key.len);
	moved = gate_xstrfmt("%s/elsewhere", f->dir);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(symlink(moved, path), 0);
	assert_int_equal(gate_cache_lookup(f->cache, key.ptr, key.len), 0);
	free(path);
	free(moved);
	gate_buf_release(&key);
	gate_buf_release(&other);
}

struct writer {
	const char *dir;
	const struct gate_buf *key;
	int ret;
};

static void *write_many(void *arg)
{
	struct writer *w = arg;
	int i;

	w->ret = 0;
	for (i = 0; i < 50; i++)
		if (gate_cache_store(w->dir, 0, w->key->ptr, w->key->len, "concurrent", NULL) < 0)
			w->ret = -1;
	return NULL;
}

static void test_cache__concurrent_writers_leave_one_whole_entry(void **state)
{
	struct fixture *f = *state;
	struct gate_buf key = GATE_BUF_INIT;
	struct writer w[4];
	pthread_t t[4];
	int i;

	key_for(&key, TREE_A, DIGEST);
	for (i = 0; i < 4; i++) {
		w[i].dir = f->cache;
		w[i].key = &key;
		assert_int_equal(pthread_create(&t[i], NULL, write_many, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ret, 0);
	}
	assert_int_equal(gate_cache_lookup(f->cache, key.ptr, key.len), 1);
	assert_int_equal(count_files(f->cache), 1);
	gate_buf_release(&key);
}

static void test_cache__an_unwritable_directory_is_an_error_with_a_message(void **state)
{
	struct fixture *f = *state;
	struct gate_buf key = GATE_BUF_INIT, err = GATE_BUF_INIT;
	char *file = gate_xstrfmt("%s/plain-file", f->dir), *under = gate_xstrfmt("%s/plain-file/cache", f->dir);

	write_file(file, "x", 1);
	key_for(&key, TREE_A, DIGEST);
	assert_int_equal(gate_cache_store(under, 0, key.ptr, key.len, NULL, &err), -1);
	assert_non_null(strstr(err.ptr, "cannot create the cache directory"));
	free(file);
	free(under);
	gate_buf_release(&key);
	gate_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cache__a_stored_pass_is_found_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache__another_tree_or_definition_is_a_miss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache__a_missing_directory_is_a_miss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache__a_corrupt_entry_is_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache__a_truncated_or_empty_entry_is_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache__an_entry_for_another_key_under_this_name_is_ignored, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cache__a_well_formed_entry_that_is_not_a_pass_is_ignored, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cache__a_symlinked_entry_is_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache__concurrent_writers_leave_one_whole_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache__an_unwritable_directory_is_an_error_with_a_message, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
