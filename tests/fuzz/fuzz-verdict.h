#ifndef GATE_FUZZ_VERDICT_H
#define GATE_FUZZ_VERDICT_H

/*
 * A push and its verdict made of hostile strings, for the targets that
 * fuzz what git-gate writes about a verdict (the report, the audit log).
 *
 * Input: FLAGS REF NUL USER NUL BYPASS-REASON NUL REFUSAL NUL SUBJECT NUL
 * PATH NUL MESSAGE NUL DETAIL NUL HINT NUL ERROR NUL GIT-DIR NUL CLIENT NUL
 * VIA; the first byte's bits choose the outcome, exemption, bypass, a
 * symbolic ref (VIA, pointing to REF) and which optional parts are there.  Strings that git-gate itself writes (check
 * names, messages of its own) are fixed: the policy comes from the admin.
 */

#include "fuzz.h"

#include "check.h"
#include "diag.h"
#include "gate.h"
#include "policy.h"
#include "push.h"
#include "scan.h"

struct fuzz_verdict {
	struct fuzz_fields f;
	unsigned flags;
	struct gate_push push;
	struct gate_verdict v;
	struct gate_commit commit;
	const char *ref, *user, *reason, *error, *git_dir, *client, *via;
};

static inline const struct gate_config *fuzz_verdict_policy(void)
{
	static const char text[] = "rules = ( { refs = [ \"refs/**\" ]; checks = [ \"msg\", \"paths\" ]; } );\n"
				   "checks = { msg = { type = \"commit-message\"; subject_max = 50; };\n"
				   "           paths = { type = \"forbidden-paths\"; patterns = [ \"*.pem\" ]; }; };\n";
	static struct gate_config *cfg;

	return fuzz_policy(&cfg, text);
}

/* An update with the raw ref name, as a pushed (not yet validated) one. */
static inline void fuzz_verdict_add_update(struct gate_push *p, const char *ref, enum gate_update_kind kind)
{
	struct gate_update *u;

	GATE_ALLOC_GROW(p->updates, p->nr + 1, p->alloc);
	u = &p->updates[p->nr++];
	memset(u, 0, sizeof(*u)); /* fields added to struct gate_update later start empty too */
	u->ref = gate_xstrdup(ref);
	memcpy(u->old_id, kind == GATE_UPDATE_CREATE ? GATE_ZERO_OID : "0123456789abcdef0123456789abcdef01234567", 41);
	memcpy(u->new_id, kind == GATE_UPDATE_DELETE ? GATE_ZERO_OID : "89abcdef0123456789abcdef0123456789abcdef", 41);
	u->kind = kind;
}

static inline void fuzz_verdict_init(struct fuzz_verdict *fv, const uint8_t *data, size_t size)
{
	const struct gate_config *cfg = fuzz_verdict_policy();
	const char *refusal, *subject, *path, *message, *detail, *hint;
	size_t detail_len, i;
	struct gate_ref_verdict *rv;
	struct gate_scan_job *jb;
	unsigned fl;

	memset(fv, 0, sizeof(*fv));
	fv->flags = fl = size ? data[0] : 0;
	fuzz_fields_init(&fv->f, size ? data + 1 : data, size ? size - 1 : 0);
	fv->ref = fuzz_field(&fv->f);
	fv->user = fuzz_field(&fv->f);
	fv->reason = fuzz_field(&fv->f);
	refusal = fuzz_field(&fv->f);
	subject = fuzz_field(&fv->f);
	path = fuzz_field(&fv->f);
	message = fuzz_field(&fv->f);
	detail = fuzz_field(&fv->f);
	detail_len = fv->f.last_len;
	hint = fuzz_field(&fv->f);
	fv->error = fuzz_field(&fv->f);
	fv->git_dir = fuzz_field(&fv->f);
	fv->client = fuzz_field(&fv->f);
	fv->via = fuzz_field(&fv->f);

	/* the push: the hostile ref, and a second plain one */
	fv->push = (struct gate_push)GATE_PUSH_INIT;
	if (fl & 0x02) {
		/* pushed to the symbolic ref VIA, which moves REF */
		fuzz_verdict_add_update(&fv->push, fv->via, (enum gate_update_kind)((fl >> 4) % 3));
		gate_update_retarget(&fv->push.updates[0], fv->ref);
	} else {
		fuzz_verdict_add_update(&fv->push, fv->ref, (enum gate_update_kind)((fl >> 4) % 3));
	}
	fuzz_verdict_add_update(&fv->push, "refs/heads/main", GATE_UPDATE_MODIFY);
	fv->push.user = gate_xstrdup(fv->user);
	fv->push.user_source = gate_xstrdup("GIT_GATE_USER");
	if (fl & 0x08)
		gate_strvec_pushf(&fv->push.options, "gate.bypass=%s", fv->reason);
	if (fl & 0x40)
		gate_strvec_push(&fv->push.options, "gate.dry-run");

	/* a commit of the push, with the hostile subject */
	memcpy(fv->commit.id, "89abcdef0123456789abcdef0123456789abcdef", 41);
	fv->commit.subject = (char *)subject;

	/* the verdict: every kind of line the report and the log can hold */
	fv->v.nr = 2;
	fv->v.refs = gate_xcalloc(2, sizeof(*fv->v.refs));
	fv->v.njobs = 2;
	fv->v.jobs = gate_xcalloc(2, sizeof(*fv->v.jobs));
	fv->v.outcome = (enum gate_outcome)(fl % 3);
	fv->v.dry_run = (fl & 0x40) != 0;
	fv->v.bypass_reason = fl & 0x08 ? gate_xstrdup(fv->reason) : NULL;
	fv->v.seconds = 0.25;
	for (i = 0; i < 2; i++) {
		rv = &fv->v.refs[i];
		rv->update = &fv->push.updates[i];
		rv->rule = &cfg->rules[0];
		rv->outcome = i ? GATE_OUTCOME_ACCEPT : fv->v.outcome;
		jb = &fv->v.jobs[i];
		jb->update = rv->update;
		jb->def = &cfg->checks[i];
		jb->seconds = 0.5;
		jb->ran = 1;
		rv->jobs = gate_xcalloc(1, sizeof(*rv->jobs));
		rv->jobs[0] = jb;
		rv->njobs = 1;
	}
	rv = &fv->v.refs[0];
	rv->exempt = (fl & 0x04) != 0;
	rv->bypassed = (fl & 0x08) != 0;
	if (fl & 0x80)
		rv->refusal = gate_xstrdup(refusal);
	gate_findings_add(&rv->protection, NULL, NULL, 0, NULL, "ref '%s' cannot be deleted", fv->ref);
	jb = &fv->v.jobs[0];
	gate_findings_add_detail(&jb->findings, &fv->commit, path, 3, hint, detail, detail_len, "%s", message);
	gate_findings_add(&jb->findings, &fv->commit, NULL, 0, NULL, "subject '%s' is too long", subject);
	gate_findings_add(&jb->findings, NULL, path, 0, hint, "path matches '%s'", path);
	if (fl & 0x20)
		jb->error = gate_xstrdup(fv->error);
	if (fl & 0x10)
		fv->v.jobs[1].note = gate_xstrdup("cached pass");
	rv = &fv->v.refs[1];
	rv->exempted = gate_xcalloc(1, sizeof(*rv->exempted));
	rv->exempted[0] = &cfg->checks[0];
	rv->nexempted = 1;
}

static inline void fuzz_verdict_release(struct fuzz_verdict *fv)
{
	gate_verdict_release(&fv->v);
	gate_push_release(&fv->push);
	fuzz_fields_release(&fv->f);
}

#endif
