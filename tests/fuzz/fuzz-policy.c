/*
 * Fuzz the policy loader (src/policy.c) and the layering of a
 * repository's policy over the system's (src/policy-layer.c).
 *
 * Input: a repository policy, layered over a fixed system policy whose
 * rule for main and release branches is final.  An input holding a line
 * "#----" is SYSTEM #---- REPOSITORY instead (both from the input), and
 * one holding "#----meta" is loaded as the policy of refs/meta/gate (no
 * @include, no server settings, command checks allowed).  Files are never
 * read: a text with "@include" is loaded the way refs/meta/gate is, which
 * refuses it.
 *
 * Invariants: a load either gives a config or says why; with the fixed
 * system policy, no repository policy makes main or a release branch
 * deletable, force-pushable, less than enforced, exempt for or bypassable
 * by someone the system did not name, or drops the system's check.
 */
#include "fuzz.h"

#include "diag.h"
#include "policy.h"

#include "banned.h"

static const char system_text[] =
	"groups = { oncall = [ \"alice\" ]; bots = [ \"release-bot\" ]; };\n"
	"rules = (\n"
	"  { refs = [ \"refs/heads/main\", \"refs/heads/release/*\" ]; final = true;\n"
	"    allow_force_push = false; allow_delete = false;\n"
	"    checks = [ \"server-msg\" ]; bypass_users = [ \"@oncall\" ];\n"
	"    exempt_users = [ \"@bots\" ]; exempt_checks = [ \"server-msg\" ]; },\n"
	"  { refs = [ \"refs/tags/v*\" ]; final = true; allow_update = false; allow_delete = false; },\n"
	"  { refs = [ \"refs/heads/**\" ]; mode = \"warn\"; checks = [ \"server-msg\" ]; }\n"
	");\n"
	"checks = { server-msg = { type = \"commit-message\"; subject_max = 72; }; };\n";

static const char *const refs[] = {
	"refs/heads/main", "refs/heads/release/1.0", "refs/heads/feature/x", "refs/tags/v1.0",
	"refs/tags/other", "refs/meta/gate",         "refs/notes/ci",        "refs/heads/mainline",
};

static struct gate_config *load(const char *text, const char *name, const struct gate_config *sys, int meta,
				struct gate_diag *diag)
{
	struct gate_policy_load_opts o;
	struct gate_config *cfg = NULL;
	int ret;

	memset(&o, 0, sizeof(o));
	o.system = sys;
	o.in_repository = meta || strstr(text, "include") != NULL;
	o.allow_commands = meta;
	ret = gate_policy_load_string_opts(&cfg, text, name, &o, diag);
	if (ret < 0) {
		FUZZ_ASSERT(!cfg);
		FUZZ_ASSERT(diag->msgs.nr > 0);
	} else {
		FUZZ_ASSERT(cfg);
	}
	return cfg;
}

static int runs_named(const struct gate_rule *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nchecks; i++)
		if (!strcmp(r->checks[i]->name, name) && !strcmp(r->checks[i]->type->name, "commit-message"))
			return 1;
	return 0;
}

/* The fixed system policy's final rules hold whatever the repository says. */
static void check_final(const struct gate_config *m)
{
	static const char *const protected[] = { "refs/heads/main", "refs/heads/release/1.0" };
	size_t i;

	for (i = 0; i < GATE_ARRAY_SIZE(protected); i++) {
		const struct gate_rule *r = gate_config_rule_for(m, protected[i]);

		FUZZ_ASSERT(r);
		FUZZ_ASSERT(r->mode == GATE_MODE_ENFORCE);
		FUZZ_ASSERT(!r->allow_force_push && !r->allow_delete);
		FUZZ_ASSERT(runs_named(r, "server-msg"));
		FUZZ_ASSERT(!gate_rule_exempts(m, r, "mallory", NULL));
		FUZZ_ASSERT(!gate_config_user_in(m, &r->bypass_users, "mallory"));
		FUZZ_ASSERT(gate_rule_exempts(m, r, "release-bot", r->checks[0]));
		FUZZ_ASSERT(gate_config_user_in(m, &r->bypass_users, "alice"));
	}
	{
		const struct gate_rule *t = gate_config_rule_for(m, "refs/tags/v1.0");
		FUZZ_ASSERT(t && !t->allow_update && !t->allow_delete);
	}
}

static void walk(const struct gate_config *m)
{
	size_t i, k;

	for (i = 0; i < GATE_ARRAY_SIZE(refs); i++) {
		const struct gate_rule *r = gate_config_rule_for(m, refs[i]);
		if (!r)
			continue;
		for (k = 0; k < r->nchecks; k++) {
			FUZZ_ASSERT(r->checks[k] && r->checks[k]->name && r->checks[k]->type);
			FUZZ_ASSERT(gate_rule_runs(r, r->checks[k]) == (r->mode != GATE_MODE_OFF));
			(void)gate_rule_exempts(m, r, "bob", r->checks[k]);
		}
		(void)gate_rule_exempts(m, r, "bob", NULL);
		(void)gate_config_user_in(m, &r->bypass_users, "bob");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_buf text = GATE_BUF_INIT, msgs = GATE_BUF_INIT;
	struct gate_config *sys = NULL, *repo = NULL, *m = NULL;
	const char *sep, *sys_text = system_text, *repo_text;
	int meta = 0, fixed_system = 1;

	/* a policy is text: the loader refuses a NUL (the file reader would) */
	gate_buf_add(&text, data, size);
	repo_text = gate_buf_cstr(&text);
	if ((sep = strstr(repo_text, "#----"))) {
		meta = !strncmp(sep, "#----meta", 9);
		if (sep > repo_text) {
			/* SYSTEM #---- REPOSITORY */
			text.ptr[sep - repo_text] = '\0';
			sys_text = repo_text;
			fixed_system = 0;
		}
		repo_text = sep + 5;
	}

	sys = load(sys_text, "system.conf", NULL, 0, &diag);
	FUZZ_ASSERT(sys || !fixed_system);
	repo = load(repo_text, meta ? "refs/meta/gate:git-gate.conf" : "git-gate.conf", sys, meta, &diag);
	if (sys || repo) {
		if (gate_policy_layer(&m, sys, repo, &diag) == 0) {
			FUZZ_ASSERT(m);
			walk(m);
			if (fixed_system)
				check_final(m);
			gate_config_free(m);
		}
	}
	gate_diag_format(&diag, &msgs);
	gate_diag_release(&diag);
	gate_buf_release(&msgs);
	gate_buf_release(&text);
	return 0;
}
