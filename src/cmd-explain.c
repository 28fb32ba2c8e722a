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
	"setting it has and where each is set (FILE:LINE, or the default).\n"
	"With a layered policy (system file and repository policy), a final\n"
	"system rule is shown combined with the repository's rule.\n";

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

static void print_at(const struct gate_config *cfg, const struct gate_source *s)
{
	if (s->line > 0)
		printf("%s:%d", s->file ? s->file : cfg->file, s->line);
	else
		printf("%s", s->file ? s->file : cfg->file ? cfg->file : "built-in default");
}

static const char *layer_name(const struct gate_rule *r)
{
	switch (r->layer) {
	case GATE_LAYER_SYSTEM:
		return "system file";
	case GATE_LAYER_REPO:
		return "repository";
	default:
		return NULL;
	}
}

/* Names from the policy, which may have been pushed to the policy ref: neutralised. */
static void put_safe(const char *before, const char *s, const char *after)
{
	struct gate_buf b = GATE_BUF_INIT;

	gate_buf_adds(&b, before);
	gate_buf_add_safes(&b, s);
	gate_buf_adds(&b, after);
	fputs(b.ptr, stdout);
	gate_buf_release(&b);
}

static void print_list(const struct gate_strvec *l)
{
	size_t k;

	for (k = 0; k < l->nr; k++)
		put_safe(k ? ", " : " ", l->v[k], "");
}


