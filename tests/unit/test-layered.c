/* Layered policy: the system file and the repository's policy together. */
#include "unit.h"

#include "check.h"

static const char sys_text[] =
	"groups = { admins = [ \"alice\" ]; };\n"                               /* 1 */
	"rules = (\n"                                                            /* 2 */
	"  { refs = [ \"refs/heads/main\" ]; final = true;\n"                   /* 3 */
	"    allow_force_push = false; allow_delete = false;\n"                 /* 4 */
	"    checks = [ \"msg\" ]; bypass_users = [ \"@admins\" ];\n"           /* 5 */
	"    exempt_users = [ \"bot\" ]; exempt_checks = [ \"msg\" ]; },\n"     /* 6 */
	"  { refs = [ \"refs/heads/**\" ]; mode = \"warn\"; checks = [ \"msg\" ]; },\n" /* 7 */
	"  { refs = [ \"refs/tags/*\" ]; allow_update = false; }\n"             /* 8 */
	");\n"                                                                   /* 9 */
	"checks = { msg = { type = \"commit-message\"; subject_max = 50; }; };\n"; /* 10 */

static struct gate_config *load(const char *text, const char *name, const struct gate_config *sys,
				int in_repository)
{
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_buf msgs = GATE_BUF_INIT;
	struct gate_policy_load_opts o;

	memset(&o, 0, sizeof(o));
	o.system = sys;
	o.in_repository = in_repository;
	if (gate_policy_load_string_opts(&cfg, text, name, &o, &diag) < 0) {
		gate_diag_format(&diag, &msgs);
		print_error("%s", msgs.ptr);
		fail_msg("policy %s did not load", name);
	}
	gate_diag_release(&diag);
	gate_buf_release(&msgs);
	return cfg;
}

static char *load_errors(const char *text, const char *name, const struct gate_config *sys, int in_repository)
{
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_buf msgs = GATE_BUF_INIT;
	struct gate_policy_load_opts o;

	memset(&o, 0, sizeof(o));
	o.system = sys;
	o.in_repository = in_repository;
	assert_int_equal(gate_policy_load_string_opts(&cfg, text, name, &o, &diag), -1);
	assert_null(cfg);
	gate_diag_format(&diag, &msgs);
	gate_diag_release(&diag);
	return gate_buf_detach(&msgs);
}

static struct gate_config *layered(const char *repo_text)
{
	struct gate_config *sys = load(sys_text, "sys.conf", NULL, 0), *repo, *m = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;

	repo = load(repo_text, "repo.conf", sys, 0);
	assert_int_equal(gate_policy_layer(&m, sys, repo, &diag), 0);
	assert_non_null(m);
	gate_diag_release(&diag);
	return m;
}

static int has_check(const struct gate_rule *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nchecks; i++)
		if (!strcmp(r->checks[i]->name, name))
			return 1;
	return 0;
}

static int warned(const struct gate_config *cfg, const char *needle)
{
	size_t i;

	for (i = 0; i < cfg->warnings.nr; i++)
		if (strstr(cfg->warnings.v[i], needle))
			return 1;
	return 0;
}

static void test_layered__repository_cannot_weaken_a_final_rule(void **state)
{
	struct gate_config *m = layered("rules = (\n"
					"  { refs = [ \"refs/heads/*\" ];\n"
					"    allow_force_push = true; allow_delete = true;\n"
					"    mode = \"off\"; }\n"
					");\n");
	const struct gate_rule *r = gate_config_rule_for(m, "refs/heads/main");

	(void)state;
	assert_non_null(r);
	assert_int_equal(r->layer, GATE_LAYER_COMBINED);
	assert_false(r->allow_force_push);
	assert_false(r->allow_delete);
	assert_int_equal(r->mode, GATE_MODE_ENFORCE);
	assert_true(has_check(r, "msg"));
	/* each effective setting says where it comes from */
	assert_string_equal(r->src_force.file, "sys.conf");
	assert_int_equal(r->src_force.line, 4);
	/* and the attempts are reported with both places */
	assert_true(warned(m, "repo.conf:3: 'allow_force_push = true' weakens final rule at sys.conf:3"));
	assert_true(warned(m, "repo.conf:3: 'allow_delete = true' weakens final rule at sys.conf:3"));
	assert_true(warned(m, "repo.conf:4: 'mode = \"off\"' weakens final rule at sys.conf:3"));
	gate_config_free(m);
}

