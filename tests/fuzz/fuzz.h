#ifndef GATE_FUZZ_H
#define GATE_FUZZ_H

/*
 * What every fuzz target (tests/fuzz/fuzz-*.c) includes: the libFuzzer
 * entry point, a way to cut one input into several fields, and the
 * invariants the targets check on what git-gate writes out.  A broken
 * invariant aborts, which libFuzzer reports as a crash and the corpus
 * replay (replay.c) as a failed test.
 *
 * Everything here is static: each target is one program.
 */

#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "diag.h"
#include "policy.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The checkers of what git-gate wrote out (UTF-8, dangerous characters,
 * JSON) are left out of libFuzzer's coverage instrumentation: their
 * branches tell the fuzzer nothing about the code under test, and
 * tracing their comparisons took about half of each input's time in the
 * report and audit targets.
 */
#if defined(__clang__)
#define FUZZ_ORACLE __attribute__((no_sanitize("coverage")))
#else
#define FUZZ_ORACLE
#endif

#define FUZZ_ASSERT(cond)                                                                                  \
	do {                                                                                               \
		if (!(cond)) {                                                                             \
			fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                           \
		}                                                                                          \
	} while (0)

/* A policy the target needs, loaded once; an invalid one is the target's bug. */
static inline struct gate_config *fuzz_policy(struct gate_config **cfg, const char *text)
{
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_buf msgs = GATE_BUF_INIT;

	if (*cfg)
		return *cfg;
	if (gate_policy_load_string(cfg, text, "fuzz.conf", &diag) < 0) {
		gate_diag_format(&diag, &msgs);
		fprintf(stderr, "the target's policy does not load:\n%s", gate_buf_cstr(&msgs));
		abort();
	}
	gate_diag_release(&diag);
	return *cfg;
}

/*
 * Cut an input into fields at NUL bytes: fuzz_field() returns the next
 * field as a NUL-terminated copy (empty once the input is used up).
 * Every copy is freed by fuzz_fields_release().
 */
struct fuzz_fields {
	const uint8_t *p, *end;
	char *copies[32];
	size_t ncopies;
	size_t last_len; /* length of the field last returned */
};

static inline void fuzz_fields_init(struct fuzz_fields *f, const uint8_t *data, size_t size)
{
	memset(f, 0, sizeof(*f));
	f->p = data;
	f->end = data + size;
}

static inline const char *fuzz_field(struct fuzz_fields *f)
{
	const uint8_t *nul = f->p < f->end ? memchr(f->p, '\0', (size_t)(f->end - f->p)) : NULL;
	size_t n = nul ? (size_t)(nul - f->p) : (size_t)(f->end - f->p);
	char *s;

	if (f->ncopies == sizeof(f->copies) / sizeof(f->copies[0]))
		return "";
	s = malloc(n + 1);
	if (!s)
		abort();
	if (n)
		memcpy(s, f->p, n);
	s[n] = '\0';
	f->p += n + (nul ? 1 : 0);
	f->copies[f->ncopies++] = s;
	f->last_len = n;
	return s;
}

static inline void fuzz_fields_release(struct fuzz_fields *f)
{
	size_t i;

	for (i = 0; i < f->ncopies; i++)
		free(f->copies[i]);
	f->ncopies = 0;
}

/*
 * The code point of the valid UTF-8 sequence at s (its length in *n), or
 * -1: a decoder written apart from git-gate's own, strict about overlong
 * forms, surrogates and values past U+10FFFF.
 */
FUZZ_ORACLE static inline long fuzz_utf8(const unsigned char *s, size_t len, size_t *n)
{
	unsigned long cp, min;
	size_t need, i;

	if (s[0] < 0x80) {
		*n = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0)
		need = 2, cp = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		need = 3, cp = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		need = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return -1;
	if (len < need)
		return -1;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*n = need;
	return (long)cp;
}

/*
 * Characters that act on a terminal or make a line read differently: C0,
 * DEL and C1 controls, the bidirectional marks (ALM, LRM, RLM),
 * embeddings, overrides and isolates, and the line and paragraph
 * separators.
 */
