#include "config.h"

#include <errno.h>
#include <git2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain.h"
#include "cli.h"
#include "repo.h"
#include "util.h"

#include "banned.h"

static const char install_usage[] =
	"usage: git gate install [--hook pre-receive|update] [--queue] [--force] [--no-fsck-objects] REPO...\n"
	"\n"
	"Link git-gate's hooks into each repository's hooks/ directory (the\n"
	"judging hook and post-receive, which records what really moved), set\n"
	"receive.advertisePushOptions so that -o gate.* options reach them, and\n"
	"receive.fsckObjects so that git itself refuses malformed objects.\n"
	"\n"
	"    --hook pre-receive  judge the whole push at once: all or nothing (default)\n"
	"    --hook update       judge each ref on its own: one refused ref does not\n"
	"                        stop the others (no push options in this mode)\n"
	"    --force             keep hooks that are not git-gate's by chaining them:\n"
	"                        each moves to hooks/<name>.before-git-gate and still\n"
	"                        runs after git-gate's; either rejecting rejects\n"
	"    --no-fsck-objects   leave receive.fsckObjects alone\n"
	"    --queue             also the merge queue's proc-receive hook, which takes\n"
	"                        the pushes to refs/for/<branch> (receive.procReceiveRefs);\n"
	"                        see 'git gate queue'\n"
	"\n"
	"Where hooks/<name> runs the programs in hooks/<name>.d/ (Gitea and\n"
	"others), git-gate joins them as hooks/<name>.d/git-gate instead.\n";

static const char uninstall_usage[] =
	"usage: git gate uninstall REPO...\n"
	"\n"
	"Remove git-gate's hooks from each repository and put back the hooks\n"
	"install chained (hooks/<name>.before-git-gate); hooks that are not\n"
	"git-gate's are left alone.\n";

/* The hook programs `git gate install` links (and uninstall removes), in cli_libexecdir(). */
static const char *const hook_names[] = { "pre-receive", "update", "post-receive", "proc-receive" };
#define NHOOKS GATE_ARRAY_SIZE(hook_names)

/* The name a hook takes inside a hooks/<name>.d/ layout. */
#define DIR_LAYOUT_NAME "git-gate"

/* The repository's hooks directory (honouring core.hooksPath). */
static int hooks_dir(git_repository *repo, struct gate_buf *out, struct gate_buf *err)
{
	git_config *cfg = NULL;
	git_buf v = { 0 };

	if (git_repository_config_snapshot(&cfg, repo) == 0 &&
	    git_config_get_path(&v, cfg, "core.hooksPath") == 0 && v.ptr && *v.ptr) {
		if (v.ptr[0] == '/')
			gate_buf_adds(out, v.ptr);
		else
			gate_buf_addf(out, "%s/%s", git_repository_is_bare(repo) ? git_repository_path(repo)
										 : git_repository_workdir(repo),
				      v.ptr);
	} else {
		gate_buf_addf(out, "%shooks", git_repository_path(repo));
	}
	git_buf_dispose(&v);
	git_config_free(cfg);
	git_error_clear();
	(void)err;
	return 0;
}

/* Is `path` a link to (or a copy of) one of our hook programs? */
static int is_ours(const char *path)
{
	char target[PATH_MAX], real[PATH_MAX], ours[PATH_MAX];
	size_t i;
	ssize_t n = readlink(path, target, sizeof(target) - 1);

	if (n < 0)
		return 0;
	target[n] = '\0';
	if (realpath(path, real)) {
		for (i = 0; i < NHOOKS; i++) {
			char *p = gate_xstrfmt("%s/%s", cli_libexecdir(), hook_names[i]);
			int same = realpath(p, ours) && !strcmp(ours, real);
			free(p);
			if (same)
				return 1;
		}
	}
	for (i = 0; i < NHOOKS; i++) {
		char *tail = gate_xstrfmt("/git-gate/%s", hook_names[i]);
		int same = gate_ends_with(target, tail);
		free(tail);
		if (same)
			return 1;
	}
	return 0;
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Remove git-gate's hook `name` from `dir` (hooks/<name> and
 * hooks/<name>.d/git-gate) and put back the hook install chained.
 * Returns how many hooks were removed, or -1 after saying what failed.
 */
