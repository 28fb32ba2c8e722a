#include "config.h"
#include "status.h"
#include "shared.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"
#include "report.h"

#include "banned.h"

const char *gate_status_state_name(enum gate_status_state s)
{
	switch (s) {
	case GATE_STATUS_PASSING:
		return "passing";
	case GATE_STATUS_FAILING:
		return "failing";
	case GATE_STATUS_UNKNOWN:
		break;
	}
	return "unknown";
}

static int has_ref(const struct gate_status *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->nrefs; i++)
		if (!strcmp(st->refs[i].name, name))
			return 1;
	return 0;
}

static void add_ref(struct gate_status *st, const struct gate_repo *repo, const char *name)
{
	struct gate_status_ref *r;
	git_oid oid;
	git_commit *c = NULL;

	if (st->nrefs >= GATE_STATUS_MAX_REFS || has_ref(st, name))
		return;
	r = &st->refs[st->nrefs++];
	memset(r, 0, sizeof(*r));
	r->name = gate_xstrdup(name);
	if (repo && git_reference_name_to_id(&oid, repo->git, name) == 0) {
		git_oid_tostr(r->tip, sizeof(r->tip), &oid);
		if (git_commit_lookup(&c, repo->git, &oid) == 0 && git_commit_summary(c))
			r->tip_subject = gate_xstrdup(git_commit_summary(c));
		git_commit_free(c);
	}
	git_error_clear();
	r->last = gate_summary_ref_get(&st->sum, name);
	if (!r->last)
		r->state = GATE_STATUS_UNKNOWN;
	else if (r->last->last.cls == GATE_SUMMARY_REJECTED || r->last->last.cls == GATE_SUMMARY_ERROR)
		r->state = GATE_STATUS_FAILING;
	else if (r->last->last.cls == GATE_SUMMARY_DRY_RUN)
		r->state = GATE_STATUS_UNKNOWN;
	else
		r->state = GATE_STATUS_PASSING;
}

static struct gate_status_queue *queue_of(struct gate_status *st, const char *branch, int add)
{
	size_t i;

	for (i = 0; i < st->nqueues; i++)
		if (!strcmp(st->queues[i].branch, branch))
			return &st->queues[i];
	if (!add || (st->only_ref && strcmp(st->only_ref, branch)))
		return NULL;
	st->queues = gate_xrealloc(st->queues, (st->nqueues + 1) * sizeof(*st->queues));
	memset(&st->queues[st->nqueues], 0, sizeof(*st->queues));
	st->queues[st->nqueues].branch = gate_xstrdup(branch);
	return &st->queues[st->nqueues++];
}

static int cmp_decided_newest(const void *a, const void *b)
{
	const struct gate_queue_item *x = *(struct gate_queue_item *const *)a;
	const struct gate_queue_item *y = *(struct gate_queue_item *const *)b;

	if (x->decided != y->decided)
		return x->decided > y->decided ? -1 : 1;
	return x->id > y->id ? -1 : x->id < y->id;
}

/*
 * The merge queue: its items by branch (the default branch first when it
 * queues), and each protected ref's latest landing.
 */
static int collect_queue(struct gate_status *st, const struct gate_repo *repo, const struct gate_config *cfg,
			 struct gate_buf *err)
{
	char *dir = gate_queue_dir(repo->git_dir);
	const struct gate_rule *rule = gate_config_rule_for(cfg, repo->default_branch);
	struct stat sb;
	size_t i, k;
	int ret = 0;

