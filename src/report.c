#include "config.h"
#include "report.h"

#include <string.h>

#include "banned.h"

static void line_start(struct gate_buf *out, const struct gate_report_opts *o)
{
	gate_buf_adds(out, o->prefix ? o->prefix : "");
}

/* The ref an update moves, neutralised; and the symbolic ref pushed, if any. */
static void add_ref(struct gate_buf *out, const struct gate_update *u, int with_via)
{
	gate_buf_add_safes(out, u->ref);
	if (with_via && u->via) {
		gate_buf_adds(out, " (pushed as ");
		gate_buf_add_safes(out, u->via);
		gate_buf_adds(out, ", a symbolic ref to it)");
	}
}

/* How many of `f`'s findings carry the hint `hint`. */
static size_t hint_count(const struct gate_findings *f, const char *hint)
{
	size_t i, n = 0;

	for (i = 0; i < f->nr; i++)
		if (f->v[i].hint && !strcmp(f->v[i].hint, hint))
			n++;
	return n;
}

static void add_fix(struct gate_buf *out, const struct gate_report_opts *o, const char *indent, const char *hint,
		    size_t n)
{
	line_start(out, o);
	gate_buf_adds(out, indent);
	if (n > 1)
		gate_buf_addf(out, "fix (all %zu problems above with this fix): ", n);
	else
		gate_buf_adds(out, "fix: ");
	gate_buf_add_safes(out, hint);
	gate_buf_addch(out, '\n');
}

/*
 * One finding; its fix follows it unless other findings of the check
 * share it (`shared`): then add_findings says it once at the end.
 */
static void add_finding(struct gate_buf *out, const struct gate_report_opts *o, const struct gate_finding *f,
			const struct gate_finding *prev, int shared)
{
	const char *indent = "    ";

	if (f->commit) {
		/* findings about the same commit share one heading */
		if (!prev || !prev->commit || strcmp(prev->commit, f->commit)) {
			line_start(out, o);
			gate_buf_addf(out, "    commit %.10s", f->commit);
			if (f->subject) {
				size_t n = strlen(f->subject);
				gate_buf_adds(out, " \"");
				gate_buf_add_safe(out, f->subject, n > 60 ? 60 : n);
				gate_buf_adds(out, n > 60 ? "...\"" : "\"");
			}
			gate_buf_adds(out, ":\n");
		}
		indent = "      ";
	}
	line_start(out, o);
	gate_buf_adds(out, indent);
	if (f->path) {
		gate_buf_add_safes(out, f->path);
		if (f->line > 0)
			gate_buf_addf(out, ":%ld", f->line);
		gate_buf_adds(out, ": ");
	}
	gate_buf_add_safes(out, f->message);
	gate_buf_addch(out, '\n');
	if (f->detail) {
		/* several lines of raw text (command output): one report line each */
		const char *p = f->detail, *end = p + strlen(p);
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			line_start(out, o);
			gate_buf_adds(out, indent);
			gate_buf_adds(out, "  | ");
			gate_buf_add_safe(out, p, n);
			gate_buf_addch(out, '\n');
			p += n + 1;
		}
	}
	if (f->hint && !shared) {
		struct gate_buf in = GATE_BUF_INIT;
		gate_buf_addf(&in, "%s  ", indent);
		add_fix(out, o, in.ptr, f->hint, 1);
		gate_buf_release(&in);
	}
}

/*
 * A check's findings, then each fix that several of them share, once
 * (three files with conflict markers need one explanation, not nine).
 */
static void add_findings(struct gate_buf *out, const struct gate_report_opts *o, const struct gate_findings *f)
{
	size_t i, j, max = o->max_findings > 0 ? (size_t)o->max_findings : 20;

	for (i = 0; i < f->nr && i < max; i++)
		add_finding(out, o, &f->v[i], i ? &f->v[i - 1] : NULL,
			    f->v[i].hint && hint_count(f, f->v[i].hint) > 1);
	if (f->nr > max) {
		line_start(out, o);
		gate_buf_addf(out, "    ... and %zu more problem%s of this kind (max_findings = %zu)\n", f->nr - max,
			      f->nr - max == 1 ? "" : "s", max);
	}
	for (i = 0; i < f->nr && i < max; i++) {
		size_t n;
		if (!f->v[i].hint || (n = hint_count(f, f->v[i].hint)) < 2)
			continue;
		for (j = 0; j < i; j++)
			if (f->v[j].hint && !strcmp(f->v[j].hint, f->v[i].hint))
				break;
		if (j == i)
			add_fix(out, o, "    ", f->v[i].hint, n);
	}
}

