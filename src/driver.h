#ifndef GATE_DRIVER_H
#define GATE_DRIVER_H

/*
 * What the hooks and `git gate check` share: open the repository, find
 * the policy, judge the push, print the report, write the audit record,
 * and map the verdict to an exit status.  Anything that goes wrong
 * rejects the push with a message saying so (fail closed).
 */

#include "push.h"

struct gate_driver_opts {
	const char *hook;      /* "pre-receive", "update" or "check" (the report says which) */
	const char *repo_path; /* NULL: the hook's own repository */
	int verbose;           /* list passing checks too */
	int out_fd;            /* where the report goes (2 in hooks) */
};

/*
 * Judge `push`; returns the exit status: GATE_EXIT_ACCEPT, _REJECT, _USAGE
 * (invalid policy) or _INTERNAL.
 */
int gate_driver_run(struct gate_push *push, const struct gate_driver_opts *o);

/*
 * Read the "<old> <new> <ref>" lines of pre-receive and post-receive
 * from stdin, and the push options.  -1 with a message.
 */
int gate_driver_read_updates(struct gate_push *push, struct gate_buf *err);

/* One-time process setup for every program (libgit2, SIGPIPE). */
void gate_driver_setup(void);

#endif
