#ifndef GATE_QUEUE_H
#define GATE_QUEUE_H

/*
 * The merge queue: main only ever moves to a tree that passed.
 *
 * A developer pushes a change to refs/for/<branch> (git's proc-receive
 * hook, hooks/proc-receive.c); pre-receive has already judged ref
 * protection and the cheap checks of <branch>'s rule on it.  The change
 * becomes an item: a ref refs/gate-queue/<branch>/<N> that keeps its
 * objects (and that clients can fetch), and a small file of what is known
 * about it.  One runner per repository takes items in order, builds the
 * candidate (the item rebased onto, merged into or fast-forwarded from the
 * branch), judges it by the branch's rule through gate_evaluate (commit
 * checks on the item's own commits, command checks on the candidate's
 * tree, the verdict cache keyed by tree) and moves the branch with a
 * compare-and-swap on its old value.  Up to queue_batch items are stacked
 * and tested once; a failed batch is bisected.
 *
 * On disk, under GIT_DIR/git-gate/queue/:
 *   items/N         an undecided item (key value lines), replaced atomically
 *   items/decided/N         a decided one (kept 30 days)
 *   items/decided/N.report  the report of a rejected item
 *   next            the next item number
 *   lock            flock: held briefly around every change of the above
 *   runner.lock     flock: held by the one runner of this repository
 *   landing         the runner's journal while it moves a branch
 *   runner.log      what a runner started by the hook printed
 *
 * Crash safety: a runner killed at any moment loses no item (items are
 * refs and files, "testing" reads as "waiting" to the next runner) and
 * never leaves a branch at an untested commit (the branch moves only
 * after its candidate passed; the journal written before the move lets
 * the next runner finish recording a move that happened).
 */

#include <stdint.h>

#include "policy.h"
#include "push.h"
#include "repo.h"
#include "util.h"

#define GATE_QUEUE_PUSH_PREFIX "refs/for/"
#define GATE_QUEUE_REF_PREFIX "refs/gate-queue/"

enum gate_queue_state {
	GATE_QUEUE_WAITING,
	GATE_QUEUE_TESTING,
	GATE_QUEUE_LANDED,
	GATE_QUEUE_REJECTED,
	GATE_QUEUE_CANCELLED,
};

const char *gate_queue_state_name(enum gate_queue_state s);

struct gate_queue_item {
	long id;
	char *branch;        /* refs/heads/main */
	char *ref;           /* refs/gate-queue/main/7 */
	char tip[41];        /* what was pushed */
	char *user;          /* who pushed it */
	char *subject;       /* the tip's subject, neutralised */
	enum gate_queue_state state;
	int64_t queued, started, decided; /* Unix times; 0: not yet */
	char before[41];     /* the branch just before the item landed */
	char landed[41];     /* the branch's commit it landed as */
	char *reason;        /* why it was rejected or cancelled (one line) */
	char *batch;         /* the items tested with it last, e.g. "4 5 6" */
};

void gate_queue_item_free(struct gate_queue_item *it);
void gate_queue_items_free(struct gate_queue_item **items, size_t nr);

/* Whether a final state (landed, rejected, cancelled). */
int gate_queue_state_final(enum gate_queue_state s);

/*
 * For pre-receive: mark each update of `push` to refs/for/<name> whose
 * branch refs/heads/<name> has a queuing rule (update->target), so that
 * gate_evaluate judges it by that rule and leaves the command checks to
 * the queue.
 */
void gate_queue_mark_push(struct gate_push *push, const struct gate_config *cfg);

/*
 * The branch a push to `ref` (refs/for/<name>) is for, or NULL when it is
 * not such a ref; the caller frees.
 */
char *gate_queue_branch_of(const char *ref);

/*
 * Whether git hands the update `u` (a push to refs/for/<branch>) to the
 * proc-receive hook, by receive.procReceiveRefs as git reads it (git
 * config: the repository's, the global and the system files).  Without
 * that the push would create a plain ref and queue nothing.  1 yes, 0 no,
 * -1 with a message when it cannot tell.
 */
int gate_queue_routed(struct gate_repo *repo, const struct gate_update *u, struct gate_buf *err);

