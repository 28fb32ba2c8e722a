#include "config.h"

#include <errno.h>
#include <git2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "repo.h"
#include "util.h"

#include "banned.h"

static const char install_usage[] =
	"usage: git gate install [--hook pre-receive|update] [--queue] [--force] REPO...\n"
	"\n"
	"Link git-gate's hook into each repository's hooks/ directory and set\n"
	"receive.advertisePushOptions so that -o gate.* options reach it.\n"
	"\n"
	"    --hook pre-receive  judge the whole push at once: all or nothing (default)\n"
	"    --hook update       judge each ref on its own: one refused ref does not\n"
	"                        stop the others (no push options in this mode)\n"
	"    --queue             also install the merge queue's proc-receive hook and\n"
	"                        send pushes to refs/for/<branch> to it\n"
	"                        (receive.procReceiveRefs); see 'git gate queue'\n"
	"    --force             replace a hook that is not git-gate's\n";

static const char uninstall_usage[] =
	"usage: git gate uninstall REPO...\n"
	"\n"
	"Remove git-gate's hooks from each repository; hooks that are not\n"
	"git-gate's are left alone.\n";

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
	const char *names[] = { "pre-receive", "update", "proc-receive" };
	size_t i;
	ssize_t n = readlink(path, target, sizeof(target) - 1);

	if (n < 0)
		return 0;
	target[n] = '\0';
	if (!realpath(path, real))
		return gate_ends_with(target, "/git-gate/pre-receive") || gate_ends_with(target, "/git-gate/update") ||
		       gate_ends_with(target, "/git-gate/proc-receive");
	for (i = 0; i < GATE_ARRAY_SIZE(names); i++) {
		char *p = gate_xstrfmt("%s/%s", cli_libexecdir(), names[i]);
		int same = realpath(p, ours) && !strcmp(ours, real);
		free(p);
		if (same)
			return 1;
	}
	return gate_ends_with(target, "/git-gate/pre-receive") || gate_ends_with(target, "/git-gate/update") ||
	       gate_ends_with(target, "/git-gate/proc-receive");
}

/*
 * The merge queue (queue.h): git's proc-receive hook takes the pushes to
 * refs/for/<branch>.  The repository config is `receive.procReceiveRefs
 * = refs/for` beside receive.advertisePushOptions (for -o gate.wait).
 */
static int install_queue(git_repository *repo, const char *path, const char *dir, int force)
{
	git_config *cfg = NULL;
	char *src = gate_xstrfmt("%s/proc-receive", cli_libexecdir()), *dst = gate_xstrfmt("%s/proc-receive", dir);
	struct stat st;
	int ret = GATE_EXIT_USAGE;

	if (access(src, X_OK) < 0) {
		fprintf(stderr, "git-gate: the hook program '%s' is missing: %s\n", src, strerror(errno));
		ret = GATE_EXIT_INTERNAL;
		goto out;
	}
	if (lstat(dst, &st) == 0) {
		if (!is_ours(dst) && !force) {
			fprintf(stderr, "git-gate: '%s' already has a proc-receive hook that is not git-gate's (%s); "
					"not replacing it (--force replaces it)\n", path, dst);
			ret = GATE_EXIT_REJECT;
			goto out;
		}
		unlink(dst);
	}
	if (symlink(src, dst) < 0) {
		fprintf(stderr, "git-gate: cannot link '%s' to '%s': %s\n", dst, src, strerror(errno));
		goto out;
	}
	if (git_repository_config(&cfg, repo) < 0 ||
	    git_config_set_multivar(cfg, "receive.procReceiveRefs", "^refs/for$", "refs/for") < 0) {
		fprintf(stderr, "git-gate: cannot set receive.procReceiveRefs in '%s': %s\n", path, gate_git_error());
		goto out;
	}
	printf("git-gate: installed the merge queue's proc-receive hook in %s (push to refs/for/<branch>)\n", path);
	ret = 0;
out:
	git_config_free(cfg);
	free(src);
	free(dst);
	return ret;
}

