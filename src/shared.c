#include "config.h"
#include "shared.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#include "banned.h"

#define PERM_GROUP 0660
#define PERM_EVERYBODY 0664

/* git's git_config_perm(), without dying on a bad value (it reads as umask) */
static int parse_perm(const char *value)
{
	char *end;
	long i;

	if (!strcmp(value, "umask") || !strcasecmp(value, "false") || !strcasecmp(value, "no") ||
	    !strcasecmp(value, "off") || !*value)
		return 0;
	if (!strcmp(value, "group") || !strcasecmp(value, "true") || !strcasecmp(value, "yes") ||
	    !strcasecmp(value, "on"))
		return PERM_GROUP;
	if (!strcmp(value, "all") || !strcmp(value, "world") || !strcmp(value, "everybody"))
		return PERM_EVERYBODY;
	errno = 0;
	i = strtol(value, &end, 8);
	if (*end || errno || i < 0 || i > 07777)
		return 0;
	switch (i) {
	case 0:
		return 0;
	case 1:
		return PERM_GROUP;
	case 2:
		return PERM_EVERYBODY;
	}
	if ((i & 0600) != 0600)
		return 0; /* git refuses such a repository before any hook runs */
	return -(int)(i & 0666);
}

int gate_shared_perm(const char *git_dir)
{
	git_config *cfg = NULL;
	git_buf val = { 0 };
	char *path;
	int ret = 0;

	if (!git_dir || !*git_dir)
		return 0;
	path = gate_xstrfmt("%s/config", git_dir);
	if (git_config_open_ondisk(&cfg, path) == 0 &&
	    git_config_get_string_buf(&val, cfg, "core.sharedrepository") == 0)
		ret = parse_perm(val.ptr);
	git_buf_dispose(&val);
	git_config_free(cfg);
	git_error_clear();
	free(path);
	return ret;
}

/* git's calc_shared_perm() and adjust_shared_perm() */
unsigned gate_shared_mode(int shared, unsigned mode)
{
	unsigned tweak = (unsigned)(shared < 0 ? -shared : shared), m = mode;

	if (!shared)
		return mode;
	if (!(m & S_IWUSR))
		tweak &= ~0222u;
	if (m & S_IXUSR)
		tweak |= (tweak & 0444) >> 2;
	if (shared < 0)
		m = (m & ~0777u) | tweak;
	else
		m |= tweak;
	if (S_ISDIR(mode)) {
		m |= (m & 0444) >> 2;
		m |= S_ISGID;
	}
	return m;
}

/* The mode to give a file or folder we own, or 0 when it needs none. */
static unsigned wanted(int shared, const struct stat *st)
{
	unsigned want;

	if (!shared || st->st_uid != geteuid())
		return 0;
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return 0;
	want = gate_shared_mode(shared, (unsigned)st->st_mode);
	if (!((want ^ (unsigned)st->st_mode) & 07777))
		return 0;
	return want & 07777;
}

/* `path` when not NULL, else the open `fd` */
static int adjust(int shared, int fd, const char *path)
{
	struct stat st;
	unsigned m;

	if (!shared)
		return 0;
	if ((path ? lstat(path, &st) : fstat(fd, &st)) < 0)
		return -1;
	m = wanted(shared, &st);
	if (!m)
		return 0;
	return path ? chmod(path, (mode_t)m) : fchmod(fd, (mode_t)m);
}

int gate_shared_fadjust(int shared, int fd)
{
	return adjust(shared, fd, NULL);
}

int gate_shared_adjust(int shared, const char *path)
{
	return adjust(shared, -1, path);
}

/*
 * Only folders made here get the shared mode: an existing one, maybe
 * outside the repository (/tmp, an admin's cache folder), is never
 * changed.
 */
static int mkdir_one(int shared, const char *path, unsigned mode)
{
	if (mkdir(path, (mode_t)mode) < 0)
		return errno == EEXIST ? 0 : -1;
	return gate_shared_adjust(shared, path);
}

int gate_shared_mkdir_p(int shared, const char *path)
{
	char *p, *s;
	int ret = 0;

	if (!shared)
		return gate_mkdir_p(path, 0777);
	p = gate_xstrdup(path);
	for (s = p + 1; *s; s++) {
		struct stat st;
		if (*s != '/')
			continue;
		*s = '\0';
		if (stat(p, &st) < 0 && mkdir_one(shared, p, 0777) < 0)
			ret = -1;
		*s = '/';
		if (ret)
			break;
	}
	if (!ret && mkdir_one(shared, p, 0777) < 0)
		ret = -1;
	free(p);
	return ret;
}

/* open(2); *created says whether this call made the file */
static int open_once(const char *path, int flags, unsigned mode, int *created)
{
	int fd;

	*created = 0;
	if ((flags & O_CREAT) && !(flags & O_EXCL)) {
		fd = open(path, flags & ~O_CREAT);
		if (fd >= 0 || errno != ENOENT)
			return fd;
		fd = open(path, flags | O_EXCL, (mode_t)mode);
		if (fd >= 0) {
			*created = 1;
			return fd;
		}
		if (errno != EEXIST)
			return -1;
		return open(path, flags & ~O_CREAT); /* another push made it just now */
	}
	fd = open(path, flags, (mode_t)mode);
	*created = fd >= 0 && (flags & O_CREAT);
	return fd;
}

int gate_shared_open(int shared, const char *path, int flags, unsigned mode)
{
	int fd, saved, created;

	fd = open_once(path, flags, mode, &created);
	if (fd < 0 && errno == ENOENT && (flags & O_CREAT)) {
		const char *slash = strrchr(path, '/');
		if (slash && slash != path) {
			char *dir = gate_xstrndup(path, (size_t)(slash - path));
			/* the folder's mode follows the file's: 0660 gives 0770 */
			int r = mkdir_one(shared, dir, (mode | ((mode & 0444) >> 2)) & 0777);
			saved = errno;
			free(dir);
			if (r < 0) {
				errno = saved;
				return -1;
			}
			fd = open_once(path, flags, mode, &created);
		}
	}
	if (fd < 0 || !shared || !created)
		return fd;
	if (gate_shared_fadjust(shared, fd) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static int open_shared(void *ctx, const char *path, int flags, unsigned mode)
{
	return gate_shared_open(*(int *)ctx, path, flags, mode);
}

int gate_shared_write_file(int shared, const char *path, const void *data, size_t len, int durable,
			   struct gate_buf *err)
{
	return gate_write_file_replace_with(path, data, len, open_shared, &shared, durable, err);
}

unsigned gate_shared_umask(int shared, unsigned current)
{
	unsigned want;

	if (!shared)
		return current;
	if (shared < 0) {
		/* the exact mode for files; folders get search where files have read */
		want = (unsigned)-shared & 0777;
		return 0777 & ~(want | ((want & 0444) >> 2));
	}
	want = (unsigned)shared | (((unsigned)shared & 0444) >> 2);
	return current & ~want & 0777;
}