/* The queue's directory of a repository; the caller frees. */
char *gate_queue_dir(const char *git_dir);

/*
 * Queue `tip` for `branch`: a new item number, its ref and its file.
 * *out is the new item.
 */
int gate_queue_add(struct gate_queue_item **out, struct gate_repo *repo, const char *branch, const char *tip,
		   const char *user, struct gate_buf *err);

/*
 * Wait until a change of the queue in progress is done (the queue lock,
 * taken and let go).  The runner records a decision -- item file, audit
 * log, ledger -- under that lock, so after an item is seen decided, this
 * makes sure its records are written too.
 */
void gate_queue_settle(const char *git_dir);

/* Read item `id`: 0, GATE_ENOTFOUND, or -1 with a message. */
int gate_queue_load(struct gate_queue_item **out, const char *git_dir, long id, struct gate_buf *err);

/* The undecided items, oldest first; with decided_too also the decided ones. */
int gate_queue_list(struct gate_queue_item ***out, size_t *nr, const char *git_dir, int decided_too,
		    struct gate_buf *err);

/* How many undecided items of the same branch are ahead of `it`, plus one. */
size_t gate_queue_position(struct gate_queue_item *const *items, size_t nr, const struct gate_queue_item *it);

/*
 * Cancel item `id` (waiting or testing): its ref is removed, and a runner
 * testing it drops its result.  GATE_ENOTFOUND when there is no such
 * item; -1 when it is already decided.
 */
int gate_queue_cancel(const char *git_dir, long id, const char *who, struct gate_buf *err);

/*
 * Whether `user` may delete `ref` (refs/gate-queue/<branch>/<N>) to
 * cancel the item: it is undecided and `user` pushed it.
 */
int gate_queue_may_cancel_by_push(const char *git_dir, const char *ref, const char *user);

/*
 * Record a test run or a decision of the queue about items[0..n) of
 * `branch`: an audit record (hook "queue", the items, the candidate and
 * its tree, `verdict` -- passed, failed, landed, rejected or cancelled --
 * and `reason`), and for a decision a ledger line on each item's pushed
 * tip, from the item as stored (git-gate(1), THE LEDGER).  `cfg` may be
 * NULL (an invalid policy).  0, or -1 with a message (the decision stands).
 */
int gate_queue_record(struct gate_repo *repo, const struct gate_config *cfg, const char *branch,
		      struct gate_queue_item *const *items, size_t n, const char *candidate, const char *verdict,
		      const char *reason, struct gate_buf *err);

/*
 * After a push deleted `ref` (refs/gate-queue/<branch>/<N>, which only the
 * item's pusher may do): record the undecided item as cancelled by its
 * pusher, in its file, the audit log and the ledger, at once rather than
 * when a runner next looks.  0 (also when there is nothing to record), or
 * -1 with a message.
 */
int gate_queue_cancel_deleted(struct gate_repo *repo, const struct gate_config *cfg, const char *ref,
			      struct gate_buf *err);

/* The saved report of a rejected item (empty when there is none). */
int gate_queue_read_report(struct gate_buf *out, const char *git_dir, long id, struct gate_buf *err);

/* --- the runner (queue-run.c) --- */

struct gate_queue_run_opts {
	int once;     /* exit when the queue is empty (started by the hook) */
	int nowait;   /* give up at once when another runner is active */
	int verbose;  /* progress on stderr */
};

/*
 * Run the queue of the repository at `git_dir` until it is empty (once)
 * or forever.  Returns 0, 1 when another runner holds the lock (nowait),
 * or -1 with a message.
 */
int gate_queue_run(const char *git_dir, const struct gate_queue_run_opts *o, struct gate_buf *err);

/*
 * Start a detached runner (double fork, setsid, output to runner.log)
 * executing `argv` (e.g. the hook itself with --run-queue), unless one is
 * already active.  0, or -1 with a message.
 */
int gate_queue_spawn_runner(const char *git_dir, const char *const *argv, struct gate_buf *err);

/* Whether a runner holds the repository's runner lock. */
int gate_queue_runner_active(const char *git_dir);

#endif
