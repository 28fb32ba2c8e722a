#include "config.h"
#include "glob.h"

#include <ctype.h>
#include <string.h>

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

static int match(const char *p, const char *s, unsigned flags)
{
	while (*p) {
		switch (*p) {
		case '*':
			if (p[1] == '*') {
				const char *rest = p + 2;
				/* "**" + "/" may also match zero directories */
				if (*rest == '/') {
					if (match(rest + 1, s, flags))
						return 1;
				}
				if (!*rest)
					return 1;
				for (; *s; s++)
					if (match(rest, s, flags))
						return 1;
				return match(rest, s, flags);
			}
			p++;
			for (;;) {
				if (match(p, s, flags))
					return 1;
				if (!*s || *s == '/')
					return 0;
				s++;
			}
		case '?':
			if (!*s || *s == '/')
				return 0;
			p++;
			s++;
			break;
		case '[': {
			int m = 0;
			const char *end;

			if (!*s || *s == '/')
				return 0;
			end = match_class(p + 1, (unsigned char)*s, flags, &m);
			if (!end)
				return 0;
			if (!m)
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
