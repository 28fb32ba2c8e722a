#include "unit.h"

#include "policy-text.h"

static const char sample[] =
	"rules = (\n"
	"  {\n"
	"    refs = [ \"refs/heads/main\", \"refs/heads/release/*\" ];\n"
	"    mode = \"enforce\";\n"
	"    allow_force_push = false;\n"
	"    allow_delete = false;\n"
	"    allow_create = true;\n"
	"    checks = [ \"msg\" ];\n"
	"  },\n"
	"  { refs = [ \"refs/tags/*\" ]; allow_update = false; allow_delete = false; },\n"
	"  { refs = [ \"refs/heads/**\" ]; mode = \"warn\"; checks = [ \"msg\" ]; }\n"
	");\n"
	"checks = {\n"
	"  msg = { type = \"commit-message\"; subject_max = 72; require = \"^[A-Za-z].*\"; forbid = \"^(WIP|fixup!|squash!)\"; };\n"
	"};\n";

static void test_policy__issue_example_loads(void **state)
{
	struct gate_config *cfg = unit_policy(sample);

	(void)state;
	assert_int_equal(cfg->nrules, 3);
	assert_int_equal(cfg->nchecks, 1);
	assert_string_equal(cfg->checks[0].name, "msg");
	assert_string_equal(cfg->checks[0].type->name, "commit-message");
	assert_int_equal(cfg->rules[0].mode, GATE_MODE_ENFORCE);
	assert_false(cfg->rules[0].allow_force_push);
	assert_false(cfg->rules[0].allow_delete);
	assert_true(cfg->rules[0].allow_create);
	assert_true(cfg->rules[0].allow_update);
	assert_int_equal(cfg->rules[0].nchecks, 1);
	assert_ptr_equal(cfg->rules[0].checks[0], &cfg->checks[0]);
	assert_false(cfg->rules[1].allow_update);
	assert_int_equal(cfg->rules[2].mode, GATE_MODE_WARN);
	gate_config_free(cfg);
}

static void test_policy__first_matching_rule_wins(void **state)
{
	struct gate_config *cfg = unit_policy(sample);

	(void)state;
	assert_ptr_equal(gate_config_rule_for(cfg, "refs/heads/main"), &cfg->rules[0]);
	assert_ptr_equal(gate_config_rule_for(cfg, "refs/heads/release/2"), &cfg->rules[0]);
	assert_ptr_equal(gate_config_rule_for(cfg, "refs/tags/v1"), &cfg->rules[1]);
	/* main also matches refs/heads/(all) further down: the first rule wins */
	assert_ptr_equal(gate_config_rule_for(cfg, "refs/heads/topic/x"), &cfg->rules[2]);
	assert_null(gate_config_rule_for(cfg, "refs/notes/commits"));
	gate_config_free(cfg);
}

static void test_policy__sources_point_at_lines(void **state)
{
	struct gate_config *cfg = unit_policy(sample);

	(void)state;
	assert_int_equal(cfg->rules[0].src.line, 2);
	assert_int_equal(cfg->rules[0].src_mode.line, 4);
	assert_int_equal(cfg->rules[0].src_force.line, 5);
	assert_int_equal(cfg->rules[0].src_update.line, 0); /* not set: a default */
	assert_int_equal(cfg->rules[1].src_update.line, 10);
	assert_int_equal(cfg->checks[0].src.line, 14);
	gate_config_free(cfg);
}

static void test_policy__every_problem_is_reported_at_once_with_its_line(void **state)
{
	char *errs = unit_policy_errors(
		"rules = (\n"
		"  { refs = [ \"main\" ]; mode = \"strict\"; foo = 1; checks = [ \"nope\" ]; },\n"
		"  { refs = \"refs/heads/x\"; allow_delete = \"no\"; }\n"
		");\n"
		"checks = {\n"
		"  a = { type = \"commit-message\"; require = \"([\"; bogus = 2; };\n"
		"  b = { type = \"zzz\"; };\n"
		"  c = { subject_max = 3; };\n"
		"};\n"
		"colour = \"blue\";\n");

	(void)state;
	assert_non_null(strstr(errs, "test.conf:2: 'refs': \"main\" is not a full ref name"));
	assert_non_null(strstr(errs, "test.conf:2: 'mode': unknown mode \"strict\""));
	assert_non_null(strstr(errs, "test.conf:2: unknown key 'foo' in rule"));
	assert_non_null(strstr(errs, "test.conf:2: 'checks': no check named 'nope'"));
	assert_non_null(strstr(errs, "test.conf:3: 'allow_delete' must be a boolean"));
	assert_non_null(strstr(errs, "test.conf:6: 'require': bad pattern \"([\""));
	assert_non_null(strstr(errs, "at offset 2"));
	assert_non_null(strstr(errs, "test.conf:6: unknown key 'bogus' in check 'a'"));
	assert_non_null(strstr(errs, "test.conf:7: check 'b': unknown type 'zzz'"));
	assert_non_null(strstr(errs, "test.conf:8: check 'c' has no 'type'"));
	assert_non_null(strstr(errs, "test.conf:10: unknown key 'colour' in the policy"));
	free(errs);
}

