#include "unit.h"

/* The policy keys of the command and ci-status check types. */

#define CMD(keys) "checks = { build = { type = \"command\"; " keys " }; };\n"
#define CI(keys) "checks = { ci = { type = \"ci-status\"; " keys " }; };\n"

static void expect_error(const char *policy, const char *needle)
{
	char *msgs = unit_policy_errors(policy);

	if (!strstr(msgs, needle)) {
		print_error("expected \"%s\" in:\n%s\n", needle, msgs);
		free(msgs);
		fail();
	}
	free(msgs);
}

static void test_command__a_full_definition_loads(void **state)
{
	struct gate_config *cfg = unit_policy(CMD("run = \"make check\"; timeout = \"15 min\"; on = \"each\"; jobs = 2; "
						  "output_lines = 40; max_output = \"1 MiB\"; sandbox = \"bwrap\"; "
						  "progress_interval = 5; cache = false; env = [ \"CC=gcc\", \"X=a=b\" ];"));

	(void)state;
	assert_int_equal(cfg->nchecks, 1);
	assert_string_equal(cfg->checks[0].type->name, "command");
	assert_non_null(cfg->checks[0].data);
	assert_non_null(strstr(cfg->checks[0].digest, "make check"));
	gate_config_free(cfg);
}

static void test_command__run_is_required(void **state)
{
	(void)state;
	expect_error(CMD("timeout = 10;"), "needs 'run'");
	expect_error(CMD("run = \"\";"), "'run': must not be empty");
}

static void test_command__bad_values_are_reported(void **state)
{
	(void)state;
	expect_error(CMD("run = \"true\"; on = \"every\";"), "must be \"tip\"");
	expect_error(CMD("run = \"true\"; sandbox = \"docker\";"), "must be \"bwrap\" (the default");
	expect_error(CMD("run = \"true\"; max_memory = \"1 MiB\";"), "'max_memory': must be 0 (no limit) or at least 16 MiB");
	expect_error(CMD("run = \"true\"; max_memory = \"much\";"), "max_memory");
	expect_error(CMD("run = \"true\"; max_disk = \"10 KiB\";"), "'max_disk': must be at least 1 MiB");
	expect_error(CMD("run = \"true\"; max_processes = 2;"), "'max_processes': must be 0 (no limit) or between 4");
	expect_error(CMD("run = \"true\"; max_processes = -1;"), "'max_processes'");
	expect_error(CMD("run = \"true\"; timeout = 0;"), "must be at least 1 second");
	expect_error(CMD("run = \"true\"; timeout = \"soon\";"), "timeout");
	expect_error(CMD("run = \"true\"; jobs = -1;"), "'jobs'");
	expect_error(CMD("run = \"true\"; output_lines = 100000;"), "'output_lines'");
	expect_error(CMD("run = \"true\"; max_output = \"lots\";"), "max_output");
	expect_error(CMD("run = \"true\"; env = [ \"NOEQUALS\" ];"), "is not NAME=VALUE");
	expect_error(CMD("run = \"true\"; env = [ \"1X=y\" ];"), "is not NAME=VALUE");
	expect_error(CMD("run = \"true\"; env = [ \"GIT_GATE_REF=x\" ];"), "set by git-gate itself");
	expect_error(CMD("run = \"true\"; cache = \"yes\";"), "cache");
}

static void test_command__unknown_keys_are_errors(void **state)
{
	(void)state;
	expect_error(CMD("run = \"true\"; timout = 10;"), "unknown key 'timout'");
}

static void test_command__the_digest_changes_with_any_key(void **state)
{
	struct gate_config *a = unit_policy(CMD("run = \"make check\";"));
	struct gate_config *b = unit_policy(CMD("run = \"make check\"; timeout = 100;"));
	struct gate_config *c = unit_policy(CMD("run = \"make  check\";"));

	(void)state;
	assert_string_not_equal(a->checks[0].digest, b->checks[0].digest);
	assert_string_not_equal(a->checks[0].digest, c->checks[0].digest);
	gate_config_free(a);
	gate_config_free(b);
	gate_config_free(c);
}

