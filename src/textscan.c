#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "textscan.h"

#include "banned.h"

/*
 * 16-byte vectors through GCC's vector extension (also understood by
 * clang): SSE2 on x86-64, NEON on arm64, plain code elsewhere.
 */
typedef unsigned char gate_v16 __attribute__((vector_size(16)));

static inline gate_v16 load16(const char *p)
{
	gate_v16 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline int any16(gate_v16 m)
{
	uint64_t w[2];

	memcpy(w, &m, sizeof(w));
	return (w[0] | w[1]) != 0;
}

size_t gate_text_count_newlines(const char *p, size_t n)
{
	size_t i = 0, count = 0;

	while (i + 16 <= n) {
		gate_v16 acc = { 0 };
		size_t k, lim = (n - i) / 16;
		int j;

		if (lim > 255)
			lim = 255;
		for (k = 0; k < lim; k++, i += 16)
			acc -= (gate_v16)(load16(p + i) == '\n');
		for (j = 0; j < 16; j++)
			count += acc[j];
	}
	for (; i < n; i++)
		count += p[i] == '\n';
	return count;
}

uint64_t gate_text_line_hash(const char *p, size_t n)
{
	uint64_t h = 0x243f6a8885a308d3ull ^ ((uint64_t)n * 0x9e3779b97f4a7c15ull);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, p + i, 8);
		h = (h ^ x) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	if (i < n) {
		uint64_t x = 0;
		memcpy(&x, p + i, n - i);
		h = (h ^ x) * 0xc4ceb9fe1a85ec53ull;
		h ^= h >> 29;
	}
	h *= 0x9e3779b97f4a7c15ull;
	h ^= h >> 32;
	return h;
}

void gate_text_locator_init(struct gate_text_locator *l, const char *data, size_t len)
{
	const char *nl = memchr(data, '\n', len);

	l->data = data;
	l->len = len;
	l->start = 0;
	l->end = nl ? (size_t)(nl - data) : len;
	l->line = 1;
}

long gate_text_locate(struct gate_text_locator *l, size_t q)
{
	const char *nl;

	if (q < l->start)
		gate_text_locator_init(l, l->data, l->len);
	if (q <= l->end)
		return l->line;
	/* l->end < q <= len: data[l->end] is the '\n' ending the current line */
	l->line += (long)gate_text_count_newlines(l->data + l->end, q - l->end);
	nl = memrchr(l->data + l->end, '\n', q - l->end);
	l->start = (size_t)(nl - l->data) + 1;
	nl = memchr(l->data + q, '\n', l->len - q);
	l->end = nl ? (size_t)(nl - l->data) : l->len;
	return l->line;
}

/* ---- line sets ---- */

static void lineset_put(uint64_t *v, size_t mask, uint64_t h)
{
	size_t i = (size_t)(h ^ (h >> 31)) & mask;

	while (v[i] && v[i] != h)
		i = (i + 1) & mask;
	v[i] = h;
}

void gate_text_lineset_add(struct gate_text_lineset *s, uint64_t h)
{
	size_t i;

	if (!h) {
		s->has_zero = 1;
		return;
	}
	if (gate_text_lineset_has(s, h))
		return;
	if (!s->v || (s->nr + 1) * 2 > s->mask + 1) {
		size_t size = s->v ? (s->mask + 1) * 2 : 64;
		uint64_t *nv = gate_xcalloc(size, sizeof(*nv));
		for (i = 0; s->v && i <= s->mask; i++)
			if (s->v[i])
				lineset_put(nv, size - 1, s->v[i]);
		free(s->v);
		s->v = nv;
		s->mask = size - 1;
	}
	lineset_put(s->v, s->mask, h);
	s->nr++;
}

int gate_text_lineset_has(const struct gate_text_lineset *s, uint64_t h)
{
	size_t i;

	if (!h)
		return s->has_zero;
	if (!s->v)
		return 0;
	for (i = (size_t)(h ^ (h >> 31)) & s->mask; s->v[i]; i = (i + 1) & s->mask)
		if (s->v[i] == h)
			return 1;
	return 0;
}

void gate_text_lineset_add_lines(struct gate_text_lineset *s, const char *data, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - data) : len;
		gate_text_lineset_add(s, gate_text_line_hash(data + pos, end - pos));
		pos = end + 1;
	}
}

