/*
 * The status site: index.html, badge.svg, badge.json and metrics.prom.
 *
 * The charts are plain SVG written by this file, inline in the page, not a
 * charting library: a library means JavaScript, and the page must run no
 * script at all (its Content-Security-Policy forbids it, so that nothing
 * a pusher wrote into a commit message, ref or user name can ever run
 * there), must work from file:// with no network, and must stay one file.
 * Four small charts (stacked bars, two lines, horizontal bars) are a few
 * dozen lines of SVG each.  Every string that came from a push is escaped
 * for HTML; the charts hold only numbers, dates and check names (escaped
 * too).
 */
#include "config.h"
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "audit.h"
#include "shared.h"

#include "banned.h"

#define CHART_DAYS 30
#define PAGE_DECISIONS 25
#define LATEST 5 /* decisions in the first card */

/* --- escaping ------------------------------------------------------------------- */

/*
 * `s` as HTML text or attribute value: markup characters as entities;
 * control characters, bidirectional overrides and invalid UTF-8 as U+FFFD.
 */
static void html(struct gate_buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = strlen((const char *)p), i = 0, n;

	while (i < len) {
		long cp = gate_utf8_decode(p + i, len - i, &n);

		if (cp < 0) {
			n = 1; /* not UTF-8: this byte alone */
			gate_buf_adds(out, "\xef\xbf\xbd");
		} else if (cp == '&')
			gate_buf_adds(out, "&amp;");
		else if (cp == '<')
			gate_buf_adds(out, "&lt;");
		else if (cp == '>')
			gate_buf_adds(out, "&gt;");
		else if (cp == '"')
			gate_buf_adds(out, "&quot;");
		else if (cp == '\'')
			gate_buf_adds(out, "&#39;");
		else if (gate_char_unsafe(cp))
			gate_buf_adds(out, "\xef\xbf\xbd"); /* the terminal's unsafe set: controls, bidi, separators */
		else
			gate_buf_add(out, p + i, n);
		i += n;
	}
}

/* Cut to `max` bytes on a character boundary, then escape. */
static void html_cut(struct gate_buf *out, const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	char *t;

	if (n <= max) {
		html(out, s);
		return;
	}
	while (n > max || (n && ((unsigned char)s[n] & 0xc0) == 0x80))
		n--;
	t = gate_xstrndup(s, n);
	html(out, t);
	gate_buf_adds(out, "\xe2\x80\xa6");
	free(t);
}

static void day_label(char out[16], long day, const char *fmt)
{
	time_t t = (time_t)day * 86400;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, 16, fmt, &tm))
		out[0] = '\0';
}

static void when_text(struct gate_buf *out, double when)
{
	time_t t = (time_t)when;
	struct tm tm;
	char s[32];

	if (when > 0 && gmtime_r(&t, &tm) && strftime(s, sizeof(s), "%Y-%m-%d %H:%M UTC", &tm))
		gate_buf_adds(out, s);
	else
		gate_buf_adds(out, "never");
}

static void seconds_text(struct gate_buf *out, double s)
{
	if (s < 0)
		gate_buf_adds(out, "&#8211;");
	else if (s < 1)
		gate_buf_addf(out, "%.0f ms", s * 1000);
	else if (s < 120)
		gate_buf_addf(out, "%.1f s", s);
	else
		gate_buf_addf(out, "%.1f min", s / 60);
}

/* --- charts ---------------------------------------------------------------------- */

#define W 560
#define H 220
#define ML 44 /* left margin: axis labels */
#define MR 10
#define MT 12
#define MB 34

/* A round maximum for an axis: 1, 2, 5, 10, 20, 50, ... at least `v`. */
static double nice_max(double v)
{
	double m = 0.001;

	if (v <= 0)
		return 1;
	for (;;) {
		if (v <= m)
			return m;
		if (v <= 2 * m)
			return 2 * m;
		if (v <= 5 * m)
			return 5 * m;
		m *= 10;
	}
}

/* Grid lines, y labels (ymax * scale, in `unit`) and a date every week. */
static void axes(struct gate_buf *out, double ymax, double scale, const char *unit, long first_day)
{
	int i;
	char lab[16];

	for (i = 0; i <= 4; i++) {
		double y = MT + (H - MT - MB) * (1 - i / 4.0);
		gate_buf_addf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>", ML, y, W - MR, y);
		gate_buf_addf(out, "<text x=\"%d\" y=\"%.1f\" class=\"ax\" text-anchor=\"end\">%g%s</text>", ML - 4,
			      y + 4, ymax * scale * i / 4.0, unit);
	}
	for (i = 0; i < CHART_DAYS; i += 7) {
		double x = ML + (W - ML - MR) * (i + 0.5) / CHART_DAYS;
		day_label(lab, first_day + i, "%b %d");
		gate_buf_addf(out, "<text x=\"%.1f\" y=\"%d\" class=\"ax\" text-anchor=\"middle\">%s</text>", x, H - MB + 16,
			      lab);
	}
}


/*
 * One part of a day's stacked bar: `n` pushes of class `cls` (CSS class,
 * and `what` for the tooltip) drawn upwards from `y`, `scale` pixels a
 * push.  Returns the top of the part, where the next one starts.
 */
