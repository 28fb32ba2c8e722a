#ifndef GATE_REPO_H
#define GATE_REPO_H

/*
 * Access to the repository being pushed to.
 *
 * Inside pre-receive the pushed objects are still in quarantine: git sets
 * GIT_QUARANTINE_PATH (and GIT_OBJECT_DIRECTORY) to the incoming object
 * directory.  libgit2 is opened on the repository normally and the
 * quarantine added as an alternate, which also works when the path holds
 * a ':' (git quotes GIT_ALTERNATE_OBJECT_DIRECTORIES then, and libgit2's
 * FROM_ENV open would split it).  git plumbing children inherit git's own
 * environment and see the same objects.  Nothing here writes refs or an
 * index: git forbids that inside quarantine.
 */

#include <git2.h>

#include "util.h"

struct gate_repo {
	git_repository *git;
	char *git_dir;        /* absolute, no trailing slash */
	char *default_branch; /* what HEAD names, e.g. refs/heads/main */
	int quarantined;      /* objects of a push in progress are visible */
	/* Environment for git children: GIT_DIR, and nothing from pushes. */
	struct gate_strvec env;
};

/*
 * Open the repository at `path`, or when NULL the one the hook runs in
 * (GIT_DIR, else the current directory).  A SHA-256 repository is refused
 * with a clear message.
 */
int gate_repo_open(struct gate_repo **out, const char *path, struct gate_buf *err);
void gate_repo_free(struct gate_repo *repo);

/*
 * -1 with a clear message when the repository at `path` (a git directory,
 * or a work tree with .git) uses an object format git-gate cannot read.
 */
int gate_repo_check_format(const char *path, struct gate_buf *err);

struct gate_ref {
	char *name;
	char id[41];     /* what the ref points at */
	char commit[41]; /* peeled to a commit, or "" when it is not one */
};

/* Every ref as it is before the push (git for-each-ref). */
int gate_repo_refs(struct gate_repo *repo, struct gate_ref **out, size_t *nr, struct gate_buf *err);
void gate_refs_free(struct gate_ref *refs, size_t nr);

/*
 * A push to a symbolic ref moves the ref it points to (git updates
 * through it, with the target's old value): *out is that final target,
 * followed through further symbolic refs (it may not exist yet: a
 * dangling symbolic ref creates it), or NULL when `ref` is not a
 * symbolic ref.  -1 for a loop, a chain longer than git follows, or a
 * target that is not a well-formed ref name.  The caller frees *out.
 */
#define GATE_SYMREF_MAXDEPTH 5
int gate_repo_symref_target(struct gate_repo *repo, const char *ref, char **out, struct gate_buf *err);

/* Object type of `id` ("commit", "tag", ...) or GATE_ENOTFOUND. */
int gate_repo_object_type(struct gate_repo *repo, const char *id, git_object_t *type, struct gate_buf *err);
/* Peel `id` to a commit; GATE_ENOTFOUND when it does not lead to one. */
int gate_repo_peel_commit(struct gate_repo *repo, const char *id, char out[41], struct gate_buf *err);
/* *out = whether `ancestor` is reachable from `descendant` (or equal). */
int gate_repo_is_ancestor(struct gate_repo *repo, const char *ancestor, const char *descendant, int *out,
			  struct gate_buf *err);
/* Read a blob's content (for the rare lookups outside the bulk scan). */
int gate_repo_read_blob(struct gate_repo *repo, const char *id, struct gate_buf *out, struct gate_buf *err);

/* The libgit2 error, or a fallback. */
const char *gate_git_error(void);

#endif
