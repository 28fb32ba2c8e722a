#include "config.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"
#include "policy.h"
#include "repo.h"
#include "scan.h"
#include "workspace.h"

#include "banned.h"

/*
 * ci-status: the push passes only when the team's CI (Jenkins, GitLab CI,
 * Buildbot...) has recorded a pass for the commit under test, as a git
 * note in `notes_ref` whose first line is one of `pass`.  The CI side:
 *
 *   make check && git notes --ref=ci add -f -m pass "$COMMIT" &&
 *   git push origin refs/notes/ci
 *
 * With match_tree = true a note on the commit's tree also counts
 * (git notes --ref=ci add -m pass "$COMMIT^{tree}"), so that a rebase
 * that ends on the same tree needs no new CI run.  Notes are read as the
 * repository holds them before the push: a note pushed together with
 * the commit it vouches for does not count.
 */

struct ci_check {
	char *notes_ref;
	struct gate_strvec pass;
	int each;
	int match_tree;
};

static void ci_free(void *data)
{
	struct ci_check *c = data;

	if (!c)
		return;
	free(c->notes_ref);
	gate_strvec_clear(&c->pass);
	free(c);
}

static int ci_parse(void **data, struct gate_conf_group *g)
{
	struct ci_check *c = gate_xcalloc(1, sizeof(*c));
	const char *ref = NULL;
	size_t i;
	int bad = 0, r;

	/* no short-circuits: every key must be looked at to be known */
	r = gate_conf_string(g, "notes_ref", &ref);
	bad |= r < 0;
	if (r > 0 && gate_conf_full_ref(g, "notes_ref", ref, "refs/notes/", "refs/notes/") < 0)
		bad = 1;
	bad |= gate_conf_strings(g, "pass", &c->pass) < 0;
	for (i = 0; i < c->pass.nr; i++)
		if (!*c->pass.v[i] || strchr(c->pass.v[i], '\n')) {
			gate_conf_error(g, "pass", "\"%s\" must be one non-empty line", c->pass.v[i]);
			bad = 1;
		}
	bad |= gate_conf_choice(g, "on", gate_check_on_choices, gate_check_on_meanings, &c->each) < 0;
	bad |= gate_conf_bool(g, "match_tree", &c->match_tree) < 0;
	if (bad) {
		ci_free(c);
		return -1;
	}
	c->notes_ref = gate_xstrdup(ref ? ref : "refs/notes/ci");
	if (!c->pass.nr)
		gate_strvec_push(&c->pass, "pass");
	*data = c;
	return 0;
}

/* The note's first line, trimmed, or NULL when there is no note. */
static int read_status(git_repository *repo, const char *notes_ref, const git_oid *oid, char **out,
		       struct gate_buf *err)
{
	git_note *note = NULL;
	const char *msg, *end;
	int r;

