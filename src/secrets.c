#include "config.h"
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "regex.h"
#include "secrets.h"
#include "sha256.h"
#include "textscan.h"

#include "banned.h"

/*
 * The prefilter.  Every keyword is case-folded by OR-ing 0x20 into each
 * byte (which lowercases ASCII letters; other bytes may collide, which only
 * costs a verification).  Keywords may hold byte classes ("[0-9]",
 * "[^a-z0-9_]"); a keyword is then a sequence of sets of folded bytes.
 *
 * The content is probed every STRIDE bytes: the three folded bytes there
 * are hashed to 17 bits and looked up in a table of 128 Ki one-byte flags
 * (bytes rather than bits: testing a byte is much cheaper than extracting
 * a bit, and the few cache lines in use stay close).  For every keyword, the set holds STRIDE consecutive
 * three-byte "anchors" taken from it, so that whichever way an occurrence
 * falls on the probing grid, exactly one probe lands on one of its
 * anchors.  Which STRIDE anchors a keyword contributes is chosen to make
 * them rare in ordinary text (by a table of byte frequencies in source
 * code), since a probe that hits costs a lookup and a comparison.  Only a
 * verified keyword makes its rules' patterns run.
 *
 * STRIDE is 2, or 1 when a keyword is shorter than 4 bytes; probing every
 * other position is what lets the scan run at several GB/s.
 */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ANCHOR_MASK 0xffffff00u
#else
#define ANCHOR_MASK 0x00ffffffu
#endif

#define FILTER_BITS 17
#define BUCKET_SHIFT 5
#define NBUCKETS (1u << (FILTER_BITS - BUCKET_SHIFT))
#define MAX_STRIDE 2
/* Most anchors one keyword may expand to (classes multiply). */
#define MAX_KEYWORD_ANCHORS 4096

/*
 * Where a rule's match may start around a keyword: on a long (minified)
 * line, from WINDOW_BEFORE bytes before it to WINDOW_AFTER after.  A JSON
 * Web Token's keyword (".eyJ") comes after its whole first part.
 */
#define WINDOW_BEFORE 4096
#define WINDOW_AFTER 4096
/* How far past the keyword's line a multi-line rule (private key blocks) may reach. */
#define MULTILINE_BYTES (64 * 1024)

struct rule {
	char *id;
	char *description;
	struct gate_regex re;
	double min_entropy;
	unsigned flags;
	int has_group; /* the pattern has a capture group: group 1 is the secret */
	int keywords;  /* how many keywords lead to it */
};

struct keyword {
	char *text;            /* as written, for dedup */
	size_t len;            /* in positions */
	uint64_t (*set)[4];    /* per position: the folded bytes it accepts */
	unsigned *rules;
	size_t nrules;
};

struct anchor {
	uint32_t value; /* three folded bytes, as loaded by fold3() */
	uint32_t hash;
	unsigned kw;
	unsigned offset; /* where the anchor sits in the keyword */
};

struct gate_secrets {
	struct rule *rules;
	size_t nrules, alloc;
	struct keyword *kws;
	size_t nkws, kwalloc;
	unsigned *scan_all; /* rules without keywords */
	size_t nscan_all;
	struct anchor *anchors; /* sorted by hash */
	size_t nanchors, anchor_alloc;
	unsigned stride;
	uint32_t bucket[NBUCKETS + 1];
	unsigned char *filter;  /* 1 << FILTER_BITS flags */
	int compiled;
};

/*
 * How often each folded byte occurs in source code and text, in parts per
 * 65536 (measured over a mix of C, shell, Perl, AsciiDoc and translation
 * files); unused values (bit 0x20 clear) are 0.
 */
