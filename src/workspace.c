#include "config.h"
#include "workspace.h"
#include "repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banned.h"

int gate_workspace_create(struct gate_workspace *ws, const char *root, struct gate_buf *err)
{
	char *tmpl, *abs = NULL;

	if (!root || !*root)
		root = getenv("TMPDIR");
	if (!root || !*root)
		root = "/tmp";
	if (gate_mkdir_p(root, 0777) < 0)
		return gate_error(err, "cannot create the workspace root '%s': %s", root, strerror(errno));
	tmpl = gate_xstrfmt("%s/git-gate-XXXXXX", root);
	if (!mkdtemp(tmpl)) {
		gate_error(err, "cannot create a workspace in '%s': %s", root, strerror(errno));
		free(tmpl);
		return -1;
	}
	abs = realpath(tmpl, NULL);
	if (!abs) {
		gate_error(err, "cannot resolve the workspace '%s': %s", tmpl, strerror(errno));
		(void)rmdir(tmpl);
		free(tmpl);
		return -1;
	}
	free(tmpl);
	ws->path = abs;
	return 0;
}

int gate_workspace_path_safe(const char *path)
{
	const char *p = path;

	if (!*p || *p == '/')
		return 0;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') ||
		    (n == 4 && !strncasecmp(p, ".git", 4)))
			return 0;
		if (!slash)
			return 1;
		p = slash + 1;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

long gate_workspace_check_paths(const char *const *paths, size_t n, const char **why)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *p = paths[i], *slash;

		if (!gate_workspace_path_safe(p)) {
			*why = "is not a safe relative path (empty, '.', '..' or '.git' component, or absolute)";
			return (long)i;
		}
		/* Is a leading part of it another entry (a symlink, file or submodule)? */
		for (slash = strchr(p, '/'); slash; slash = strchr(slash + 1, '/')) {
			char *prefix = gate_xstrndup(p, (size_t)(slash - p));
			const char *key = prefix;
			int found = bsearch(&key, paths, n, sizeof(*paths), cmp_str) != NULL;

			free(prefix);
			if (found) {
				*why = "lies below another entry of the tree that is not a directory "
				       "(it would be written through a symlink or over a file)";
				return (long)i;
			}
		}
	}
	return -1;
}

/* Create the directories of `rel` below `base` (rel already checked safe). */
static int mkdirs_below(const char *base, const char *rel)
{
	char *p = gate_xstrfmt("%s/%s", base, rel), *s;
	size_t skip = strlen(base) + 1;
	int ret = 0;

	for (s = p + skip; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			ret = -1;
		*s = '/';
		if (ret)
			break;
	}
	if (!ret && mkdir(p, 0755) < 0 && errno != EEXIST)
		ret = -1;
	free(p);
	return ret;
}

struct tree_walk {
	struct gate_strvec files; /* every entry that is not a tree */
	char *bad;                /* the first unsafe path */
};

static int collect_entry(const char *root, const git_tree_entry *entry, void *payload)
{
	struct tree_walk *w = payload;
	char *path = gate_xstrfmt("%s%s", root, git_tree_entry_name(entry));

	if (!gate_workspace_path_safe(path)) {
		w->bad = path;
		return -1; /* stop: one is enough */
	}
	if (git_tree_entry_type(entry) == GIT_OBJECT_TREE) {
		free(path);
		return 0;
	}
	gate_strvec_push(&w->files, path);
	free(path);
	return 0;
}

int gate_workspace_open_repo(git_repository **out, const char *git_dir, struct gate_buf *err)
{
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	const char *quarantine = getenv("GIT_QUARANTINE_PATH");
	int ret = -1;

	if (git_repository_open_ext(&repo, git_dir, GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE,
				    NULL) < 0) {
		gate_error(err, "cannot open repository '%s': %s", git_dir, gate_git_error());
		goto out;
	}
	if (quarantine && *quarantine &&
	    (git_repository_odb(&odb, repo) < 0 || git_odb_add_disk_alternate(odb, quarantine) < 0)) {
		gate_error(err, "cannot read the pushed objects in '%s': %s", quarantine, gate_git_error());
		goto out;
	}
	*out = repo;
	repo = NULL;
	ret = 0;
out:
	git_odb_free(odb);
	git_repository_free(repo);
	return ret;
}

