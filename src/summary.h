#ifndef GATE_SUMMARY_H
#define GATE_SUMMARY_H

/*
 * The status summary: what `git gate status` and the status site show,
 * kept up to date one decision at a time so that neither has to read the
 * whole audit log again (GIT_DIR/git-gate/status-summary).
 *
 * The summary remembers which audit log it has read and how far (path,
 * device, inode, byte offset).  Catching up reads only the records
 * appended since; when the log was rotated (another inode, or a shorter
 * file), the new file is read from its start and the counts go on.
 * Without a summary file the whole log is read once.  The file is a
 * cache: deleting it is always safe (it is rebuilt from the log).
 *
 *   struct gate_summary s = GATE_SUMMARY_INIT;
 *   if (gate_summary_refresh(&s, log_path, summary_path, &err) < 0) ...
 *   gate_summary_window(&s, gate_summary_today(), 7, &w);
 *   gate_summary_release(&s);
 *
 * Counted decisions are the pre-receive and update hooks' records; other
 * records (e.g. what happened after a decision) are skipped.  Days are
 * UTC days.  Times in the gate are kept as a histogram with buckets 10%
 * apart, so p50/p95 are exact to within 10%.
 */

#include <stdint.h>

#include "util.h"

#define GATE_SUMMARY_BUCKETS 160 /* bucket i: up to 1 ms * 1.1^i; the last one is open */
#define GATE_SUMMARY_DAYS 62     /* days of daily counts kept */
#define GATE_SUMMARY_RECENT 50   /* last decisions kept */
#define GATE_SUMMARY_REFS 1000   /* refs whose last decision is kept */
#define GATE_SUMMARY_FLAKY 50    /* flaky trees listed */
#define GATE_SUMMARY_FLAKY_DAYS 30

/* Fixed buckets of the all-time histogram exported as Prometheus metrics. */
#define GATE_SUMMARY_PROM_BUCKETS 13
extern const double gate_summary_prom_le[GATE_SUMMARY_PROM_BUCKETS];

/* How a decision ended. */
enum gate_summary_class {
	GATE_SUMMARY_ACCEPTED,
	GATE_SUMMARY_REJECTED,
	GATE_SUMMARY_BYPASSED, /* accepted with an audited bypass */
	GATE_SUMMARY_DRY_RUN,  /* -o gate.dry-run: judged, declined on purpose */
	GATE_SUMMARY_ERROR,    /* could not be judged: rejected (fail closed) */
	GATE_SUMMARY_NCLASS
};

const char *gate_summary_class_name(enum gate_summary_class c);


struct gate_summary_count {
	char *name;
	unsigned long n;
};

struct gate_summary_counts {
	struct gate_summary_count *v;
	size_t nr, alloc;
};

struct gate_summary_day {
	long day;                             /* days since 1970-01-01 (UTC) */
	unsigned long n[GATE_SUMMARY_NCLASS];
	double seconds;                       /* total time in the gate */
	uint32_t hist[GATE_SUMMARY_BUCKETS];  /* time in the gate */
	struct gate_summary_counts rejections; /* by check */
};

/* One decision as listed (the last decisions, a ref's last decision). */
struct gate_summary_decision {
	double time;     /* seconds since the epoch */
	enum gate_summary_class cls;
	double seconds;  /* time in the gate */
	char *ref;       /* the first ref of the push */
	size_t nrefs;    /* how many refs the push updated */
	char *old_id, *new_id;
	char *user;
	char *subject;   /* the new tip's subject, when the record has it */
	char *reasons;   /* failing checks, or the bypass reason */
};

/*
 * A decision's ref, count of refs (under the key `count_key`), old and new
 * ids, user, subject and reasons as JSON members, comma-separated, without
 * braces: shared by the summary's own file and `git gate status --json`.
 */
void gate_summary_json_fields(struct gate_buf *b, const struct gate_summary_decision *d, const char *count_key);

struct gate_summary_ref {
	char *name;
	struct gate_summary_decision last;
	unsigned long n[GATE_SUMMARY_NCLASS]; /* all time */
};

