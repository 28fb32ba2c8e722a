#include "config.h"
#include "run-command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"

#include "banned.h"

extern char **environ;

static char **build_env(const char *const *changes)
{
	struct gate_strvec env = GATE_STRVEC_INIT;
	char **e;
	size_t i;

	for (e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
		int overridden = 0;
		for (i = 0; changes && changes[i]; i++) {
			const char *ceq = strchr(changes[i], '=');
			size_t cn = ceq ? (size_t)(ceq - changes[i]) : strlen(changes[i]);
			if (cn == n && !strncmp(changes[i], *e, n)) {
				overridden = 1;
				break;
			}
		}
		if (!overridden)
			gate_strvec_push(&env, *e);
	}
	for (i = 0; changes && changes[i]; i++)
		if (strchr(changes[i], '='))
			gate_strvec_push(&env, changes[i]);
	gate_strvec_argv(&env);
	return env.v;
}

/* Exactly the NAME=VALUE entries of `vars`. */
static char **copy_env(const char *const *vars)
{
	struct gate_strvec env = GATE_STRVEC_INIT;
	size_t i;

	for (i = 0; vars && vars[i]; i++)
		if (strchr(vars[i], '='))
			gate_strvec_push(&env, vars[i]);
	gate_strvec_argv(&env);
	return env.v;
}

static void free_env(char **env)
{
	char **e;

	for (e = env; e && *e; e++)
		free(*e);
	free(env);
}

static void child_fail(int fd, const char *what)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s: %s", what, strerror(errno));

	if (n > 0)
		(void)!write(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	_exit(127);
}

/*
 * What follows runs in the child between fork() and exec(), in a process
 * that may have been multi-threaded: system calls and stack buffers only.
 */

void gate_child_reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, &sa, NULL) < 0) {
			/*
			 * glibc keeps two real-time signals for itself and will not
			 * touch them, but an ignored one would still be inherited
			 * (seen: 32 ignored under git push): ask the kernel.
			 */
			struct {
				void (*handler)(int);
				unsigned long flags;
				void (*restorer)(void);
				unsigned char mask[8];
			} ksa;
			memset(&ksa, 0, sizeof(ksa));
			ksa.handler = SIG_DFL;
			(void)syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof(ksa.mask));
		}
	}
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Mark every descriptor from 3 up close-on-exec, then clear it for `keep`. */
static void cloexec_others(const int *keep)
{
#if defined(SYS_close_range) && defined(CLOSE_RANGE_CLOEXEC)
	if (syscall(SYS_close_range, 3u, ~0u, (unsigned)CLOSE_RANGE_CLOEXEC) < 0)
#endif
	{
		long max = sysconf(_SC_OPEN_MAX), fd;
		if (max < 0 || max > 65536)
			max = 65536;
		for (fd = 3; fd < max; fd++)
			(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	}
	for (; keep && *keep >= 0; keep++)
		(void)fcntl(*keep, F_SETFD, 0);
}

static void set_limit(int fd, int resource, uint64_t value, const char *what)
{
	struct rlimit rl;

	if (!value)
		return;
	rl.rlim_cur = rl.rlim_max = (rlim_t)value;
	if (setrlimit(resource, &rl) < 0)
		child_fail(fd, what);
}

/* The parent pid in /proc/PID/stat (after the last ')'), or -1. */
static pid_t stat_ppid(const char *pid)
{
	char path[64], buf[512], *p;
	ssize_t len;
	long v = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	p = strrchr(buf, ')');
	if (!p || !p[1] || !p[2] || !p[3] || !p[4])
		return -1;
	for (p += 5; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (*p - '0');
	return (pid_t)v;
}

/*
 * The pids of our children: our only thread's /proc `children` file, or
 * (a kernel without it) every /proc/PID/stat whose parent we are.
 */
static size_t list_children(pid_t self, pid_t *out, size_t max)
{
	char path[64], buf[4096];
	size_t n = 0;
	ssize_t len, i;
	long v = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)self, (long)self);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		len = read(fd, buf, sizeof(buf));
		close(fd);
		for (i = 0; i < len && n < max; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				v = (v < 0 ? 0 : v * 10) + (buf[i] - '0');
			} else if (v >= 0) {
				out[n++] = (pid_t)v;
				v = -1;
			}
		}
		if (v >= 0 && n < max)
			out[n++] = (pid_t)v;
		return n;
	}
	fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (n < max && (len = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < len && n < max;) {
			/* struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name */
			unsigned short reclen;
			const char *name = buf + i + 19;
			memcpy(&reclen, buf + i + 16, sizeof(reclen));
			if (!reclen)
				break;
			if (name[0] >= '1' && name[0] <= '9' && stat_ppid(name) == self) {
				long pv = 0;
				const char *q;
				for (q = name; *q >= '0' && *q <= '9'; q++)
					pv = pv * 10 + (*q - '0');
				out[n++] = (pid_t)pv;
			}
			i += reclen;
		}
	}
	close(fd);
	return n;
}