int gate_workspace_checkout(struct gate_workspace *ws, const char *git_dir, const char *tree_id, size_t *nfiles,
			    struct gate_buf *err)
{
	git_repository *repo = NULL;
	git_tree *tree = NULL;
	git_index *idx = NULL;
	git_checkout_options opts;
	struct tree_walk walk = { GATE_STRVEC_INIT, NULL };
	struct gate_strvec gitlinks = GATE_STRVEC_INIT;
	const char *why = NULL;
	size_t i, n, count;
	long bad;
	git_oid oid;
	int r, ret = -1;

	if (!ws->path)
		return gate_error(err, "no workspace to check out into");
	if (git_oid_fromstr(&oid, tree_id) < 0)
		return gate_error(err, "'%s' is not a tree id", tree_id);
	if (gate_workspace_open_repo(&repo, git_dir, err) < 0)
		goto out;
	if (git_tree_lookup(&tree, repo, &oid) < 0) {
		gate_error(err, "cannot read tree %s: %s", tree_id, gate_git_error());
		goto out;
	}
	/*
	 * Judge every path before anything is written (libgit2 would refuse
	 * some, but with a message that does not say what to fix).
	 */
	r = git_tree_walk(tree, GIT_TREEWALK_PRE, collect_entry, &walk);
	if (r < 0 && !walk.bad) {
		gate_error(err, "cannot read tree %s: %s", tree_id, gate_git_error());
		goto out;
	}
	if (walk.bad) {
		gate_buf_reset(err);
		gate_buf_adds(err, "the tree holds the path '");
		gate_buf_adds(err, walk.bad); /* raw: the report neutralises it */
		gate_buf_adds(err, "', which is not a safe relative path (an empty, '.', '..' or '.git' component, "
				   "or absolute)");
		ret = GATE_EUNSAFE;
		goto out;
	}
	qsort(walk.files.v, walk.files.nr, sizeof(*walk.files.v), cmp_str);
	bad = gate_workspace_check_paths((const char *const *)walk.files.v, walk.files.nr, &why);
	if (bad >= 0) {
		gate_buf_reset(err);
		gate_buf_adds(err, "the tree holds the path '");
		gate_buf_adds(err, walk.files.v[bad]);
		gate_buf_addf(err, "', which %s", why);
		ret = GATE_EUNSAFE;
		goto out;
	}
	/* An in-memory index: nothing is written to $GIT_DIR/index. */
	if (git_index_new(&idx) < 0 || git_index_read_tree(idx, tree) < 0) {
		gate_error(err, "cannot read tree %s: %s", tree_id, gate_git_error());
		goto out;
	}
	n = git_index_entrycount(idx);
	/* Submodules: no content here; an empty directory like git leaves. */
	for (i = 0; i < n; i++) {
		const git_index_entry *e = git_index_get_byindex(idx, i);
		if ((e->mode & 0170000) == 0160000)
			gate_strvec_push(&gitlinks, e->path);
	}
	for (i = 0; i < gitlinks.nr; i++)
		if (git_index_remove(idx, gitlinks.v[i], 0) < 0) {
			gate_error(err, "cannot skip submodule '%s': %s", gitlinks.v[i], gate_git_error());
			goto out;
		}
	count = git_index_entrycount(idx);
	git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
	opts.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX | GIT_CHECKOUT_DONT_WRITE_INDEX |
				 GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
	opts.target_directory = ws->path;
	if (count && git_checkout_index(repo, idx, &opts) < 0) {
		gate_error(err, "cannot check out tree %s into '%s': %s", tree_id, ws->path, gate_git_error());
		goto out;
	}
	for (i = 0; i < gitlinks.nr; i++)
		if (mkdirs_below(ws->path, gitlinks.v[i]) < 0) {
			gate_error(err, "cannot create the submodule directory '%s': %s", gitlinks.v[i],
				   strerror(errno));
			goto out;
		}
	if (nfiles)
		*nfiles = n;
	ret = 0;
out:
	gate_strvec_clear(&walk.files);
	free(walk.bad);
	gate_strvec_clear(&gitlinks);
	git_index_free(idx);
	git_tree_free(tree);
	git_repository_free(repo);
	git_error_clear();
	return ret;
}