static void test_layered__a_rule_earlier_rules_shadow_does_not_weaken(void **state)
{
	struct gate_config *m = layered("rules = (\n"
					"  { refs = [ \"refs/heads/main\" ]; },\n"
					"  { refs = [ \"refs/heads/**\" ]; mode = \"warn\"; allow_force_push = true; }\n"
					");\n");
	struct gate_config *m2 = layered("rules = (\n"
					 "  { refs = [ \"refs/heads/**\" ]; },\n"
					 "  { refs = [ \"refs/heads/main\" ]; mode = \"off\"; }\n"
					 ");\n");
	struct gate_config *m3 = layered("rules = (\n"
					 "  { refs = [ \"refs/heads/main/*\" ]; },\n"
					 "  { refs = [ \"refs/heads/**\" ]; mode = \"off\"; }\n"
					 ");\n");

	(void)state;
	/* main is the first rule's: the warn rule never applies to it */
	assert_false(warned(m, "weakens"));
	assert_int_equal(gate_config_rule_for(m, "refs/heads/main")->mode, GATE_MODE_ENFORCE);
	/* the all-branches rule takes main first: the later rule never applies either */
	assert_false(warned(m2, "weakens"));
	/* an earlier rule that does not take main itself hides nothing */
	assert_true(warned(m3, "repo.conf:3: 'mode = \"off\"' weakens final rule at sys.conf:3"));
	gate_config_free(m);
	gate_config_free(m2);
	gate_config_free(m3);
}

static void test_layered__repository_rule_adds_checks_and_strictness(void **state)
{
	struct gate_config *m = layered("rules = ( { refs = [ \"refs/heads/main\" ]; allow_create = false;\n"
					"  run_commands_after_reject = true; checks = [ \"lint\" ]; } );\n"
					"checks = { lint = { type = \"commit-message\"; forbid = \"^WIP\"; }; };\n");
	const struct gate_rule *r = gate_config_rule_for(m, "refs/heads/main");

	(void)state;
	assert_int_equal(r->layer, GATE_LAYER_COMBINED);
	assert_int_equal(r->nchecks, 2);
	assert_string_equal(r->checks[0]->name, "msg");
	assert_string_equal(r->checks[1]->name, "lint");
	assert_false(r->allow_create);
	assert_string_equal(r->src_create.file, "repo.conf");
	assert_int_equal(r->src_create.line, 1);
	assert_true(r->run_expensive_after_reject);
	/* every check points into the one array the scan indexes */
	assert_true(r->checks[0] >= m->checks && r->checks[0] < m->checks + m->nchecks);
	assert_true(r->checks[1] >= m->checks && r->checks[1] < m->checks + m->nchecks);
	assert_int_equal(m->warnings.nr, 0);
	gate_config_free(m);
}

static void test_layered__stricter_mode_wins_either_way(void **state)
{
	struct gate_config *m = layered("rules = ( { refs = [ \"refs/heads/main\" ]; mode = \"warn\"; } );\n");
	const struct gate_rule *r = gate_config_rule_for(m, "refs/heads/main");

	(void)state;
	assert_int_equal(r->mode, GATE_MODE_ENFORCE);
	gate_config_free(m);

	/* a final rule in warn mode can be made enforcing by the repository */
	{
		struct gate_config *sys = load("rules = ( { refs = [ \"refs/heads/main\" ]; final = true; "
					       "mode = \"warn\"; } );\n",
					       "sys.conf", NULL, 0);
		struct gate_config *repo = load("rules = ( { refs = [ \"refs/heads/main\" ]; mode = \"enforce\"; } );\n",
						"repo.conf", sys, 0);
		struct gate_diag diag = GATE_DIAG_INIT;
		assert_int_equal(gate_policy_layer(&m, sys, repo, &diag), 0);
		r = gate_config_rule_for(m, "refs/heads/main");
		assert_int_equal(r->mode, GATE_MODE_ENFORCE);
		assert_string_equal(r->src_mode.file, "repo.conf");
		assert_int_equal(m->warnings.nr, 0);
		gate_config_free(m);
		gate_diag_release(&diag);
	}
}

