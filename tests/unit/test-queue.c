/* The merge queue: its policy keys, which pushes it takes, and its store. */
#include "unit.h"

#include <git2.h>
#include <stdio.h>
#include <unistd.h>

#include "push.h"
#include "queue.h"
#include "repo.h"
#include "run-command.h"

static const char queued[] =
	"rules = ( { refs = [ \"refs/heads/main\" ]; queue = true; queue_strategy = \"merge\"; queue_batch = 8; },\n"
	"          { refs = [ \"refs/heads/dev\" ]; queue = true; direct_push = true; },\n"
	"          { refs = [ \"refs/heads/**\" ]; } );\n";

static void test_queue__keys_and_their_defaults(void **state)
{
	struct gate_config *cfg = unit_policy(queued);

	(void)state;
	assert_true(cfg->rules[0].queue);
	assert_false(cfg->rules[0].direct_push);
	assert_int_equal(cfg->rules[0].queue_strategy, GATE_QUEUE_MERGE);
	assert_int_equal(cfg->rules[0].queue_batch, 8);
	assert_true(cfg->rules[1].direct_push);
	assert_int_equal(cfg->rules[1].queue_strategy, GATE_QUEUE_REBASE);
	assert_int_equal(cfg->rules[1].queue_batch, 4);
	assert_false(cfg->rules[2].queue);
	assert_string_equal(gate_queue_strategy_name(GATE_QUEUE_FAST_FORWARD), "fast-forward");
	gate_config_free(cfg);
}

static void test_queue__bad_values_and_keys_without_queue_are_errors(void **state)
{
	char *e;

	(void)state;
	e = unit_policy_errors("rules = ( { refs = [ \"refs/heads/main\" ]; queue = true; queue_strategy = \"squash\"; } );");
	assert_non_null(strstr(e, "queue_strategy"));
	assert_non_null(strstr(e, "\"rebase\""));
	free(e);
	e = unit_policy_errors("rules = ( { refs = [ \"refs/heads/main\" ]; queue = true; queue_batch = 0; } );");
	assert_non_null(strstr(e, "queue_batch"));
	free(e);
	e = unit_policy_errors("rules = ( { refs = [ \"refs/heads/main\" ]; queue_batch = 2; direct_push = true; } );");
	assert_non_null(strstr(e, "'queue_batch' has no effect without 'queue = true'") ||
			strstr(e, "queue_batch"));
	assert_non_null(strstr(e, "direct_push"));
	free(e);
	e = unit_policy_errors("rules = ( { refs = [ \"refs/heads/main\" ]; queue = \"yes\"; } );");
	assert_non_null(strstr(e, "queue"));
	free(e);
}

static void test_queue__only_refs_for_a_queued_branch_are_marked(void **state)
{
	struct gate_config *cfg = unit_policy(queued);
	struct gate_push p = GATE_PUSH_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	const char *a = "1111111111111111111111111111111111111111";
	char *b;

	(void)state;
	assert_int_equal(gate_push_add(&p, "refs/for/main", GATE_ZERO_OID, a, &err), 0);
	assert_int_equal(gate_push_add(&p, "refs/for/topic", GATE_ZERO_OID, a, &err), 0);
	assert_int_equal(gate_push_add(&p, "refs/heads/main", a, "2222222222222222222222222222222222222222", &err), 0);
	assert_int_equal(gate_push_add(&p, "refs/for/dev", a, GATE_ZERO_OID, &err), 0);
	gate_queue_mark_push(&p, cfg);
	assert_string_equal(p.updates[0].target, "refs/heads/main");
	assert_null(p.updates[1].target); /* topic's rule does not queue */
	assert_null(p.updates[2].target); /* a direct push */
	assert_null(p.updates[3].target); /* a delete is no change to queue */
	b = gate_queue_branch_of("refs/for/release/1.x");
	assert_string_equal(b, "refs/heads/release/1.x");
	free(b);
	assert_null(gate_queue_branch_of("refs/for/"));
	assert_null(gate_queue_branch_of("refs/heads/main"));
	gate_push_release(&p);
	gate_buf_release(&err);
	gate_config_free(cfg);
}

/* A bare repository with one commit on main. */
struct fixture {
	char dir[64];
	struct gate_repo *repo;
	char tip[41];
};