static void test_policy__keys_after_a_bad_one_are_still_known(void **state)
{
	/* a bad 'require' must not make the following keys look unknown */
	char *errs = unit_policy_errors("checks = { m = { type = \"commit-message\"; require = \"(\"; forbid = \"x\"; "
					"body_max = 80; require_trailers = [ \"Signed-off-by\" ]; }; };\n");

	(void)state;
	assert_non_null(strstr(errs, "'require': bad pattern"));
	assert_null(strstr(errs, "unknown key"));
	free(errs);
}

static void test_policy__syntax_errors_name_file_and_line(void **state)
{
	char *errs = unit_policy_errors("rules = (\n  { refs = [ \"refs/heads/main\" ] \n  mode = ; }\n);\n");

	(void)state;
	assert_non_null(strstr(errs, "test.conf:3:"));
	free(errs);
}

static void test_policy__wrong_container_types_are_reported(void **state)
{
	char *errs = unit_policy_errors("rules = { a = 1; };\nchecks = [ 1, 2 ];\n");

	(void)state;
	assert_non_null(strstr(errs, "'rules' must be a list"));
	assert_non_null(strstr(errs, "'checks' must be a group"));
	free(errs);
}

static void test_policy__default_protects_the_default_branch_only(void **state)
{
	struct gate_config *cfg = gate_policy_default("refs/heads/trunk");
	const struct gate_rule *r;

	(void)state;
	assert_true(cfg->is_default);
	r = gate_config_rule_for(cfg, "refs/heads/trunk");
	assert_non_null(r);
	assert_false(r->allow_force_push);
	assert_false(r->allow_delete);
	assert_true(r->allow_create);
	assert_true(r->allow_update);
	assert_int_equal(r->nchecks, 0);
	assert_null(gate_config_rule_for(cfg, "refs/heads/main"));
	assert_null(gate_config_rule_for(cfg, "refs/tags/v1"));
	gate_config_free(cfg);
}

static void test_policy__rule_runs_only_its_own_checks_and_not_when_off(void **state)
{
	struct gate_config *cfg = unit_policy(
		"rules = ( { refs = [ \"refs/heads/main\" ]; checks = [ \"a\" ]; },\n"
		"          { refs = [ \"refs/heads/off\" ]; mode = \"off\"; checks = [ \"a\", \"b\" ]; } );\n"
		"checks = { a = { type = \"commit-message\"; }; b = { type = \"commit-message\"; }; };\n");

	(void)state;
	assert_true(gate_rule_runs(&cfg->rules[0], &cfg->checks[0]));
	assert_false(gate_rule_runs(&cfg->rules[0], &cfg->checks[1]));
	assert_false(gate_rule_runs(&cfg->rules[1], &cfg->checks[0]));
	assert_false(gate_rule_runs(NULL, &cfg->checks[0]));
	gate_config_free(cfg);
}

static void test_policy__users_match_directly_or_through_groups(void **state)
{
	struct gate_config *cfg = unit_policy(
		"groups = { admins = [ \"alice\", \"bob\" ]; };\n"
		"rules = ( { refs = [ \"refs/heads/main\" ]; bypass_users = [ \"@admins\", \"carol\" ]; } );\n");

	(void)state;
	assert_true(gate_config_user_in(cfg, &cfg->rules[0].bypass_users, "alice"));
	assert_true(gate_config_user_in(cfg, &cfg->rules[0].bypass_users, "carol"));
	assert_false(gate_config_user_in(cfg, &cfg->rules[0].bypass_users, "mallory"));
	assert_false(gate_config_user_in(cfg, &cfg->rules[0].bypass_users, "admins"));
	assert_false(gate_config_user_in(cfg, &cfg->rules[0].bypass_users, NULL));
	gate_config_free(cfg);
}

static void test_policy__check_digest_changes_with_its_definition(void **state)
{
	struct gate_config *a = unit_policy("checks = { m = { type = \"commit-message\"; subject_max = 72; }; };\n");
	struct gate_config *b = unit_policy("checks = { m = { type = \"commit-message\"; subject_max = 50; }; };\n");
	struct gate_config *c = unit_policy("checks = { m = { type = \"commit-message\";\n subject_max = 72; }; };\n");

	(void)state;
	assert_string_not_equal(a->checks[0].digest, b->checks[0].digest);
	/* layout does not matter, meaning does */
	assert_string_equal(a->checks[0].digest, c->checks[0].digest);
	gate_config_free(a);
	gate_config_free(b);
	gate_config_free(c);
}

