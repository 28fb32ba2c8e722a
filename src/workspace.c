#include "config.h"
#include "workspace.h"
#include "repo.h"
#include "run-command.h"

#include <dirent.h>
#include <stdio.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banned.h"

const char *gate_workspace_root(const char *root)
{
	if (!root || !*root)
		root = getenv("TMPDIR");
	if (!root || !*root)
		root = "/tmp";
	return root;
}

/*
 * The lock is made under a temporary name, locked, then renamed into
 * place: a sweeper never sees a lock file that is not held yet.
 */
static int take_lock(const char *path, struct gate_buf *err)
{
	char *tmp = gate_xstrfmt("%s.tmp", path);
	int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		gate_error(err, "cannot create '%s': %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (flock(fd, LOCK_EX) < 0 || rename(tmp, path) < 0) {
		gate_error(err, "cannot lock '%s': %s", path, strerror(errno));
		close(fd);
		(void)unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return fd;
}

int gate_workspace_create(struct gate_workspace *ws, const char *root, struct gate_buf *err)
{
	char *tmpl, *abs = NULL, *lock;
	int fd;

	root = gate_workspace_root(root);
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
	lock = gate_xstrfmt("%s.lock", abs);
	fd = take_lock(lock, err);
	free(lock);
	if (fd < 0) {
		(void)rmdir(abs);
		free(abs);
		return -1;
	}
	ws->path = abs;
	ws->lock_fd = fd;
	return 0;
}

int gate_workspace_sweep(const char *root)
{
	struct gate_buf err = GATE_BUF_INIT;
	struct dirent *de;
	DIR *d;
	int n = 0;

	root = gate_workspace_root(root);
	d = opendir(root);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char *lock, *dir;
		int fd;

		if (strncmp(de->d_name, "git-gate-", 9) || len != 9 + 6 + 5 || !gate_ends_with(de->d_name, ".lock"))
			continue;
		lock = gate_xstrfmt("%s/%s", root, de->d_name);
		fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
			/* nobody holds it: its run is dead */
			struct stat st;
			dir = gate_xstrndup(lock, strlen(lock) - 5);
			gate_buf_reset(&err);
			if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || gate_remove_tree(dir, &err) == 0) {
				(void)unlink(lock);
				n++;
			}
			free(dir);
		}
		if (fd >= 0)
			close(fd);
		free(lock);
	}
	closedir(d);
	gate_buf_release(&err);
	return n;
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
	struct gate_tree_plan plan = GATE_TREE_PLAN_INIT;
	int ret = gate_tree_plan_make(&plan, git_dir, tree_id, err);

	if (ret == 0)
		ret = gate_workspace_checkout_plan(ws, &plan, nfiles, err);
	gate_tree_plan_release(&plan);
	return ret;
}

int gate_workspace_checkout_plan(struct gate_workspace *ws, const struct gate_tree_plan *plan, size_t *nfiles,
				 struct gate_buf *err)
{
	git_tree *tree = NULL;
	git_index *idx = NULL;
	git_checkout_options opts;
	struct gate_strvec gitlinks = GATE_STRVEC_INIT;
	size_t i, n, count;
	int ret = -1;

