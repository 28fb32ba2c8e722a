#include "unit.h"

#include "glob.h"

static void test_glob__star_stays_within_one_component(void **state)
{
	(void)state;
	assert_true(gate_glob_match("refs/heads/release/*", "refs/heads/release/1.0", 0));
	assert_false(gate_glob_match("refs/heads/release/*", "refs/heads/release/1/hotfix", 0));
	assert_false(gate_glob_match("refs/heads/release/*", "refs/heads/main", 0));
	assert_true(gate_glob_match("refs/tags/*", "refs/tags/v1.0", 0));
	assert_true(gate_glob_match("refs/heads/main", "refs/heads/main", 0));
	assert_false(gate_glob_match("refs/heads/main", "refs/heads/main2", 0));
}

static void test_glob__double_star_crosses_components(void **state)
{
	(void)state;
	assert_true(gate_glob_match("refs/heads/**", "refs/heads/a/b/c", 0));
	assert_true(gate_glob_match("**/id_rsa", "id_rsa", 0));
	assert_true(gate_glob_match("**/id_rsa", "home/me/.ssh/id_rsa", 0));
	assert_false(gate_glob_match("**/id_rsa", "home/me/.ssh/id_rsa.pub", 0));
	assert_true(gate_glob_match("node_modules/**", "node_modules/x/y.js", 0));
	assert_false(gate_glob_match("node_modules/**", "src/node_modules/x.js", 0));
	assert_true(gate_glob_match("a/**/b", "a/b", 0));
	assert_true(gate_glob_match("a/**/b", "a/x/y/b", 0));
}

static void test_glob__question_mark_and_classes(void **state)
{
	(void)state;
	assert_true(gate_glob_match("v?.?", "v1.2", 0));
	assert_false(gate_glob_match("v?", "v/", 0));
	assert_true(gate_glob_match("file[0-9].txt", "file7.txt", 0));
	assert_false(gate_glob_match("file[0-9].txt", "filex.txt", 0));
	assert_true(gate_glob_match("file[!0-9].txt", "filex.txt", 0));
	assert_true(gate_glob_match("file[^0-9].txt", "filex.txt", 0));
	assert_true(gate_glob_match("a\\*b", "a*b", 0));
	assert_false(gate_glob_match("a\\*b", "axb", 0));
}

static void test_glob__casefold_is_optional(void **state)
{
	(void)state;
	assert_false(gate_glob_match("*.PEM", "key.pem", 0));
	assert_true(gate_glob_match("*.PEM", "key.pem", GATE_GLOB_CASEFOLD));
}

static void test_glob__pattern_without_slash_matches_basename_at_any_depth(void **state)
{
	(void)state;
	assert_true(gate_glob_match_path("*.pem", "certs/server.pem", 0));
	assert_true(gate_glob_match_path("*.pem", "server.pem", 0));
	assert_true(gate_glob_match_path(".env", "app/config/.env", 0));
	assert_false(gate_glob_match_path(".env", "app/.env.example", 0));
	assert_false(gate_glob_match_path("config/*.yml", "app/config/x.yml", 0));
	assert_true(gate_glob_match_path("config/*.yml", "config/x.yml", 0));
	assert_true(gate_glob_match_path("/build", "build", 0));
}

static void test_glob__many_stars_against_a_long_string_stay_fast(void **state)
{
	char s[4097];
	double t0 = gate_now();

	(void)state;
	/* found by fuzzing (tests/fuzz/fuzz-glob.c): backtracking was exponential in the stars */
	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	assert_false(gate_glob_match("*a*a*a*a*a*a*a*a*a*a*b", s, 0));
	assert_false(gate_glob_match_path("**/*a*a*a*/**/*a*a*b", s, GATE_GLOB_CASEFOLD));
	s[4000] = '/';
	assert_false(gate_glob_match("**a**a**a**a**a**a**/**b", s, 0));
	s[4095] = 'b';
	assert_true(gate_glob_match("*a*a*a*a*a*a*a*a*a*a**b", s, 0));
	assert_true(gate_now() - t0 < 5.0);
}

static void test_glob__malformed_patterns_are_detected(void **state)
{
	(void)state;
	assert_true(gate_glob_valid("refs/heads/*"));
	assert_true(gate_glob_valid("[a-z]*"));
	assert_false(gate_glob_valid("[a-z"));
	assert_false(gate_glob_valid("trailing\\"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob__star_stays_within_one_component),
		cmocka_unit_test(test_glob__double_star_crosses_components),
		cmocka_unit_test(test_glob__question_mark_and_classes),
		cmocka_unit_test(test_glob__casefold_is_optional),
		cmocka_unit_test(test_glob__pattern_without_slash_matches_basename_at_any_depth),
		cmocka_unit_test(test_glob__many_stars_against_a_long_string_stay_fast),
		cmocka_unit_test(test_glob__malformed_patterns_are_detected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
