#include "config.h"
#include "summary.h"
#include "shared.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "json.h"

#include "banned.h"

#define SUMMARY_VERSION 1
#define READ_CHUNK (1u << 20)
#define MAX_FIELD 300 /* bytes kept of a subject, a reason list, a user */

const double gate_summary_prom_le[GATE_SUMMARY_PROM_BUCKETS] = {
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900,
};

static const char *const class_names[GATE_SUMMARY_NCLASS] = {
	"accepted", "rejected", "bypassed", "dry-run", "error",
};

const char *gate_summary_class_name(enum gate_summary_class c)
{
	return (unsigned)c < GATE_SUMMARY_NCLASS ? class_names[c] : "error";
}

static int class_from_name(const char *s)
{
	int i;

	for (i = 0; s && i < GATE_SUMMARY_NCLASS; i++)
		if (!strcmp(s, class_names[i]))
			return i;
	return GATE_SUMMARY_ERROR;
}

long gate_summary_today(void)
{
	return (long)(time(NULL) / 86400);
}

/* --- small containers ---------------------------------------------------- */

static void counts_add(struct gate_summary_counts *c, const char *name, unsigned long n)
{
	size_t i;

	for (i = 0; i < c->nr; i++)
		if (!strcmp(c->v[i].name, name)) {
			c->v[i].n += n;
			return;
		}
	GATE_ALLOC_GROW(c->v, c->nr + 1, c->alloc);
	c->v[c->nr].name = gate_xstrdup(name);
	c->v[c->nr++].n = n;
}

