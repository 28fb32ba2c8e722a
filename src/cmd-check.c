#include "config.h"

#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "driver.h"
#include "push.h"
#include "repo.h"

#include "banned.h"

static const char usage[] =
	"usage: git gate check [--repo DIR] [-v] REF OLD NEW\n"
	"\n"
	"Judge the update of REF from OLD to NEW exactly as the hook would, and\n"
	"print the same report, without pushing.  OLD and NEW are revisions\n"
	"(ids, branch names, HEAD~2, ...); 0 stands for none: OLD 0 creates REF,\n"
	"NEW 0 deletes it.\n"
	"\n"
	"    --repo DIR   the repository to judge against (default: the current one)\n"
	"    -v           also list the checks that passed\n"
	"\n"
	"Exit status: 0 accepted, 1 rejected, 2 usage or policy error, 3 internal error.\n";

static int resolve(struct gate_repo *repo, const char *rev, char out[41])
{
	git_object *obj = NULL;

	if (!strcmp(rev, "0") || gate_is_zero_oid(rev)) {
		memcpy(out, GATE_ZERO_OID, 41);
		return 0;
	}
	if (git_revparse_single(&obj, repo->git, rev) < 0) {
		fprintf(stderr, "git-gate: cannot resolve '%s': %s\n", rev, gate_git_error());
		return -1;
	}
	git_oid_tostr(out, 41, git_object_id(obj));
	git_object_free(obj);
	return 0;
}

int cmd_check(int argc, char **argv)
{
	struct gate_driver_opts o = { "check", NULL, 0, 1 };
	struct gate_push push = GATE_PUSH_INIT;
	struct gate_repo *repo = NULL;
	struct gate_buf err = GATE_BUF_INIT;
	const char *args[3];
	char old_id[41], new_id[41];
	char *dir = NULL;
	int i, nargs = 0, ret = GATE_EXIT_USAGE;

	for (i = 1; i < argc; i++) {
		if (cli_is_help(argv[i]))
			return cli_usage(usage, 0);
		if (!strcmp(argv[i], "--repo") && i + 1 < argc)
			o.repo_path = argv[++i];
		else if (!strncmp(argv[i], "--repo=", 7))
			o.repo_path = argv[i] + 7;
		else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			o.verbose = 1;
		else if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "-"))
			return cli_usage(usage, 1);
		else if (nargs < 3)
			args[nargs++] = argv[i];
		else
			return cli_usage(usage, 1);
	}
	if (nargs != 3)
		return cli_usage(usage, 1);
	if (strncmp(args[0], "refs/", 5)) {
		fprintf(stderr, "git-gate: '%s' is not a full ref name; try refs/heads/%s\n", args[0], args[0]);
		goto out;
	}
	if (gate_repo_open(&repo, o.repo_path, &err) < 0) {
		fprintf(stderr, "git-gate: %s\n", err.ptr);
		goto out;
	}
	if (resolve(repo, args[1], old_id) < 0 || resolve(repo, args[2], new_id) < 0)
		goto out;
	if (gate_push_add(&push, args[0], old_id, new_id, &err) < 0) {
		fprintf(stderr, "git-gate: %s\n", err.ptr);
		goto out;
	}
	dir = gate_xstrdup(repo->git_dir);
	o.repo_path = dir;
	gate_repo_free(repo);
	repo = NULL;
	ret = gate_driver_run(&push, &o);
	if (ret == GATE_EXIT_ACCEPT)
		printf("git-gate: %s: accepted\n", args[0]);
out:
	gate_repo_free(repo);
	gate_push_release(&push);
	gate_buf_release(&err);
	free(dir);
	return ret;
}
