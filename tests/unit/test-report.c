#include "unit.h"

#include "report.h"

static char *safe(const char *s, size_t len)
{
	struct gate_buf b = GATE_BUF_INIT;

	gate_buf_add_safe(&b, s, len);
	return gate_buf_detach(&b);
}

#define SAFE_EQ(in, want)                                       \
	do {                                                    \
		char *got_ = safe(in, sizeof(in) - 1);          \
		assert_string_equal(got_, want);                \
		free(got_);                                     \
	} while (0)

static void test_report__escape_sequences_are_neutralised(void **state)
{
	(void)state;
	SAFE_EQ("\033[31mred\033[0m", "\\x1b[31mred\\x1b[0m");
	SAFE_EQ("bell\a", "bell\\x07");
	SAFE_EQ("over\rwrite", "over\\x0dwrite");
	SAFE_EQ("two\nlines", "two\\nlines");
	SAFE_EQ("tab\there", "tab\\there");
	SAFE_EQ("del\177", "del\\x7f");
	SAFE_EQ("back\\slash", "back\\slash"); /* patterns read as written */
}

static void test_report__c1_controls_and_bidi_overrides_are_escaped(void **state)
{
	(void)state;
	SAFE_EQ("csi\xc2\x9b" "31m", "csi\\xc2\\x9b31m");
	SAFE_EQ("rlo\xe2\x80\xae" "txt", "rlo\\xe2\\x80\\xaetxt");
}

static void test_report__valid_utf8_is_kept_and_invalid_bytes_shown(void **state)
{
	(void)state;
	SAFE_EQ("caf\xc3\xa9 \xe2\x9c\x93", "caf\xc3\xa9 \xe2\x9c\x93");
	SAFE_EQ("bad\xff\xfe", "bad\\xff\\xfe");
	SAFE_EQ("cut\xc3", "cut\\xc3");
	SAFE_EQ("overlong\xc0\xaf", "overlong\\xc0\\xaf");
}

static void test_report__nul_bytes_do_not_truncate(void **state)
{
	char in[] = { 'a', 0, 'b' };
	char *got = safe(in, sizeof(in));

	(void)state;
	assert_string_equal(got, "a\\x00b");
	free(got);
}

static struct gate_verdict *make_verdict(struct gate_push *push, struct gate_check_def *def, enum gate_mode mode,
					 size_t nfindings)
{
	struct gate_verdict *v = gate_xcalloc(1, sizeof(*v));
	static struct gate_rule rule;
	struct gate_commit c;
	size_t i;

	memset(&rule, 0, sizeof(rule));
	rule.mode = mode;
	memset(&c, 0, sizeof(c));
	memcpy(c.id, "0123456789abcdef0123456789abcdef01234567", 41);
	c.subject = (char *)"WIP \033]0;pwned\007 stuff";
	v->nr = 1;
	v->refs = gate_xcalloc(1, sizeof(*v->refs));
	v->refs[0].update = &push->updates[0];
	v->refs[0].rule = &rule;
	v->njobs = 1;
	v->jobs = gate_xcalloc(1, sizeof(*v->jobs));
	v->jobs[0].def = def;
	v->jobs[0].update = &push->updates[0];
	for (i = 0; i < nfindings; i++)
		gate_findings_add(&v->jobs[0].findings, &c, i % 2 ? "dir/evil\nname" : NULL, (long)i, "reword it",
				  "problem number %zu", i);
	v->refs[0].jobs = gate_xcalloc(1, sizeof(*v->refs[0].jobs));
	v->refs[0].jobs[0] = &v->jobs[0];
	v->refs[0].njobs = 1;
	v->refs[0].outcome = nfindings ? (mode == GATE_MODE_WARN ? GATE_OUTCOME_WARN : GATE_OUTCOME_REJECT)
				       : GATE_OUTCOME_ACCEPT;
	v->outcome = v->refs[0].outcome;
	return v;
}

static void free_verdict(struct gate_verdict *v)
{
	gate_verdict_release(v);
	free(v);
}

/* The report for one ref update of main with `nfindings` problems of check "msg". */
static char *report(enum gate_mode mode, size_t nfindings, const struct gate_report_opts *o)
{
	struct gate_push push = GATE_PUSH_INIT;
	struct gate_buf err = GATE_BUF_INIT, out = GATE_BUF_INIT;
	struct gate_check_def def = { .name = (char *)"msg", .type = &gate_check_commit_message };
	struct gate_verdict *v;

	assert_int_equal(gate_push_add(&push, "refs/heads/main", "1111111111111111111111111111111111111111",
				       "2222222222222222222222222222222222222222", &err),
			 0);
	v = make_verdict(&push, &def, mode, nfindings);
	gate_report_format(&out, v, o);
	free_verdict(v);
	gate_push_release(&push);
	gate_buf_release(&err);
	return gate_buf_detach(&out);
}

