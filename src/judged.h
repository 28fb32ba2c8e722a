#ifndef GATE_JUDGED_H
#define GATE_JUDGED_H

/*
 * The judged record: for one check of the policy, which commits that
 * check has judged and passed in enforce mode, so that a commit is judged
 * once and never counts as judged through warn mode, `off`, a bypass, an
 * exemption or a dry run (git-gate.conf(5), WHICH COMMITS A CHECK JUDGES).
 *
 * A record is a set of tips T with the invariant: every commit reachable
 * from a tip was judged and passed by the check in enforce mode, or was
 * on the server before the check applied (grandfathered), or is one of
 * the record's exceptions (see gate_judged_exceptions).  It also holds
 * the refs the check is being enforced on ("entered"): when a rule starts
 * enforcing the check on a ref, that ref's history at that moment is
 * grandfathered once.
 *
 * Where: GIT_DIR/git-gate/judged/<name>.<type>.<policy>, one file per
 * check, keyed by the check's name, its type and the policy file that
 * defines it (gate_judged_file_name): a check whose settings change keeps
 * its record; one whose type changes, or the same name in another policy
 * (gitolite's VREF/git-gate/NAME), has its own.  A line-based file:
 *
 *   git-gate judged record 1 LF
 *   base <n> LF        tips right after the last seeding or compaction
 *   tip <id> LF        ...
 *   except <id> LF     a commit below a tip the check did not judge
 *   enter <ref> LF     the check is enforced on <ref>
 *   leave <ref> LF     ... no longer (the last line about a ref wins)
 *   warn <ref> LF      ... the rule of <ref> lists the check in warn mode
 *                      or off: entering it later grandfathers nothing (a
 *                      leave keeps it)
 *
 * Writers append whole lines with one write(2) under an exclusive
 * flock(2) of GIT_DIR/git-gate/judged/lock; readers take no lock and
 * ignore a last line that has no newline yet.  Seeding and compaction
 * (dropping tips reachable from other tips, and tips whose objects are
 * gone) write a temporary file and rename it over the record.
 *
 *   struct gate_judged *j;
 *   gate_judged_open(&j, git_dir, def, err);
 *   if (!gate_judged_exists(j)) gate_judged_seed(j, repo, tips, n, err);
 *   ... exclusions: gate_judged_tips(j) ...
 *   gate_judged_record_pass(j, repo, old, new, &recorded, err);   after a pass
 *   gate_judged_write(j, repo, err);      appends what was added
 *   gate_judged_free(j);
 */

#include <stddef.h>

#include "policy.h"
#include "repo.h"
#include "util.h"

struct gate_judged;

/* The folder of the records of the repository at `git_dir`; caller frees. */
char *gate_judged_dir(const char *git_dir);

/*
 * The file name (no folder) of the record of check `name` of type `type`
 * defined in the policy file `policy`: the name with every byte other
 * than [A-Za-z0-9_-] as %XX (a very long name: its SHA-256), '.', the
 * type, '.', and 12 hex digits of the SHA-256 of `policy` (its path,
 * relative to the repository when inside it).  Caller frees.
 */
char *gate_judged_file_name(const char *name, const char *type, const char *policy);

/*
 * Read the record of `def` in the repository at `git_dir`.  A missing
 * record is not an error: gate_judged_exists() then says 0.  A damaged
 * one is (-1 with a message): the push cannot be judged.
 */
int gate_judged_open(struct gate_judged **out, const char *git_dir, const struct gate_check_def *def,
		     struct gate_buf *err);
void gate_judged_free(struct gate_judged *j);

int gate_judged_exists(const struct gate_judged *j);

/* The record's file, for messages. */
const char *gate_judged_path(const struct gate_judged *j);

/*
 * Create the missing record holding `tips` (the repository's ref tips,
 * peeled to commits: history grandfathered as of now), which the caller
 * has reduced to the independent ones with gate_judged_reduce() (once for
 * all the checks it seeds).  When another push created it meanwhile, read
 * that one instead.  Afterwards gate_judged_exists() is 1.
 */
