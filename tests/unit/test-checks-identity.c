#include "unit.h"

#include <stdio.h>
#include <time.h>

#include "check-logic.h"
#include "check.h"
#include "scan.h"

/* Run the identity check "who" of `policy` on one commit, pushed by `pusher`. */
static struct gate_findings run_id(const char *policy, const char *pusher, const char *author,
				   const char *committer)
{
	struct unit_fixture f;
	struct gate_findings out = GATE_FINDINGS_INIT;
	char *raw = gate_xstrfmt("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
				 "author %s\ncommitter %s\n\nA subject\n",
				 author, committer);

	unit_fixture_init_raw(&f, policy, raw);
	f.run.pusher = pusher;
	assert_int_equal(f.type->commit(&f.run, &f.commit, &out), 0);
	unit_fixture_release(&f);
	free(raw);
	return out;
}

#define POLICY(keys) "checks = { who = { type = \"identity\"; " keys " }; };\n"
#define AUTHOR "A U Thor <author@example.com> 1700000000 +0000"
#define COMMITTER "C O Mitter <committer@example.com> 1700000000 +0000"

static int has(const struct gate_findings *f, const char *needle)
{
	size_t i;

	for (i = 0; i < f->nr; i++)
		if (strstr(f->v[i].message, needle))
			return 1;
	return 0;
}

static void test_identity__matching_identities_pass(void **state)
{
	struct gate_findings f = run_id(POLICY("author_email = \"@example\\\\.com$\"; author_name = \" \"; "
					       "committer_email = \"^committer@\"; committer_name = \"^C \";"),
					"tester", AUTHOR, COMMITTER);

	(void)state;
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
}

static void test_identity__each_pattern_names_the_identity_and_the_pattern(void **state)
{
	struct gate_findings f = run_id(POLICY("author_email = \"@corp\\\\.example$\"; author_name = \"^[a-z]+$\"; "
					       "committer_email = \"@corp\\\\.example$\"; committer_name = \"^Z\";"),
					"tester", AUTHOR, COMMITTER);

	(void)state;
	assert_int_equal(f.nr, 4);
	assert_true(has(&f, "author email 'author@example.com' does not match the required pattern \"@corp\\.example$\""));
	assert_true(has(&f, "author name 'A U Thor' does not match the required pattern \"^[a-z]+$\""));
	assert_true(has(&f, "committer email 'committer@example.com' does not match"));
	assert_true(has(&f, "committer name 'C O Mitter' does not match the required pattern \"^Z\""));
	assert_non_null(strstr(f.v[0].hint, "git config user.email"));
	assert_non_null(strstr(f.v[0].hint, "--reset-author"));
	assert_non_null(strstr(f.v[1].hint, "git config user.name"));
	assert_string_equal(f.v[0].commit, "0123456789abcdef0123456789abcdef01234567");
	gate_findings_release(&f);
}

static void test_identity__pusher_is_the_email_its_local_part_or_the_name(void **state)
{
	(void)state;
	assert_true(gate_identity_is_pusher("jdoe", "Jane Doe", "jdoe@example.com", NULL));
	assert_true(gate_identity_is_pusher("JDoe", "Jane Doe", "jdoe@example.com", NULL));
	assert_true(gate_identity_is_pusher("jdoe@example.com", "Jane Doe", "JDOE@example.com", NULL));
	assert_true(gate_identity_is_pusher("jane doe", "Jane Doe", "x@example.com", NULL));
	assert_true(gate_identity_is_pusher("a@b", "N", "a@b@example.com", NULL)); /* local part: before the last '@' */
	assert_false(gate_identity_is_pusher("jdo", "Jane Doe", "jdoe@example.com", NULL));
	assert_false(gate_identity_is_pusher("jdoe", "Jane Doe", "jdoe.x@example.com", NULL));
	assert_false(gate_identity_is_pusher("example.com", "Jane Doe", "jdoe@example.com", NULL));
	assert_false(gate_identity_is_pusher("", "", "", NULL));
	assert_false(gate_identity_is_pusher("jdoe", NULL, NULL, NULL));
}

static void test_identity__a_mapped_pusher_must_use_a_listed_address(void **state)
{
	struct gate_strvec emails = GATE_STRVEC_INIT;

	(void)state;
	gate_strvec_push(&emails, "jane@example.com");
	gate_strvec_push(&emails, "jd@old.example");
	assert_true(gate_identity_is_pusher("jdoe", "x", "JD@old.example", &emails));
	assert_true(gate_identity_is_pusher("jdoe", "x", "jane@example.com", &emails));
	/* the name and local-part rules do not apply to a mapped pusher */
	assert_false(gate_identity_is_pusher("jdoe", "jdoe", "jdoe@example.com", &emails));
	gate_strvec_clear(&emails);
}

static void test_identity__committer_is_pusher_reports_who_is_who(void **state)
{
	struct gate_findings f = run_id(POLICY("committer_is_pusher = true;"), "tester", AUTHOR, COMMITTER);

	(void)state;
	assert_int_equal(f.nr, 1);
	assert_true(has(&f, "committer 'C O Mitter <committer@example.com>' is not the pusher 'tester'"));
	assert_non_null(strstr(f.v[0].hint, "git rebase --force-rebase"));
	gate_findings_release(&f);
	f = run_id(POLICY("committer_is_pusher = true;"), "committer", AUTHOR, COMMITTER);
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
}