static void test_layered__exemptions_and_bypass_come_from_the_final_rule_only(void **state)
{
	struct gate_config *m = layered("rules = ( { refs = [ \"refs/heads/main\" ];\n"
					"  exempt_users = [ \"mallory\" ];\n"
					"  bypass_users = [ \"mallory\" ]; } );\n");
	const struct gate_rule *r = gate_config_rule_for(m, "refs/heads/main");
	const struct gate_check_def *msg = r->checks[0];

	(void)state;
	assert_false(gate_config_user_in(m, &r->bypass_users, "mallory"));
	assert_true(gate_config_user_in(m, &r->bypass_users, "alice"));
	assert_false(gate_rule_exempts(m, r, "mallory", NULL));
	assert_false(gate_rule_exempts(m, r, "mallory", msg));
	/* the final rule's own exemption still works, for its named check only */
	assert_true(gate_rule_exempts(m, r, "bot", msg));
	assert_false(gate_rule_exempts(m, r, "bot", NULL));
	assert_true(warned(m, "repo.conf:2: 'exempt_users' weakens final rule at sys.conf:3"));
	assert_true(warned(m, "repo.conf:3: 'bypass_users' weakens final rule at sys.conf:3"));
	gate_config_free(m);
}

static void test_layered__non_final_system_rules_are_defaults(void **state)
{
	struct gate_config *m = layered("rules = ( { refs = [ \"refs/heads/feature/*\" ]; allow_force_push = true; } );\n");
	const struct gate_rule *r;

	(void)state;
	/* the repository's rule wins where it matches (the system rule there is not final) */
	r = gate_config_rule_for(m, "refs/heads/feature/x");
	assert_int_equal(r->layer, GATE_LAYER_REPO);
	assert_int_equal(r->nchecks, 0);
	/* the system's rules cover the rest */
	r = gate_config_rule_for(m, "refs/heads/other");
	assert_int_equal(r->layer, GATE_LAYER_SYSTEM);
	assert_int_equal(r->mode, GATE_MODE_WARN);
	r = gate_config_rule_for(m, "refs/tags/v1");
	assert_false(r->allow_update);
	/* a final rule no repository rule matches applies alone */
	r = gate_config_rule_for(m, "refs/heads/main");
	assert_int_equal(r->layer, GATE_LAYER_SYSTEM);
	assert_true(r->final);
	assert_null(gate_config_rule_for(m, "refs/notes/x"));
	/* not overlapping: nothing to report */
	assert_int_equal(m->warnings.nr, 0);
	gate_config_free(m);
}

static void test_layered__a_clashing_check_name_is_namespaced(void **state)
{
	struct gate_config *m = layered("rules = ( { refs = [ \"refs/heads/dev\" ]; checks = [ \"msg\" ];\n"
					"  exempt_users = [ \"bot\" ]; exempt_checks = [ \"msg\" ]; } );\n"
					"checks = { msg = { type = \"commit-message\"; subject_max = 72; }; };\n");
	const struct gate_rule *r = gate_config_rule_for(m, "refs/heads/dev");

	(void)state;
	assert_int_equal(m->nchecks, 2);
	assert_string_equal(m->checks[0].name, "msg");
	assert_string_equal(m->checks[1].name, "repo:msg");
	assert_string_equal(r->checks[0]->name, "repo:msg");
	/* the repository's own exemption follows its renamed check */
	assert_true(gate_rule_exempts(m, r, "bot", r->checks[0]));
	assert_false(gate_rule_exempts(m, r, "bot", &m->checks[0]));
	assert_int_equal(m->notes.nr, 1);
	assert_non_null(strstr(m->notes.v[0], "repo.conf:3: check 'msg' is also defined by the system file (sys.conf:10)"));
	gate_config_free(m);
}