	if (stat(dir, &sb) < 0 && !(rule && rule->queue))
		goto out;
	st->queue_used = 1;
	st->queue_runner = gate_queue_runner_active(repo->git_dir);
	if (gate_queue_list(&st->queue_items, &st->nqueue_items, repo->git_dir, 1, err) < 0) {
		ret = -1;
		goto out;
	}
	if (rule && rule->queue)
		queue_of(st, repo->default_branch, 1);
	for (i = 0; i < st->nqueue_items; i++) {
		struct gate_queue_item *it = st->queue_items[i];
		struct gate_status_queue *q = queue_of(st, it->branch, 1);
		if (!q)
			continue;
		if (gate_queue_state_final(it->state)) {
			q->decided = gate_xrealloc(q->decided, (q->ndecided + 1) * sizeof(*q->decided));
			q->decided[q->ndecided++] = it;
		} else {
			q->pending = gate_xrealloc(q->pending, (q->npending + 1) * sizeof(*q->pending));
			q->pending[q->npending++] = it;
		}
	}
	for (i = 0; i < st->nqueues; i++) {
		struct gate_status_queue *q = &st->queues[i];
		if (q->ndecided > 1)
			qsort(q->decided, q->ndecided, sizeof(*q->decided), cmp_decided_newest);
		if (q->ndecided > GATE_STATUS_QUEUE_DECIDED)
			q->ndecided = GATE_STATUS_QUEUE_DECIDED;
	}
	/* a landing newer than a ref's last push decision makes it passing */
	for (k = 0; k < st->nrefs; k++) {
		struct gate_status_ref *r = &st->refs[k];
		struct gate_status_queue *q = queue_of(st, r->name, 0);
		for (i = 0; q && i < q->ndecided; i++)
			if (q->decided[i]->state == GATE_QUEUE_LANDED)
				break;
		if (!q || i == q->ndecided || (r->last && r->last->last.time > (double)q->decided[i]->decided))
			continue;
		r->landed = q->decided[i];
		r->state = GATE_STATUS_PASSING;
	}
out:
	free(dir);
	return ret;
}

/* A pattern without glob characters names one ref. */
static int is_literal(const char *p)
{
	return !strpbrk(p, "*?[\\");
}

int gate_status_collect(struct gate_status *st, const struct gate_repo *repo, const struct gate_config *cfg,
			const char *only_ref, struct gate_buf *err)
{
	char *log = gate_audit_path(cfg, repo->git_dir);
	char *summary = gate_summary_path(repo->git_dir);
	const char *slash;
	size_t i, k, nsorted;
	int saved, ret = -1;
	const struct gate_summary_ref **sorted = NULL;

	st->now = time(NULL);
	st->today = (long)(st->now / 86400);
	st->repository = gate_xstrdup(repo->git_dir);
	slash = strrchr(repo->git_dir, '/');
	st->name = gate_xstrdup(slash && slash[1] ? slash + 1 : repo->git_dir);
	if (!strcmp(st->name, ".git") && slash && slash > repo->git_dir) {
		/* a work tree's .git: name it after the work tree */
		const char *p = slash;
		while (p > repo->git_dir && p[-1] != '/')
			p--;
		free(st->name);
		st->name = gate_xstrndup(p, (size_t)(slash - p));
	}
	st->default_branch = gate_xstrdup(repo->default_branch);
	st->only_ref = only_ref ? gate_xstrdup(only_ref) : NULL;
	st->has_log = log != NULL;
	if (log && gate_summary_refresh(&st->sum, log, summary, gate_shared_perm(repo->git_dir), &saved, err) < 0)
		goto out;

	st->refs = gate_xcalloc(GATE_STATUS_MAX_REFS, sizeof(*st->refs));
	if (only_ref) {
		add_ref(st, repo, only_ref);
	} else {
		add_ref(st, repo, repo->default_branch);
		/* refs the policy names one by one */
		for (i = 0; i < cfg->nrules; i++)
			for (k = 0; k < cfg->rules[i].refs.nr; k++) {
				const char *p = cfg->rules[i].refs.v[k];
				git_oid oid;
				if (is_literal(p) && git_reference_name_to_id(&oid, repo->git, p) == 0)
					add_ref(st, repo, p);
				git_error_clear();
			}
		/* and the refs decided most recently that a rule protects */
		sorted = gate_xcalloc(st->sum.nrefs + 1, sizeof(*sorted));
		for (i = nsorted = 0; i < st->sum.nrefs; i++)
			if (gate_config_rule_for(cfg, st->sum.refs[i].name))
				sorted[nsorted++] = &st->sum.refs[i];
		while (nsorted && st->nrefs < GATE_STATUS_MAX_REFS) {
			size_t best = 0;
			for (i = 1; i < nsorted; i++)
				if (sorted[i]->last.time > sorted[best]->last.time)
					best = i;
			add_ref(st, repo, sorted[best]->name);
			sorted[best] = sorted[--nsorted];
		}
	}
	gate_summary_window(&st->sum, st->today, 7, &st->w7);
	gate_summary_window(&st->sum, st->today, 30, &st->w30);
	if (collect_queue(st, repo, cfg, err) < 0)
		goto out;
	ret = 0;
out:
	free(sorted);
	free(log);
	free(summary);
	return ret;
}