/*
 * Every descendant we can see now, children first found (depth-first
 * through each process's `children` file), at most `max`.
 */
static size_t list_descendants(pid_t self, pid_t *out, size_t max)
{
	size_t n = list_children(self, out, max), i;

	for (i = 0; i < n && n < max; i++)
		n += list_children(out[i], out + n, max - n);
	return n;
}

/*
 * Kill every descendant.  Each round stops all it can see (a stopped
 * process forks no more), then kills them; as a subreaper we inherit
 * whatever is orphaned, so the rounds go on until we have no child left,
 * however they detached (setsid, double fork, setpgid).
 */
static void kill_descendants(pid_t self)
{
	struct timespec pause = { 0, 2 * 1000 * 1000 };
	static pid_t procs[4096];
	int round;

	for (round = 0; round < 60000; round++) {
		size_t n = list_descendants(self, procs, GATE_ARRAY_SIZE(procs)), i;
		pid_t r;
		int st;

		for (i = 0; i < n; i++)
			(void)kill(procs[i], SIGSTOP);
		for (i = 0; i < n; i++) {
			(void)kill(procs[i], SIGKILL);
			(void)kill(-procs[i], SIGKILL);
		}
		while ((r = waitpid(-1, &st, WNOHANG)) > 0)
			;
		if (r < 0 && errno == ECHILD)
			return;
		(void)nanosleep(&pause, NULL);
	}
}

/*
 * The supervisor: a subreaper between us and the command.  Returns in
 * the command's process (to exec it); never returns in the supervisor.
 */
static void supervise(int report_fd, pid_t parent)
{
	sigset_t set, none;
	pid_t self = getpid(), cmd;
	int status = 255, done = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		child_fail(report_fd, "cannot become a subreaper");
	/* when we die, so does everything the command started */
	(void)prctl(PR_SET_PDEATHSIG, SIGHUP, 0, 0, 0);
	if (getppid() != parent)
		_exit(255);
	cmd = fork();
	if (cmd < 0)
		child_fail(report_fd, "cannot start");
	if (cmd == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != self)
			_exit(255);
		return;
	}
	/* the command reports a failed exec itself */
	close(report_fd);
	while (!done) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig == SIGCHLD) {
			pid_t r;
			int st;
			while ((r = waitpid(-1, &st, WNOHANG)) > 0)
				if (r == cmd) {
					status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
					done = 1;
				}
		} else if (sig == SIGHUP) {
			status = 128 + SIGKILL;
			done = 1;
		}
		/* SIGTERM, SIGINT: meant for the command's group, which got them too */
	}
	kill_descendants(self);
	_exit(status & 0xff);
}

/*
 * dup2() that also works when the descriptor already is the target: a
 * process whose stdin was closed gets a pipe as descriptor 0, and
 * dup2(0, 0) would leave its close-on-exec flag on, so the program would
 * start with no stdin at all (and read "nothing" from its input).
 */
static int move_fd(int from, int to)
{
	if (from == to)
		return fcntl(to, F_SETFD, 0);
	return dup2(from, to);
}

