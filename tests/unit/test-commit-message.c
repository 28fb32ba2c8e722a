#include "unit.h"

#include "check.h"
#include "scan.h"

/* Run the commit-message check of `policy` (check "m") on a raw commit message. */
static struct gate_findings run_msg(const char *policy, const char *message)
{
	struct unit_fixture f;
	struct gate_findings out = GATE_FINDINGS_INIT;

	unit_fixture_init(&f, policy, message);
	assert_int_equal(f.type->commit(&f.run, &f.commit, &out), 0);
	unit_fixture_release(&f);
	return out;
}

static int has(const struct gate_findings *f, const char *needle)
{
	size_t i;

	for (i = 0; i < f->nr; i++)
		if (strstr(f->v[i].message, needle))
			return 1;
	return 0;
}

#define POLICY(keys) "checks = { m = { type = \"commit-message\"; " keys " }; };\n"

static void test_commit_message__a_good_message_passes(void **state)
{
	struct gate_findings f = run_msg(POLICY("subject_max = 50; body_max = 72; require = \"^[A-Z]\"; "
						"forbid = \"^(WIP|fixup!)\"; require_trailers = [ \"Signed-off-by\" ];"),
					 "Add the thing\n\nBecause it was missing.\n\nSigned-off-by: A <a@example.com>\n");

	(void)state;
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
}

static void test_commit_message__long_subject_is_reported_with_lengths(void **state)
{
	struct gate_findings f = run_msg(POLICY("subject_max = 10;"), "This subject is far too long\n");

	(void)state;
	assert_int_equal(f.nr, 1);
	assert_non_null(strstr(f.v[0].message, "28 characters long, more than the 10 allowed"));
	assert_non_null(f.v[0].hint);
	assert_string_equal(f.v[0].commit, "0123456789abcdef0123456789abcdef01234567");
	assert_string_equal(f.v[0].subject, "This subject is far too long");
	gate_findings_release(&f);
}