static const uint16_t byte_freq[256] = {
	[0x20] = 7061, 68, 1036, 266, 128, 169, 332, 267, 657, 2606, 2654, 81, 579, 889, 503, 292,
	152, 185, 104, 59, 60, 47, 45, 38, 41, 36, 338, 491, 89, 349, 269, 18,
	[0x60] = 50, 2617, 799, 2028, 1636, 4700, 1285, 1117, 1102, 3092, 122, 362, 1618, 1420, 2551, 2545,
	1253, 64, 2942, 3081, 4127, 1330, 356, 340, 284, 351, 84, 219, 197, 218, 21, 1447,
	[0xa0] = 74, 52, 49, 24, 49, 28, 19, 29, 55, 33, 28, 26, 30, 42, 22, 48,
	78, 21, 27, 22, 41, 64, 31, 32, 67, 23, 70, 54, 75, 60, 53, 34,
	[0xe0] = 1, 15, 24, 63, 58, 121, 93, 64, 46, 26, 1, 1, 1, 1, 1, 17,
	291, 93, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static inline uint32_t fold3(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return (v | 0x20202020u) & ANCHOR_MASK;
}

static inline uint32_t anchor_hash(uint32_t v)
{
	return (v * 0x9e3779b1u) >> (32 - FILTER_BITS);
}

struct gate_secrets *gate_secrets_new(void)
{
	return gate_xcalloc(1, sizeof(struct gate_secrets));
}

void gate_secrets_free(struct gate_secrets *set)
{
	size_t i;

	if (!set)
		return;
	for (i = 0; i < set->nrules; i++) {
		free(set->rules[i].id);
		free(set->rules[i].description);
		gate_regex_release(&set->rules[i].re);
	}
	free(set->rules);
	for (i = 0; i < set->nkws; i++) {
		free(set->kws[i].text);
		free(set->kws[i].set);
		free(set->kws[i].rules);
	}
	free(set->kws);
	free(set->scan_all);
	free(set->anchors);
	free(set->filter);
	free(set);
}

size_t gate_secrets_nrules(const struct gate_secrets *set)
{
	return set->nrules;
}

const char *gate_secrets_rule_id(const struct gate_secrets *set, unsigned rule)
{
	return rule < set->nrules ? set->rules[rule].id : NULL;
}

const char *gate_secrets_rule_description(const struct gate_secrets *set, unsigned rule)
{
	return rule < set->nrules ? set->rules[rule].description : NULL;
}

static inline int set_has(const uint64_t set[4], unsigned char c)
{
	return (set[c >> 6] >> (c & 63)) & 1;
}

static inline void set_add(uint64_t set[4], unsigned char c)
{
	c |= 0x20;
	set[c >> 6] |= 1ull << (c & 63);
}

static unsigned set_count(const uint64_t set[4])
{
	unsigned n = 0, i;

	for (i = 0; i < 256; i++)
		n += set_has(set, (unsigned char)i);
	return n;
}

/*
 * Parse a keyword: bytes matched without regard to ASCII case, "[...]" a
 * class (ranges "a-z", "^" first to negate), "\" quotes the next byte.
 * Fills k->set and k->len; -1 on a malformed class.
 */
static int parse_keyword(struct keyword *k, const char *w)
{
	size_t n = strlen(w), i = 0;

	k->set = gate_xcalloc(n + 1, sizeof(*k->set));
	k->len = 0;
	while (w[i]) {
		uint64_t *set = k->set[k->len++];
		if (w[i] == '\\' && w[i + 1]) {
			set_add(set, (unsigned char)w[i + 1]);
			i += 2;
		} else if (w[i] == '[') {
			uint64_t cls[4] = { 0, 0, 0, 0 };
			int neg = w[i + 1] == '^';
			unsigned c;
			for (i += 1 + neg; w[i] && w[i] != ']'; i++) {
				unsigned char lo = (unsigned char)w[i], hi = lo;
				if (lo == '\\' && w[i + 1])
					lo = hi = (unsigned char)w[++i];
				else if (w[i + 1] == '-' && w[i + 2] && w[i + 2] != ']') {
					hi = (unsigned char)w[i + 2];
					i += 2;
				}
				if (hi < lo)
					return -1;
				for (c = lo; c <= hi; c++)
					set_add(cls, (unsigned char)c);
			}
			if (w[i] != ']')
				return -1;
			i++;
			for (c = 0; c < 256; c++)
				if ((c & 0x20) && set_has(cls, (unsigned char)c) != neg)
					set_add(set, (unsigned char)c);
			if (!set_count(set))
				return -1;
		} else {
			set_add(set, (unsigned char)w[i++]);
		}
	}
	return 0;
}

static int add_keyword(struct gate_secrets *set, const char *word, unsigned rule, struct gate_buf *err)
{
	struct keyword *k = NULL;
	size_t i;

	for (i = 0; i < set->nkws; i++)
		if (!strcmp(set->kws[i].text, word))
			k = &set->kws[i];
	if (!k) {
		struct keyword nk;
		memset(&nk, 0, sizeof(nk));
		int bad = parse_keyword(&nk, word) < 0;
		if (bad || nk.len < 3) {
			free(nk.set);
			return gate_error(err, "keyword \"%s\" is %s", word,
					  bad ? "not well formed" : "shorter than 3 characters");
		}
		nk.text = gate_xstrdup(word);
		GATE_ALLOC_GROW(set->kws, set->nkws + 1, set->kwalloc);
		set->kws[set->nkws] = nk;
		k = &set->kws[set->nkws++];
	}
	for (i = 0; i < k->nrules; i++)
		if (k->rules[i] == rule)
			return 0;
	k->rules = gate_xrealloc(k->rules, (k->nrules + 1) * sizeof(*k->rules));
	k->rules[k->nrules++] = rule;
	return 0;
}

/*
 * Like gate_regex_compile, with PCRE2_USE_OFFSET_LIMIT: a search for a
 * rule may only find matches that start on the keyword's line, even when
 * the pattern may continue over the following lines, and must not go
 * looking for starts further on (a file of a million "BEGIN" lines would
 * otherwise cost a million searches of the next 200 lines).
 */
static int compile_pattern(struct gate_regex *re, const char *pattern, struct gate_buf *err)
{
	PCRE2_SIZE off;
	pcre2_code *c;
	int code;

	memset(re, 0, sizeof(*re));
	c = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_USE_OFFSET_LIMIT, &code, &off, NULL);
	if (!c) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		return gate_error(err, "bad pattern \"%s\": %s (at offset %zu)", pattern, (const char *)msg,
				  (size_t)off);
	}
	pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
	re->code = c;
	re->pattern = gate_xstrdup(pattern);
	return 0;
}

