#include "config.h"
#include "gate.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "judged.h"
#include "queue.h"
#include "report.h"

#include "banned.h"

int gate_job_failed(const struct gate_scan_job *jb)
{
	return jb->error || jb->findings.nr;
}

/* A bypass reason must say something: not empty, not only blanks. */
static int reason_given(const char *reason)
{
	for (; *reason; reason++)
		if (!isspace((unsigned char)*reason))
			return 1;
	return 0;
}

static void meta_finding(struct gate_ref_verdict *rv, const char *hint, const char *msg)
{
	gate_findings_add(&rv->protection, NULL, NULL, 0, hint, "new policy: %s", msg);
	rv->meta_bad = 1;
}

static void meta_refusal(struct gate_ref_verdict *rv, const char *ref, const char *user)
{
	gate_findings_add(&rv->protection, NULL, NULL, 0,
			  "ask one of them to push the change (see 'git gate explain' for who they are)",
			  "'%s' holds this repository's policy: only the users named by meta_users in the system "
			  "policy may change it, and '%s' is not one of them",
			  ref, user);
	rv->meta_bad = 1;
}

/*
 * Whether `ref` lies below the policy ref or the policy ref below it:
 * git cannot hold both, so such a ref, pushed first, would keep the
 * policy ref from ever being created.
 */
static int blocks_meta(const char *ref, const char *meta)
{
	size_t r = strlen(ref), m = strlen(meta);

	if (r > m)
		return !strncmp(ref, meta, m) && ref[m] == '/';
	return r < m && !strncmp(meta, ref, r) && meta[r] == '/';
}

/*
 * A push to the ref that holds the repository's policy: only meta_users
 * may change it, and the new git-gate.conf must be valid and, layered
 * over the system file, weaken none of its final rules.
 */
static int judge_meta(struct gate_ref_verdict *rv, struct gate_repo *repo, const struct gate_config *cfg,
		      const struct gate_push *push, struct gate_buf *err)
{
	const struct gate_update *u = rv->update;
	struct gate_config *sys = NULL, *repo_cfg = NULL, *merged = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_buf text = GATE_BUF_INIT, e = GATE_BUF_INIT;
	struct gate_policy_load_opts o;
	char *name = NULL;
	const char *fix = "fix the policy and push again; check it first with 'git gate validate --meta FILE'";
	size_t i;
	int ret = -1, r;

	rv->meta = 1;
	if (!gate_config_user_in(cfg, &cfg->meta_users, push->user)) {
		meta_refusal(rv, u->ref, push->user);
		return 0;
	}
	if (u->kind == GATE_UPDATE_DELETE)
		return 0;
	name = gate_xstrfmt("%s:git-gate.conf", u->ref);
	r = gate_policy_read_meta_in(&text, (struct git_repository *)repo->git, u->new_id, &e);
	if (r == GATE_ENOTFOUND) {
		meta_finding(rv, "commit the policy as the file git-gate.conf at the top of the ref's tree",
			     "there is no git-gate.conf at the top of the pushed tree");
		ret = 0;
		goto out;
	}
	if (r < 0) {
		meta_finding(rv, "push a commit whose tree holds the policy as a regular file git-gate.conf",
			     gate_buf_cstr(&e));
		ret = 0;
		goto out;
	}
	if (cfg->system_file) {
		memset(&o, 0, sizeof(o));
		o.git_dir = repo->git_dir;
		r = gate_policy_load_file_opts(&sys, cfg->system_file, &o, &diag);
		if (r < 0) {
			gate_error(err, "cannot re-read the system policy '%s' to judge the new repository policy%s%s",
				   cfg->system_file, diag.msgs.nr ? ": " : "", diag.msgs.nr ? diag.msgs.v[0] : "");
			goto out;
		}
	}
	memset(&o, 0, sizeof(o));
	o.git_dir = repo->git_dir;
	o.system = sys;
	o.in_repository = 1;
	o.allow_commands = sys && sys->meta_allow_commands;
	if (gate_policy_load_string_opts(&repo_cfg, gate_buf_cstr(&text), name, &o, &diag) < 0) {
		for (i = 0; i < diag.msgs.nr; i++)
			meta_finding(rv, i + 1 == diag.msgs.nr ? fix : NULL, diag.msgs.v[i]);
		if (!diag.msgs.nr)
			meta_finding(rv, fix, "the policy is not valid");
		ret = 0;
		goto out;
	}
	if (gate_policy_layer(&merged, sys, repo_cfg, &diag) < 0) {
		sys = repo_cfg = NULL;
		for (i = 0; i < diag.msgs.nr; i++)
			meta_finding(rv, fix, diag.msgs.v[i]);
		ret = 0;
		goto out;
	}
	sys = repo_cfg = NULL;
	for (i = 0; i < merged->warnings.nr; i++)
		meta_finding(rv,
			     "a repository's policy can add to the system file's final rules but not weaken them; "
			     "remove the setting",
			     merged->warnings.v[i]);
	{
		/* a policy that forbids changing its own ref could never be fixed by a push */
		const struct gate_rule *own = gate_config_rule_for(merged, u->ref);
		if (own && own->mode != GATE_MODE_OFF && !own->allow_update) {
			struct gate_buf m = GATE_BUF_INIT;
			gate_buf_addf(&m, "its rule for '%s' (%s:%d) forbids %s that ref, so no later push could change "
				      "the policy again",
				      u->ref, own->src.file ? own->src.file : name, own->src.line, "updating");
			meta_finding(rv, "leave the policy ref out of the rule's refs (rules for refs/heads/** do not "
					 "match it), or allow updates of it",
				     m.ptr);
			gate_buf_release(&m);
		}
	}
	ret = 0;
out:
	gate_config_free(merged);
	gate_config_free(sys);
	gate_config_free(repo_cfg);
	gate_diag_release(&diag);
	gate_buf_release(&text);
	gate_buf_release(&e);
	free(name);
	return ret;
}