static void test_report__rejection_names_check_commit_problem_fix_and_ref(void **state)
{
	struct gate_report_opts o = { .prefix = "git-gate: ", .policy = "/srv/x.git/git-gate.conf", .max_findings = 20 };
	char *out = report(GATE_MODE_ENFORCE, 2, &o);
	const char *p;

	(void)state;
	assert_non_null(strstr(out, "git-gate: ---- refs/heads/main: REJECTED ----\n"));
	assert_non_null(strstr(out, "[msg] commit-message: 2 problems"));
	assert_non_null(strstr(out, "commit 0123456789 \"WIP \\x1b]0;pwned\\x07 stuff\":"));
	assert_non_null(strstr(out, "problem number 0"));
	assert_non_null(strstr(out, "dir/evil\\nname:1: problem number 1"));
	assert_non_null(strstr(out, "fix (all 2 problems above with this fix): reword it"));
	assert_non_null(strstr(out, "refs/heads/main rejected: 1 check failed (policy: /srv/x.git/git-gate.conf)"));
	/* nothing from the push reaches the terminal raw */
	assert_null(strchr(out, '\033'));
	assert_null(strchr(out, '\007'));
	/* every line carries the prefix */
	for (p = out; *p; p++) {
		assert_memory_equal(p, "git-gate: ", 10);
		p = strchr(p, '\n');
		assert_non_null(p);
	}
	free(out);
}

static void test_report__findings_are_capped_with_a_count_of_the_rest(void **state)
{
	struct gate_report_opts o = { .prefix = "", .max_findings = 5 };
	char *out = report(GATE_MODE_ENFORCE, 12, &o);

	(void)state;
	assert_non_null(strstr(out, "problem number 4"));
	assert_null(strstr(out, "problem number 5"));
	assert_non_null(strstr(out, "... and 7 more problems of this kind"));
	free(out);
}

static void test_report__a_fix_shared_by_many_findings_is_said_once(void **state)
{
	struct gate_report_opts o = { .prefix = "", .max_findings = 20 };
	char *out = report(GATE_MODE_ENFORCE, 9, &o);
	const char *first;

	(void)state;
	first = strstr(out, "reword it");
	assert_non_null(first);
	assert_null(strstr(first + 1, "reword it"));
	assert_non_null(strstr(out, "    fix (all 9 problems above with this fix): reword it\n"));
	/* after the last finding, not between them */
	assert_true(first > strstr(out, "problem number 8"));
	free(out);
}

static void test_report__a_fix_of_one_finding_follows_it(void **state)
{
	struct gate_report_opts o = { .prefix = "", .max_findings = 20 };
	char *out = report(GATE_MODE_ENFORCE, 1, &o);

	(void)state;
	assert_non_null(strstr(out, "problem number 0\n        fix: reword it\n"));
	free(out);
}

static void test_report__warn_mode_is_marked_as_accepted(void **state)
{
	struct gate_report_opts o = { .prefix = "", .max_findings = 20 };
	char *out = report(GATE_MODE_WARN, 1, &o);

	(void)state;
	assert_non_null(strstr(out, "refs/heads/main: WARNING"));
	assert_non_null(strstr(out, "accepted with warnings"));
	assert_null(strstr(out, "REJECTED"));
	free(out);
}

static void test_report__an_accepted_push_prints_nothing(void **state)
{
	struct gate_report_opts o = { .prefix = "", .max_findings = 20 };
	char *out = report(GATE_MODE_ENFORCE, 0, &o);

	(void)state;
	assert_string_equal(out, "");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report__escape_sequences_are_neutralised),
		cmocka_unit_test(test_report__c1_controls_and_bidi_overrides_are_escaped),
		cmocka_unit_test(test_report__valid_utf8_is_kept_and_invalid_bytes_shown),
		cmocka_unit_test(test_report__nul_bytes_do_not_truncate),
		cmocka_unit_test(test_report__rejection_names_check_commit_problem_fix_and_ref),
		cmocka_unit_test(test_report__findings_are_capped_with_a_count_of_the_rest),
		cmocka_unit_test(test_report__a_fix_shared_by_many_findings_is_said_once),
		cmocka_unit_test(test_report__a_fix_of_one_finding_follows_it),
		cmocka_unit_test(test_report__warn_mode_is_marked_as_accepted),
		cmocka_unit_test(test_report__an_accepted_push_prints_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
