#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "policy.h"
#include "repo.h"

#include "banned.h"

/* A repository's own folder (bare, or a work tree's top), not any folder inside one. */
static int is_repository(const char *path)
{
	struct stat st;
	char *p;
	int bare, top;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	p = gate_xstrfmt("%s/HEAD", path);
	bare = stat(p, &st) == 0 && S_ISREG(st.st_mode);
	free(p);
	p = gate_xstrfmt("%s/objects", path);
	bare = bare && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	free(p);
	p = gate_xstrfmt("%s/.git", path);
	top = stat(p, &st) == 0;
	free(p);
	return bare || top;
}

static const char usage[] =
	"usage: git gate validate [--repo DIR] [--layered | --meta] [FILE]\n"
	"\n"
	"Check a policy file and list every problem as FILE:LINE: message.\n"
	"Without FILE, or when FILE is a repository's folder: the policy that\n"
	"repository (the current one, DIR or FILE) would use: GIT_GATE_CONFIG\n"
	"alone, else the system file with the repository's policy layered over\n"
	"it.\n"
	"\n"
	"    --layered   FILE is a repository's git-gate.conf: check it layered\n"
	"                over the system file\n"
	"    --meta      FILE is the git-gate.conf to push to the policy ref\n"
	"                (meta_ref): the same, with that ref's restrictions\n"
	"\n"
	"A repository policy that tries to weaken a final rule of the system file\n"
	"is reported (FILE:LINE: ... weakens final rule at SYSFILE:LINE); such\n"
	"settings never take effect.\n"
	"Exit status: 0 valid, 1 invalid or weakening a final rule, 2 usage error.\n";

static int load_layered(struct gate_config **out, const char *file, int meta, struct gate_repo *repo,
			struct gate_diag *diag)
{
	struct gate_config *sys = NULL, *mine = NULL;
	struct gate_policy_load_opts o;
	const char *sys_file = gate_policy_system_file();
	int ret;

	memset(&o, 0, sizeof(o));
	o.git_dir = repo ? repo->git_dir : NULL;
	ret = gate_policy_load_file_opts(&sys, sys_file, &o, diag);
	if (ret == GATE_ENOTFOUND) {
		if (meta) {
			/* still worth checking: as a policy stored in a ref, alone */
			fprintf(stderr, "git-gate: note: there is no system file (%s), so no repository reads its "
					"policy from a ref yet; checking %s as a policy stored in a ref, on its own\n",
				sys_file, file);
			o.in_repository = 1;
			return gate_policy_load_file_opts(out, file, &o, diag);
		}
		sys = NULL;
	} else if (ret < 0) {
		return -1;
	} else {
		sys->system_file = gate_xstrdup(sys_file);
	}
	if (meta && !sys->meta_ref)
		fprintf(stderr, "git-gate: warning: %s sets no meta_ref: no repository reads its policy from a ref\n",
			sys_file);
	o.system = sys;
	o.in_repository = meta;
	o.allow_commands = meta && sys->meta_allow_commands;
	ret = gate_policy_load_file_opts(&mine, file, &o, diag);
	if (ret < 0) {
		gate_config_free(sys);
		return ret;
	}
	return gate_policy_layer(out, sys, mine, diag);
}

int cmd_validate(int argc, char **argv)
{
	const char *v;
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_repo *repo = NULL;
	struct gate_buf err = GATE_BUF_INIT;
	const char *file = NULL, *repo_path = NULL;
	int ret, i, layered = 0, meta = 0;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (cli_is_help(argv[i]))
			return cli_usage(usage, 0);
		if (!strcmp(argv[i], "--layered"))
			layered = 1;
		else if (!strcmp(argv[i], "--meta"))
			meta = layered = 1;
		else if ((v = cli_option(argc, argv, &i, "--repo")))
			repo_path = v;
		else if (argv[i][0] == '-' && argv[i][1])
			return cli_usage(usage, 1);
		else if (file)
			return cli_usage(usage, 1);
		else
			file = argv[i];
	}
	/* `git gate validate /srv/git/app.git`: the policy that repository would use */
	if (file && !repo_path && !layered && is_repository(file)) {
		repo_path = file;
		file = NULL;
	}
	if (layered && !file)
		return cli_usage(usage, 1);
	if ((gate_repo_open(&repo, repo_path, &err) < 0 && repo_path)) {
		fprintf(stderr, "git-gate: %s\n", err.ptr);
		ret = GATE_EXIT_USAGE;
		goto out;
	}
	if (file && layered) {
		ret = load_layered(&cfg, file, meta, repo, &diag);
	} else if (file) {
		ret = gate_policy_load_file(&cfg, file, &diag);
	} else {
		ret = gate_policy_find(&cfg, repo ? repo->git_dir : NULL, repo ? repo->default_branch : NULL, &diag);
	}
	if (ret == GATE_ENOTFOUND) {
		if (file)
			fprintf(stderr, "git-gate: %s: no such file\n", file);
		ret = GATE_EXIT_USAGE;
		goto out;
	}
	gate_diag_sort(&diag);
	cli_print_diag(&diag);
	if (ret < 0) {
		fprintf(stderr, "git-gate: %zu problem%s found; the policy is invalid\n", diag.msgs.nr,
			diag.msgs.nr == 1 ? "" : "s");
		ret = GATE_EXIT_REJECT;
		goto out;
	}
	for (k = 0; k < cfg->notes.nr; k++)
		fprintf(stderr, "note: %s\n", cfg->notes.v[k]);
	/* valid, in effect, and dangerous: said every time, not an error */
	for (k = 0; k < cfg->risks.nr; k++)
		fprintf(stderr, "warning: %s\n", cfg->risks.v[k]);
	for (k = 0; k < cfg->ignored.nr; k++)
		fprintf(stderr, "warning: %s\n", cfg->ignored.v[k]);
	{
		/* the weakening attempts in the same order as problems */
		struct gate_diag w = GATE_DIAG_INIT;
		w.msgs = cfg->warnings;
		gate_diag_sort(&w);
		cfg->warnings = w.msgs;
	}
	for (k = 0; k < cfg->warnings.nr; k++)
		fprintf(stderr, "%s\n", cfg->warnings.v[k]);
	if (cfg->warnings.nr) {
		fprintf(stderr,
			"git-gate: %zu setting%s of the repository's policy cannot take effect (a final rule of "
			"the system file or a server setting); %s ignored\n",
			cfg->warnings.nr, cfg->warnings.nr == 1 ? "" : "s", cfg->warnings.nr == 1 ? "it is" : "they are");
		ret = GATE_EXIT_REJECT;
		goto out;
	}
	printf("git-gate: %s: valid (%zu rule%s, %zu check%s)\n", cfg->file ? cfg->file : "built-in default policy",
	       cfg->layered ? cfg->nsystem_rules + cfg->nrepo_rules : cfg->nrules,
	       (cfg->layered ? cfg->nsystem_rules + cfg->nrepo_rules : cfg->nrules) == 1 ? "" : "s", cfg->nchecks,
	       cfg->nchecks == 1 ? "" : "s");
	ret = 0;
out:
	gate_config_free(cfg);
	gate_repo_free(repo);
	gate_diag_release(&diag);
	gate_buf_release(&err);
	return ret;
}