/*
 * Checks judge commits.  A ref pointed at a tree or a blob (directly or
 * through a tag) brings content no check would see, so where the rule has
 * checks it is refused rather than waved through (fail closed).
 */
static int judges_no_commit(struct gate_ref_verdict *rv, struct gate_repo *repo, struct gate_buf *err)
{
	const struct gate_update *u = rv->update;
	char peeled[41];
	int r = gate_repo_peel_commit(repo, u->new_id, peeled, err);

	if (r == GATE_ENOTFOUND) {
		git_object_t type = GIT_OBJECT_INVALID;
		if (gate_repo_object_type(repo, u->new_id, &type, err) == GATE_ENOTFOUND)
			return gate_error(err, "pushed object %s is missing", u->new_id);
		gate_findings_add(&rv->protection, NULL, NULL, 0,
				  "point it at a commit (tag a commit, not a tree or a blob), or ask an admin for a "
				  "rule without checks for such refs",
				  "'%s' would point at a %s, not a commit: the rule's checks judge commits and cannot "
				  "judge it",
				  u->ref,
				  type == GIT_OBJECT_TREE   ? "tree"
				  : type == GIT_OBJECT_BLOB ? "blob"
							    : "tag that leads to no commit");
		return 0;
	}
	return r < 0 ? -1 : 0;
}

/* A name a glob matches (each run of stars becomes NAME), or NULL when it has classes. */
static char *glob_example(const char *pattern)
{
	struct gate_buf b = GATE_BUF_INIT;
	const char *p;

	for (p = pattern; *p; p++) {
		if (*p == '[' || *p == '\\') {
			gate_buf_release(&b);
			return NULL;
		}
		if (*p == '*') {
			while (p[1] == '*')
				p++;
			gate_buf_adds(&b, "NAME");
		} else if (*p == '?') {
			gate_buf_addch(&b, 'x');
		} else {
			gate_buf_addch(&b, *p);
		}
	}
	return gate_buf_detach(&b);
}

/*
 * The ref patterns under the same namespace as `ref` (refs/heads/,
 * refs/tags/, ...) where a push may create refs: patterns of rules with
 * allow_create whose example name that rule really governs (an earlier
 * rule does not take it), so that a refusal can say which names work.
 */