static double stack_bar(struct gate_buf *out, const char *cls, const char *what, unsigned long n, double x, double y,
			double width, double scale, const char *label)
{
	double h = scale * (double)n;

	y -= h;
	if (n)
		gate_buf_addf(out, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
				   "<title>%s: %lu %s</title></rect>",
			      cls, x, y, width, h, label, n, what);
	return y;
}

static void chart_decisions(struct gate_buf *out, const struct gate_status *st)
{
	long first = st->today - CHART_DAYS + 1;
	double max = 0, bw = (double)(W - ML - MR) / CHART_DAYS, ymax;
	unsigned long tot = 0;
	int i;

	for (i = 0; i < CHART_DAYS; i++) {
		const struct gate_summary_day *d = gate_summary_day_get(&st->sum, first + i);
		double n = 0;
		int c;
		for (c = 0; d && c < GATE_SUMMARY_NCLASS; c++)
			n += (double)d->n[c];
		if (n > max)
			max = n;
		tot += (unsigned long)n;
	}
	ymax = nice_max(max);
	gate_buf_addf(out, "<svg id=\"chart-decisions\" class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" "
			   "aria-label=\"Decisions per day, last %d days: %lu\">",
		      W, H, CHART_DAYS, tot);
	axes(out, ymax, 1, "", first);
	for (i = 0; i < CHART_DAYS; i++) {
		const struct gate_summary_day *d = gate_summary_day_get(&st->sum, first + i);
		unsigned long acc, byp, rej;
		double x = ML + bw * i + bw * 0.15, y = H - MB;
		char lab[16];
		if (!d)
			continue;
		acc = d->n[GATE_SUMMARY_ACCEPTED];
		byp = d->n[GATE_SUMMARY_BYPASSED];
		rej = d->n[GATE_SUMMARY_REJECTED] + d->n[GATE_SUMMARY_ERROR];
		day_label(lab, first + i, "%Y-%m-%d");
		y = stack_bar(out, "acc", "accepted", acc, x, y, bw * 0.7, (H - MT - MB) / ymax, lab);
		y = stack_bar(out, "byp", "bypassed", byp, x, y, bw * 0.7, (H - MT - MB) / ymax, lab);
		(void)stack_bar(out, "rej", "rejected", rej, x, y, bw * 0.7, (H - MT - MB) / ymax, lab);
	}
	gate_buf_adds(out, "</svg>");
}

static void chart_durations(struct gate_buf *out, const struct gate_status *st)
{
	long first = st->today - CHART_DAYS + 1;
	double p50[CHART_DAYS], p95[CHART_DAYS], max = 0, ymax;
	double bw = (double)(W - ML - MR) / CHART_DAYS;
	int i, k;

	for (i = 0; i < CHART_DAYS; i++) {
		const struct gate_summary_day *d = gate_summary_day_get(&st->sum, first + i);
		p50[i] = d ? gate_summary_percentile(d->hist, 0.5) : -1;
		p95[i] = d ? gate_summary_percentile(d->hist, 0.95) : -1;
		if (p95[i] > max)
			max = p95[i];
	}
	ymax = nice_max(max);
	gate_buf_addf(out, "<svg id=\"chart-durations\" class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" "
			   "aria-label=\"Time in the gate per day, p50 and p95, seconds\">",
		      W, H);
	if (ymax < 1)
		axes(out, ymax, 1000, " ms", first);
	else
		axes(out, ymax, 1, " s", first);
	for (k = 0; k < 2; k++) {
		const double *v = k ? p95 : p50;
		int pen = 0;
		gate_buf_addf(out, "<path class=\"%s\" d=\"", k ? "p95" : "p50");
		for (i = 0; i < CHART_DAYS; i++) {
			if (v[i] < 0)
				continue;
			gate_buf_addf(out, "%c%.1f %.1f ", pen++ ? 'L' : 'M', ML + bw * (i + 0.5),
				      H - MB - (H - MT - MB) * v[i] / ymax);
		}
		gate_buf_adds(out, "\"/>");
		for (i = 0; i < CHART_DAYS; i++) {
			char lab[16];
			if (v[i] < 0)
				continue;
			day_label(lab, first + i, "%Y-%m-%d");
			gate_buf_addf(out, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"><title>%s: %s %.3f s</title>"
					   "</circle>",
				      k ? "p95" : "p50", ML + bw * (i + 0.5), H - MB - (H - MT - MB) * v[i] / ymax, lab,
				      k ? "p95" : "p50", v[i]);
		}
	}
	gate_buf_addf(out, "<text x=\"%d\" y=\"%d\" class=\"ax\"><tspan class=\"p50t\">&#9644; p50</tspan> "
			   "<tspan class=\"p95t\">&#9644; p95</tspan></text>",
		      ML + 6, MT + 10);
	gate_buf_adds(out, "</svg>");
}