int gate_secrets_add(struct gate_secrets *set, const struct gate_secret_rule *r, struct gate_buf *err)
{
	struct rule *nr;
	uint32_t ncap = 0;
	size_t i;

	if (set->compiled)
		return gate_error(err, "rules added after the set was compiled");
	for (i = 0; i < set->nrules; i++)
		if (!strcmp(set->rules[i].id, r->id))
			return gate_error(err, "rule '%s' is defined twice", r->id);
	GATE_ALLOC_GROW(set->rules, set->nrules + 1, set->alloc);
	nr = &set->rules[set->nrules];
	memset(nr, 0, sizeof(*nr));
	if (compile_pattern(&nr->re, r->regex, err) < 0)
		return -1;
	for (i = 0; r->keywords && r->keywords[i]; i++) {
		if (add_keyword(set, r->keywords[i], (unsigned)set->nrules, err) < 0) {
			gate_regex_release(&nr->re);
			return -1;
		}
		nr->keywords++;
	}
	pcre2_pattern_info(nr->re.code, PCRE2_INFO_CAPTURECOUNT, &ncap);
	nr->has_group = ncap > 0;
	nr->id = gate_xstrdup(r->id);
	nr->description = gate_xstrdup(r->description ? r->description : r->id);
	nr->min_entropy = r->min_entropy;
	nr->flags = r->flags;
	set->nrules++;
	return 0;
}

const struct gate_secret_rule *gate_secret_builtin(const char *id)
{
	size_t i;

	for (i = 0; gate_secret_builtin_rules[i].id; i++)
		if (!strcmp(gate_secret_builtin_rules[i].id, id))
			return &gate_secret_builtin_rules[i];
	return NULL;
}

int gate_secrets_add_builtins(struct gate_secrets *set, const struct gate_strvec *disabled, struct gate_buf *err)
{
	size_t i;

	for (i = 0; disabled && i < disabled->nr; i++)
		if (!gate_secret_builtin(disabled->v[i]))
			return gate_error(err, "no built-in rule is called '%s'", disabled->v[i]);
	for (i = 0; gate_secret_builtin_rules[i].id; i++) {
		if (disabled && gate_strvec_contains(disabled, gate_secret_builtin_rules[i].id))
			continue;
		if (gate_secrets_add(set, &gate_secret_builtin_rules[i], err) < 0)
			return -1;
	}
	return 0;
}

