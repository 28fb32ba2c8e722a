#ifndef GATE_GLOB_H
#define GATE_GLOB_H

/*
 * Glob matching for ref names and paths.  `*` matches any run of
 * characters except '/', `**` matches across '/' (and `**` followed by a
 * slash also matches no directory at all), `?` matches one character other
 * than '/', and `[...]` a class (`[!...]` or `[^...]` negated, `a-z`
 * ranges).  A backslash quotes the next character.
 */

#define GATE_GLOB_CASEFOLD 1u

/* Whether the whole of `str` matches `pattern`. */
int gate_glob_match(const char *pattern, const char *str, unsigned flags);

/*
 * Path patterns as the content checks use them: a pattern without a '/'
 * matches the last component of the path at any depth (like .gitignore),
 * any other pattern matches the whole path from the repository root.
 */
int gate_glob_match_path(const char *pattern, const char *path, unsigned flags);

/* Whether `pattern` is well formed (no unterminated class). */
int gate_glob_valid(const char *pattern);

#endif