FUZZ_ORACLE static inline int fuzz_is_dangerous(long cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * The invariant on everything written for a terminal or a log: valid
 * UTF-8 and no control character (C0, DEL, C1) or bidirectional control,
 * except the bytes in `allowed` (e.g. "\n" for text of several lines).
 */
FUZZ_ORACLE static inline void fuzz_assert_safe_text(const char *s, size_t len, const char *allowed)
{
	size_t i = 0, n;

	while (i < len) {
		long cp = fuzz_utf8((const unsigned char *)s + i, len - i, &n);

		FUZZ_ASSERT(cp >= 0);
		if (cp > 0 && cp < 0x80 && allowed && strchr(allowed, (int)cp)) {
			i++;
			continue;
		}
		FUZZ_ASSERT(!fuzz_is_dangerous(cp));
		i += n;
	}
}

/* How a check's hooks are called outside a scan (run->scan NULL). */
static inline void fuzz_check_run_init(struct gate_check_run *run, const struct gate_check_def *def,
				       struct gate_buf *err)
{
	memset(run, 0, sizeof(*run));
	run->def = def;
	run->data = def->data;
	run->pusher = "fuzz";
	run->err = err;
}

/* Every string of every finding, as the report shows it, is safe text. */
FUZZ_ORACLE static inline void fuzz_assert_findings_safe(const struct gate_findings *out)
{
	struct gate_buf shown = GATE_BUF_INIT;
	size_t i;

	for (i = 0; i < out->nr; i++) {
		const struct gate_finding *fi = &out->v[i];
		const char *parts[] = { fi->message, fi->subject, fi->path, fi->hint, fi->detail };
		size_t k;

		FUZZ_ASSERT(fi->message);
		for (k = 0; k < sizeof(parts) / sizeof(parts[0]); k++) {
			if (!parts[k])
				continue;
			gate_buf_reset(&shown);
			gate_buf_add_safes(&shown, parts[k]);
			fuzz_assert_safe_text(gate_buf_cstr(&shown), shown.len, NULL);
		}
	}
	gate_buf_release(&shown);
}

/*
 * A strict JSON validator (RFC 8259): one value, optionally surrounded
 * by whitespace; strings in valid UTF-8 with only the escapes the RFC
 * lists and no raw control character; \u surrogates in pairs; numbers in
 * the RFC's grammar; nesting bounded.  Returns the end of the value or
 * NULL when the text is not JSON.
 */
struct fuzz_json {
	const char *p, *end;
	int depth;
};

FUZZ_ORACLE static inline const char *fuzz_json_value(struct fuzz_json *j);

FUZZ_ORACLE static inline void fuzz_json_ws(struct fuzz_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

FUZZ_ORACLE static inline int fuzz_json_hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;
	int i;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

FUZZ_ORACLE static inline const char *fuzz_json_string(struct fuzz_json *j)
{
	if (j->p >= j->end || *j->p != '"')
		return NULL;
	j->p++;
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p;
		size_t n;

		if (c == '"')
			return ++j->p;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			unsigned u, lo;
			if (j->end - j->p < 2)
				return NULL;
			switch (j->p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				j->p += 2;
				continue;
			case 'u':
				if (fuzz_json_hex4(j->p + 2, j->end, &u) < 0)
					return NULL;
				j->p += 6;
				if (u >= 0xdc00 && u <= 0xdfff)
					return NULL; /* a lone low surrogate */
				if (u >= 0xd800 && u <= 0xdbff) {
					if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
					    fuzz_json_hex4(j->p + 2, j->end, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
						return NULL;
					j->p += 6;
				}
				continue;
			default:
				return NULL;
			}
		}
		if (fuzz_utf8((const unsigned char *)j->p, (size_t)(j->end - j->p), &n) < 0)
			return NULL;
		j->p += n;
	}
	return NULL;
}

FUZZ_ORACLE static inline int fuzz_json_digits(struct fuzz_json *j)
{
	const char *s = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s ? 0 : -1;
}

FUZZ_ORACLE static inline const char *fuzz_json_number(struct fuzz_json *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (fuzz_json_digits(j) < 0)
		return NULL;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (fuzz_json_digits(j) < 0)
			return NULL;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (fuzz_json_digits(j) < 0)
			return NULL;
	}
	return j->p;
}

FUZZ_ORACLE static inline const char *fuzz_json_literal(struct fuzz_json *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n))
		return NULL;
	return j->p += n;
}

/* An object or an array: `close` is '}' or ']'. */
FUZZ_ORACLE static inline const char *fuzz_json_container(struct fuzz_json *j, char close)
{
	if (++j->depth > 64)
		return NULL;
	j->p++;
	fuzz_json_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->depth--;
		return ++j->p;
	}
	for (;;) {
		if (close == '}') {
			if (!fuzz_json_string(j))
				return NULL;
			fuzz_json_ws(j);
			if (j->p >= j->end || *j->p != ':')
				return NULL;
			j->p++;
			fuzz_json_ws(j);
		}
		if (!fuzz_json_value(j))
			return NULL;
		fuzz_json_ws(j);
		if (j->p >= j->end)
			return NULL;
		if (*j->p == close) {
			j->depth--;
			return ++j->p;
		}
		if (*j->p != ',')
			return NULL;
		j->p++;
		fuzz_json_ws(j);
	}
}

FUZZ_ORACLE static inline const char *fuzz_json_value(struct fuzz_json *j)
{
	if (j->p >= j->end)
		return NULL;
	switch (*j->p) {
	case '{':
		return fuzz_json_container(j, '}');
	case '[':
		return fuzz_json_container(j, ']');
	case '"':
		return fuzz_json_string(j);
	case 't':
		return fuzz_json_literal(j, "true");
	case 'f':
		return fuzz_json_literal(j, "false");
	case 'n':
		return fuzz_json_literal(j, "null");
	default:
		return fuzz_json_number(j);
	}
}

/* Whether `s` (len bytes) is exactly one JSON value, whitespace around it allowed. */
FUZZ_ORACLE static inline int fuzz_json_valid(const char *s, size_t len)
{
	struct fuzz_json j = { s, s + len, 0 };

	fuzz_json_ws(&j);
	if (!fuzz_json_value(&j))
		return 0;
	fuzz_json_ws(&j);
	return j.p == j.end;
}

#endif