void gate_status_release(struct gate_status *st)
{
	size_t i;

	for (i = 0; i < st->nrefs; i++) {
		free(st->refs[i].name);
		free(st->refs[i].tip_subject);
	}
	free(st->refs);
	for (i = 0; i < st->nqueues; i++) {
		free(st->queues[i].branch);
		free(st->queues[i].pending);
		free(st->queues[i].decided);
	}
	free(st->queues);
	gate_queue_items_free(st->queue_items, st->nqueue_items);
	gate_summary_window_release(&st->w7);
	gate_summary_window_release(&st->w30);
	gate_summary_release(&st->sum);
	free(st->repository);
	free(st->name);
	free(st->default_branch);
	free(st->only_ref);
	memset(st, 0, sizeof(*st));
}

/* --- text ------------------------------------------------------------------------ */

#define C_RESET "\033[m"
#define C_GREEN "\033[32m"
#define C_RED "\033[31m"
#define C_YELLOW "\033[33m"
#define C_DIM "\033[2m"
#define C_BOLD "\033[1m"

static const char *class_color(enum gate_summary_class c)
{
	switch (c) {
	case GATE_SUMMARY_ACCEPTED:
		return C_GREEN;
	case GATE_SUMMARY_BYPASSED:
	case GATE_SUMMARY_DRY_RUN:
		return C_YELLOW;
	default:
		return C_RED;
	}
}

static void colored(struct gate_buf *out, int color, const char *c, const char *fmt, const char *s)
{
	if (color)
		gate_buf_adds(out, c);
	gate_buf_addf(out, fmt, s);
	if (color)
		gate_buf_adds(out, C_RESET);
}

/* "3 min ago", "2 h ago", "5 days ago" */
static void add_ago(struct gate_buf *out, time_t now, double when)
{
	double d = (double)now - when;

	if (d < 60)
		gate_buf_adds(out, "just now");
	else if (d < 3600)
		gate_buf_addf(out, "%d min ago", (int)(d / 60));
	else if (d < 2 * 86400)
		gate_buf_addf(out, "%d h ago", (int)(d / 3600));
	else
		gate_buf_addf(out, "%d days ago", (int)(d / 86400));
}

static void add_when(struct gate_buf *out, double when)
{
	time_t t = (time_t)when;
	struct tm tm;
	char s[32];

	if (gmtime_r(&t, &tm) && strftime(s, sizeof(s), "%Y-%m-%d %H:%M", &tm))
		gate_buf_adds(out, s);
}

static void add_seconds(struct gate_buf *out, double s)
{
	if (s < 0)
		gate_buf_adds(out, "-");
	else if (s < 1)
		gate_buf_addf(out, "%.0f ms", s * 1000);
	else if (s < 120)
		gate_buf_addf(out, "%.1f s", s);
	else
		gate_buf_addf(out, "%.1f min", s / 60);
}

/* Pushed text (ref names, users, subjects, reasons), neutralised and cut to `max` columns. */
static void add_safe_cut(struct gate_buf *out, const char *s, size_t max)
{
	struct gate_buf t = GATE_BUF_INIT;

	gate_buf_add_safes(&t, s ? s : "");
	if (t.len > max) {
		size_t n = max;
		while (n > 0 && ((unsigned char)t.ptr[n] & 0xc0) == 0x80)
			n--;
		gate_buf_truncate(&t, n);
		gate_buf_adds(&t, "...");
	}
	gate_buf_add(out, t.ptr ? t.ptr : "", t.len);
	gate_buf_release(&t);
}