static void chart_rejections(struct gate_buf *out, const struct gate_status *st)
{
	const struct gate_summary_counts *c = &st->w30.rejections;
	size_t n = c->nr < 8 ? c->nr : 8, i;
	int h = n ? (int)(n * 26 + 10) : 40;
	double max = n ? (double)c->v[0].n : 1;

	gate_buf_addf(out, "<svg id=\"chart-rejections\" class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" "
			   "aria-label=\"Rejections by check, last 30 days\">",
		      W, h);
	if (!n)
		gate_buf_adds(out, "<text x=\"10\" y=\"24\" class=\"ax\">no rejections in the last 30 days</text>");
	for (i = 0; i < n; i++) {
		double bw = (W - 200 - 60) * (double)c->v[i].n / max;
		gate_buf_addf(out, "<text x=\"190\" y=\"%zu\" class=\"lab\" text-anchor=\"end\">", i * 26 + 24);
		html_cut(out, c->v[i].name, 28);
		gate_buf_addf(out, "</text><rect class=\"rej\" x=\"200\" y=\"%zu\" width=\"%.1f\" height=\"18\"/>"
				   "<text x=\"%.1f\" y=\"%zu\" class=\"lab\">%lu</text>",
			      i * 26 + 10, bw < 2 ? 2 : bw, 206 + bw, i * 26 + 24, c->v[i].n);
	}
	gate_buf_adds(out, "</svg>");
}

/* --- the page ------------------------------------------------------------------------ */

static const char css[] =
	"body{font:16px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f4f5f7;"
	"color:#1d2330}"
	"header{padding:14px 28px;background:#1d2330;color:#fff;display:flex;align-items:baseline;gap:18px}"
	"header h1{font-size:22px;margin:0}header .gen{opacity:.7;font-size:14px}"
	"main{padding:18px 28px;display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:18px}"
	".card{background:#fff;border-radius:8px;padding:14px 18px;box-shadow:0 1px 3px rgba(0,0,0,.12)}"
	".card h2{font-size:15px;margin:0 0 8px;text-transform:uppercase;letter-spacing:.04em;color:#5a6270}"
	".state{display:flex;align-items:center;gap:18px}"
	".big{font-size:40px;font-weight:700;padding:6px 22px;border-radius:8px;color:#fff}"
	".passing{background:#2da44e}.failing{background:#cf222e}.unknown{background:#8c959f}"
	".tiles{display:flex;gap:14px}.tile{flex:1 1 0;min-width:0;background:#f4f5f7;"
	"border-radius:6px;padding:8px 12px}.tile b{display:block;font-size:28px}"
	"table{border-collapse:collapse;width:100%;font-size:14px}td,th{text-align:left;padding:4px 6px;"
	"border-bottom:1px solid #e4e6ea;vertical-align:top}th{color:#5a6270;font-weight:600}"
	".v-accepted{color:#1a7f37;font-weight:600}.v-rejected,.v-error{color:#cf222e;font-weight:600}"
	".v-bypassed,.v-dry-run{color:#9a6700;font-weight:600}"
	"code{font-size:13px}.wide{grid-column:1/-1}.muted{color:#5a6270}td{overflow-wrap:anywhere}"
	"#latest{table-layout:fixed}#latest td{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}"
	"#latest td:nth-child(1){width:80px}#latest td:nth-child(2){width:30%}#latest td:nth-child(4){width:90px}"
	"svg.chart{width:100%;height:auto}svg .grid{stroke:#e4e6ea}svg .ax,svg .lab{font-size:11px;fill:#5a6270}"
	"svg .lab{font-size:13px;fill:#1d2330}"
	"svg .acc{fill:#2da44e}svg .byp{fill:#d4a72c}svg .rej{fill:#cf222e}"
	"svg path.p50{stroke:#0969da;stroke-width:2;fill:none}svg path.p95{stroke:#8250df;stroke-width:2;fill:none}"
	"svg circle.p50{fill:#0969da}svg circle.p95{fill:#8250df}svg .p50t{fill:#0969da}svg .p95t{fill:#8250df}"
	".q-landed{color:#1a7f37;font-weight:600}.q-rejected{color:#cf222e;font-weight:600}"
	".q-testing{color:#9a6700;font-weight:600}.q-waiting,.q-cancelled{color:#5a6270;font-weight:600}"
	"#queue h3{font-size:15px;margin:12px 0 4px}#queue table.decided{margin-top:8px}"
	".legend span{display:inline-block;width:12px;height:12px;border-radius:2px;margin:0 4px 0 12px;"
	"vertical-align:-1px}";


static void verdict_span(struct gate_buf *out, enum gate_summary_class c)
{
	const char *name = gate_summary_class_name(c);

	gate_buf_addf(out, "<span class=\"v-%s\">%s</span>", name, name);
}

/* The latest few decisions, for the top of the page. */
static void latest(struct gate_buf *out, const struct gate_status *st)
{
	size_t i;
	int shown = 0;

	if (!st->sum.nrecent)
		return;
	gate_buf_adds(out, "<h2 style=\"margin-top:16px\">Latest</h2><table id=\"latest\">");
	for (i = st->sum.nrecent; i > 0 && shown < LATEST; i--, shown++) {
		const struct gate_summary_decision *d = &st->sum.recent[i - 1];
		gate_buf_adds(out, "<tr><td>");
		verdict_span(out, d->cls);
		gate_buf_adds(out, "</td><td>");
		html_cut(out, d->ref, 40);
		gate_buf_adds(out, "</td><td>");
		html_cut(out, d->subject, 48);
		gate_buf_adds(out, "</td><td>");
		html_cut(out, d->user, 20);
		gate_buf_adds(out, "</td></tr>");
	}
	gate_buf_adds(out, "</table>");
}

