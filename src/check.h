#ifndef GATE_CHECK_H
#define GATE_CHECK_H

/*
 * Check types and what they see.
 *
 * A check type is one file (check-<name>.c) defining one
 * `const struct gate_check_type`, listed in gate_check_types[] (check.c).
 * Its parse function reads the type's keys from the policy; its hooks are
 * called by the scan engine (scan.c) with what a push brings:
 *
 *   commit       once per new commit (message, identities, parents)
 *   change       once per path a commit adds, modifies or deletes, against
 *                its first parent (a root commit: against the empty tree)
 *   blob_scan    once per new blob content, whichever paths and commits
 *                carry it, and possibly on another thread; the result is
 *                path independent
 *   blob_report  once per (blob, path, commit) occurrence, turning the
 *                scan result into findings for that path
 *   job          once per ref update the check applies to, with the list
 *                of new commits (per-push limits, the command check)
 *
 * A hook returns 0 when it could judge (its verdict is the findings it
 * added) and a negative value with a message in `err` when it could not,
 * which rejects the push (fail closed).
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

struct gate_conf_group;
struct gate_scan;
struct gate_check_def;

/* A person line of a commit: "Name <email> time tz". */
struct gate_ident {
	char *name;
	char *email;
	int64_t time;
	int tz; /* minutes east of UTC */
};

struct gate_commit {
	char id[41];
	char tree[41];
	char **parents; /* hex ids */
	size_t nparents;
	struct gate_ident author;
	struct gate_ident committer;
	char *message;    /* raw message bytes (after the header), inside `raw` */
	size_t message_len;
	char *subject;    /* first line, for reports */
	char *raw;        /* the whole object, for signature checks */
	size_t raw_len;
	char *encoding;   /* the encoding header, or NULL */
	unsigned char *groups; /* scan-internal: which jobs include it */
	size_t index;     /* position in the push, oldest first */
};

enum gate_change_kind {
	GATE_CHANGE_ADD = 'A',
	GATE_CHANGE_MODIFY = 'M',
	GATE_CHANGE_DELETE = 'D',
	GATE_CHANGE_TYPE = 'T',
};

struct gate_change {
	enum gate_change_kind kind;
	const char *path;     /* raw bytes, may hold anything but NUL */
	unsigned old_mode;    /* 0 when added */
	unsigned new_mode;    /* 0 when deleted */
	const char *old_id;   /* zero id when added */
	const char *new_id;   /* zero id when deleted */
};

#define GATE_MODE_IS_BLOB(m) (((m) & 0170000) == 0100000)
#define GATE_MODE_IS_LINK(m) (((m) & 0170000) == 0120000)
#define GATE_MODE_IS_GITLINK(m) (((m) & 0170000) == 0160000)

struct gate_blob {
	char id[41];
	uint64_t size;
	const char *data; /* NULL when the content was too large to hold */
	size_t len;       /* bytes held in data (== size when held) */
	int binary;       /* NUL in the first 8000 bytes, like git */
};

struct gate_occurrence {
	const char *path;
	const struct gate_commit *commit; /* first new commit that brought it there */
	const char *old_id;               /* the path's blob in the first parent, or NULL */
	unsigned mode;
};

struct gate_job {
	const char *ref;
	const char *old_id;
	const char *new_id;
	struct gate_commit **commits; /* new commits for this check, oldest first */
	size_t ncommits;
};

/* What a hook gets besides its own settings. */
struct gate_check_run {
	const struct gate_check_def *def;
	const void *data;
	struct gate_scan *scan;
	const char *pusher;      /* who pushed (never NULL) */
	struct gate_buf *err;    /* where a negative return leaves its message */
	/* job hooks only: a note for the report, e.g. "cached pass"; the hook
	 * stores a malloc'd string (it is freed with the verdict) */
	char **note;
};

