#include "config.h"
#include "driver.h"

#include <errno.h>
#include <git2.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "deadline.h"
#include "gate.h"
#include "ledger.h"
#include "policy.h"
#include "queue.h"
#include "repo.h"
#include "report.h"
#include "status.h"

#include "banned.h"

#define PREFIX "git-gate: "

void gate_driver_setup(void)
{
	/* a git child that dies must give us EPIPE, not kill the hook */
	signal(SIGPIPE, SIG_IGN);
	git_libgit2_init();
	/*
	 * libgit2 maps packs in 1 GiB windows up to 8 GiB on 64-bit systems,
	 * and every page it touches counts in the hook's resident set.  The
	 * bulk of a push is read by git cat-file; libgit2 reads a few objects
	 * (tips, a flagged file's lines), so small windows cost nothing and
	 * keep a whole-history import within the memory a server expects.
	 */
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)8 << 20);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)32 << 20);
	git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 0);
}

int gate_driver_read_updates(struct gate_push *push, struct gate_buf *err)
{
	struct gate_buf in = GATE_BUF_INIT;
	int ret;

	if (gate_read_fd(&in, 0) < 0)
		ret = gate_error(err, "cannot read standard input: %s", strerror(errno));
	else
		ret = gate_push_parse_pre_receive(push, in.ptr ? in.ptr : "", in.len, err);
	if (ret == 0)
		gate_push_read_options(push);
	gate_buf_release(&in);
	return ret;
}

void gate_driver_setup_hook(void)
{
	gate_driver_setup();
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
}

static void say(int fd, const struct gate_buf *b)
{
	(void)gate_write_all(fd, b->ptr, b->len);
}

static void sayf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sayf(int fd, const char *fmt, ...)
{
	struct gate_buf b = GATE_BUF_INIT, msg = GATE_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	gate_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	/* what it quotes (paths, refs, errors) is neutralised with the rest */
	gate_buf_adds(&b, PREFIX);
	gate_buf_add_safe(&b, msg.ptr ? msg.ptr : "", msg.len);
	gate_buf_release(&msg);
	gate_buf_addch(&b, '\n');
	say(fd, &b);
	gate_buf_release(&b);
}

/*
 * Write the audit record.  A failure is told to the admin (the pusher
 * sees it as remote: lines, syslog has it too) and, with audit_required,
 * rejects a push that would have been accepted.
 */
static int audit(int fd, const struct gate_config *cfg, const struct gate_repo *repo, const struct gate_push *push,
		 const struct gate_verdict *v, const struct gate_driver_opts *o, int code, const char *error)
{
	struct gate_audit_event e = GATE_AUDIT_EVENT_INIT;
	struct gate_buf err = GATE_BUF_INIT, chained = GATE_BUF_INIT;
	const char *hook = o->hook;

	if (o->after)
		code = o->after(code, o->after_arg, &chained);
	/* `git gate check` is a trial, not a decision about a push */
	if (!hook || !strcmp(hook, "check")) {
		gate_buf_release(&chained);
		return code;
	}
	e.chained = chained.len ? chained.ptr : NULL;
	e.cfg = cfg;
	e.git_dir = repo ? repo->git_dir : NULL;
	e.push = push;
	e.v = v;
	e.hook = hook;
	e.exit_code = code;
	e.error = error;
	if (gate_audit_record(&e, &err) < 0) {
		int reject = cfg && cfg->audit_required && code == GATE_EXIT_ACCEPT;
		sayf(fd, "warning for the server's admin: this push was not recorded in the audit log: %s",
		     gate_buf_cstr(&err));
		if (reject) {
			sayf(fd, "push rejected: the policy requires the audit log (audit_required = true); "
				 "the admin must make it writable");
			code = GATE_EXIT_INTERNAL;
		}
	}
	/* the status site shows every decision, rejections included; it never changes one */
	gate_buf_reset(&err);
	if (repo && gate_status_refresh_site(cfg, repo, &err) < 0)
		sayf(fd, "warning for the server's admin: the status site was not refreshed: %s", gate_buf_cstr(&err));
	gate_buf_release(&err);
	gate_buf_release(&chained);
	return code;
}

/*
 * When the policy stored in the meta_ref is what makes the policy invalid
 * (say the system file changed under it), a push that only changes that
 * ref must still be possible, or nobody could repair it: judge such a
 * push by the system file alone, which also validates the new policy.
 * Returns the system policy, or NULL when this is not such a push.
 */
static struct gate_config *system_for_meta_push(const struct gate_push *push, const char *git_dir)
{
	struct gate_config *sys = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_policy_load_opts lo;
	const char *file = gate_policy_system_file();
	size_t i;