struct gate_summary_flaky {
	char *check, *tree, *ref;
	double time;     /* when it was seen both ways */
};

struct gate_summary {
	/* what has been read */
	char *log_path;
	uint64_t log_dev, log_ino, log_offset;
	/* daily counts, oldest first */
	struct gate_summary_day *days;
	size_t ndays, days_alloc;
	/* all time, for metrics */
	unsigned long total[GATE_SUMMARY_NCLASS];
	struct gate_summary_counts rejections;
	uint64_t prom_hist[GATE_SUMMARY_PROM_BUCKETS + 1]; /* + the +Inf bucket */
	double prom_sum;
	double last_time; /* the newest decision's time */
	/*
	 * The last decisions, newest last: at least the last
	 * GATE_SUMMARY_RECENT of them (up to twice as many are held, so that
	 * making room is rare).
	 */
	struct gate_summary_decision recent[2 * GATE_SUMMARY_RECENT];
	size_t nrecent;
	struct gate_summary_ref *refs;
	size_t nrefs, refs_alloc;
	struct gate_summary_flaky flaky[GATE_SUMMARY_FLAKY];
	size_t nflaky;
	/* command check results by (check, tree): open addressing on a 64-bit hash */
	struct gate_summary_tree {
		uint64_t key;   /* 0: empty */
		uint32_t day;
		uint32_t bits;  /* 1 passed, 2 failed */
	} *trees;
	size_t ntrees, trees_alloc;
};

#define GATE_SUMMARY_INIT { 0 }

void gate_summary_release(struct gate_summary *s);

/* Today as a day number (UTC). */
long gate_summary_today(void);

/*
 * Count one audit record (a line of the log, without or with its
 * newline).  Returns 1 when it was a decision, 0 when skipped (another
 * kind of record, or a line that is not a record).
 */
int gate_summary_add_record(struct gate_summary *s, const char *line, size_t len);

/*
 * Read the summary file; GATE_ENOTFOUND when there is none, -1 when
 * unusable.  Saving gives a new file the mode core.sharedRepository asks
 * for (`shared`, from gate_shared_perm()).
 */
int gate_summary_load(struct gate_summary *s, const char *path, struct gate_buf *err);
int gate_summary_save(const struct gate_summary *s, const char *path, int shared, struct gate_buf *err);

/* Count what was appended to the audit log at `log_path` since the last time. */
int gate_summary_catch_up(struct gate_summary *s, const char *log_path, struct gate_buf *err);

/*
 * Load the summary at `summary_path` (none: start empty), catch up with
 * the log and save it again, under a lock so that concurrent hooks take
 * turns.  When the summary cannot be saved (a reader without write
 * access), the caught-up summary is still in `s`; *saved says which.
 */
int gate_summary_refresh(struct gate_summary *s, const char *log_path, const char *summary_path, int shared, int *saved,
			 struct gate_buf *err);

/* Where the summary lives: GIT_DIR/git-gate/status-summary.  Caller frees. */
char *gate_summary_path(const char *git_dir);

/* Counts over the `days` days up to `today` (today included). */
struct gate_summary_window {
	int days;
	unsigned long n[GATE_SUMMARY_NCLASS];
	unsigned long decisions;   /* every class */
	double rejection_rate;     /* (rejected + error) / (decisions - dry runs), 0 when none */
	double p50, p95;           /* seconds in the gate; -1 when no data */
	struct gate_summary_counts rejections; /* by check, most first */
};

void gate_summary_window(const struct gate_summary *s, long today, int days, struct gate_summary_window *w);
void gate_summary_window_release(struct gate_summary_window *w);

/* p-th percentile (0..1) of a histogram, seconds; -1 when empty. */
double gate_summary_percentile(const uint32_t *hist, double p);

/* The summary's day entry for `day`, or NULL. */
const struct gate_summary_day *gate_summary_day_get(const struct gate_summary *s, long day);

/* The last decision about `ref`, or NULL. */
const struct gate_summary_ref *gate_summary_ref_get(const struct gate_summary *s, const char *ref);

#endif
