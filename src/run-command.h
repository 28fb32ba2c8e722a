#ifndef GATE_RUN_COMMAND_H
#define GATE_RUN_COMMAND_H

/*
 * Starting child processes from argv arrays (never through a shell unless
 * the argv says /bin/sh -c with the admin's own command line).  Pushed data
 * reaches children only through `env`.  Modelled on git's run-command.h:
 *
 *   struct gate_child c = GATE_CHILD_INIT;
 *   c.argv = argv; c.out = -1;           (-1: make a pipe)
 *   gate_child_start(&c, err);           c.out is now the read end
 *   ... read c.out ...
 *   gate_child_finish(&c, &status, err);
 */

#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* Resource limits for a child (0: leave as inherited). */
struct gate_child_limits {
	uint64_t data;  /* RLIMIT_DATA: bytes of private writable memory per process */
	uint64_t fsize; /* RLIMIT_FSIZE: bytes of one file written */
	uint64_t nproc; /* RLIMIT_NPROC: processes of the child's user (see git-gate.conf(5)) */
};

struct gate_child {
	const char *const *argv;
	/* "NAME=VALUE" to set, "NAME" to unset; applied over our environment. */
	const char *const *env;
	const char *dir;
	/* 0: inherit; -1: create a pipe and store our end here; >0: use this fd. */
	int in, out, err;
	int no_stdin;     /* stdin from /dev/null */
	int err_to_out;   /* stderr goes wherever stdout goes */
	int new_pgroup;   /* child leads a process group (so it can be killed whole) */
	int new_session;  /* child leads a new session: no controlling terminal (implies new_pgroup) */
	int clear_env;    /* `env` is the whole environment: nothing of ours is inherited */
	/*
	 * Run the command under a supervisor (the child we start): a
	 * subreaper that, when the command ends, when it gets SIGHUP
	 * (gate_child_kill) or when we die, kills every process the command
	 * left, setsid'ed, double-forked or not, and exits with the
	 * command's status.  Without it only the process group is reachable.
	 */
	int contain;
	/* Descriptors above 3 the child keeps (-1 terminated, or NULL); every other one is closed on exec. */
	const int *keep_fds;
	/* A descriptor the child gets as its descriptor 3 (0: none). */
	int fd3;
	/* Start the program as this user and group, without supplementary groups (set_ids). */
	int set_ids;
	uid_t uid;
	gid_t gid;
	struct gate_child_limits limits;
	pid_t pid;
};

#define GATE_CHILD_INIT { .argv = NULL, .pid = -1 }

/*
 * Every child starts with default signal dispositions and an empty signal
 * mask (a hook may inherit SIGTERM ignored from git daemon), with only
 * its stdin, stdout, stderr and `keep_fds` open.
 */
int gate_child_start(struct gate_child *c, struct gate_buf *err);
/*
 * Wait for the child.  *status is the exit code, or 128+signal when it was
 * killed by a signal.
 */
int gate_child_finish(struct gate_child *c, int *status, struct gate_buf *err);

/*
 * End the child and everything it started: with `contain`, SIGHUP to the
 * supervisor (which kills all the command's processes and exits);
 * otherwise SIGKILL to its process group.
 */
void gate_child_kill(const struct gate_child *c);

/*
 * Default dispositions for every signal and nothing blocked, as every
 * child gets: for a process forked without gate_child_start.
 */
void gate_child_reset_signals(void);

/*
 * Run argv to completion, feeding `input` (may be NULL) and collecting
 * stdout into `out` (may be NULL: discarded).  stderr is collected into
 * `errout` when non-NULL, else inherited.
 */
int gate_run_capture(const char *const *argv, const char *const *env, const char *dir, const char *input,
		     size_t input_len, struct gate_buf *out, struct gate_buf *errout, int *status,
		     struct gate_buf *err);

/*
 * The same, killing the child (SIGKILL) and failing with a message when it
 * has not finished after `timeout` seconds (0: no limit).
 */
int gate_run_capture_timeout(const char *const *argv, const char *const *env, const char *dir, const char *input,
			     size_t input_len, struct gate_buf *out, struct gate_buf *errout, int *status,
			     int timeout, struct gate_buf *err);

/* Describe a status from gate_child_finish: "exit status 2", "killed by signal 9". */
void gate_buf_add_status(struct gate_buf *b, int status);

#endif
