#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "policy.h"
#include "repo.h"

#include "banned.h"

static const char usage[] =
	"usage: git gate explain [--repo DIR] REF\n"
	"\n"
	"Show the rule that applies to REF (e.g. refs/heads/main), every\n"
	"setting it has and where each is set (FILE:LINE, or the default).\n";

static void src_line(const struct gate_config *cfg, const struct gate_source *s)
{
	if (s->line > 0)
		printf("   (%s:%d)\n", s->file ? s->file : cfg->file, s->line);
	else if (cfg->is_default)
		printf("   (built-in default policy)\n");
	else
		printf("   (default)\n");
}

static void print_bool(const struct gate_config *cfg, const char *key, int v, const struct gate_source *s)
{
	printf("  %-18s %s", key, v ? "true" : "false");
	src_line(cfg, s);
}

int cmd_explain(int argc, char **argv)
{
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_repo *repo = NULL;
	struct gate_buf err = GATE_BUF_INIT;
	const char *repo_path = NULL, *ref = NULL;
	const struct gate_rule *r;
	int i, ret = GATE_EXIT_USAGE;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (cli_is_help(argv[i]))
			return cli_usage(usage, 0);
		if (!strcmp(argv[i], "--repo") && i + 1 < argc)
			repo_path = argv[++i];
		else if (!strncmp(argv[i], "--repo=", 7))
			repo_path = argv[i] + 7;
		else if (argv[i][0] == '-' || ref)
			return cli_usage(usage, 1);
		else
			ref = argv[i];
	}
	if (!ref)
		return cli_usage(usage, 1);
	if (gate_repo_open(&repo, repo_path, &err) < 0 && repo_path) {
		fprintf(stderr, "git-gate: %s\n", err.ptr);
		goto out;
	}
	if (strncmp(ref, "refs/", 5)) {
		fprintf(stderr, "git-gate: '%s' is not a full ref name; try refs/heads/%s\n", ref, ref);
		goto out;
	}
	if (gate_policy_find(&cfg, repo ? repo->git_dir : NULL, repo ? repo->default_branch : NULL, &diag) < 0) {
		for (k = 0; k < diag.msgs.nr; k++)
			fprintf(stderr, "%s\n", diag.msgs.v[k]);
		fprintf(stderr, "git-gate: the policy is invalid: every push is rejected until it is fixed\n");
		goto out;
	}
	printf("ref:     %s\n", ref);
	printf("policy:  %s\n", cfg->file ? cfg->file : "built-in default (no policy file found)");
	r = gate_config_rule_for(cfg, ref);
	if (!r) {
		printf("rule:    none matches: every update of %s is accepted without checks\n", ref);
		ret = 0;
		goto out;
	}
	printf("rule:    #%zu of %zu", (size_t)(r - cfg->rules) + 1, cfg->nrules);
	src_line(cfg, &r->src);
	printf("  %-18s", "refs");
	for (k = 0; k < r->refs.nr; k++)
		printf("%s\"%s\"", k ? ", " : " ", r->refs.v[k]);
	src_line(cfg, &r->src_refs);
	printf("  %-18s %s", "mode", gate_mode_name(r->mode));
	src_line(cfg, &r->src_mode);
	print_bool(cfg, "allow_create", r->allow_create, &r->src_create);
	print_bool(cfg, "allow_update", r->allow_update, &r->src_update);
	print_bool(cfg, "allow_force_push", r->allow_force_push, &r->src_force);
	print_bool(cfg, "allow_delete", r->allow_delete, &r->src_delete);
	printf("  %-18s", "checks");
	if (!r->nchecks)
		printf(" (none)");
	for (k = 0; k < r->nchecks; k++)
		printf("%s%s", k ? ", " : " ", r->checks[k]->name);
	src_line(cfg, &r->src_checks);
	for (k = 0; k < r->nchecks; k++) {
		const struct gate_check_def *d = r->checks[k];
		printf("    %-16s type %s", d->name, d->type->name);
		src_line(cfg, &d->src);
	}
	if (r->exempt_users.nr) {
		printf("  %-18s", "exempt_users");
		for (k = 0; k < r->exempt_users.nr; k++)
			printf("%s%s", k ? ", " : " ", r->exempt_users.v[k]);
		if (r->exempt_checks.nr) {
			printf(" from");
			for (k = 0; k < r->exempt_checks.nr; k++)
				printf("%s%s", k ? ", " : " ", r->exempt_checks.v[k]);
		}
		src_line(cfg, &r->src_exempt);
	}
	if (r->bypass_users.nr) {
		printf("  %-18s", "bypass_users");
		for (k = 0; k < r->bypass_users.nr; k++)
			printf("%s%s", k ? ", " : " ", r->bypass_users.v[k]);
		src_line(cfg, &r->src_bypass);
	}
	ret = 0;
out:
	gate_config_free(cfg);
	gate_repo_free(repo);
	gate_diag_release(&diag);
	gate_buf_release(&err);
	return ret;
}
