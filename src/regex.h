#ifndef GATE_REGEX_H
#define GATE_REGEX_H

/*
 * Every user-written pattern is a PCRE2 regular expression, compiled once
 * when the policy loads (with JIT where available) and matched against
 * pushed bytes without ever being interpreted by a shell.
 */

#include <stddef.h>

struct gate_buf;

struct gate_regex {
	char *pattern;
	void *code;  /* pcre2_code * */
	void *mdata; /* pcre2_match_data *, for single-threaded callers */
};

#define GATE_REGEX_CASELESS 1u
#define GATE_REGEX_MULTILINE 2u

/*
 * Compile `pattern`.  On error returns -1 and puts "PATTERN: what (at
 * offset N)" in err.
 */
int gate_regex_compile(struct gate_regex *re, const char *pattern, unsigned flags, struct gate_buf *err);
void gate_regex_release(struct gate_regex *re);

/* 1 on a match, 0 on none, -1 on a matching error (e.g. a limit hit). */
int gate_regex_match(const struct gate_regex *re, const char *subject, size_t len);
/*
 * Like gate_regex_match, and reports the first match's span; `mdata` comes
 * from gate_regex_mdata_new so that threads do not share one.
 */
int gate_regex_search(const struct gate_regex *re, void *mdata, const char *subject, size_t len,
		      size_t start, size_t *mstart, size_t *mend);
void *gate_regex_mdata_new(const struct gate_regex *re);
/*
 * The message for a match that could not finish (PCRE2 gave up, e.g. on
 * its match limit): what happened and what the policy's admin can do.
 * Returns -1, for `return gate_regex_fail(err, re);`.
 */
int gate_regex_fail(struct gate_buf *err, const struct gate_regex *re);
void gate_regex_mdata_free(void *mdata);

#endif