static void test_identity__pusher_emails_group_and_list_forms(void **state)
{
	struct gate_findings f;

	(void)state;
	f = run_id(POLICY("committer_is_pusher = true; pusher_emails = { tester = [ \"committer@example.com\" ]; };"),
		   "tester", AUTHOR, COMMITTER);
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
	f = run_id(POLICY("committer_is_pusher = true; pusher_emails = { committer = \"other@example.com\"; };"),
		   "committer", AUTHOR, COMMITTER);
	assert_int_equal(f.nr, 1);
	assert_true(has(&f, "not one of the pusher's addresses in pusher_emails"));
	gate_findings_release(&f);
	f = run_id(POLICY("committer_is_pusher = true; pusher_emails = ( { user = \"c.o.m\"; emails = "
			  "[ \"committer@example.com\" ]; } );"),
		   "c.o.m", AUTHOR, COMMITTER);
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
}

static void test_identity__bad_pusher_emails_are_policy_errors(void **state)
{
	char *e;

	(void)state;
	e = unit_policy_errors(POLICY("committer_is_pusher = true; pusher_emails = { a = \"not-an-email\"; };"));
	assert_non_null(strstr(e, "is not an email address"));
	free(e);
	e = unit_policy_errors(POLICY("committer_is_pusher = true; pusher_emails = ( { name = \"a\"; } );"));
	assert_non_null(strstr(e, "user = "));
	free(e);
	e = unit_policy_errors(POLICY("pusher_emails = { a = \"a@b\"; };"));
	assert_non_null(strstr(e, "committer_is_pusher"));
	free(e);
	e = unit_policy_errors(POLICY(""));
	assert_non_null(strstr(e, "needs something to check"));
	free(e);
	e = unit_policy_errors(POLICY("committer_is_pusher = false;"));
	assert_non_null(strstr(e, "needs something to check"));
	free(e);
	e = unit_policy_errors(POLICY("committer_email = \"(\";"));
	assert_non_null(strstr(e, "committer_email"));
	free(e);
}

static void test_identity__dates_beyond_max_future_are_reported(void **state)
{
	char author[200], committer[200];
	long long now = (long long)time(NULL);
	struct gate_findings f;

	(void)state;
	snprintf(author, sizeof(author), "A <a@example.com> %lld +0000", now + 3 * 86400 + 100);
	snprintf(committer, sizeof(committer), "C <c@example.com> %lld -0130", now + 300);
	f = run_id(POLICY("max_future = \"10 min\";"), "tester", author, committer);
	assert_int_equal(f.nr, 1);
	assert_true(has(&f, "author date "));
	assert_true(has(&f, " +0000 is 3 days in the future (at most 10 min allowed)"));
	assert_non_null(strstr(f.v[0].hint, "clock"));
	gate_findings_release(&f);

	snprintf(committer, sizeof(committer), "C <c@example.com> %lld -0130", now + 7200);
	f = run_id(POLICY("max_future = 60;"), "tester", AUTHOR, committer);
	assert_int_equal(f.nr, 1);
	assert_true(has(&f, "committer date "));
	assert_true(has(&f, " -0130 is 2 hours in the future (at most 1 min allowed)"));
	gate_findings_release(&f);

	/* no max_future: dates are not judged */
	f = run_id(POLICY("author_name = \"\";"), "tester", author, committer);
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
}

static void test_identity__absurd_dates_and_offsets_are_reported_without_overflow(void **state)
{
	struct gate_findings f;

	(void)state;
	/* found by fuzzing (tests/fuzz/fuzz-commit.c): the largest date with an offset overflowed */
	f = run_id(POLICY("max_future = \"1 day\";"), "tester",
		   "A <a@example.com> 99999999999999999999 +0959", "C <c@example.com> 1700000000 +99999999999999999999");
	assert_int_equal(f.nr, 1);
	assert_true(has(&f, "author date @9223372036854775807 is "));
	gate_findings_release(&f);
}

static void test_identity__durations_read_as_the_largest_whole_unit(void **state)
{
	static const struct {
		long long s;
		const char *text;
	} cases[] = {
		{ 0, "0 s" },          { 59, "59 s" },    { 60, "1 min" },           { 600, "10 min" },
		{ 3599, "59 min" },    { 3600, "1 hour" }, { 7300, "2 hours" },      { 86400, "1 day" },
		{ 86400 * 40, "40 days" }, { 86400LL * 800, "2 years" }, { -5, "0 s" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < GATE_ARRAY_SIZE(cases); i++) {
		struct gate_buf b = GATE_BUF_INIT;
		gate_buf_add_duration(&b, cases[i].s);
		assert_string_equal(b.ptr, cases[i].text);
		gate_buf_release(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity__matching_identities_pass),
		cmocka_unit_test(test_identity__each_pattern_names_the_identity_and_the_pattern),
		cmocka_unit_test(test_identity__pusher_is_the_email_its_local_part_or_the_name),
		cmocka_unit_test(test_identity__a_mapped_pusher_must_use_a_listed_address),
		cmocka_unit_test(test_identity__committer_is_pusher_reports_who_is_who),
		cmocka_unit_test(test_identity__pusher_emails_group_and_list_forms),
		cmocka_unit_test(test_identity__bad_pusher_emails_are_policy_errors),
		cmocka_unit_test(test_identity__dates_beyond_max_future_are_reported),
		cmocka_unit_test(test_identity__absurd_dates_and_offsets_are_reported_without_overflow),
		cmocka_unit_test(test_identity__durations_read_as_the_largest_whole_unit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