	if (!ws->path)
		return gate_error(err, "no workspace to check out into");
	/* every path was judged by the plan before anything is written */
	if (git_tree_lookup(&tree, plan->repo, &plan->tree) < 0) {
		gate_error(err, "cannot read tree %s: %s", git_oid_tostr_s(&plan->tree), gate_git_error());
		goto out;
	}
	/* An in-memory index: nothing is written to $GIT_DIR/index. */
	if (git_index_new(&idx) < 0 || git_index_read_tree(idx, tree) < 0) {
		gate_error(err, "cannot read tree %s: %s", git_oid_tostr_s(&plan->tree), gate_git_error());
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
	if (count && git_checkout_index(plan->repo, idx, &opts) < 0) {
		gate_error(err, "cannot check out tree %s into '%s': %s", git_oid_tostr_s(&plan->tree), ws->path,
			   gate_git_error());
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
	gate_strvec_clear(&gitlinks);
	git_index_free(idx);
	git_tree_free(tree);
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

	if (ws->path) {
		ret = gate_remove_tree(ws->path, err);
		if (ret == 0) {
			char *lock = gate_xstrfmt("%s.lock", ws->path);
			(void)unlink(lock);
			free(lock);
		}
	}
	if (ws->lock_fd >= 0)
		close(ws->lock_fd);
	ws->lock_fd = -1;
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
	char *lock;

	if (!ws->path)
		return 0;
	lock = gate_xstrfmt("%s.lock", ws->path);
	pid = fork();
	if (pid < 0) {
		free(lock);
		return gate_workspace_remove(ws, err);
	}
	if (pid == 0) {
		/* the middle process: start the remover and leave at once */
		pid_t remover = fork(), chmodder;
		int null;

		if (remover != 0)
			_exit(remover < 0 ? 1 : 0);
		gate_child_reset_signals();
		setsid();
		null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		/* the lock stays held (as descriptor 3) until rm is done */
		if (ws->lock_fd >= 0 && ws->lock_fd != 3 && dup2(ws->lock_fd, 3) == 3)
			(void)fcntl(3, F_SETFD, 0);
		else if (ws->lock_fd == 3)
			(void)fcntl(3, F_SETFD, 0);
		/* no pipe of git's or of ours stays open in here */
		close_from(ws->lock_fd >= 0 ? 4 : 3);
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
		execl("/bin/rm", "rm", "-rf", "--", ws->path, lock, (char *)NULL);
		_exit(1);
	}
	do {
		r = waitpid(pid, &status, 0);
	} while (r < 0 && errno == EINTR);
	free(lock);
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return gate_workspace_remove(ws, err);
	if (ws->lock_fd >= 0)
		close(ws->lock_fd);
	ws->lock_fd = -1;
	free(ws->path);
	ws->path = NULL;
	return 0;
}

/* ---- planning a checkout, and the tree as a tar stream ---- */

struct plan_walk {
	struct gate_tree_plan *plan;
	git_odb *odb;
	char *bad;
	int error;
};

static int plan_entry(const char *root, const git_tree_entry *entry, void *payload)
{
	struct plan_walk *w = payload;
	struct gate_tree_plan *p = w->plan;
	struct gate_tree_entry *e;
	char *path = gate_xstrfmt("%s%s", root, git_tree_entry_name(entry));
	unsigned mode = (unsigned)git_tree_entry_filemode_raw(entry);
	uint64_t size = 0;

	if (!gate_workspace_path_safe(path)) {
		w->bad = path;
		return -1;
	}
	if ((mode & 0170000) == 0100000 || (mode & 0170000) == 0120000) {
		size_t len = 0;
		git_object_t type;
		if (git_odb_read_header(&len, &type, w->odb, git_tree_entry_id(entry)) < 0) {
			w->error = 1;
			free(path);
			return -1;
		}
		size = len;
	}
	GATE_ALLOC_GROW(p->v, p->nr + 1, p->alloc);
	e = &p->v[p->nr++];
	e->path = path;
	e->mode = mode;
	memcpy(e->id, git_tree_entry_id(entry)->id, 20);
	e->size = size;
	p->bytes += size;
	p->disk += size > GATE_BLOCK ? (size + GATE_BLOCK - 1) / GATE_BLOCK * GATE_BLOCK : GATE_BLOCK;
	return 0;
}

int gate_tree_plan_make(struct gate_tree_plan *plan, const char *git_dir, const char *tree_id,
			struct gate_buf *err)
{
	struct plan_walk w = { plan, NULL, NULL, 0 };
	git_tree *tree = NULL;
	git_oid oid;
	const char **files = NULL;
	const char *why = NULL;
	size_t i, nfiles = 0;
	long bad;
	int ret = -1;

	if (git_oid_fromstr(&oid, tree_id) < 0)
		return gate_error(err, "'%s' is not a tree id", tree_id);
	if (gate_workspace_open_repo(&plan->repo, git_dir, err) < 0)
		return -1;
	plan->tree = oid;
	if (git_tree_lookup(&tree, plan->repo, &oid) < 0 || git_repository_odb(&w.odb, plan->repo) < 0) {
		gate_error(err, "cannot read tree %s: %s", tree_id, gate_git_error());
		goto out;
	}
	if (git_tree_walk(tree, GIT_TREEWALK_PRE, plan_entry, &w) < 0 && !w.bad) {
		gate_error(err, "cannot read tree %s: %s", tree_id, gate_git_error());
		goto out;
	}
	if (w.bad) {
		gate_buf_reset(err);
		gate_buf_adds(err, "the tree holds the path '");
		gate_buf_adds(err, w.bad); /* raw: the report neutralises it */
		gate_buf_adds(err, "', which is not a safe relative path (an empty, '.', '..' or '.git' component, "
				   "or absolute)");
		ret = GATE_EUNSAFE;
		goto out;
	}
	files = gate_xcalloc(plan->nr + 1, sizeof(*files));
	for (i = 0; i < plan->nr; i++)
		if ((plan->v[i].mode & 0170000) != 0040000)
			files[nfiles++] = plan->v[i].path;
	qsort(files, nfiles, sizeof(*files), cmp_str);
	bad = gate_workspace_check_paths(files, nfiles, &why);
	if (bad >= 0) {
		gate_buf_reset(err);
		gate_buf_adds(err, "the tree holds the path '");
		gate_buf_adds(err, files[bad]);
		gate_buf_addf(err, "', which %s", why);
		ret = GATE_EUNSAFE;
		goto out;
	}
	ret = 0;
out:
	free(files);
	free(w.bad);
	git_odb_free(w.odb);
	git_tree_free(tree);
	git_error_clear();
	return ret;
}

void gate_tree_plan_release(struct gate_tree_plan *plan)
{
	size_t i;

	for (i = 0; i < plan->nr; i++)
		free(plan->v[i].path);
	free(plan->v);
	git_repository_free(plan->repo);
	memset(plan, 0, sizeof(*plan));
}

#define TAR_BLOCK 512

static void tar_octal(char *field, size_t width, uint64_t v)
{
	/* width - 1 digits and a NUL */
	size_t i = width - 1;

	field[i] = '\0';
	while (i > 0) {
		field[--i] = (char)('0' + (v & 7));
		v >>= 3;
	}
}

/* Zeros after `len` bytes of an entry's data, up to the next block. */
static void tar_pad(struct gate_buf *b, size_t len)
{
	static const char zeros[TAR_BLOCK];

	if (len % TAR_BLOCK)
		gate_buf_add(b, zeros, TAR_BLOCK - len % TAR_BLOCK);
}

/* One ustar header block. */
static void tar_header(struct gate_buf *b, const char *name, size_t name_len, unsigned mode, uint64_t size,
		       char type, const char *link, size_t link_len, time_t now)
{
	char h[TAR_BLOCK];
	unsigned sum = 0;
	size_t i;

	memset(h, 0, sizeof(h));
	memcpy(h, name, name_len < 100 ? name_len : 100);
	tar_octal(h + 100, 8, mode);
	tar_octal(h + 108, 8, 0);
	tar_octal(h + 116, 8, 0);
	tar_octal(h + 124, 12, size < 077777777777ull ? size : 0);
	tar_octal(h + 136, 12, (uint64_t)now);
	h[156] = type;
	if (link)
		memcpy(h + 157, link, link_len < 100 ? link_len : 100);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (i = 0; i < TAR_BLOCK; i++)
		sum += (unsigned char)h[i];
	tar_octal(h + 148, 7, sum);
	h[155] = ' ';
	gate_buf_add(b, h, sizeof(h));
}

/* A pax record "LEN key=value\n", LEN counting itself. */
static void pax_record(struct gate_buf *r, const char *key, const char *value, size_t value_len)
{
	size_t base = strlen(key) + value_len + 3, len = base + 1, digits;
	char tmp[32];

	for (;;) {
		digits = (size_t)snprintf(tmp, sizeof(tmp), "%zu", len);
		if (base + digits == len)
			break;
		len = base + digits;
	}
	gate_buf_addf(r, "%zu %s=", len, key);
	gate_buf_add(r, value, value_len);
	gate_buf_addch(r, '\n');
}

/* Headers for one entry (a pax header first when a name, link or size does not fit). */
static void tar_entry(struct gate_buf *b, const char *path, unsigned mode, uint64_t size, char type,
		      const char *link, size_t link_len, time_t now)
{
	struct gate_buf name = GATE_BUF_INIT, pax = GATE_BUF_INIT;

	gate_buf_adds(&name, path);
	if (type == '5')
		gate_buf_addch(&name, '/');
	if (name.len > 100)
		pax_record(&pax, "path", name.ptr, name.len);
	if (link && link_len > 100)
		pax_record(&pax, "linkpath", link, link_len);
	if (size >= 077777777777ull) {
		char num[32];
		int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
		pax_record(&pax, "size", num, (size_t)n);
	}
	if (pax.len) {
		tar_header(b, "././@PaxHeader", 14, 0644, pax.len, 'x', NULL, 0, now);
		gate_buf_add(b, pax.ptr, pax.len);
		tar_pad(b, pax.len);
	}
	tar_header(b, name.ptr, name.len, mode, size, type, link, link_len, now);
	gate_buf_release(&name);
	gate_buf_release(&pax);
}

int gate_tree_tar_next(struct gate_tree_tar *t, const char **data, size_t *len, struct gate_buf *err)
{
	static const char zeros[TAR_BLOCK];
	time_t now = time(NULL);

	for (;;) {
		if (t->head_off < t->head.len) {
			*data = t->head.ptr + t->head_off;
			*len = t->head.len - t->head_off;
			return 1;
		}
		if (t->blob && t->off < t->len) {
			*data = t->data + t->off;
			*len = t->len - t->off;
			return 1;
		}
		gate_buf_reset(&t->head);
		t->head_off = 0;
		if (t->blob) {
			git_blob_free(t->blob);
			t->blob = NULL;
		}
		if (t->pad) {
			gate_buf_add(&t->head, zeros, t->pad);
			t->pad = 0;
		}
		if (t->ended)
			return t->head.len ? 1 : 0;
		if (t->next >= t->plan->nr) {
			/* two zero blocks end the archive */
			gate_buf_add(&t->head, zeros, TAR_BLOCK);
			gate_buf_add(&t->head, zeros, TAR_BLOCK);
			t->ended = 1;
			continue;
		}
		{
			const struct gate_tree_entry *e = &t->plan->v[t->next++];
			unsigned kind = e->mode & 0170000;
			git_oid oid;
			git_blob *blob = NULL;

			if (kind == 0040000 || kind == 0160000) {
				tar_entry(&t->head, e->path, 0755, 0, '5', NULL, 0, now);
				continue;
			}
			memcpy(oid.id, e->id, 20);
			if (git_blob_lookup(&blob, t->plan->repo, &oid) < 0) {
				gate_error(err, "cannot read '%s': %s", e->path, gate_git_error());
				git_error_clear();
				return -1;
			}
			if (kind == 0120000) {
				const char *target = git_blob_rawcontent(blob);
				size_t n = (size_t)git_blob_rawsize(blob);
				const char *nul = memchr(target, '\0', n);
				tar_entry(&t->head, e->path, 0777, 0, '2', target, nul ? (size_t)(nul - target) : n, now);
				git_blob_free(blob);
				continue;
			}
			t->blob = blob;
			t->data = git_blob_rawcontent(blob);
			t->len = (size_t)git_blob_rawsize(blob);
			t->off = 0;
			t->pad = t->len % TAR_BLOCK ? TAR_BLOCK - t->len % TAR_BLOCK : 0;
			tar_entry(&t->head, e->path, (e->mode & 0111) ? 0755 : 0644, t->len, '0', NULL, 0, now);
		}
	}
}

void gate_tree_tar_advance(struct gate_tree_tar *t, size_t n)
{
	if (t->head_off < t->head.len) {
		t->head_off += n;
		return;
	}
	t->off += n;
}

void gate_tree_tar_release(struct gate_tree_tar *t)
{
	git_blob_free(t->blob);
	t->blob = NULL;
	gate_buf_release(&t->head);
}
