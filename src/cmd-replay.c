#include "config.h"

#include <stdio.h>

#include "cli.h"
#include "util.h"

#include "banned.h"

static const char usage[] = "usage: git gate replay [--repo DIR] [--config FILE] [--max N] REF\n";

int cmd_replay(int argc, char **argv)
{
	if (argc > 1 && cli_is_help(argv[1]))
		return cli_usage(usage, 0);
	fprintf(stderr, "git-gate: replay is not available in this build yet\n");
	return GATE_EXIT_USAGE;
}
