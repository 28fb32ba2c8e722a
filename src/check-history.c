#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "check-logic.h"
#include "check.h"
#include "policy.h"

#include "banned.h"

/*
 * history: the shape of what a push adds.  No merge commits (linear),
 * no octopus merges beyond max_parents, at most max_commits new commits
 * per ref update, and no fixup!/squash!/amend! commits that were meant to
 * be squashed before pushing.
 */

struct hist_check {
	int linear;
	long long max_parents; /* 0: no limit */
	long long max_commits; /* 0: no limit */
	int no_fixup;
};

static void hist_free(void *data)
{
	free(data);
}

static int hist_parse(void **data, struct gate_conf_group *g)
{
	struct hist_check *m = gate_xcalloc(1, sizeof(*m));
	int bad = 0;

	m->no_fixup = 1;
	/* no short-circuits: every key must be looked at to be known */
	bad |= gate_conf_bool(g, "linear", &m->linear) < 0;
	bad |= gate_conf_int(g, "max_parents", &m->max_parents) < 0;
	bad |= gate_conf_int(g, "max_commits", &m->max_commits) < 0;
	bad |= gate_conf_bool(g, "no_fixup", &m->no_fixup) < 0;
	if (m->max_parents < 0 || m->max_commits < 0) {
		gate_conf_error(g, NULL, "max_parents and max_commits must not be negative");
		bad = 1;
	}
	if (bad) {
		free(m);
		return -1;
	}
	*data = m;
	return 0;
}

const char *gate_history_autosquash_prefix(const char *subject)
{
	static const char *const prefixes[] = { "fixup!", "squash!", "amend!" };
	size_t i;

	if (!subject)
		return NULL;
	for (i = 0; i < GATE_ARRAY_SIZE(prefixes); i++)
		if (!strncmp(subject, prefixes[i], strlen(prefixes[i])))
			return prefixes[i];
	return NULL;
}

static int hist_commit(const struct gate_check_run *run, const struct gate_commit *c, struct gate_findings *out)
{
	const struct hist_check *m = run->data;
	const char *prefix;

	if (m->linear && c->nparents > 1)
		gate_findings_add(out, c, NULL, 0,
				  "rebase instead of merging (git rebase UPSTREAM, or git pull --rebase) so that the "
				  "history stays linear",
				  "merge commit (%zu parents): this branch takes a linear history only", c->nparents);
	else if (m->max_parents && c->nparents > (size_t)m->max_parents)
		gate_findings_add(out, c, NULL, 0,
				  "merge the branches one at a time, or rebase them (git rebase)",
				  "commit has %zu parents, more than the %lld allowed", c->nparents, m->max_parents);
	if (m->no_fixup && (prefix = gate_history_autosquash_prefix(c->subject)))
		gate_findings_add(out, c, NULL, 0,
				  "squash it into the commit it fixes before pushing: git rebase -i --autosquash BASE",
				  "commit subject starts with '%s': it was meant to be squashed", prefix);
	return 0;
}

static int hist_job(const struct gate_check_run *run, const struct gate_job *job, struct gate_findings *out)
{
	const struct hist_check *m = run->data;

	if (!m->max_commits || job->ncommits <= (size_t)m->max_commits)
		return 0;
	gate_findings_add(out, NULL, NULL, 0,
			  "push in parts of at most the allowed size (git push origin COMMIT:REF for an older "
			  "commit first), or squash the series; an admin can exempt a one-off import",
			  "the push brings %zu new commits to '%s', more than the %lld allowed", job->ncommits,
			  job->ref, m->max_commits);
	return 0;
}

const struct gate_check_type gate_check_history = {
	.name = "history",
	.summary = "linear history, commits per push, no fixup!/squash! commits",
	.parse = hist_parse,
	.free = hist_free,
	.commit = hist_commit,
	.job = hist_job,
};