static int decision_is_about(const struct gate_summary_decision *d, const char *ref)
{
	return !ref || (d->ref && !strcmp(d->ref, ref));
}

static void window_text(struct gate_buf *out, const struct gate_summary_window *w7,
			const struct gate_summary_window *w30)
{
	const struct gate_summary_window *ws[2] = { w7, w30 };
	int i;
	size_t k;

	gate_buf_addf(out, "  %-22s %12s %12s\n", "", "7 days", "30 days");
	gate_buf_addf(out, "  %-22s %12lu %12lu\n", "pushes", w7->decisions, w30->decisions);
	gate_buf_addf(out, "  %-22s %12lu %12lu\n", "accepted", w7->n[GATE_SUMMARY_ACCEPTED],
		      w30->n[GATE_SUMMARY_ACCEPTED]);
	gate_buf_addf(out, "  %-22s %12lu %12lu\n", "rejected",
		      w7->n[GATE_SUMMARY_REJECTED] + w7->n[GATE_SUMMARY_ERROR],
		      w30->n[GATE_SUMMARY_REJECTED] + w30->n[GATE_SUMMARY_ERROR]);
	gate_buf_addf(out, "  %-22s %12lu %12lu\n", "bypassed", w7->n[GATE_SUMMARY_BYPASSED],
		      w30->n[GATE_SUMMARY_BYPASSED]);
	gate_buf_addf(out, "  %-22s %11.1f%% %11.1f%%\n", "rejection rate", w7->rejection_rate * 100,
		      w30->rejection_rate * 100);
	for (i = 0; i < 2; i++) {
		struct gate_buf a = GATE_BUF_INIT, b = GATE_BUF_INIT;
		add_seconds(&a, i ? w7->p95 : w7->p50);
		add_seconds(&b, i ? w30->p95 : w30->p50);
		gate_buf_addf(out, "  %-22s %12s %12s\n", i ? "time in the gate, p95" : "time in the gate, p50",
			      a.ptr, b.ptr);
		gate_buf_release(&a);
		gate_buf_release(&b);
	}
	for (i = 0; i < 2; i++) {
		const struct gate_summary_window *w = ws[i];
		gate_buf_addf(out, "  top rejections, %d days: ", w->days);
		if (!w->rejections.nr)
			gate_buf_adds(out, "none");
		for (k = 0; k < w->rejections.nr && k < 5; k++) {
			if (k)
				gate_buf_adds(out, ", ");
			add_safe_cut(out, w->rejections.v[k].name, 40);
			gate_buf_addf(out, " (%lu)", w->rejections.v[k].n);
		}
		gate_buf_addch(out, '\n');
	}
}

static const char *short_branch(const char *ref)
{
	const char *name = ref;

	gate_skip_prefix(ref, "refs/heads/", &name);
	return name;
}

static const char *queue_state_color(enum gate_queue_state s)
{
	switch (s) {
	case GATE_QUEUE_LANDED:
		return C_GREEN;
	case GATE_QUEUE_REJECTED:
		return C_RED;
	case GATE_QUEUE_TESTING:
		return C_YELLOW;
	default:
		return C_DIM;
	}
}

/*
 * The merge queue: per branch, the items waiting and testing with their
 * position, and the last ones decided.  Everything pushed (user, subject,
 * branch, reason) is neutralised again here: the item files hold it
 * neutralised already, and this is the terminal.
 */