static int remove_ours(const char *dir, const char *name)
{
	char *p = gate_xstrfmt("%s/%s", dir, name);
	char *prev = gate_xstrfmt("%s%s", p, GATE_CHAIN_SUFFIX);
	char *in_d = gate_xstrfmt("%s.d/" DIR_LAYOUT_NAME, p);
	struct stat st;
	int removed = 0, ret = -1;

	if (is_ours(p)) {
		if (unlink(p) < 0) {
			fprintf(stderr, "git-gate: cannot remove '%s': %s\n", p, strerror(errno));
			goto out;
		}
		removed++;
	} else if (lstat(p, &st) == 0) {
		fprintf(stderr, "git-gate: leaving '%s' alone: it is not git-gate's\n", p);
	}
	if (lstat(prev, &st) == 0) {
		if (lstat(p, &st) == 0) {
			fprintf(stderr, "git-gate: not putting back '%s': '%s' exists\n", prev, p);
		} else if (rename(prev, p) < 0) {
			fprintf(stderr, "git-gate: cannot put back '%s': %s\n", prev, strerror(errno));
			goto out;
		} else {
			printf("git-gate: put back the %s hook git-gate had chained (%s)\n", name, p);
		}
	}
	if (is_ours(in_d)) {
		if (unlink(in_d) < 0) {
			fprintf(stderr, "git-gate: cannot remove '%s': %s\n", in_d, strerror(errno));
			goto out;
		}
		removed++;
	}
	ret = removed;
out:
	free(p);
	free(prev);
	free(in_d);
	return ret;
}

/*
 * receive.fsckObjects: git's own checks of every pushed object (malformed
 * commits and trees, paths such as ".git" look-alikes that attack clients).
 * An explicit setting is the admin's and is kept.
 */
static int set_fsck(git_repository *repo, git_config *cfg, const char *path)
{
	git_config *snap = NULL;
	int v = 0, found_receive = 0, found_transfer = 0, ret = 0;

	if (git_repository_config_snapshot(&snap, repo) == 0) {
		found_receive = git_config_get_bool(&v, snap, "receive.fsckObjects") == 0;
		if (!found_receive)
			found_transfer = git_config_get_bool(&v, snap, "transfer.fsckObjects") == 0;
	}
	git_error_clear();
	if (found_receive || found_transfer) {
		printf("git-gate: %s = %s is already set for %s; left as it is%s\n",
		       found_receive ? "receive.fsckObjects" : "transfer.fsckObjects", v ? "true" : "false", path,
		       v ? "" : " (git does not check pushed objects for malformed data)");
	} else if (git_config_set_bool(cfg, "receive.fsckObjects", 1) < 0) {
		fprintf(stderr, "git-gate: cannot set receive.fsckObjects in '%s': %s\n", path, gate_git_error());
		ret = -1;
	} else {
		printf("git-gate: set receive.fsckObjects = true in %s: git refuses malformed objects and "
		       "'.git' look-alike paths (--no-fsck-objects to opt out)\n", path);
	}
	git_config_free(snap);
	return ret;
}

/*
 * Where git-gate's hook `hook` goes in `dir`, into *dst: hooks/<hook>, or
 * hooks/<hook>.d/git-gate where hooks/<hook> is someone else's program
 * that runs the ones in hooks/<hook>.d/ (Gitea and others).  Refuses
 * (GATE_EXIT_REJECT, with a message) what would replace a hook that is
 * not git-gate's without --force, or chain over an earlier chained one.
 */
static int plan_hook(const char *path, const char *dir, const char *hook, int force, char **dst, int *layout)
{
	char *d = gate_xstrfmt("%s/%s", dir, hook), *dd = gate_xstrfmt("%s.d", d);
	char *prev = gate_xstrfmt("%s%s", d, GATE_CHAIN_SUFFIX);
	struct stat st;
	int ret = 0;

	*layout = 0;
	if (lstat(d, &st) == 0 && !is_ours(d) && is_dir(dd)) {
		free(d);
		d = gate_xstrfmt("%s/" DIR_LAYOUT_NAME, dd);
		*layout = 1;
		if (lstat(d, &st) == 0 && !is_ours(d)) {
			fprintf(stderr, "git-gate: '%s' exists and is not git-gate's; not replacing it\n", d);
			ret = GATE_EXIT_REJECT;
		}
	} else if (lstat(d, &st) == 0 && !is_ours(d)) {
		if (!force) {
			fprintf(stderr,
				"git-gate: '%s' already has a %s hook that is not git-gate's (%s);\n"
				"git-gate: not replacing it.  --force keeps it chained: it moves to %s and still\n"
				"git-gate: runs after git-gate's, with the same input; either rejecting rejects.\n",
				path, hook, d, prev);
			ret = GATE_EXIT_REJECT;
		} else if (lstat(prev, &st) == 0) {
			fprintf(stderr, "git-gate: cannot chain '%s': '%s' already exists\n", d, prev);
			ret = GATE_EXIT_REJECT;
		}
	}
	free(dd);
	free(prev);
	if (ret)
		free(d);
	else
		*dst = d;
	return ret;
}

