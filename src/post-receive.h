#ifndef GATE_POST_RECEIVE_H
#define GATE_POST_RECEIVE_H

/*
 * What happens after git has moved refs: git runs post-receive once per
 * push, after the ref updates, with the same "<old> <new> <ref>" lines as
 * pre-receive but only for the refs that really moved (an update that
 * lost a race with a concurrent push, or that the update hook refused,
 * is not there), and with the push options.  Nothing done here can
 * change the push any more: it has happened.
 *
 * The work is a list of steps, each a `struct gate_post_receive_step`
 * in one table (post-receive.c): the audit log's outcome record first,
 * then whatever else records what moved.  Every step runs even when an
 * earlier one failed; a failure is told to the pusher as a warning for
 * the admin (and to syslog) and makes the hook exit non-zero, which git
 * ignores.  Adding a step is one function and one line in the table:
 *
 *   static int ledger_run(struct gate_post_receive *pr, struct gate_buf *err)
 *   {
 *           for (i = 0; i < pr->push->nr; i++) ... pr->push->updates[i] ...
 *           return 0;        (or gate_error(err, "...") to warn the admin)
 *   }
 *   { "ledger", ledger_run },    in gate_post_receive_steps[]
 *
 *   struct gate_post_receive_opts o = { "post-receive", NULL, 2 };
 *   code = gate_post_receive_run(&push, &o);
 */

#include "push.h"

struct gate_config;
struct gate_repo;

/* The context every step gets. */
struct gate_post_receive {
	const struct gate_push *push;  /* the updates that happened, push options, the pusher */
	const struct gate_config *cfg; /* the policy as it is now (after this push); never NULL */
	int policy_ok;                 /* 0: the policy is invalid and cfg is the built-in default */
	struct gate_repo *repo;        /* the repository, or NULL when it could not be opened */
	const char *git_dir;           /* absolute; never NULL */
	const char *hook;              /* "post-receive" */
	int out_fd;                    /* where messages for the pusher go */
};

struct gate_post_receive_step {
	const char *name;
	/* 0, or -1 with a message for the server's admin in err */
	int (*run)(struct gate_post_receive *pr, struct gate_buf *err);
	/* 1: needs pr->repo; skipped with a warning when it could not be opened */
	int needs_repo;
};

/* The steps, in the order they run, ending with { NULL }. */
extern const struct gate_post_receive_step gate_post_receive_steps[];

struct gate_post_receive_opts {
	const char *hook;      /* "post-receive" */
	const char *repo_path; /* NULL: the hook's own repository */
	int out_fd;            /* where messages go (2 in hooks) */
};

/*
 * Run every step for `push` (updates through a symbolic ref are first
 * retargeted to the ref that moved, as the hooks judged them); returns GATE_EXIT_ACCEPT when all of them
 * worked, GATE_EXIT_INTERNAL when one failed (warned on out_fd).
 */
int gate_post_receive_run(struct gate_push *push, const struct gate_post_receive_opts *o);

#endif