static void test_commit_message__subject_length_counts_characters_not_bytes(void **state)
{
	/* 10 characters, 20 bytes */
	struct gate_findings f = run_msg(POLICY("subject_max = 10;"), "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
								     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n");

	(void)state;
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
}

static void test_commit_message__required_and_forbidden_patterns(void **state)
{
	struct gate_findings f = run_msg(POLICY("require = \"^[A-Za-z].*\"; forbid = \"^(WIP|fixup!|squash!)\";"),
					 "WIP: half done\n");
	struct gate_findings g = run_msg(POLICY("require = \"^[A-Za-z].*\";"), "123 numbers first\n");

	(void)state;
	assert_int_equal(f.nr, 1);
	assert_true(has(&f, "matches the forbidden pattern \"^(WIP|fixup!|squash!)\""));
	assert_int_equal(g.nr, 1);
	assert_true(has(&g, "does not match the required pattern"));
	gate_findings_release(&f);
	gate_findings_release(&g);
}

static void test_commit_message__patterns_only_see_the_subject(void **state)
{
	struct gate_findings f = run_msg(POLICY("forbid = \"WIP\";"), "Finish it\n\nNo longer WIP.\n");

	(void)state;
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
}

static void test_commit_message__empty_messages_are_rejected_unless_allowed(void **state)
{
	struct gate_findings f = run_msg(POLICY(""), "");
	struct gate_findings g = run_msg(POLICY(""), "  \n\n");
	struct gate_findings h = run_msg(POLICY("allow_empty = true;"), "");

	(void)state;
	assert_true(has(&f, "empty"));
	assert_true(has(&g, "empty"));
	assert_int_equal(h.nr, 0);
	gate_findings_release(&f);
	gate_findings_release(&g);
	gate_findings_release(&h);
}

static void test_commit_message__body_needs_a_blank_line_and_short_lines(void **state)
{
	struct gate_findings f = run_msg(POLICY("body_max = 20;"),
					 "Subject\nno blank line\n\nshort\nthis line is much longer than twenty\n");

	(void)state;
	assert_true(has(&f, "line after the subject is not blank"));
	assert_true(has(&f, "message line 5 is 36 characters long, more than the 20 allowed"));
	gate_findings_release(&f);
}

static void test_commit_message__required_trailers_with_and_without_value_patterns(void **state)
{
	const char *policy = POLICY("require_trailers = [ \"Signed-off-by\", \"Refs: ^[A-Z]+-[0-9]+$\" ];");
	struct gate_findings ok = run_msg(policy, "Fix\n\nBody.\n\nRefs: GATE-12\nSigned-off-by: A <a@b>\n");
	struct gate_findings bad = run_msg(policy, "Fix\n\nBody.\n\nRefs: see chat\n");
	struct gate_findings body_only = run_msg(policy, "Fix\n\nSigned-off-by: is not a trailer here\nmore body\n"
							 "\nlast paragraph\n");

	(void)state;
	assert_int_equal(ok.nr, 0);
	assert_true(has(&bad, "no 'Signed-off-by:' trailer"));
	assert_true(has(&bad, "no 'Refs:' trailer matching \"^[A-Z]+-[0-9]+$\""));
	assert_true(has(&body_only, "no 'Signed-off-by:' trailer"));
	gate_findings_release(&ok);
	gate_findings_release(&bad);
	gate_findings_release(&body_only);
}

static void test_commit_message__bad_trailer_names_are_config_errors(void **state)
{
	char *errs = unit_policy_errors(POLICY("require_trailers = [ \"Signed off by\" ];"));

	(void)state;
	assert_non_null(strstr(errs, "is not a trailer name"));
	free(errs);
}

static void test_commit_message__a_runaway_pattern_fails_closed_with_advice(void **state)
{
	struct unit_fixture f;
	struct gate_findings out = GATE_FINDINGS_INIT;

	(void)state;
	/* catastrophic backtracking: PCRE2's match limit stops it */
	unit_fixture_init(&f, POLICY("require = \"^(a+)+$\";"), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\n");
	assert_int_equal(f.type->commit(&f.run, &f.commit, &out), -1);
	assert_non_null(strstr(f.err.ptr, "pattern \"^(a+)+$\" could not be matched"));
	assert_non_null(strstr(f.err.ptr, "simplify"));
	gate_findings_release(&out);
	unit_fixture_release(&f);
}

/* Found by fuzzing (tests/fuzz/fuzz-commit.c): how the commit parser reads odd objects. */
static void test_commit_parse__repeated_headers_keep_the_first_as_git_does(void **state)
{
	static const char raw[] = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
				  "tree 0123456789abcdef0123456789abcdef01234567\n"
				  "author A <a@example.com> 1700000000 +0000\n"
				  "author B <b@example.com> 1700000000 +0000\n"
				  "committer C <c@example.com> 1700000000 +99999999999999999999\n"
				  "committer D <d@example.com> 1700000000 +0000\n"
				  "encoding UTF-8\nencoding latin1\n\nSubject\n";
	struct gate_commit c;
	struct gate_buf err = GATE_BUF_INIT;

	(void)state;
	assert_int_equal(gate_commit_parse(&c, "0123456789abcdef0123456789abcdef01234567", raw, strlen(raw), &err), 0);
	assert_string_equal(c.tree, "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
	assert_string_equal(c.author.email, "a@example.com");
	assert_string_equal(c.committer.email, "c@example.com");
	assert_int_equal(c.committer.tz, 0);
	assert_string_equal(c.encoding, "UTF-8");
	gate_commit_release(&c);
	gate_buf_release(&err);
}

static void test_commit_parse__ids_that_are_not_hex_are_refused(void **state)
{
	static const char *const raw[] = {
		"tree 4b825dc642cb6eb9a060e54bf8d69288fbee490X\n\nx\n",
		"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nparent --output=/tmp/x-------------------------\n\nx\n",
	};
	struct gate_commit c;
	struct gate_buf err = GATE_BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < GATE_ARRAY_SIZE(raw); i++) {
		gate_buf_reset(&err);
		assert_int_equal(gate_commit_parse(&c, "0123456789abcdef0123456789abcdef01234567", raw[i],
						   strlen(raw[i]), &err),
				 -1);
		assert_non_null(strstr(err.ptr, "malformed"));
		gate_commit_release(&c);
	}
	gate_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_message__a_good_message_passes),
		cmocka_unit_test(test_commit_parse__repeated_headers_keep_the_first_as_git_does),
		cmocka_unit_test(test_commit_parse__ids_that_are_not_hex_are_refused),
		cmocka_unit_test(test_commit_message__long_subject_is_reported_with_lengths),
		cmocka_unit_test(test_commit_message__subject_length_counts_characters_not_bytes),
		cmocka_unit_test(test_commit_message__required_and_forbidden_patterns),
		cmocka_unit_test(test_commit_message__patterns_only_see_the_subject),
		cmocka_unit_test(test_commit_message__empty_messages_are_rejected_unless_allowed),
		cmocka_unit_test(test_commit_message__body_needs_a_blank_line_and_short_lines),
		cmocka_unit_test(test_commit_message__required_trailers_with_and_without_value_patterns),
		cmocka_unit_test(test_commit_message__bad_trailer_names_are_config_errors),
		cmocka_unit_test(test_commit_message__a_runaway_pattern_fails_closed_with_advice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