/* "  [name]": check names come from the policy, which may have been pushed */
static void add_check(struct gate_buf *out, const struct gate_scan_job *jb)
{
	gate_buf_adds(out, "  [");
	gate_buf_add_safes(out, jb->def->name);
	gate_buf_addch(out, ']');
}

void gate_report_format(struct gate_buf *out, const struct gate_verdict *v, const struct gate_report_opts *o)
{
	size_t i, j;
	int any = 0;

	for (i = 0; i < v->nr; i++) {
		const struct gate_ref_verdict *rv = &v->refs[i];
		const char *label;
		size_t failed = 0;

		if (rv->exempt || rv->bypassed) {
			line_start(out, o);
			add_ref(out, rv->update, 0);
			if (rv->exempt)
				gate_buf_adds(out, ": the pusher is exempt from this ref's rule\n");
			else {
				gate_buf_adds(out, ": checks BYPASSED, reason: \"");
				gate_buf_add_safes(out, v->bypass_reason ? v->bypass_reason : "");
				gate_buf_adds(out, "\" (logged)\n");
			}
		}
		if (rv->outcome == GATE_OUTCOME_ACCEPT && !o->verbose)
			continue;
		any = 1;
		label = rv->outcome == GATE_OUTCOME_REJECT ? "REJECTED"
			: rv->outcome == GATE_OUTCOME_WARN ? "WARNING (mode = \"warn\": accepted anyway)"
							   : "accepted";
		line_start(out, o);
		gate_buf_adds(out, "---- ");
		add_ref(out, rv->update, 1);
		gate_buf_addf(out, ": %s ----\n", label);
		if (rv->refusal) {
			line_start(out, o);
			gate_buf_adds(out, "  [bypass] ");
			gate_buf_add_safes(out, rv->refusal);
			gate_buf_addch(out, '\n');
			line_start(out, o);
			gate_buf_adds(out, "      fix: push without -o gate.bypass and fix what the checks report; a bypass "
					   "needs a reason and a user the rule's bypass_users names\n");
			failed++;
		}
		if (rv->protection.nr) {
			line_start(out, o);
			gate_buf_adds(out, "  [ref protection]\n");
			add_findings(out, o, &rv->protection);
			failed++;
		}
		for (j = 0; j < rv->njobs; j++) {
			const struct gate_scan_job *jb = rv->jobs[j];
			if (!gate_job_failed(jb)) {
				if (o->verbose || jb->note) {
					line_start(out, o);
					add_check(out, jb);
					gate_buf_adds(out, " ");
					gate_buf_add_safes(out, jb->note ? jb->note : "passed");
					gate_buf_addch(out, '\n');
				}
				continue;
			}
			failed++;
			line_start(out, o);
			add_check(out, jb);
			gate_buf_addf(out, " %s: ", jb->def->type->name);
			if (jb->error) {
				gate_buf_adds(out, "could not be evaluated: ");
				gate_buf_add_safes(out, jb->error);
				gate_buf_addch(out, '\n');
				if (!jb->findings.nr)
					continue;
			} else {
				gate_buf_addf(out, "%zu problem%s\n", jb->findings.nr, jb->findings.nr == 1 ? "" : "s");
			}
			if (jb->note) {
				line_start(out, o);
				gate_buf_adds(out, "    (");
				gate_buf_add_safes(out, jb->note);
				gate_buf_adds(out, ")\n");
			}
			if (jb->def->hint) {
				/* the policy author's words (may come from a pushed policy) */
				line_start(out, o);
				gate_buf_adds(out, "    hint: ");
				gate_buf_add_safes(out, jb->def->hint);
				gate_buf_addch(out, '\n');
			}
			add_findings(out, o, &jb->findings);
		}
		if (rv->outcome != GATE_OUTCOME_ACCEPT) {
			line_start(out, o);
			add_ref(out, rv->update, 0);
			if (rv->outcome == GATE_OUTCOME_REJECT)
				gate_buf_addf(out, " rejected: %zu check%s failed", failed, failed == 1 ? "" : "s");
			else
				gate_buf_addf(out, " accepted with warnings: %zu check%s failed", failed,
					      failed == 1 ? "" : "s");
			if (o->policy) {
				gate_buf_adds(out, " (policy: ");
				gate_buf_add_safes(out, o->policy);
				gate_buf_addch(out, ')');
			}
			gate_buf_addch(out, '\n');
		}
	}
	if (v->dry_run) {
		line_start(out, o);
		gate_buf_addf(out, "dry run (-o gate.dry-run): the push would be %s; declined, nothing changed\n",
			      v->outcome == GATE_OUTCOME_REJECT ? "REJECTED" : "accepted");
	}
	(void)any;
}