/* Link `dst` (from plan_hook) to our program `hook`, chaining what is there. */
static int link_hook(const char *dst, const char *hook, int layout)
{
	char *src = gate_xstrfmt("%s/%s", cli_libexecdir(), hook);
	char *prev = gate_xstrfmt("%s%s", dst, GATE_CHAIN_SUFFIX);
	struct stat st;
	int ret = -1;

	if (access(src, X_OK) < 0) {
		fprintf(stderr, "git-gate: the hook program '%s' is missing: %s\n", src, strerror(errno));
		goto out;
	}
	if (lstat(dst, &st) == 0) {
		if (is_ours(dst)) {
			unlink(dst);
		} else if (rename(dst, prev) < 0) {
			fprintf(stderr, "git-gate: cannot move '%s' aside: %s\n", dst, strerror(errno));
			goto out;
		} else {
			printf("git-gate: kept the existing %s hook as %s: it runs after git-gate's with the same "
			       "input, and either rejecting rejects ('git gate uninstall' puts it back)\n",
			       hook, prev);
		}
	}
	if (symlink(src, dst) < 0) {
		fprintf(stderr, "git-gate: cannot link '%s' to '%s': %s\n", dst, src, strerror(errno));
		goto out;
	}
	if (layout)
		printf("git-gate: the existing %s hook runs the hooks in its .d directory: git-gate joins them as "
		       "%s\n", hook, dst);
	ret = 0;
out:
	free(src);
	free(prev);
	return ret;
}

/*
 * The merge queue (queue.h): git's proc-receive hook takes the pushes to
 * refs/for/<branch>; it speaks a protocol with git, so a foreign one
 * cannot be chained and is never replaced.
 */
static int queue_refuses(const char *path, const char *dir)
{
	char *p = gate_xstrfmt("%s/proc-receive", dir);
	struct stat st;
	int ret = 0;

	if (lstat(p, &st) == 0 && !is_ours(p)) {
		fprintf(stderr, "git-gate: '%s' already has a proc-receive hook that is not git-gate's (%s); the "
				"merge queue needs its own: remove it first\n", path, p);
		ret = GATE_EXIT_REJECT;
	}
	free(p);
	return ret;
}

static int install_one(const char *path, const char *hook, int force, int fsck, int queue)
{
	git_repository *repo = NULL;
	git_config *cfg = NULL;
	struct gate_buf dir = GATE_BUF_INIT, err = GATE_BUF_INIT;
	const char *other_name = strcmp(hook, "update") ? "update" : "pre-receive";
	/* the judging hook, and post-receive, which records what really moved */
	const char *hooks[] = { hook, "post-receive", "proc-receive" };
	char *dst[3] = { NULL, NULL, NULL };
	int layout[3] = { 0, 0, 0 };
	size_t k, nhooks = queue ? 3 : 2;
	int ret = GATE_EXIT_USAGE;

	if (gate_repo_check_format(path, &err) < 0) {
		fprintf(stderr, "git-gate: %s; not installing\n", err.ptr);
		goto out;
	}
	if (git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		fprintf(stderr, "git-gate: '%s' is not a git repository: %s\n", path, gate_git_error());
		goto out;
	}
	if (!git_repository_is_bare(repo))
		fprintf(stderr, "git-gate: warning: '%s' is not bare; pushes to its checked-out branch are "
				"refused by git anyway\n", path);
	hooks_dir(repo, &dir, &err);
	if (mkdir(dir.ptr, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "git-gate: cannot create '%s': %s\n", dir.ptr, strerror(errno));
		goto out;
	}
	/* refuse before changing anything */
	if (queue && (ret = queue_refuses(path, dir.ptr)) != 0)
		goto out;
	ret = GATE_EXIT_USAGE;
	for (k = 0; k < nhooks; k++) {
		int r = plan_hook(path, dir.ptr, hooks[k], force, &dst[k], &layout[k]);
		if (r) {
			ret = r;
			goto out;
		}
	}
	for (k = 0; k < nhooks; k++) {
		char *d = gate_xstrfmt("%s/%s.d", dir.ptr, hooks[k]);
		if (!layout[k] && is_dir(d))
			fprintf(stderr, "git-gate: warning: %s/ exists but no %s hook runs it; git does not\n", d,
				hooks[k]);
		free(d);
		if (link_hook(dst[k], hooks[k], layout[k]) < 0) {
			ret = GATE_EXIT_INTERNAL;
			goto out;
		}
	}
	/* only one of our two judging hooks at a time: they would judge every push twice */
	if (remove_ours(dir.ptr, other_name) < 0)
		goto out;
	if (git_repository_config(&cfg, repo) < 0 ||
	    git_config_set_bool(cfg, "receive.advertisePushOptions", 1) < 0) {
		fprintf(stderr, "git-gate: cannot set receive.advertisePushOptions in '%s': %s\n", path,
			gate_git_error());
		goto out;
	}
	if (fsck && set_fsck(repo, cfg, path) < 0)
		goto out;
	if (queue && git_config_set_multivar(cfg, "receive.procReceiveRefs", "^refs/for$", "refs/for") < 0) {
		fprintf(stderr, "git-gate: cannot set receive.procReceiveRefs in '%s': %s\n", path, gate_git_error());
		goto out;
	}
	printf("git-gate: installed the %s and post-receive hooks in %s\n", hook, path);
	if (queue)
		printf("git-gate: installed the merge queue's proc-receive hook in %s (push to refs/for/<branch>)\n",
		       path);
	ret = 0;
out:
	git_config_free(cfg);
	git_repository_free(repo);
	gate_buf_release(&dir);
	gate_buf_release(&err);
	for (k = 0; k < GATE_ARRAY_SIZE(dst); k++)
		free(dst[k]);
	return ret;
}

