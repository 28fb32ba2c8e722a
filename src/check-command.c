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
#include "scan.h"
#include "shared.h"
#include "workspace.h"

#include "banned.h"

/*
 * command: run the team's build and tests on the exact tree a ref would
 * get, and fail when they fail.
 *
 * For each commit under test (the new tip, or every new commit with
 * on = "each") the tree is checked out into a private workspace and
 * `run` is started there as /bin/sh -c RUN, in its own process group,
 * stdin from /dev/null, stdout and stderr merged into a log file on the
 * server.  Pushed data reaches the command only through GIT_GATE_*
 * environment variables.  On timeout the whole group is sent SIGTERM,
 * then SIGKILL after a grace period; when the command exits, whatever
 * it left running in its group is killed too.  A pass is remembered in
 * the verdict cache under (tree, the check's definition), failures never.
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
		if (!strcmp(sandbox, "bwrap"))
			c->sandbox = SANDBOX_BWRAP;
		else if (strcmp(sandbox, "none")) {
			gate_conf_error(g, "sandbox", "must be \"none\" or \"bwrap\" (bubblewrap: no network, read-only "
						      "system, private /tmp)");
			bad = 1;
		}
	}
	bad |= gate_conf_bool(g, "cache", &c->cache) < 0;
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
	int status;
	int timed_out;
	double seconds;
	uint64_t out_bytes;
	struct gate_buf tail;
	char *log_path;
	char *log_error;
	char *error;        /* could not judge */
	char *message;      /* GATE_EUNSAFE text */
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

static int has_prefix_var(const char *e, const char *prefix)
{
	return !strncmp(e, prefix, strlen(prefix));
}

extern char **environ;

/*
 * The command's environment: ours minus git's hook and repository
 * variables (so that git run inside the checkout behaves normally), plus
 * the GIT_GATE_* variables and the check's `env`.
 */
static void build_env(struct gate_strvec *env, const struct cmd_ctx *cx, const struct unit *u,
		      const char *workspace)
{
	static const char *const drop[] = {
		"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
		"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH", "GIT_COMMON_DIR", "GIT_NAMESPACE",
		"GIT_PREFIX", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_IMPLICIT_WORK_TREE",
		"GIT_GRAFT_FILE", "GIT_SHALLOW_FILE", "GIT_NO_REPLACE_OBJECTS", "GIT_REPLACE_REF_BASE",
		"GIT_PROTOCOL", "GIT_REFLOG_ACTION", "GIT_PUSH_OPTION_COUNT", "GIT_EXEC_PATH",
		NULL
	};
	static const char *const drop_prefix[] = {
		"GIT_PUSH_OPTION_", "GIT_PUSH_CERT", "GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_", "GIT_GATE_", NULL
	};
	char **e;
	size_t i;

	for (i = 0; drop[i]; i++)
		gate_strvec_push(env, drop[i]);
	for (e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		for (i = 0; drop_prefix[i]; i++)
			if (has_prefix_var(*e, drop_prefix[i]) && eq) {
				char *name = gate_xstrndup(*e, (size_t)(eq - *e));
				/* keep the admin's own knobs */
				if (strcmp(name, "GIT_GATE_TRACE") && strcmp(name, "GIT_GATE_BWRAP"))
					gate_strvec_push(env, name);
				free(name);
				break;
			}
	}
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

/* ---- the sandbox ---- */

static char *find_bwrap(void)
{
	const char *over = getenv("GIT_GATE_BWRAP");
	const char *path = getenv("PATH"), *p;

	if (over && *over)
		return access(over, X_OK) == 0 ? gate_xstrdup(over) : NULL;
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n) {
			char *cand = gate_xstrfmt("%.*s/bwrap", (int)n, p);
			if (access(cand, X_OK) == 0)
				return cand;
			free(cand);
		}
		if (!colon)
			break;
		p = colon + 1;
	}
	return NULL;
}

