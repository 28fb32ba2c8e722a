/*
 * git gate replay: run a policy over a branch's recent history and say
 * what it would have rejected, so that a rule's cost is known before it
 * is enforced.
 *
 * Each of the last N first-parent commits of REF is judged, oldest first,
 * as the update parent -> commit of REF: what a push of that commit alone
 * would have met.  The scan engine leaves out commits that existing refs
 * already hold, and every commit of REF is held by REF itself; so the
 * judging happens in a view of the repository without any refs (a
 * temporary git directory borrowing the objects through
 * objects/info/alternates), where only the first parent is excluded.
 * Ref protection (create, force, ...) does not apply to history.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "gate.h"
#include "policy.h"
#include "push.h"
#include "repo.h"
#include "report.h"

#include "banned.h"

static const char usage[] =
	"usage: git gate replay [--repo DIR] [--config FILE] [--max N] [--with-commands]\n"
	"                       [--user NAME] [-v] REF\n"
	"\n"
	"Run a policy over the last N first-parent commits of REF (oldest first),\n"
	"each judged as the update of REF from its first parent to it, and print\n"
	"what would have been rejected and why, then a count per check.\n"
	"\n"
	"    --repo DIR       the repository (default: the current one)\n"
	"    --config FILE    the candidate policy (default: the one in effect)\n"
	"    --max N          how many commits (default 100)\n"
	"    --with-commands  also run expensive checks (type command); skipped by default\n"
	"    --user NAME      judge as if NAME pushed (default: nobody, so no exemptions)\n"
	"    -v               list every commit, not only the rejected ones\n"
	"\n"
	"Ref protection does not apply.  Exit status: 0 (it is a report), 2 usage\n"
	"or policy error, 3 internal error.\n";

#define REPLAY_USER "(replay)"

struct tally {
	const struct gate_check_def *def;
	size_t rejected, warned, errors;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		(void)rmdir(path);
	else
		(void)unlink(path);
	return 0;
}

static void remove_tree(const char *dir)
{
	if (dir)
		(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int write_text(const char *path, const char *text, struct gate_buf *err)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return gate_error(err, "cannot create '%s': %s", path, strerror(errno));
	fputs(text, f);
	if (fclose(f) != 0)
		return gate_error(err, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

/*
 * A git directory with no refs that sees `objects` (and what it borrows)
 * through alternates.  Returns the directory (the caller removes it).
 */
static char *make_view(const char *objects, const char *shallow, struct gate_buf *err)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = gate_xstrfmt("%s/git-gate-replay.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	char *p = NULL;
	struct gate_buf text = GATE_BUF_INIT;
	static const char *const subdirs[] = { "objects", "objects/info", "objects/pack", "refs", "refs/heads",
					       "refs/tags" };
	size_t i;

	if (!mkdtemp(dir)) {
		gate_error(err, "cannot create a temporary directory: %s", strerror(errno));
		free(dir);
		return NULL;
	}
	for (i = 0; i < GATE_ARRAY_SIZE(subdirs); i++) {
		free(p);
		p = gate_xstrfmt("%s/%s", dir, subdirs[i]);
		if (mkdir(p, 0700) < 0) {
			gate_error(err, "cannot create '%s': %s", p, strerror(errno));
			goto fail;
		}
	}
	free(p);
	p = gate_xstrfmt("%s/HEAD", dir);
	if (write_text(p, "ref: refs/heads/main\n", err) < 0)
		goto fail;
	free(p);
	p = gate_xstrfmt("%s/config", dir);
	if (write_text(p, "[core]\n\trepositoryformatversion = 0\n\tbare = true\n", err) < 0)
		goto fail;
	free(p);
	p = gate_xstrfmt("%s/objects/info/alternates", dir);
	gate_buf_addf(&text, "%s\n", objects);
	if (write_text(p, text.ptr, err) < 0)
		goto fail;
	if (shallow) {
		/* a shallow clone's grafts must come along, or its root commits look broken */
		struct gate_buf s = GATE_BUF_INIT;
		int r = gate_read_file(&s, shallow, err);
		free(p);
		p = gate_xstrfmt("%s/shallow", dir);
		if (r == 0 && write_text(p, gate_buf_cstr(&s), err) < 0)
			r = -1;
		gate_buf_release(&s);
		if (r < 0 && r != GATE_ENOTFOUND)
			goto fail;
	}
	free(p);
	gate_buf_release(&text);
	return dir;
fail:
	free(p);
	gate_buf_release(&text);
	remove_tree(dir);
	free(dir);
	return NULL;
}

