#ifndef GATE_CHAIN_H
#define GATE_CHAIN_H

/*
 * The hook that was in place before git-gate.  `git gate install --force`
 * moves an existing hooks/<name> to hooks/<name>.before-git-gate; each of
 * git-gate's hook programs then runs it after its own judgment, with the
 * same arguments, the same stdin (the "<old> <new> <ref>" lines for
 * pre-receive and post-receive) and the same environment (push options,
 * quarantine), its output passed through to the pusher as git would.
 * Either rejecting rejects.  `git gate uninstall` moves it back.
 */

#include <stddef.h>

#include "util.h"

/* The suffix the previous hook is kept under, next to git-gate's. */
#define GATE_CHAIN_SUFFIX ".before-git-gate"

/*
 * The path of the previous hook for the hook program started as `argv0`
 * (git runs hooks by their path, so its directory is the hooks
 * directory), into `out`.  Returns 1 when there is one git would run
 * (an executable file), 0 when there is none.
 */
int gate_chain_find(struct gate_buf *out, const char *argv0, const char *name);

/*
 * Run the previous hook `path` with `args` (NULL-terminated, without the
 * program name) and `input` on stdin (NULL: /dev/null).  Its stdout and
 * stderr are ours (the pusher's remote: lines).  *status is its exit
 * status.  Returns 0, or -1 with err when it could not be run.
 */
int gate_chain_run(const char *path, const char *const *args, const char *input, size_t input_len, int *status,
		   struct gate_buf *err);

/*
 * Everything a hook program does about the previous hook: find it, run
 * it, say when it rejected, and combine its verdict with git-gate's
 * `code` (either rejecting rejects; git-gate's code wins when both do).
 * `what` gets what ran and how it ended, for the audit log ("" when there
 * is no previous hook).  Returns the exit status for the hook program.
 */
struct gate_chain {
	const char *argv0;         /* how git started the hook program */
	const char *name;          /* "pre-receive", "update", "post-receive" */
	const char *const *args;   /* its arguments, NULL-terminated */
	const char *input;         /* its stdin, or NULL for /dev/null */
	size_t input_len;
};

int gate_chain_after(int code, const struct gate_chain *ch, struct gate_buf *what);

/*
 * The "<old> <new> <ref>" lines git gave pre-receive or post-receive, as
 * read into `push` (call it before anything retargets the updates).
 */
struct gate_push;
void gate_chain_input(struct gate_buf *out, const struct gate_push *push);

/* gate_chain_after in the shape of gate_driver_opts.after (arg: a struct gate_chain). */
int gate_chain_after_cb(int code, void *arg, struct gate_buf *what);

#endif