static void test_layered__groups_of_the_system_file_cannot_be_redefined(void **state)
{
	struct gate_config *m = layered("groups = { admins = [ \"mallory\" ]; devs = [ \"dave\" ]; };\n"
					"rules = ( { refs = [ \"refs/heads/dev\" ]; bypass_users = [ \"@admins\", \"@devs\" ]; } );\n");
	const struct gate_rule *main_rule = gate_config_rule_for(m, "refs/heads/main");
	const struct gate_rule *dev = gate_config_rule_for(m, "refs/heads/dev");

	(void)state;
	assert_false(gate_config_user_in(m, &main_rule->bypass_users, "mallory"));
	assert_true(gate_config_user_in(m, &main_rule->bypass_users, "alice"));
	assert_true(gate_config_user_in(m, &dev->bypass_users, "dave"));
	assert_true(gate_config_user_in(m, &dev->bypass_users, "alice"));
	assert_true(warned(m, "group 'admins' is defined by the system file"));
	gate_config_free(m);
}

static void test_layered__undefined_groups_are_errors(void **state)
{
	char *errs = load_errors("rules = ( { refs = [ \"refs/heads/main\" ];\n"
				 "  bypass_users = [ \"@admnis\" ]; exempt_users = [ \"@\" ]; } );\n",
				 "test.conf", NULL, 0);
	struct gate_config *sys;

	(void)state;
	assert_non_null(strstr(errs, "test.conf:2: 'bypass_users': no group 'admnis' is defined"));
	assert_non_null(strstr(errs, "'exempt_users': '@' must be followed by a group name"));
	free(errs);
	/* a repository's policy may name the system file's groups */
	sys = load(sys_text, "sys.conf", NULL, 0);
	gate_config_free(load("rules = ( { refs = [ \"refs/heads/x\" ]; bypass_users = [ \"@admins\" ]; } );\n",
			      "repo.conf", sys, 0));
	gate_config_free(sys);
}

static void test_layered__a_policy_in_the_repository_cannot_steer_the_server(void **state)
{
	char *errs = load_errors("audit_log = \"/home/git/.ssh/authorized_keys\";\n"
				 "meta_users = [ \"me\" ];\n"
				 "workspace = \"/\";\n"
				 "rules = ( { refs = [ \"refs/heads/main\" ]; } );\n",
				 "refs/meta/gate:git-gate.conf", NULL, 1);

	(void)state;
	assert_non_null(strstr(errs, "refs/meta/gate:git-gate.conf:1: 'audit_log': is a server setting"));
	assert_non_null(strstr(errs, "refs/meta/gate:git-gate.conf:2: 'meta_users': is a server setting"));
	assert_non_null(strstr(errs, "refs/meta/gate:git-gate.conf:3: 'workspace': is a server setting"));
	free(errs);
	errs = load_errors("rules = ( { refs = [ \"refs/heads/main\" ]; } );\n  @include \"/etc/passwd\"\n",
			   "refs/meta/gate:git-gate.conf", NULL, 1);
	assert_non_null(strstr(errs, "refs/meta/gate:git-gate.conf:2: @include is not allowed"));
	free(errs);
	if (gate_check_type_find("command")) {
		errs = load_errors("checks = { run = { type = \"command\"; run = \"true\"; }; };\n",
				   "refs/meta/gate:git-gate.conf", NULL, 1);
		assert_non_null(strstr(errs, "check 'run': checks of type command run programs on the server"));
		free(errs);
	}
}