static void queue_text(struct gate_buf *out, const struct gate_status *st, int color)
{
	size_t i, k;

	if (!st->queue_used)
		return;
	gate_buf_addf(out, "\nMerge queue%s\n", st->queue_runner ? " (a runner is active)" : "");
	if (!st->nqueues)
		gate_buf_adds(out, "  empty\n");
	for (i = 0; i < st->nqueues; i++) {
		const struct gate_status_queue *q = &st->queues[i];
		gate_buf_adds(out, "  ");
		add_safe_cut(out, short_branch(q->branch), 60);
		gate_buf_addf(out, ": %zu waiting or testing\n", q->npending);
		for (k = 0; k < q->npending; k++) {
			const struct gate_queue_item *it = q->pending[k];
			int testing = it->state == GATE_QUEUE_TESTING;
			gate_buf_addf(out, "    %3zu. item %-5ld ", k + 1, it->id);
			colored(out, color, queue_state_color(it->state), "%-9s", gate_queue_state_name(it->state));
			gate_buf_adds(out, testing && it->started ? " since " : " queued ");
			add_ago(out, st->now, (double)(testing && it->started ? it->started : it->queued));
			gate_buf_adds(out, " by ");
			add_safe_cut(out, it->user, 24);
			gate_buf_adds(out, "  \"");
			add_safe_cut(out, it->subject, 60);
			gate_buf_adds(out, "\"\n");
		}
		if (q->ndecided)
			gate_buf_adds(out, "    recently decided:\n");
		for (k = 0; k < q->ndecided; k++) {
			const struct gate_queue_item *it = q->decided[k];
			gate_buf_addf(out, "         item %-5ld ", it->id);
			colored(out, color, queue_state_color(it->state), "%-9s", gate_queue_state_name(it->state));
			gate_buf_adds(out, " ");
			add_ago(out, st->now, (double)it->decided);
			gate_buf_adds(out, " by ");
			add_safe_cut(out, it->user, 24);
			if (it->state == GATE_QUEUE_LANDED && it->landed[0])
				gate_buf_addf(out, " as %.12s", it->landed);
			gate_buf_adds(out, "  \"");
			add_safe_cut(out, it->subject, 60);
			gate_buf_adds(out, "\"");
			if (it->state != GATE_QUEUE_LANDED && it->reason) {
				gate_buf_adds(out, ": ");
				add_safe_cut(out, it->reason, 100);
			}
			gate_buf_addch(out, '\n');
		}
	}
}

