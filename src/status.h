#ifndef GATE_STATUS_H
#define GATE_STATUS_H

/*
 * What `git gate status` and the status site show: the protected refs
 * with their tips and last decisions, the last decisions, the counts of
 * the last 7 and 30 days, and the flaky trees, gathered from the status
 * summary (summary.h) and the repository.
 *
 *   struct gate_status st = GATE_STATUS_INIT;
 *   if (gate_status_collect(&st, repo, cfg, NULL, &err) == 0) {
 *       gate_status_format_text(&out, &st, isatty(1), 10);
 *       gate_status_write_site(&st, "public/", &err);
 *   }
 *   gate_status_release(&st);
 */

#include <time.h>

#include "policy.h"
#include "queue.h"
#include "repo.h"
#include "summary.h"

#define GATE_STATUS_MAX_REFS 20

/* A ref's state as the badge shows it. */
enum gate_status_state {
	GATE_STATUS_UNKNOWN,  /* no decision about it yet */
	GATE_STATUS_PASSING,  /* its last decision accepted the update */
	GATE_STATUS_FAILING,  /* its last decision rejected one */
};

struct gate_status_ref {
	char *name;
	char tip[41];                         /* "" when the ref does not exist */
	char *tip_subject;
	const struct gate_summary_ref *last;  /* points into the summary, or NULL */
	/*
	 * The merge queue's latest landing on this ref when it is newer than
	 * `last` (points into the queue's items), or NULL.  A landing counts
	 * as a passing decision: main moved only after its checks passed.
	 */
	const struct gate_queue_item *landed;
	enum gate_status_state state;
};

/* How many decided items of a branch the queue section shows. */
#define GATE_STATUS_QUEUE_DECIDED 10

/* One branch of the merge queue, as `git gate status` and the site show it. */
struct gate_status_queue {
	char *branch;                          /* refs/heads/main */
	struct gate_queue_item **pending;      /* waiting and testing, in queue order */
	size_t npending;
	struct gate_queue_item **decided;      /* the last GATE_STATUS_QUEUE_DECIDED decided, newest first */
	size_t ndecided;
};

struct gate_status {
	struct gate_summary sum;
	char *repository;       /* the git directory */
	char *name;             /* its name for titles, e.g. "project.git" */
	char *default_branch;
	char *only_ref;         /* `git gate status REF` */
	int has_log;            /* an audit log to read (audit_log is not off) */
	time_t now;
	long today;
	struct gate_status_ref *refs; /* the default branch first */
	size_t nrefs;
	struct gate_summary_window w7, w30;
	/* the merge queue (queue.h), when the repository has one */
	int queue_used;                        /* GIT_DIR/git-gate/queue exists */
	int queue_runner;                      /* a runner is active */
	struct gate_queue_item **queue_items;  /* every item (decided ones: 30 days), owned here */
	size_t nqueue_items;
	struct gate_status_queue *queues;      /* by branch: the default branch first */
	size_t nqueues;
};

#define GATE_STATUS_INIT { 0 }

/*
 * Catch the summary up with the audit log (saving it when allowed) and
 * gather the rest from the repository.  `only_ref`: just that ref.
 */
int gate_status_collect(struct gate_status *st, const struct gate_repo *repo, const struct gate_config *cfg,
			const char *only_ref, struct gate_buf *err);
void gate_status_release(struct gate_status *st);

const char *gate_status_state_name(enum gate_status_state s);

/* The terminal summary; `color`: ANSI colours; `nrecent`: decisions listed. */
void gate_status_format_text(struct gate_buf *out, const struct gate_status *st, int color, int nrecent);
/* The same as one JSON document. */
void gate_status_format_json(struct gate_buf *out, const struct gate_status *st, int nrecent);

/* The status site (index.html, badge.svg, badge.json, metrics.prom) into `dir`. */
int gate_status_write_site(const struct gate_status *st, const char *dir, struct gate_buf *err);

/*
 * For the hooks: when the policy sets `status_dir`, refresh the site
 * there.  0 when done or not configured; -1 with a message for the admin.
 */
int gate_status_refresh_site(const struct gate_config *cfg, const struct gate_repo *repo, struct gate_buf *err);

/* The parts of the site, for tests. */
void gate_status_html(struct gate_buf *out, const struct gate_status *st);
void gate_status_badge_svg(struct gate_buf *out, const struct gate_status *st);
void gate_status_badge_json(struct gate_buf *out, const struct gate_status *st);
void gate_status_metrics(struct gate_buf *out, const struct gate_status *st);

#endif
