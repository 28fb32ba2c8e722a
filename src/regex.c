#include "config.h"
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "regex.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

int gate_regex_compile(struct gate_regex *re, const char *pattern, unsigned flags, struct gate_buf *err)
{
	uint32_t opts = 0;
	int code;
	PCRE2_SIZE off;
	pcre2_code *c;

	memset(re, 0, sizeof(*re));
	if (flags & GATE_REGEX_CASELESS)
		opts |= PCRE2_CASELESS;
	if (flags & GATE_REGEX_MULTILINE)
		opts |= PCRE2_MULTILINE;
	c = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
	if (!c) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		return gate_error(err, "bad pattern \"%s\": %s (at offset %zu)", pattern, (const char *)msg,
				  (size_t)off);
	}
	/* JIT is an optimisation: if the platform lacks it we interpret. */
	pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
	re->code = c;
	re->pattern = gate_xstrdup(pattern);
	re->mdata = pcre2_match_data_create_from_pattern(c, NULL);
	return 0;
}

void gate_regex_release(struct gate_regex *re)
{
	if (re->mdata)
		pcre2_match_data_free(re->mdata);
	if (re->code)
		pcre2_code_free(re->code);
	free(re->pattern);
	memset(re, 0, sizeof(*re));
}

void *gate_regex_mdata_new(const struct gate_regex *re)
{
	return pcre2_match_data_create_from_pattern(re->code, NULL);
}

void gate_regex_mdata_free(void *mdata)
{
	if (mdata)
		pcre2_match_data_free(mdata);
}

int gate_regex_search(const struct gate_regex *re, void *mdata, const char *subject, size_t len,
		      size_t start, size_t *mstart, size_t *mend)
{
	int rc;

	/*
	 * Pushed content is not guaranteed to be UTF-8 and the patterns are
	 * compiled without PCRE2_UTF, so any byte sequence is a valid subject.
	 */
	rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, start, 0, mdata, NULL);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0)
		return -1;
	if (mstart || mend) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(mdata);
		if (mstart)
			*mstart = ov[0];
		if (mend)
			*mend = ov[1];
	}
	return 1;
}

int gate_regex_fail(struct gate_buf *err, const struct gate_regex *re)
{
	return gate_error(err,
			  "pattern \"%s\" could not be matched: PCRE2 gave up on this input (match or depth "
			  "limit); the policy's admin must simplify it, e.g. avoid nested quantifiers like (a+)+",
			  re->pattern);
}

int gate_regex_match(const struct gate_regex *re, const char *subject, size_t len)
{
	return gate_regex_search(re, re->mdata, subject, len, 0, NULL, NULL);
}