/* The full name of REF ("main" -> "refs/heads/main") and its commit. */
static int resolve_ref(struct gate_repo *repo, const char *name, char **full, git_oid *tip)
{
	git_reference *ref = NULL, *res = NULL;
	git_object *obj = NULL;
	int ret = -1;

	if (git_reference_dwim(&ref, repo->git, name) < 0) {
		fprintf(stderr, "git-gate: no ref '%s' in %s: %s\n", name, repo->git_dir, gate_git_error());
		goto out;
	}
	if (git_reference_resolve(&res, ref) < 0 || git_reference_peel(&obj, res, GIT_OBJECT_COMMIT) < 0) {
		fprintf(stderr, "git-gate: '%s' does not point at a commit: %s\n", name, gate_git_error());
		goto out;
	}
	*full = gate_xstrdup(git_reference_name(ref));
	git_oid_cpy(tip, git_object_id(obj));
	ret = 0;
out:
	git_object_free(obj);
	git_reference_free(res);
	git_reference_free(ref);
	return ret;
}

/* The last `max` first-parent commits from `tip`, oldest first. */
static int first_parents(struct gate_repo *repo, const git_oid *tip, long max, git_oid **out, size_t *nr)
{
	git_revwalk *walk = NULL;
	git_oid id, *ids = NULL;
	size_t n = 0, alloc = 0, i;
	int ret = -1, r;

	if (git_revwalk_new(&walk, repo->git) < 0 || git_revwalk_push(walk, tip) < 0) {
		fprintf(stderr, "git-gate: cannot walk the history: %s\n", gate_git_error());
		goto out;
	}
	git_revwalk_simplify_first_parent(walk);
	git_revwalk_sorting(walk, GIT_SORT_NONE);
	while ((long)n < max && (r = git_revwalk_next(&id, walk)) == 0) {
		GATE_ALLOC_GROW(ids, n + 1, alloc);
		git_oid_cpy(&ids[n++], &id);
	}
	for (i = 0; i < n / 2; i++) {
		git_oid t = ids[i];
		ids[i] = ids[n - 1 - i];
		ids[n - 1 - i] = t;
	}
	*out = ids;
	*nr = n;
	ids = NULL;
	ret = 0;
out:
	free(ids);
	git_revwalk_free(walk);
	return ret;
}

static struct tally *tally_for(struct tally **t, size_t *n, const struct gate_check_def *def)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if ((*t)[i].def == def)
			return &(*t)[i];
	*t = gate_xrealloc(*t, (*n + 1) * sizeof(**t));
	memset(&(*t)[*n], 0, sizeof(**t));
	(*t)[*n].def = def;
	return &(*t)[(*n)++];
}

