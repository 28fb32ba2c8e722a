#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "check.h"
#include "deadline.h"
#include "policy.h"
#include "repo.h"
#include "run-command.h"
#include "sandbox.h"
#include "scan.h"
#include "shared.h"
#include "slot.h"
#include "workspace.h"

#include "banned.h"

/*
 * command: run the team's build and tests on the exact tree a ref would
 * get, and fail when they fail.
 *
 * For each commit under test (the new tip, or every new commit with
 * on = "each") `run` is started as /bin/sh -c RUN in a private
 * workspace holding the commit's tree, stdin from /dev/null, stdout and
 * stderr merged into a log file on the server, with a clean environment
 * (pushed data only in GIT_GATE_* variables) and limits on memory,
 * processes and disk.  By default (sandbox = "bwrap") it runs in a
 * bubblewrap sandbox (sandbox.h) that sees nothing of the server, the
 * tree streamed into it as tar; with sandbox = "none" the tree is checked
 * out on the server's disk and the command runs under a supervisor that
 * kills whatever it leaves.  A tree bigger than max_disk is not checked
 * out at all.  On timeout everything the command started is killed.  A
 * pass is remembered in the verdict cache under (tree, the check's
 * definition), failures never, and nothing at all without the sandbox
 * (the command could have written the cache itself).
 */

#define KILL_GRACE 5.0        /* seconds between SIGTERM and SIGKILL */
#define DRAIN_AFTER_EXIT 2.0  /* how long output is still read after the command exited */
#define TAIL_KEEP (64 * 1024) /* bytes of output kept in memory for the report */
#define LINE_MAX_SHOWN 300    /* longest output line shown in the report */

enum sandbox_kind { SANDBOX_NONE, SANDBOX_BWRAP };

struct cmd_check {
	char *run;
	int64_t timeout;
	int64_t progress;
	int each;
	long long jobs;
	long long output_lines;
	uint64_t max_output;
	enum sandbox_kind sandbox;
	int cache;
	uint64_t max_memory; /* 0: no limit */
	uint64_t max_disk;
	long long max_processes;
	struct gate_strvec env;
};

static void cmd_free(void *data)
{
	struct cmd_check *c = data;

	if (!c)
		return;
	free(c->run);
	gate_strvec_clear(&c->env);
	free(c);
}