static void test_layered__meta_ref_needs_users_and_a_valid_name(void **state)
{
	char *errs = load_errors("meta_ref = \"refs/meta/gate\";\n", "sys.conf", NULL, 0);

	(void)state;
	assert_non_null(strstr(errs, "sys.conf:1: 'meta_ref': needs 'meta_users'"));
	free(errs);
	errs = load_errors("meta_ref = \"meta gate\"; meta_users = [ \"@nobody\" ];\n", "sys.conf", NULL, 0);
	assert_non_null(strstr(errs, "sys.conf:1: 'meta_ref': \"meta gate\" is not a full ref name"));
	assert_non_null(strstr(errs, "'meta_users': no group 'nobody' is defined"));
	free(errs);
	/* a short name would be found as refs/heads/NAME by DWIM: refused, with the full name to write */
	errs = load_errors("meta_ref = \"meta/gate\"; meta_users = [ \"x\" ];\n", "sys.conf", NULL, 0);
	assert_non_null(strstr(errs, "sys.conf:1: 'meta_ref': \"meta/gate\" is not a full ref name: git-gate looks "
				     "the ref up by exactly this name, never as refs/heads/NAME or refs/tags/NAME; "
				     "write \"refs/meta/gate\""));
	free(errs);
	errs = load_errors("meta_ref = \"gate\"; meta_users = [ \"x\" ];\n", "sys.conf", NULL, 0);
	assert_non_null(strstr(errs, "write \"refs/meta/gate\""));
	free(errs);
	errs = load_errors("audit_log = \"\";\n", "sys.conf", NULL, 0);
	assert_non_null(strstr(errs, "write \"off\" to turn the audit log off"));
	free(errs);
}

static void test_layered__one_layer_alone_is_unchanged(void **state)
{
	struct gate_config *sys = load(sys_text, "sys.conf", NULL, 0), *m = NULL;
	struct gate_config *repo = load("meta_ref = \"refs/meta/gate\"; meta_users = [ \"x\" ];\n"
					"rules = ( { refs = [ \"refs/heads/*\" ]; allow_force_push = true; } );\n",
					"repo.conf", NULL, 0);
	struct gate_diag diag = GATE_DIAG_INIT;

	(void)state;
	assert_int_equal(gate_policy_layer(&m, sys, NULL, &diag), 0);
	assert_ptr_equal(m, sys);
	assert_false(m->layered);
	assert_true(gate_config_rule_for(m, "refs/heads/main")->final);
	gate_config_free(m);
	assert_int_equal(gate_policy_layer(&m, NULL, repo, &diag), 0);
	assert_ptr_equal(m, repo);
	assert_true(gate_config_rule_for(m, "refs/heads/main")->allow_force_push);
	/* a repository file cannot turn the policy ref on */
	assert_null(m->meta_ref);
	assert_true(warned(m, "honoured only in the system file"));
	gate_config_free(m);
	gate_diag_release(&diag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layered__repository_cannot_weaken_a_final_rule),
		cmocka_unit_test(test_layered__a_rule_earlier_rules_shadow_does_not_weaken),
		cmocka_unit_test(test_layered__repository_rule_adds_checks_and_strictness),
		cmocka_unit_test(test_layered__stricter_mode_wins_either_way),
		cmocka_unit_test(test_layered__exemptions_and_bypass_come_from_the_final_rule_only),
		cmocka_unit_test(test_layered__non_final_system_rules_are_defaults),
		cmocka_unit_test(test_layered__a_clashing_check_name_is_namespaced),
		cmocka_unit_test(test_layered__groups_of_the_system_file_cannot_be_redefined),
		cmocka_unit_test(test_layered__undefined_groups_are_errors),
		cmocka_unit_test(test_layered__a_policy_in_the_repository_cannot_steer_the_server),
		cmocka_unit_test(test_layered__meta_ref_needs_users_and_a_valid_name),
		cmocka_unit_test(test_layered__one_layer_alone_is_unchanged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