static void page_state(struct gate_buf *out, const struct gate_status *st)
{
	const struct gate_status_ref *main_ref = st->nrefs ? &st->refs[0] : NULL;

	gate_buf_adds(out, "<section class=\"card\" id=\"state\"><h2>");
	html(out, main_ref ? main_ref->name : st->default_branch);
	gate_buf_adds(out, "</h2><div class=\"state\">");
	gate_buf_addf(out, "<div class=\"big %s\" id=\"main-state\">%s</div><div>",
		      gate_status_state_name(main_ref ? main_ref->state : GATE_STATUS_UNKNOWN),
		      gate_status_state_name(main_ref ? main_ref->state : GATE_STATUS_UNKNOWN));
	if (main_ref && main_ref->tip[0]) {
		gate_buf_addf(out, "tip <code>%.12s</code> ", main_ref->tip);
		if (main_ref->tip_subject) {
			gate_buf_adds(out, "<q>");
			html_cut(out, main_ref->tip_subject, 120);
			gate_buf_adds(out, "</q>");
		}
		gate_buf_adds(out, "<br>");
	}
	if (main_ref && main_ref->landed) {
		const struct gate_queue_item *it = main_ref->landed;
		gate_buf_addf(out, "last decision: <span class=\"q-landed\">landed</span> by the merge queue (item %ld), ",
			      it->id);
		when_text(out, (double)it->decided);
		gate_buf_adds(out, ", pushed by <b>");
		html_cut(out, it->user, 60);
		gate_buf_adds(out, "</b>");
	} else if (main_ref && main_ref->last) {
		const struct gate_summary_decision *d = &main_ref->last->last;
		gate_buf_adds(out, "last decision: ");
		verdict_span(out, d->cls);
		gate_buf_adds(out, ", ");
		when_text(out, d->time);
		gate_buf_adds(out, ", pushed by <b>");
		html_cut(out, d->user, 60);
		gate_buf_adds(out, "</b>");
		if (d->reasons) {
			gate_buf_adds(out, "<br><span class=\"muted\">");
			html_cut(out, d->reasons, 160);
			gate_buf_adds(out, "</span>");
		}
	} else {
		gate_buf_adds(out, "<span class=\"muted\">no decision yet</span>");
	}
	gate_buf_adds(out, "</div></div>");
	latest(out, st);
	gate_buf_adds(out, "</section>");
}

/* One tile: the 7-day value big, the 30-day value under it. */
static void tile(struct gate_buf *out, const char *cls, const char *v7, const char *v30, const char *what)
{
	gate_buf_addf(out, "<div class=\"tile\"><b class=\"%s\">%s</b>%s<br><small class=\"muted\">30 days: "
			   "%s</small></div>",
		      cls, v7, what, v30);
}

static void page_tiles(struct gate_buf *out, const struct gate_status *st)
{
	const struct gate_summary_window *w7 = &st->w7, *w30 = &st->w30;
	struct gate_buf a = GATE_BUF_INIT, b = GATE_BUF_INIT;

	gate_buf_adds(out, "<section class=\"card\" id=\"counts\"><h2>Last 7 days</h2><div class=\"tiles\" "
			   "id=\"counts-7\">");
	gate_buf_addf(&a, "%lu", w7->decisions);
	gate_buf_addf(&b, "%lu", w30->decisions);
	tile(out, "pushes", a.ptr, b.ptr, "pushes");
	gate_buf_reset(&a);
	gate_buf_reset(&b);
	gate_buf_addf(&a, "%lu", w7->n[GATE_SUMMARY_REJECTED] + w7->n[GATE_SUMMARY_ERROR]);
	gate_buf_addf(&b, "%lu", w30->n[GATE_SUMMARY_REJECTED] + w30->n[GATE_SUMMARY_ERROR]);
	tile(out, "rejected", a.ptr, b.ptr, "rejected");
	gate_buf_reset(&a);
	gate_buf_reset(&b);
	gate_buf_addf(&a, "%.1f%%", w7->rejection_rate * 100);
	gate_buf_addf(&b, "%.1f%%", w30->rejection_rate * 100);
	tile(out, "rate", a.ptr, b.ptr, "rejection rate");
	gate_buf_reset(&a);
	gate_buf_reset(&b);
	gate_buf_addf(&a, "%lu", w7->n[GATE_SUMMARY_BYPASSED]);
	gate_buf_addf(&b, "%lu", w30->n[GATE_SUMMARY_BYPASSED]);
	tile(out, "bypassed", a.ptr, b.ptr, "bypassed");
	gate_buf_adds(out, "</div><div class=\"tiles\" style=\"margin-top:12px\">");
	gate_buf_reset(&a);
	gate_buf_reset(&b);
	seconds_text(&a, w7->p50);
	seconds_text(&b, w30->p50);
	tile(out, "p50", a.ptr, b.ptr, "time in the gate, p50");
	gate_buf_reset(&a);
	gate_buf_reset(&b);
	seconds_text(&a, w7->p95);
	seconds_text(&b, w30->p95);
	tile(out, "p95", a.ptr, b.ptr, "time in the gate, p95");
	gate_buf_adds(out, "</div></section>");
	gate_buf_release(&a);
	gate_buf_release(&b);
}