static int anchor_cmp(const void *a, const void *b)
{
	const struct anchor *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->kw != y->kw)
		return x->kw < y->kw ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* How often a position's bytes occur in ordinary text, and how many bytes it accepts. */
static void position_stats(const struct keyword *k, double *p, unsigned *n)
{
	size_t i;
	unsigned c;

	for (i = 0; i < k->len; i++) {
		p[i] = 0;
		n[i] = 0;
		for (c = 0; c < 256; c++)
			if (set_has(k->set[i], (unsigned char)c)) {
				p[i] += (byte_freq[c] ? byte_freq[c] : 1) / 65536.0;
				n[i]++;
			}
	}
}

/* Expected share of positions where the anchors at o..o+stride+1 occur; -1 when too many. */
static double window_cost(const double *p, const unsigned *n, size_t o, unsigned stride)
{
	double cost = 0;
	unsigned j, count = 0;

	for (j = 0; j < stride; j++) {
		count += n[o + j] * n[o + j + 1] * n[o + j + 2];
		cost += p[o + j] * p[o + j + 1] * p[o + j + 2];
	}
	return count > MAX_KEYWORD_ANCHORS ? -1 : cost;
}

static void add_anchor(struct gate_secrets *set, const unsigned char b[3], unsigned kw, unsigned offset)
{
	unsigned char tmp[4] = { b[0], b[1], b[2], 0 };
	struct anchor *a;

	GATE_ALLOC_GROW(set->anchors, set->nanchors + 1, set->anchor_alloc);
	a = &set->anchors[set->nanchors++];
	memcpy(&a->value, tmp, 4);
	a->value &= ANCHOR_MASK;
	a->hash = anchor_hash(a->value);
	a->kw = kw;
	a->offset = offset;
	set->filter[a->hash] = 1;
}

int gate_secrets_compile(struct gate_secrets *set, struct gate_buf *err)
{
	size_t i, b;

	if (set->compiled)
		return 0;
	set->filter = gate_xcalloc((size_t)1 << FILTER_BITS, 1);
	set->stride = MAX_STRIDE;
	for (i = 0; i < set->nkws; i++)
		if (set->kws[i].len < set->stride + 2)
			set->stride = (unsigned)set->kws[i].len - 2;
	for (i = 0; i < set->nkws; i++) {
		const struct keyword *k = &set->kws[i];
		size_t o, best = 0;
		double best_cost = -1, *p = gate_xcalloc(k->len, sizeof(*p));
		unsigned j, c0, c1, c2, *n = gate_xcalloc(k->len, sizeof(*n));

		position_stats(k, p, n);
		for (o = 0; o + set->stride + 2 <= k->len; o++) {
			double c = window_cost(p, n, o, set->stride);
			if (c >= 0 && (best_cost < 0 || c < best_cost)) {
				best_cost = c;
				best = o;
			}
		}
		free(p);
		free(n);
		if (best_cost < 0)
			return gate_error(err, "keyword \"%s\" has classes too wide to index", k->text);
		for (j = 0; j < set->stride; j++)
			for (c0 = 0; c0 < 256; c0++)
				if (set_has(k->set[best + j], (unsigned char)c0))
					for (c1 = 0; c1 < 256; c1++)
						if (set_has(k->set[best + j + 1], (unsigned char)c1))
							for (c2 = 0; c2 < 256; c2++)
								if (set_has(k->set[best + j + 2], (unsigned char)c2)) {
									unsigned char t[3] = { (unsigned char)c0,
											       (unsigned char)c1,
											       (unsigned char)c2 };
									add_anchor(set, t, (unsigned)i,
										   (unsigned)(best + j));
								}
	}
	qsort(set->anchors, set->nanchors, sizeof(*set->anchors), anchor_cmp);
	for (b = 0, i = 0; b <= NBUCKETS; b++) {
		while (i < set->nanchors && (set->anchors[i].hash >> BUCKET_SHIFT) < b)
			i++;
		set->bucket[b] = (uint32_t)i;
	}
	set->scan_all = gate_xcalloc(set->nrules + 1, sizeof(*set->scan_all));
	for (i = 0; i < set->nrules; i++)
		if (!set->rules[i].keywords)
			set->scan_all[set->nscan_all++] = (unsigned)i;
	set->compiled = 1;
	return 0;
}