int cmd_install(int argc, char **argv)
{
	const char *hook = "pre-receive";
	int force = 0, fsck = 1, queue = 0, i, ret = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (cli_is_help(argv[i]))
			return cli_usage(install_usage, 0);
		if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f"))
			force = 1;
		else if (!strcmp(argv[i], "--no-fsck-objects"))
			fsck = 0;
		else if (!strcmp(argv[i], "--queue"))
			queue = 1;
		else if (!strcmp(argv[i], "--hook") && i + 1 < argc)
			hook = argv[++i];
		else if (!strncmp(argv[i], "--hook=", 7))
			hook = argv[i] + 7;
		else if (!strcmp(argv[i], "--"))
		{
			i++;
			break;
		} else
			return cli_usage(install_usage, 1);
	}
	if (strcmp(hook, "pre-receive") && strcmp(hook, "update")) {
		fprintf(stderr, "git-gate: --hook must be 'pre-receive' or 'update', not '%s'\n", hook);
		return GATE_EXIT_USAGE;
	}
	if (queue && strcmp(hook, "pre-receive")) {
		fprintf(stderr, "git-gate: --queue needs the pre-receive hook: it judges changes before they queue\n");
		return GATE_EXIT_USAGE;
	}
	if (i >= argc)
		return cli_usage(install_usage, 1);
	for (; i < argc; i++) {
		int r = install_one(argv[i], hook, force, fsck, queue);
		if (r > ret)
			ret = r;
	}
	return ret;
}

int cmd_uninstall(int argc, char **argv)
{
	int i, ret = 0;

	if (argc < 2)
		return cli_usage(uninstall_usage, 1);
	if (cli_is_help(argv[1]))
		return cli_usage(uninstall_usage, 0);
	for (i = 1; i < argc; i++) {
		git_repository *repo = NULL;
		struct gate_buf dir = GATE_BUF_INIT;
		size_t k;
		int removed = 0;

		if (git_repository_open_ext(&repo, argv[i], GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
			fprintf(stderr, "git-gate: '%s' is not a git repository: %s\n", argv[i], gate_git_error());
			ret = GATE_EXIT_USAGE;
			continue;
		}
		hooks_dir(repo, &dir, NULL);
		for (k = 0; k < NHOOKS; k++) {
			int r = remove_ours(dir.ptr, hook_names[k]);
			if (r < 0)
				ret = GATE_EXIT_INTERNAL;
			else
				removed += r;
		}
		{
			/* the merge queue's routing goes with its hook */
			git_config *cfg = NULL;
			if (git_repository_config(&cfg, repo) == 0)
				(void)git_config_delete_multivar(cfg, "receive.procReceiveRefs", "^refs/for$");
			git_config_free(cfg);
			git_error_clear();
		}
		printf("git-gate: %s\n", removed ? "removed the hooks" : "no git-gate hook was installed");
		gate_buf_release(&dir);
		git_repository_free(repo);
	}
	return ret;
}
