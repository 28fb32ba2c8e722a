#ifndef GATE_GATE_H
#define GATE_GATE_H

/*
 * Evaluating a push against the policy: ref protection (create, delete,
 * update, force), then the rule's checks through the scan engine, cheap
 * checks first and commands only when nothing cheap rejected the push.
 * The verdict is data; gate_evaluate fails (-1) only when it could not
 * judge, which the callers turn into a rejection (fail closed).
 */

#include "policy.h"
#include "push.h"
#include "repo.h"
#include "scan.h"

enum gate_outcome {
	GATE_OUTCOME_ACCEPT,  /* nothing wrong */
	GATE_OUTCOME_WARN,    /* problems found by warn-mode rules only */
	GATE_OUTCOME_REJECT,  /* an enforce-mode rule failed */
};

struct gate_ref_verdict {
	const struct gate_update *update;
	const struct gate_rule *rule;    /* NULL: no rule matches this ref */
	struct gate_findings protection; /* create/delete/update/force problems */
	struct gate_scan_job **jobs;     /* the checks run for this ref */
	size_t njobs;
	enum gate_outcome outcome;
	int exempt;                      /* the pusher is exempt from the whole rule */
	int bypassed;                    /* checks skipped by an audited bypass */
	char *refusal;                   /* e.g. a bypass request that is not allowed */
	/* checks the pusher is exempt from (exempt_users with exempt_checks) */
	const struct gate_check_def **exempted;
	size_t nexempted;
	int meta;                        /* the ref holds the repository's policy (meta_ref) */
	int meta_bad;                    /* ... and the new policy or the pusher is refused */
	/* the new tip, for the audit log and the ledger (gate_ledger_describe) */
	char tree_id[41];                /* its tree, or "" */
	char *subject;                   /* its commit's first line, or NULL */
};

struct gate_verdict {
	struct gate_ref_verdict *refs;
	size_t nr;
	struct gate_scan_job *jobs;
	size_t njobs;
	enum gate_outcome outcome;       /* the worst of the refs */
	int dry_run;                     /* -o gate.dry-run: report, then decline */
	char *bypass_reason;             /* -o gate.bypass=REASON, when given */
	double seconds;
};

/*
 * `git gate check --remote` pushes with -o gate.dry-run and --atomic,
 * together with two updates of this ref and one below it: git cannot
 * make both in one transaction, so a server without git-gate refuses the
 * whole push instead of accepting it.  In a dry run these refs are not
 * judged.
 */
#define GATE_DRY_RUN_GUARD "refs/git-gate/dry-run-guard"

/* Judge every update of `push`.  Fills `v`; -1 with err when it could not. */
int gate_evaluate(struct gate_verdict *v, struct gate_repo *repo, const struct gate_config *cfg,
		  const struct gate_push *push, struct gate_buf *err);

/* Flags for gate_evaluate_ext (git gate replay). */
#define GATE_EVAL_NO_PROTECTION 1u  /* skip create/delete/update/force rules */
#define GATE_EVAL_NO_META 2u        /* do not judge pushes to the meta_ref */
#define GATE_EVAL_SKIP_EXPENSIVE 4u /* do not run expensive (command) checks */
#define GATE_EVAL_RUN_ALL 8u        /* run expensive checks even after a cheap one rejected */
/*
 * A hook deciding a real push: keep the judged records (judged.h) -- seed
 * the missing ones, note the refs a rule starts or stops enforcing a check
 * on, and record what each check passed in enforce mode.  Without it (git
 * gate check, replay, a dry run) the records are only read.
 */
#define GATE_EVAL_RECORD 16u
#define GATE_EVAL_ONLY_EXPENSIVE 32u /* judge only expensive checks (the merge queue's candidate) */

int gate_evaluate_ext(struct gate_verdict *v, struct gate_repo *repo, const struct gate_config *cfg,
		      const struct gate_push *push, unsigned flags, struct gate_buf *err);

/* Note on a check skipped by GATE_EVAL_SKIP_EXPENSIVE. */
#define GATE_EVAL_SKIPPED_NOTE "not run: an expensive check (run it with --with-commands)"
/* Note on a command check of a change pushed to a merge queue (update->target). */
#define GATE_EVAL_QUEUED_NOTE "not run yet: runs in the merge queue, on the change applied to its branch"
void gate_verdict_release(struct gate_verdict *v);

/* Whether a check result failed (findings or an error). */
int gate_job_failed(const struct gate_scan_job *jb);

#endif