	if (getenv("GIT_GATE_CONFIG") && *getenv("GIT_GATE_CONFIG"))
		return NULL;
	memset(&lo, 0, sizeof(lo));
	lo.git_dir = git_dir;
	if (gate_policy_load_file_opts(&sys, file, &lo, &diag) < 0)
		sys = NULL;
	gate_diag_release(&diag);
	if (!sys || !sys->meta_ref || !push->nr)
		goto no;
	for (i = 0; i < push->nr; i++)
		if (strcmp(push->updates[i].ref, sys->meta_ref))
			goto no;
	sys->system_file = gate_xstrdup(file);
	return sys;
no:
	gate_config_free(sys);
	return NULL;
}

/*
 * Policy diagnostics can quote pushed text (a policy pushed to the
 * meta_ref), so they are neutralised like the report.
 */
static void say_diag(int fd, struct gate_diag *diag)
{
	struct gate_buf b = GATE_BUF_INIT;
	size_t i;

	gate_diag_sort(diag);
	for (i = 0; i < diag->msgs.nr; i++) {
		gate_buf_adds(&b, PREFIX);
		gate_buf_add_safes(&b, diag->msgs.v[i]);
		gate_buf_addch(&b, '\n');
	}
	say(fd, &b);
	gate_buf_release(&b);
}

/*
 * `git gate check`: which policy the verdict comes from, so that a
 * developer in a clone does not take the built-in default for the
 * server's policy.
 */
static void say_policy(int fd, const struct gate_config *cfg, const struct gate_repo *repo)
{
	struct gate_buf b = GATE_BUF_INIT, d = GATE_BUF_INIT;
	const char *env = getenv("GIT_GATE_CONFIG");

	if (cfg->is_default)
		gate_buf_addf(&d, "the built-in default (no policy file): only the default branch%s%s is "
				  "protected, from force-push and deletion",
			      cfg->nrules && cfg->rules[0].refs.nr ? " " : "",
			      cfg->nrules && cfg->rules[0].refs.nr ? cfg->rules[0].refs.v[0] : "");
	else if (cfg->layered)
		gate_buf_addf(&d, "the system policy %s layered with the repository's %s",
			      cfg->system_file ? cfg->system_file : "(system)", cfg->repo_file ? cfg->repo_file : "");
	else if (env && *env)
		gate_buf_addf(&d, "the policy %s (GIT_GATE_CONFIG)", env);
	else
		gate_buf_addf(&d, "the policy %s", cfg->file ? cfg->file : "(unnamed)");
	/* file and ref names are shown neutralised, like everything else */
	gate_buf_adds(&b, PREFIX "judged by ");
	gate_buf_add_safe(&b, d.ptr, d.len);
	gate_buf_addch(&b, '\n');
	if (!git_repository_is_bare(repo->git))
		gate_buf_adds(&b, PREFIX "(this is a clone: the server judges pushes by its own policy; "
				  "'git gate check --remote NAME REF' asks it)\n");
	say(fd, &b);
	gate_buf_release(&b);
	gate_buf_release(&d);
}

/* The push could not be judged: say why (it may quote pushed names), reject. */
static void say_unjudged(int fd, const char *why)
{
	struct gate_buf b = GATE_BUF_INIT;

	gate_buf_adds(&b, PREFIX "cannot judge this push: ");
	gate_buf_add_safes(&b, why);
	gate_buf_adds(&b, "\n" PREFIX "push rejected (git-gate fails closed)\n");
	say(fd, &b);
	gate_buf_release(&b);
}

/*
 * git updates through a symbolic ref: with refs/heads/latest ->
 * refs/heads/main, a push to latest moves main (compared against main's
 * old value).  Each such update is judged as one of the ref that really
 * moves, by that ref's rule; the report and the audit log keep the name
 * pushed.  A symbolic ref that loops or leads outside refs/ cannot be
 * judged: -1.
 */
int gate_driver_resolve_symrefs(struct gate_push *push, struct gate_repo *repo, struct gate_buf *err)
{
	size_t i;

	for (i = 0; i < push->nr; i++) {
		char *target = NULL;
		if (gate_repo_symref_target(repo, push->updates[i].ref, &target, err) < 0)
			return -1;
		if (target)
			gate_update_retarget(&push->updates[i], target);
		free(target);
	}
	return 0;
}