static void test_ci_status__defaults_and_keys_load(void **state)
{
	struct gate_config *cfg = unit_policy(CI(""));
	struct gate_config *full = unit_policy(CI("notes_ref = \"refs/notes/builds\"; pass = [ \"pass\", \"success\" ]; "
						 "on = \"each\"; match_tree = true;"));

	(void)state;
	assert_string_equal(cfg->checks[0].type->name, "ci-status");
	assert_string_equal(full->checks[0].type->name, "ci-status");
	gate_config_free(cfg);
	gate_config_free(full);
}

static void test_ci_status__bad_values_are_reported(void **state)
{
	(void)state;
	expect_error(CI("notes_ref = \"refs/heads/ci\";"),
		     "'notes_ref': \"refs/heads/ci\" is not under refs/notes/; write a name such as \"refs/notes/ci\"");
	/* short names are never completed: the ref is looked up by exactly the name written */
	expect_error(CI("notes_ref = \"ci\";"), "'notes_ref': \"ci\" is not a full ref name: git-gate looks the ref up "
						  "by exactly this name, never as refs/heads/NAME or refs/tags/NAME; "
						  "write \"refs/notes/ci\"");
	expect_error(CI("notes_ref = \"notes/ci\";"), "write \"refs/notes/ci\"");
	expect_error(CI("notes_ref = \"refs/notes/\";"), "is not a full ref name");
	expect_error(CI("notes_ref = \"refs/notes/a..b\";"), "is not a full ref name");
	expect_error(CI("pass = [ \"\" ];"), "must be one non-empty line");
	expect_error(CI("on = \"all\";"), "must be \"tip\"");
	expect_error(CI("notes = \"refs/notes/ci\";"), "unknown key 'notes'");
}

static void test_command__sandbox_none_is_valid_but_flagged_as_a_risk(void **state)
{
	struct gate_config *sandboxed = unit_policy(CMD("run = \"make check\";"));
	struct gate_config *none = unit_policy(CMD("run = \"make check\"; sandbox = \"none\"; cache = true;"));

	(void)state;
	/* the default is the sandbox: nothing to warn about */
	assert_int_equal(sandboxed->risks.nr, 0);
	assert_int_equal(none->risks.nr, 2);
	assert_non_null(strstr(none->risks.v[0], "sandbox = \"none\": code from every push runs with the hook account's rights"));
	assert_non_null(strstr(none->risks.v[0], "verdict cache, which is therefore off"));
	assert_non_null(strstr(none->risks.v[1], "cache = true has no effect with sandbox = \"none\""));
	gate_config_free(sandboxed);
	gate_config_free(none);
}

static void test_command__limits_and_the_concurrency_cap_load(void **state)
{
	struct gate_config *cfg = unit_policy(CMD("run = \"make check\"; max_memory = \"1 GiB\"; max_disk = \"2 GiB\"; "
						  "max_processes = 64;") "max_concurrent_commands = 3;\n");
	struct gate_config *dflt = unit_policy(CMD("run = \"make check\";"));

	(void)state;
	assert_int_equal(cfg->max_commands, 3);
	/* unset: the number of cores, decided when a push runs */
	assert_int_equal(dflt->max_commands, -1);
	expect_error(CMD("run = \"true\";") "max_concurrent_commands = -2;\n", "'max_concurrent_commands': must be between 0");
	gate_config_free(cfg);
	gate_config_free(dflt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command__a_full_definition_loads),
		cmocka_unit_test(test_command__run_is_required),
		cmocka_unit_test(test_command__bad_values_are_reported),
		cmocka_unit_test(test_command__unknown_keys_are_errors),
		cmocka_unit_test(test_command__the_digest_changes_with_any_key),
		cmocka_unit_test(test_ci_status__defaults_and_keys_load),
		cmocka_unit_test(test_ci_status__bad_values_are_reported),
		cmocka_unit_test(test_command__sandbox_none_is_valid_but_flagged_as_a_risk),
		cmocka_unit_test(test_command__limits_and_the_concurrency_cap_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
