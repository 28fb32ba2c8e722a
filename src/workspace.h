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

#include "util.h"

/* gate_workspace_checkout: the tree holds a path that cannot be written safely. */
#define GATE_EUNSAFE -5

struct gate_workspace {
	char *path; /* absolute; NULL when none was created */
};

#define GATE_WORKSPACE_INIT { NULL }

/*
 * Create a private directory under `root` (created when missing; NULL or
 * "": $TMPDIR, else /tmp).
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

/*
 * Open the repository at `git_dir` for this thread alone (libgit2 objects
 * must not be shared between threads), with the push's quarantined
 * objects visible when GIT_QUARANTINE_PATH is set.
 */
struct git_repository;
int gate_workspace_open_repo(struct git_repository **out, const char *git_dir, struct gate_buf *err);

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
