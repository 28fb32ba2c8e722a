#include "config.h"
#include "run-command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

int gate_child_start(struct gate_child *c, struct gate_buf *err)
{
	int fdin[2] = { -1, -1 }, fdout[2] = { -1, -1 }, fderr[2] = { -1, -1 }, report[2] = { -1, -1 };
	char **env = NULL;
	char msg[600];
	ssize_t n;
	pid_t pid;

	if ((c->in < 0 && pipe2(fdin, O_CLOEXEC) < 0) || (c->out < 0 && pipe2(fdout, O_CLOEXEC) < 0) ||
	    (c->err < 0 && !c->err_to_out && pipe2(fderr, O_CLOEXEC) < 0) || pipe2(report, O_CLOEXEC) < 0) {
		gate_error(err, "cannot create a pipe for '%s': %s", c->argv[0], strerror(errno));
		goto fail;
	}
	env = build_env(c->env);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		gate_error(err, "cannot start '%s': %s", c->argv[0], strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		int devnull;

		close(report[0]);
		if (c->new_pgroup)
			setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		if (c->no_stdin) {
			devnull = open("/dev/null", O_RDONLY);
			if (devnull < 0 || dup2(devnull, 0) < 0)
				child_fail(report[1], "cannot open /dev/null");
		} else if (c->in < 0) {
			if (dup2(fdin[0], 0) < 0)
				child_fail(report[1], "dup2");
		} else if (c->in > 0) {
			if (dup2(c->in, 0) < 0)
				child_fail(report[1], "dup2");
		}
		if (c->out < 0) {
			if (dup2(fdout[1], 1) < 0)
				child_fail(report[1], "dup2");
		} else if (c->out > 0) {
			if (dup2(c->out, 1) < 0)
				child_fail(report[1], "dup2");
		}
		if (c->err_to_out) {
			if (dup2(1, 2) < 0)
				child_fail(report[1], "dup2");
		} else if (c->err < 0) {
			if (dup2(fderr[1], 2) < 0)
				child_fail(report[1], "dup2");
		} else if (c->err > 0) {
			if (dup2(c->err, 2) < 0)
				child_fail(report[1], "dup2");
		}
		if (c->dir && chdir(c->dir) < 0)
			child_fail(report[1], "cannot change directory");
		execvpe(c->argv[0], (char *const *)c->argv, env);
		child_fail(report[1], "cannot run");
	}
	/* killed should the hook's deadline pass (deadline.h) */
	gate_deadline_track(pid, c->new_pgroup);
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

void gate_buf_add_status(struct gate_buf *b, int status)
{
	if (status > 128 && status < 128 + 65)
		gate_buf_addf(b, "killed by signal %d (%s)", status - 128, strsignal(status - 128));
	else
		gate_buf_addf(b, "exit status %d", status);
}
