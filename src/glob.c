#include "config.h"
#include "glob.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#include "banned.h"

static int fold(int c, unsigned flags)
{
	return (flags & GATE_GLOB_CASEFOLD) ? tolower(c) : c;
}

/* Match a class at p (just after '['); returns the end or NULL if bad. */
static const char *match_class(const char *p, int c, unsigned flags, int *matched)
{
	int negate = 0, ok = 0, first = 1;

	if (*p == '!' || *p == '^') {
		negate = 1;
		p++;
	}
	while (*p && (first || *p != ']')) {
		int lo = (unsigned char)*p, hi;

		first = 0;
		if (lo == '\\' && p[1])
			lo = (unsigned char)*++p;
		p++;
		hi = lo;
		if (*p == '-' && p[1] && p[1] != ']') {
			p++;
			hi = (unsigned char)*p;
			if (hi == '\\' && p[1])
				hi = (unsigned char)*++p;
			p++;
		}
		if (fold(c, flags) >= fold(lo, flags) && fold(c, flags) <= fold(hi, flags))
			ok = 1;
		else if (c >= lo && c <= hi)
			ok = 1;
	}
	if (*p != ']')
		return NULL;
	*matched = ok != negate;
	return p + 1;
}

/*
 * One match in progress.  Backtracking over several stars can take time
 * exponential in their number ("*a*a*a*a*b" against a long run of 'a's, a
 * pattern from the policy and a path from the pusher); once a match has
 * taken more than a few steps, every (pattern, string) position found not
 * to match is remembered, so that no position is tried twice and the cost
 * stays polynomial in the lengths.
 */
struct matcher {
	const char *pattern, *str;
	size_t plen, slen;
	unsigned flags;
	unsigned long steps;
	unsigned char *failed; /* a bit per (pattern, string) position, once needed */
	unsigned char *star_failed; /* a bit per (star, string) position whose star loop failed */
};

#define MEMO_AFTER 4096 /* steps before positions are remembered */

static size_t memo_bit(const struct matcher *m, const char *p, const char *s)
{
	return (size_t)(p - m->pattern) * (m->slen + 1) + (size_t)(s - m->str);
}

static int match(struct matcher *m, const char *p, const char *s);

/* match() remembering the positions that do not match */
static int match_at(struct matcher *m, const char *p, const char *s)
{
	size_t bit;

	if (!m->failed && ++m->steps > MEMO_AFTER) {
		m->failed = gate_xcalloc((m->plen + 1) * (m->slen + 1) / 8 + 1, 1);
		m->star_failed = gate_xcalloc((m->plen + 1) * (m->slen + 1) / 8 + 1, 1);
	}
	if (!m->failed)
		return match(m, p, s);
	bit = memo_bit(m, p, s);
	if (m->failed[bit / 8] & (1u << (bit % 8)))
		return 0;
	if (match(m, p, s))
		return 1;
	m->failed[bit / 8] |= (unsigned char)(1u << (bit % 8));
	return 0;
}

static int star_failed_at(const struct matcher *m, const char *star, const char *s)
{
	size_t bit = memo_bit(m, star, s);

	return m->star_failed && (m->star_failed[bit / 8] & (1u << (bit % 8)));
}

/*
 * The star at `star` followed by `rest`, from `s` on: `rest` tried at
 * every position the star can reach (within one component when
 * `one_component`).  Once positions are remembered, a star loop that
 * failed from some position fails from every later one (it tries a
 * subset), so each (star, position) is walked once: the cost stays in
 * proportion to pattern times string.  These marks are kept apart from
 * match_at()'s: "**" followed by "/" may also match no folder, which the
 * loop alone does not try.
 */
static int star_rest(struct matcher *m, const char *star, const char *rest, const char *s, int one_component)
{
	const char *from = s;

	for (;;) {
		if (star_failed_at(m, star, s))
			break;
		if (match_at(m, rest, s))
			return 1;
		if (!*s || (one_component && *s == '/'))
			break;
		s++;
	}
	if (m->star_failed) {
		const char *q;
		for (q = from; q <= s; q++) {
			size_t bit = memo_bit(m, star, q);
			m->star_failed[bit / 8] |= (unsigned char)(1u << (bit % 8));
		}
	}
	return 0;
}

static int match(struct matcher *m, const char *p, const char *s)
{
	unsigned flags = m->flags;

	while (*p) {
		switch (*p) {
		case '*':
			if (p[1] == '*') {
				const char *rest = p + 2;
				/* "**" + "/" may also match zero directories */
				if (*rest == '/') {
					if (match_at(m, rest + 1, s))
						return 1;
				}
				if (!*rest)
					return 1;
				return star_rest(m, p, rest, s, 0);
			}
			return star_rest(m, p, p + 1, s, 1);
		case '?':
			if (!*s || *s == '/')
				return 0;
			p++;
			s++;
			break;
		case '[': {
			int ok = 0;
			const char *end;

			if (!*s || *s == '/')
				return 0;
			end = match_class(p + 1, (unsigned char)*s, flags, &ok);
			if (!end)
				return 0;
			if (!ok)
				return 0;
			p = end;
			s++;
			break;
		}
		case '\\':
			if (p[1])
				p++;
			/* fall through */
		default:
			if (fold((unsigned char)*p, flags) != fold((unsigned char)*s, flags))
				return 0;
			p++;
			s++;
		}
	}
	return *s == '\0';
}

static int match_whole(const char *pattern, const char *str, unsigned flags)
{
	struct matcher m;
	int ret;

	memset(&m, 0, sizeof(m));
	m.pattern = pattern;
	m.str = str;
	m.plen = strlen(pattern);
	m.slen = strlen(str);
	m.flags = flags;
	ret = match_at(&m, pattern, str);
	free(m.failed);
	free(m.star_failed);
	return ret;
}

int gate_glob_match(const char *pattern, const char *str, unsigned flags)
{
	return match_whole(pattern, str, flags);
}

int gate_glob_match_path(const char *pattern, const char *path, unsigned flags)
{
	const char *base;

	if (*pattern == '/')
		return match_whole(pattern + 1, path, flags);
	if (strchr(pattern, '/'))
		return match_whole(pattern, path, flags);
	base = strrchr(path, '/');
	return match_whole(pattern, base ? base + 1 : path, flags);
}

int gate_glob_valid(const char *pattern)
{
	const char *p = pattern;

	while (*p) {
		if (*p == '\\') {
			if (!p[1])
				return 0;
			p += 2;
		} else if (*p == '[') {
			int m;
			p = match_class(p + 1, 'a', 0, &m);
			if (!p)
				return 0;
		} else {
			p++;
		}
	}
	return 1;
}
