#ifndef GATE_SCAN_H
#define GATE_SCAN_H

/*
 * The scan engine: works out which commits each check must judge, reads
 * every new object once, and feeds the check hooks (check.h).
 *
 * Which commits a check judges for a ref update: those reachable from the
 * new value that are neither on the old value nor covered by the check's
 * judged record (judged.h: what it judged and passed in enforce mode, and
 * history grandfathered when it started to apply).  A commit first pushed
 * to an unchecked or warn-mode branch, or through a bypass, is thus still
 * judged when it reaches a checked one, while a new branch made from main
 * re-judges nothing.  Without a record (git gate check in a clone, replay)
 * the tips of the other refs whose rule enforces the check stand in for it.
 *
 * How the content is read: git's own plumbing, which is present wherever
 * a hook runs and reads packs several times faster than libgit2 1.5.
 * `git rev-list` lists the commits, one `git cat-file --batch` reads each
 * commit and each new blob once, and `git diff-tree --stdin` gives every
 * commit's changes against its first parent.  Blob content is analysed on
 * a second thread while the changes are still being listed, in the
 * buffer it was read into.  A small push (a few commits, few and small
 * blobs) is read in this process with libgit2 instead: starting the
 * cat-file children was most of its cost.
 *
 *   struct gate_scan *s;
 *   gate_scan_new(&s, repo, cfg, push, err);
 *   gate_scan_set_judged(s, records);     optional: the judged records
 *   gate_scan_collect(s, jobs, n, err);    commits per job
 *   gate_scan_content(s, jobs, n, err);    commit, change and blob hooks
 *   gate_scan_run_jobs(s, jobs, n, ...);   per-update hooks (commands)
 *   gate_scan_free(s);
 */

#include "check.h"
#include "policy.h"
#include "push.h"
#include "repo.h"

struct gate_scan;

/* One check applied to one ref update. */
struct gate_scan_job {
	const struct gate_update *update;
	const struct gate_check_def *def;
	struct gate_job job;          /* filled by gate_scan_collect */
	struct gate_findings findings; /* the verdict: empty means pass */
	double seconds;               /* time its own hooks took */
	char *note;                   /* shown in the report, e.g. a cache hit */
	char *error;                  /* set when the check could not judge */
	int ran;                      /* the check was evaluated */
	size_t ncommits_judged;       /* job.ncommits, kept by gate_evaluate after the scan is gone */
	int skipped;                  /* ... except its per-update hook (note says why) */
	int group;                    /* scan-internal */
};

int gate_scan_new(struct gate_scan **out, struct gate_repo *repo, const struct gate_config *cfg,
		  const struct gate_push *push, struct gate_buf *err);
void gate_scan_free(struct gate_scan *s);

struct gate_judged;
/*
 * The judged record of each check (indexed like cfg->checks; an entry may
 * be NULL or a record that does not exist yet).  Kept, not owned.
 */
void gate_scan_set_judged(struct gate_scan *s, struct gate_judged *const *records);

/*
 * The default branch's tip (peeled) when it counted as judged for check
 * `def` on `ref` (its rule enforces the check, and `ref` is another ref),
 * else NULL: what gate_scan_collect excluded besides the ref's old value
 * and the judged record.
 */
const char *gate_scan_default_tip(struct gate_scan *s, const struct gate_check_def *def, const char *ref);

/* Fill each job's commit list (oldest first). */
int gate_scan_collect(struct gate_scan *s, struct gate_scan_job *jobs, size_t n, struct gate_buf *err);

/*
 * Run the commit, change and blob hooks of the jobs' checks over their
 * commits, reading each new blob at most once.  Findings land in each
 * job; a hook that cannot judge sets job->error.  Returns -1 only when
 * the push's objects could not be read at all.
 */
int gate_scan_content(struct gate_scan *s, struct gate_scan_job *jobs, size_t n, struct gate_buf *err);

/*
 * Run the per-update `job` hooks of the given jobs; up to `parallel` at
 * once on threads (1: in order on this thread).
 */
int gate_scan_run_jobs(struct gate_scan *s, struct gate_scan_job *jobs, size_t n, long parallel,
		       struct gate_buf *err);

struct gate_repo *gate_scan_repo(struct gate_scan *s);

/*
 * State a check keeps between its hooks for the length of one push (a
 * cache, what it already reported): NULL until set, released by
 * gate_scan_free() with `free_fn`.  Only for the hooks that run on the
 * main thread (commit, change, blob_report); never from blob_scan.
 */
void *gate_scan_check_state(struct gate_scan *s, const struct gate_check_def *def);
void gate_scan_set_check_state(struct gate_scan *s, const struct gate_check_def *def, void *state,
			       void (*free_fn)(void *));
const struct gate_config *gate_scan_config(struct gate_scan *s);
const struct gate_push *gate_scan_push(struct gate_scan *s);

/* A new commit of this push by id, or NULL. */
const struct gate_commit *gate_scan_commit(struct gate_scan *s, const char *id);

/*
 * Read one blob outside the bulk pass (e.g. a file's previous version);
 * safe to call from hooks on any thread.
 */
int gate_scan_read_blob(struct gate_scan *s, const char *id, struct gate_buf *out, struct gate_buf *err);

/*
 * Print a progress line to the pusher ("git-gate: ..."), serialised
 * between threads.
 */
void gate_scan_progress(struct gate_scan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a raw commit object; exposed for tests. */
int gate_commit_parse(struct gate_commit *c, const char *id, const char *data, size_t len, struct gate_buf *err);
void gate_commit_release(struct gate_commit *c);

/* Largest blob whose content is held for the checks (larger ones: size only). */
#define GATE_SCAN_MAX_CONTENT (32u * 1024 * 1024)

#endif
