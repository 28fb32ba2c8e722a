#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "push.h"
#include "policy.h"
#include "repo.h"
#include "status.h"

#include "banned.h"

static const char usage[] =
	"usage: git gate status [--repo DIR] [--json | --html DIR] [-n N] [REF]\n"
	"\n"
	"Show what the gate decided: each protected ref's tip, last verdict, when\n"
	"and who; the last N decisions; pushes, rejection rate, top rejection\n"
	"reasons and time in the gate over the last 7 and 30 days; flaky trees\n"
	"(one tree that both passed and failed a command check); and the merge\n"
	"queue: what waits and what it decided lately.  Read from the audit log\n"
	"through the status summary (GIT_DIR/git-gate/status-summary) and the\n"
	"queue's items (GIT_DIR/git-gate/queue).\n"
	"\n"
	"    --repo DIR    the repository (default: the one you are in)\n"
	"    --json        the same as one JSON document, for scripts\n"
	"    --html DIR    write the status site into DIR: index.html, badge.svg,\n"
	"                  badge.json and metrics.prom\n"
	"    -n N          list the last N decisions (default 10, at most 50)\n"
	"    --color WHEN  always, never or auto (default: on a terminal, unless\n"
	"                  NO_COLOR is set)\n"
	"    REF           only this ref (refs/heads/NAME, or NAME for a branch)\n";

int cmd_status(int argc, char **argv)
{
	const char *v;
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_repo *repo = NULL;
	struct gate_buf err = GATE_BUF_INIT, out = GATE_BUF_INIT;
	struct gate_status st = GATE_STATUS_INIT;
	const char *repo_path = NULL, *ref = NULL, *html = NULL, *color_when = "auto";
	char *full_ref = NULL;
	long n = 10;
	int i, json = 0, color, ret = GATE_EXIT_USAGE;
	size_t k;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a))
			return cli_usage(usage, 0);
		if ((v = cli_option(argc, argv, &i, "--repo")))
			repo_path = v;
		else if (!strcmp(a, "--json"))
			json = 1;
		else if ((v = cli_option(argc, argv, &i, "--html")))
			html = v;
		else if ((v = cli_option(argc, argv, &i, "--color")))
			color_when = v;
		else if (!strcmp(a, "--no-color"))
			color_when = "never";
		else if ((!strcmp(a, "-n") || !strcmp(a, "--count")) && i + 1 < argc) {
			char *end;
			n = strtol(argv[++i], &end, 10);
			if (*end || n < 0 || n > 50) {
				fprintf(stderr, "git-gate: -n takes a number from 0 to 50\n");
				return GATE_EXIT_USAGE;
			}
		} else if (a[0] == '-' || ref)
			return cli_usage(usage, 1);
		else
			ref = a;
	}
	if ((json && html) || (strcmp(color_when, "auto") && strcmp(color_when, "always") && strcmp(color_when, "never")))
		return cli_usage(usage, 1);
	if (html && !*html) {
		fprintf(stderr, "git-gate: --html needs a directory\n");
		return GATE_EXIT_USAGE;
	}
	if (gate_repo_open(&repo, repo_path, &err) < 0) {
		fprintf(stderr, "git-gate: %s\n", err.ptr);
		goto out;
	}
	if (ref) {
		full_ref = strncmp(ref, "refs/", 5) ? gate_xstrfmt("refs/heads/%s", ref) : gate_xstrdup(ref);
		if (!gate_ref_name_valid(full_ref)) {
			fprintf(stderr, "git-gate: '%s' is not a valid ref name\n", ref);
			goto out;
		}
	}
	if (gate_policy_find(&cfg, repo->git_dir, repo->default_branch, &diag) < 0) {
		for (k = 0; k < diag.msgs.nr; k++)
			fprintf(stderr, "%s\n", diag.msgs.v[k]);
		fprintf(stderr, "git-gate: warning: the policy is invalid (every push is rejected until it is "
				"fixed); showing the status with the default audit log location\n");
		cfg = gate_policy_default(repo->default_branch);
	}
	if (gate_status_collect(&st, repo, cfg, full_ref, &err) < 0) {
		fprintf(stderr, "git-gate: %s\n", err.ptr);
		ret = GATE_EXIT_INTERNAL;
		goto out;
	}
	if (html) {
		if (gate_status_write_site(&st, html, &err) < 0) {
			fprintf(stderr, "git-gate: %s\n", err.ptr);
			ret = GATE_EXIT_INTERNAL;
			goto out;
		}
		printf("git-gate: wrote the status site to %s (index.html, badge.svg, badge.json, metrics.prom)\n",
		       html);
		ret = 0;
		goto out;
	}
	color = !strcmp(color_when, "always") ||
		(!strcmp(color_when, "auto") && isatty(1) && !getenv("NO_COLOR") &&
		 !(getenv("TERM") && !strcmp(getenv("TERM"), "dumb")));
	if (json)
		gate_status_format_json(&out, &st, (int)n);
	else
		gate_status_format_text(&out, &st, color, (int)n);
	fwrite(out.ptr ? out.ptr : "", 1, out.len, stdout);
	ret = fflush(stdout) == 0 ? 0 : GATE_EXIT_INTERNAL;
out:
	gate_status_release(&st);
	gate_config_free(cfg);
	gate_repo_free(repo);
	gate_diag_release(&diag);
	gate_buf_release(&err);
	gate_buf_release(&out);
	free(full_ref);
	return ret;
}