static void fixture_init(struct fixture *f)
{
	git_repository *r = NULL;
	git_treebuilder *tb = NULL;
	git_signature *sig = NULL;
	git_tree *tree = NULL;
	git_oid tree_id, commit_id;
	struct gate_buf err = GATE_BUF_INIT;

	snprintf(f->dir, sizeof(f->dir), "/tmp/gate-queue-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(git_repository_init(&r, f->dir, 1), 0);
	assert_int_equal(git_treebuilder_new(&tb, r, NULL), 0);
	assert_int_equal(git_treebuilder_write(&tree_id, tb), 0);
	assert_int_equal(git_tree_lookup(&tree, r, &tree_id), 0);
	assert_int_equal(git_signature_new(&sig, "A U Thor", "a@example.com", 1700000000, 0), 0);
	assert_int_equal(git_commit_create(&commit_id, r, "refs/heads/main", sig, sig, NULL,
					   "Add nothing\x1b[31m\n", tree, 0, NULL), 0);
	git_oid_tostr(f->tip, sizeof(f->tip), &commit_id);
	git_signature_free(sig);
	git_tree_free(tree);
	git_treebuilder_free(tb);
	git_repository_free(r);
	assert_int_equal(gate_repo_open(&f->repo, f->dir, &err), 0);
	gate_buf_release(&err);
}

static void fixture_release(struct fixture *f)
{
	const char *argv[] = { "rm", "-rf", f->dir, NULL };
	struct gate_buf err = GATE_BUF_INIT;
	int status;

	gate_repo_free(f->repo);
	gate_run_capture(argv, NULL, NULL, NULL, 0, NULL, NULL, &status, &err);
	gate_buf_release(&err);
}

/* Set receive.procReceiveRefs in the fixture's config to `values` (NULL-terminated). */
static void set_proc_receive_refs(const struct fixture *f, const char *const *values)
{
	char *cfg = gate_xstrfmt("%s/config", f->dir);
	const char *unset[] = { "git", "config", "--file", cfg, "--unset-all", "receive.procReceiveRefs", NULL };
	struct gate_buf err = GATE_BUF_INIT;
	int status;

	gate_run_capture(unset, NULL, NULL, NULL, 0, NULL, NULL, &status, &err);
	for (; *values; values++) {
		const char *add[] = { "git", "config", "--file", cfg, "--add", "receive.procReceiveRefs", *values, NULL };
		assert_int_equal(gate_run_capture(add, NULL, NULL, NULL, 0, NULL, NULL, &status, &err), 0);
		assert_int_equal(status, 0);
	}
	gate_buf_release(&err);
	free(cfg);
}

static void test_queue__routed_reads_proc_receive_refs_as_git_does(void **state)
{
	struct fixture f;
	struct gate_push p = GATE_PUSH_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	const char *a = "1111111111111111111111111111111111111111", *b = "2222222222222222222222222222222222222222";
	static const char *const none[] = { NULL }, *const plain[] = { "refs/for/", NULL },
				 *const other[] = { "refs/forx", NULL }, *const modify[] = { "m:refs/for", NULL },
				 *const all_but_heads[] = { "a!:refs/heads", NULL }, *const not_for[] = { "a!:refs/for", NULL },
				 *const then_for[] = { "a!:refs/for", "ad:refs/for", NULL };

	(void)state;
	git_libgit2_init();
	/* only the fixture's config counts */
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	fixture_init(&f);
	assert_int_equal(gate_push_add(&p, "refs/for/main", GATE_ZERO_OID, a, &err), 0);
	assert_int_equal(gate_push_add(&p, "refs/for/main", a, b, &err), 0);
	set_proc_receive_refs(&f, none);
	assert_int_equal(gate_queue_routed(f.repo, &p.updates[0], &err), 0);
	set_proc_receive_refs(&f, plain);
	assert_int_equal(gate_queue_routed(f.repo, &p.updates[0], &err), 1);
	set_proc_receive_refs(&f, other); /* a prefix ends at a '/' */
	assert_int_equal(gate_queue_routed(f.repo, &p.updates[0], &err), 0);
	set_proc_receive_refs(&f, modify); /* modifications only: a new change is not routed */
	assert_int_equal(gate_queue_routed(f.repo, &p.updates[0], &err), 0);
	assert_int_equal(gate_queue_routed(f.repo, &p.updates[1], &err), 1);
	set_proc_receive_refs(&f, all_but_heads); /* creates outside refs/heads */
	assert_int_equal(gate_queue_routed(f.repo, &p.updates[0], &err), 1);
	set_proc_receive_refs(&f, not_for);
	assert_int_equal(gate_queue_routed(f.repo, &p.updates[0], &err), 0);
	set_proc_receive_refs(&f, then_for); /* a negative entry that matches decides nothing */
	assert_int_equal(gate_queue_routed(f.repo, &p.updates[0], &err), 1);
	gate_push_release(&p);
	gate_buf_release(&err);
	fixture_release(&f);
	unsetenv("GIT_CONFIG_NOSYSTEM");
	unsetenv("GIT_CONFIG_GLOBAL");
}

static void test_queue__items_are_numbered_refs_with_a_neutralised_subject(void **state)
{
	struct fixture f;
	struct gate_queue_item *a = NULL, *b = NULL, *back = NULL, **items = NULL;
	struct gate_buf err = GATE_BUF_INIT;
	git_oid oid;
	size_t n = 0;

	(void)state;
	git_libgit2_init();
	fixture_init(&f);
	assert_int_equal(gate_queue_add(&a, f.repo, "refs/heads/main", f.tip, "alice\nroot", &err), 0);
	assert_int_equal(gate_queue_add(&b, f.repo, "refs/heads/main", f.tip, "bob", &err), 0);
	assert_int_equal(a->id, 1);
	assert_int_equal(b->id, 2);
	assert_string_equal(b->ref, "refs/gate-queue/main/2");
	assert_int_equal(git_reference_name_to_id(&oid, f.repo->git, "refs/gate-queue/main/1"), 0);
	assert_string_equal(a->subject, "Add nothing\\x1b[31m");
	assert_int_equal(gate_queue_load(&back, f.dir, 1, &err), 0);
	assert_string_equal(back->user, "alice\\nroot"); /* one line on disk, whatever it was */
	assert_int_equal(back->state, GATE_QUEUE_WAITING);
	assert_int_equal(gate_queue_list(&items, &n, f.dir, 0, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(gate_queue_position(items, n, items[1]), 2);
	{
		struct gate_queue_item *none = NULL;
		assert_int_equal(gate_queue_load(&none, f.dir, 99, &err), GATE_ENOTFOUND);
		assert_null(none);
	}
	gate_queue_items_free(items, n);
	gate_queue_item_free(back);
	gate_queue_item_free(a);
	gate_queue_item_free(b);
	gate_buf_release(&err);
	fixture_release(&f);
}

static void test_queue__cancel_removes_the_ref_once(void **state)
{
	struct fixture f;
	struct gate_queue_item *a = NULL, *back = NULL;
	struct gate_buf err = GATE_BUF_INIT;
	git_oid oid;

	(void)state;
	git_libgit2_init();
	fixture_init(&f);
	assert_int_equal(gate_queue_add(&a, f.repo, "refs/heads/main", f.tip, "alice", &err), 0);
	assert_int_equal(gate_queue_cancel(f.dir, a->id, "admin", &err), 0);
	assert_int_equal(git_reference_name_to_id(&oid, f.repo->git, a->ref), GIT_ENOTFOUND);
	assert_int_equal(gate_queue_load(&back, f.dir, a->id, &err), 0);
	assert_int_equal(back->state, GATE_QUEUE_CANCELLED);
	assert_string_equal(back->reason, "cancelled by admin");
	assert_int_equal(gate_queue_cancel(f.dir, a->id, "admin", &err), -1);
	assert_int_equal(gate_queue_cancel(f.dir, 42, "admin", &err), GATE_ENOTFOUND);
	gate_queue_item_free(back);
	gate_queue_item_free(a);
	gate_buf_release(&err);
	fixture_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue__keys_and_their_defaults),
		cmocka_unit_test(test_queue__bad_values_and_keys_without_queue_are_errors),
		cmocka_unit_test(test_queue__only_refs_for_a_queued_branch_are_marked),
		cmocka_unit_test(test_queue__items_are_numbered_refs_with_a_neutralised_subject),
		cmocka_unit_test(test_queue__cancel_removes_the_ref_once),
		cmocka_unit_test(test_queue__routed_reads_proc_receive_refs_as_git_does),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