static void creatable_patterns(struct gate_buf *out, const struct gate_config *cfg, struct gate_repo *repo,
			       const char *ref)
{
	const char *ns_end = strchr(ref + (strncmp(ref, "refs/", 5) ? 0 : 5), '/');
	size_t ns_len = ns_end ? (size_t)(ns_end - ref) + 1 : 0, i, j;
	struct gate_strvec seen = GATE_STRVEC_INIT;

	for (i = 0; i < cfg->nrules; i++) {
		const struct gate_rule *r = &cfg->rules[i];
		for (j = 0; j < r->refs.nr; j++) {
			const char *pat = r->refs.v[j];
			char *ex;
			const struct gate_rule *gov;
			if (!ns_len || strncmp(pat, ref, ns_len))
				continue;
			if (!(ex = glob_example(pat)))
				continue;
			gov = gate_config_rule_for(cfg, ex);
			if (!strcmp(ex, pat)) {
				/* one name, not a scheme: only while that ref does not exist */
				git_reference *have = NULL;
				if (git_reference_lookup(&have, repo->git, pat) == 0)
					gov = NULL;
				git_reference_free(have);
				git_error_clear();
			}
			free(ex);
			if (!gov || !gov->allow_create || gov->mode == GATE_MODE_OFF)
				continue;
			if (gate_strvec_contains(&seen, pat))
				continue;
			gate_buf_addf(out, "%s%s", seen.nr ? ", " : "", pat);
			gate_strvec_push(&seen, pat);
		}
	}
	gate_strvec_clear(&seen);
}

static int protect(struct gate_ref_verdict *rv, const struct gate_config *cfg, struct gate_repo *repo,
		   struct gate_buf *err)
{
	const struct gate_update *u = rv->update;
	const struct gate_rule *r = rv->rule;

	switch (u->kind) {
	case GATE_UPDATE_CREATE:
		if (!r->allow_create) {
			struct gate_buf hint = GATE_BUF_INIT, pats = GATE_BUF_INIT;
			creatable_patterns(&pats, cfg, repo, u->ref);
			if (pats.len)
				gate_buf_addf(&hint, "push to a name the policy lets you create: %s; or ask an admin "
						     "to create '%s'",
					      pats.ptr, u->ref);
			else
				gate_buf_addf(&hint, "the policy lets nobody create refs like this by pushing; ask an "
						     "admin to create '%s'",
					      u->ref);
			gate_findings_add(&rv->protection, NULL, NULL, 0, hint.ptr, "creating '%s' is not allowed",
					  u->ref);
			gate_buf_release(&hint);
			gate_buf_release(&pats);
		}
		break;
	case GATE_UPDATE_DELETE:
		if (!r->allow_delete)
			gate_findings_add(&rv->protection, NULL, NULL, 0,
					  "this ref is protected from deletion; ask an admin if it must go",
					  "deleting '%s' is not allowed", u->ref);
		break;
	case GATE_UPDATE_MODIFY: {
		char a[41], b[41];
		int ff = 0, ra, rb;

		if (!r->allow_update) {
			gate_findings_add(&rv->protection, NULL, NULL, 0,
					  "this ref cannot be moved once created; push a new name instead "
					  "(for a tag: a new version number)",
					  "updating '%s' is not allowed", u->ref);
			break;
		}
		if (r->allow_force_push)
			break;
		ra = gate_repo_peel_commit(repo, u->old_id, a, err);
		rb = gate_repo_peel_commit(repo, u->new_id, b, err);
		if ((ra < 0 && ra != GATE_ENOTFOUND) || (rb < 0 && rb != GATE_ENOTFOUND))
			return -1;
		if (ra == 0 && rb == 0 && gate_repo_is_ancestor(repo, a, b, &ff, err) < 0)
			return -1;
		if (!ff)
			gate_findings_add(&rv->protection, NULL, NULL, 0,
					  "fetch and rebase (git pull --rebase), then push again without --force",
					  "'%s' is not a fast-forward: it would drop commits already there (%.12s)",
					  u->ref, u->old_id);
		break;
	}
	}
	return 0;
}

/*
 * The merge queue's side of ref protection (queue.h): a change for a
 * queued branch arrives as refs/for/<branch>, and the branch itself is
 * moved only by the queue runner.  A direct push is refused with the way
 * to do it, unless the rule allows direct pushes or the pusher is granted
 * an audited bypass; creating the branch (so that a queue can start) is
 * left to allow_create.
 */