static void bwrap_args(struct gate_strvec *argv, const char *bwrap, const char *workspace)
{
	static const char *const sysdirs[] = { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", NULL };
	struct stat st;
	size_t i;

	gate_strvec_pushv(argv, (const char *const[]){ bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc",
						       "--unshare-uts", "--die-with-parent", "--cap-drop", "ALL",
						       "--ro-bind", "/usr", "/usr", NULL });
	for (i = 0; sysdirs[i]; i++) {
		char target[4096];
		ssize_t n;
		if (lstat(sysdirs[i], &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode) && (n = readlink(sysdirs[i], target, sizeof(target) - 1)) > 0) {
			target[n] = '\0';
			gate_strvec_pushv(argv, (const char *const[]){ "--symlink", target, sysdirs[i], NULL });
		} else if (S_ISDIR(st.st_mode)) {
			gate_strvec_pushv(argv, (const char *const[]){ "--ro-bind", sysdirs[i], sysdirs[i], NULL });
		}
	}
	gate_strvec_pushv(argv, (const char *const[]){ "--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev",
						       "/dev", "--tmpfs", "/tmp", "--bind", workspace, workspace,
						       "--chdir", workspace, "--setenv", "HOME", "/tmp", NULL });
}

/* Can bwrap make its namespaces here?  -1 with the reason when not. */
static int bwrap_probe(const char *bwrap, struct gate_buf *err)
{
	const char *argv[] = { bwrap, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--die-with-parent",
			       "--cap-drop", "ALL", "true", NULL };
	struct gate_buf out = GATE_BUF_INIT, eout = GATE_BUF_INIT, e2 = GATE_BUF_INIT;
	int status = -1, ret = 0;

	if (gate_run_capture(argv, NULL, NULL, NULL, 0, &out, &eout, &status, &e2) < 0 || status) {
		while (eout.len && (eout.ptr[eout.len - 1] == '\n' || eout.ptr[eout.len - 1] == ' '))
			gate_buf_truncate(&eout, eout.len - 1);
		ret = gate_error(err,
				 "sandbox = \"bwrap\": bubblewrap ('%s') cannot create its namespaces on this server "
				 "(%s); let it (e.g. sysctl kernel.unprivileged_userns_clone=1, or install bwrap setuid), "
				 "or set sandbox = \"none\"",
				 bwrap, eout.len ? eout.ptr : e2.len ? e2.ptr : "it failed");
	}
	gate_buf_release(&out);
	gate_buf_release(&eout);
	gate_buf_release(&e2);
	return ret;
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

static int run_command(const struct cmd_ctx *cx, struct unit *u, const char *workspace, int log_fd,
		       struct gate_buf *err)
{
	const struct cmd_check *c = cx->c;
	struct gate_child child = GATE_CHILD_INIT;
	struct gate_strvec argv = GATE_STRVEC_INIT, env = GATE_STRVEC_INIT;
	struct gate_buf carry = GATE_BUF_INIT;
	char *bwrap = NULL;
	char sid[8], buf[65536];
	double start, deadline, next_progress, kill_at = 0, drain_until = 0, wait_step = 0.001;
	uint64_t logged = 0, dropped = 0;
	int exited = 0, pipe_open = 1, term_sent = 0, kill_sent = 0, status = 0, ret = -1;
	pid_t pid;

	short_id(sid, u->commit_id);
	if (c->sandbox == SANDBOX_BWRAP) {
		bwrap = find_bwrap();
		if (!bwrap) {
			gate_error(err, "sandbox = \"bwrap\" needs bubblewrap, which is not installed%s "
					"(apt-get install bubblewrap, dnf install bubblewrap), or set sandbox = \"none\"",
				   getenv("GIT_GATE_BWRAP") ? " at GIT_GATE_BWRAP" : " (no 'bwrap' in PATH)");
			goto out;
		}
		if (bwrap_probe(bwrap, err) < 0)
			goto out;
		bwrap_args(&argv, bwrap, workspace);
	}
	gate_strvec_pushv(&argv, (const char *const[]){ "/bin/sh", "-c", c->run, NULL });
	build_env(&env, cx, u, workspace);

	child.argv = gate_strvec_argv(&argv);
	child.env = gate_strvec_argv(&env);
	child.dir = workspace;
	child.no_stdin = 1;
	child.out = -1;
	child.err_to_out = 1;
	child.new_pgroup = 1;
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
	pid = child.pid;
	/* its group is this loop's to end, not the deadline's */
	gate_deadline_untrack(pid);
	u->ran = 1;
	deadline = start + (double)c->timeout;
	next_progress = c->progress > 0 ? start + (double)c->progress : 0;

	for (;;) {
		double now = gate_now(), wake;
		struct pollfd pfd;
		int ms, pr;

		if (!exited && child_exited(pid, &status)) {
			exited = 1;
			/* whatever it left running in its group goes too */
			kill(-pid, SIGKILL);
			drain_until = now + DRAIN_AFTER_EXIT;
		}
		if (exited && (!pipe_open || now >= drain_until))
			break;
		if (!exited && !term_sent && now >= deadline) {
			u->timed_out = 1;
			term_sent = 1;
			kill(-pid, SIGTERM);
			kill_at = now + KILL_GRACE;
		}
		if (term_sent && !kill_sent && !exited && now >= kill_at) {
			kill_sent = 1;
			kill(-pid, SIGKILL);
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
		pfd.fd = child.out;
		pfd.events = POLLIN;
		pfd.revents = 0;
		pr = poll(&pfd, pipe_open ? 1 : 0, ms);
		if (pr < 0 && errno != EINTR) {
			gate_error(err, "poll: %s", strerror(errno));
			kill(-pid, SIGKILL);
			break;
		}
		if (pr > 0 && pipe_open) {
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
	if (child.out >= 0)
		close(child.out);
	child.out = -1;
	if (!exited) {
		/* poll failed: make sure it ends */
		kill(-pid, SIGKILL);
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
	u->seconds = gate_now() - start;
	u->status = status;
	log_output(log_fd, &carry, "", 0, 1);
	if (dropped)
		log_printf(log_fd, "\n# git-gate: %llu more bytes of output not kept (max_output = %llu)\n",
			   (unsigned long long)dropped, (unsigned long long)c->max_output);
	ret = 0;
out:
	free(bwrap);
	gate_strvec_clear(&argv);
	gate_strvec_clear(&env);
	gate_buf_release(&carry);
	return ret;
}

static void describe_result(struct gate_buf *b, const struct cmd_check *c, const struct unit *u)
{
	if (u->timed_out)
		gate_buf_addf(b, "timed out after %lld s", (long long)c->timeout);
	else
		gate_buf_add_status(b, u->status);
}

/* Check out, run, clean up: one commit under test.  Errors go to u->error. */
static void run_unit(const struct cmd_ctx *cx, struct unit *u)
{
	struct gate_workspace ws = GATE_WORKSPACE_INIT;
	struct gate_buf err = GATE_BUF_INIT, key = GATE_BUF_INIT, res = GATE_BUF_INIT;
	const char *name = cx->run->def->name;
	char sid[8];
	double t0 = gate_now(), t_co = 0, t_run = 0, t_cache = 0, t_setup = 0;
	size_t nfiles = 0;
	int r, log_fd = -1;

	short_id(sid, u->commit_id);
	if (cx->nunits > 1)
		gate_scan_progress(cx->run->scan, "%s: running on %s (commit %zu of %zu)", name, sid, u->index,
				   cx->nunits);
	else
		gate_scan_progress(cx->run->scan, "%s: running on %s", name, sid);
	/* a workspace root the gate makes is shared like the repository (shared.h) */
	if (cx->ws_root && gate_shared_mkdir_p(cx->shared, cx->ws_root) < 0) {
		u->error = gate_xstrfmt("cannot create the workspace root '%s': %s", cx->ws_root, strerror(errno));
		goto out;
	}
	if (gate_workspace_create(&ws, cx->ws_root, &err) < 0) {
		u->error = gate_buf_detach(&err);
		goto out;
	}
	t_setup = gate_now() - t0;
	t0 = gate_now();
	r = gate_workspace_checkout(&ws, cx->git_dir, u->tree_id, &nfiles, &err);
	t_co = gate_now() - t0;
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
	t0 = gate_now();
	log_fd = open_log(cx, u);
	if (log_fd >= 0)
		log_header(log_fd, cx, u, ws.path, nfiles);
	t_setup += gate_now() - t0;
	t0 = gate_now();
	if (run_command(cx, u, ws.path, log_fd, &err) < 0) {
		u->error = gate_buf_detach(&err);
		goto out;
	}
	t_run = gate_now() - t0;
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
	t0 = gate_now();
	gate_buf_reset(&err);
	/* removed by a detached process: the verdict need not wait for it */
	if (ws.path && gate_workspace_remove_detached(&ws, &err) < 0)
		gate_scan_progress(cx->run->scan, "%s: warning: %s", name, err.ptr);
	if (trace_on())
		gate_scan_progress(cx->run->scan,
				   "trace: %s: %s setup %.3f s, checkout %.3f s (%zu files), command %.3f s, cache %.3f s, "
				   "cleanup %.3f s",
				   name, sid, t_setup, t_co, nfiles, t_run, t_cache, gate_now() - t0);
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
	if (u->unsafe) {
		gate_findings_add(out, u->commit, NULL, 0,
				  "remove or rename the path (git never creates such trees; check the tool "
				  "that wrote this commit)",
				  "%s%s%snot checked out, nothing run: %s", u->commit ? "" : "commit ",
				  u->commit ? "" : u->commit_id, u->commit ? "" : ": ", u->message);
		return;
	}
	gate_buf_addch(&msg, '\'');
	gate_buf_adds(&msg, cx->run_short);
	gate_buf_adds(&msg, "' ");
	if (u->timed_out)
		gate_buf_addf(&msg, "timed out after %lld s (the command and everything it started were killed)",
			      (long long)c->timeout);
	else {
		gate_buf_adds(&msg, "failed: ");
		gate_buf_add_status(&msg, u->status);
		gate_buf_addf(&msg, " after %.1f s", u->seconds);
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
	if (c->cache)
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
		if (r->cached || (!r->unsafe && !r->ran))
			continue;
		if (!r->unsafe && !r->timed_out && r->status == 0)
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
