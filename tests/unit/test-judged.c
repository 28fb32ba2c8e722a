#include "unit.h"

#include <fcntl.h>
#include <git2.h>
#include <sys/stat.h>
#include <unistd.h>

#include "judged.h"
#include "repo.h"
#include "workspace.h"

struct fixture {
	char *dir;
	char *git_dir;
	git_repository *git;
	struct gate_repo *repo;
	git_oid tree;
	struct gate_check_def def;
};

static int setup(void **state)
{
	struct fixture *f = gate_xcalloc(1, sizeof(*f));
	struct gate_buf err = GATE_BUF_INIT;
	git_treebuilder *tb = NULL;
	char tmpl[] = "/tmp/test-judged-XXXXXX";

	git_libgit2_init();
	unsetenv("GIT_QUARANTINE_PATH");
	if (!mkdtemp(tmpl))
		return -1;
	f->dir = gate_xstrdup(tmpl);
	f->git_dir = gate_xstrfmt("%s/repo.git", tmpl);
	if (git_repository_init(&f->git, f->git_dir, 1) < 0 || git_treebuilder_new(&tb, f->git, NULL) < 0 ||
	    git_treebuilder_write(&f->tree, tb) < 0)
		return -1;
	git_treebuilder_free(tb);
	if (gate_repo_open(&f->repo, f->git_dir, &err) < 0) {
		print_error("%s\n", gate_buf_cstr(&err));
		return -1;
	}
	gate_buf_release(&err);
	f->def.name = gate_xstrdup("msg");
	f->def.type = &gate_check_commit_message;
	f->def.src.file = "/etc/git-gate/policy.conf";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	gate_repo_free(f->repo);
	git_repository_free(f->git);
	free(f->def.name);
	gate_remove_tree(f->dir, NULL);
	free(f->dir);
	free(f->git_dir);
	free(f);
	git_libgit2_shutdown();
	return 0;
}

/* A commit with the empty tree on top of `parent` ("" for a root); its id in out. */
static void commit(struct fixture *f, const char *parent, const char *msg, char out[41])
{
	git_signature *sig = NULL;
	git_tree *tree = NULL;
	git_commit *p = NULL;
	git_oid oid;

	assert_int_equal(git_signature_new(&sig, "A", "a@example.com", 1700000000, 0), 0);
	assert_int_equal(git_tree_lookup(&tree, f->git, &f->tree), 0);
	if (*parent) {
		assert_int_equal(git_oid_fromstr(&oid, parent), 0);
		assert_int_equal(git_commit_lookup(&p, f->git, &oid), 0);
	}
	assert_int_equal(git_commit_create_v(&oid, f->git, NULL, sig, sig, NULL, msg, tree, p ? 1 : 0, p), 0);
	git_oid_tostr(out, 41, &oid);
	git_commit_free(p);
	git_tree_free(tree);
	git_signature_free(sig);
}

static struct gate_judged *open_ok(struct fixture *f)
{
	struct gate_judged *j = NULL;
	struct gate_buf err = GATE_BUF_INIT;

	if (gate_judged_open(&j, f->git_dir, &f->def, &err) < 0)
		fail_msg("%s", gate_buf_cstr(&err));
	gate_buf_release(&err);
	return j;
}

static char *read_record(struct gate_judged *j)
{
	struct gate_buf b = GATE_BUF_INIT;

	assert_int_equal(gate_read_file(&b, gate_judged_path(j), NULL), 0);
	return gate_buf_detach(&b);
}

