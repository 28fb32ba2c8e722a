#include "config.h"
#include "gate.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

int gate_job_failed(const struct gate_scan_job *jb)
{
	return jb->error || jb->findings.nr;
}

static int is_exempt_from_check(const struct gate_config *cfg, const struct gate_rule *rule, const char *user,
				const struct gate_check_def *def)
{
	if (!rule->exempt_users.nr || !gate_config_user_in(cfg, &rule->exempt_users, user))
		return 0;
	return rule->exempt_checks.nr == 0 || gate_strvec_contains(&rule->exempt_checks, def->name);
}

static int protect(struct gate_ref_verdict *rv, struct gate_repo *repo, struct gate_buf *err)
{
	const struct gate_update *u = rv->update;
	const struct gate_rule *r = rv->rule;

	switch (u->kind) {
	case GATE_UPDATE_CREATE:
		if (!r->allow_create)
			gate_findings_add(&rv->protection, NULL, NULL, 0,
					  "ask an admin to create it, or push to a ref the policy allows",
					  "creating '%s' is not allowed", u->ref);
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
}

int gate_evaluate(struct gate_verdict *v, struct gate_repo *repo, const struct gate_config *cfg,
		  const struct gate_push *push, struct gate_buf *err)
{
	struct gate_scan *scan = NULL;
	size_t ndear = 0, i, j, total = 0, k;
	const char *bypass;
	int ret = -1, rejected_cheap = 0, run_dear_anyway = 0;
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
		rv->rule = gate_config_rule_for(cfg, rv->update->ref);
		if (!rv->rule || rv->rule->mode == GATE_MODE_OFF)
			continue;
		if (rv->rule->exempt_users.nr && !rv->rule->exempt_checks.nr &&
		    gate_config_user_in(cfg, &rv->rule->exempt_users, push->user)) {
			rv->exempt = 1;
			continue;
		}
		if (protect(rv, repo, err) < 0)
			goto out;
		if (rv->update->kind == GATE_UPDATE_DELETE)
			continue;
		if (bypass && rv->rule->nchecks) {
			if (!*bypass)
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
			if (is_exempt_from_check(cfg, rv->rule, push->user, def))
				continue;
			jb->update = rv->update;
			jb->def = def;
			v->njobs++;
			rv->jobs[rv->njobs++] = jb;
		}
	}
	if (gate_scan_new(&scan, repo, cfg, push, err) < 0)
		goto out;
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
			if (rejected_cheap && !run_dear_anyway && !v->dry_run) {
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
		if (!bad || !rv->rule)
			rv->outcome = GATE_OUTCOME_ACCEPT;
		else if (rv->rule->mode == GATE_MODE_WARN && !rv->refusal)
			rv->outcome = GATE_OUTCOME_WARN;
		else
			rv->outcome = GATE_OUTCOME_REJECT;
		if (rv->outcome > v->outcome)
			v->outcome = rv->outcome;
	}
	ret = 0;
out:
	for (k = 0; k < v->njobs; k++) {
		/* commits belong to the scan, which is going away */
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
		free(v->refs[i].refusal);
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
