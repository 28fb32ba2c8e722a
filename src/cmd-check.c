#include "config.h"

#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "driver.h"
#include "gate.h"
#include "report.h"
#include "run-command.h"
#include "push.h"
#include "repo.h"

#include "banned.h"

static const char usage[] =
	"usage: git gate check [--repo DIR] [-v] REF OLD NEW\n"
	"   or: git gate check --remote NAME [--repo DIR] [--force] REF [COMMIT]\n"
	"\n"
	"Judge the update of REF from OLD to NEW exactly as the hook would, and\n"
	"print the same report, without pushing.  OLD and NEW are revisions\n"
	"(ids, branch names, HEAD~2, ...); 0 stands for none: OLD 0 creates REF,\n"
	"NEW 0 deletes it.  It says which policy it judged by.\n"
	"\n"
	"With --remote, ask the server NAME (a remote or a URL) instead: what\n"
	"would its own policy say to pushing COMMIT (default HEAD) to REF?  A\n"
	"dry-run push (-o gate.dry-run) that cannot land, even on a server\n"
	"without git-gate; the server's report is printed.\n"
	"\n"
	"    --repo DIR     the repository to judge against (default: the current one)\n"
	"    -v             also list the checks that passed\n"
	"    --remote NAME  ask the server NAME\n"
	"    --force        with --remote: ask about a forced push (not a fast-forward)\n"
	"\n"
	"Exit status: 0 accepted, 1 rejected, 2 usage or policy error (with\n"
	"--remote: the server cannot be asked), 3 internal error.\n";

static int has(const char *s, size_t n, const char *what)
{
	return memmem(s, n, what, strlen(what)) != NULL;
}

/* A line the server sent, as the developer's terminal may show it. */
static void print_remote_line(struct gate_buf *out, const char *line, size_t n)
{
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\r'))
		n--; /* git pads remote lines to clear the terminal line */
	gate_buf_adds(out, "remote: ");
	gate_buf_add_safe(out, line, n);
	gate_buf_addch(out, '\n');
}

/*
 * git gate check --remote: push COMMIT to REF with -o gate.dry-run so that
 * the server's git-gate judges it by the server's policy and declines.  So
 * that a server without git-gate (which would accept the push) cannot take
 * it either, the push is --atomic and also creates GATE_DRY_RUN_GUARD and
 * a ref below it: git cannot do both in one transaction, so the whole push
 * fails there.  A server that does not advertise push options or atomic
 * pushes makes git refuse before anything is sent.
 */