/* ---- entropy, placeholders, fingerprints ---- */

/* log2 of x >= 1 without libm: exponent plus a short atanh series. */
static double log2_pos(double x)
{
	uint64_t bits;
	double m, y, y2, ln;
	int e;

	memcpy(&bits, &x, sizeof(bits));
	e = (int)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
	memcpy(&m, &bits, sizeof(m));
	if (m > 1.4142135623730951) {
		m /= 2;
		e++;
	}
	y = (m - 1) / (m + 1);
	y2 = y * y;
	ln = 2 * y *
	     (1 + y2 * (1.0 / 3 + y2 * (1.0 / 5 + y2 * (1.0 / 7 + y2 * (1.0 / 9 + y2 * (1.0 / 11 + y2 / 13))))));
	return e + ln * 1.4426950408889634;
}

double gate_secret_entropy(const char *s, size_t len)
{
	size_t counts[256], i;
	double sum = 0;

	if (!len)
		return 0;
	memset(counts, 0, sizeof(counts));
	for (i = 0; i < len; i++)
		counts[(unsigned char)s[i]]++;
	for (i = 0; i < 256; i++)
		if (counts[i] > 1)
			sum += (double)counts[i] * log2_pos((double)counts[i]);
	return log2_pos((double)len) - sum / (double)len;
}

static int contains_ci(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word), i, j;

	for (i = 0; i + n <= len; i++) {
		for (j = 0; j < n; j++) {
			unsigned char c = (unsigned char)s[i + j];
			if (c >= 'A' && c <= 'Z')
				c += 'a' - 'A';
			if (c != (unsigned char)word[j])
				break;
		}
		if (j == n)
			return 1;
	}
	return 0;
}

int gate_secret_is_placeholder(const char *s, size_t len)
{
	static const char *const words[] = {
		"example", "sample", "dummy", "placeholder", "changeme", "change_me", "change-me", "redacted",
		"replace", "your_", "your-", "xxxxx", "*****", ".....", "12345678", "abcdefgh", "fake", NULL,
	};
	size_t i;

	for (i = 0; words[i]; i++)
		if (contains_ci(s, len, words[i]))
			return 1;
	for (i = 1; i < len && s[i] == s[0]; i++)
		;
	return len && i == len;
}

static int is_ident_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
}

/*
 * Values of `key = value` assignments that are code or configuration
 * rather than secrets: variable references and templates, URLs, paths,
 * identifiers and member accesses (self.token, cfg->api_key2).
 */
static int is_not_a_value(const char *s, size_t len)
{
	size_t i;
	int other = 0, seg_digit_only = 1;

	if (!len)
		return 1;
	if (strchr("$%@&*#/~!", s[0]) || (s[0] == '.' && len > 1 && (s[1] == '/' || s[1] == '.')))
		return 1;
	if (contains_ci(s, len, "://") || contains_ci(s, len, "{{") || contains_ci(s, len, "${"))
		return 1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_ident_char(c) && c != '.' && c != '-' && c != ':' && c != '>')
			other = 1;
	}
	if (other)
		return 0;
	/* no digit at all: a word or an identifier */
	for (i = 0; i < len; i++)
		if (s[i] >= '0' && s[i] <= '9')
			break;
	if (i == len)
		return 1;
	/* identifiers joined by '.', '->' or '::', each starting with a letter */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.' || c == '-' || c == ':' || c == '>') {
			seg_digit_only = 1;
			continue;
		}
		if (seg_digit_only && (i == 0 || !is_ident_char((unsigned char)s[i - 1]))) {
			if (c >= '0' && c <= '9')
				return 0; /* a segment starts with a digit: not an identifier */
			seg_digit_only = 0;
		}
	}
	return memchr(s, '.', len) || contains_ci(s, len, "->") || contains_ci(s, len, "::");
}

