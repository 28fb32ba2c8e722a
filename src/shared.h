#ifndef GATE_SHARED_H
#define GATE_SHARED_H

#include <stddef.h>

/*
 * Files and folders git-gate creates, with the permissions git would give
 * them.  A repository made with `git init --shared=group` (or `all`, or an
 * octal mode) is written by several system users; git sets
 * core.sharedRepository and makes every file it creates group-writable
 * and every folder setgid (git's adjust_shared_perm()).  What git-gate
 * writes in such a repository (its git-gate/ folder, the verdict cache,
 * command logs, the audit log, ...) follows the same rule, so that the
 * second user to push is not locked out.
 *
 *   int shared = gate_shared_perm(repo->git_dir);
 *   if (gate_shared_mkdir_p(shared, dir) < 0) ... errno ...
 *   fd = gate_shared_open(shared, path, O_WRONLY | O_CREAT | O_EXCL, 0666);
 *
 * `shared` is git's own encoding: 0 leaves modes to the umask (the
 * default, core.sharedRepository = umask/false), a positive value holds
 * the bits to add (0660 for group/true, 0664 for all/world/everybody) and
 * a negative value is minus the exact mode (core.sharedRepository = 0640
 * gives -0640).  Like git, only what is created gets the shared mode:
 * existing files and folders (another account's, or an admin's folder
 * outside the repository) are never changed.
 */

/* core.sharedRepository of the repository at `git_dir` (its config file). */
int gate_shared_perm(const char *git_dir);

/* The mode git gives a file or folder of mode `mode` (type bits included). */
unsigned gate_shared_mode(int shared, unsigned mode);

/* Adjust an open file or folder we own; 0 or -1 with errno. */
int gate_shared_fadjust(int shared, int fd);
/* The same by path (not following a final symbolic link's target's owner). */
int gate_shared_adjust(int shared, const char *path);

/* mkdir -p; every folder it creates gets the shared mode (existing ones are left alone). */
int gate_shared_mkdir_p(int shared, const char *path);

/*
 * open(2) that gives a file it creates the shared mode (an existing file
 * is left as it is).
 * With O_CREAT, a missing last folder of `path` is created too (mode
 * `mode` with the read bits made search bits, 0660 gives 0770, then the
 * shared mode; its parent must exist).  -1 with errno.
 */
int gate_shared_open(int shared, const char *path, int flags, unsigned mode);

/*
 * The umask under which what another library creates (libgit2's loose
 * objects, its ref folders and lock files) gets the shared mode:
 * `current` with the shared bits taken out.  libgit2 does not read
 * core.sharedRepository.
 */
unsigned gate_shared_umask(int shared, unsigned current);

struct gate_buf;
/*
 * Replace the file at `path` with `data` as a whole (a temporary file in
 * the same folder, then rename(2)): readers see the old file or the new
 * one, never a part.  The new file gets the shared mode; `durable`: its
 * data is on disk before the rename (a record a crash must not empty).
 */
int gate_shared_write_file(int shared, const char *path, const void *data, size_t len, int durable,
			   struct gate_buf *err);

#endif
