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
 * Whether str[j] can stand where one pattern character (literal, '?' or a
 * class) is: the pattern's token ends at *next.  A bad class matches
 * nothing.
 */
static int match_one(const char *p, const char **next, unsigned char c, unsigned flags)
{
	int ok = 0;

	switch (*p) {
	case '?':
		*next = p + 1;
		return c != '/';
	case '[':
		*next = match_class(p + 1, c, flags, &ok);
		if (!*next) {
			*next = p + strlen(p);
			return 0;
		}
		return ok && c != '/';
	case '\\':
		if (p[1])
			p++;
		/* fall through */
	default:
		*next = p + 1;
		return fold((unsigned char)*p, flags) == fold(c, flags);
	}
}

/*
 * The whole of `str` against `p`, one pattern token at a time over every
 * string position at once: cur[j] says whether the pattern so far matches
 * the first j bytes.  Time is the pattern's length times the string's,
 * whatever the stars (backtracking took time exponential in them, and a
 * path is pushed data); memory is two rows.
 */
static int match(const char *p, const char *str, unsigned flags)
{
	size_t n = strlen(str), j;
	unsigned char *cur = gate_xcalloc(n + 1, 2), *next = cur + n + 1, *t;
	int any = 1, ret;

	cur[0] = 1;
	while (*p && any) {
		any = 0;
		if (p[0] == '*' && p[1] == '*' && p[2] == '/') {
			/* "**" + "/": no directory at all, or any run ending in a slash */
			int seen = 0;
			for (j = 0; j <= n; j++) {
				next[j] = cur[j] || (j && seen && str[j - 1] == '/');
				seen |= cur[j];
			}
			p += 3;
		} else if (p[0] == '*' && p[1] == '*') {
			/* any run, across slashes */
			int seen = 0;
			for (j = 0; j <= n; j++)
				next[j] = (unsigned char)(seen |= cur[j]);
			p += 2;
		} else if (p[0] == '*') {
			/* any run within one component */
			for (j = 0; j <= n; j++)
				next[j] = cur[j] || (j && next[j - 1] && str[j - 1] != '/');
			p += 1;
		} else {
			const char *after;
			(void)match_one(p, &after, 'a', flags); /* where the token ends */
			next[0] = 0;
			for (j = 0; j < n; j++)
				next[j + 1] = cur[j] && match_one(p, &after, (unsigned char)str[j], flags);
			p = after;
		}
		for (j = 0; j <= n; j++)
			any |= next[j];
		t = cur, cur = next, next = t;
	}
	ret = any && !*p && cur[n];
	free(cur < next ? cur : next);
	return ret;
}

int gate_glob_match(const char *pattern, const char *str, unsigned flags)
{
	return match(pattern, str, flags);
}

int gate_glob_match_path(const char *pattern, const char *path, unsigned flags)
{
	const char *base;

	if (*pattern == '/')
		return match(pattern + 1, path, flags);
	if (strchr(pattern, '/'))
		return match(pattern, path, flags);
	base = strrchr(path, '/');
	return match(pattern, base ? base + 1 : path, flags);
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