int gate_child_start(struct gate_child *c, struct gate_buf *err)
{
	int fdin[2] = { -1, -1 }, fdout[2] = { -1, -1 }, fderr[2] = { -1, -1 }, report[2] = { -1, -1 };
	char **env = NULL;
	char msg[600];
	ssize_t n;
	pid_t pid, parent;

	if ((c->in < 0 && pipe2(fdin, O_CLOEXEC) < 0) || (c->out < 0 && pipe2(fdout, O_CLOEXEC) < 0) ||
	    (c->err < 0 && !c->err_to_out && pipe2(fderr, O_CLOEXEC) < 0) || pipe2(report, O_CLOEXEC) < 0) {
		gate_error(err, "cannot create a pipe for '%s': %s", c->argv[0], strerror(errno));
		goto fail;
	}
	env = c->clear_env ? copy_env(c->env) : build_env(c->env);
	fflush(NULL);
	parent = getpid();
	pid = fork();
	if (pid < 0) {
		gate_error(err, "cannot start '%s': %s", c->argv[0], strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		int devnull;

		close(report[0]);
		gate_child_reset_signals();
		if (c->new_session || c->contain)
			setsid();
		else if (c->new_pgroup)
			setpgid(0, 0);
		if (c->no_stdin) {
			devnull = open("/dev/null", O_RDONLY);
			if (devnull < 0 || dup2(devnull, 0) < 0)
				child_fail(report[1], "cannot open /dev/null");
		} else if (c->in < 0) {
			if (move_fd(fdin[0], 0) < 0)
				child_fail(report[1], "dup2");
		} else if (c->in > 0) {
			if (move_fd(c->in, 0) < 0)
				child_fail(report[1], "dup2");
		}
		if (c->out < 0) {
			if (move_fd(fdout[1], 1) < 0)
				child_fail(report[1], "dup2");
		} else if (c->out > 0) {
			if (move_fd(c->out, 1) < 0)
				child_fail(report[1], "dup2");
		}
		if (c->err_to_out) {
			if (dup2(1, 2) < 0)
				child_fail(report[1], "dup2");
		} else if (c->err < 0) {
			if (move_fd(fderr[1], 2) < 0)
				child_fail(report[1], "dup2");
		} else if (c->err > 0) {
			if (move_fd(c->err, 2) < 0)
				child_fail(report[1], "dup2");
		}
		if (c->fd3 > 0 && c->fd3 != 3 && dup2(c->fd3, 3) < 0)
			child_fail(report[1], "dup2");
		/* no descriptor of git's or ours (a terminal, a lock) reaches the program */
		cloexec_others(c->keep_fds);
		if (c->fd3 > 0)
			(void)fcntl(3, F_SETFD, 0);
		if (c->dir && chdir(c->dir) < 0)
			child_fail(report[1], "cannot change directory");
		if (c->contain)
			supervise(report[1], parent);
		set_limit(report[1], RLIMIT_DATA, c->limits.data, "cannot set RLIMIT_DATA");
		set_limit(report[1], RLIMIT_FSIZE, c->limits.fsize, "cannot set RLIMIT_FSIZE");
		set_limit(report[1], RLIMIT_NPROC, c->limits.nproc, "cannot set RLIMIT_NPROC");
		if (c->set_ids && (setgroups(0, NULL) < 0 || setgid(c->gid) < 0 || setuid(c->uid) < 0))
			child_fail(report[1], "cannot change to an unprivileged user");
		execvpe(c->argv[0], (char *const *)c->argv, env);
		child_fail(report[1], "cannot run");
	}
	/* killed should the hook's deadline pass (deadline.h) */
	gate_deadline_track(pid, c->new_pgroup || c->new_session || c->contain);
	free_env(env);
	env = NULL;
	close(report[1]);
	report[1] = -1;
	/* The report pipe closes on exec: data on it means the exec failed. */
	do {
		n = read(report[0], msg, sizeof(msg) - 1);
	} while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n > 0) {
		int st;
		msg[n] = '\0';
		gate_deadline_untrack(pid);
		waitpid(pid, &st, 0);
		gate_error(err, "cannot run '%s': %s", c->argv[0], msg);
		goto fail_fds;
	}
	c->pid = pid;
	if (c->in < 0) {
		close(fdin[0]);
		c->in = fdin[1];
	}
	if (c->out < 0) {
		close(fdout[1]);
		c->out = fdout[0];
	}
	if (c->err < 0 && !c->err_to_out) {
		close(fderr[1]);
		c->err = fderr[0];
	}
	return 0;

fail:
	if (report[0] >= 0)
		close(report[0]);
	if (report[1] >= 0)
		close(report[1]);
fail_fds:
	if (fdin[0] >= 0) {
		close(fdin[0]);
		close(fdin[1]);
	}
	if (fdout[0] >= 0) {
		close(fdout[0]);
		close(fdout[1]);
	}
	if (fderr[0] >= 0) {
		close(fderr[0]);
		close(fderr[1]);
	}
	free_env(env);
	return -1;
}