int cmd_explain(int argc, char **argv)
{
	const char *v;
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_repo *repo = NULL;
	struct gate_buf err = GATE_BUF_INIT;
	const char *repo_path = NULL, *ref = NULL;
	char *target = NULL;
	const struct gate_rule *r;
	int i, ret = GATE_EXIT_USAGE;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (cli_is_help(argv[i]))
			return cli_usage(usage, 0);
		if ((v = cli_option(argc, argv, &i, "--repo")))
			repo_path = v;
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
		fprintf(stderr, "git-gate: '%s' is not a full ref name; try %s%s\n", ref, gate_ref_suggestion_prefix(ref),
			ref + (ref[0] == '/'));
		goto out;
	}
	if (gate_policy_find(&cfg, repo ? repo->git_dir : NULL, repo ? repo->default_branch : NULL, &diag) < 0) {
		gate_diag_sort(&diag);
		cli_print_diag(&diag);
		fprintf(stderr, "git-gate: the policy is invalid: every push is rejected until it is fixed\n");
		goto out;
	}
	printf("ref:     %s\n", ref);
	if (repo) {
		/* a push to a symbolic ref moves its target: that ref's rule applies (git-gate(1)) */
		if (gate_repo_symref_target(repo, ref, &target, &err) < 0) {
			printf("symref:  pushes to it are refused: %s\n", err.ptr);
			ret = 0;
			goto out;
		}
		if (target) {
			printf("symref:  a symbolic ref to %s: a push to %s moves %s,\n"
			       "         so it is judged as a push to %s, by the rule below\n",
			       target, ref, target, target);
			ref = target;
		}
	}
	printf("policy:  %s\n", cfg->file ? cfg->file : "built-in default (no policy file found)");
	for (k = 0; k < cfg->ignored.nr; k++)
		put_safe("warning: ", cfg->ignored.v[k], "\n");
	r = gate_config_rule_for(cfg, ref);
	if (!r) {
		printf("rule:    none matches: every update of %s is accepted without checks\n", ref);
		ret = 0;
		goto out;
	}
	if (r->layer == GATE_LAYER_COMBINED) {
		printf("rule:    the system file's final rule (");
		print_at(cfg, &r->final_rule->src);
		printf(")\n         with the repository's rule (");
		print_at(cfg, &r->repo_rule->src);
		printf(") added to it:\n");
		printf("         settings can only get stricter; exemptions and bypass come from the final rule\n");
		printf("  %-18s", "refs");
		for (k = 0; k < r->final_rule->refs.nr; k++)
			put_safe(k ? ", \"" : " \"", r->final_rule->refs.v[k], "\"");
		src_line(cfg, &r->final_rule->src_refs);
		printf("  %-18s", "");
		for (k = 0; k < r->repo_rule->refs.nr; k++)
			put_safe(k ? ", \"" : " \"", r->repo_rule->refs.v[k], "\"");
		src_line(cfg, &r->repo_rule->src_refs);
	} else {
		if (cfg->layered)
			printf("rule:    #%zu of the %s's %zu", (size_t)(r - cfg->rules) + 1 -
			       (r->layer == GATE_LAYER_REPO ? cfg->nsystem_rules : 0), layer_name(r),
			       r->layer == GATE_LAYER_REPO ? cfg->nrepo_rules : cfg->nsystem_rules);
		else
			printf("rule:    #%zu of %zu", (size_t)(r - cfg->rules) + 1, cfg->nrules);
		src_line(cfg, &r->src);
		printf("  %-18s", "refs");
		for (k = 0; k < r->refs.nr; k++)
			put_safe(k ? ", \"" : " \"", r->refs.v[k], "\"");
		src_line(cfg, &r->src_refs);
	}
	if (r->final && r->layer != GATE_LAYER_REPO)
		print_bool(cfg, "final", 1, &r->src_final);
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
		put_safe(k ? ", " : " ", r->checks[k]->name, "");
	src_line(cfg, &r->src_checks);
	for (k = 0; k < r->nchecks; k++) {
		const struct gate_check_def *d = r->checks[k];
		put_safe("    ", d->name, "");
		printf("%*s type %s", strlen(d->name) < 16 ? (int)(16 - strlen(d->name)) : 0, "", d->type->name);
		src_line(cfg, &d->src);
		if (d->hint)
			put_safe("                     hint: ", d->hint, "\n");
	}
	if (r->exempt_users.nr) {
		printf("  %-18s", "exempt_users");
		print_list(&r->exempt_users);
		printf(r->exempt_checks.nr ? "" : " (from the whole rule)");
		src_line(cfg, &r->src_exempt);
		if (r->exempt_checks.nr) {
			printf("  %-18s", "exempt_checks");
			print_list(&r->exempt_checks);
			src_line(cfg, &r->src_exempt_checks);
		}
	}
	if (r->bypass_users.nr) {
		printf("  %-18s", "bypass_users");
		print_list(&r->bypass_users);
		src_line(cfg, &r->src_bypass);
	}
	if (r->run_expensive_after_reject) {
		/* set on this rule: command checks of the whole push run even after a rejection */
		printf("  %-18s true", "run_commands_after_reject");
		src_line(cfg, &r->src);
	}
	if (r->queue) {
		printf("  %-18s true (push to refs/for/<branch>; strategy %s, batches of up to %ld%s)\n", "queue",
		       gate_queue_strategy_name(r->queue_strategy), r->queue_batch,
		       r->direct_push ? ", direct pushes allowed" : ", direct pushes refused");
	}
	if (cfg->meta_ref) {
		printf("policy ref: %s, changed only by", cfg->meta_ref);
		print_list(&cfg->meta_users);
		printf(" (%s)\n", cfg->system_file ? cfg->system_file : cfg->file);
	}
	for (k = 0; k < cfg->warnings.nr; k++)
		put_safe("warning: ", cfg->warnings.v[k], "\n");
	for (k = 0; k < cfg->risks.nr; k++)
		put_safe("warning: ", cfg->risks.v[k], "\n");
	for (k = 0; k < cfg->notes.nr; k++)
		put_safe("note: ", cfg->notes.v[k], "\n");
	ret = 0;
out:
	free(target);
	gate_config_free(cfg);
	gate_repo_free(repo);
	gate_diag_release(&diag);
	gate_buf_release(&err);
	return ret;
}