void gate_status_format_text(struct gate_buf *out, const struct gate_status *st, int color, int nrecent)
{
	size_t i, width = 0;
	int shown = 0;

	if (color)
		gate_buf_adds(out, C_BOLD);
	gate_buf_adds(out, "git-gate status of ");
	add_safe_cut(out, st->repository, 200);
	if (color)
		gate_buf_adds(out, C_RESET);
	gate_buf_adds(out, "\n");
	if (!st->has_log) {
		gate_buf_adds(out, "\nThe audit log is off (audit_log = \"off\"): there are no decisions to show.\n");
		queue_text(out, st, color);
		return;
	}

	gate_buf_adds(out, "\nProtected refs\n");
	for (i = 0; i < st->nrefs; i++)
		if (strlen(st->refs[i].name) > width)
			width = strlen(st->refs[i].name);
	if (width > 40)
		width = 40;
	for (i = 0; i < st->nrefs; i++) {
		const struct gate_status_ref *r = &st->refs[i];
		size_t before = out->len;
		gate_buf_adds(out, "  ");
		add_safe_cut(out, r->name, 60);
		while (out->len - before < width + 2)
			gate_buf_addch(out, ' ');
		gate_buf_addf(out, "  %.7s  ", r->tip[0] ? r->tip : "(none) ");
		if (r->landed) {
			colored(out, color, C_GREEN, "%s", "landed");
			gate_buf_adds(out, "  ");
			add_ago(out, st->now, (double)r->landed->decided);
			gate_buf_adds(out, " (");
			add_when(out, (double)r->landed->decided);
			gate_buf_addf(out, " UTC) by the merge queue, item %ld by ", r->landed->id);
			add_safe_cut(out, r->landed->user, 40);
			gate_buf_addch(out, '\n');
			continue;
		}
		if (!r->last) {
			colored(out, color, C_DIM, "%s", "no decision yet");
			gate_buf_addch(out, '\n');
			continue;
		}
		colored(out, color, class_color(r->last->last.cls), "%s", gate_summary_class_name(r->last->last.cls));
		gate_buf_adds(out, "  ");
		add_ago(out, st->now, r->last->last.time);
		gate_buf_adds(out, " (");
		add_when(out, r->last->last.time);
		gate_buf_adds(out, " UTC) by ");
		add_safe_cut(out, r->last->last.user, 40);
		if (r->last->last.reasons) {
			gate_buf_adds(out, ": ");
			add_safe_cut(out, r->last->last.reasons, 80);
		}
		gate_buf_addch(out, '\n');
	}

	gate_buf_addf(out, "\nLast decisions%s\n", st->sum.nrecent ? "" : ": none yet");
	for (i = st->sum.nrecent; i > 0 && shown < nrecent; i--) {
		const struct gate_summary_decision *d = &st->sum.recent[i - 1];
		if (!decision_is_about(d, st->only_ref))
			continue;
		shown++;
		gate_buf_adds(out, "  ");
		add_when(out, d->time);
		gate_buf_adds(out, "  ");
		colored(out, color, class_color(d->cls), "%-8s", gate_summary_class_name(d->cls));
		gate_buf_adds(out, "  ");
		add_safe_cut(out, d->ref, 40);
		if (d->nrefs > 1)
			gate_buf_addf(out, " (+%zu)", d->nrefs - 1);
		gate_buf_addf(out, " %.7s  ", d->new_id ? d->new_id : "");
		add_safe_cut(out, d->user, 24);
		gate_buf_adds(out, "  ");
		add_seconds(out, d->seconds);
		if (d->reasons) {
			gate_buf_adds(out, "  ");
			add_safe_cut(out, d->reasons, 60);
		}
		if (d->subject) {
			gate_buf_adds(out, "  \"");
			add_safe_cut(out, d->subject, 60);
			gate_buf_adds(out, "\"");
		}
		gate_buf_addch(out, '\n');
	}

	gate_buf_adds(out, "\nOver the last 7 and 30 days (UTC days, today included)\n");
	window_text(out, &st->w7, &st->w30);

	gate_buf_adds(out, "\nFlaky trees (one tree both passed and failed a command check, 30 days)\n");
	shown = 0;
	for (i = st->sum.nflaky; i > 0; i--) {
		const struct gate_summary_flaky *f = &st->sum.flaky[i - 1];
		if ((double)st->now - f->time > GATE_SUMMARY_FLAKY_DAYS * 86400.0 ||
		    (st->only_ref && strcmp(f->ref, st->only_ref)))
			continue;
		gate_buf_adds(out, "  ");
		add_safe_cut(out, f->check, 40);
		gate_buf_addf(out, "  tree %.12s  on ", f->tree);
		add_safe_cut(out, f->ref, 60);
		gate_buf_adds(out, "  ");
		add_when(out, f->time);
		gate_buf_addch(out, '\n');
		shown++;
	}
	if (!shown)
		gate_buf_adds(out, "  none\n");
	queue_text(out, st, color);
}

/* --- JSON --------------------------------------------------------------------------- */

static void json_time(struct gate_buf *out, double when)
{
	time_t t = (time_t)when;
	struct tm tm;
	char s[32];

	if (when > 0 && gmtime_r(&t, &tm) && strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm))
		gate_buf_addf(out, "\"%s\"", s);
	else
		gate_buf_adds(out, "null");
}

static void json_decision(struct gate_buf *out, const struct gate_summary_decision *d)
{
	gate_buf_adds(out, "{\"time\":");
	json_time(out, d->time);
	gate_buf_addf(out, ",\"verdict\":\"%s\",\"seconds\":", gate_summary_class_name(d->cls));
	if (d->seconds < 0)
		gate_buf_adds(out, "null");
	else
		gate_buf_addf(out, "%.3f", d->seconds);
	gate_buf_addch(out, ',');
	gate_summary_json_fields(out, d, "refs");
	gate_buf_addch(out, '}');
}

