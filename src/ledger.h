#ifndef GATE_LEDGER_H
#define GATE_LEDGER_H

/*
 * The verdict ledger: after a ref has really moved, a note on its new tip
 * in refs/notes/gate saying who pushed it, when, under which policy
 * (file and content hash), and what each check said (git-gate(1),
 * THE LEDGER).  One JSON object a line, one line per ref update; a commit
 * that two refs moved to gets both lines (appended, never overwritten).
 *
 * git forbids writing refs while pre-receive runs (the push is still in
 * quarantine), and the hook cannot know whether the update will win its
 * race.  So the work is split:
 *
 *   pre-receive / update, once the push is accepted:
 *       gate_ledger_describe(&v, repo);        tree and subject of each tip
 *       gate_ledger_prepare(cfg, repo, push, &v, hook, &err);
 *           one pending entry per ref update, GIT_DIR/git-gate/ledger-pending/
 *   post-receive (git runs it only for the refs that moved):
 *       gate_ledger_record(git_dir, moved, &err);
 *           turns the pending entries of the refs that moved into notes
 *
 * An entry is named by a hash of (ref, old, new, pusher); entries left by
 * updates that lost their race are removed after a day.  The notes ref
 * is updated with a compare-and-swap on its old value and retried, so
 * concurrent post-receives never lose each other's notes.
 */

#include <git2.h>

#include "gate.h"
#include "policy.h"
#include "push.h"
#include "repo.h"

#define GATE_LEDGER_REF "refs/notes/gate"
#define GATE_LEDGER_VERSION 1

/*
 * Refuse every update of refs/notes/gate itself: a pusher who could write
 * it could forge the gate's verdicts (whatever the policy says).
 */
void gate_ledger_guard(struct gate_verdict *v);

/* Fill each ref verdict's tree_id and subject from its new tip (when it is a commit). */
void gate_ledger_describe(struct gate_verdict *v, struct gate_repo *repo);

/*
 * The policy's identity, "sha256:HEX": for a policy read from one file
 * the SHA-256 of its content (sha256sum's digest); for several files
 * (includes, layers) the SHA-256 of their sha256sum-style list,
 * "<digest>  <name>\n" each, in the order they were read.  Caller frees.
 */
char *gate_ledger_policy_hash(const struct gate_config *cfg, const struct gate_repo *repo);

/*
 * The ledger line for one accepted ref update (without "time", which
 * post-receive adds), as JSON.
 */
void gate_ledger_format(struct gate_buf *out, const struct gate_config *cfg, const char *policy_hash,
			const struct gate_push *push, const struct gate_verdict *v, const struct gate_ref_verdict *rv,
			const char *hook);

/* Write a pending entry for every accepted update of `v` that creates or moves a ref. */
int gate_ledger_prepare(const struct gate_config *cfg, struct gate_repo *repo, const struct gate_push *push,
			const struct gate_verdict *v, const char *hook, struct gate_buf *err);

/*
 * For every update in `moved` (post-receive's lines) with a pending
 * entry, add its line to the note on the new tip; remove the entries.
 * Updates without an entry (not judged by git-gate) get no note.
 * `repo`: the repository at git_dir when already open, or NULL.
 * *written says how many notes were added.
 */
int gate_ledger_record(const char *git_dir, git_repository *repo, const struct gate_push *moved, size_t *written,
		       struct gate_buf *err);

/*
 * Add lines[i], one ledger object each without "time" (added here), to the
 * note on objects[i] (hex), all in one notes commit: for the decisions
 * that move no ref by a push, the merge queue's (each decided item's
 * pushed tip gets a line: landed, rejected or cancelled).  `repo`: the
 * repository at git_dir when already open, or NULL.
 */
int gate_ledger_add(const char *git_dir, git_repository *repo, const char *const *objects, const char *const *lines,
		    size_t n, struct gate_buf *err);

#endif