static void page_refs(struct gate_buf *out, const struct gate_status *st)
{
	size_t i;

	if (st->nrefs < 2)
		return;
	gate_buf_adds(out, "<section class=\"card\" id=\"refs\"><h2>Protected refs</h2><table><tr><th>ref</th>"
			   "<th>tip</th><th>last decision</th><th>when</th><th>by</th></tr>");
	for (i = 0; i < st->nrefs; i++) {
		const struct gate_status_ref *r = &st->refs[i];
		gate_buf_adds(out, "<tr><td>");
		html_cut(out, r->name, 80);
		gate_buf_addf(out, "</td><td><code>%.10s</code></td><td>", r->tip[0] ? r->tip : "");
		if (r->landed) {
			gate_buf_addf(out, "<span class=\"q-landed\">landed</span> (queue item %ld)</td><td>",
				      r->landed->id);
			when_text(out, (double)r->landed->decided);
			gate_buf_adds(out, "</td><td>");
			html_cut(out, r->landed->user, 40);
		} else if (r->last) {
			verdict_span(out, r->last->last.cls);
			gate_buf_adds(out, "</td><td>");
			when_text(out, r->last->last.time);
			gate_buf_adds(out, "</td><td>");
			html_cut(out, r->last->last.user, 40);
		} else {
			gate_buf_adds(out, "<span class=\"muted\">none yet</span></td><td></td><td>");
		}
		gate_buf_adds(out, "</td></tr>");
	}
	gate_buf_adds(out, "</table></section>");
}

static void page_recent(struct gate_buf *out, const struct gate_status *st)
{
	size_t i;
	int shown = 0;

	gate_buf_adds(out, "<section class=\"card wide\" id=\"recent\"><h2>Last decisions</h2>");
	if (!st->sum.nrecent) {
		gate_buf_adds(out, "<p class=\"muted\">No decision yet.</p></section>");
		return;
	}
	gate_buf_adds(out, "<table><tr><th>when</th><th>verdict</th><th>ref</th><th>commit</th><th>by</th>"
			   "<th>time</th><th>reasons</th></tr>");
	for (i = st->sum.nrecent; i > 0 && shown < PAGE_DECISIONS; i--, shown++) {
		const struct gate_summary_decision *d = &st->sum.recent[i - 1];
		gate_buf_adds(out, "<tr><td>");
		when_text(out, d->time);
		gate_buf_adds(out, "</td><td>");
		verdict_span(out, d->cls);
		gate_buf_adds(out, "</td><td>");
		html_cut(out, d->ref, 60);
		if (d->nrefs > 1)
			gate_buf_addf(out, " (+%zu)", d->nrefs - 1);
		gate_buf_addf(out, "</td><td class=\"subject\"><code>%.10s</code> ",
			      d->new_id && gate_is_hex_oid(d->new_id) ? d->new_id : "");
		html_cut(out, d->subject, 140);
		gate_buf_adds(out, "</td><td>");
		html_cut(out, d->user, 40);
		gate_buf_adds(out, "</td><td>");
		seconds_text(out, d->seconds);
		gate_buf_adds(out, "</td><td>");
		html_cut(out, d->reasons, 160);
		gate_buf_adds(out, "</td></tr>");
	}
	gate_buf_adds(out, "</table></section>");
}

static void page_flaky(struct gate_buf *out, const struct gate_status *st)
{
	size_t i;
	int shown = 0;

	gate_buf_adds(out, "<section class=\"card\" id=\"flaky\"><h2>Flaky trees</h2>"
			   "<p class=\"muted\">The same tree both passed and failed a command check (30 days).</p>");
	for (i = st->sum.nflaky; i > 0; i--) {
		const struct gate_summary_flaky *f = &st->sum.flaky[i - 1];
		if ((double)st->now - f->time > GATE_SUMMARY_FLAKY_DAYS * 86400.0)
			continue;
		if (!shown++)
			gate_buf_adds(out, "<table><tr><th>check</th><th>tree</th><th>ref</th><th>seen</th></tr>");
		gate_buf_adds(out, "<tr><td>");
		html_cut(out, f->check, 60);
		gate_buf_addf(out, "</td><td><code>%.12s</code></td><td>", gate_is_hex_oid(f->tree) ? f->tree : "");
		html_cut(out, f->ref, 60);
		gate_buf_adds(out, "</td><td>");
		when_text(out, f->time);
		gate_buf_adds(out, "</td></tr>");
	}
	gate_buf_adds(out, shown ? "</table>" : "<p>None.</p>");
	gate_buf_adds(out, "</section>");
}

static const char *short_branch(const char *ref)
{
	const char *name = ref;

	gate_skip_prefix(ref ? ref : "", "refs/heads/", &name);
	return name;
}

static void queue_state_span(struct gate_buf *out, enum gate_queue_state s)
{
	const char *name = gate_queue_state_name(s);

	gate_buf_addf(out, "<span class=\"q-%s\">%s</span>", name, name);
}