static void json_window(struct gate_buf *out, const struct gate_summary_window *w)
{
	size_t k;

	gate_buf_addf(out,
		      "{\"days\":%d,\"pushes\":%lu,\"accepted\":%lu,\"rejected\":%lu,\"bypassed\":%lu,"
		      "\"dry_runs\":%lu,\"errors\":%lu,\"rejection_rate\":%.4f,",
		      w->days, w->decisions, w->n[GATE_SUMMARY_ACCEPTED], w->n[GATE_SUMMARY_REJECTED],
		      w->n[GATE_SUMMARY_BYPASSED], w->n[GATE_SUMMARY_DRY_RUN], w->n[GATE_SUMMARY_ERROR],
		      w->rejection_rate);
	if (w->p50 < 0)
		gate_buf_adds(out, "\"seconds_p50\":null,\"seconds_p95\":null");
	else
		gate_buf_addf(out, "\"seconds_p50\":%.3f,\"seconds_p95\":%.3f", w->p50, w->p95);
	gate_buf_adds(out, ",\"rejections_by_check\":[");
	for (k = 0; k < w->rejections.nr; k++) {
		gate_buf_adds(out, k ? ",{\"check\":" : "{\"check\":");
		gate_json_add_strings(out, w->rejections.v[k].name);
		gate_buf_addf(out, ",\"count\":%lu}", w->rejections.v[k].n);
	}
	gate_buf_adds(out, "]}");
}

static void json_oid(struct gate_buf *out, const char *oid)
{
	gate_json_add_strings(out, oid && oid[0] ? oid : NULL);
}

/* One queue item; `position` 0: a decided one. */
static void json_queue_item(struct gate_buf *out, const struct gate_queue_item *it, size_t position)
{
	gate_buf_addf(out, "{\"item\":%ld,\"state\":\"%s\"", it->id, gate_queue_state_name(it->state));
	if (position)
		gate_buf_addf(out, ",\"position\":%zu", position);
	gate_buf_adds(out, ",\"ref\":");
	gate_json_add_strings(out, it->ref);
	gate_buf_adds(out, ",\"tip\":");
	json_oid(out, it->tip);
	gate_buf_adds(out, ",\"user\":");
	gate_json_add_strings(out, it->user);
	gate_buf_adds(out, ",\"subject\":");
	gate_json_add_strings(out, it->subject);
	gate_buf_adds(out, ",\"queued\":");
	json_time(out, (double)it->queued);
	gate_buf_adds(out, ",\"started\":");
	json_time(out, (double)it->started);
	gate_buf_adds(out, ",\"decided\":");
	json_time(out, (double)it->decided);
	gate_buf_adds(out, ",\"landed\":");
	json_oid(out, it->state == GATE_QUEUE_LANDED ? it->landed : NULL);
	gate_buf_adds(out, ",\"before\":");
	json_oid(out, it->state == GATE_QUEUE_LANDED ? it->before : NULL);
	gate_buf_adds(out, ",\"reason\":");
	gate_json_add_strings(out, it->state == GATE_QUEUE_LANDED ? NULL : it->reason);
	gate_buf_adds(out, ",\"batch\":");
	gate_json_add_strings(out, it->batch);
	gate_buf_addch(out, '}');
}

/* "queue": null, or {"runner_active":..., "branches":[{"branch", "pending", "decided"}]} */
static void queue_json(struct gate_buf *out, const struct gate_status *st)
{
	size_t i, k;

	if (!st->queue_used) {
		gate_buf_adds(out, "null");
		return;
	}
	gate_buf_addf(out, "{\"runner_active\":%s,\"branches\":[", st->queue_runner ? "true" : "false");
	for (i = 0; i < st->nqueues; i++) {
		const struct gate_status_queue *q = &st->queues[i];
		gate_buf_adds(out, i ? ",{\"branch\":" : "{\"branch\":");
		gate_json_add_strings(out, q->branch);
		gate_buf_adds(out, ",\"pending\":[");
		for (k = 0; k < q->npending; k++) {
			if (k)
				gate_buf_addch(out, ',');
			json_queue_item(out, q->pending[k], k + 1);
		}
		gate_buf_adds(out, "],\"decided\":[");
		for (k = 0; k < q->ndecided; k++) {
			if (k)
				gate_buf_addch(out, ',');
			json_queue_item(out, q->decided[k], 0);
		}
		gate_buf_adds(out, "]}");
	}
	gate_buf_adds(out, "]}");
}

