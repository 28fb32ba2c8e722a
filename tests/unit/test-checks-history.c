#include "unit.h"

#include "check-logic.h"
#include "check.h"
#include "scan.h"

#define P1 "1111111111111111111111111111111111111111"
#define P2 "2222222222222222222222222222222222222222"
#define P3 "3333333333333333333333333333333333333333"

/* Run the history check "h" of `policy` on one commit with `nparents` parents and `subject`. */
static struct gate_findings run_commit(const char *policy, int nparents, const char *subject)
{
	static const char *const parents[] = { P1, P2, P3 };
	struct unit_fixture f;
	struct gate_findings out = GATE_FINDINGS_INIT;
	struct gate_buf raw = GATE_BUF_INIT;
	int i;

	gate_buf_adds(&raw, "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n");
	for (i = 0; i < nparents; i++)
		gate_buf_addf(&raw, "parent %s\n", parents[i]);
	gate_buf_addf(&raw, "author A <a@example.com> 1700000000 +0000\n"
			    "committer C <c@example.com> 1700000000 +0000\n\n%s\n",
		      subject);
	unit_fixture_init_raw(&f, policy, raw.ptr);
	assert_int_equal(f.commit.nparents, (size_t)nparents);
	assert_int_equal(f.type->commit(&f.run, &f.commit, &out), 0);
	unit_fixture_release(&f);
	gate_buf_release(&raw);
	return out;
}

#define POLICY(keys) "checks = { h = { type = \"history\"; " keys " }; };\n"

static size_t count(const char *policy, int nparents, const char *subject, const char *needle, const char *hint)
{
	struct gate_findings f = run_commit(policy, nparents, subject);
	size_t n = f.nr;

	if (needle) {
		assert_true(n > 0);
		assert_non_null(strstr(f.v[0].message, needle));
		assert_non_null(strstr(f.v[0].hint, hint));
	}
	gate_findings_release(&f);
	return n;
}

static void test_history__autosquash_prefixes(void **state)
{
	(void)state;
	assert_string_equal(gate_history_autosquash_prefix("fixup! Add x"), "fixup!");
	assert_string_equal(gate_history_autosquash_prefix("squash! Add x"), "squash!");
	assert_string_equal(gate_history_autosquash_prefix("amend! Add x"), "amend!");
	assert_string_equal(gate_history_autosquash_prefix("fixup!"), "fixup!");
	assert_null(gate_history_autosquash_prefix("Fixup! Add x"));
	assert_null(gate_history_autosquash_prefix("Add fixup! handling"));
	assert_null(gate_history_autosquash_prefix("fixup Add x"));
	assert_null(gate_history_autosquash_prefix(""));
	assert_null(gate_history_autosquash_prefix(NULL));
}

static void test_history__merges_are_rejected_when_linear(void **state)
{
	(void)state;
	assert_int_equal(count(POLICY("linear = true;"), 1, "Add x", NULL, NULL), 0);
	assert_int_equal(count(POLICY("linear = true;"), 0, "Root", NULL, NULL), 0);
	assert_int_equal(count(POLICY("linear = true;"), 2, "Merge", "merge commit (2 parents)", "git rebase"), 1);
	assert_int_equal(count(POLICY("linear = true; max_parents = 3;"), 3, "Merge", "merge commit (3 parents)",
			       "git rebase"),
			 1);
	assert_int_equal(count(POLICY(""), 2, "Merge", NULL, NULL), 0);
}

static void test_history__max_parents_limits_octopus_merges(void **state)
{
	(void)state;
	assert_int_equal(count(POLICY("max_parents = 2;"), 2, "Merge", NULL, NULL), 0);
	assert_int_equal(count(POLICY("max_parents = 2;"), 3, "Octopus", "commit has 3 parents, more than the 2 allowed",
			       "one at a time"),
			 1);
}

static void test_history__fixups_are_rejected_by_default(void **state)
{
	(void)state;
	assert_int_equal(count(POLICY(""), 1, "fixup! Add x", "starts with 'fixup!'", "--autosquash"), 1);
	assert_int_equal(count(POLICY(""), 1, "squash! Add x", "starts with 'squash!'", "--autosquash"), 1);
	assert_int_equal(count(POLICY("no_fixup = false;"), 1, "fixup! Add x", NULL, NULL), 0);
	/* a merge that is also a fixup: both are said */
	assert_int_equal(count(POLICY("linear = true;"), 2, "fixup! Merge", "merge commit", "rebase"), 2);
}

static struct gate_findings run_job(const char *policy, size_t ncommits)
{
	struct gate_config *cfg = unit_policy(policy);
	struct gate_findings out = GATE_FINDINGS_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	struct gate_check_run run;
	struct gate_job job;

	memset(&run, 0, sizeof(run));
	run.def = &cfg->checks[0];
	run.data = cfg->checks[0].data;
	run.pusher = "tester";
	run.err = &err;
	memset(&job, 0, sizeof(job));
	job.ref = "refs/heads/main";
	job.old_id = P1;
	job.new_id = P2;
	job.ncommits = ncommits; /* the hook only counts */
	assert_int_equal(cfg->checks[0].type->job(&run, &job, &out), 0);
	gate_config_free(cfg);
	gate_buf_release(&err);
	return out;
}

static void test_history__max_commits_counts_the_update(void **state)
{
	struct gate_findings f;

	(void)state;
	f = run_job(POLICY("max_commits = 500;"), 500);
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
	f = run_job(POLICY("max_commits = 500;"), 8071);
	assert_int_equal(f.nr, 1);
	assert_string_equal(f.v[0].message, "the push brings 8071 new commits to 'refs/heads/main', more than the 500 allowed");
	assert_null(f.v[0].commit);
	assert_non_null(strstr(f.v[0].hint, "push in parts"));
	gate_findings_release(&f);
	f = run_job(POLICY(""), 100000);
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
}

static void test_history__negative_limits_are_policy_errors(void **state)
{
	char *e;

	(void)state;
	e = unit_policy_errors(POLICY("max_commits = -1;"));
	assert_non_null(strstr(e, "must not be negative"));
	free(e);
	e = unit_policy_errors(POLICY("linear = 1;"));
	assert_non_null(strstr(e, "linear"));
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_history__autosquash_prefixes),
		cmocka_unit_test(test_history__merges_are_rejected_when_linear),
		cmocka_unit_test(test_history__max_parents_limits_octopus_merges),
		cmocka_unit_test(test_history__fixups_are_rejected_by_default),
		cmocka_unit_test(test_history__max_commits_counts_the_update),
		cmocka_unit_test(test_history__negative_limits_are_policy_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