void gate_text_lineset_release(struct gate_text_lineset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- whitespace rules ---- */

static const struct {
	const char *name;
	unsigned bits;
} ws_names[] = {
	{ "trailing-space", GATE_WS_BLANK_AT_EOL | GATE_WS_BLANK_AT_EOF },
	{ "space-before-tab", GATE_WS_SPACE_BEFORE_TAB },
	{ "indent-with-non-tab", GATE_WS_INDENT_WITH_NON_TAB },
	{ "cr-at-eol", GATE_WS_CR_AT_EOL },
	{ "blank-at-eol", GATE_WS_BLANK_AT_EOL },
	{ "blank-at-eof", GATE_WS_BLANK_AT_EOF },
	{ "tab-in-indent", GATE_WS_TAB_IN_INDENT },
};

int gate_text_parse_ws_rules(const char *s, unsigned *rules, int *tabwidth, struct gate_buf *err)
{
	unsigned r = GATE_WS_DEFAULT;
	int tw = 8;

	while (*s) {
		size_t len, i;
		int neg = 0;

		s += strspn(s, ", \t");
		len = strcspn(s, ", \t");
		if (!len)
			break;
		if (len > 9 && !strncmp(s, "tabwidth=", 9)) {
			long v = 0;
			for (i = 9; i < len && s[i] >= '0' && s[i] <= '9' && v < 1000; i++)
				v = v * 10 + (s[i] - '0');
			if (i != len || v < 1 || v > 63)
				return gate_error(err, "\"%.*s\": tabwidth must be a number from 1 to 63", (int)len, s);
			tw = (int)v;
			s += len;
			continue;
		}
		if (*s == '-') {
			neg = 1;
			s++;
			len--;
		}
		for (i = 0; i < GATE_ARRAY_SIZE(ws_names); i++)
			if (strlen(ws_names[i].name) == len && !strncmp(ws_names[i].name, s, len))
				break;
		if (i == GATE_ARRAY_SIZE(ws_names))
			return gate_error(err,
					  "unknown whitespace rule \"%.*s\" (known: trailing-space, blank-at-eol, "
					  "blank-at-eof, space-before-tab, indent-with-non-tab, tab-in-indent, "
					  "cr-at-eol, tabwidth=N)",
					  (int)len, s);
		if (neg)
			r &= ~ws_names[i].bits;
		else
			r |= ws_names[i].bits;
		s += len;
	}
	if ((r & GATE_WS_TAB_IN_INDENT) && (r & GATE_WS_INDENT_WITH_NON_TAB))
		return gate_error(err, "tab-in-indent and indent-with-non-tab cannot both be enforced");
	*rules = r;
	*tabwidth = tw;
	return 0;
}

void gate_text_describe_ws(struct gate_buf *out, unsigned e)
{
	const char *sep = "";

	if (e & GATE_WS_BLANK_AT_EOL) {
		gate_buf_addf(out, "%strailing whitespace", sep);
		sep = ", ";
	}
	if (e & GATE_WS_BLANK_AT_EOF) {
		gate_buf_addf(out, "%snew blank line at EOF", sep);
		sep = ", ";
	}
	if (e & GATE_WS_SPACE_BEFORE_TAB) {
		gate_buf_addf(out, "%sspace before tab in indent", sep);
		sep = ", ";
	}
	if (e & GATE_WS_INDENT_WITH_NON_TAB) {
		gate_buf_addf(out, "%sindent with spaces", sep);
		sep = ", ";
	}
	if (e & GATE_WS_TAB_IN_INDENT)
		gate_buf_addf(out, "%stab in indent", sep);
}

/* ---- the hygiene scan ---- */

static inline int git_isspace(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* git's ws_check_emit_1 on one line (without its '\n'), reporting only. */
static unsigned line_ws_errors(const char *line, size_t len, unsigned rule, int tabwidth)
{
	unsigned result = 0;
	size_t i, written = 0, trailing = len;

	if ((rule & GATE_WS_CR_AT_EOL) && len && line[len - 1] == '\r')
		len--, trailing = len;
	if (rule & GATE_WS_BLANK_AT_EOL) {
		for (i = len; i > 0 && git_isspace((unsigned char)line[i - 1]); i--)
			;
		if (i < len) {
			result |= GATE_WS_BLANK_AT_EOL;
			trailing = i;
		}
	}
	for (i = 0; i < trailing; i++) {
		if (line[i] == ' ')
			continue;
		if (line[i] != '\t')
			break;
		if ((rule & GATE_WS_SPACE_BEFORE_TAB) && written < i)
			result |= GATE_WS_SPACE_BEFORE_TAB;
		else if (rule & GATE_WS_TAB_IN_INDENT)
			result |= GATE_WS_TAB_IN_INDENT;
		written = i + 1;
	}
	if ((rule & GATE_WS_INDENT_WITH_NON_TAB) && i - written >= (size_t)tabwidth)
		result |= GATE_WS_INDENT_WITH_NON_TAB;
	return result;
}

/* git's is_conflict_marker; `len` excludes the '\n' (the end of the text counts as whitespace). */
static char conflict_marker(const char *line, size_t len, int size)
{
	char c;
	int i;

	if (len < (size_t)size || (c = line[0]) == 0 || !strchr("<=>|", c))
		return 0;
	for (i = 1; i < size; i++)
		if (line[i] != c)
			return 0;
	if (len > (size_t)size && !git_isspace((unsigned char)line[size]))
		return 0;
	return c;
}

struct hygiene_scan {
	const struct gate_text_hygiene *o;
	const char *data;
	size_t len;
	struct gate_text_locator loc;
	long last_line; /* the last line examined */
	struct gate_text_issues *out;
	size_t max;
	int angle;      /* a '<' or '>' marker was seen */
};

/* Look at the line holding offset q, once. */
static void examine(struct hygiene_scan *h, size_t q)
{
	struct gate_text_locator *l = &h->loc;
	const char *line;
	size_t n;
	unsigned ws = 0;
	char marker = 0;
	long no = gate_text_locate(l, q);

	if (no == h->last_line)
		return;
	h->last_line = no;
	line = h->data + l->start;
	n = l->end - l->start;
	if (h->o->conflict_markers)
		marker = conflict_marker(line, n, h->o->marker_size);
	if (h->o->ws)
		ws = line_ws_errors(line, n, h->o->ws, h->o->tabwidth);
	if (!marker && !ws)
		return;
	if (marker == '<' || marker == '>')
		h->angle = 1;
	if (h->max && h->out->nr >= h->max) {
		h->out->truncated = 1;
		return;
	}
	GATE_ALLOC_GROW(h->out->v, h->out->nr + 1, h->out->alloc);
	h->out->v[h->out->nr].line = no;
	h->out->v[h->out->nr].hash = gate_text_line_hash(line, n);
	h->out->v[h->out->nr].ws = ws;
	h->out->v[h->out->nr].marker = marker;
	h->out->nr++;
}

/* Offsets (relative to p) where something may start: bit k of the result's lane k. */
static inline gate_v16 candidates(const char *p, const struct gate_text_hygiene *o, unsigned ws)
{
	gate_v16 a = load16(p), b = load16(p + 1);
	gate_v16 nl_a = (gate_v16)(a == '\n');
	gate_v16 m = { 0 };

	if (o->conflict_markers)
		m = nl_a & (gate_v16)((b == '<') | (b == '=') | (b == '>') | (b == '|'));
	if (ws & GATE_WS_BLANK_AT_EOL)
		m |= (gate_v16)(b == '\n') & (gate_v16)((a == ' ') | (a == '\t') | (a == '\r'));
	if (ws & GATE_WS_SPACE_BEFORE_TAB)
		m |= (gate_v16)((a == ' ') & (b == '\t'));
	if (ws & GATE_WS_TAB_IN_INDENT)
		m |= (gate_v16)((b == '\t') & ((a == ' ') | (a == '\n') | (a == '\t')));
	if (ws & GATE_WS_INDENT_WITH_NON_TAB)
		m |= (gate_v16)(b == ' ') & (nl_a | (gate_v16)(a == '\t'));
	return m;
}

void gate_text_hygiene_scan(const struct gate_text_hygiene *o, const char *data, size_t len,
			    struct gate_text_issues *out, size_t max)
{
	struct hygiene_scan h;
	unsigned ws = o->ws;
	size_t i = 0, k, keep;

	memset(&h, 0, sizeof(h));
	h.o = o;
	h.data = data;
	h.len = len;
	h.out = out;
	h.max = max;
	gate_text_locator_init(&h.loc, data, len);
	out->nr = 0;
	out->truncated = 0;
	out->lines = 0;
	out->blank_at_eof = 0;
	if (!len)
		return;
	/* the first line has no '\n' before it */
	examine(&h, 0);
	if (o->conflict_markers || ws) {
		for (; i + 17 <= len; i += 16) {
			gate_v16 m = candidates(data + i, o, ws);

			if (!any16(m))
				continue;
			/* lane k is the pair (i+k, i+k+1): look at the line holding i+k+1 */
			for (k = 0; k < 16; k++)
				if (m[k])
					examine(&h, i + k + 1);
		}
		for (; i + 1 < len; i++) {
			unsigned char a = (unsigned char)data[i], b = (unsigned char)data[i + 1];
			if ((a == '\n' && strchr("<=>| ", b) && b) || b == '\n' || b == '\t')
				examine(&h, i + 1);
		}
		/* the last line, which may have no '\n' */
		examine(&h, len - 1);
	}
	if (o->ws & GATE_WS_BLANK_AT_EOF) {
		/* whitespace-only lines at the end, the last one with or without its '\n' */
		size_t end = len - (data[len - 1] == '\n'), start;
		long blank = 0;
		for (;;) {
			const char *nl = memrchr(data, '\n', end);
			start = nl ? (size_t)(nl - data) + 1 : 0;
			for (k = start; k < end && git_isspace((unsigned char)data[k]); k++)
				;
			if (k < end)
				break;
			blank++;
			if (!start)
				break;
			end = start - 1;
		}
		out->blank_at_eof = blank;
		/* where they start is only said when there are some: not a count of every text's lines */
		if (blank)
			out->lines = (long)gate_text_count_newlines(data, len) + (data[len - 1] != '\n');
	}
	/* '=' and '|' marker lines count only next to '<' or '>' ones */
	if (!h.angle) {
		for (i = 0, keep = 0; i < out->nr; i++) {
			struct gate_text_issue *is = &out->v[i];
			if (is->marker == '=' || is->marker == '|') {
				is->marker = 0;
				if (!is->ws)
					continue;
			}
			out->v[keep++] = *is;
		}
		out->nr = keep;
	}
}

void gate_text_issues_release(struct gate_text_issues *is)
{
	free(is->v);
	memset(is, 0, sizeof(*is));
}