int gate_judged_seed(struct gate_judged *j, const char *const *tips, size_t n, struct gate_buf *err);

/*
 * Of `ids`, the commits that are in the repository and not reachable from
 * another one (git merge-base --independent), appended to `out`.
 */
int gate_judged_reduce(struct gate_repo *repo, const struct gate_strvec *ids, struct gate_strvec *out,
		       struct gate_buf *err);

/* The tips, unique, in no particular order. */
const char *const *gate_judged_tips(const struct gate_judged *j, size_t *n);
/* Whether two records hold the same tips (two checks' records often do). */
int gate_judged_same_tips(const struct gate_judged *a, const struct gate_judged *b);

/* Whether `id` is one of the tips (a hash lookup). */
int gate_judged_has_tip(const struct gate_judged *j, const char *id);

/*
 * The commits reachable from `id` that no tip covers, into `out` (at most
 * `limit`).  Returns 0 (`out` may be empty: `id` is covered), 1 when
 * there are more than `limit` or `id` is not in the repository, -1 on
 * error.  A tip is covered without running git.
 */
int gate_judged_uncovered(const struct gate_judged *j, struct gate_repo *repo, const char *id, size_t limit,
			  struct gate_strvec *out, struct gate_buf *err);

/*
 * Exceptions: commits below a tip that the check did not judge.  They got
 * there through a ref's own history -- a bypass or an exempt push to a
 * ref, then a judged push on top of it -- and are judged whenever they
 * reach another ref.
 */
const char *const *gate_judged_exceptions(const struct gate_judged *j, size_t *n);

/*
 * The check judged and passed the update of a ref from `old` (NULL or
 * zero: a create) to `tip` (a commit) in enforce mode: record `tip`.  The
 * commits below `old` that no tip covers were not judged (a ref keeps its
 * own history): they become exceptions, or when there are more than
 * GATE_JUDGED_MAX_EXCEPT nothing is recorded (*recorded = 0).
 */
int gate_judged_record_pass(struct gate_judged *j, struct gate_repo *repo, const char *old, const char *tip,
			    int *recorded, struct gate_buf *err);
/*
 * The same when the commits of the default branch (its tip `dflt`, or
 * NULL) counted as judged for the update: when something below it is
 * uncovered (a bypass or an exemption on main), nothing is recorded, so
 * that it counts nowhere once main no longer holds it.
 */
int gate_judged_record_pass_dflt(struct gate_judged *j, struct gate_repo *repo, const char *old, const char *dflt,
				 const char *tip, int *recorded, struct gate_buf *err);
#define GATE_JUDGED_MAX_EXCEPT 1000

/* Whether the check is being enforced on `ref` (see above). */
int gate_judged_entered(const struct gate_judged *j, const char *ref);

/*
 * Changes, made in memory at once and appended to the file by
 * gate_judged_write().  enter: the check starts being enforced on `ref`,
 * whose value `grandfathered` (a commit, or NULL) becomes a tip -- unless
 * the check was listed but not enforced on `ref` (warn mode or off) since
 * it was last enforced there (warn): a warning does not make a commit
 * count as judged.  leave: it is
 * no longer enforced there.  add: `tip` was judged and passed.
 */
void gate_judged_enter(struct gate_judged *j, const char *ref, const char *grandfathered);
void gate_judged_leave(struct gate_judged *j, const char *ref);
void gate_judged_warn(struct gate_judged *j, const char *ref);
void gate_judged_add(struct gate_judged *j, const char *tip);

/*
 * Append the changes made since open (nothing when there are none; never
 * to a record that does not exist), and compact the record when it has
 * grown past twice its size after the last compaction.
 */
int gate_judged_write(struct gate_judged *j, struct gate_repo *repo, struct gate_buf *err);

/* Tips a record may gain before its first compaction (beyond twice its base). */
#define GATE_JUDGED_SLACK 64

#endif