struct gate_finding {
	char *commit;  /* hex id, or NULL */
	char *subject; /* the commit's subject, or NULL */
	char *path;    /* or NULL */
	long line;     /* 1-based, 0 when not about a line */
	char *message; /* what is wrong */
	char *hint;    /* how to fix it, or NULL */
	size_t commit_index; /* scan-internal */
	/* Lines shown below the message (e.g. a command's last output lines),
	 * one report line each, raw bytes neutralised by the report; or NULL. */
	char *detail;
};

struct gate_findings {
	struct gate_finding *v;
	size_t nr, alloc;
	void *lock; /* scan-internal: set when hooks run on threads */
};

#define GATE_FINDINGS_INIT { NULL, 0, 0, NULL }

/*
 * Add a finding.  `commit` and `path` may be NULL; `hint` is copied when
 * non-NULL.  Strings from pushed content are stored raw: the report
 * neutralises them for the terminal.
 */
void gate_findings_add(struct gate_findings *f, const struct gate_commit *commit, const char *path,
		       long line, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/*
 * The same with `detail` (len bytes, may be NULL): text of several lines
 * shown below the message, each line its own report line.
 */
void gate_findings_add_detail(struct gate_findings *f, const struct gate_commit *commit, const char *path,
			      long line, const char *hint, const char *detail, size_t detail_len, const char *fmt,
			      ...) __attribute__((format(printf, 8, 9)));
void gate_findings_release(struct gate_findings *f);
void gate_finding_release(struct gate_finding *fi);

#define GATE_CHECK_EXPENSIVE 1u   /* runs after the cheap checks (commands) */
#define GATE_CHECK_CONTENT 2u     /* blob_scan needs the content, not only the size */

struct gate_check_type {
	const char *name;
	const char *summary;
	unsigned flags;
	int (*parse)(void **data, struct gate_conf_group *g);
	void (*free)(void *data);
	int (*commit)(const struct gate_check_run *run, const struct gate_commit *c, struct gate_findings *out);
	int (*change)(const struct gate_check_run *run, const struct gate_commit *c,
		      const struct gate_change *ch, struct gate_findings *out);
	int (*blob_scan)(const struct gate_check_run *run, const struct gate_blob *b, void **result);
	int (*blob_report)(const struct gate_check_run *run, const struct gate_blob *b, void *result,
			   const struct gate_occurrence *occ, struct gate_findings *out);
	void (*blob_result_free)(void *result);
	/*
	 * On the main thread, once .change has seen every change of the
	 * push (NULL: nothing to do): what only the change hook used can be
	 * let go while the blobs are still being read, not after them.
	 */
	void (*changes_done)(const struct gate_check_run *run);
	int (*job)(const struct gate_check_run *run, const struct gate_job *job, struct gate_findings *out);
	/*
	 * Whether a pass vouches for every commit it was given, on any ref,
	 * so that it is kept in the judged record (judged.h): not when it
	 * judged the new tip alone (on = "tip"), nor when its result depends
	 * on more than the commits (a command with cache = false).  NULL: it
	 * does.
	 */
	int (*vouches)(const void *data);
};

/* The `on` key of checks that test the tip or every commit: "tip" (0), "each" (1). */
extern const char *const gate_check_on_choices[];
extern const char *const gate_check_on_meanings[];

/* The table of built-in types, NULL-terminated. */
extern const struct gate_check_type *const gate_check_types[];
const struct gate_check_type *gate_check_type_find(const char *name);

/* The types, each in its own check-*.c. */
extern const struct gate_check_type gate_check_commit_message;
extern const struct gate_check_type gate_check_identity;
extern const struct gate_check_type gate_check_max_file_size;
extern const struct gate_check_type gate_check_forbidden_paths;
extern const struct gate_check_type gate_check_portable_paths;
extern const struct gate_check_type gate_check_text_hygiene;
extern const struct gate_check_type gate_check_secrets;
extern const struct gate_check_type gate_check_history;
extern const struct gate_check_type gate_check_command;
extern const struct gate_check_type gate_check_ci_status;
extern const struct gate_check_type gate_check_signature;

#endif