void gate_status_format_json(struct gate_buf *out, const struct gate_status *st, int nrecent)
{
	size_t i;
	int shown = 0;

	gate_buf_adds(out, "{\"repository\":");
	gate_json_add_strings(out, st->repository);
	gate_buf_adds(out, ",\"generated\":");
	json_time(out, (double)st->now);
	gate_buf_adds(out, ",\"default_branch\":");
	gate_json_add_strings(out, st->default_branch);
	gate_buf_addf(out, ",\"audit_log\":%s", st->has_log ? "true" : "false");
	gate_buf_adds(out, ",\"refs\":[");
	for (i = 0; i < st->nrefs; i++) {
		const struct gate_status_ref *r = &st->refs[i];
		gate_buf_adds(out, i ? ",{\"ref\":" : "{\"ref\":");
		gate_json_add_strings(out, r->name);
		gate_buf_adds(out, ",\"tip\":");
		gate_json_add_strings(out, r->tip[0] ? r->tip : NULL);
		gate_buf_adds(out, ",\"tip_subject\":");
		gate_json_add_strings(out, r->tip_subject);
		gate_buf_addf(out, ",\"state\":\"%s\",\"last\":", gate_status_state_name(r->state));
		if (r->last)
			json_decision(out, &r->last->last);
		else
			gate_buf_adds(out, "null");
		gate_buf_adds(out, ",\"landed\":");
		if (r->landed)
			json_queue_item(out, r->landed, 0);
		else
			gate_buf_adds(out, "null");
		gate_buf_addch(out, '}');
	}
	gate_buf_adds(out, "],\"recent\":[");
	for (i = st->sum.nrecent; i > 0 && shown < nrecent; i--) {
		const struct gate_summary_decision *d = &st->sum.recent[i - 1];
		if (!decision_is_about(d, st->only_ref))
			continue;
		if (shown++)
			gate_buf_addch(out, ',');
		json_decision(out, d);
	}
	gate_buf_adds(out, "],\"last_7_days\":");
	json_window(out, &st->w7);
	gate_buf_adds(out, ",\"last_30_days\":");
	json_window(out, &st->w30);
	gate_buf_adds(out, ",\"flaky_trees\":[");
	for (i = st->sum.nflaky, shown = 0; i > 0; i--) {
		const struct gate_summary_flaky *f = &st->sum.flaky[i - 1];
		if ((double)st->now - f->time > GATE_SUMMARY_FLAKY_DAYS * 86400.0 ||
		    (st->only_ref && strcmp(f->ref, st->only_ref)))
			continue;
		gate_buf_adds(out, shown++ ? ",{\"check\":" : "{\"check\":");
		gate_json_add_strings(out, f->check);
		gate_buf_adds(out, ",\"tree\":");
		gate_json_add_strings(out, f->tree);
		gate_buf_adds(out, ",\"ref\":");
		gate_json_add_strings(out, f->ref);
		gate_buf_adds(out, ",\"time\":");
		json_time(out, f->time);
		gate_buf_addch(out, '}');
	}
	gate_buf_adds(out, "],\"queue\":");
	queue_json(out, st);
	gate_buf_addf(out, ",\"totals\":{\"accepted\":%lu,\"rejected\":%lu,\"bypassed\":%lu,\"dry_runs\":%lu,"
			   "\"errors\":%lu}}\n",
		      st->sum.total[GATE_SUMMARY_ACCEPTED], st->sum.total[GATE_SUMMARY_REJECTED],
		      st->sum.total[GATE_SUMMARY_BYPASSED], st->sum.total[GATE_SUMMARY_DRY_RUN],
		      st->sum.total[GATE_SUMMARY_ERROR]);
}
