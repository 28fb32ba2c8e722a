/*
 * git-gate: install the hooks, validate and explain a policy, and judge a
 * ref update without pushing.  Also runs as "git gate ...".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "driver.h"
#include "util.h"

#include "banned.h"

static const char usage[] =
	"usage: git gate <command> [<args>]\n"
	"\n"
	"   install [--hook pre-receive|update] [--queue] [--force] REPO...\n"
	"                       install the gate's hook into bare repositories\n"
	"   uninstall REPO...   remove it again\n"
	"   validate [--repo DIR] [--layered | --meta] [FILE]\n"
	"                       check a policy file; list every problem\n"
	"   explain [--repo DIR] REF\n"
	"                       show the rule that applies to REF and where it is set\n"
	"   check [--repo DIR] [-v] REF OLD NEW\n"
	"                       judge a ref update as the hook would, without pushing\n"
	"   replay [--repo DIR] [--config FILE] [--max N] [--with-commands]\n"
	"          [--user NAME] [-v] REF\n"
	"                       run a policy over REF's recent history\n"
	"   queue [list|show N|cancel N|run] [--repo DIR]\n"
	"                       the merge queue: changes pushed to refs/for/<branch>\n"
	"   status [--repo DIR] [--json | --html DIR] [-n N] [REF]\n"
	"                       what the gate decided: refs, last decisions, 7/30 days\n"
	"\n"
	"   --version           print the version\n"
	"   --help              this text; 'git gate <command> --help' for a command\n"
	"\n"
	"Exit status: 0 accepted, 1 rejected by policy, 2 usage or configuration\n"
	"error, 3 internal error.  See git-gate(1) and git-gate.conf(5).\n";

int cli_usage(const char *text, int misuse)
{
	fputs(text, misuse ? stderr : stdout);
	return misuse ? GATE_EXIT_USAGE : 0;
}

int cli_is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

const char *cli_option(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (!strcmp(a, name) && *i + 1 < argc)
		return argv[++*i];
	if (!strncmp(a, name, n) && a[n] == '=')
		return a + n + 1;
	return NULL;
}

void cli_print_diag(const struct gate_diag *diag)
{
	struct gate_buf b = GATE_BUF_INIT;

	gate_diag_format(diag, &b);
	fputs(gate_buf_cstr(&b), stderr);
	gate_buf_release(&b);
}

const char *cli_libexecdir(void)
{
	const char *env = getenv("GIT_GATE_LIBEXECDIR");

	return env && *env ? env : GATE_PKGLIBEXECDIR;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
} commands[] = {
	{ "install", cmd_install },
	{ "uninstall", cmd_uninstall },
	{ "validate", cmd_validate },
	{ "explain", cmd_explain },
	{ "check", cmd_check },
	{ "replay", cmd_replay },
	{ "queue", cmd_queue },
	{ "status", cmd_status },
};

int main(int argc, char **argv)
{
	size_t i;

	gate_driver_setup();
	if (argc < 2)
		return cli_usage(usage, 1);
	if (cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
		if (argc > 2)
			for (i = 0; i < GATE_ARRAY_SIZE(commands); i++)
				if (!strcmp(argv[2], commands[i].name)) {
					char *hv[] = { argv[2], (char *)"--help", NULL };
					return commands[i].fn(2, hv);
				}
		return cli_usage(usage, 0);
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("git-gate %s\n", PACKAGE_VERSION);
		return 0;
	}
	for (i = 0; i < GATE_ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "git-gate: '%s' is not a git-gate command\n\n", argv[1]);
	return cli_usage(usage, 1);
}