/* The merge queue: per branch, what waits and what was decided lately. */
static void page_queue(struct gate_buf *out, const struct gate_status *st)
{
	size_t i, k;

	if (!st->queue_used)
		return;
	gate_buf_addf(out, "<section class=\"card wide\" id=\"queue\"><h2>Merge queue</h2><p class=\"muted\">%s</p>",
		      st->queue_runner ? "A runner is testing." : "No runner is active.");
	for (i = 0; i < st->nqueues; i++) {
		const struct gate_status_queue *q = &st->queues[i];
		gate_buf_adds(out, "<h3>");
		html_cut(out, short_branch(q->branch), 80);
		gate_buf_addf(out, ": %zu waiting or testing</h3>", q->npending);
		if (q->npending)
			gate_buf_adds(out, "<table class=\"pending\"><tr><th>#</th><th>item</th><th>state</th>"
					   "<th>queued</th><th>by</th><th>subject</th></tr>");
		for (k = 0; k < q->npending; k++) {
			const struct gate_queue_item *it = q->pending[k];
			gate_buf_addf(out, "<tr><td>%zu</td><td>%ld</td><td>", k + 1, it->id);
			queue_state_span(out, it->state);
			gate_buf_adds(out, "</td><td>");
			when_text(out, (double)it->queued); /* a time, not an age: the page is static */
			gate_buf_adds(out, "</td><td>");
			html_cut(out, it->user, 40);
			gate_buf_addf(out, "</td><td class=\"subject\"><code>%.10s</code> ", it->tip);
			html_cut(out, it->subject, 140);
			gate_buf_adds(out, "</td></tr>");
		}
		if (q->npending)
			gate_buf_adds(out, "</table>");
		if (!q->ndecided)
			continue;
		gate_buf_adds(out, "<table class=\"decided\"><tr><th>item</th><th>decision</th><th>when</th><th>by</th>"
				   "<th>subject</th><th>landed as / reason</th></tr>");
		for (k = 0; k < q->ndecided; k++) {
			const struct gate_queue_item *it = q->decided[k];
			gate_buf_addf(out, "<tr><td>%ld</td><td>", it->id);
			queue_state_span(out, it->state);
			gate_buf_adds(out, "</td><td>");
			when_text(out, (double)it->decided);
			gate_buf_adds(out, "</td><td>");
			html_cut(out, it->user, 40);
			gate_buf_addf(out, "</td><td class=\"subject\"><code>%.10s</code> ", it->tip);
			html_cut(out, it->subject, 140);
			gate_buf_adds(out, "</td><td>");
			if (it->state == GATE_QUEUE_LANDED)
				gate_buf_addf(out, "<code>%.12s</code>", gate_is_hex_oid(it->landed) ? it->landed : "");
			else
				html_cut(out, it->reason, 200);
			gate_buf_adds(out, "</td></tr>");
		}
		gate_buf_adds(out, "</table>");
	}
	if (!st->nqueues)
		gate_buf_adds(out, "<p>Empty.</p>");
	gate_buf_adds(out, "</section>");
}

void gate_status_html(struct gate_buf *out, const struct gate_status *st)
{
	gate_buf_adds(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			   /* nothing from outside the page, and no script at all */
			   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
			   "style-src 'unsafe-inline'; img-src data:\">"
			   "<meta http-equiv=\"refresh\" content=\"60\">"
			   "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
			   "<title>");
	html(out, st->name);
	gate_buf_addf(out, ": %s &#8211; git-gate</title><style>%s</style></head><body><header><h1>",
		      gate_status_state_name(st->nrefs ? st->refs[0].state : GATE_STATUS_UNKNOWN), css);
	html(out, st->name);
	gate_buf_adds(out, "</h1><span class=\"gen\">git-gate status, updated ");
	when_text(out, (double)st->now);
	gate_buf_adds(out, "</span></header><main>");
	if (!st->has_log)
		gate_buf_adds(out, "<section class=\"card wide\"><p>The audit log is off (<code>audit_log = "
				   "\"off\"</code>): there are no decisions to show.</p></section>");
	page_state(out, st);
	page_queue(out, st);
	page_tiles(out, st);
	gate_buf_addf(out, "<section class=\"card\"><h2>Decisions per day</h2><div class=\"legend muted\">"
			   "<span style=\"background:#2da44e\"></span>accepted<span style=\"background:#d4a72c\"></span>"
			   "bypassed<span style=\"background:#cf222e\"></span>rejected</div>");
	chart_decisions(out, st);
	gate_buf_adds(out, "</section><section class=\"card\"><h2>Time in the gate</h2>");
	chart_durations(out, st);
	gate_buf_adds(out, "</section><section class=\"card\"><h2>Rejections by check, 30 days</h2>");
	chart_rejections(out, st);
	gate_buf_adds(out, "</section>");
	page_flaky(out, st);
	page_refs(out, st);
	page_recent(out, st);
	gate_buf_adds(out, "</main></body></html>\n");
}

/* --- badge ------------------------------------------------------------------------------ */

static const char *badge_color(enum gate_status_state s, int hex)
{
	switch (s) {
	case GATE_STATUS_PASSING:
		return hex ? "#4c1" : "brightgreen";
	case GATE_STATUS_FAILING:
		return hex ? "#e05d44" : "red";
	case GATE_STATUS_UNKNOWN:
		break;
	}
	return hex ? "#9f9f9f" : "lightgrey";
}