int cmd_replay(int argc, char **argv)
{
	const char *v;
	const char *repo_path = NULL, *config = NULL, *refarg = NULL, *user = NULL;
	long max = 100;
	int with_commands = 0, verbose = 0, i, ret = GATE_EXIT_USAGE;
	struct gate_repo *repo = NULL, *view = NULL;
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_buf err = GATE_BUF_INIT, out = GATE_BUF_INIT;
	struct gate_strvec skipped = GATE_STRVEC_INIT;
	struct tally *tally = NULL;
	size_t ntally = 0, ncommits = 0, k, j, nrejected = 0, nwarned = 0, nerrors = 0;
	git_oid tip, *ids = NULL;
	char *ref = NULL, *view_dir = NULL, *objects = NULL, *shallow = NULL;
	const char *policy_name;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *end;
		if (cli_is_help(a))
			return cli_usage(usage, 0);
		if ((v = cli_option(argc, argv, &i, "--repo")))
			repo_path = v;
		else if ((v = cli_option(argc, argv, &i, "--config")))
			config = v;
		else if ((v = cli_option(argc, argv, &i, "--user")))
			user = v;
		else if ((!strcmp(a, "--max") && i + 1 < argc) || !strncmp(a, "--max=", 6)) {
			const char *v = a[5] == '=' ? a + 6 : argv[++i];
			errno = 0;
			max = strtol(v, &end, 10);
			if (errno || end == v || *end || max < 1 || max > 1000000) {
				fprintf(stderr, "git-gate: --max wants a number of commits, not '%s'\n", v);
				return GATE_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--with-commands"))
			with_commands = 1;
		else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			verbose = 1;
		else if (a[0] == '-' || refarg)
			return cli_usage(usage, 1);
		else
			refarg = a;
	}
	if (!refarg)
		return cli_usage(usage, 1);

	if (gate_repo_open(&repo, repo_path, &err) < 0) {
		fprintf(stderr, "git-gate: %s\n", err.ptr);
		goto out;
	}
	if (config) {
		struct gate_policy_load_opts o;
		int r;
		memset(&o, 0, sizeof(o));
		o.git_dir = repo->git_dir;
		r = gate_policy_load_file_opts(&cfg, config, &o, &diag);
		if (r == GATE_ENOTFOUND)
			fprintf(stderr, "git-gate: %s: no such file\n", config);
		if (r < 0)
			goto bad_policy;
	} else if (gate_policy_find(&cfg, repo->git_dir, repo->default_branch, &diag) < 0) {
		goto bad_policy;
	}
	/*
	 * Command logs and the verdict cache of the repository itself, not of
	 * the throw-away view: the logs named in the report must outlive it.
	 */
	if (with_commands && !cfg->log_dir)
		cfg->log_dir = gate_xstrfmt("%s/git-gate/logs", repo->git_dir);
	if (with_commands && !cfg->cache_dir)
		cfg->cache_dir = gate_xstrfmt("%s/git-gate/cache", repo->git_dir);
	if (resolve_ref(repo, refarg, &ref, &tip) < 0 || first_parents(repo, &tip, max, &ids, &ncommits) < 0)
		goto out;

	objects = gate_xstrfmt("%s/objects", git_repository_commondir(repo->git));
	{
		char *s = gate_xstrfmt("%s/shallow", git_repository_commondir(repo->git));
		if (access(s, F_OK) == 0)
			shallow = s;
		else
			free(s);
	}
	view_dir = make_view(objects, shallow, &err);
	if (!view_dir || gate_repo_open(&view, view_dir, &err) < 0) {
		fprintf(stderr, "git-gate: cannot prepare the replay: %s\n", err.ptr);
		ret = GATE_EXIT_INTERNAL;
		goto out;
	}

	policy_name = config ? config : cfg->file ? cfg->file : "built-in default";
	if (!gate_config_rule_for(cfg, ref))
		printf("note: no rule of %s matches %s: nothing would be rejected\n", policy_name, ref);
	printf("replaying %zu commit%s of %s under %s\n", ncommits, ncommits == 1 ? "" : "s", ref, policy_name);
	fflush(stdout);

	for (k = 0; k < ncommits; k++) {
		struct gate_push push = GATE_PUSH_INIT;
		struct gate_verdict v;
		struct gate_report_opts ro;
		git_commit *c = NULL;
		char id[41], parent[41];
		const char *subject = "";

		git_oid_tostr(id, sizeof(id), &ids[k]);
		if (git_commit_lookup(&c, repo->git, &ids[k]) < 0) {
			fprintf(stderr, "git-gate: cannot read commit %s: %s\n", id, gate_git_error());
			ret = GATE_EXIT_INTERNAL;
			goto out;
		}
		if (git_commit_parentcount(c) > 0)
			git_oid_tostr(parent, sizeof(parent), git_commit_parent_id(c, 0));
		else
			memcpy(parent, GATE_ZERO_OID, 41);
		subject = git_commit_summary(c) ? git_commit_summary(c) : "";
		gate_buf_reset(&err);
		if (gate_push_add(&push, ref, parent, id, &err) < 0) {
			fprintf(stderr, "git-gate: %s\n", err.ptr);
			git_commit_free(c);
			ret = GATE_EXIT_INTERNAL;
			goto out;
		}
		push.user = gate_xstrdup(user ? user : REPLAY_USER);
		push.user_source = gate_xstrdup(user ? "--user" : "replay");
		memset(&v, 0, sizeof(v));
		gate_buf_reset(&out);
		gate_buf_addf(&out, "== %zu/%zu commit %.10s \"", k + 1, ncommits, id);
		gate_buf_add_safe(&out, subject, strlen(subject) > 60 ? 60 : strlen(subject));
		gate_buf_adds(&out, strlen(subject) > 60 ? "...\"" : "\"");
		if (gate_evaluate_ext(&v, view, cfg, &push,
				      GATE_EVAL_NO_PROTECTION | GATE_EVAL_NO_META |
					      (with_commands ? GATE_EVAL_RUN_ALL : GATE_EVAL_SKIP_EXPENSIVE),
				      &err) < 0) {
			gate_buf_adds(&out, ": could not be judged: ");
			gate_buf_add_safes(&out, gate_buf_cstr(&err));
			gate_buf_addch(&out, '\n');
			nerrors++;
			fwrite(out.ptr, 1, out.len, stdout);
		} else {
			const char *verdict = v.outcome == GATE_OUTCOME_REJECT ? "would be REJECTED"
					      : v.outcome == GATE_OUTCOME_WARN ? "would get warnings"
										 : "passes";
			gate_buf_addf(&out, ": %s\n", verdict);
			nrejected += v.outcome == GATE_OUTCOME_REJECT;
			nwarned += v.outcome == GATE_OUTCOME_WARN;
			for (i = 0; i < (int)v.nr; i++) {
				const struct gate_ref_verdict *rv = &v.refs[i];
				for (j = 0; j < rv->njobs; j++) {
					const struct gate_scan_job *jb = rv->jobs[j];
					struct tally *t = tally_for(&tally, &ntally, jb->def);
					if (jb->note && !strcmp(jb->note, GATE_EVAL_SKIPPED_NOTE) &&
					    !gate_strvec_contains(&skipped, jb->def->name))
						gate_strvec_push(&skipped, jb->def->name);
					if (!gate_job_failed(jb))
						continue;
					if (jb->error)
						t->errors++;
					else if (rv->rule && rv->rule->mode == GATE_MODE_WARN)
						t->warned++;
					else
						t->rejected++;
				}
			}
			if (v.outcome != GATE_OUTCOME_ACCEPT || verbose) {
				memset(&ro, 0, sizeof(ro));
				ro.prefix = "  ";
				ro.policy = policy_name;
				ro.max_findings = cfg->max_findings;
				ro.verbose = verbose;
				ro.hook = "replay";
				gate_report_format(&out, &v, &ro);
				fwrite(out.ptr, 1, out.len, stdout);
			}
		}
		fflush(stdout);
		gate_verdict_release(&v);
		gate_push_release(&push);
		git_commit_free(c);
	}

	printf("\nsummary: %zu of %zu commit%s would have been rejected", nrejected, ncommits,
	       ncommits == 1 ? "" : "s");
	if (nwarned)
		printf(", %zu would have had warnings", nwarned);
	if (nerrors)
		printf(", %zu could not be judged", nerrors);
	printf("\n");
	for (k = 0; k < ntally; k++) {
		const struct tally *t = &tally[k];
		if (gate_strvec_contains(&skipped, t->def->name))
			continue;
		printf("%s: %zu of %zu commits would have been rejected", t->def->name, t->rejected, ncommits);
		if (t->warned)
			printf(", %zu would have had warnings", t->warned);
		if (t->errors)
			printf(", %zu could not be judged", t->errors);
		printf("\n");
	}
	for (k = 0; k < skipped.nr; k++)
		printf("%s: not run (an expensive check; --with-commands runs it)\n", skipped.v[k]);
	ret = 0;
	goto out;

bad_policy:
	cli_print_diag(&diag);
	fprintf(stderr, "git-gate: the policy is invalid\n");
	ret = GATE_EXIT_USAGE;
out:
	gate_repo_free(view);
	remove_tree(view_dir);
	free(view_dir);
	free(objects);
	free(shallow);
	free(ids);
	free(ref);
	free(tally);
	gate_strvec_clear(&skipped);
	gate_config_free(cfg);
	gate_repo_free(repo);
	gate_diag_release(&diag);
	gate_buf_release(&err);
	gate_buf_release(&out);
	return ret;
}