int gate_driver_run(struct gate_push *push, const struct gate_driver_opts *o)
{
	struct gate_repo *repo = NULL;
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_verdict v;
	struct gate_buf err = GATE_BUF_INIT, out = GATE_BUF_INIT;
	struct gate_report_opts ro;
	int fd = o->out_fd ? o->out_fd : 2;
	int code = GATE_EXIT_INTERNAL, r, record, system_only = 0;

	memset(&v, 0, sizeof(v));
	if (!push->user)
		gate_push_identify(push);
	if (gate_repo_open(&repo, o->repo_path, &err) < 0) {
		sayf(fd, "cannot judge this push: %s", err.ptr);
		sayf(fd, "push rejected (git-gate fails closed); tell the repository's admin");
		code = GATE_EXIT_INTERNAL;
		if (o->after) {
			/* no repository, no audit log: the chained hook still speaks */
			struct gate_buf what = GATE_BUF_INIT;
			code = o->after(code, o->after_arg, &what);
			gate_buf_release(&what);
		}
		goto out;
	}
	if (gate_driver_resolve_symrefs(push, repo, &err) < 0) {
		say_unjudged(fd, gate_buf_cstr(&err));
		code = audit(fd, NULL, repo, push, NULL, o, GATE_EXIT_INTERNAL, gate_buf_cstr(&err));
		goto out;
	}
	if (gate_policy_find(&cfg, repo->git_dir, repo->default_branch, &diag) < 0 &&
	    (cfg = system_for_meta_push(push, repo->git_dir)) != NULL) {
		system_only = 1;
		say_diag(fd, &diag);
		sayf(fd, "the policy stored in '%s' is invalid (above); this push changes only that ref, so it "
			 "is judged by the system policy alone", cfg->meta_ref);
	} else if (!cfg) {
		say_diag(fd, &diag);
		sayf(fd, "the gate's policy is invalid, so every push is rejected until it is fixed");
		sayf(fd, "(admins: run 'git gate validate' on the file)");
		code = audit(fd, NULL, repo, push, NULL, o, GATE_EXIT_USAGE,
			     diag.msgs.nr ? diag.msgs.v[0] : "the policy is invalid");
		goto out;
	}
	if (o->hook && !strcmp(o->hook, "check"))
		say_policy(fd, cfg, repo);
	/*
	 * The hooks keep the judged records; `git gate check` only reads
	 * them, and so does a push judged by the system file alone (above):
	 * its checks are not the repository's.
	 */
	record = o->hook && (!strcmp(o->hook, "pre-receive") || !strcmp(o->hook, "update")) && !system_only;
	gate_queue_mark_push(push, cfg); /* refs/for/<branch>: judged by <branch>'s rule */
	gate_deadline_set(cfg->hook_timeout ? cfg->hook_timeout : GATE_DEADLINE_DEFAULT);
	r = gate_evaluate_ext(&v, repo, cfg, push, record ? GATE_EVAL_RECORD : 0, &err);
	if (gate_deadline_expired()) {
		char *why = gate_xstrfmt("hook_timeout (%ld s) reached: the hook's own work (git processes "
					 "included, command checks aside) took longer",
					 gate_deadline_seconds());
		sayf(fd, "%s; push rejected (git-gate fails closed)", why);
		code = audit(fd, cfg, repo, push, NULL, o, GATE_EXIT_INTERNAL, why);
		free(why);
		goto out;
	}
	if (r < 0) {
		say_unjudged(fd, gate_buf_cstr(&err));
		code = audit(fd, cfg, repo, push, NULL, o, GATE_EXIT_INTERNAL, gate_buf_cstr(&err));
		goto out;
	}
	gate_ledger_guard(&v);
	gate_ledger_describe(&v, repo);
	memset(&ro, 0, sizeof(ro));
	ro.prefix = PREFIX;
	ro.policy = cfg->file ? cfg->file : "built-in default";
	ro.max_findings = cfg->max_findings;
	ro.verbose = o->verbose;
	ro.hook = o->hook;
	gate_buf_reset(&out);
	gate_report_format(&out, &v, &ro);
	say(fd, &out);
	if (v.dry_run)
		code = GATE_EXIT_REJECT;
	else if (v.outcome == GATE_OUTCOME_REJECT)
		code = GATE_EXIT_REJECT;
	else
		code = GATE_EXIT_ACCEPT;
	code = audit(fd, cfg, repo, push, &v, o, code, NULL);
	if (code == GATE_EXIT_ACCEPT && strcmp(o->hook, "check")) {
		/* what post-receive turns into ledger notes once the refs have moved */
		gate_buf_reset(&err);
		if (gate_ledger_prepare(cfg, repo, push, &v, o->hook, &err) < 0)
			sayf(fd, "warning for the server's admin: this push will have no ledger note: %s",
			     gate_buf_cstr(&err));
	}
out:
	gate_verdict_release(&v);
	gate_config_free(cfg);
	gate_repo_free(repo);
	gate_diag_release(&diag);
	gate_buf_release(&err);
	gate_buf_release(&out);
	return code;
}