/* Text width in Verdana 11px, roughly (shields.io measures the same way). */
static int text_width(const char *s)
{
	int w = 0;

	for (; *s; s++)
		w += strchr("il.:|", *s) ? 3 : strchr("mw", *s) ? 10 : 7;
	return w;
}

void gate_status_badge_svg(struct gate_buf *out, const struct gate_status *st)
{
	enum gate_status_state s = st->nrefs ? st->refs[0].state : GATE_STATUS_UNKNOWN;
	const char *label = "gate", *msg = gate_status_state_name(s);
	int lw = text_width(label) + 10, mw = text_width(msg) + 10;

	gate_buf_addf(out,
		      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"20\" role=\"img\" "
		      "aria-label=\"%s: %s\"><title>%s: %s</title>"
		      "<linearGradient id=\"s\" x2=\"0\" y2=\"100%%\"><stop offset=\"0\" stop-color=\"#bbb\" "
		      "stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>"
		      "<clipPath id=\"r\"><rect width=\"%d\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath>"
		      "<g clip-path=\"url(#r)\"><rect width=\"%d\" height=\"20\" fill=\"#555\"/>"
		      "<rect x=\"%d\" width=\"%d\" height=\"20\" fill=\"%s\"/>"
		      "<rect width=\"%d\" height=\"20\" fill=\"url(#s)\"/></g>"
		      "<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" "
		      "font-size=\"11\"><text x=\"%d\" y=\"15\" fill=\"#010101\" fill-opacity=\".3\">%s</text>"
		      "<text x=\"%d\" y=\"14\">%s</text><text x=\"%d\" y=\"15\" fill=\"#010101\" "
		      "fill-opacity=\".3\">%s</text><text x=\"%d\" y=\"14\">%s</text></g></svg>\n",
		      lw + mw, label, msg, label, msg, lw + mw, lw, lw, mw, badge_color(s, 1), lw + mw, lw / 2, label,
		      lw / 2, label, lw + mw / 2, msg, lw + mw / 2, msg);
}

void gate_status_badge_json(struct gate_buf *out, const struct gate_status *st)
{
	enum gate_status_state s = st->nrefs ? st->refs[0].state : GATE_STATUS_UNKNOWN;

	gate_buf_addf(out, "{\"schemaVersion\":1,\"label\":\"gate\",\"message\":\"%s\",\"color\":\"%s\"}\n",
		      gate_status_state_name(s), badge_color(s, 0));
}

/* --- metrics ---------------------------------------------------------------------------- */

/* A Prometheus label value: backslash, double quote and newline escaped; controls dropped. */
static void prom_label(struct gate_buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	for (; *p; p++) {
		if (*p == '\\')
			gate_buf_adds(out, "\\\\");
		else if (*p == '"')
			gate_buf_adds(out, "\\\"");
		else if (*p == '\n')
			gate_buf_adds(out, "\\n");
		else if (*p >= 0x20 && *p != 0x7f)
			gate_buf_addch(out, *p);
	}
}

