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
	/*
	 * Run after the verdict and before the audit record (the hook that
	 * install chained, see chain.h): gets the exit status, returns the
	 * new one, and says in `what` what ran ("" when nothing did).
	 */
	int (*after)(int code, void *arg, struct gate_buf *what);
	void *after_arg;
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

/*
 * An update through a symbolic ref moves the ref it points to: retarget
 * such updates (the name pushed stays in `via`).  -1 for a symbolic ref
 * that loops or leads outside refs/.
 */
struct gate_repo;
int gate_driver_resolve_symrefs(struct gate_push *push, struct gate_repo *repo, struct gate_buf *err);

/* One-time process setup for every program (libgit2, SIGPIPE). */
void gate_driver_setup(void);

/*
 * The same for the hook programs, which also turn off libgit2's check
 * that the repository belongs to the user running it: git has applied
 * its own safe.directory rules before it runs a hook, and in a shared
 * repository (git init --shared=group) pushed to by several system users
 * most pushers do not own it.  The hook must not refuse what git
 * accepted.  `git gate` commands keep the check, as git's own commands
 * do: an admin running them in someone else's repository lists it in
 * safe.directory first.
 */
void gate_driver_setup_hook(void);

#endif