static void counts_release(struct gate_summary_counts *c)
{
	size_t i;

	for (i = 0; i < c->nr; i++)
		free(c->v[i].name);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static int count_cmp(const void *a, const void *b)
{
	const struct gate_summary_count *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void decision_release(struct gate_summary_decision *d)
{
	free(d->ref);
	free(d->old_id);
	free(d->new_id);
	free(d->user);
	free(d->subject);
	free(d->reasons);
	memset(d, 0, sizeof(*d));
}

static void decision_copy(struct gate_summary_decision *dst, const struct gate_summary_decision *src)
{
	decision_release(dst);
	*dst = *src;
	dst->ref = src->ref ? gate_xstrdup(src->ref) : NULL;
	dst->old_id = src->old_id ? gate_xstrdup(src->old_id) : NULL;
	dst->new_id = src->new_id ? gate_xstrdup(src->new_id) : NULL;
	dst->user = src->user ? gate_xstrdup(src->user) : NULL;
	dst->subject = src->subject ? gate_xstrdup(src->subject) : NULL;
	dst->reasons = src->reasons ? gate_xstrdup(src->reasons) : NULL;
}

static void flaky_release(struct gate_summary_flaky *f)
{
	free(f->check);
	free(f->tree);
	free(f->ref);
	memset(f, 0, sizeof(*f));
}

void gate_summary_release(struct gate_summary *s)
{
	size_t i;

	free(s->log_path);
	for (i = 0; i < s->ndays; i++)
		counts_release(&s->days[i].rejections);
	free(s->days);
	counts_release(&s->rejections);
	for (i = 0; i < s->nrecent; i++)
		decision_release(&s->recent[i]);
	for (i = 0; i < s->nrefs; i++) {
		free(s->refs[i].name);
		decision_release(&s->refs[i].last);
	}
	free(s->refs);
	for (i = 0; i < s->nflaky; i++)
		flaky_release(&s->flaky[i]);
	free(s->trees);
	memset(s, 0, sizeof(*s));
}

/* --- days, refs, trees ---------------------------------------------------- */

static struct gate_summary_day *day_for(struct gate_summary *s, long day)
{
	size_t i;

	if (s->ndays && day < s->days[s->ndays - 1].day - GATE_SUMMARY_DAYS + 1)
		return NULL; /* older than anything kept */
	for (i = s->ndays; i > 0 && s->days[i - 1].day >= day; i--)
		if (s->days[i - 1].day == day)
			return &s->days[i - 1];
	GATE_ALLOC_GROW(s->days, s->ndays + 1, s->days_alloc);
	memmove(&s->days[i + 1], &s->days[i], (s->ndays - i) * sizeof(*s->days));
	memset(&s->days[i], 0, sizeof(*s->days));
	s->days[i].day = day;
	s->ndays++;
	/* forget days that fell out of the window */
	while (s->ndays > 1 && s->days[0].day < s->days[s->ndays - 1].day - GATE_SUMMARY_DAYS + 1) {
		counts_release(&s->days[0].rejections);
		memmove(&s->days[0], &s->days[1], (s->ndays - 1) * sizeof(*s->days));
		s->ndays--;
		i--;
	}
	return &s->days[i];
}

const struct gate_summary_day *gate_summary_day_get(const struct gate_summary *s, long day)
{
	size_t i;

	for (i = 0; i < s->ndays; i++)
		if (s->days[i].day == day)
			return &s->days[i];
	return NULL;
}

/* Binary search in the sorted ref list; *pos is where it is or would go. */
static struct gate_summary_ref *ref_find(const struct gate_summary *s, const char *name, size_t *pos)
{
	size_t lo = 0, hi = s->nrefs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->refs[mid].name, name);
		if (!c) {
			*pos = mid;
			return &s->refs[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return NULL;
}

const struct gate_summary_ref *gate_summary_ref_get(const struct gate_summary *s, const char *ref)
{
	size_t pos;

	return ref_find(s, ref, &pos);
}

static struct gate_summary_ref *ref_for(struct gate_summary *s, const char *name)
{
	struct gate_summary_ref *r;
	size_t pos, i, oldest = 0;

	if ((r = ref_find(s, name, &pos)) != NULL)
		return r;
	if (s->nrefs >= GATE_SUMMARY_REFS) {
		/* forget the ref decided longest ago */
		for (i = 1; i < s->nrefs; i++)
			if (s->refs[i].last.time < s->refs[oldest].last.time)
				oldest = i;
		free(s->refs[oldest].name);
		decision_release(&s->refs[oldest].last);
		memmove(&s->refs[oldest], &s->refs[oldest + 1], (s->nrefs - oldest - 1) * sizeof(*s->refs));
		s->nrefs--;
		ref_find(s, name, &pos);
	}
	GATE_ALLOC_GROW(s->refs, s->nrefs + 1, s->refs_alloc);
	memmove(&s->refs[pos + 1], &s->refs[pos], (s->nrefs - pos) * sizeof(*s->refs));
	memset(&s->refs[pos], 0, sizeof(*s->refs));
	s->refs[pos].name = gate_xstrdup(name);
	s->nrefs++;
	return &s->refs[pos];
}

static uint64_t tree_key(const char *check, const char *tree)
{
	uint64_t h = 1469598103934665603ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)check; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ 0) * 1099511628211ULL;
	for (p = (const unsigned char *)tree; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h ? h : 1;
}

static struct gate_summary_tree *tree_slot(struct gate_summary *s, uint64_t key);

static void trees_grow(struct gate_summary *s)
{
	struct gate_summary_tree *old = s->trees;
	size_t n = s->trees_alloc, i;

	s->trees_alloc = n ? n * 2 : 1024;
	s->trees = gate_xcalloc(s->trees_alloc, sizeof(*s->trees));
	s->ntrees = 0;
	for (i = 0; i < n; i++)
		if (old[i].key) {
			struct gate_summary_tree *t = tree_slot(s, old[i].key);
			*t = old[i];
			s->ntrees++;
		}
	free(old);
}

/* The slot holding `key`, or the empty one where it goes. */
static struct gate_summary_tree *tree_slot(struct gate_summary *s, uint64_t key)
{
	size_t i = (size_t)(key % s->trees_alloc);

	while (s->trees[i].key && s->trees[i].key != key)
		i = (i + 1) % s->trees_alloc;
	return &s->trees[i];
}

/* Record a command check's result on a tree; 1 when the tree is now flaky. */
static int tree_result(struct gate_summary *s, const char *check, const char *tree, long day, unsigned bit)
{
	uint64_t key = tree_key(check, tree);
	struct gate_summary_tree *t;
	unsigned before;

	if ((s->ntrees + 1) * 2 > s->trees_alloc)
		trees_grow(s);
	t = tree_slot(s, key);
	if (!t->key) {
		t->key = key;
		s->ntrees++;
	} else if ((long)t->day < day - GATE_SUMMARY_FLAKY_DAYS) {
		t->bits = 0; /* an old result no longer counts */
	}
	before = t->bits;
	t->bits |= bit;
	t->day = (uint32_t)day;
	return before != 3 && t->bits == 3;
}

static void add_flaky(struct gate_summary *s, const char *check, const char *tree, const char *ref, double when)
{
	struct gate_summary_flaky *f;

	if (s->nflaky == GATE_SUMMARY_FLAKY) {
		flaky_release(&s->flaky[0]);
		memmove(&s->flaky[0], &s->flaky[1], (GATE_SUMMARY_FLAKY - 1) * sizeof(*s->flaky));
		memset(&s->flaky[GATE_SUMMARY_FLAKY - 1], 0, sizeof(*s->flaky));
		s->nflaky--;
	}
	f = &s->flaky[s->nflaky++];
	f->check = gate_xstrdup(check);
	f->tree = gate_xstrdup(tree);
	f->ref = gate_xstrdup(ref ? ref : "");
	f->time = when;
}

/* --- reading records ------------------------------------------------------- */

/* "2026-12-01T12:00:00.123Z" as seconds since the epoch; -1 when it is not one. */
static double parse_time(const char *s)
{
	int v[6], i;
	const char seps[] = "--T::";
	struct tm tm;
	double frac = 0, scale = 0.1;
	time_t t;

	if (!s)
		return -1;
	for (i = 0; i < 6; i++) {
		int n = 0, digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			n = n * 10 + (*s++ - '0');
			digits++;
		}
		if (!digits)
			return -1;
		v[i] = n;
		if (i < 5 && *s++ != seps[i])
			return -1;
	}
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
			frac += (*s - '0') * scale;
	if (*s != 'Z')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	t = timegm(&tm);
	return t == (time_t)-1 ? -1 : (double)t + frac;
}

/* Upper bounds of the histogram's buckets: 1 ms * 1.1^i. */
static const double *bucket_bounds(void)
{
	static double b[GATE_SUMMARY_BUCKETS];
	int i;

	if (b[0] == 0)
		for (i = 0; i < GATE_SUMMARY_BUCKETS; i++)
			b[i] = i ? b[i - 1] * 1.1 : 0.001;
	return b;
}

/* The first bucket whose bound is at least `seconds` (the last one when none). */
static int bucket_of(double seconds)
{
	const double *b = bucket_bounds();
	int lo = 0, hi = GATE_SUMMARY_BUCKETS - 1;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (seconds > b[mid])
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

double gate_summary_percentile(const uint32_t *hist, double p)
{
	uint64_t total = 0, seen = 0, want;
	double b = 0.001;
	int i;

	for (i = 0; i < GATE_SUMMARY_BUCKETS; i++)
		total += hist[i];
	if (!total)
		return -1;
	want = (uint64_t)(p * (double)total + 0.999999);
	if (!want)
		want = 1;
	for (i = 0; i < GATE_SUMMARY_BUCKETS; i++, b *= 1.1) {
		seen += hist[i];
		if (seen >= want)
			return b;
	}
	return b;
}

static char *field(const char *s)
{
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s);
	if (n <= MAX_FIELD)
		return gate_xstrdup(s);
	/* cut on a character boundary */
	while (n > MAX_FIELD || ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return gate_xstrfmt("%.*s...", (int)n, s);
}

static void add_reason(struct gate_buf *reasons, const char *name)
{
	size_t n = strlen(name);
	const char *p = reasons->ptr;

	/* once each */
	while (p && (p = strstr(p, name)) != NULL) {
		if ((p == reasons->ptr || (p - reasons->ptr >= 2 && p[-2] == ',')) && (p[n] == ',' || !p[n]))
			return;
		p += n;
	}
	if (reasons->len)
		gate_buf_adds(reasons, ", ");
	gate_buf_adds(reasons, name);
}

#define REASON_PROTECTION "(ref protection)"
#define REASON_REFUSED "(refused)"
#define REASON_ERROR "(could not judge)"

int gate_summary_add_record(struct gate_summary *s, const char *line, size_t len)
{
	struct gate_json j = GATE_JSON_INIT;
	struct gate_buf reasons = GATE_BUF_INIT, rejected = GATE_BUF_INIT;
	struct gate_summary_decision d;
	const struct gate_json_node *root, *refs, *r, *c, *bypass;
	struct gate_summary_day *day;
	const char *hook, *verdict, *bypass_reason = NULL;
	double when;
	long dayno;
	int counted = 0, pending_recent = 0;
	size_t i;

	memset(&d, 0, sizeof(d));
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (!len || line[0] != '{' || gate_json_parse(&j, line, len) < 0)
		goto out;
	root = &j.nodes[0];
	hook = gate_json_get_str(&j, root, "hook");
	if (!hook || (strcmp(hook, "pre-receive") && strcmp(hook, "update")))
		goto out;
	/* records of what happened after a decision ("event":"updated") are not decisions */
	if (gate_json_get_str(&j, root, "event") && strcmp(gate_json_get_str(&j, root, "event"), "decision"))
		goto out;
	if ((when = parse_time(gate_json_get_str(&j, root, "time"))) < 0)
		goto out;
	dayno = (long)(when / 86400);
	verdict = gate_json_get_str(&j, root, "verdict");
	bypass = gate_json_get(&j, 0, "bypass");
	if (bypass && bypass->type == GATE_JSON_OBJECT && gate_json_get_bool(&j, bypass, "granted"))
		bypass_reason = gate_json_get_str(&j, bypass, "reason");

	if (gate_json_get_bool(&j, root, "dry_run"))
		d.cls = GATE_SUMMARY_DRY_RUN;
	else if (gate_json_get_bool(&j, root, "accepted"))
		d.cls = bypass_reason ? GATE_SUMMARY_BYPASSED : GATE_SUMMARY_ACCEPTED;
	else if (verdict && !strcmp(verdict, "error"))
		d.cls = GATE_SUMMARY_ERROR;
	else
		d.cls = GATE_SUMMARY_REJECTED;
	d.time = when;
	d.seconds = gate_json_get_num(&j, root, "seconds", -1);
	d.user = field(gate_json_get_str(&j, root, "user"));

	refs = gate_json_get(&j, 0, "refs");
	for (r = refs && refs->type == GATE_JSON_ARRAY ? gate_json_first(&j, refs) : NULL; r; r = gate_json_next(&j, r)) {
		const char *rverdict = gate_json_get_str(&j, r, "verdict");
		const char *tree = gate_json_get_str(&j, r, "tree");
		const char *ref = gate_json_get_str(&j, r, "ref");
		const struct gate_json_node *prot = gate_json_get(&j, gate_json_index(&j, r), "protection");
		const struct gate_json_node *checks = gate_json_get(&j, gate_json_index(&j, r), "checks");
		int ref_rejected = rverdict && (!strcmp(rverdict, "reject") || !strcmp(rverdict, "error"));

		if (!ref)
			continue;
		if (!d.nrefs++) {
			d.ref = field(ref);
			d.old_id = field(gate_json_get_str(&j, r, "old"));
			d.new_id = field(gate_json_get_str(&j, r, "new"));
			d.subject = field(gate_json_get_str(&j, r, "subject"));
		}
		if (ref_rejected && prot && gate_json_first(&j, prot))
			add_reason(&rejected, REASON_PROTECTION);
		if (ref_rejected && gate_json_get_str(&j, r, "refusal"))
			add_reason(&rejected, REASON_REFUSED);
		for (c = checks && checks->type == GATE_JSON_ARRAY ? gate_json_first(&j, checks) : NULL; c;
		     c = gate_json_next(&j, c)) {
			const char *name = gate_json_get_str(&j, c, "name");
			const char *result = gate_json_get_str(&j, c, "result");
			const char *type = gate_json_get_str(&j, c, "type");
			int failed = result && (!strcmp(result, "fail") || !strcmp(result, "error"));
			if (!name || !result)
				continue;
			if (failed && ref_rejected)
				add_reason(&rejected, name);
			else if (failed)
				add_reason(&reasons, name);
			if (type && !strcmp(type, "command") && tree && d.cls != GATE_SUMMARY_DRY_RUN) {
				unsigned bit = !strcmp(result, "pass") || !strcmp(result, "cached") ? 1
					       : !strcmp(result, "fail")                             ? 2
												     : 0;
				if (bit && tree_result(s, name, tree, dayno, bit))
					add_flaky(s, name, tree, ref, when);
			}
		}
	}
	if (d.cls == GATE_SUMMARY_ERROR && !rejected.len)
		add_reason(&rejected, REASON_ERROR);
	if (d.cls == GATE_SUMMARY_REJECTED && !rejected.len)
		add_reason(&rejected, REASON_REFUSED);
	if (d.cls == GATE_SUMMARY_BYPASSED) {
		gate_buf_reset(&reasons);
		gate_buf_addf(&reasons, "bypass: %s", bypass_reason);
	} else if (d.cls == GATE_SUMMARY_DRY_RUN) {
		gate_buf_reset(&reasons);
		gate_buf_adds(&reasons, "dry run");
		if (rejected.len)
			gate_buf_addf(&reasons, ": %s", rejected.ptr);
	} else if (rejected.len) {
		gate_buf_reset(&reasons);
		gate_buf_add(&reasons, rejected.ptr, rejected.len);
	} else if (reasons.len) {
		char *w = gate_xstrfmt("warnings: %s", reasons.ptr);
		gate_buf_reset(&reasons);
		gate_buf_adds(&reasons, w);
		free(w);
	}
	d.reasons = reasons.len ? field(reasons.ptr) : NULL;

	/* the counts */
	s->total[d.cls]++;
	if (when > s->last_time)
		s->last_time = when;
	if (d.seconds >= 0) {
		for (i = 0; i < GATE_SUMMARY_PROM_BUCKETS && d.seconds > gate_summary_prom_le[i]; i++)
			;
		s->prom_hist[i]++;
		s->prom_sum += d.seconds;
	}
	day = day_for(s, dayno);
	if (day) {
		day->n[d.cls]++;
		if (d.seconds >= 0) {
			day->seconds += d.seconds;
			day->hist[bucket_of(d.seconds)]++;
		}
	}
	if (d.cls == GATE_SUMMARY_REJECTED || d.cls == GATE_SUMMARY_ERROR) {
		/* by check: each name in the comma-separated list */
		const char *p = rejected.ptr ? rejected.ptr : "";
		while (*p) {
			const char *e = strstr(p, ", ");
			char *name = gate_xstrndup(p, e ? (size_t)(e - p) : strlen(p));
			counts_add(&s->rejections, name, 1);
			if (day)
				counts_add(&day->rejections, name, 1);
			free(name);
			p = e ? e + 2 : p + strlen(p);
		}
	}
	/* the last decisions, newest last */
	if (s->nrecent == GATE_ARRAY_SIZE(s->recent)) {
		/* keep the newest half */
		size_t keep = GATE_SUMMARY_RECENT, drop = s->nrecent - keep;
		for (i = 0; i < drop; i++)
			decision_release(&s->recent[i]);
		memmove(&s->recent[0], &s->recent[drop], keep * sizeof(*s->recent));
		memset(&s->recent[keep], 0, drop * sizeof(*s->recent));
		s->nrecent = keep;
	}
	/* the ref entries copy it; the ring takes it over */
	pending_recent = 1;
	/* each ref's last decision */
	for (r = refs && refs->type == GATE_JSON_ARRAY ? gate_json_first(&j, refs) : NULL; r; r = gate_json_next(&j, r)) {
		const char *ref = gate_json_get_str(&j, r, "ref");
		struct gate_summary_ref *sr;
		if (!ref)
			continue;
		sr = ref_for(s, ref);
		sr->n[d.cls]++;
		if (when >= sr->last.time) {
			decision_copy(&sr->last, &d);
			free(sr->last.ref);
			sr->last.ref = gate_xstrdup(ref);
			free(sr->last.old_id);
			free(sr->last.new_id);
			free(sr->last.subject);
			sr->last.old_id = field(gate_json_get_str(&j, r, "old"));
			sr->last.new_id = field(gate_json_get_str(&j, r, "new"));
			sr->last.subject = field(gate_json_get_str(&j, r, "subject"));
			sr->last.nrefs = 1;
		}
	}
	if (pending_recent) {
		s->recent[s->nrecent++] = d;
		memset(&d, 0, sizeof(d));
	}
	counted = 1;
out:
	decision_release(&d);
	gate_buf_release(&reasons);
	gate_buf_release(&rejected);
	gate_json_release(&j);
	return counted;
}

/* --- the window -------------------------------------------------------------- */

void gate_summary_window(const struct gate_summary *s, long today, int days, struct gate_summary_window *w)
{
	uint32_t hist[GATE_SUMMARY_BUCKETS];
	unsigned long judged;
	size_t i, k;
	int c;

	memset(w, 0, sizeof(*w));
	memset(hist, 0, sizeof(hist));
	w->days = days;
	for (i = 0; i < s->ndays; i++) {
		const struct gate_summary_day *d = &s->days[i];
		if (d->day > today || d->day <= today - days)
			continue;
		for (c = 0; c < GATE_SUMMARY_NCLASS; c++) {
			w->n[c] += d->n[c];
			w->decisions += d->n[c];
		}
		for (k = 0; k < GATE_SUMMARY_BUCKETS; k++)
			hist[k] += d->hist[k];
		for (k = 0; k < d->rejections.nr; k++)
			counts_add(&w->rejections, d->rejections.v[k].name, d->rejections.v[k].n);
	}
	judged = w->decisions - w->n[GATE_SUMMARY_DRY_RUN];
	w->rejection_rate =
		judged ? (double)(w->n[GATE_SUMMARY_REJECTED] + w->n[GATE_SUMMARY_ERROR]) / (double)judged : 0;
	w->p50 = gate_summary_percentile(hist, 0.50);
	w->p95 = gate_summary_percentile(hist, 0.95);
	if (w->rejections.nr > 1)
		qsort(w->rejections.v, w->rejections.nr, sizeof(*w->rejections.v), count_cmp);
}

void gate_summary_window_release(struct gate_summary_window *w)
{
	counts_release(&w->rejections);
}

/* --- the summary file ----------------------------------------------------------- */

static void json_counts(struct gate_buf *b, const struct gate_summary_counts *c)
{
	size_t i;

	gate_buf_addch(b, '{');
	for (i = 0; i < c->nr; i++) {
		if (i)
			gate_buf_addch(b, ',');
		gate_json_add_strings(b, c->v[i].name);
		gate_buf_addf(b, ":%lu", c->v[i].n);
	}
	gate_buf_addch(b, '}');
}

static void json_classes(struct gate_buf *b, const unsigned long *n)
{
	int c;

	gate_buf_addch(b, '[');
	for (c = 0; c < GATE_SUMMARY_NCLASS; c++)
		gate_buf_addf(b, "%s%lu", c ? "," : "", n[c]);
	gate_buf_addch(b, ']');
}

void gate_summary_json_fields(struct gate_buf *b, const struct gate_summary_decision *d, const char *count_key)
{
	gate_buf_adds(b, "\"ref\":");
	gate_json_add_strings(b, d->ref);
	gate_buf_addf(b, ",\"%s\":%zu,\"old\":", count_key, d->nrefs);
	gate_json_add_strings(b, d->old_id);
	gate_buf_adds(b, ",\"new\":");
	gate_json_add_strings(b, d->new_id);
	gate_buf_adds(b, ",\"user\":");
	gate_json_add_strings(b, d->user);
	gate_buf_adds(b, ",\"subject\":");
	gate_json_add_strings(b, d->subject);
	gate_buf_adds(b, ",\"reasons\":");
	gate_json_add_strings(b, d->reasons);
}

static void json_decision(struct gate_buf *b, const struct gate_summary_decision *d)
{
	gate_buf_addf(b, "{\"time\":%.3f,\"class\":\"%s\",\"seconds\":%.3f,", d->time,
		      gate_summary_class_name(d->cls), d->seconds);
	gate_summary_json_fields(b, d, "nrefs");
	gate_buf_addch(b, '}');
}

int gate_summary_save(const struct gate_summary *s, const char *path, int shared, struct gate_buf *err)
{
	struct gate_buf b = GATE_BUF_INIT;
	long newest = s->ndays ? s->days[s->ndays - 1].day : 0;
	size_t i, k;
	int ret;

	gate_buf_addf(&b, "{\"summary\":%d,\"log\":", SUMMARY_VERSION);
	gate_json_add_strings(&b, s->log_path);
	gate_buf_addf(&b, ",\"dev\":%llu,\"ino\":%llu,\"offset\":%llu,\"last\":%.3f,\"total\":",
		      (unsigned long long)s->log_dev, (unsigned long long)s->log_ino,
		      (unsigned long long)s->log_offset, s->last_time);
	json_classes(&b, s->total);
	gate_buf_adds(&b, ",\"rejections\":");
	json_counts(&b, &s->rejections);
	gate_buf_adds(&b, ",\"prom\":[");
	for (i = 0; i <= GATE_SUMMARY_PROM_BUCKETS; i++)
		gate_buf_addf(&b, "%s%llu", i ? "," : "", (unsigned long long)s->prom_hist[i]);
	gate_buf_addf(&b, "],\"prom_sum\":%.6f}\n", s->prom_sum);
	for (i = 0; i < s->ndays; i++) {
		const struct gate_summary_day *d = &s->days[i];
		int first = 1;
		gate_buf_addf(&b, "{\"day\":%ld,\"n\":", d->day);
		json_classes(&b, d->n);
		gate_buf_addf(&b, ",\"seconds\":%.6f,\"hist\":[", d->seconds);
		for (k = 0; k < GATE_SUMMARY_BUCKETS; k++)
			if (d->hist[k]) {
				gate_buf_addf(&b, "%s%zu,%lu", first ? "" : ",", k, (unsigned long)d->hist[k]);
				first = 0;
			}
		gate_buf_adds(&b, "],\"rejections\":");
		json_counts(&b, &d->rejections);
		gate_buf_adds(&b, "}\n");
	}
	for (i = s->nrecent > GATE_SUMMARY_RECENT ? s->nrecent - GATE_SUMMARY_RECENT : 0; i < s->nrecent; i++) {
		gate_buf_adds(&b, "{\"recent\":");
		json_decision(&b, &s->recent[i]);
		gate_buf_adds(&b, "}\n");
	}
	for (i = 0; i < s->nrefs; i++) {
		gate_buf_adds(&b, "{\"ref\":");
		gate_json_add_strings(&b, s->refs[i].name);
		gate_buf_adds(&b, ",\"n\":");
		json_classes(&b, s->refs[i].n);
		gate_buf_adds(&b, ",\"last\":");
		json_decision(&b, &s->refs[i].last);
		gate_buf_adds(&b, "}\n");
	}
	for (i = 0; i < s->nflaky; i++) {
		gate_buf_adds(&b, "{\"flaky\":");
		gate_json_add_strings(&b, s->flaky[i].check);
		gate_buf_adds(&b, ",\"tree\":");
		gate_json_add_strings(&b, s->flaky[i].tree);
		gate_buf_adds(&b, ",\"in\":");
		gate_json_add_strings(&b, s->flaky[i].ref);
		gate_buf_addf(&b, ",\"time\":%.3f}\n", s->flaky[i].time);
	}
	for (i = 0; i < s->trees_alloc; i++) {
		const struct gate_summary_tree *t = &s->trees[i];
		if (t->key && (long)t->day > newest - GATE_SUMMARY_FLAKY_DAYS)
			gate_buf_addf(&b, "t %016llx %u %u\n", (unsigned long long)t->key, (unsigned)t->day,
				      (unsigned)t->bits);
	}
	ret = gate_shared_write_file(shared, path, b.ptr, b.len, 0, err);
	gate_buf_release(&b);
	return ret;
}

static void load_counts(struct gate_summary_counts *c, const struct gate_json *j, const struct gate_json_node *o)
{
	const struct gate_json_node *n;

	for (n = o && o->type == GATE_JSON_OBJECT ? gate_json_first(j, o) : NULL; n; n = gate_json_next(j, n))
		if (n->type == GATE_JSON_NUMBER && n->num >= 0)
			counts_add(c, gate_json_key(j, n), (unsigned long)n->num);
}

static void load_classes(unsigned long *out, const struct gate_json *j, const struct gate_json_node *a)
{
	const struct gate_json_node *n;
	int c = 0;

	for (n = a && a->type == GATE_JSON_ARRAY ? gate_json_first(j, a) : NULL; n && c < GATE_SUMMARY_NCLASS;
	     n = gate_json_next(j, n), c++)
		out[c] = n->type == GATE_JSON_NUMBER && n->num >= 0 ? (unsigned long)n->num : 0;
}

static void load_decision(struct gate_summary_decision *d, const struct gate_json *j, const struct gate_json_node *o)
{
	decision_release(d);
	d->time = gate_json_get_num(j, o, "time", 0);
	d->cls = (enum gate_summary_class)class_from_name(gate_json_get_str(j, o, "class"));
	d->seconds = gate_json_get_num(j, o, "seconds", -1);
	d->nrefs = (size_t)gate_json_get_num(j, o, "nrefs", 1);
	d->ref = field(gate_json_get_str(j, o, "ref"));
	d->old_id = field(gate_json_get_str(j, o, "old"));
	d->new_id = field(gate_json_get_str(j, o, "new"));
	d->user = field(gate_json_get_str(j, o, "user"));
	d->subject = field(gate_json_get_str(j, o, "subject"));
	d->reasons = field(gate_json_get_str(j, o, "reasons"));
}

static int load_line(struct gate_summary *s, struct gate_json *j, const char *line, size_t len, int first)
{
	const struct gate_json_node *root, *n;

	if (len > 2 && line[0] == 't' && line[1] == ' ') {
		unsigned long long key;
		unsigned day, bits;
		struct gate_summary_tree *t;
		char tmp[80];
		if (len >= sizeof(tmp))
			return -1;
		memcpy(tmp, line, len);
		tmp[len] = '\0';
		if (sscanf(tmp, "t %llx %u %u", &key, &day, &bits) != 3 || !key)
			return -1;
		if ((s->ntrees + 1) * 2 > s->trees_alloc)
			trees_grow(s);
		t = tree_slot(s, key);
		if (!t->key)
			s->ntrees++;
		t->key = key;
		t->day = day;
		t->bits = bits & 3;
		return 0;
	}
	if (gate_json_parse(j, line, len) < 0)
		return -1;
	root = &j->nodes[0];
	if (first) {
		size_t i = 0;
		if (gate_json_get_num(j, root, "summary", 0) != SUMMARY_VERSION)
			return -1;
		s->log_path = field(gate_json_get_str(j, root, "log"));
		s->log_dev = (uint64_t)gate_json_get_num(j, root, "dev", 0);
		s->log_ino = (uint64_t)gate_json_get_num(j, root, "ino", 0);
		s->log_offset = (uint64_t)gate_json_get_num(j, root, "offset", 0);
		s->last_time = gate_json_get_num(j, root, "last", 0);
		load_classes(s->total, j, gate_json_get(j, 0, "total"));
		load_counts(&s->rejections, j, gate_json_get(j, 0, "rejections"));
		n = gate_json_get(j, 0, "prom");
		for (n = n ? gate_json_first(j, n) : NULL; n && i <= GATE_SUMMARY_PROM_BUCKETS; n = gate_json_next(j, n))
			s->prom_hist[i++] = (uint64_t)n->num;
		s->prom_sum = gate_json_get_num(j, root, "prom_sum", 0);
		return 0;
	}
	if ((n = gate_json_get(j, 0, "day")) != NULL) {
		struct gate_summary_day *d = day_for(s, (long)n->num);
		const struct gate_json_node *h = gate_json_get(j, 0, "hist"), *e;
		if (!d)
			return 0;
		load_classes(d->n, j, gate_json_get(j, 0, "n"));
		d->seconds = gate_json_get_num(j, root, "seconds", 0);
		for (e = h ? gate_json_first(j, h) : NULL; e && gate_json_next(j, e);
		     e = gate_json_next(j, gate_json_next(j, e))) {
			long k = (long)e->num;
			if (k >= 0 && k < GATE_SUMMARY_BUCKETS)
				d->hist[k] = (uint32_t)gate_json_next(j, e)->num;
		}
		load_counts(&d->rejections, j, gate_json_get(j, 0, "rejections"));
	} else if ((n = gate_json_get(j, 0, "recent")) != NULL) {
		if (s->nrecent < GATE_ARRAY_SIZE(s->recent))
			load_decision(&s->recent[s->nrecent++], j, n);
	} else if ((n = gate_json_get(j, 0, "ref")) != NULL && gate_json_str(j, n)) {
		struct gate_summary_ref *r = ref_for(s, gate_json_str(j, n));
		load_classes(r->n, j, gate_json_get(j, 0, "n"));
		load_decision(&r->last, j, gate_json_get(j, 0, "last"));
	} else if ((n = gate_json_get(j, 0, "flaky")) != NULL && gate_json_str(j, n) && s->nflaky < GATE_SUMMARY_FLAKY) {
		struct gate_summary_flaky *f = &s->flaky[s->nflaky++];
		f->check = gate_xstrdup(gate_json_str(j, n));
		f->tree = gate_xstrdup(gate_json_get_str(j, root, "tree") ? gate_json_get_str(j, root, "tree") : "");
		f->ref = gate_xstrdup(gate_json_get_str(j, root, "in") ? gate_json_get_str(j, root, "in") : "");
		f->time = gate_json_get_num(j, root, "time", 0);
	}
	return 0;
}

int gate_summary_load(struct gate_summary *s, const char *path, struct gate_buf *err)
{
	struct gate_buf text = GATE_BUF_INIT;
	struct gate_json j = GATE_JSON_INIT;
	const char *p, *end;
	int r, first = 1;

	r = gate_read_file(&text, path, err);
	if (r < 0)
		return r;
	p = text.ptr ? text.ptr : "";
	end = p + text.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (len && load_line(s, &j, p, len, first) < 0) {
			gate_summary_release(s);
			r = gate_error(err, "the status summary '%s' is not one git-gate can read", path);
			goto out;
		}
		first = 0;
		p += len + 1;
	}
	if (first) {
		r = gate_error(err, "the status summary '%s' is empty", path);
		goto out;
	}
	r = 0;
out:
	gate_json_release(&j);
	gate_buf_release(&text);
	return r;
}

/* --- catching up with the log ----------------------------------------------------- */

int gate_summary_catch_up(struct gate_summary *s, const char *log_path, struct gate_buf *err)
{
	struct gate_buf buf = GATE_BUF_INIT;
	struct stat st;
	uint64_t offset;
	int fd, ret = -1;

	fd = open(log_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* nothing decided yet */
		return gate_error(err, "cannot open the audit log '%s': %s", log_path, strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		gate_error(err, "the audit log '%s' is not a regular file: the status needs to read it", log_path);
		goto out;
	}
	if (s->log_path && strcmp(s->log_path, log_path)) {
		/* another log: start over */
		gate_summary_release(s);
	}
	if (!s->log_path)
		s->log_path = gate_xstrdup(log_path);
	offset = s->log_offset;
	if ((uint64_t)st.st_dev != s->log_dev || (uint64_t)st.st_ino != s->log_ino || (uint64_t)st.st_size < offset)
		offset = 0; /* rotated: the new file from its start, the counts go on */
	s->log_dev = (uint64_t)st.st_dev;
	s->log_ino = (uint64_t)st.st_ino;
	if (lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		gate_error(err, "cannot read the audit log '%s': %s", log_path, strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t n;
		const char *p, *nl;
		size_t used;

		gate_buf_grow(&buf, READ_CHUNK);
		n = read(fd, buf.ptr + buf.len, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			gate_error(err, "cannot read the audit log '%s': %s", log_path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		buf.len += (size_t)n;
		buf.ptr[buf.len] = '\0';
		/* whole lines only: a record being written is read next time */
		p = buf.ptr;
		while ((nl = memchr(p, '\n', buf.len - (size_t)(p - buf.ptr))) != NULL) {
			gate_summary_add_record(s, p, (size_t)(nl - p));
			p = nl + 1;
		}
		used = (size_t)(p - buf.ptr);
		offset += used;
		memmove(buf.ptr, p, buf.len - used);
		buf.len -= used;
	}
	s->log_offset = offset;
	ret = 0;
out:
	close(fd);
	gate_buf_release(&buf);
	return ret;
}

char *gate_summary_path(const char *git_dir)
{
	return gate_xstrfmt("%s/git-gate/status-summary", git_dir);
}

int gate_summary_refresh(struct gate_summary *s, const char *log_path, const char *summary_path, int shared, int *saved,
			 struct gate_buf *err)
{
	struct gate_buf ignored = GATE_BUF_INIT;
	char *lock = gate_xstrfmt("%s.lock", summary_path);
	uint64_t before;
	int fd, r, ret = -1, can_save = 1;

	*saved = 0;
	/* a missing folder is created too, shared like the repository */
	fd = gate_shared_open(shared, lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (fd < 0)
		can_save = 0; /* e.g. a reader without write access: count in memory */
	else
		while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
			;
	r = gate_summary_load(s, summary_path, &ignored);
	if (r < 0) {
		/* none, or unreadable: start from the log */
		gate_summary_release(s);
		memset(s, 0, sizeof(*s));
	}
	before = s->log_offset;
	if (gate_summary_catch_up(s, log_path, err) < 0)
		goto out;
	if (can_save && (r < 0 || s->log_offset != before || !s->log_path))
		*saved = gate_summary_save(s, summary_path, shared, &ignored) == 0;
	else
		*saved = can_save;
	ret = 0;
out:
	if (fd >= 0)
		close(fd); /* drops the lock */
	free(lock);
	gate_buf_release(&ignored);
	return ret;
}
