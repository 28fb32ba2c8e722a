#include "config.h"
#include "post-receive.h"
#include "driver.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "audit.h"
#include "deadline.h"
#include "diag.h"
#include "policy.h"
#include "repo.h"
#include "report.h"

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

const struct gate_post_receive_step gate_post_receive_steps[] = {
	{ "audit", audit_updated, 0 },
	{ NULL, NULL, 0 },
};

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
	for (s = gate_post_receive_steps; s->name; s++) {
		gate_buf_reset(&err);
		if (s->needs_repo && !repo) {
			warn(fd, s->name, gate_buf_cstr(&repo_err));
			code = GATE_EXIT_INTERNAL;
			continue;
		}
		if (s->run(&pr, &err) < 0) {
			warn(fd, s->name, err.len ? err.ptr : "unknown error");
			code = GATE_EXIT_INTERNAL;
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