int gate_child_finish(struct gate_child *c, int *status, struct gate_buf *err)
{
	int st;
	pid_t r;

	if (c->pid <= 0)
		return gate_error(err, "no child to wait for");
	/*
	 * Wait for the exit without reaping (the deadline may still have to
	 * kill it meanwhile), stop tracking it, then reap: a pid is never
	 * killed after it could have been reused.
	 */
	{
		siginfo_t si;
		int w;
		do {
			w = waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOWAIT);
		} while (w < 0 && errno == EINTR);
	}
	gate_deadline_untrack(c->pid);
	do {
		r = waitpid(c->pid, &st, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return gate_error(err, "waiting for '%s' failed: %s", c->argv[0], strerror(errno));
	c->pid = -1;
	if (WIFEXITED(st))
		*status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		*status = 128 + WTERMSIG(st);
	else
		*status = 255;
	return 0;
}

int gate_run_capture(const char *const *argv, const char *const *env, const char *dir, const char *input,
		     size_t input_len, struct gate_buf *out, struct gate_buf *errout, int *status,
		     struct gate_buf *err)
{
	return gate_run_capture_timeout(argv, env, dir, input, input_len, out, errout, status, 0, err);
}

int gate_run_capture_timeout(const char *const *argv, const char *const *env, const char *dir, const char *input,
			     size_t input_len, struct gate_buf *out, struct gate_buf *errout, int *status,
			     int timeout, struct gate_buf *err)
{
	struct gate_child c = GATE_CHILD_INIT;
	struct pollfd pfd[3];
	size_t written = 0;
	char buf[65536];
	int ret = 0;
	double deadline = timeout > 0 ? gate_now() + timeout : 0;

	c.argv = argv;
	c.env = env;
	c.dir = dir;
	if (input)
		c.in = -1;
	else
		c.no_stdin = 1;
	c.out = -1;
	c.err = errout ? -1 : 0;
	if (gate_child_start(&c, err) < 0)
		return -1;
	if (input && !input_len) {
		close(c.in);
		c.in = -1;
	}
	if (!input)
		c.in = -1;
	/*
	 * A write to a blocking pipe returns only once all of it is in: with
	 * more input than the pipe holds (a merge-base or cat-file fed
	 * 20,000 ref tips) it would wait for a child that waits for us to
	 * read its output.  Non-blocking, a write takes what fits.
	 */
	if (c.in >= 0)
		(void)fcntl(c.in, F_SETFL, fcntl(c.in, F_GETFL) | O_NONBLOCK);
	/* poll so that a child writing much while we feed it cannot deadlock */
	while (c.in >= 0 || c.out >= 0 || (errout && c.err >= 0)) {
		int np = 0, i;
		int idx_in = -1, idx_out = -1, idx_err = -1;

		if (c.in >= 0) {
			pfd[np].fd = c.in;
			pfd[np].events = POLLOUT;
			idx_in = np++;
		}
		if (c.out >= 0) {
			pfd[np].fd = c.out;
			pfd[np].events = POLLIN;
			idx_out = np++;
		}
		if (errout && c.err >= 0) {
			pfd[np].fd = c.err;
			pfd[np].events = POLLIN;
			idx_err = np++;
		}
		{
			int wait_ms = -1, pr;
			if (deadline > 0) {
				double left = deadline - gate_now();
				if (left <= 0) {
					/* a helper that hangs must not hang the push (git never times hooks out) */
					kill(c.pid, SIGKILL);
					ret = gate_error(err, "'%s' did not finish within %d s and was killed", argv[0],
							 timeout);
					break;
				}
				wait_ms = (int)(left * 1000) + 1;
			}
			pr = poll(pfd, (nfds_t)np, wait_ms);
			if (pr < 0) {
				if (errno == EINTR)
					continue;
				ret = gate_error(err, "poll: %s", strerror(errno));
				break;
			}
			if (pr == 0)
				continue;
		}
		for (i = 0; i < np; i++) {
			if (!pfd[i].revents)
				continue;
			if (i == idx_in) {
				ssize_t n = write(c.in, input + written, input_len - written);
				if (n < 0 && errno != EINTR && errno != EAGAIN) {
					close(c.in);
					c.in = -1;
				} else if (n > 0) {
					written += (size_t)n;
					if (written == input_len) {
						close(c.in);
						c.in = -1;
					}
				}
			} else {
				int *fd = i == idx_out ? &c.out : &c.err;
				struct gate_buf *dst = i == idx_out ? out : errout;
				ssize_t n = read(*fd, buf, sizeof(buf));
				(void)idx_err;
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0) {
					close(*fd);
					*fd = -1;
				} else if (dst) {
					gate_buf_add(dst, buf, (size_t)n);
				}
			}
		}
	}
	if (c.in >= 0)
		close(c.in);
	if (c.out >= 0)
		close(c.out);
	if (errout && c.err >= 0)
		close(c.err);
	if (gate_child_finish(&c, status, ret < 0 ? NULL : err) < 0)
		ret = -1;
	return ret;
}

void gate_child_kill(const struct gate_child *c)
{
	if (c->pid <= 0)
		return;
	if (c->contain) {
		/* SIGKILL would orphan what the supervisor is there to catch */
		(void)kill(c->pid, SIGHUP);
	} else {
		(void)kill(-c->pid, SIGKILL);
		(void)kill(c->pid, SIGKILL);
	}
}

void gate_buf_add_status(struct gate_buf *b, int status)
{
	if (status > 128 && status < 128 + 65)
		gate_buf_addf(b, "killed by signal %d (%s)", status - 128, strsignal(status - 128));
	else
		gate_buf_addf(b, "exit status %d", status);
}