/* Remove `name` in the directory `dirfd`, recursively, never following a symlink. */
static int remove_at(int dirfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ENOTDIR || errno == ELOOP) {
			if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
				return -1;
			return 0;
		}
		return -1;
	}
	/* a command may leave read-only directories behind */
	(void)fchmod(fd, 0700);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
			if (remove_at(fd, de->d_name) < 0)
				ret = -1;
		} else if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT) {
			if (errno == EISDIR ? remove_at(fd, de->d_name) < 0 : 1)
				ret = -1;
		}
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		ret = -1;
	return ret;
}

int gate_remove_tree(const char *path, struct gate_buf *err)
{
	char *copy, *slash, *name;
	const char *parent;
	int dirfd, ret;

	if (!path || !*path || !strcmp(path, "/"))
		return gate_error(err, "refusing to remove '%s'", path ? path : "(null)");
	copy = gate_xstrdup(path);
	while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
		copy[strlen(copy) - 1] = '\0';
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		parent = slash == copy ? "/" : copy;
		name = slash + 1;
	} else {
		parent = ".";
		name = copy;
	}
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
		free(copy);
		return gate_error(err, "refusing to remove '%s'", path);
	}
	dirfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		ret = errno == ENOENT ? 0 : gate_error(err, "cannot open '%s': %s", parent, strerror(errno));
		free(copy);
		return ret;
	}
	ret = remove_at(dirfd, name);
	if (ret < 0)
		gate_error(err, "cannot remove '%s' completely: %s", path, strerror(errno));
	close(dirfd);
	free(copy);
	return ret;
}

int gate_workspace_remove(struct gate_workspace *ws, struct gate_buf *err)
{
	int ret = 0;

	if (ws->path)
		ret = gate_remove_tree(ws->path, err);
	free(ws->path);
	ws->path = NULL;
	return ret;
}

/* Every descriptor from `low` up closed (in a child about to work alone). */
static void close_from(int low)
{
	long max, fd;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)low, ~0u, 0u) == 0)
		return;
#endif
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = low; fd < max; fd++)
		close((int)fd);
}

int gate_workspace_remove_detached(struct gate_workspace *ws, struct gate_buf *err)
{
	pid_t pid, r;
	int status = -1;

	if (!ws->path)
		return 0;
	pid = fork();
	if (pid < 0)
		return gate_workspace_remove(ws, err);
	if (pid == 0) {
		/* the middle process: start the remover and leave at once */
		pid_t remover = fork(), chmodder;
		int null;

		if (remover != 0)
			_exit(remover < 0 ? 1 : 0);
		setsid();
		null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		/* no pipe of git's or of ours stays open in here */
		close_from(3);
		(void)setpriority(PRIO_PROCESS, 0, 10);
		/*
		 * Only exec after fork in a threaded process: another thread may
		 * hold malloc's lock.  rm -rf does not follow symlinks, and the
		 * path is our own mkdtemp directory, never pushed data.  But rm
		 * cannot enter the directories a command left without
		 * permissions (chmod 000, when not root): chmod -R gives them
		 * back first, and ignores the symbolic links it meets.
		 */
		chmodder = fork();
		if (chmodder == 0) {
			execl("/bin/chmod", "chmod", "-R", "u+rwx", "--", ws->path, (char *)NULL);
			_exit(1);
		}
		if (chmodder > 0)
			while (waitpid(chmodder, NULL, 0) < 0 && errno == EINTR)
				;
		execl("/bin/rm", "rm", "-rf", "--", ws->path, (char *)NULL);
		_exit(1);
	}
	do {
		r = waitpid(pid, &status, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return gate_workspace_remove(ws, err);
	free(ws->path);
	ws->path = NULL;
	return 0;
}
