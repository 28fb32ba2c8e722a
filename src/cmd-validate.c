#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "policy.h"
#include "repo.h"

#include "banned.h"

static const char usage[] =
	"usage: git gate validate [FILE]\n"
	"\n"
	"Check a policy file and list every problem as FILE:LINE: message.\n"
	"Without FILE: the policy the current repository would use\n"
	"(GIT_GATE_CONFIG, else $GIT_DIR/git-gate.conf, else the system file).\n"
	"Exit status: 0 valid, 1 invalid, 2 usage error.\n";

int cmd_validate(int argc, char **argv)
{
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_repo *repo = NULL;
	const char *file = NULL;
	int ret, i;

	for (i = 1; i < argc; i++) {
		if (cli_is_help(argv[i]))
			return cli_usage(usage, 0);
		if (argv[i][0] == '-' && argv[i][1])
			return cli_usage(usage, 1);
		if (file)
			return cli_usage(usage, 1);
		file = argv[i];
	}
	if (file) {
		ret = gate_policy_load_file(&cfg, file, &diag);
		if (ret == GATE_ENOTFOUND) {
			fprintf(stderr, "git-gate: %s: no such file\n", file);
			return GATE_EXIT_USAGE;
		}
	} else {
		struct gate_buf err = GATE_BUF_INIT;
		const char *dir = NULL;
		if (gate_repo_open(&repo, NULL, &err) == 0)
			dir = repo->git_dir;
		gate_buf_release(&err);
		ret = gate_policy_find(&cfg, dir, repo ? repo->default_branch : NULL, &diag);
	}
	for (i = 0; i < (int)diag.msgs.nr; i++)
		fprintf(stderr, "%s\n", diag.msgs.v[i]);
	if (ret < 0) {
		fprintf(stderr, "git-gate: %zu problem%s found; the policy is invalid\n", diag.msgs.nr,
			diag.msgs.nr == 1 ? "" : "s");
		ret = GATE_EXIT_REJECT;
	} else {
		printf("git-gate: %s: valid (%zu rule%s, %zu check%s)\n",
		       cfg->file ? cfg->file : "built-in default policy", cfg->nrules, cfg->nrules == 1 ? "" : "s",
		       cfg->nchecks, cfg->nchecks == 1 ? "" : "s");
		ret = 0;
	}
	gate_config_free(cfg);
	gate_repo_free(repo);
	gate_diag_release(&diag);
	return ret;
}
