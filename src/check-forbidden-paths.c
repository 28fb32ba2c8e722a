#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "glob.h"
#include "policy.h"

#include "banned.h"

/*
 * forbidden-paths: paths that must never be added or changed, such as
 * private keys and dependency directories.  Each commit's added,
 * modified and type-changed paths are matched against glob patterns
 * (a pattern without '/' matches the last component at any depth);
 * deleting such a path is always fine.  `allow` lists exceptions.
 */

struct fp_check {
	struct gate_strvec patterns;
	struct gate_strvec allow;
	unsigned flags; /* GATE_GLOB_CASEFOLD */
};

static void fp_free(void *data)
{
	struct fp_check *m = data;

	if (!m)
		return;
	gate_strvec_clear(&m->patterns);
	gate_strvec_clear(&m->allow);
	free(m);
}

static int fp_parse(void **data, struct gate_conf_group *g)
{
	struct fp_check *m = gate_xcalloc(1, sizeof(*m));
	int bad = 0, casefold = 0, r;

	/* no short-circuits: every key must be looked at to be known */
	r = gate_conf_globs(g, "patterns", &m->patterns);
	bad |= r < 0;
	if (r == 0 || (r > 0 && !m->patterns.nr)) {
		gate_conf_error(g, r ? "patterns" : NULL,
				"forbidden-paths needs patterns, e.g. patterns = [ \"*.pem\", \"**/id_rsa\" ];");
		bad = 1;
	}
	bad |= gate_conf_globs(g, "allow", &m->allow) < 0;
	bad |= gate_conf_bool(g, "case_insensitive", &casefold) < 0;
	m->flags = casefold ? GATE_GLOB_CASEFOLD : 0;
	if (bad) {
		fp_free(m);
		return -1;
	}
	*data = m;
	return 0;
}

static int fp_change(const struct gate_check_run *run, const struct gate_commit *c, const struct gate_change *ch,
		     struct gate_findings *out)
{
	const struct fp_check *m = run->data;
	size_t i;

	if (ch->kind == GATE_CHANGE_DELETE)
		return 0;
	for (i = 0; i < m->patterns.nr; i++) {
		size_t k;

		if (!gate_glob_match_path(m->patterns.v[i], ch->path, m->flags))
			continue;
		for (k = 0; k < m->allow.nr; k++)
			if (gate_glob_match_path(m->allow.v[k], ch->path, m->flags))
				return 0;
		gate_findings_add(out, c, ch->path, 0,
				  "take it out of every commit that adds or changes it, not only the last one: it "
				  "stays in the history otherwise (git rm --cached, then git commit --amend or git "
				  "rebase -i; git filter-repo --invert-paths --path PATH for long histories); if it "
				  "held a credential, revoke it",
				  "path matches the forbidden pattern '%s' (%s)", m->patterns.v[i],
				  ch->kind == GATE_CHANGE_ADD ? "added" : "changed");
		return 0;
	}
	return 0;
}

const struct gate_check_type gate_check_forbidden_paths = {
	.name = "forbidden-paths",
	.summary = "no added or changed path matching forbidden globs (keys, .env, node_modules)",
	.parse = fp_parse,
	.free = fp_free,
	.change = fp_change,
};