static int install_one(const char *path, const char *hook, int force, int queue)
{
	git_repository *repo = NULL;
	git_config *cfg = NULL;
	struct gate_buf dir = GATE_BUF_INIT, err = GATE_BUF_INIT;
	char *dst = NULL, *src = NULL, *other = NULL;
	const char *other_name = strcmp(hook, "update") ? "update" : "pre-receive";
	struct stat st;
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
	src = gate_xstrfmt("%s/%s", cli_libexecdir(), hook);
	if (access(src, X_OK) < 0) {
		fprintf(stderr, "git-gate: the hook program '%s' is missing: %s\n", src, strerror(errno));
		ret = GATE_EXIT_INTERNAL;
		goto out;
	}
	dst = gate_xstrfmt("%s/%s", dir.ptr, hook);
	if (lstat(dst, &st) == 0) {
		if (is_ours(dst)) {
			unlink(dst);
		} else if (!force) {
			fprintf(stderr,
				"git-gate: '%s' already has a %s hook that is not git-gate's (%s);\n"
				"git-gate: not replacing it. Chain it yourself, or use --force to replace it.\n",
				path, hook, dst);
			ret = GATE_EXIT_REJECT;
			goto out;
		} else {
			char *bak = gate_xstrfmt("%s.before-git-gate", dst);
			if (rename(dst, bak) < 0) {
				fprintf(stderr, "git-gate: cannot move '%s' aside: %s\n", dst, strerror(errno));
				free(bak);
				goto out;
			}
			fprintf(stderr, "git-gate: replaced the existing %s hook (kept as %s)\n", hook, bak);
			free(bak);
		}
	}
	if (symlink(src, dst) < 0) {
		fprintf(stderr, "git-gate: cannot link '%s' to '%s': %s\n", dst, src, strerror(errno));
		goto out;
	}
	/* only one of our two hooks at a time: they would judge every push twice */
	other = gate_xstrfmt("%s/%s", dir.ptr, other_name);
	if (is_ours(other))
		unlink(other);
	if (git_repository_config(&cfg, repo) < 0 ||
	    git_config_set_bool(cfg, "receive.advertisePushOptions", 1) < 0) {
		fprintf(stderr, "git-gate: cannot set receive.advertisePushOptions in '%s': %s\n", path,
			gate_git_error());
		goto out;
	}
	printf("git-gate: installed the %s hook in %s\n", hook, path);
	ret = queue ? install_queue(repo, path, dir.ptr, force) : 0;
out:
	git_config_free(cfg);
	git_repository_free(repo);
	gate_buf_release(&dir);
	gate_buf_release(&err);
	free(dst);
	free(src);
	free(other);
	return ret;
}

int cmd_install(int argc, char **argv)
{
	const char *hook = "pre-receive";
	int force = 0, queue = 0, i, ret = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (cli_is_help(argv[i]))
			return cli_usage(install_usage, 0);
		if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f"))
			force = 1;
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
		int r = install_one(argv[i], hook, force, queue);
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
		const char *names[] = { "pre-receive", "update", "proc-receive" };
		git_config *cfg = NULL;
		size_t k;
		int removed = 0;

		if (git_repository_open_ext(&repo, argv[i], GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
			fprintf(stderr, "git-gate: '%s' is not a git repository: %s\n", argv[i], gate_git_error());
			ret = GATE_EXIT_USAGE;
			continue;
		}
		hooks_dir(repo, &dir, NULL);
		for (k = 0; k < GATE_ARRAY_SIZE(names); k++) {
			char *p = gate_xstrfmt("%s/%s", dir.ptr, names[k]);
			if (is_ours(p)) {
				if (unlink(p) < 0) {
					fprintf(stderr, "git-gate: cannot remove '%s': %s\n", p, strerror(errno));
					ret = GATE_EXIT_INTERNAL;
				} else {
					removed++;
				}
			} else if (access(p, F_OK) == 0) {
				fprintf(stderr, "git-gate: leaving '%s' alone: it is not git-gate's\n", p);
			}
			free(p);
		}
		/* the merge queue's routing goes with its hook */
		if (git_repository_config(&cfg, repo) == 0)
			(void)git_config_delete_multivar(cfg, "receive.procReceiveRefs", "^refs/for$");
		git_config_free(cfg);
		git_error_clear();
		printf("git-gate: %s\n", removed ? "removed the hook" : "no git-gate hook was installed");
		gate_buf_release(&dir);
		git_repository_free(repo);
	}
	return ret;
}