static void queue_protect(struct gate_ref_verdict *rv, const struct gate_config *cfg, struct gate_repo *repo,
			  const struct gate_push *push)
{
	const struct gate_update *u = rv->update;
	const struct gate_rule *r = rv->rule;
	const char *bypass = gate_push_option(push, "gate.bypass");
	const char *branch = u->target ? u->target : u->ref;

	if (u->target) {
		struct gate_buf err = GATE_BUF_INIT;
		int routed;

		if (!r->allow_update)
			gate_findings_add(&rv->protection, NULL, NULL, 0, "ask an admin: the rule forbids moving it",
					  "'%s' cannot be updated, so nothing queued for it could land", u->target);
		if (!gate_skip_prefix(u->ref, GATE_QUEUE_PUSH_PREFIX, NULL))
			return; /* the runner judging an item (refs/gate-queue/) */
		/* without proc-receive taking it, the push would make a plain ref and queue nothing */
		routed = gate_queue_routed(repo, u, &err);
		if (routed < 0)
			gate_findings_add(&rv->protection, NULL, NULL, 0, "ask an admin: git-gate fails closed",
					  "cannot tell whether the server queues '%s': %s", u->ref, gate_buf_cstr(&err));
		else if (!routed)
			gate_findings_add(&rv->protection, NULL, NULL, 0,
					  "ask an admin: git gate install --queue, or receive.procReceiveRefs = refs/for "
					  "(contrib/server/README)",
					  "the server does not hand '%s' to the merge queue (git's proc-receive hook, "
					  "receive.procReceiveRefs): it would become a plain ref and never land",
					  u->ref);
		gate_buf_release(&err);
		return;
	}
	if (!r->queue || r->direct_push || u->kind != GATE_UPDATE_MODIFY)
		return;
	if (bypass && reason_given(bypass) && gate_config_user_in(cfg, &r->bypass_users, push->user))
		return;
	gate_skip_prefix(branch, "refs/heads/", &branch);
	gate_findings_add(&rv->protection, NULL, NULL, 0, NULL,
			  "'%s' takes changes through its merge queue: push with 'git push origin HEAD:refs/for/%s' "
			  "(add -o gate.wait to wait until it lands)",
			  u->ref, branch);
}

