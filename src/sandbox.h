#ifndef GATE_SANDBOX_H
#define GATE_SANDBOX_H

/*
 * The sandbox a command check runs in: bubblewrap (bwrap(1)) set up so
 * that code from a push can build and test, and do nothing else.
 *
 *   struct gate_sandbox sb = GATE_SANDBOX_INIT;
 *   gate_sandbox_prepare(&sb, &opts, err);    finds bwrap, builds sb.argv
 *   child.argv = sb.argv ...; child.keep_fds = sb.keep_fds; child.fd3 = sb.fd3;
 *   child.set_ids = sb.set_ids; child.uid = sb.uid; ...
 *   ... write the tree (tar) to the child's stdin ...
 *   gate_sandbox_release(&sb);
 *
 * Inside: a new session (no controlling terminal), every namespace of
 * its own including the user namespace, no nested user namespaces, no
 * capabilities, uid and gid 65534, no network, /usr (and the /bin, /sbin,
 * /lib* it holds) read-only, of /etc only what a toolchain reads (the
 * loader cache, time zone, alternatives, name service switch, hosts,
 * public certificates) plus a synthetic passwd and group, a fresh /proc
 * and a read-only /dev, and one tmpfs of `disk` bytes at /tmp that holds
 * the workspace (/tmp/workspace) and everything the build writes (plus
 * a /dev/shm of GATE_SANDBOX_SHM at most); the root is read-only.  Nothing
 * of the repositories, the gate's policies, caches, logs, or home
 * directories exists in there.  The sandbox dies with its parent.
 *
 * When the hook runs as root the sandbox is started as uid/gid 65534
 * (set_ids): inside a user namespace made by root, root's own files
 * would still be root's, and RLIMIT_NPROC never bounds root.
 *
 * The program run inside is /bin/sh with a script that unpacks the tree
 * from stdin with tar(1), writes "unpacked" on `ready_fd` (its
 * descriptor 3; then closes it), and runs RUN in the workspace with stdin
 * from /dev/null and max_processes enforced by prlimit(1) inside the
 * sandbox's own user namespace (where RLIMIT_NPROC counts the sandbox's
 * processes only).
 */

#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define GATE_SANDBOX_WORKSPACE "/tmp/workspace"
#define GATE_SANDBOX_UID 65534
/* /dev/shm: a tmpfs of its own, this big at most (and no bigger than max_disk) */
#define GATE_SANDBOX_SHM (64ull << 20)

struct gate_sandbox_opts {
	const char *run;   /* the command line */
	uint64_t disk;     /* bytes of the tmpfs (workspace and /tmp) */
	uint64_t nproc;    /* max_processes, 0: none */
	int ready_fd;      /* where the script reports the unpacked tree (the child's descriptor 3) */
};

struct gate_sandbox {
	struct gate_strvec argv;
	int keep_fds[3];  /* descriptors the child must keep, -1 terminated */
	int fd3;          /* and its descriptor 3 */
	int data_fds[2];  /* passwd and group, read by bwrap */
	int set_ids;
	uid_t uid;
	gid_t gid;
	char *bwrap;
};

#define GATE_SANDBOX_INIT { GATE_STRVEC_INIT, { -1, -1, -1 }, 0, { -1, -1 }, 0, 0, 0, NULL }

/*
 * Find bwrap (GIT_GATE_BWRAP, else PATH) and build the command line.
 * Fails with what to install when bwrap, tar or prlimit is missing.
 */
int gate_sandbox_prepare(struct gate_sandbox *sb, const struct gate_sandbox_opts *o, struct gate_buf *err);
void gate_sandbox_release(struct gate_sandbox *sb);

/*
 * The message for a sandbox that could not start: `output` is what bwrap
 * printed (its first line is used).
 */
void gate_sandbox_start_error(struct gate_buf *err, const struct gate_sandbox *sb, const char *output);

/* What the sandbox needs on a server, for messages: one sentence. */
extern const char gate_sandbox_needs[];

#endif