static void test_policy__problems_are_sorted_by_file_then_line(void **state)
{
	struct gate_diag d = GATE_DIAG_INIT;

	(void)state;
	gate_diag_addf(&d, "b.conf", 5, "five");
	gate_diag_addf(&d, "a.conf", 9, "nine");
	gate_diag_addf(&d, "b.conf", 2, "two");
	gate_diag_addf(&d, "refs/meta/gate:git-gate.conf", 3, "three");
	gate_diag_addf(&d, "b.conf", 0, "no line");
	gate_diag_addf(&d, "b.conf", 2, "two again");
	gate_diag_sort(&d);
	assert_int_equal(d.msgs.nr, 6);
	/* files in the order they first appear, lines in order, equal places kept in order */
	assert_string_equal(d.msgs.v[0], "b.conf: no line");
	assert_string_equal(d.msgs.v[1], "b.conf:2: two");
	assert_string_equal(d.msgs.v[2], "b.conf:2: two again");
	assert_string_equal(d.msgs.v[3], "b.conf:5: five");
	assert_string_equal(d.msgs.v[4], "a.conf:9: nine");
	assert_string_equal(d.msgs.v[5], "refs/meta/gate:git-gate.conf:3: three");
	gate_diag_release(&d);
}

static void test_policy__a_hint_is_kept_and_does_not_change_the_digest(void **state)
{
	struct gate_config *a = unit_policy("checks = { m = { type = \"commit-message\"; subject_max = 72; }; };\n");
	struct gate_config *b = unit_policy("checks = { m = { type = \"commit-message\"; subject_max = 72;\n"
					    "  hint = \"Start with the ticket, e.g. 'PAY-1: Fix'\"; }; };\n");

	(void)state;
	assert_null(a->checks[0].hint);
	assert_string_equal(b->checks[0].hint, "Start with the ticket, e.g. 'PAY-1: Fix'");
	/* words for the pusher do not change what the check means (nor its cached verdicts) */
	assert_string_equal(a->checks[0].digest, b->checks[0].digest);
	gate_config_free(a);
	gate_config_free(b);
}

static void test_policy__nul_bytes_in_strings_are_refused_with_their_line(void **state)
{
	static const char ok[] = "# a comment may say \\x00\n/* and \"\\x00\" here */\nrefs = \"a\\x0ab\\\\x00\";\n";
	static const char esc[] = "a = \"x\";\nb = \"refs/heads/ma\\x00in\";\n";
	static const char raw[] = "a = \"x\";\n\nb = \"ma\0in\";\n";
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;

	(void)state;
	assert_int_equal(gate_policy_text_check("t.conf", ok, sizeof(ok) - 1, &diag), 0);
	assert_int_equal(diag.msgs.nr, 0);
	assert_int_equal(gate_policy_text_check("t.conf", esc, sizeof(esc) - 1, &diag), 1);
	assert_string_equal(diag.msgs.v[0], "t.conf:2: a string holds a NUL byte (\\x00), which would cut it short");
	assert_int_equal(gate_policy_text_check("t.conf", raw, sizeof(raw) - 1, &diag), 1);
	assert_string_equal(diag.msgs.v[1], "t.conf:3: the policy holds a NUL byte (it is not a text file)");
	gate_diag_release(&diag);

	/* and a policy read from text (a ref) says so instead of loading */
	assert_true(gate_policy_load_string(&cfg, "audit_log = \"lo\\x00g\";\n", "ref:git-gate.conf", &diag) < 0);
	assert_null(cfg);
	assert_string_equal(diag.msgs.v[0], "ref:git-gate.conf:1: a string holds a NUL byte (\\x00), which would cut it short");
	gate_diag_release(&diag);
}

static void test_policy__missing_file_is_not_found(void **state)
{
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;

	(void)state;
	assert_int_equal(gate_policy_load_file(&cfg, "/nonexistent/git-gate.conf", &diag), GATE_ENOTFOUND);
	assert_null(cfg);
	gate_diag_release(&diag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy__issue_example_loads),
		cmocka_unit_test(test_policy__first_matching_rule_wins),
		cmocka_unit_test(test_policy__sources_point_at_lines),
		cmocka_unit_test(test_policy__every_problem_is_reported_at_once_with_its_line),
		cmocka_unit_test(test_policy__keys_after_a_bad_one_are_still_known),
		cmocka_unit_test(test_policy__syntax_errors_name_file_and_line),
		cmocka_unit_test(test_policy__wrong_container_types_are_reported),
		cmocka_unit_test(test_policy__default_protects_the_default_branch_only),
		cmocka_unit_test(test_policy__rule_runs_only_its_own_checks_and_not_when_off),
		cmocka_unit_test(test_policy__users_match_directly_or_through_groups),
		cmocka_unit_test(test_policy__check_digest_changes_with_its_definition),
		cmocka_unit_test(test_policy__a_hint_is_kept_and_does_not_change_the_digest),
		cmocka_unit_test(test_policy__problems_are_sorted_by_file_then_line),
		cmocka_unit_test(test_policy__nul_bytes_in_strings_are_refused_with_their_line),
		cmocka_unit_test(test_policy__missing_file_is_not_found),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