static void append_raw(struct gate_judged *j, const char *text)
{
	int fd = open(gate_judged_path(j), O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(gate_write_all(fd, text, strlen(text)), 0);
	close(fd);
}

static void test_judged__file_name_is_safe_and_keyed_by_type_and_policy(void **state)
{
	char *a = gate_judged_file_name("msg", "commit-message", "git-gate.conf");
	char *b = gate_judged_file_name("../x y", "commit-message", "git-gate.conf");
	char *c = gate_judged_file_name("msg", "secrets", "git-gate.conf");
	char *d = gate_judged_file_name("msg", "commit-message", "/etc/git-gate/strict.conf");

	(void)state;
	assert_true(gate_skip_prefix(a, "msg.commit-message.", NULL));
	assert_int_equal(strlen(a), strlen("msg.commit-message.") + 12);
	assert_true(gate_skip_prefix(b, "%2E%2E%2Fx%20y.commit-message.", NULL));
	assert_null(strchr(b, '/'));
	assert_string_not_equal(a, c);
	assert_string_not_equal(a, d);
	free(a);
	free(b);
	free(c);
	free(d);
}

static void test_judged__a_missing_record_is_seeded_with_the_independent_tips(void **state)
{
	struct fixture *f = *state;
	struct gate_judged *j = open_ok(f), *again;
	struct gate_buf err = GATE_BUF_INIT;
	struct gate_strvec all = GATE_STRVEC_INIT, independent = GATE_STRVEC_INIT;
	char a[41], b[41], c[41];
	const char *tips[1];
	size_t n;

	commit(f, "", "A", a);
	commit(f, a, "B", b);
	commit(f, a, "C", c);
	assert_int_equal(gate_judged_exists(j), 0);
	gate_strvec_push(&all, a);
	gate_strvec_push(&all, b);
	gate_strvec_push(&all, c);
	/* the caller reduces once for all the checks it seeds */
	assert_int_equal(gate_judged_reduce(f->repo, &all, &independent, &err), 0);
	assert_int_equal(independent.nr, 2);
	assert_int_equal(gate_judged_seed(j, (const char *const *)independent.v, independent.nr, &err), 0);
	assert_int_equal(gate_judged_exists(j), 1);
	gate_judged_tips(j, &n);
	assert_int_equal(n, 2);
	assert_true(gate_judged_has_tip(j, b));
	assert_true(gate_judged_has_tip(j, c));
	assert_false(gate_judged_has_tip(j, a));
	/* a second seed (another push that also found none) keeps the first */
	again = open_ok(f);
	assert_int_equal(gate_judged_exists(again), 1);
	tips[0] = a;
	assert_int_equal(gate_judged_seed(again, tips, 1, &err), 0);
	gate_judged_tips(again, &n);
	assert_int_equal(n, 2);
	gate_judged_free(again);
	gate_judged_free(j);
	gate_strvec_clear(&all);
	gate_strvec_clear(&independent);
	gate_buf_release(&err);
}

static void test_judged__a_pass_on_a_covered_old_value_is_recorded(void **state)
{
	struct fixture *f = *state;
	struct gate_judged *j = open_ok(f);
	struct gate_buf err = GATE_BUF_INIT;
	char a[41], b[41], c[41];
	const char *tips[1];
	size_t n;
	int recorded;

	commit(f, "", "A", a);
	commit(f, a, "B", b);
	commit(f, b, "C", c);
	tips[0] = a;
	assert_int_equal(gate_judged_seed(j, tips, 1, &err), 0);
	/* a create, then an update whose old value is a tip */
	assert_int_equal(gate_judged_record_pass(j, f->repo, NULL, b, &recorded, &err), 0);
	assert_true(recorded);
	assert_int_equal(gate_judged_record_pass(j, f->repo, b, c, &recorded, &err), 0);
	assert_true(recorded);
	assert_int_equal(gate_judged_write(j, f->repo, &err), 0);
	gate_judged_free(j);
	j = open_ok(f);
	assert_true(gate_judged_has_tip(j, b));
	assert_true(gate_judged_has_tip(j, c));
	gate_judged_exceptions(j, &n);
	assert_int_equal(n, 0);
	gate_judged_free(j);
	gate_buf_release(&err);
}

static void test_judged__what_lies_uncovered_below_the_old_value_becomes_an_exception(void **state)
{
	struct fixture *f = *state;
	struct gate_judged *j = open_ok(f);
	struct gate_buf err = GATE_BUF_INIT;
	struct gate_strvec below = GATE_STRVEC_INIT;
	char a[41], w[41], x[41];
	const char *tips[1];
	const char *const *ex;
	size_t n;
	int recorded;

	commit(f, "", "A", a);
	commit(f, a, "WIP bypassed", w);
	commit(f, w, "On top", x);
	tips[0] = a;
	assert_int_equal(gate_judged_seed(j, tips, 1, &err), 0);
	assert_int_equal(gate_judged_uncovered(j, f->repo, w, 10, &below, &err), 0);
	assert_int_equal(below.nr, 1);
	assert_string_equal(below.v[0], w);
	gate_strvec_clear(&below);
	/* more than the limit: 1 */
	assert_int_equal(gate_judged_uncovered(j, f->repo, x, 1, &below, &err), 1);
	gate_strvec_clear(&below);
	/* a tip is covered without asking git */
	assert_int_equal(gate_judged_uncovered(j, f->repo, a, 10, &below, &err), 0);
	assert_int_equal(below.nr, 0);
	/* an object that is not there is never covered */
	assert_int_equal(gate_judged_uncovered(j, f->repo, "0123456789abcdef0123456789abcdef01234567", 10, &below,
					       &err),
			 1);
	assert_int_equal(gate_judged_record_pass(j, f->repo, w, x, &recorded, &err), 0);
	assert_true(recorded);
	assert_int_equal(gate_judged_write(j, f->repo, &err), 0);
	gate_judged_free(j);
	j = open_ok(f);
	assert_true(gate_judged_has_tip(j, x));
	ex = gate_judged_exceptions(j, &n);
	assert_int_equal(n, 1);
	assert_string_equal(ex[0], w);
	gate_judged_free(j);
	gate_buf_release(&err);
}

static void test_judged__entered_refs_persist_and_the_last_line_wins(void **state)
{
	struct fixture *f = *state;
	struct gate_judged *j = open_ok(f);
	struct gate_buf err = GATE_BUF_INIT;
	char a[41], b[41];
	const char *tips[1];

	commit(f, "", "A", a);
	commit(f, a, "B", b);
	tips[0] = a;
	assert_int_equal(gate_judged_seed(j, tips, 1, &err), 0);
	assert_false(gate_judged_entered(j, "refs/heads/main"));
	gate_judged_enter(j, "refs/heads/main", b);
	gate_judged_enter(j, "refs/heads/topic", NULL);
	gate_judged_leave(j, "refs/heads/topic");
	assert_true(gate_judged_entered(j, "refs/heads/main"));
	assert_true(gate_judged_has_tip(j, b));
	assert_int_equal(gate_judged_write(j, f->repo, &err), 0);
	gate_judged_free(j);
	j = open_ok(f);
	assert_true(gate_judged_entered(j, "refs/heads/main"));
	assert_false(gate_judged_entered(j, "refs/heads/topic"));
	/* grandfathered with the ref's value when it entered */
	assert_true(gate_judged_has_tip(j, b));
	gate_judged_free(j);
	gate_buf_release(&err);
}

static void test_judged__a_ref_warned_on_grandfathers_nothing_when_entered(void **state)
{
	struct fixture *f = *state;
	struct gate_judged *j = open_ok(f);
	struct gate_buf err = GATE_BUF_INIT;
	char a[41], w[41];
	const char *tips[1];

	commit(f, "", "A", a);
	commit(f, a, "WIP", w);
	tips[0] = a;
	assert_int_equal(gate_judged_seed(j, tips, 1, &err), 0);
	gate_judged_warn(j, "refs/heads/topic");
	/* the rule then stops listing the check: still warned */
	gate_judged_leave(j, "refs/heads/topic");
	assert_int_equal(gate_judged_write(j, f->repo, &err), 0);
	gate_judged_free(j);
	j = open_ok(f);
	assert_false(gate_judged_entered(j, "refs/heads/topic"));
	gate_judged_enter(j, "refs/heads/topic", w);
	assert_true(gate_judged_entered(j, "refs/heads/topic"));
	assert_false(gate_judged_has_tip(j, w));
	/* a ref never warned on is grandfathered as before */
	gate_judged_enter(j, "refs/heads/other", w);
	assert_true(gate_judged_has_tip(j, w));
	gate_judged_free(j);
	gate_buf_release(&err);
}

static void test_judged__a_half_written_last_line_is_ignored_then_cut(void **state)
{
	struct fixture *f = *state;
	struct gate_judged *j = open_ok(f);
	struct gate_buf err = GATE_BUF_INIT;
	char a[41], b[41];
	const char *tips[1];
	char *text;
	int recorded;

	commit(f, "", "A", a);
	commit(f, a, "B", b);
	tips[0] = a;
	assert_int_equal(gate_judged_seed(j, tips, 1, &err), 0);
	append_raw(j, "tip 0123");
	gate_judged_free(j);
	j = open_ok(f);
	assert_int_equal(gate_judged_exists(j), 1);
	assert_int_equal(gate_judged_record_pass(j, f->repo, a, b, &recorded, &err), 0);
	assert_int_equal(gate_judged_write(j, f->repo, &err), 0);
	text = read_record(j);
	assert_null(strstr(text, "tip 0123"));
	assert_non_null(strstr(text, b));
	free(text);
	gate_judged_free(j);
	j = open_ok(f);
	assert_true(gate_judged_has_tip(j, b));
	gate_judged_free(j);
	gate_buf_release(&err);
}

static void test_judged__a_damaged_record_cannot_be_read(void **state)
{
	struct fixture *f = *state;
	struct gate_judged *j = open_ok(f);
	struct gate_buf err = GATE_BUF_INIT;
	char a[41];
	const char *tips[1];

	commit(f, "", "A", a);
	tips[0] = a;
	assert_int_equal(gate_judged_seed(j, tips, 1, &err), 0);
	append_raw(j, "tip not-an-id\n");
	gate_judged_free(j);
	j = NULL;
	assert_int_equal(gate_judged_open(&j, f->git_dir, &f->def, &err), -1);
	assert_null(j);
	assert_non_null(strstr(gate_buf_cstr(&err), "is damaged (line 4)"));
	gate_buf_release(&err);
}

static void test_judged__a_record_grown_past_twice_its_base_is_compacted(void **state)
{
	struct fixture *f = *state;
	struct gate_judged *j = open_ok(f);
	struct gate_buf err = GATE_BUF_INIT;
	char prev[41], cur[41], side[41], first[41];
	const char *tips[1];
	char *text;
	size_t n, i;
	int recorded;

	commit(f, "", "root", first);
	commit(f, first, "side", side);
	tips[0] = first;
	assert_int_equal(gate_judged_seed(j, tips, 1, &err), 0);
	gate_judged_enter(j, "refs/heads/main", NULL);
	memcpy(prev, first, 41);
	/* a chain of passes, each pushed and written on its own */
	for (i = 0; i < GATE_JUDGED_SLACK + 4; i++) {
		commit(f, prev, "next", cur);
		assert_int_equal(gate_judged_record_pass(j, f->repo, prev, cur, &recorded, &err), 0);
		assert_true(recorded);
		assert_int_equal(gate_judged_write(j, f->repo, &err), 0);
		memcpy(prev, cur, 41);
	}
	assert_int_equal(gate_judged_record_pass(j, f->repo, NULL, side, &recorded, &err), 0);
	assert_int_equal(gate_judged_write(j, f->repo, &err), 0);
	gate_judged_free(j);
	j = open_ok(f);
	/* the chain's last commit and the side branch are all that is left */
	gate_judged_tips(j, &n);
	assert_true(n <= 6);
	assert_true(gate_judged_has_tip(j, cur));
	assert_true(gate_judged_has_tip(j, side));
	assert_true(gate_judged_entered(j, "refs/heads/main"));
	text = read_record(j);
	assert_true(gate_skip_prefix(text, "git-gate judged record 1\nbase ", NULL));
	free(text);
	gate_judged_free(j);
	gate_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_judged__file_name_is_safe_and_keyed_by_type_and_policy),
		cmocka_unit_test_setup_teardown(test_judged__a_missing_record_is_seeded_with_the_independent_tips,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_judged__a_pass_on_a_covered_old_value_is_recorded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_judged__what_lies_uncovered_below_the_old_value_becomes_an_exception, setup, teardown),
		cmocka_unit_test_setup_teardown(test_judged__entered_refs_persist_and_the_last_line_wins, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_judged__a_ref_warned_on_grandfathers_nothing_when_entered, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_judged__a_half_written_last_line_is_ignored_then_cut, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_judged__a_damaged_record_cannot_be_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_judged__a_record_grown_past_twice_its_base_is_compacted, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
