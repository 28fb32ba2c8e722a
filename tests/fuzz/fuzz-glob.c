/*
 * Fuzz the glob matcher (src/glob.c): a pattern and a string, as rules and
 * path checks use them.  Input: PATTERN NUL STRING (no NUL: the input is
 * both).  Beyond "no crash, no hang": a valid pattern without
 * metacharacters matches exactly itself, matching ignoring case matches
 * at least what matching with case does (but for negated classes), and a
 * pattern with a '/' inside matches the path from the root.
 */
#include "fuzz.h"

#include "glob.h"

#include "banned.h"

static int has_meta(const char *p)
{
	return strpbrk(p, "*?[\\") != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fields f;
	const char *pattern, *str;
	int valid, m, mi, mp, mpi;

	fuzz_fields_init(&f, data, size);
	pattern = fuzz_field(&f);
	str = f.p < f.end ? fuzz_field(&f) : pattern;

	valid = gate_glob_valid(pattern);
	m = gate_glob_match(pattern, str, 0);
	mi = gate_glob_match(pattern, str, GATE_GLOB_CASEFOLD);
	mp = gate_glob_match_path(pattern, str, 0);
	mpi = gate_glob_match_path(pattern, str, GATE_GLOB_CASEFOLD);
	FUZZ_ASSERT(m == 0 || m == 1);
	FUZZ_ASSERT(mp == 0 || mp == 1);
	/* ignoring case widens every match but a negated class */
	if (m && !strstr(pattern, "[!") && !strstr(pattern, "[^"))
		FUZZ_ASSERT(mi);
	if (mp && !strstr(pattern, "[!") && !strstr(pattern, "[^"))
		FUZZ_ASSERT(mpi);
	if (valid && !has_meta(pattern)) {
		FUZZ_ASSERT(m == !strcmp(pattern, str));
		FUZZ_ASSERT(gate_glob_match(pattern, pattern, 0));
	}
	/* a pattern with a '/' inside is matched against the whole path */
	if (pattern[0] != '/' && strchr(pattern, '/'))
		FUZZ_ASSERT(mp == m);
	fuzz_fields_release(&f);
	return 0;
}
