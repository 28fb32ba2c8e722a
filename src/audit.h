#ifndef GATE_AUDIT_H
#define GATE_AUDIT_H

/*
 * The audit log: one JSON object per line (git-gate.conf(5), AUDIT LOG).
 * Two kinds of record, told apart by "event":
 *
 *   "decision"  what pre-receive or update decided about the push, with
 *               every check's result; "accepted" means the hook let git
 *               go on, not that any ref moved;
 *   "updated"   written by post-receive: the refs git really moved (only
 *               those), after the push.
 *
 * An "updated" record belongs to the latest earlier "decision" record of
 * the same repository and user that accepted the same ref, old and new
 * ids: git moves a ref only from the old value the hook judged (a
 * compare-and-swap), so two decisions can only be confused when they were
 * about the very same update by the same user.
 *
 * Concurrent pushes append to the same file safely: the file is opened
 * with O_APPEND for each record, the whole line is built in memory and
 * written with one write(2) under an exclusive flock(2).  On Linux an
 * O_APPEND write to a regular file is not interleaved with other writers
 * even beyond PIPE_BUF (the inode lock is held for the whole write); the
 * flock covers filesystems where that is not so, and lets a short write
 * (disk full) be cut back so that the file never holds half a line.
 *
 *   struct gate_audit_event e = GATE_AUDIT_EVENT_INIT;
 *   e.cfg = cfg; e.git_dir = repo->git_dir; e.push = push; e.v = &v;
 *   e.hook = "pre-receive"; e.exit_code = code;
 *   if (gate_audit_record(&e, &err) < 0) ... tell the admin ...
 */

#include <time.h>

#include "gate.h"

enum gate_audit_kind {
	GATE_AUDIT_DECISION, /* a pre-receive or update hook decided (e.v, exit_code) */
	GATE_AUDIT_UPDATED,  /* post-receive: the refs in e.push moved */
};

struct gate_audit_event {
	enum gate_audit_kind kind;
	const struct gate_config *cfg; /* NULL: the policy could not be loaded */
	const char *git_dir;           /* the repository (NULL when unknown) */
	const struct gate_push *push;
	const struct gate_verdict *v;  /* NULL: the push could not be judged */
	const char *hook;              /* "pre-receive", "update", "post-receive" */
	int exit_code;                 /* what the hook returns */
	const char *error;             /* why it could not be judged, or NULL */
	struct timespec when;          /* all zero: now */
	const char *chained;           /* the hook install chained and how it ended, or NULL */
};

#define GATE_AUDIT_EVENT_INIT { GATE_AUDIT_DECISION, NULL, NULL, NULL, NULL, NULL, 0, NULL, { 0, 0 }, NULL }

/*
 * Append `s` (`len` bytes, any content) as a JSON string literal, quotes
 * included.  The result is always valid JSON and plain printable text:
 * '"' and '\' are escaped, every character gate_char_unsafe (util.h)
 * names (C0, DEL, C1, U+2028/2029, bidirectional controls) becomes
 * \uXXXX, and every byte that is not
 * part of a valid UTF-8 sequence becomes \ufffd.  NULL gives `null`.
 */
void gate_json_add_string(struct gate_buf *b, const char *s, size_t len);
void gate_json_add_strings(struct gate_buf *b, const char *s);

/* The record for `e` as one line of JSON, newline included. */
void gate_audit_format(struct gate_buf *out, const struct gate_audit_event *e);

/*
 * Where the records of this repository go: `audit_log` (relative paths
 * are taken from the repository's directory), by default
 * GIT_DIR/git-gate/audit.log.  NULL when the log is off (`audit_log =
 * "off"`) or there is nowhere to put it.  The caller frees.
 */
char *gate_audit_path(const struct gate_config *cfg, const char *git_dir);

/*
 * Append one line (ending in '\n') to the file at `path`, creating it
 * (and a missing last directory) when needed, with the permissions
 * `shared` (gate_shared_perm of the repository, see shared.h) asks for.
 * -1 with a message.
 */
int gate_audit_append(const char *path, int shared, const char *line, size_t len, struct gate_buf *err);

/*
 * The syslog line (LOG_WARNING) for a record that could not be written:
 * one neutralised line, whatever the user name or the error holds.
 */
void gate_audit_lost_message(struct gate_buf *out, const struct gate_audit_event *e, const char *why);

/*
 * Write the record for this decision where gate_audit_path says, and to
 * syslog when the policy sets `audit_syslog = true`.  Returns -1 with a
 * message meant for the admin when the log could not be written (also
 * sent to syslog as LOG_AUTHPRIV|LOG_WARNING); the caller decides whether
 * that rejects the push (`audit_required`).
 */
int gate_audit_record(const struct gate_audit_event *e, struct gate_buf *err);

#endif
