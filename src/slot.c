#include "config.h"
#include "slot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

static int private_dir(const char *dir, struct gate_buf *err)
{
	struct stat st;
	char *parent = gate_xstrdup(dir), *slash = strrchr(parent, '/');

	/* the workspace root, made when missing as a workspace would make it */
	if (slash && slash != parent) {
		*slash = '\0';
		(void)gate_mkdir_p(parent, 0777);
	}
	free(parent);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return gate_error(err, "cannot create '%s': %s", dir, strerror(errno));
	if (lstat(dir, &st) < 0)
		return gate_error(err, "cannot read '%s': %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return gate_error(err,
				  "'%s' is not a directory of this account that only it can write; remove it (it "
				  "holds the locks of max_concurrent_commands)",
				  dir);
	return 0;
}

int gate_slot_acquire(struct gate_slot *s, const char *dir, long max, double interval,
		      void (*waiting)(void *arg, double seconds), void *arg, struct gate_buf *err)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	double start = 0, next_note = 0;
	long i;

	if (private_dir(dir, err) < 0)
		return -1;
	for (;;) {
		for (i = 0; i < max; i++) {
			char *path = gate_xstrfmt("%s/slot-%ld", dir, i);
			int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
			if (fd < 0) {
				gate_error(err, "cannot open '%s': %s", path, strerror(errno));
				free(path);
				return -1;
			}
			free(path);
			if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
				s->fd = fd;
				return 0;
			}
			close(fd);
		}
		if (!start) {
			start = gate_now();
			next_note = start;
		}
		if (waiting && next_note && gate_now() >= next_note) {
			waiting(arg, gate_now() - start);
			next_note = interval > 0 ? next_note + interval : 0;
		}
		(void)nanosleep(&pause, NULL);
	}
}

void gate_slot_release(struct gate_slot *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