void gate_secret_fingerprint(char out[GATE_SECRET_FINGERPRINT_LEN + 1], const char *rule_id, const char *path,
			     const char *secret, size_t secret_len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[GATE_SHA256_LEN];
	struct gate_sha256 c;
	int i;

	gate_sha256_init(&c);
	gate_sha256_update(&c, rule_id, strlen(rule_id));
	gate_sha256_update(&c, ":", 1);
	gate_sha256_update(&c, path, strlen(path));
	gate_sha256_update(&c, ":", 1);
	gate_sha256_update(&c, secret, secret_len);
	gate_sha256_final(&c, d);
	for (i = 0; i < GATE_SECRET_FINGERPRINT_LEN / 2; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[GATE_SECRET_FINGERPRINT_LEN] = '\0';
}

/* ---- scanning ---- */

struct cover {
	size_t line;  /* start of the line + 1, 0: none */
	size_t until; /* starts before this offset were tried */
};

struct scan {
	const struct gate_secrets *set;
	const char *data;
	size_t len;
	struct gate_text_locator loc;
	struct cover *cover;  /* per rule: where match starts were tried already */
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	struct gate_secret_hits *hits;
	size_t first;        /* hits of this scan start here */
	size_t max;          /* keep at most this many (0: all) */
	struct gate_buf *err;
};

/*
 * A value that is a file path (Makefile prerequisites, lists of files):
 * lowercase path characters with a '/', ending in an extension or with
 * several directories.  Keys and tokens in base64 mix letter cases.
 */
static int is_path_value(const char *s, size_t len)
{
	size_t i, slashes = 0, dot = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/') {
			if (!i || s[i - 1] == '/')
				return 0;
			slashes++;
		} else if (c == '.') {
			dot = i + 1;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
			return 0;
		}
	}
	if (!slashes)
		return 0;
	return slashes >= 2 || (dot > 0 && dot < len && len - dot <= 5 && !memchr(s + dot, '/', len - dot));
}

/*
 * A "key: value" whose key is a file path, as in a Makefile rule
 * (dir/git-credential-helper: dir/helper.o) or a list of paths: the
 * token holding the key word has a '/' before it, and the assignment is
 * a colon.  data[mstart..vstart) is the key and the assignment.
 */
static int is_path_key(const char *data, size_t mstart, size_t vstart)
{
	size_t i = mstart, n = 0;

	if (memchr(data + mstart, '=', vstart - mstart))
		return 0;
	while (i > 0 && n < 256) {
		unsigned char c = (unsigned char)data[i - 1];
		if (c == ' ' || c == '\t' || c == '\n' || c == '"' || c == '\'' || c == '`')
			break;
		if (c == '/')
			return 1;
		i--;
		n++;
	}
	return 0;
}

static void add_hit(struct scan *sc, unsigned rule, long line, size_t mstart, size_t start, size_t end)
{
	const struct rule *r = &sc->set->rules[rule];
	const char *secret = sc->data + start;
	size_t len = end - start;
	struct gate_secret_hit *h;

	if (!len)
		return;
	if (r->min_entropy > 0 && gate_secret_entropy(secret, len) < r->min_entropy)
		return;
	if ((r->flags & GATE_SECRET_PLACEHOLDERS) && gate_secret_is_placeholder(secret, len))
		return;
	if ((r->flags & GATE_SECRET_ASSIGNMENT) &&
	    (is_not_a_value(secret, len) || is_path_value(secret, len) || is_path_key(sc->data, mstart, start)))
		return;
	if (sc->max && sc->hits->nr - sc->first >= sc->max) {
		sc->hits->truncated = 1;
		return;
	}
	GATE_ALLOC_GROW(sc->hits->v, sc->hits->nr + 1, sc->hits->alloc);
	h = &sc->hits->v[sc->hits->nr++];
	h->rule = rule;
	h->line = line;
	h->start = start;
	h->end = end;
	h->secret = gate_xstrndup(secret, len);
	h->secret_len = len;
}

/*
 * Search rule `ri` in data[ws..we); matches must start before `limit`.
 * `line`: the line number of ws, or 0 to compute each match's line.
 */
static int search(struct scan *sc, unsigned ri, size_t ws, size_t we, size_t limit, long line,
		  struct gate_text_locator *loc)
{
	const struct rule *r = &sc->set->rules[ri];
	size_t start = ws;