	*out = NULL;
	r = git_note_read(&note, repo, notes_ref, oid);
	if (r == GIT_ENOTFOUND) {
		git_error_clear();
		return 0;
	}
	if (r < 0)
		return gate_error(err, "cannot read the notes in '%s': %s", notes_ref, gate_git_error());
	msg = git_note_message(note);
	if (!msg)
		msg = "";
	while (*msg == ' ' || *msg == '\t' || *msg == '\n' || *msg == '\r')
		msg++;
	end = msg + strcspn(msg, "\n");
	while (end > msg && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*out = gate_xstrndup(msg, (size_t)(end - msg));
	git_note_free(note);
	return 0;
}

static int is_pass(const struct ci_check *c, const char *status)
{
	size_t i;

	for (i = 0; i < c->pass.nr; i++)
		if (!strcasecmp(status, c->pass.v[i]))
			return 1;
	return 0;
}

static void pass_list(struct gate_buf *b, const struct ci_check *c)
{
	size_t i;

	for (i = 0; i < c->pass.nr; i++)
		gate_buf_addf(b, "%s'%s'", i ? ", " : "", c->pass.v[i]);
}

/* Judge one commit: a finding unless a pass is recorded. */
static int judge(const struct ci_check *c, git_repository *repo, int have_notes, const struct gate_commit *gc,
		 const char *commit_id, const char *tree_id, struct gate_findings *out, struct gate_buf *err)
{
	struct gate_buf hint = GATE_BUF_INIT, list = GATE_BUF_INIT;
	char *status = NULL, *tree_status = NULL;
	git_oid oid;
	int ret = -1;

	if (have_notes) {
		if (git_oid_fromstr(&oid, commit_id) < 0 || read_status(repo, c->notes_ref, &oid, &status, err) < 0)
			goto out;
		if (status && is_pass(c, status)) {
			ret = 0;
			goto out;
		}
		if (c->match_tree) {
			if (git_oid_fromstr(&oid, tree_id) < 0 ||
			    read_status(repo, c->notes_ref, &oid, &tree_status, err) < 0)
				goto out;
			if (tree_status && is_pass(c, tree_status)) {
				ret = 0;
				goto out;
			}
		}
	}
	pass_list(&list, c);
	/*
	 * Recording a pass is the CI's job (or an admin's): the notes command
	 * is in git-gate.conf(5), not shown to a pusher who could vouch for
	 * their own commit with it.
	 */
	gate_buf_addf(&hint,
		      "wait for the CI to test %.10s and record its result in %s, then push again (ask the "
		      "repository's admins if the CI does not run for it)",
		      commit_id, c->notes_ref);
	if (!status && tree_status)
		status = tree_status, tree_status = NULL;
	if (status) {
		size_t n = strlen(status);
		gate_findings_add(out, gc, NULL, 0, "fix what the CI reports, let it test the new commit, then push again",
				  "%s%.10s%sthe CI recorded \"%.*s%s\" in %s, not a pass (a pass is: %s)", gc ? "" : "commit ",
				  gc ? "" : commit_id, gc ? "" : ": ", (int)(n > 80 ? 80 : n), status, n > 80 ? "..." : "",
				  c->notes_ref, list.ptr);
	} else if (!have_notes) {
		gate_findings_add(out, gc, NULL, 0, hint.ptr,
				  "%s%.10s%sno CI result has been recorded: '%s' does not exist in this repository yet",
				  gc ? "" : "commit ", gc ? "" : commit_id, gc ? "" : ": ", c->notes_ref);
	} else {
		gate_findings_add(out, gc, NULL, 0, hint.ptr,
				  "%s%.10s%sno CI pass recorded for this commit%s in %s (a note whose first line is %s)",
				  gc ? "" : "commit ", gc ? "" : commit_id, gc ? "" : ": ",
				  c->match_tree ? " or its tree" : "", c->notes_ref, list.ptr);
	}
	ret = 0;
out:
	free(status);
	free(tree_status);
	gate_buf_release(&hint);
	gate_buf_release(&list);
	return ret;
}

static int ci_job(const struct gate_check_run *run, const struct gate_job *job, struct gate_findings *out)
{
	const struct ci_check *c = run->data;
	struct gate_repo *grepo = gate_scan_repo(run->scan);
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	git_object *obj = NULL, *peeled = NULL;
	int have_notes, ret = -1;
	size_t i;

	if (!job->ncommits)
		return 0; /* nothing new: every commit was judged where it already is */
	if (gate_workspace_open_repo(&repo, grepo->git_dir, run->err) < 0)
		return -1;
	have_notes = git_reference_lookup(&ref, repo, c->notes_ref) == 0;
	git_error_clear();
	if (c->each) {
		for (i = 0; i < job->ncommits; i++)
			if (judge(c, repo, have_notes, job->commits[i], job->commits[i]->id, job->commits[i]->tree, out,
				  run->err) < 0)
				goto out;
	} else {
		const struct gate_commit *tip = gate_scan_commit(run->scan, job->new_id);
		char cid[41], tid[41];
		git_oid oid;

		if (tip) {
			memcpy(cid, tip->id, 41);
			memcpy(tid, tip->tree, 41);
		} else {
			if (git_oid_fromstr(&oid, job->new_id) < 0 || git_object_lookup(&obj, repo, &oid, GIT_OBJECT_ANY) < 0) {
				gate_error(run->err, "cannot read %s: %s", job->new_id, gate_git_error());
				goto out;
			}
			if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
				ret = 0; /* a tag of a tree or blob: no commit to vouch for */
				goto out;
			}
			git_oid_tostr(cid, sizeof(cid), git_object_id(peeled));
			git_oid_tostr(tid, sizeof(tid), git_commit_tree_id((git_commit *)peeled));
			tip = gate_scan_commit(run->scan, cid);
		}
		if (judge(c, repo, have_notes, tip, cid, tid, out, run->err) < 0)
			goto out;
	}
	ret = 0;
out:
	git_object_free(peeled);
	git_object_free(obj);
	git_reference_free(ref);
	git_repository_free(repo);
	git_error_clear();
	return ret;
}

static int ci_vouches(const void *data)
{
	return ((const struct ci_check *)data)->each;
}

const struct gate_check_type gate_check_ci_status = {
	.name = "ci-status",
	.summary = "the CI recorded a pass for the commit (git notes, e.g. refs/notes/ci)",
	.parse = ci_parse,
	.free = ci_free,
	.job = ci_job,
	.vouches = ci_vouches,
};