static int check_remote(const char *dir, const char *remote, const char *ref, const char *commit, int force)
{
	struct gate_strvec argv = GATE_STRVEC_INIT;
	struct gate_buf out = GATE_BUF_INIT, errout = GATE_BUF_INIT, err = GATE_BUF_INIT, show = GATE_BUF_INIT;
	const char *env[] = { "LC_ALL=C", "LANGUAGE", "GIT_PUSH_OPTION_COUNT", NULL };
	const char *p, *end;
	char *spec = NULL, *g1 = NULL, *g2 = NULL;
	int status = 0, verdict = -1, ret = GATE_EXIT_INTERNAL, nremote = 0;

	if (strncmp(ref, "refs/", 5)) {
		fprintf(stderr, "git-gate: '%s' is not a full ref name; try %s%s\n", ref, gate_ref_suggestion_prefix(ref),
			ref + (ref[0] == '/'));
		return GATE_EXIT_USAGE;
	}
	if (gate_skip_prefix(ref, GATE_DRY_RUN_GUARD, NULL)) {
		fprintf(stderr, "git-gate: '%s' is the name check --remote itself uses; ask about another ref\n", ref);
		return GATE_EXIT_USAGE;
	}
	spec = gate_xstrfmt("%s%s:%s", force ? "+" : "", commit, ref);
	g1 = gate_xstrfmt("%s:" GATE_DRY_RUN_GUARD, commit);
	g2 = gate_xstrfmt("%s:" GATE_DRY_RUN_GUARD "/x", commit);
	gate_strvec_pushv(&argv, (const char *[]){ "git", NULL });
	if (dir)
		gate_strvec_pushv(&argv, (const char *[]){ "-C", dir, NULL });
	/* nothing else may travel with it: tags, submodules, a pre-push hook */
	gate_strvec_pushv(&argv, (const char *[]){ "-c", "push.followTags=false", "push", "--porcelain", "--atomic",
						   "--no-verify", "--no-signed", "--recurse-submodules=no",
						   "-o", "gate.dry-run", "--", remote, spec, g1, g2, NULL });
	printf("git-gate: asking '%s' what its policy says to %s -> %s (a dry run: nothing lands)\n", remote,
	       commit, ref);
	fflush(stdout);
	if (gate_run_capture(gate_strvec_argv(&argv), env, NULL, NULL, 0, &out, &errout, &status, &err) < 0) {
		fprintf(stderr, "git-gate: cannot run git push: %s\n", err.ptr);
		goto out;
	}
	for (p = gate_buf_cstr(&errout), end = p + errout.len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *rest;
		if (n > 8 && gate_skip_prefix(p, "remote: ", &rest)) {
			nremote++;
			print_remote_line(&show, rest, n - 8);
			if (has(rest, n - 8, "git-gate: dry run (-o gate.dry-run): the push would be accepted"))
				verdict = GATE_EXIT_ACCEPT;
			else if (has(rest, n - 8, "git-gate: dry run (-o gate.dry-run): the push would be REJECTED"))
				verdict = GATE_EXIT_REJECT;
		}
		p += n + 1;
	}
	fputs(gate_buf_cstr(&show), stdout);
	if (status == 0) {
		/* cannot happen: the guard refs make the transaction fail */
		printf("git-gate: the server ACCEPTED the dry-run push to %s: refs may have moved there; tell its "
		       "admin\n", ref);
		goto out;
	}
	if (verdict == GATE_EXIT_ACCEPT) {
		printf("git-gate: %s: the server's gate would accept this push (nothing was pushed)\n", ref);
		ret = verdict;
	} else if (verdict == GATE_EXIT_REJECT) {
		printf("git-gate: %s: the server's gate would REJECT this push (nothing was pushed)\n", ref);
		ret = verdict;
	} else if (strstr(gate_buf_cstr(&errout), "does not support push options")) {
		printf("git-gate: '%s' does not advertise push options (receive.advertisePushOptions), so it "
		       "cannot be asked; nothing was pushed\n", remote);
		ret = GATE_EXIT_USAGE;
	} else if (strstr(gate_buf_cstr(&errout), "does not support --atomic")) {
		printf("git-gate: '%s' does not support atomic pushes, so it cannot be asked safely; nothing was "
		       "pushed\n", remote);
		ret = GATE_EXIT_USAGE;
	} else if (strstr(gate_buf_cstr(&out), "[rejected]") && strstr(gate_buf_cstr(&out), ref)) {
		printf("git-gate: %s: git itself refuses this push before asking the server (%s); fetch and "
		       "rebase, or --force to ask about a forced push\n", ref,
		       strstr(gate_buf_cstr(&out), "non-fast-forward") ? "not a fast-forward" : "see git's reason");
		ret = GATE_EXIT_REJECT;
	} else if (strstr(gate_buf_cstr(&out), "[remote rejected]")) {
		printf("git-gate: '%s' gave no git-gate verdict: it has no git-gate, or runs it as the update hook, "
		       "which gets no push options%s; nothing was pushed\n", remote,
		       nremote ? " (above: what its hooks said)" : "");
		ret = GATE_EXIT_USAGE;
	} else {
		struct gate_buf why = GATE_BUF_INIT;
		while (errout.len && (errout.ptr[errout.len - 1] == '\n' || errout.ptr[errout.len - 1] == ' '))
			gate_buf_truncate(&errout, errout.len - 1);
		gate_buf_add_safes(&why, gate_buf_cstr(&errout));
		printf("git-gate: could not ask '%s': %s\n", remote, why.len ? why.ptr : "git push failed");
		gate_buf_release(&why);
		ret = GATE_EXIT_USAGE;
	}
out:
	gate_strvec_clear(&argv);
	gate_buf_release(&out);
	gate_buf_release(&errout);
	gate_buf_release(&err);
	gate_buf_release(&show);
	free(spec);
	free(g1);
	free(g2);
	return ret;
}

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
	const char *v;
	struct gate_driver_opts o = { .hook = "check", .out_fd = 1 };
	struct gate_push push = GATE_PUSH_INIT;
	struct gate_repo *repo = NULL;
	struct gate_buf err = GATE_BUF_INIT;
	const char *args[3];
	char old_id[41], new_id[41];
	char *dir = NULL;
	const char *remote = NULL;
	int i, nargs = 0, force = 0, ret = GATE_EXIT_USAGE;

	for (i = 1; i < argc; i++) {
		if (cli_is_help(argv[i]))
			return cli_usage(usage, 0);
		if (!strcmp(argv[i], "--repo") && i + 1 < argc)
			o.repo_path = argv[++i];
		else if (!strncmp(argv[i], "--repo=", 7))
			o.repo_path = argv[i] + 7;
		else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			o.verbose = 1;
		else if ((v = cli_option(argc, argv, &i, "--remote")))
			remote = v;
		else if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f"))
			force = 1;
		else if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "-"))
			return cli_usage(usage, 1);
		else if (nargs < 3)
			args[nargs++] = argv[i];
		else
			return cli_usage(usage, 1);
	}
	if (remote) {
		if (!*remote || nargs < 1 || nargs > 2)
			return cli_usage(usage, 1);
		return check_remote(o.repo_path, remote, args[0], nargs > 1 ? args[1] : "HEAD", force);
	}
	if (nargs != 3 || force)
		return cli_usage(usage, 1);
	if (strncmp(args[0], "refs/", 5)) {
		fprintf(stderr, "git-gate: '%s' is not a full ref name; try %s%s\n", args[0], gate_ref_suggestion_prefix(args[0]),
			args[0] + (args[0][0] == '/'));
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