	if (!sc->md) {
		sc->md = pcre2_match_data_create(16, NULL);
		sc->mctx = pcre2_match_context_create(NULL);
	}
	pcre2_set_offset_limit(sc->mctx, limit > we ? PCRE2_UNSET : limit - 1);
	while (start <= we && start < limit) {
		PCRE2_SIZE *ov;
		size_t s, e;
		int rc = pcre2_match(r->re.code, (PCRE2_SPTR)sc->data, we, start, 0, sc->md, sc->mctx);

		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) {
			PCRE2_UCHAR msg[128];
			pcre2_get_error_message(rc, msg, sizeof(msg));
			return gate_error(sc->err,
					  "matching rule '%s' failed: %s; if it is a pattern from the policy, its admin "
					  "must simplify it (e.g. avoid nested quantifiers like (a+)+) or disable it",
					  r->id, (const char *)msg);
		}
		ov = pcre2_get_ovector_pointer(sc->md);
		if (ov[0] >= limit)
			break;
		s = ov[0];
		e = ov[1];
		if (r->has_group && rc > 1 && ov[2] != PCRE2_UNSET) {
			s = ov[2];
			e = ov[3];
		}
		add_hit(sc, ri, line ? line : gate_text_locate(loc, ov[0]), ov[0], s, e);
		start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
	}
	return 0;
}

/*
 * Keyword `kw` occurs at `at` (-1: its first position matched the
 * virtual newline before the content): run its rules around it, on the
 * line of the keyword's last byte.  Each rule tries each start offset of
 * a line at most once, however many keywords the line holds, and never
 * starts a match on another line; matches may run to the end of the line
 * (multi-line rules: up to MULTILINE_BYTES further).  So the work stays
 * linear in the size of the content, whatever it holds.
 */
static int keyword_hit(struct scan *sc, const struct keyword *kw, ptrdiff_t at)
{
	struct gate_text_locator *loc = &sc->loc;
	size_t i, q = (size_t)(at + (ptrdiff_t)kw->len - 1);

	gate_text_locate(loc, q);
	for (i = 0; i < kw->nrules; i++) {
		unsigned ri = kw->rules[i];
		const struct rule *r = &sc->set->rules[ri];
		struct cover *cv = &sc->cover[ri];
		size_t lo = q - loc->start > WINDOW_BEFORE ? q - WINDOW_BEFORE : loc->start;
		size_t hi = loc->end - q > WINDOW_AFTER ? q + WINDOW_AFTER : loc->end;
		size_t we = loc->end;

		if (cv->line == loc->start + 1 && cv->until > lo)
			lo = cv->until;
		if (lo > hi)
			continue;
		cv->line = loc->start + 1;
		cv->until = hi + 1;
		if (r->flags & GATE_SECRET_MULTILINE)
			we = sc->len - loc->end > MULTILINE_BYTES ? loc->end + MULTILINE_BYTES : sc->len;
		if (search(sc, ri, lo, we, hi + 1, loc->line, NULL) < 0)
			return -1;
	}
	return 0;
}

/* The probe at `i` hit the filter: find the keywords whose anchor it is. */
static int check_candidate(struct scan *sc, size_t i, uint32_t v, uint32_t h)
{
	const struct gate_secrets *set = sc->set;
	const unsigned char *p = (const unsigned char *)sc->data;
	uint32_t a;

	if (sc->hits->truncated)
		return 0; /* enough found: the rest is not kept */
	for (a = set->bucket[h >> BUCKET_SHIFT]; a < set->bucket[(h >> BUCKET_SHIFT) + 1]; a++) {
		const struct anchor *an = &set->anchors[a];
		const struct keyword *kw;
		ptrdiff_t start;
		size_t j = 0;

		if (an->value != v)
			continue;
		kw = &set->kws[an->kw];
		start = (ptrdiff_t)i - (ptrdiff_t)an->offset;
		if (start < -1 || start + (ptrdiff_t)kw->len > (ptrdiff_t)sc->len)
			continue;
		if (start == -1) {
			if (!set_has(kw->set[0], '\n' | 0x20))
				continue;
			j = 1;
		}
		for (; j < kw->len; j++)
			if (!set_has(kw->set[j], p[start + (ptrdiff_t)j] | 0x20))
				break;
		if (j == kw->len && keyword_hit(sc, kw, start) < 0)
			return -1;
	}
	return 0;
}

