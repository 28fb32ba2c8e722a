#include "unit.h"

#include "push.h"

#define A "1111111111111111111111111111111111111111"
#define B "2222222222222222222222222222222222222222"
#define Z GATE_ZERO_OID

static void test_push__pre_receive_lines_become_updates(void **state)
{
	struct gate_push p = GATE_PUSH_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	const char in[] = A " " B " refs/heads/main\n" Z " " A " refs/heads/new\n" B " " Z " refs/tags/old\n";

	(void)state;
	assert_int_equal(gate_push_parse_pre_receive(&p, in, strlen(in), &err), 0);
	assert_int_equal(p.nr, 3);
	assert_string_equal(p.updates[0].ref, "refs/heads/main");
	assert_string_equal(p.updates[0].old_id, A);
	assert_string_equal(p.updates[0].new_id, B);
	assert_int_equal(p.updates[0].kind, GATE_UPDATE_MODIFY);
	assert_int_equal(p.updates[1].kind, GATE_UPDATE_CREATE);
	assert_int_equal(p.updates[2].kind, GATE_UPDATE_DELETE);
	gate_push_release(&p);
	gate_buf_release(&err);
}

static void test_push__malformed_input_is_an_error(void **state)
{
	static const char *const bad[] = {
		A " " B "\n",                              /* no ref */
		A " " B " refs/heads/a b\n",               /* space in ref */
		"xyz " B " refs/heads/main\n",             /* bad id */
		Z " " Z " refs/heads/main\n",              /* neither old nor new */
		A " " B " refs/heads/../x\n",              /* .. in ref */
		A " " B " refs/heads/\033[31m\n",          /* control character */
		A " " B " HEAD\n",                         /* not under refs/ */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct gate_push p = GATE_PUSH_INIT;
		struct gate_buf err = GATE_BUF_INIT;
		assert_int_equal(gate_push_parse_pre_receive(&p, bad[i], strlen(bad[i]), &err), -1);
		assert_true(err.len > 0);
		gate_push_release(&p);
		gate_buf_release(&err);
	}
}

static void test_push__nul_bytes_are_refused(void **state)
{
	struct gate_push p = GATE_PUSH_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	const char in[] = A " " B " refs/heads/ma\0in\n";

	(void)state;
	assert_int_equal(gate_push_parse_pre_receive(&p, in, sizeof(in) - 1, &err), -1);
	gate_push_release(&p);
	gate_buf_release(&err);
}

static void test_push__ref_names_follow_git_rules(void **state)
{
	(void)state;
	assert_true(gate_ref_name_valid("refs/heads/main"));
	assert_true(gate_ref_name_valid("refs/heads/feature/x-1.2"));
	assert_false(gate_ref_name_valid("refs/heads/x.lock"));
	assert_false(gate_ref_name_valid("refs/heads/x."));
	assert_false(gate_ref_name_valid("refs/heads//x"));
	assert_false(gate_ref_name_valid("refs/heads/x@{1}"));
	assert_false(gate_ref_name_valid("refs/heads/a:b"));
	assert_false(gate_ref_name_valid("refs/"));
}

static void test_push__options_come_from_the_environment(void **state)
{
	struct gate_push p = GATE_PUSH_INIT;

	(void)state;
	setenv("GIT_PUSH_OPTION_COUNT", "3", 1);
	setenv("GIT_PUSH_OPTION_0", "gate.dry-run", 1);
	setenv("GIT_PUSH_OPTION_1", "gate.bypass=first", 1);
	setenv("GIT_PUSH_OPTION_2", "gate.bypass=hotfix for INC-7", 1);
	gate_push_read_options(&p);
	assert_int_equal(p.options.nr, 3);
	assert_string_equal(gate_push_option(&p, "gate.dry-run"), "");
	assert_string_equal(gate_push_option(&p, "gate.bypass"), "hotfix for INC-7");
	assert_null(gate_push_option(&p, "gate.bypas"));
	assert_null(gate_push_option(&p, "ci.skip"));
	unsetenv("GIT_PUSH_OPTION_COUNT");
	gate_push_release(&p);
}

static void test_push__pusher_comes_from_the_first_variable_set(void **state)
{
	struct gate_push p = GATE_PUSH_INIT;

	(void)state;
	unsetenv("GIT_GATE_USER");
	unsetenv("GL_USERNAME");
	setenv("GL_USER", "gitolite-user", 1);
	setenv("REMOTE_USER", "http-user", 1);
	gate_push_identify(&p);
	assert_string_equal(p.user, "gitolite-user");
	assert_string_equal(p.user_source, "GL_USER");
	gate_push_release(&p);

	setenv("GIT_GATE_USER", "explicit", 1);
	gate_push_identify(&p);
	assert_string_equal(p.user, "explicit");
	gate_push_release(&p);

	unsetenv("GIT_GATE_USER");
	unsetenv("GL_USER");
	unsetenv("REMOTE_USER");
	unsetenv("GITHUB_USER_LOGIN");
	gate_push_identify(&p);
	assert_non_null(p.user);
	assert_string_equal(p.user_source, "the operating system account");
	gate_push_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_push__pre_receive_lines_become_updates),
		cmocka_unit_test(test_push__malformed_input_is_an_error),
		cmocka_unit_test(test_push__nul_bytes_are_refused),
		cmocka_unit_test(test_push__ref_names_follow_git_rules),
		cmocka_unit_test(test_push__options_come_from_the_environment),
		cmocka_unit_test(test_push__pusher_comes_from_the_first_variable_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