static int valid_env_name(const char *s, size_t n)
{
	size_t i;

	if (!n || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return 0;
	return 1;
}

static int cmd_parse(void **data, struct gate_conf_group *g)
{
	struct cmd_check *c = gate_xcalloc(1, sizeof(*c));
	const char *run = NULL, *sandbox = NULL;
	size_t i;
	int bad = 0, r;


	c->timeout = 900;
	c->progress = 10;
	c->output_lines = 20;
	c->max_output = 10u * 1024 * 1024;
	c->cache = 1;
	c->sandbox = SANDBOX_BWRAP;
	c->max_memory = 4ull << 30;
	c->max_disk = 4ull << 30;
	c->max_processes = 512;
	/* no short-circuits: every key must be looked at to be known */
	r = gate_conf_string(g, "run", &run);
	bad |= r < 0;
	if (r == 0) {
		gate_conf_error(g, NULL, "a command check needs 'run', the command line to run (e.g. run = \"make check\";)");
		bad = 1;
	} else if (r > 0 && !*run) {
		gate_conf_error(g, "run", "must not be empty");
		bad = 1;
	}
	bad |= gate_conf_duration(g, "timeout", &c->timeout) < 0;
	if (c->timeout <= 0) {
		gate_conf_error(g, "timeout", "must be at least 1 second");
		bad = 1;
	}
	bad |= gate_conf_duration(g, "progress_interval", &c->progress) < 0;
	bad |= gate_conf_choice(g, "on", gate_check_on_choices, gate_check_on_meanings, &c->each) < 0;
	bad |= gate_conf_int(g, "jobs", &c->jobs) < 0;
	if (c->jobs < 0 || c->jobs > 1024) {
		gate_conf_error(g, "jobs", "must be between 0 (the top-level jobs, or the number of cores) and 1024");
		bad = 1;
	}
	bad |= gate_conf_int(g, "output_lines", &c->output_lines) < 0;
	if (c->output_lines < 0 || c->output_lines > 10000) {
		gate_conf_error(g, "output_lines", "must be between 0 and 10000");
		bad = 1;
	}
	bad |= gate_conf_size(g, "max_output", &c->max_output) < 0;
	r = gate_conf_string(g, "sandbox", &sandbox);
	bad |= r < 0;
	if (r > 0) {
		if (!strcmp(sandbox, "none"))
			c->sandbox = SANDBOX_NONE;
		else if (strcmp(sandbox, "bwrap")) {
			gate_conf_error(g, "sandbox", "must be \"bwrap\" (the default: bubblewrap, no network, nothing "
						      "of the server visible) or \"none\" (unsafe)");
			bad = 1;
		}
	}
	r = gate_conf_bool(g, "cache", &c->cache);
	bad |= r < 0;
	if (c->sandbox == SANDBOX_NONE) {
		gate_conf_warn(g, "sandbox",
			       "sandbox = \"none\": code from every push runs with the hook account's rights (it can "
			       "read and change every repository, hook and key of the account, reach the network, "
			       "and fake the verdict cache, which is therefore off for this check)");
		if (r > 0 && c->cache)
			gate_conf_warn(g, "cache", "cache = true has no effect with sandbox = \"none\"");
		c->cache = 0;
	}
	bad |= gate_conf_size(g, "max_memory", &c->max_memory) < 0;
	if (c->max_memory && c->max_memory < 16u * 1024 * 1024) {
		gate_conf_error(g, "max_memory", "must be 0 (no limit) or at least 16 MiB");
		bad = 1;
	}
	bad |= gate_conf_size(g, "max_disk", &c->max_disk) < 0;
	if (c->max_disk < 1024u * 1024) {
		gate_conf_error(g, "max_disk", "must be at least 1 MiB");
		bad = 1;
	}
	bad |= gate_conf_int(g, "max_processes", &c->max_processes) < 0;
	if (c->max_processes < 0 || (c->max_processes > 0 && c->max_processes < 4) || c->max_processes > 1000000) {
		gate_conf_error(g, "max_processes", "must be 0 (no limit) or between 4 and 1000000");
		bad = 1;
	}
	bad |= gate_conf_strings(g, "env", &c->env) < 0;
	for (i = 0; i < c->env.nr; i++) {
		const char *eq = strchr(c->env.v[i], '=');
		if (!eq || !valid_env_name(c->env.v[i], (size_t)(eq - c->env.v[i]))) {
			gate_conf_error(g, "env", "\"%s\" is not NAME=VALUE (NAME: letters, digits and '_')", c->env.v[i]);
			bad = 1;
		} else if (!strncmp(c->env.v[i], "GIT_GATE_", 9)) {
			gate_conf_error(g, "env", "\"%s\": GIT_GATE_* variables are set by git-gate itself", c->env.v[i]);
			bad = 1;
		}
	}
	if (bad) {
		cmd_free(c);
		return -1;
	}
	c->run = gate_xstrdup(run);
	*data = c;
	return 0;
}

/* ---- what one run needs and gives ---- */

struct cmd_ctx {
	const struct gate_check_run *run;
	const struct cmd_check *c;
	const struct gate_job *job;
	const char *git_dir;
	const char *ws_root;
	char *log_dir;
	char *cache_dir; /* NULL: no cache */
	int shared;      /* core.sharedRepository, for what we create (shared.h) */
	char *run_short; /* the command for messages: first line, shortened */
	size_t nunits;
	long max_commands; /* server-wide slots, 0: no cap */
	char *slot_dir;
};

struct unit {
	const struct gate_commit *commit; /* NULL when not a new commit of the scan */
	char commit_id[41];
	char tree_id[41];
	size_t index;       /* 1-based position, for "commit 2 of 5" */
	long same_as;       /* an earlier unit with the same tree, or -1 */
	int cached;
	int ran;
	int unsafe;         /* the tree cannot be checked out safely */
	int too_big;        /* the tree is bigger than max_disk (message says how big) */
	int status;
	int timed_out;
	double seconds;
	double unpack_seconds; /* sandbox: start-up and unpacking the tree */
	uint64_t out_bytes;
	struct gate_buf tail;
	char *log_path;
	char *log_error;
	char *error;        /* could not judge */
	char *message;      /* GATE_EUNSAFE or too_big text */
};

static void unit_release(struct unit *u)
{
	gate_buf_release(&u->tail);
	free(u->log_path);
	free(u->log_error);
	free(u->error);
	free(u->message);
}

static int trace_on(void)
{
	const char *t = getenv("GIT_GATE_TRACE");

	return t && *t && strcmp(t, "0");
}

/* ---- environment ---- */

extern char **environ;

/*
 * The command's whole environment: PATH, LANG, LC_*, TZ of ours, HOME,
 * the GIT_GATE_* variables and the check's `env`.  Nothing else of the
 * hook's environment (tokens, git's repository and push variables, the
 * admin's own settings) reaches pushed code.
 */
static void build_env(struct gate_strvec *env, const struct cmd_ctx *cx, const struct unit *u,
		      const char *workspace, const char *home)
{
	const char *path = getenv("PATH");
	char **e;
	size_t i;

	gate_strvec_pushf(env, "PATH=%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (e = environ; e && *e; e++)
		if (!strncmp(*e, "LANG=", 5) || !strncmp(*e, "LANGUAGE=", 9) || !strncmp(*e, "LC_", 3) ||
		    !strncmp(*e, "TZ=", 3))
			gate_strvec_push(env, *e);
	gate_strvec_pushf(env, "HOME=%s", home);
	gate_strvec_pushf(env, "GIT_GATE_REF=%s", cx->job->ref);
	gate_strvec_pushf(env, "GIT_GATE_OLD=%s", cx->job->old_id);
	gate_strvec_pushf(env, "GIT_GATE_NEW=%s", cx->job->new_id);
	gate_strvec_pushf(env, "GIT_GATE_COMMIT=%s", u->commit_id);
	gate_strvec_pushf(env, "GIT_GATE_TREE=%s", u->tree_id);
	gate_strvec_pushf(env, "GIT_GATE_USER=%s", cx->run->pusher);
	gate_strvec_pushf(env, "GIT_GATE_CHECK=%s", cx->run->def->name);
	gate_strvec_pushf(env, "GIT_GATE_WORKSPACE=%s", workspace);
	for (i = 0; i < cx->c->env.nr; i++)
		gate_strvec_push(env, cx->c->env.v[i]);
}

/* ---- logs ---- */

static void add_sanitized(struct gate_buf *b, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] && i < max; i++) {
		char ch = s[i];
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
			 ch == '-' || ch == '_';
		gate_buf_addch(b, ok ? ch : '_');
	}
}