static long default_jobs(const struct gate_config *cfg)
{
	long n;

	if (cfg->jobs > 0)
		return cfg->jobs;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

static void mark_skipped(struct gate_scan_job *jb, const char *why)
{
	free(jb->note);
	jb->note = gate_xstrdup(why);
	jb->skipped = 1;
}

/* ---- the judged records (judged.h; git-gate.conf(5), WHICH COMMITS A CHECK JUDGES) ---- */

static int tracing(void)
{
	const char *t = getenv("GIT_GATE_TRACE");
	return t && *t && strcmp(t, "0");
}

static void trace_judged(const struct gate_check_def *def, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace_judged(const struct gate_check_def *def, const char *fmt, ...)
{
	struct gate_buf b = GATE_BUF_INIT;
	va_list ap;

	if (!tracing())
		return;
	gate_buf_adds(&b, "git-gate: trace: judged record of ");
	gate_buf_add_safes(&b, def->name);
	gate_buf_adds(&b, ": ");
	va_start(ap, fmt);
	gate_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	gate_buf_addch(&b, '\n');
	(void)gate_write_all(2, b.ptr, b.len);
	gate_buf_release(&b);
}

/* Whether `rule` names `def` among its checks, whatever its mode. */
static int rule_lists(const struct gate_rule *rule, const struct gate_check_def *def)
{
	size_t i;

	for (i = 0; rule && i < rule->nchecks; i++)
		if (rule->checks[i] == def)
			return 1;
	return 0;
}

/*
 * Whether a ref's history counts as on the server before a check applied
 * when its record is seeded.  Not the merge queue's waiting changes (not
 * judged yet), and not notes (git-gate's ledger among them): a notes
 * history is no code, and is unrelated to every branch, so that reducing
 * it with them walks both histories down to their roots.
 */
static int grandfathers(const char *ref)
{
	return !gate_skip_prefix(ref, GATE_QUEUE_REF_PREFIX, NULL) && !gate_skip_prefix(ref, "refs/notes/", NULL);
}

/*
 * Read every check's record; with `keep`, seed the missing ones with the
 * refs' tips as they are before this push (history grandfathered).  Then
 * note, for every ref this push updates, whether its rule starts
 * (grandfathering its old value once) or stops enforcing each check.
 */
static int open_judged(struct gate_judged **rec, struct gate_verdict *v, struct gate_repo *repo,
		       const struct gate_config *cfg, int keep, struct gate_buf *err)
{
	struct gate_ref *refs = NULL;
	struct gate_strvec all = GATE_STRVEC_INIT, tips = GATE_STRVEC_INIT;
	size_t nrefs = 0, i, k;
	int loaded = 0, ret = -1;

	for (k = 0; k < cfg->nchecks; k++) {
		if (gate_judged_open(&rec[k], repo->git_dir, &cfg->checks[k], err) < 0)
			goto out;
		if (gate_judged_exists(rec[k]) || !keep)
			continue;
		if (!loaded) {
			/* once for all the checks: git merge-base over every ref is not free */
			if (gate_repo_refs(repo, &refs, &nrefs, err) < 0)
				goto out;
			for (i = 0; i < nrefs; i++)
				if (refs[i].commit[0] && grandfathers(refs[i].name))
					gate_strvec_push(&all, refs[i].commit);
			if (gate_judged_reduce(repo, &all, &tips, err) < 0)
				goto out;
			loaded = 1;
		}
		if (gate_judged_seed(rec[k], (const char *const *)tips.v, tips.nr, err) < 0)
			goto out;
		trace_judged(&cfg->checks[k], "seeded with %zu ref tips (%zu independent)", all.nr, tips.nr);
	}
	for (i = 0; i < v->nr; i++) {
		const struct gate_update *u = v->refs[i].update;
		char old[41];
		int have_old = 0;

		/* a change for a merge queue (refs/for/<branch>) is no ref the check is enforced on */
		if (u->kind == GATE_UPDATE_DELETE || u->target)
			continue;
		for (k = 0; k < cfg->nchecks; k++) {
			const struct gate_check_def *def = &cfg->checks[k];
			if (!gate_judged_exists(rec[k]))
				continue;
			if (!gate_rule_enforces(v->refs[i].rule, def)) {
				/*
				 * the rule lists the check in warn mode or off: what
				 * this push brings is never grandfathered (see enter)
				 */
				if (rule_lists(v->refs[i].rule, def))
					gate_judged_warn(rec[k], u->ref);
				else
					gate_judged_leave(rec[k], u->ref);
				continue;
			}
			if (gate_judged_entered(rec[k], u->ref))
				continue;
			if (!have_old && u->kind != GATE_UPDATE_CREATE) {
				int r = gate_repo_peel_commit(repo, u->old_id, old, err);
				if (r < 0 && r != GATE_ENOTFOUND)
					goto out;
				have_old = r == 0 ? 1 : -1;
			}
			/* the default branch's history counts as judged elsewhere anyway (scan.c) */
			if (have_old == 1 && repo->default_branch && !strcmp(u->ref, repo->default_branch))
				gate_judged_add(rec[k], old);
			gate_judged_enter(rec[k], u->ref, have_old == 1 ? old : NULL);
			trace_judged(def, "a rule starts enforcing it on a ref%s",
				     have_old == 1 ? "; the ref's history is grandfathered" : "");
		}
	}
	ret = 0;
out:
	gate_strvec_clear(&all);
	gate_strvec_clear(&tips);
	gate_refs_free(refs, nrefs);
	return ret;
}

/*
 * Record the new value of every update a check judged in enforce mode
 * and passed -- not in warn mode, not bypassed, not for an exempt pusher
 * (no job then).  What lies below the old value uncovered (the ref's own
 * history, e.g. a bypass) becomes an exception: it was not judged, and is
 * judged where it reaches another ref.  Then append every record's changes.
 */
static int record_judged(struct gate_judged **rec, struct gate_verdict *v, struct gate_repo *repo,
			 struct gate_scan *scan, const struct gate_config *cfg, struct gate_buf *err)
{
	size_t i, j, k;

	for (i = 0; i < v->nr; i++) {
		const struct gate_ref_verdict *rv = &v->refs[i];
		const struct gate_update *u = rv->update;

		/* a change for a merge queue lands (if ever) as other commits: the queue records those */
		if (!rv->rule || rv->rule->mode != GATE_MODE_ENFORCE || rv->exempt || rv->bypassed ||
		    u->kind == GATE_UPDATE_DELETE || u->target)
			continue;
		for (j = 0; j < rv->njobs; j++) {
			const struct gate_scan_job *jb = rv->jobs[j];
			struct gate_judged *r = rec[jb->def - cfg->checks];
			char tip[41];
			int recorded, p;

			if (!gate_judged_exists(r) || !jb->ran || jb->skipped || gate_job_failed(jb))
				continue;
			/* e.g. a pass of the tip alone vouches for nothing below it */
			if (jb->def->type->vouches && !jb->def->type->vouches(jb->def->data))
				continue;
			p = gate_repo_peel_commit(repo, u->new_id, tip, err);
			if (p == GATE_ENOTFOUND)
				continue;
			if (p < 0)
				return -1;
			if (gate_judged_record_pass_dflt(r, repo, u->kind == GATE_UPDATE_CREATE ? NULL : u->old_id,
							 gate_scan_default_tip(scan, jb->def, u->ref), tip, &recorded,
							 err) < 0)
				return -1;
			if (recorded)
				trace_judged(jb->def, "recorded %.12s as judged and passed", tip);
			else
				trace_judged(jb->def, "%.12s not recorded: too much below %.12s was not judged", tip,
					     u->old_id);
		}
	}
	for (k = 0; k < cfg->nchecks; k++)
		if (gate_judged_write(rec[k], repo, err) < 0)
			return -1;
	return 0;
}

int gate_evaluate(struct gate_verdict *v, struct gate_repo *repo, const struct gate_config *cfg,
		  const struct gate_push *push, struct gate_buf *err)
{
	return gate_evaluate_ext(v, repo, cfg, push, 0, err);
}

int gate_evaluate_ext(struct gate_verdict *v, struct gate_repo *repo, const struct gate_config *cfg,
		      const struct gate_push *push, unsigned flags, struct gate_buf *err)
{
	struct gate_scan *scan = NULL;
	size_t ndear = 0, i, j, total = 0, k;
	const char *bypass;
	int ret = -1, rejected_cheap = 0, run_dear_anyway = 0, keep;
	struct gate_judged **judged = NULL;
	double t0 = gate_now();

	memset(v, 0, sizeof(*v));
	v->refs = gate_xcalloc(push->nr + 1, sizeof(*v->refs));
	v->nr = push->nr;
	v->dry_run = gate_push_option(push, "gate.dry-run") != NULL;
	bypass = gate_push_option(push, "gate.bypass");
	if (bypass)
		v->bypass_reason = gate_xstrdup(bypass);

	for (i = 0; i < push->nr; i++) {
		struct gate_ref_verdict *rv = &v->refs[i];
		rv->update = &push->updates[i];
		if (v->dry_run && gate_skip_prefix(rv->update->ref, GATE_DRY_RUN_GUARD, NULL) &&
		    (!rv->update->ref[strlen(GATE_DRY_RUN_GUARD)] || rv->update->ref[strlen(GATE_DRY_RUN_GUARD)] == '/'))
			continue; /* never lands: see GATE_DRY_RUN_GUARD */
		rv->rule = gate_config_rule_for(cfg, rv->update->target ? rv->update->target : rv->update->ref);
		/* the merge queue's own refs are written by the queue alone */
		if (!rv->update->target && !(flags & GATE_EVAL_NO_PROTECTION) &&
		    gate_skip_prefix(rv->update->ref, GATE_QUEUE_REF_PREFIX, NULL) &&
		    /* deleting one's own waiting item cancels it */
		    !(rv->update->kind == GATE_UPDATE_DELETE &&
		      gate_queue_may_cancel_by_push(repo->git_dir, rv->update->ref, push->user)))
			rv->refusal = gate_xstrfmt("'%s' belongs to the merge queue, which alone writes refs under "
						   GATE_QUEUE_REF_PREFIX " (its pusher may delete it to cancel it); "
						   "push a change to refs/for/<branch>",
						   rv->update->ref);
		/* the policy's own ref: judged whatever the rules say, never bypassed */
		if (cfg->meta_ref && !(flags & GATE_EVAL_NO_META) && !strcmp(rv->update->ref, cfg->meta_ref) &&
		    judge_meta(rv, repo, cfg, push, err) < 0)
			goto out;
		if (cfg->meta_ref && !(flags & GATE_EVAL_NO_META) && rv->update->kind != GATE_UPDATE_DELETE &&
		    blocks_meta(rv->update->ref, cfg->meta_ref)) {
			rv->refusal = gate_xstrfmt("'%s' would stand in the way of the policy ref '%s' (git cannot "
						   "hold a ref and another below it): push it under another name",
						   rv->update->ref, cfg->meta_ref);
		}
		if (!rv->rule || rv->rule->mode == GATE_MODE_OFF)
			continue;
		if (gate_rule_exempts(cfg, rv->rule, push->user, NULL)) {
			rv->exempt = 1;
			continue;
		}
		if (!(flags & GATE_EVAL_NO_PROTECTION)) {
			if (!rv->update->target && protect(rv, cfg, repo, err) < 0)
				goto out;
			queue_protect(rv, cfg, repo, push);
		}
		if (rv->update->kind == GATE_UPDATE_DELETE)
			continue;
		if (bypass && rv->rule->nchecks && !rv->refusal) {
			if (!reason_given(bypass))
				rv->refusal = gate_xstrdup("a bypass needs a reason: git push -o gate.bypass=\"why\"");
			else if (!gate_config_user_in(cfg, &rv->rule->bypass_users, push->user))
				rv->refusal = gate_xstrfmt("'%s' may not bypass the checks on '%s' "
							   "(the rule's bypass_users does not name them)",
							   push->user, rv->update->ref);
			else {
				rv->bypassed = 1;
				continue;
			}
		}
		if (rv->rule->nchecks && judges_no_commit(rv, repo, err) < 0)
			goto out;
		total += rv->rule->nchecks;
	}

	/* One job per (ref update, check); expensive checks kept apart. */
	v->jobs = gate_xcalloc(total + 1, sizeof(*v->jobs));
	for (i = 0; i < push->nr; i++) {
		struct gate_ref_verdict *rv = &v->refs[i];
		if (!rv->rule || rv->rule->mode == GATE_MODE_OFF || rv->exempt || rv->bypassed ||
		    rv->update->kind == GATE_UPDATE_DELETE)
			continue;
		rv->jobs = gate_xcalloc(rv->rule->nchecks + 1, sizeof(*rv->jobs));
		for (j = 0; j < rv->rule->nchecks; j++) {
			const struct gate_check_def *def = rv->rule->checks[j];
			struct gate_scan_job *jb = &v->jobs[v->njobs];
			if (gate_rule_exempts(cfg, rv->rule, push->user, def)) {
				if (!rv->exempted)
					rv->exempted = gate_xcalloc(rv->rule->nchecks + 1, sizeof(*rv->exempted));
				rv->exempted[rv->nexempted++] = def;
				continue;
			}
			if ((flags & GATE_EVAL_ONLY_EXPENSIVE) && !(def->type->flags & GATE_CHECK_EXPENSIVE))
				continue;
			jb->update = rv->update;
			jb->def = def;
			v->njobs++;
			rv->jobs[rv->njobs++] = jb;
		}
	}
	keep = (flags & GATE_EVAL_RECORD) && !v->dry_run;
	judged = gate_xcalloc(cfg->nchecks + 1, sizeof(*judged));
	if (open_judged(judged, v, repo, cfg, keep, err) < 0)
		goto out;
	if (gate_scan_new(&scan, repo, cfg, push, err) < 0)
		goto out;
	gate_scan_set_judged(scan, judged);
	if (v->njobs) {
		if (gate_scan_collect(scan, v->jobs, v->njobs, err) < 0)
			goto out;
		if (gate_scan_content(scan, v->jobs, v->njobs, err) < 0)
			goto out;
	}
	/* per-update hooks of cheap checks, in order */
	for (k = 0; k < v->njobs; k++)
		if (v->jobs[k].def->type->flags & GATE_CHECK_EXPENSIVE)
			ndear++;
	for (k = 0; k < v->njobs; k++) {
		struct gate_scan_job *jb = &v->jobs[k];
		if (jb->def->type->flags & GATE_CHECK_EXPENSIVE || !jb->def->type->job)
			continue;
		if (gate_scan_run_jobs(scan, jb, 1, 1, err) < 0)
			goto out;
	}
	/* Has anything cheap already rejected an enforce-mode ref? */
	for (i = 0; i < v->nr; i++) {
		struct gate_ref_verdict *rv = &v->refs[i];
		int bad = rv->protection.nr || rv->refusal;
		if (rv->refusal || rv->meta_bad)
			rejected_cheap = 1;
		if (!rv->rule || rv->rule->mode != GATE_MODE_ENFORCE)
			continue;
		for (j = 0; j < rv->njobs; j++)
			if (!(rv->jobs[j]->def->type->flags & GATE_CHECK_EXPENSIVE) && gate_job_failed(rv->jobs[j]))
				bad = 1;
		if (bad)
			rejected_cheap = 1;
		if (rv->rule->run_expensive_after_reject)
			run_dear_anyway = 1;
	}
	if (ndear) {
		struct gate_scan_job *run = gate_xcalloc(ndear, sizeof(*run));
		size_t nrun = 0;
		/* copy out, run in parallel, copy back: jobs stay where rv->jobs point */
		for (k = 0; k < v->njobs; k++) {
			struct gate_scan_job *jb = &v->jobs[k];
			if (!(jb->def->type->flags & GATE_CHECK_EXPENSIVE))
				continue;
			if (flags & GATE_EVAL_SKIP_EXPENSIVE) {
				mark_skipped(jb, GATE_EVAL_SKIPPED_NOTE);
				continue;
			}
			if (jb->update->target) {
				mark_skipped(jb, GATE_EVAL_QUEUED_NOTE);
				continue;
			}
			if (rejected_cheap && !run_dear_anyway && !v->dry_run && !(flags & GATE_EVAL_RUN_ALL)) {
				mark_skipped(jb, "not started: the push is already rejected by the checks above");
				continue;
			}
			run[nrun++] = *jb;
		}
		if (nrun && gate_scan_run_jobs(scan, run, nrun, default_jobs(cfg), err) < 0) {
			free(run);
			goto out;
		}
		nrun = 0;
		for (k = 0; k < v->njobs; k++) {
			struct gate_scan_job *jb = &v->jobs[k];
			if (!(jb->def->type->flags & GATE_CHECK_EXPENSIVE) || jb->note)
				continue;
			*jb = run[nrun++];
		}
		free(run);
	}

	/* outcomes */
	v->outcome = GATE_OUTCOME_ACCEPT;
	for (i = 0; i < v->nr; i++) {
		struct gate_ref_verdict *rv = &v->refs[i];
		int bad = rv->protection.nr || rv->refusal;
		for (j = 0; j < rv->njobs; j++)
			if (gate_job_failed(rv->jobs[j]))
				bad = 1;
		/* a refusal (bypass, policy ref) rejects whatever the rule's mode */
		if (rv->refusal || rv->meta_bad)
			rv->outcome = GATE_OUTCOME_REJECT;
		else if (!bad || !rv->rule)
			rv->outcome = GATE_OUTCOME_ACCEPT;
		else if (rv->rule->mode == GATE_MODE_WARN)
			rv->outcome = GATE_OUTCOME_WARN;
		else
			rv->outcome = GATE_OUTCOME_REJECT;
		if (rv->outcome > v->outcome)
			v->outcome = rv->outcome;
	}
	if (keep && record_judged(judged, v, repo, scan, cfg, err) < 0)
		goto out;
	ret = 0;
out:
	if (judged)
		for (k = 0; k < cfg->nchecks; k++)
			gate_judged_free(judged[k]);
	free(judged);
	for (k = 0; k < v->njobs; k++) {
		/* commits belong to the scan, which is going away */
		v->jobs[k].ncommits_judged = v->jobs[k].job.ncommits;
		free(v->jobs[k].job.commits);
		v->jobs[k].job.commits = NULL;
		v->jobs[k].job.ncommits = 0;
	}
	gate_scan_free(scan);
	v->seconds = gate_now() - t0;
	return ret;
}

void gate_verdict_release(struct gate_verdict *v)
{
	size_t i;

	for (i = 0; i < v->nr; i++) {
		gate_findings_release(&v->refs[i].protection);
		free(v->refs[i].jobs);
		free(v->refs[i].exempted);
		free(v->refs[i].refusal);
		free(v->refs[i].subject);
	}
	free(v->refs);
	for (i = 0; i < v->njobs; i++) {
		gate_findings_release(&v->jobs[i].findings);
		free(v->jobs[i].note);
		free(v->jobs[i].error);
		free(v->jobs[i].job.commits);
	}
	free(v->jobs);
	free(v->bypass_reason);
	memset(v, 0, sizeof(*v));
}
