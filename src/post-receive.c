#include "config.h"
#include "post-receive.h"
#include "driver.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "deadline.h"
#include "ledger.h"
#include "diag.h"
#include "policy.h"
#include "queue.h"
#include "repo.h"
#include "report.h"
#include "status.h"

#include "banned.h"

#define PREFIX "git-gate: "

/* The outcome record: which refs git really moved. */
static int audit_updated(struct gate_post_receive *pr, struct gate_buf *err)
{
	struct gate_audit_event e = GATE_AUDIT_EVENT_INIT;

	e.kind = GATE_AUDIT_UPDATED;
	e.cfg = pr->cfg;
	e.git_dir = pr->git_dir;
	e.push = pr->push;
	e.hook = pr->hook;
	e.error = pr->policy_ok ? NULL : "the policy is invalid; recorded where the built-in default says";
	return gate_audit_record(&e, err);
}

/* The ledger: a note in refs/notes/gate on each new tip (git-gate(1), THE LEDGER). */
static int ledger(struct gate_post_receive *pr, struct gate_buf *err)
{
	size_t written;

	return gate_ledger_record(pr->git_dir, pr->repo ? pr->repo->git : NULL, pr->push, &written, err);
}

/* A merge queue item its pusher withdrew by deleting its ref: cancelled now, not when a runner next looks. */
static int queue_withdrawn(struct gate_post_receive *pr, struct gate_buf *err)
{
	size_t i;
	int ret = 0;

	for (i = 0; pr->repo && i < pr->push->nr; i++) {
		const struct gate_update *u = &pr->push->updates[i];
		if (u->kind == GATE_UPDATE_DELETE && gate_skip_prefix(u->ref, GATE_QUEUE_REF_PREFIX, NULL) &&
		    gate_queue_cancel_deleted(pr->repo, pr->policy_ok ? pr->cfg : NULL, u->ref, err) < 0)
			ret = -1;
	}
	return ret;
}

/* The status site (status_dir), now that the tips have moved. */
static int status_site(struct gate_post_receive *pr, struct gate_buf *err)
{
	return gate_status_refresh_site(pr->cfg, pr->repo, err);
}

const struct gate_post_receive_step gate_post_receive_steps[] = {
	{ "audit", audit_updated, 0 },
	{ "ledger", ledger, 0 },
	{ "merge queue", queue_withdrawn, 0 },
	{ "status site", status_site, 1 },
	{ NULL, NULL, 0 },
};

/* CPU time this process has used, in seconds. */
static double cpu_seconds(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void warn(int fd, const char *step, const char *msg)
{
	struct gate_buf b = GATE_BUF_INIT;

	gate_buf_adds(&b, PREFIX "warning for the server's admin: after the push, ");
	gate_buf_add_safes(&b, step);
	gate_buf_adds(&b, " failed: ");
	gate_buf_add_safes(&b, msg);
	gate_buf_addch(&b, '\n');
	(void)gate_write_all(fd, b.ptr, b.len);
	gate_buf_release(&b);
}

/* The repository's directory when libgit2 could not open it: GIT_DIR, else here. */
static char *fallback_git_dir(void)
{
	const char *d = getenv("GIT_DIR");
	char *real = realpath(d && *d ? d : ".", NULL);

	if (real)
		return real;
	return gate_xstrdup(d && *d ? d : ".");
}

int gate_post_receive_run(struct gate_push *push, const struct gate_post_receive_opts *o)
{
	struct gate_post_receive pr;
	struct gate_repo *repo = NULL;
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_buf err = GATE_BUF_INIT, repo_err = GATE_BUF_INIT;
	char *git_dir = NULL;
	const struct gate_post_receive_step *s;
	int fd = o->out_fd ? o->out_fd : 2, code = GATE_EXIT_ACCEPT;
	const char *trace;

	memset(&pr, 0, sizeof(pr));
	if (gate_repo_open(&repo, o->repo_path, &repo_err) < 0) {
		repo = NULL;
		git_dir = o->repo_path ? realpath(o->repo_path, NULL) : fallback_git_dir();
		if (!git_dir)
			git_dir = gate_xstrdup(o->repo_path);
	} else {
		git_dir = gate_xstrdup(repo->git_dir);
		/* what moved is the symbolic ref's target: record that, as pre-receive judged it */
		if (gate_driver_resolve_symrefs(push, repo, &err) < 0) {
			warn(fd, "following symbolic refs", gate_buf_cstr(&err));
			code = GATE_EXIT_INTERNAL;
		}
	}
	pr.policy_ok = 1;
	if (gate_policy_find(&cfg, git_dir, repo ? repo->default_branch : NULL, &diag) < 0 || !cfg) {
		/* record anyway, where the built-in default keeps the log */
		warn(fd, "reading the policy", diag.msgs.nr ? diag.msgs.v[0] : "the policy is invalid");
		gate_config_free(cfg);
		cfg = gate_policy_default(repo ? repo->default_branch : "refs/heads/main");
		pr.policy_ok = 0;
		code = GATE_EXIT_INTERNAL;
	}
	gate_deadline_set(cfg->hook_timeout ? cfg->hook_timeout : GATE_DEADLINE_DEFAULT);
	pr.push = push;
	pr.cfg = cfg;
	pr.repo = repo;
	pr.git_dir = git_dir;
	pr.hook = o->hook ? o->hook : "post-receive";
	pr.out_fd = fd;
	trace = getenv("GIT_GATE_TRACE");
	for (s = gate_post_receive_steps; s->name; s++) {
		double t0, c0;
		gate_buf_reset(&err);
		if (s->needs_repo && !repo) {
			warn(fd, s->name, gate_buf_cstr(&repo_err));
			code = GATE_EXIT_INTERNAL;
			continue;
		}
		t0 = gate_now();
		c0 = cpu_seconds();
		if (s->run(&pr, &err) < 0) {
			warn(fd, s->name, err.len ? err.ptr : "unknown error");
			code = GATE_EXIT_INTERNAL;
		}
		if (trace && *trace) {
			/* GIT_GATE_TRACE=1: each step's time, for benchmarks */
			struct gate_buf t = GATE_BUF_INIT;
			gate_buf_addf(&t, PREFIX "trace: post-receive step %s: %.1f ms (%.1f ms CPU)\n", s->name,
				      (gate_now() - t0) * 1000, (cpu_seconds() - c0) * 1000);
			(void)gate_write_all(fd, t.ptr, t.len);
			gate_buf_release(&t);
		}
	}
	gate_config_free(cfg);
	gate_repo_free(repo);
	gate_diag_release(&diag);
	gate_buf_release(&err);
	gate_buf_release(&repo_err);
	free(git_dir);
	return code;
}