static int prefilter(struct scan *sc)
{
	const struct gate_secrets *set = sc->set;
	const unsigned char *p = (const unsigned char *)sc->data;
	const unsigned char *filter = set->filter;
	const size_t s = set->stride;
	size_t len = sc->len, i = 0;

#define PROBE(k)                                                                              \
	do {                                                                                  \
		uint32_t v_ = fold3(p + i + (k)*s), h_ = anchor_hash(v_);                     \
		if (filter[h_])                                                               \
			if (check_candidate(sc, i + (k)*s, v_, h_) < 0)                       \
				return -1;                                                    \
	} while (0)

	if (!set->nanchors)
		return 0;
	for (; i + 4 * s + 4 <= len; i += 4 * s) {
		uint32_t v0 = fold3(p + i), v1 = fold3(p + i + s), v2 = fold3(p + i + 2 * s),
			 v3 = fold3(p + i + 3 * s);
		uint32_t h0 = anchor_hash(v0), h1 = anchor_hash(v1), h2 = anchor_hash(v2), h3 = anchor_hash(v3);
		if (!(filter[h0] | filter[h1] | filter[h2] | filter[h3]))
			continue;
		PROBE(0);
		PROBE(1);
		PROBE(2);
		PROBE(3);
	}
#undef PROBE
	/* the tail, through a zero-padded copy so that fold3 never reads past the end */
	if (i + 3 <= len) {
		unsigned char tail[4 * MAX_STRIDE + 8];
		size_t base = i;
		memset(tail, 0, sizeof(tail));
		memcpy(tail, p + base, len - base);
		for (; i + 3 <= len; i += s) {
			uint32_t v = fold3(tail + (i - base)), h = anchor_hash(v);
			if (filter[h] && check_candidate(sc, i, v, h) < 0)
				return -1;
		}
	}
	return 0;
}

static int hit_cmp(const void *a, const void *b)
{
	const struct gate_secret_hit *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	return 0;
}

/* Sort this scan's hits by position; where two rules' secrets overlap keep the earlier rule. */
static void settle(struct gate_secret_hits *hits, size_t first)
{
	size_t i, out = first;

	if (hits->nr - first < 2)
		return;
	qsort(hits->v + first, hits->nr - first, sizeof(*hits->v), hit_cmp);
	for (i = first; i < hits->nr; i++) {
		struct gate_secret_hit *h = &hits->v[i];
		if (out > first && h->start < hits->v[out - 1].end) {
			struct gate_secret_hit *k = &hits->v[out - 1];
			if (h->rule < k->rule) {
				free(k->secret);
				*k = *h;
			} else {
				free(h->secret);
			}
			continue;
		}
		hits->v[out++] = *h;
	}
	hits->nr = out;
}

int gate_secrets_scan(const struct gate_secrets *set, const char *data, size_t len, size_t max,
		      struct gate_secret_hits *hits, struct gate_buf *err)
{
	struct scan sc;
	size_t i;
	int ret = 0;

	if (!set->compiled)
		return gate_error(err, "secret rules used before being compiled");
	memset(&sc, 0, sizeof(sc));
	sc.set = set;
	sc.data = data;
	sc.len = len;
	sc.hits = hits;
	sc.first = hits->nr;
	sc.max = max;
	sc.err = err;
	sc.cover = gate_xcalloc(set->nrules + 1, sizeof(*sc.cover));
	gate_text_locator_init(&sc.loc, data, len);
	ret = prefilter(&sc);
	for (i = 0; !ret && i < set->nscan_all; i++) {
		struct gate_text_locator loc;
		gate_text_locator_init(&loc, data, len);
		ret = search(&sc, set->scan_all[i], 0, len, len + 1, 0, &loc);
	}
	if (sc.md)
		pcre2_match_data_free(sc.md);
	if (sc.mctx)
		pcre2_match_context_free(sc.mctx);
	free(sc.cover);
	if (ret < 0) {
		while (hits->nr > sc.first)
			free(hits->v[--hits->nr].secret);
		return -1;
	}
	settle(hits, sc.first);
	return 0;
}

void gate_secret_hits_release(struct gate_secret_hits *hits)
{
	size_t i;

	for (i = 0; i < hits->nr; i++)
		free(hits->v[i].secret);
	free(hits->v);
	hits->v = NULL;
	hits->nr = hits->alloc = 0;
	hits->truncated = 0;
}