/* Open a new log file: DIR/<time>-<check>-<ref>-<commit>.log. */
static int open_log(const struct cmd_ctx *cx, struct unit *u)
{
	struct gate_buf name = GATE_BUF_INIT;
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	size_t base;
	int fd = -1, k;

	if (gate_shared_mkdir_p(cx->shared, cx->log_dir) < 0) {
		u->log_error = gate_xstrfmt("cannot create the log directory '%s': %s", cx->log_dir, strerror(errno));
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	gate_buf_addf(&name, "%s/%s-", cx->log_dir, stamp);
	add_sanitized(&name, cx->run->def->name, 40);
	gate_buf_addch(&name, '-');
	add_sanitized(&name, cx->job->ref, 80);
	gate_buf_addf(&name, "-%.10s", u->commit_id);
	base = name.len;
	for (k = 1; k < 1000; k++) {
		gate_buf_truncate(&name, base);
		if (k > 1)
			gate_buf_addf(&name, "-%d", k);
		gate_buf_adds(&name, ".log");
		fd = gate_shared_open(cx->shared, name.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		u->log_error = gate_xstrfmt("cannot create a log file in '%s': %s", cx->log_dir, strerror(errno));
		gate_buf_release(&name);
		return -1;
	}
	u->log_path = gate_buf_detach(&name);
	return fd;
}

static void log_write(int fd, const char *data, size_t len)
{
	if (fd >= 0)
		(void)gate_write_all(fd, data, len);
}

static void log_printf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_printf(int fd, const char *fmt, ...)
{
	struct gate_buf b = GATE_BUF_INIT;
	va_list ap;

	if (fd < 0)
		return;
	va_start(ap, fmt);
	gate_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	log_write(fd, b.ptr, b.len);
	gate_buf_release(&b);
}

/*
 * The log's header.  The ref, the pusher and the command may hold
 * anything (a ref name with an escape sequence, a user name with a
 * newline): each is one neutralised line.
 */
static void log_header(int fd, const struct cmd_ctx *cx, const struct unit *u, const char *ws, size_t nfiles)
{
	struct gate_buf b = GATE_BUF_INIT;
	char stamp[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S UTC", &tm);
	gate_buf_adds(&b, "# git-gate: check '");
	gate_buf_add_safes(&b, cx->run->def->name);
	gate_buf_adds(&b, "' (command)\n# run: ");
	gate_buf_add_safes(&b, cx->c->run);
	gate_buf_adds(&b, "\n# ref: ");
	gate_buf_add_safes(&b, cx->job->ref);
	gate_buf_addf(&b, " %s..%s\n# commit: %s\n# tree: %s\n# pusher: ", cx->job->old_id, cx->job->new_id,
		      u->commit_id, u->tree_id);
	gate_buf_add_safes(&b, cx->run->pusher ? cx->run->pusher : "");
	gate_buf_adds(&b, "\n# workspace: ");
	gate_buf_add_safes(&b, ws);
	gate_buf_addf(&b, " (%zu files)\n# started: %s\n", nfiles, stamp);
	log_write(fd, b.ptr, b.len);
	gate_buf_release(&b);
}

/*
 * The command's output goes to the log neutralised, lines kept: `carry`
 * holds a UTF-8 sequence cut by the end of a read until the next one
 * (final: nothing more comes).
 */
static void log_output(int fd, struct gate_buf *carry, const char *data, size_t len, int final)
{
	struct gate_buf b = GATE_BUF_INIT;
	size_t hold;

	if (fd < 0)
		return;
	gate_buf_add(carry, data, len);
	hold = final ? 0 : gate_utf8_partial_tail(carry->ptr ? carry->ptr : "", carry->len);
	gate_buf_add_safe_opts(&b, carry->ptr ? carry->ptr : "", carry->len - hold, GATE_SAFE_LINES);
	if (hold)
		memmove(carry->ptr, carry->ptr + carry->len - hold, hold);
	gate_buf_truncate(carry, hold);
	log_write(fd, b.ptr, b.len);
	gate_buf_release(&b);
}

/* ---- running the command ---- */

static void tail_add(struct gate_buf *tail, const char *data, size_t len)
{
	gate_buf_add(tail, data, len);
	if (tail->len > 2 * TAIL_KEEP) {
		size_t drop = tail->len - TAIL_KEEP;
		memmove(tail->ptr, tail->ptr + drop, TAIL_KEEP);
		gate_buf_truncate(tail, TAIL_KEEP);
		tail->ptr[tail->len] = '\0';
	}
}

/* Did the child exit?  Leaves it a zombie (WNOWAIT) so its group id stays ours. */
static int child_exited(pid_t pid, int *status)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD ? 1 : 0;
	if (si.si_pid != pid)
		return 0;
	if (si.si_code == CLD_EXITED)
		*status = si.si_status;
	else
		*status = 128 + si.si_status;
	return 1;
}

static void short_id(char out[8], const char *id)
{
	memcpy(out, id, 7);
	out[7] = '\0';
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Run the command for one unit: in the sandbox, with the tree of `plan`
 * streamed in (workspace NULL), or in `workspace` on the server.
 */
static int run_command(const struct cmd_ctx *cx, struct unit *u, const char *workspace,
		       const struct gate_tree_plan *plan, int log_fd, struct gate_buf *err)
{
	const struct cmd_check *c = cx->c;
	struct gate_child child = GATE_CHILD_INIT;
	struct gate_strvec argv = GATE_STRVEC_INIT, env = GATE_STRVEC_INIT;
	struct gate_sandbox sb = GATE_SANDBOX_INIT;
	struct gate_tree_tar tar = GATE_TREE_TAR_INIT;
	struct gate_buf early = GATE_BUF_INIT;
	struct gate_buf carry = GATE_BUF_INIT;
	char sid[8], buf[65536];
	double start, deadline, next_progress, kill_at = 0, drain_until = 0, wait_step = 0.001, t_ready = 0;
	uint64_t logged = 0, dropped = 0;
	int exited = 0, pipe_open = 1, term_sent = 0, kill_sent = 0, status = 0, ret = -1;
	int ready[2] = { -1, -1 }, unpacked = 0, feeding = 0;
	pid_t pid;

	short_id(sid, u->commit_id);
	if (!workspace) {
		struct gate_sandbox_opts o;
		if (pipe2(ready, O_CLOEXEC) < 0) {
			gate_error(err, "cannot create a pipe: %s", strerror(errno));
			goto out;
		}
		o.run = c->run;
		o.disk = c->max_disk;
		o.nproc = (uint64_t)c->max_processes;
		o.ready_fd = ready[1];
		if (gate_sandbox_prepare(&sb, &o, err) < 0)
			goto out;
		child.argv = gate_strvec_argv(&sb.argv);
		child.keep_fds = sb.keep_fds;
		child.fd3 = sb.fd3;
		child.set_ids = sb.set_ids;
		child.uid = sb.uid;
		child.gid = sb.gid;
		child.in = -1;
		child.new_session = 1;
		/* not the repository: when bwrap starts as uid 65534 it may not even enter it */
		child.dir = "/";
		build_env(&env, cx, u, GATE_SANDBOX_WORKSPACE, "/tmp");
		tar.plan = plan;
		feeding = 1;
	} else {
		const char *home = getenv("HOME");
		gate_strvec_pushv(&argv, (const char *const[]){ "/bin/sh", "-c", c->run, NULL });
		child.argv = gate_strvec_argv(&argv);
		child.dir = workspace;
		child.no_stdin = 1;
		child.contain = 1;
		child.limits.nproc = (uint64_t)c->max_processes;
		build_env(&env, cx, u, workspace, home && *home ? home : workspace);
		unpacked = 1;
	}
	child.limits.data = c->max_memory;
	child.limits.fsize = c->max_disk;
	child.env = gate_strvec_argv(&env);
	child.clear_env = 1;
	child.out = -1;
	child.err_to_out = 1;
	/* a command check has its own timeout: the hook's deadline waits meanwhile */
	if (gate_deadline_pause() < 0) {
		gate_error(err, "not started: the hook ran out of time (hook_timeout, %ld s)", gate_deadline_seconds());
		goto out;
	}
	start = gate_now();
	if (gate_child_start(&child, err) < 0) {
		gate_deadline_resume();
		goto out;
	}
	if (ready[1] >= 0) {
		close(ready[1]);
		ready[1] = -1;
	}
	if (child.in >= 0)
		set_nonblock(child.in);
	pid = child.pid;
	/* its group is this loop's to end, not the deadline's */
	gate_deadline_untrack(pid);
	u->ran = 1;
	deadline = start + (double)c->timeout;
	next_progress = c->progress > 0 ? start + (double)c->progress : 0;
	t_ready = start;

	for (;;) {
		double now = gate_now(), wake;
		struct pollfd pfd[3];
		int ms, pr, np = 0, i_out = -1, i_in = -1, i_ready = -1;

		if (!exited && child_exited(pid, &status)) {
			exited = 1;
			/* whatever it left running goes too */
			gate_child_kill(&child);
			drain_until = now + DRAIN_AFTER_EXIT;
		}
		if (exited && (!pipe_open || now >= drain_until) && ready[0] < 0)
			break;
		if (exited && ready[0] >= 0 && now >= drain_until) {
			close(ready[0]);
			ready[0] = -1;
			continue;
		}
		if (!exited && !term_sent && now >= deadline) {
			u->timed_out = 1;
			term_sent = 1;
			if (workspace) {
				/* the command's group; the supervisor passes it on to nobody else */
				kill(-pid, SIGTERM);
				kill_at = now + KILL_GRACE;
			} else {
				/* the sandbox holds nothing worth a grace period: it all goes */
				kill_at = now;
			}
		}
		if (term_sent && !kill_sent && !exited && now >= kill_at) {
			kill_sent = 1;
			gate_child_kill(&child);
		}
		if (next_progress && !exited && now >= next_progress) {
			gate_scan_progress(cx->run->scan, "%s: running on %s (%.0f s)", cx->run->def->name, sid,
					   now - start);
			while (next_progress <= now)
				next_progress += (double)c->progress;
		}
		/* sleep until the next thing to do, polling for the exit */
		wake = exited ? drain_until : term_sent ? (kill_sent ? now + 0.2 : kill_at) : deadline;
		if (next_progress && next_progress < wake)
			wake = next_progress;
		if (!exited) {
			double cap = pipe_open ? 0.2 : wait_step;
			if (now + cap < wake)
				wake = now + cap;
			if (!pipe_open && wait_step < 0.1)
				wait_step *= 2;
		}
		ms = (int)((wake - now) * 1000.0) + 1;
		if (ms < 0)
			ms = 0;
		if (pipe_open) {
			pfd[np].fd = child.out;
			pfd[np].events = POLLIN;
			pfd[np].revents = 0;
			i_out = np++;
		}
		if (feeding && child.in >= 0 && !exited) {
			pfd[np].fd = child.in;
			pfd[np].events = POLLOUT;
			pfd[np].revents = 0;
			i_in = np++;
		}
		if (ready[0] >= 0) {
			pfd[np].fd = ready[0];
			pfd[np].events = POLLIN;
			pfd[np].revents = 0;
			i_ready = np++;
		}
		pr = poll(pfd, (nfds_t)np, ms);
		if (pr < 0 && errno != EINTR) {
			gate_error(err, "poll: %s", strerror(errno));
			gate_child_kill(&child);
			break;
		}
		if (pr <= 0)
			continue;
		if (i_ready >= 0 && pfd[i_ready].revents) {
			char r[16];
			ssize_t n = read(ready[0], r, sizeof(r));
			if (n > 0 && !memcmp(r, "unpacked", n < 8 ? (size_t)n : 8)) {
				unpacked = 1;
				t_ready = gate_now();
				u->unpack_seconds = t_ready - start;
			}
			if (n <= 0 || unpacked) {
				close(ready[0]);
				ready[0] = -1;
			}
		}
		if (i_in >= 0 && pfd[i_in].revents) {
			/* feed the tree; a full pipe waits for the next round */
			int k;
			for (k = 0; k < 64 && child.in >= 0; k++) {
				const char *data;
				size_t len;
				ssize_t n;
				int r = gate_tree_tar_next(&tar, &data, &len, err);
				if (r < 0) {
					gate_child_kill(&child);
					goto fail;
				}
				if (r == 0) {
					close(child.in);
					child.in = -1;
					break;
				}
				n = write(child.in, data, len);
				if (n < 0) {
					if (errno == EAGAIN || errno == EINTR)
						break;
					/* tar is gone: what it said is in the output */
					close(child.in);
					child.in = -1;
					break;
				}
				gate_tree_tar_advance(&tar, (size_t)n);
			}
		}
		if (i_out >= 0 && pfd[i_out].revents) {
			ssize_t n = read(child.out, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				close(child.out);
				child.out = -1;
				pipe_open = 0;
				wait_step = 0.001;
				continue;
			}
			if (!unpacked && early.len < 4096)
				gate_buf_add(&early, buf, (size_t)n);
			u->out_bytes += (uint64_t)n;
			if (logged < c->max_output) {
				size_t keep = (uint64_t)n < c->max_output - logged ? (size_t)n
										    : (size_t)(c->max_output - logged);
				log_output(log_fd, &carry, buf, keep, 0);
				logged += keep;
				dropped += (uint64_t)n - keep;
			} else {
				dropped += (uint64_t)n;
			}
			tail_add(&u->tail, buf, (size_t)n);
		}
	}
	if (!exited) {
		/* poll failed: make sure it ends */
		gate_child_kill(&child);
	}
	{
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		gate_deadline_resume();
		if (!exited) {
			if (WIFEXITED(st))
				status = WEXITSTATUS(st);
			else if (WIFSIGNALED(st))
				status = 128 + WTERMSIG(st);
			else
				status = 255;
		}
	}
	child.pid = -1;
	u->seconds = gate_now() - t_ready;
	u->status = status;
	log_output(log_fd, &carry, "", 0, 1);
	if (dropped)
		log_printf(log_fd, "\n# git-gate: %llu more bytes of output not kept (max_output = %llu)\n",
			   (unsigned long long)dropped, (unsigned long long)c->max_output);
	if (!unpacked && !u->timed_out) {
		/* the sandbox never got to run the command: not a verdict on the tree */
		if (!strncmp(early.ptr ? early.ptr : "", "bwrap:", 6) || !early.len)
			gate_sandbox_start_error(err, &sb, early.ptr);
		else
			gate_error(err, "the tree could not be unpacked in the sandbox: %.*s",
				   (int)strcspn(early.ptr, "\n"), early.ptr);
		u->ran = 0;
		goto out;
	}
	ret = 0;
	goto out;
fail:
	while (waitpid(child.pid, NULL, 0) < 0 && errno == EINTR)
		;
	gate_deadline_resume();
	child.pid = -1;
out:
	if (child.pid > 0) {
		gate_child_kill(&child);
		while (waitpid(child.pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	/* 0 means inherited (no tree fed on stdin without the sandbox): not ours to close */
	if (child.out > 0)
		close(child.out);
	if (child.in > 0)
		close(child.in);
	if (ready[0] >= 0)
		close(ready[0]);
	if (ready[1] >= 0)
		close(ready[1]);
	gate_tree_tar_release(&tar);
	gate_sandbox_release(&sb);
	gate_buf_release(&early);
	gate_strvec_clear(&argv);
	gate_strvec_clear(&env);
	gate_buf_release(&carry);
	return ret;
}

static void add_limit(struct gate_buf *b, uint64_t v)
{
	if (v && !(v % (1ull << 30)))
		gate_buf_addf(b, "%llu GiB", (unsigned long long)(v >> 30));
	else if (v && !(v % (1ull << 20)))
		gate_buf_addf(b, "%llu MiB", (unsigned long long)(v >> 20));
	else if (v && !(v % 1024))
		gate_buf_addf(b, "%llu KiB", (unsigned long long)(v >> 10));
	else
		gate_buf_addf(b, "%llu bytes", (unsigned long long)v);
}

static int tail_has(const struct unit *u, const char *const *needles)
{
	size_t i;

	for (i = 0; needles[i]; i++)
		if (u->tail.len && memmem(u->tail.ptr, u->tail.len, needles[i], strlen(needles[i])))
			return 1;
	return 0;
}

/*
 * Which limits a failed run ran into, as ", hit max_processes = 64": what
 * programs print when the kernel refuses them a process, memory or disk
 * (pushed code can print that too, but only about its own failure).
 */
static void add_limits_hit(struct gate_buf *b, const struct cmd_check *c, const struct unit *u)
{
	static const char *const nproc[] = { "Resource temporarily unavailable", "Cannot fork", "can't fork",
					     "cannot fork", "fork: retry", NULL };
	static const char *const mem[] = { "Cannot allocate memory", "MemoryError", "out of memory", "Out of memory",
					   "bad_alloc", "memory exhausted", NULL };
	static const char *const disk[] = { "No space left on device", "File too large", "Disk quota exceeded",
					    NULL };

	if (!u->timed_out && u->status == 0)
		return;
	if (c->max_processes && tail_has(u, nproc))
		gate_buf_addf(b, ", hit max_processes = %lld", c->max_processes);
	if (c->max_memory && tail_has(u, mem)) {
		gate_buf_adds(b, ", hit max_memory = ");
		add_limit(b, c->max_memory);
	}
	if (tail_has(u, disk) || u->status == 128 + SIGXFSZ) {
		gate_buf_adds(b, ", hit max_disk = ");
		add_limit(b, c->max_disk);
	}
}

static void describe_result(struct gate_buf *b, const struct cmd_check *c, const struct unit *u)
{
	if (u->timed_out)
		gate_buf_addf(b, "timed out after %lld s", (long long)c->timeout);
	else
		gate_buf_add_status(b, u->status);
	add_limits_hit(b, c, u);
}

struct slot_wait {
	const struct cmd_ctx *cx;
	const char *sid;
};

static void slot_waiting(void *arg, double seconds)
{
	const struct slot_wait *w = arg;

	if (seconds < 1)
		gate_scan_progress(w->cx->run->scan,
				   "%s: waiting to run on %s: %ld command%s already running on this server "
				   "(max_concurrent_commands = %ld)",
				   w->cx->run->def->name, w->sid, w->cx->max_commands, w->cx->max_commands == 1 ? "" : "s",
				   w->cx->max_commands);
	else
		gate_scan_progress(w->cx->run->scan, "%s: still waiting to run on %s (%.0f s)", w->cx->run->def->name,
				   w->sid, seconds);
}

/* Check out, run, clean up: one commit under test.  Errors go to u->error. */
static void run_unit(const struct cmd_ctx *cx, struct unit *u)
{
	struct gate_workspace ws = GATE_WORKSPACE_INIT;
	struct gate_tree_plan plan = GATE_TREE_PLAN_INIT;
	struct gate_slot slot = GATE_SLOT_INIT;
	struct gate_buf err = GATE_BUF_INIT, key = GATE_BUF_INIT, res = GATE_BUF_INIT;
	const char *name = cx->run->def->name;
	const int sandboxed = cx->c->sandbox == SANDBOX_BWRAP;
	char sid[8];
	double t0 = gate_now(), t_co = 0, t_run = 0, t_cache = 0, t_setup = 0, t_slot = 0, t_plan = 0;
	size_t nfiles = 0;
	int r, log_fd = -1;

	short_id(sid, u->commit_id);
	if (cx->max_commands > 0) {
		struct slot_wait w = { cx, sid };
		/* waiting for a slot is the commands' time, not the hook's (hook_timeout) */
		if (gate_deadline_pause() < 0) {
			u->error = gate_xstrfmt("not started: the hook ran out of time (hook_timeout, %ld s)",
						gate_deadline_seconds());
			goto out;
		}
		r = gate_slot_acquire(&slot, cx->slot_dir, cx->max_commands,
				      cx->c->progress > 0 ? (double)cx->c->progress : 0, slot_waiting, &w, &err);
		gate_deadline_resume();
		if (r < 0) {
			u->error = gate_buf_detach(&err);
			goto out;
		}
		t_slot = gate_now() - t0;
		t0 = gate_now();
	}
	if (cx->nunits > 1)
		gate_scan_progress(cx->run->scan, "%s: running on %s (commit %zu of %zu)", name, sid, u->index,
				   cx->nunits);
	else
		gate_scan_progress(cx->run->scan, "%s: running on %s", name, sid);
	/* what the checkout would take, before anything is written */
	t0 = gate_now();
	r = gate_tree_plan_make(&plan, cx->git_dir, u->tree_id, &err);
	t_plan = gate_now() - t0;
	t0 = gate_now();
	if (r == GATE_EUNSAFE) {
		u->unsafe = 1;
		u->message = gate_buf_detach(&err);
		gate_scan_progress(cx->run->scan, "%s: FAILED on %s: the tree cannot be checked out safely", name, sid);
		goto out;
	}
	if (r < 0) {
		u->error = gate_buf_detach(&err);
		goto out;
	}
	nfiles = plan.nr;
	if (plan.disk > cx->c->max_disk) {
		struct gate_buf m = GATE_BUF_INIT;
		u->too_big = 1;
		gate_buf_adds(&m, "the tree takes ");
		gate_buf_add_size(&m, plan.disk);
		gate_buf_addf(&m, " checked out (%zu entries, ", plan.nr);
		gate_buf_add_size(&m, plan.bytes);
		gate_buf_adds(&m, " of content), more than max_disk = ");
		add_limit(&m, cx->c->max_disk);
		u->message = gate_buf_detach(&m);
		gate_scan_progress(cx->run->scan, "%s: FAILED on %s: the tree is bigger than max_disk", name, sid);
		goto out;
	}
	if (!sandboxed) {
		/* a workspace root the gate makes is shared like the repository (shared.h) */
		if (cx->ws_root && gate_shared_mkdir_p(cx->shared, cx->ws_root) < 0) {
			u->error = gate_xstrfmt("cannot create the workspace root '%s': %s", cx->ws_root,
						strerror(errno));
			goto out;
		}
		if (gate_workspace_create(&ws, cx->ws_root, &err) < 0) {
			u->error = gate_buf_detach(&err);
			goto out;
		}
		t_setup = gate_now() - t0;
		t0 = gate_now();
		r = gate_workspace_checkout_plan(&ws, &plan, &nfiles, &err);
		t_co = gate_now() - t0;
		if (r < 0) {
			u->error = gate_buf_detach(&err);
			goto out;
		}
	}
	t0 = gate_now();
	log_fd = open_log(cx, u);
	if (log_fd >= 0)
		log_header(log_fd, cx, u, sandboxed ? GATE_SANDBOX_WORKSPACE " in the sandbox" : ws.path, nfiles);
	t_setup += gate_now() - t0;
	t0 = gate_now();
	if (run_command(cx, u, sandboxed ? NULL : ws.path, &plan, log_fd, &err) < 0) {
		u->error = gate_buf_detach(&err);
		goto out;
	}
	t_run = gate_now() - t0;
	if (sandboxed) {
		/* the sandbox's start-up and the unpacking are its checkout */
		t_co = u->unpack_seconds;
		t_run -= u->unpack_seconds;
	}
	describe_result(&res, cx->c, u);
	log_printf(log_fd, "\n# git-gate: %s after %.1f s\n", res.ptr, u->seconds);
	if (!u->timed_out && u->status == 0) {
		gate_scan_progress(cx->run->scan, "%s: passed on %s in %.1f s", name, sid, u->seconds);
		if (cx->cache_dir) {
			double tc = gate_now();
			char *info = gate_xstrfmt("passed on commit %s in %.1f s", u->commit_id, u->seconds);
			gate_cache_key(&key, u->tree_id, cx->run->def->digest);
			if (gate_cache_store(cx->cache_dir, cx->shared, key.ptr, key.len, info, &err) < 0)
				gate_scan_progress(cx->run->scan, "%s: warning: the pass could not be cached: %s", name,
						   err.ptr);
			free(info);
			t_cache = gate_now() - tc;
		}
	} else {
		gate_scan_progress(cx->run->scan, "%s: FAILED on %s (%s) after %.1f s", name, sid, res.ptr, u->seconds);
	}
out:
	if (log_fd >= 0)
		close(log_fd);
	gate_tree_plan_release(&plan);
	gate_slot_release(&slot);
	t0 = gate_now();
	gate_buf_reset(&err);
	/* removed by a detached process: the verdict need not wait for it */
	if (ws.path && gate_workspace_remove_detached(&ws, &err) < 0)
		gate_scan_progress(cx->run->scan, "%s: warning: %s", name, err.ptr);
	if (trace_on())
		gate_scan_progress(cx->run->scan,
				   "trace: %s: %s slot %.3f s, setup %.3f s, checkout %.3f s (%zu files; planning %.3f s%s), "
				   "command %.3f s, cache %.3f s, cleanup %.3f s",
				   name, sid, t_slot, t_setup, t_plan + t_co, nfiles, t_plan,
				   sandboxed ? ", then the sandbox's start-up and unpacking" : ", then writing", t_run, t_cache,
				   gate_now() - t0);
	gate_buf_release(&err);
	gate_buf_release(&key);
	gate_buf_release(&res);
}

struct unit_pool {
	const struct cmd_ctx *cx;
	struct unit *units;
	size_t n, next;
	pthread_mutex_t lock;
};

static void *unit_worker(void *arg)
{
	struct unit_pool *p = arg;

	for (;;) {
		struct unit *u = NULL;
		pthread_mutex_lock(&p->lock);
		while (p->next < p->n && !u) {
			struct unit *cand = &p->units[p->next++];
			if (!cand->cached && cand->same_as < 0)
				u = cand;
		}
		pthread_mutex_unlock(&p->lock);
		if (!u)
			break;
		run_unit(p->cx, u);
	}
	return NULL;
}

static void run_units(const struct cmd_ctx *cx, struct unit *units, size_t n, long parallel)
{
	struct unit_pool pool;
	pthread_t *tids;
	long i, nthreads;

	pool.cx = cx;
	pool.units = units;
	pool.n = n;
	pool.next = 0;
	pthread_mutex_init(&pool.lock, NULL);
	nthreads = parallel < (long)n ? parallel : (long)n;
	if (nthreads <= 1) {
		unit_worker(&pool);
	} else {
		tids = gate_xcalloc((size_t)nthreads, sizeof(*tids));
		for (i = 0; i < nthreads; i++)
			if (pthread_create(&tids[i], NULL, unit_worker, &pool)) {
				nthreads = i;
				break;
			}
		if (!nthreads)
			unit_worker(&pool);
		for (i = 0; i < nthreads; i++)
			pthread_join(tids[i], NULL);
		free(tids);
	}
	pthread_mutex_destroy(&pool.lock);
}

/* ---- the report ---- */

/* Is this a CSI / escape sequence start?  Returns its length to skip, or 0. */
static size_t escape_len(const char *p, const char *end)
{
	const char *q;

	if (*p != '\033' || p + 1 >= end)
		return 0;
	if (p[1] != '[')
		return 2;
	for (q = p + 2; q < end; q++)
		if ((unsigned char)*q >= 0x40 && (unsigned char)*q <= 0x7e)
			return (size_t)(q - p) + 1;
	return (size_t)(end - p);
}

/*
 * The last `max` lines of output, as a terminal would have shown them:
 * colour codes dropped, a line rewritten with \r shows its last version,
 * long lines shortened.  The report neutralises what is left.
 */
static void last_lines(struct gate_buf *out, const struct gate_buf *tail, int truncated, size_t max,
		       size_t *shown)
{
	const char *start = tail->ptr ? tail->ptr : "", *end = start + tail->len, *p;
	const char **lines = NULL;
	size_t *lens = NULL, n = 0, alloc = 0, alloc2 = 0, i, first;

	*shown = 0;
	if (!max || !tail->len)
		return;
	while (end > start && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (truncated) {
		/* drop the cut first line, unless it is the only (last) one */
		const char *nl = memchr(start, '\n', (size_t)(end - start));
		if (nl)
			start = nl + 1;
	}
	for (p = start; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		GATE_ALLOC_GROW(lines, n + 1, alloc);
		GATE_ALLOC_GROW(lens, n + 1, alloc2);
		lines[n] = p;
		lens[n] = len;
		n++;
		p += len + 1;
	}
	first = n > max ? n - max : 0;
	for (i = first; i < n; i++) {
		const char *l = lines[i], *le = l + lens[i], *cr;
		size_t before = out->len;
		/* a line rewritten with \r: keep what was written last */
		while (le > l && le[-1] == '\r')
			le--;
		for (cr = le; cr > l && cr[-1] != '\r'; cr--)
			;
		l = cr;
		for (p = l; p < le;) {
			size_t esc = escape_len(p, le);
			if (esc) {
				p += esc;
				continue;
			}
			if (out->len - before >= LINE_MAX_SHOWN) {
				gate_buf_adds(out, "...");
				break;
			}
			gate_buf_addch(out, *p++);
		}
		if (i + 1 < n)
			gate_buf_addch(out, '\n');
		(*shown)++;
	}
	free(lines);
	free(lens);
}

static void shorten_command(struct gate_buf *b, const char *run)
{
	size_t n = strcspn(run, "\n");

	if (n > 60) {
		gate_buf_add(b, run, 57);
		gate_buf_adds(b, "...");
	} else {
		gate_buf_add(b, run, n);
		if (run[n])
			gate_buf_adds(b, " ...");
	}
}

static void report_unit(const struct cmd_ctx *cx, const struct unit *u, struct gate_findings *out)
{
	const struct cmd_check *c = cx->c;
	struct gate_buf msg = GATE_BUF_INIT, hint = GATE_BUF_INIT, detail = GATE_BUF_INIT;
	size_t shown = 0;
	char sid[11];

	memcpy(sid, u->commit_id, 10);
	sid[10] = '\0';
	if (u->too_big || u->unsafe) {
		gate_findings_add(out, u->commit, NULL, 0,
				  u->too_big ? "make the tree smaller (large generated or vendored files do not belong "
					       "in it), or ask an admin to raise max_disk"
					     : "remove or rename the path (git never creates such trees; check the tool "
					       "that wrote this commit)",
				  "%s%s%snot checked out, nothing run: %s", u->commit ? "" : "commit ",
				  u->commit ? "" : u->commit_id, u->commit ? "" : ": ", u->message);
		return;
	}
	gate_buf_addch(&msg, '\'');
	gate_buf_adds(&msg, cx->run_short);
	gate_buf_adds(&msg, "' ");
	if (u->timed_out) {
		gate_buf_addf(&msg, "timed out after %lld s (the command and everything it started were killed)",
			      (long long)c->timeout);
		add_limits_hit(&msg, c, u);
	} else {
		gate_buf_adds(&msg, "failed: ");
		gate_buf_add_status(&msg, u->status);
		gate_buf_addf(&msg, " after %.1f s", u->seconds);
		add_limits_hit(&msg, c, u);
	}
	if (!u->commit)
		gate_buf_addf(&msg, " on commit %s", sid);
	last_lines(&detail, &u->tail, u->out_bytes > u->tail.len, (size_t)c->output_lines, &shown);
	if (shown)
		gate_buf_addf(&msg, "; %s %zu line%s of output:", shown == (size_t)c->output_lines ? "last" : "its",
			      shown, shown == 1 ? "" : "s");
	else if (!u->out_bytes)
		gate_buf_adds(&msg, " (no output)");
	if (u->timed_out)
		gate_buf_addf(&hint, "make it finish within %lld s (or ask an admin to raise 'timeout'), then push "
				     "again",
			      (long long)c->timeout);
	else {
		/* the whole command, so that it can be copied (the report neutralises it) */
		gate_buf_adds(&hint, "reproduce with '");
		gate_buf_adds(&hint, c->run);
		gate_buf_addf(&hint, "' in a clean checkout of %s, fix the commit and push again", sid);
	}
	{
		struct gate_buf lim = GATE_BUF_INIT;
		add_limits_hit(&lim, c, u);
		if (lim.len)
			gate_buf_adds(&hint, "; stay within the limit it ran into, or ask an admin to raise it");
		gate_buf_release(&lim);
	}
	if (u->log_path)
		gate_buf_addf(&hint, "; full log on the server: %s", u->log_path);
	else if (u->log_error)
		gate_buf_addf(&hint, "; no log was kept (%s)", u->log_error);
	gate_findings_add_detail(out, u->commit, NULL, 0, hint.ptr, shown ? detail.ptr : NULL, detail.len, "%s",
				 msg.ptr);
	gate_buf_release(&msg);
	gate_buf_release(&hint);
	gate_buf_release(&detail);
}

/* ---- the hook ---- */

/* Peel the pushed tip (a commit or a tag) to a commit and its tree. */
static int resolve_tip(const char *git_dir, const char *id, char commit[41], char tree[41], struct gate_buf *err)
{
	git_repository *repo = NULL;
	git_object *obj = NULL, *peeled = NULL;
	git_oid oid;
	int ret = -1;

	if (git_oid_fromstr(&oid, id) < 0)
		return gate_error(err, "'%s' is not an object id", id);
	if (gate_workspace_open_repo(&repo, git_dir, err) < 0)
		goto out;
	if (git_object_lookup(&obj, repo, &oid, GIT_OBJECT_ANY) < 0) {
		gate_error(err, "cannot read %s: %s", id, gate_git_error());
		goto out;
	}
	if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
		ret = GATE_ENOTFOUND;
		goto out;
	}
	git_oid_tostr(commit, 41, git_object_id(peeled));
	git_oid_tostr(tree, 41, git_commit_tree_id((git_commit *)peeled));
	ret = 0;
out:
	git_object_free(peeled);
	git_object_free(obj);
	git_repository_free(repo);
	git_error_clear();
	return ret;
}

static long default_parallel(const struct cmd_check *c, const struct gate_config *cfg)
{
	long n;

	if (c->jobs > 0)
		return (long)c->jobs;
	if (cfg && cfg->jobs > 0)
		return cfg->jobs;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

static int cmd_job(const struct gate_check_run *run, const struct gate_job *job, struct gate_findings *out)
{
	const struct cmd_check *c = run->data;
	const struct gate_config *cfg = gate_scan_config(run->scan);
	struct gate_repo *repo = gate_scan_repo(run->scan);
	struct cmd_ctx cx;
	struct unit *units = NULL;
	struct gate_buf shortcmd = GATE_BUF_INIT;
	size_t n = 0, i, j;
	int ret = -1, failed = 0;

	memset(&cx, 0, sizeof(cx));
	if (!job->ncommits) {
		/* nothing new for this check: every commit was judged where it already is */
		return 0;
	}
	cx.run = run;
	cx.c = c;
	cx.job = job;
	cx.git_dir = repo->git_dir;
	cx.shared = gate_shared_perm(repo->git_dir);
	cx.ws_root = cfg && cfg->workspace && *cfg->workspace ? cfg->workspace : NULL;
	cx.log_dir = cfg && cfg->log_dir && *cfg->log_dir ? gate_xstrdup(cfg->log_dir)
							   : gate_xstrfmt("%s/git-gate/logs", repo->git_dir);
	/* workspaces of runs that died (a killed hook) go now */
	(void)gate_workspace_sweep(cx.ws_root);
	cx.max_commands = cfg && cfg->max_commands >= 0 ? cfg->max_commands : sysconf(_SC_NPROCESSORS_ONLN);
	if (cx.max_commands < 0)
		cx.max_commands = 1;
	/* one set per account: another account's private directory is no use to us */
	cx.slot_dir = gate_xstrfmt("%s/git-gate-slots.%ld", gate_workspace_root(cx.ws_root), (long)geteuid());
	/* never without the sandbox: the command itself could have written the cache (cmd_parse) */
	if (c->cache && c->sandbox == SANDBOX_BWRAP)
		cx.cache_dir = cfg && cfg->cache_dir && *cfg->cache_dir
				       ? gate_xstrdup(cfg->cache_dir)
				       : gate_xstrfmt("%s/git-gate/cache", repo->git_dir);
	shorten_command(&shortcmd, c->run);
	cx.run_short = shortcmd.ptr;

	units = gate_xcalloc(job->ncommits + 1, sizeof(*units));
	if (c->each) {
		for (i = 0; i < job->ncommits; i++) {
			struct unit *u = &units[n++];
			u->commit = job->commits[i];
			memcpy(u->commit_id, job->commits[i]->id, 41);
			memcpy(u->tree_id, job->commits[i]->tree, 41);
		}
	} else {
		struct unit *u = &units[n];
		const struct gate_commit *tip = gate_scan_commit(run->scan, job->new_id);
		if (tip) {
			u->commit = tip;
			memcpy(u->commit_id, tip->id, 41);
			memcpy(u->tree_id, tip->tree, 41);
		} else {
			int r = resolve_tip(repo->git_dir, job->new_id, u->commit_id, u->tree_id, run->err);
			if (r == GATE_ENOTFOUND) {
				ret = 0; /* a tag of a tree or blob: nothing to build */
				goto out;
			}
			if (r < 0)
				goto out;
			u->commit = gate_scan_commit(run->scan, u->commit_id);
		}
		n = 1;
	}
	cx.nunits = n;
	for (i = 0; i < n; i++) {
		units[i].index = i + 1;
		units[i].same_as = -1;
		for (j = 0; j < i; j++)
			if (!strcmp(units[j].tree_id, units[i].tree_id)) {
				units[i].same_as = (long)j;
				break;
			}
		if (units[i].same_as >= 0 || !cx.cache_dir)
			continue;
		{
			struct gate_buf key = GATE_BUF_INIT;
			char sid[8];
			gate_cache_key(&key, units[i].tree_id, run->def->digest);
			if (gate_cache_lookup(cx.cache_dir, key.ptr, key.len) == 1) {
				units[i].cached = 1;
				short_id(sid, units[i].tree_id);
				gate_scan_progress(run->scan, "%s: tree %s already passed (cached) -- not run",
						   run->def->name, sid);
			}
			gate_buf_release(&key);
		}
	}
	run_units(&cx, units, n, c->each ? default_parallel(c, cfg) : 1);

	for (i = 0; i < n; i++) {
		const struct unit *u = &units[i];
		const struct unit *r = u->same_as >= 0 ? &units[u->same_as] : u;
		if (r->error) {
			/* could not judge: the first reason is reported, the push rejected */
			if (!failed)
				gate_error(run->err, "%s (commit %.10s)", r->error, u->commit_id);
			failed = 1;
			continue;
		}
		if (r->cached || (!r->unsafe && !r->too_big && !r->ran))
			continue;
		if (!r->unsafe && !r->too_big && !r->timed_out && r->status == 0)
			continue;
		report_unit(&cx, r, out);
		if (r != u) {
			/* the same tree: the same verdict, named on this commit too */
			struct gate_finding *last = &out->v[out->nr - 1];
			free(last->commit);
			free(last->subject);
			last->commit = gate_xstrdup(u->commit_id);
			last->subject = u->commit && u->commit->subject ? gate_xstrdup(u->commit->subject) : NULL;
			last->commit_index = u->commit ? u->commit->index : (size_t)-1;
		}
	}
	{
		/* say in the report (and the audit log) when the pass came from the cache */
		size_t ncached = 0;
		for (i = 0; i < n; i++)
			if (units[i].cached)
				ncached++;
		if (ncached && run->note && !*run->note)
			*run->note = ncached == n && n == 1
					     ? gate_xstrfmt("tree %.7s already passed (cached): not run", units[0].tree_id)
					     : gate_xstrfmt("%zu of %zu trees already passed (cached): not run again",
							    ncached, n);
	}
	ret = failed ? -1 : 0;
out:
	for (i = 0; units && i < n; i++)
		unit_release(&units[i]);
	free(units);
	free(cx.log_dir);
	free(cx.cache_dir);
	free(cx.slot_dir);
	gate_buf_release(&shortcmd);
	return ret;
}

static int cmd_vouches(const void *data)
{
	const struct cmd_check *c = data;

	return c->each && c->cache;
}

const struct gate_check_type gate_check_command = {
	.name = "command",
	.summary = "run the build and tests on the pushed tree (e.g. make check) and fail when they fail",
	.flags = GATE_CHECK_EXPENSIVE,
	.parse = cmd_parse,
	.free = cmd_free,
	.job = cmd_job,
	.vouches = cmd_vouches,
};
