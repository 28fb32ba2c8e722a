#ifndef GATE_WORKSPACE_H
#define GATE_WORKSPACE_H

/*
 * Workspaces: a commit's tree written to a private temporary directory
 * for a command check to build and test in, and removed afterwards.
 *
 *   struct gate_workspace ws = GATE_WORKSPACE_INIT;
 *   gate_workspace_create(&ws, root, err);          root/git-gate-XXXXXX, mode 0700
 *   gate_workspace_checkout(&ws, git_dir, tree, &nfiles, err);
 *   ... run the command in ws.path ...
 *   gate_workspace_remove(&ws, err);                whatever happened
 *
 * The directory comes from mkdtemp(), so concurrent pushes never share
 * one.  The checkout opens its own libgit2 repository (safe on any
 * thread) with the push's quarantined objects added (GIT_QUARANTINE_PATH).
 * Pushed trees are hostile: before anything is written every path is
 * checked (relative, no empty, ".", ".." or ".git" component, nothing
 * below a symlink, a submodule or a file), so nothing is ever written
 * outside the workspace.  Submodules (gitlinks) become empty directories;
 * symlinks are written as symlinks.  Removal never follows a symlink.
 */

#include <stddef.h>
#include <stdint.h>

#include <git2/oid.h>

#include "util.h"

struct git_repository;
struct git_blob;

/* gate_workspace_checkout: the tree holds a path that cannot be written safely. */
#define GATE_EUNSAFE -5

struct gate_workspace {
	char *path; /* absolute; NULL when none was created */
	/*
	 * PATH.lock, flock()ed while the workspace is in use (by the hook,
	 * then by the process removing it): a workspace whose lock nobody
	 * holds belongs to a run that died, and the next run sweeps it.
	 */
	int lock_fd;
};

#define GATE_WORKSPACE_INIT { NULL, -1 }

/*
 * Create a private directory under `root` (created when missing; NULL or
 * "": $TMPDIR, else /tmp), with its lock held.
 */
int gate_workspace_create(struct gate_workspace *ws, const char *root, struct gate_buf *err);

/*
 * Write the tree `tree_id` (40 hex) of the repository at `git_dir` into
 * the workspace.  *nfiles (may be NULL) gets the number of entries
 * written.  Returns 0, GATE_EUNSAFE with the offending path described in
 * `err` (a verdict about the tree, not a failure), or -1.
 */
int gate_workspace_checkout(struct gate_workspace *ws, const char *git_dir, const char *tree_id, size_t *nfiles,
			    struct gate_buf *err);

/* The same with a plan already made (gate_tree_plan_make). */
struct gate_tree_plan;
int gate_workspace_checkout_plan(struct gate_workspace *ws, const struct gate_tree_plan *plan, size_t *nfiles,
				 struct gate_buf *err);

/*
 * Open the repository at `git_dir` for this thread alone (libgit2 objects
 * must not be shared between threads), with the push's quarantined
 * objects visible when GIT_QUARANTINE_PATH is set.
 */
struct git_repository;
int gate_workspace_open_repo(struct git_repository **out, const char *git_dir, struct gate_buf *err);

/* The workspace root a `root` setting means: itself, else $TMPDIR, else /tmp. */
const char *gate_workspace_root(const char *root);

/*
 * Remove the workspaces under `root` left by runs that died (killed
 * hooks, crashed machines): those whose lock file nobody holds.
 * Workspaces of live runs are never touched.  Returns how many were
 * removed.
 */
int gate_workspace_sweep(const char *root);

/*
 * What checking out a tree would write, known before writing anything:
 * every entry (pre-order: a directory before what it holds), the bytes
 * of content, and the space it takes on disk, counting each file, link
 * and directory as at least one 4 KiB block (so that a tree of many
 * tiny files is as costly as it really is).
 */
struct gate_tree_entry {
	char *path;    /* raw bytes from the tree */
	unsigned mode; /* git's: 040000, 0100644, 0100755, 0120000, 0160000 */
	unsigned char id[20];
	uint64_t size; /* blobs: the content's size */
};

struct gate_tree_plan {
	struct git_repository *repo;
	git_oid tree;
	struct gate_tree_entry *v;
	size_t nr, alloc;
	uint64_t bytes; /* content of files and links */
	uint64_t disk;  /* the estimate above */
};

#define GATE_TREE_PLAN_INIT { NULL, { { 0 } }, NULL, 0, 0, 0, 0 }
#define GATE_BLOCK 4096u

/*
 * Plan the checkout of `tree_id` from the repository at `git_dir`: 0,
 * GATE_EUNSAFE with the offending path in `err` (as for
 * gate_workspace_checkout), or -1.
 */
int gate_tree_plan_make(struct gate_tree_plan *plan, const char *git_dir, const char *tree_id,
			struct gate_buf *err);
void gate_tree_plan_release(struct gate_tree_plan *plan);

/*
 * The planned tree as a POSIX tar stream (pax headers for long names and
 * big files), produced piece by piece for a non-blocking pipe:
 *
 *   struct gate_tree_tar t = GATE_TREE_TAR_INIT;
 *   t.plan = &plan;
 *   while ((r = gate_tree_tar_next(&t, &data, &len, err)) == 1) {
 *           n = write(fd, data, len); ... gate_tree_tar_advance(&t, n);
 *   }
 *   gate_tree_tar_release(&t);
 *
 * Files get mode 0644 or 0755, directories 0755, submodules an empty
 * directory, symlinks their target, every entry the current time.
 */
struct gate_tree_tar {
	const struct gate_tree_plan *plan;
	size_t next;           /* the next entry to describe */
	struct gate_buf head;  /* headers and padding not written yet */
	size_t head_off;
	struct git_blob *blob; /* the file being written */
	const char *data;
	size_t len, off, pad;
	int ended;
};

#define GATE_TREE_TAR_INIT { NULL, 0, GATE_BUF_INIT, 0, NULL, NULL, 0, 0, 0, 0 }

/* 1 with the next bytes to write, 0 when all is written, -1 with a message. */
int gate_tree_tar_next(struct gate_tree_tar *t, const char **data, size_t *len, struct gate_buf *err);
/* `n` bytes of what gate_tree_tar_next gave were written. */
void gate_tree_tar_advance(struct gate_tree_tar *t, size_t n);
void gate_tree_tar_release(struct gate_tree_tar *t);

/* Remove the workspace and all it holds; ws->path is freed. */
int gate_workspace_remove(struct gate_workspace *ws, struct gate_buf *err);

/*
 * Remove the workspace in a detached background process (stdin, stdout
 * and stderr on /dev/null, no other descriptor kept), so that a push does
 * not wait for thousands of unlinks; when no process can be started it
 * is removed here instead.  ws->path is freed.
 */
int gate_workspace_remove_detached(struct gate_workspace *ws, struct gate_buf *err);

/*
 * Whether `path` (a path from a tree, raw bytes) may be written below a
 * directory: relative, without empty, ".", ".." or ".git" components
 * (".git" in any letter case).
 */
int gate_workspace_path_safe(const char *path);

/*
 * Check the entries of a tree before writing any of them.  `paths` are
 * the tree's non-directory entries (files, symlinks, submodules), sorted
 * bytewise as git's index is.  Each must be safe, and none may lie below
 * another (below a symlink it would be written through the link).
 * Returns the index of the first bad entry, or -1 when all are fine;
 * *why then says what is wrong with it.
 */
long gate_workspace_check_paths(const char *const *paths, size_t n, const char **why);

/* Delete a directory tree without following symlinks; ENOENT is fine. */
int gate_remove_tree(const char *path, struct gate_buf *err);

#endif