static void prom_head(struct gate_buf *out, const char *name, const char *type, const char *help)
{
	gate_buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_repo(struct gate_buf *out, const struct gate_status *st)
{
	gate_buf_adds(out, "repository=\"");
	prom_label(out, st->name);
	gate_buf_addch(out, '"');
}

void gate_status_metrics(struct gate_buf *out, const struct gate_status *st)
{
	unsigned long other[GATE_SUMMARY_NCLASS] = { 0 }, cum = 0;
	size_t i;
	int c;

	prom_head(out, "git_gate_pushes_total", "counter",
		  "Decisions of the gate by ref and verdict (protected refs; other refs together as ref=\"(other)\").");
	for (i = 0; i < st->sum.nrefs; i++) {
		const struct gate_summary_ref *r = &st->sum.refs[i];
		size_t k;
		int listed = 0;
		for (k = 0; k < st->nrefs; k++)
			listed |= !strcmp(st->refs[k].name, r->name);
		for (c = 0; c < GATE_SUMMARY_NCLASS; c++) {
			if (!listed) {
				other[c] += r->n[c];
				continue;
			}
			gate_buf_adds(out, "git_gate_pushes_total{");
			prom_repo(out, st);
			gate_buf_adds(out, ",ref=\"");
			prom_label(out, r->name);
			gate_buf_addf(out, "\",verdict=\"%s\"} %lu\n", gate_summary_class_name(c), r->n[c]);
		}
	}
	for (c = 0; c < GATE_SUMMARY_NCLASS; c++) {
		gate_buf_adds(out, "git_gate_pushes_total{");
		prom_repo(out, st);
		gate_buf_addf(out, ",ref=\"(other)\",verdict=\"%s\"} %lu\n", gate_summary_class_name(c), other[c]);
	}
	prom_head(out, "git_gate_rejections_total", "counter", "Rejected decisions by the check that failed.");
	for (i = 0; i < st->sum.rejections.nr; i++) {
		gate_buf_adds(out, "git_gate_rejections_total{");
		prom_repo(out, st);
		gate_buf_adds(out, ",check=\"");
		prom_label(out, st->sum.rejections.v[i].name);
		gate_buf_addf(out, "\"} %lu\n", st->sum.rejections.v[i].n);
	}
	prom_head(out, "git_gate_duration_seconds", "histogram", "Time a push spent in the gate.");
	for (i = 0; i <= GATE_SUMMARY_PROM_BUCKETS; i++) {
		cum += (unsigned long)st->sum.prom_hist[i];
		gate_buf_adds(out, "git_gate_duration_seconds_bucket{");
		prom_repo(out, st);
		if (i < GATE_SUMMARY_PROM_BUCKETS)
			gate_buf_addf(out, ",le=\"%g\"} %lu\n", gate_summary_prom_le[i], cum);
		else
			gate_buf_addf(out, ",le=\"+Inf\"} %lu\n", cum);
	}
	gate_buf_adds(out, "git_gate_duration_seconds_sum{");
	prom_repo(out, st);
	gate_buf_addf(out, "} %.3f\ngit_gate_duration_seconds_count{", st->sum.prom_sum);
	prom_repo(out, st);
	gate_buf_addf(out, "} %lu\n", cum);
	prom_head(out, "git_gate_last_decision_timestamp_seconds", "gauge", "When the gate last decided (Unix time).");
	gate_buf_adds(out, "git_gate_last_decision_timestamp_seconds{");
	prom_repo(out, st);
	gate_buf_addf(out, "} %.3f\n", st->sum.last_time);
	prom_head(out, "git_gate_ref_passing", "gauge",
		  "1 when the ref's last decision accepted it, 0 when it rejected one, -1 when unknown.");
	for (i = 0; i < st->nrefs; i++) {
		gate_buf_adds(out, "git_gate_ref_passing{");
		prom_repo(out, st);
		gate_buf_adds(out, ",ref=\"");
		prom_label(out, st->refs[i].name);
		gate_buf_addf(out, "\"} %d\n", st->refs[i].state == GATE_STATUS_PASSING   ? 1
					       : st->refs[i].state == GATE_STATUS_FAILING ? 0
											  : -1);
	}
	if (!st->queue_used)
		return;
	prom_head(out, "git_gate_queue_items", "gauge", "Items of the merge queue waiting or being tested, by branch.");
	for (i = 0; i < st->nqueues; i++) {
		size_t k, testing = 0;
		for (k = 0; k < st->queues[i].npending; k++)
			testing += st->queues[i].pending[k]->state == GATE_QUEUE_TESTING;
		for (c = 0; c < 2; c++) {
			gate_buf_adds(out, "git_gate_queue_items{");
			prom_repo(out, st);
			gate_buf_adds(out, ",branch=\"");
			prom_label(out, st->queues[i].branch);
			gate_buf_addf(out, "\",state=\"%s\"} %zu\n", c ? "testing" : "waiting",
				      c ? testing : st->queues[i].npending - testing);
		}
	}
	prom_head(out, "git_gate_queue_runner_active", "gauge", "1 while a merge queue runner is active.");
	gate_buf_adds(out, "git_gate_queue_runner_active{");
	prom_repo(out, st);
	gate_buf_addf(out, "} %d\n", st->queue_runner ? 1 : 0);
}

/* --- writing --------------------------------------------------------------------------- */

int gate_status_write_site(const struct gate_status *st, const char *dir, struct gate_buf *err)
{
	struct gate_buf b = GATE_BUF_INIT;
	char *path = NULL;
	int ret = -1, i, shared;
	static const char *const names[] = { "badge.json", "badge.svg", "metrics.prom", "index.html" };

	shared = st->repository ? gate_shared_perm(st->repository) : 0;
	if (gate_shared_mkdir_p(shared, dir) < 0)
		return gate_error(err, "cannot create '%s': %s", dir, strerror(errno));
	for (i = 0; i < 4; i++) {
		gate_buf_reset(&b);
		switch (i) {
		case 0:
			gate_status_badge_json(&b, st);
			break;
		case 1:
			gate_status_badge_svg(&b, st);
			break;
		case 2:
			gate_status_metrics(&b, st);
			break;
		default:
			gate_status_html(&b, st);
		}
		free(path);
		path = gate_xstrfmt("%s/%s", dir, names[i]);
		if (gate_shared_write_file(shared, path, b.ptr, b.len, 0, err) < 0)
			goto out;
	}
	ret = 0;
out:
	free(path);
	gate_buf_release(&b);
	return ret;
}

int gate_status_refresh_site(const struct gate_config *cfg, const struct gate_repo *repo, struct gate_buf *err)
{
	struct gate_status st = GATE_STATUS_INIT;
	char *dir;
	int ret;

	if (!cfg || !cfg->status_dir)
		return 0;
	dir = cfg->status_dir[0] == '/' ? gate_xstrdup(cfg->status_dir)
					 : gate_xstrfmt("%s/%s", repo->git_dir, cfg->status_dir);
	ret = gate_status_collect(&st, repo, cfg, NULL, err);
	if (ret == 0)
		ret = gate_status_write_site(&st, dir, err);
	gate_status_release(&st);
	free(dir);
	return ret;
}
