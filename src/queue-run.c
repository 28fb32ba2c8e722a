/*
 * The merge queue's runner (queue.h): builds candidates, judges them with
 * the gate's own evaluation, lands what passed, bisects what failed.
 */
#include "config.h"
#include "queue.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "gate.h"
#include "judged.h"
#include "ledger.h"
#include "queue-internal.h"
#include "report.h"
#include "run-command.h"
#include "shared.h"
#include "status.h"

#include "banned.h"

#define MAX_CONFLICT_PATHS 20
/* Who a candidate is judged as when its items come from several pushers. */
#define QUEUE_USER "merge-queue"

struct runner {
	const char *git_dir;
	const struct gate_queue_run_opts *o;
	struct gate_repo *repo;
	struct gate_config *cfg;       /* reloaded every round */
	struct gate_buf last_report;   /* the report of the last failed test run */
	long last_fail_ids[64];        /* ... and which items it held */
	size_t last_fail_n;
	long runs;                     /* test runs so far */
	long fast_picks, slow_picks;   /* commits replayed the fast way, and by cherry-pick */
	/* the last candidate that passed, for the ledger when it lands */
	struct gate_push pass_push;
	struct gate_verdict pass_v;
	struct gate_config *pass_cfg;
};

/* Apply results. */
enum { APPLY_OK = 0, APPLY_NOT = 1 };
/* Processing results: RETRY ends the round (something changed under us). */
enum { DONE = 0, RETRY = 1 };

static void logf_(const struct runner *rn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const struct runner *rn, const char *fmt, ...)
{
	struct gate_buf b = GATE_BUF_INIT;
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;

	(void)rn;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	gate_buf_addf(&b, "%s git-gate queue[%ld]: ", when, (long)getpid());
	va_start(ap, fmt);
	gate_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	gate_buf_addch(&b, '\n');
	(void)gate_write_all(2, b.ptr, b.len);
	gate_buf_release(&b);
}

/* ---- spawning ------------------------------------------------------------ */

int gate_queue_runner_active(const char *git_dir)
{
	char *p = gate_queue_path(git_dir, "runner.lock");
	int fd = open(p, O_RDONLY | O_CLOEXEC), active = 0;

	free(p);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		active = errno == EWOULDBLOCK;
	close(fd);
	return active;
}

int gate_queue_spawn_runner(const char *git_dir, const char *const *argv, struct gate_buf *err)
{
	char *log = gate_queue_path(git_dir, "runner.log");
	pid_t pid;
	int status;

	if (gate_queue_runner_active(git_dir)) {
		free(log);
		return 0;
	}
	pid = fork();
	if (pid < 0) {
		free(log);
		return gate_error(err, "cannot start the queue runner: %s", strerror(errno));
	}
	if (pid == 0) {
		sigset_t none;
		int fd, sig;

		/* a session of its own, no terminal, and git's pipes closed */
		setsid();
		if (fork() != 0)
			_exit(0);
		/* not a session leader (no terminal can be acquired), but the
		 * leader of its group: kill -- -PID stops it with its checks */
		setpgid(0, 0);
		for (sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0 && fd != 0) {
			dup2(fd, 0);
			close(fd);
		}
		fd = gate_shared_open(gate_shared_perm(git_dir), log, O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (fd < 0)
			fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		closefrom(3);
		if (chdir(git_dir) < 0)
			_exit(127);
		unsetenv("GIT_QUARANTINE_PATH");
		unsetenv("GIT_OBJECT_DIRECTORY");
		unsetenv("GIT_ALTERNATE_OBJECT_DIRECTORIES");
		setenv("GIT_DIR", git_dir, 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	free(log);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* ---- reading and writing refs ------------------------------------------------ */

static int read_branch(struct runner *rn, const char *branch, char out[41], struct gate_buf *err)
{
	git_oid oid;
	int r = git_reference_name_to_id(&oid, rn->repo->git, branch);

	if (r == GIT_ENOTFOUND) {
		git_error_clear();
		return GATE_ENOTFOUND;
	}
	if (r < 0)
		return gate_error(err, "cannot read '%s': %s", branch, gate_git_error());
	git_oid_tostr(out, 41, &oid);
	return 0;
}

static int ref_exists(struct runner *rn, const char *ref)
{
	git_oid oid;
	int r = git_reference_name_to_id(&oid, rn->repo->git, ref);

	git_error_clear();
	return r != GIT_ENOTFOUND;
}

/*
 * Move `branch` from `old` to `new` with git's own compare-and-swap.  The
 * branch's name came with a push: it goes to git on stdin, not on the
 * command line (`msg` is the runner's own).
 */
static int move_branch(struct runner *rn, const char *branch, const char *old, const char *new, const char *msg,
		       struct gate_buf *err)
{
	const char *argv[] = { "git", "update-ref", "-m", msg, "--stdin", "-z", NULL };
	struct gate_buf errout = GATE_BUF_INIT, in = GATE_BUF_INIT;
	int status = 0;

	gate_buf_addf(&in, "update %s", branch);
	gate_buf_add(&in, "", 1);
	gate_buf_adds(&in, new);
	gate_buf_add(&in, "", 1);
	gate_buf_adds(&in, old);
	gate_buf_add(&in, "", 1);
	if (gate_run_capture(argv, gate_strvec_argv(&rn->repo->env), rn->git_dir, in.ptr, in.len, NULL, &errout,
			     &status, err) < 0) {
		gate_buf_release(&errout);
		gate_buf_release(&in);
		return -1;
	}
	gate_buf_release(&in);
	if (status) {
		gate_error(err, "%s", gate_buf_cstr(&errout));
		gate_buf_release(&errout);
		return 1;
	}
	gate_buf_release(&errout);
	return 0;
}

/* ---- building candidates ----------------------------------------------------- */

static void conflict_paths(struct gate_buf *why, git_index *idx)
{
	git_index_conflict_iterator *it = NULL;
	const git_index_entry *a, *o, *t;
	size_t n = 0;

	if (git_index_conflict_iterator_new(&it, idx) < 0) {
		git_error_clear();
		return;
	}
	while (git_index_conflict_next(&a, &o, &t, it) == 0) {
		const char *path = o ? o->path : t ? t->path : a ? a->path : "?";
		if (n++ == MAX_CONFLICT_PATHS) {
			gate_buf_adds(why, ", ...");
			break;
		}
		gate_buf_adds(why, n > 1 ? ", " : " ");
		gate_buf_add_safes(why, path);
	}
	git_index_conflict_iterator_free(it);
	git_error_clear();
}

static const char *branch_name(const char *branch)
{
	const char *name = branch;

	gate_skip_prefix(branch, "refs/heads/", &name);
	return name;
}

/*
 * The fast way to replay a commit: when the branch has not touched any
 * path the commit changes since the commit's parent, the three-way merge
 * takes the commit's version of those paths and the branch's version of
 * everything else -- the branch's tree with the commit's changes applied
 * (git_tree_create_updated rewrites only the trees on their paths).
 * Anything else (a path both changed, a deletion, a file that became a
 * folder, a submodule) goes to libgit2's cherry-pick, which merges file
 * contents and names conflicts.
 */
#define FAST_MAX_CHANGES 1000

struct fast_changes {
	git_tree_update *v;
	size_t nr, alloc;
};

static void fast_changes_release(struct fast_changes *fc)
{
	size_t i;

	for (i = 0; i < fc->nr; i++)
		free((char *)fc->v[i].path);
	free(fc->v);
	memset(fc, 0, sizeof(*fc));
}

/* The entries of `b` that differ from `a` (NULL: empty): 1, 0 (not for the fast way) or -1. */
static int fast_collect(git_repository *repo, const git_tree *a, const git_tree *b, const char *prefix,
			struct fast_changes *fc)
{
	size_t i, n = git_tree_entrycount(b);
	int ret = 1;

	/* a deletion (an entry of a that b lacks) is left to the slow way */
	if (a && git_tree_entrycount(a) > n)
		return 0;
	for (i = 0; i < n && ret == 1; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(b, i);
		const git_tree_entry *ea = a ? git_tree_entry_byname(a, git_tree_entry_name(e)) : NULL;
		git_filemode_t m = git_tree_entry_filemode(e);
		char *path;

		if (ea && git_oid_equal(git_tree_entry_id(ea), git_tree_entry_id(e)) &&
		    git_tree_entry_filemode(ea) == m)
			continue;
		if (m == GIT_FILEMODE_COMMIT || (ea && git_tree_entry_filemode(ea) == GIT_FILEMODE_COMMIT) ||
		    (ea && (git_tree_entry_type(ea) == GIT_OBJECT_TREE) != (m == GIT_FILEMODE_TREE)))
			return 0;
		path = gate_xstrfmt("%s%s", prefix, git_tree_entry_name(e));
		if (m == GIT_FILEMODE_TREE) {
			git_tree *sa = NULL, *sb = NULL;
			char *sub = gate_xstrfmt("%s/", path);
			if (git_tree_lookup(&sb, repo, git_tree_entry_id(e)) < 0 ||
			    (ea && git_tree_lookup(&sa, repo, git_tree_entry_id(ea)) < 0))
				ret = -1;
			else
				ret = fast_collect(repo, sa, sb, sub, fc);
			git_tree_free(sa);
			git_tree_free(sb);
			free(sub);
			free(path);
			continue;
		}
		if (fc->nr == FAST_MAX_CHANGES) {
			free(path);
			return 0;
		}
		GATE_ALLOC_GROW(fc->v, fc->nr + 1, fc->alloc);
		memset(&fc->v[fc->nr], 0, sizeof(fc->v[fc->nr]));
		fc->v[fc->nr].action = GIT_TREE_UPDATE_UPSERT;
		git_oid_cpy(&fc->v[fc->nr].id, git_tree_entry_id(e));
		fc->v[fc->nr].filemode = m;
		fc->v[fc->nr].path = path;
		fc->nr++;
	}
	return ret;
}

/* Whether `path` is the same in `tree` as in `base` (both absent, or the same entry), under folders. */
static int fast_untouched(git_tree *tree, git_tree *base, const char *path)
{
	git_tree_entry *x = NULL, *y = NULL;
	int rx = git_tree_entry_bypath(&x, tree, path), ry = git_tree_entry_bypath(&y, base, path), same;
	const char *slash;

	git_error_clear();
	same = (rx == GIT_ENOTFOUND && ry == GIT_ENOTFOUND) ||
	       (rx == 0 && ry == 0 && git_oid_equal(git_tree_entry_id(x), git_tree_entry_id(y)) &&
		git_tree_entry_filemode(x) == git_tree_entry_filemode(y));
	git_tree_entry_free(x);
	git_tree_entry_free(y);
	/* a new path under what the branch made a file */
	for (slash = strchr(path, '/'); same && rx == GIT_ENOTFOUND && slash; slash = strchr(slash + 1, '/')) {
		char *dir = gate_xstrndup(path, (size_t)(slash - path));
		git_tree_entry *d = NULL;
		if (git_tree_entry_bypath(&d, tree, dir) == 0 && git_tree_entry_type(d) != GIT_OBJECT_TREE)
			same = 0;
		git_tree_entry_free(d);
		git_error_clear();
		free(dir);
	}
	return same;
}

/* The tree of `c` replayed onto `cur` the fast way: 1 done, 0 not possible here, -1 error. */
static int fast_pick(git_repository *repo, git_commit *c, git_commit *cur, git_oid *tree_id)
{
	git_commit *parent = NULL;
	git_tree *pt = NULL, *ct = NULL, *cur_t = NULL;
	struct fast_changes fc;
	size_t i;
	int ret = -1, r;

	memset(&fc, 0, sizeof(fc));
	if (git_commit_parentcount(c) != 1)
		return 0;
	if (git_commit_parent(&parent, c, 0) < 0 || git_commit_tree(&pt, parent) < 0 || git_commit_tree(&ct, c) < 0 ||
	    git_commit_tree(&cur_t, cur) < 0)
		goto out;
	r = fast_collect(repo, pt, ct, "", &fc);
	if (r <= 0) {
		ret = r;
		goto out;
	}
	ret = 0;
	for (i = 0; i < fc.nr; i++)
		if (!fast_untouched(cur_t, pt, fc.v[i].path))
			goto out;
	if (git_tree_create_updated(tree_id, repo, cur_t, fc.nr, fc.v) < 0)
		goto out; /* the slow way will say what is wrong */
	ret = 1;
out:
	fast_changes_release(&fc);
	git_tree_free(pt);
	git_tree_free(ct);
	git_tree_free(cur_t);
	git_commit_free(parent);
	git_error_clear();
	return ret;
}

/* Replay the item's commits (merges dropped, as git rebase does) onto `onto`. */
static int rebase_item(struct runner *rn, git_commit *onto, const git_oid *tip, const char *branch, git_oid *out,
		       struct gate_buf *why, struct gate_buf *err)
{
	git_repository *repo = rn->repo->git;
	git_revwalk *walk = NULL;
	git_commit *cur = onto, *c = NULL;
	git_index *idx = NULL;
	git_merge_options mo;
	git_oid id, tree_id;
	int ret = -1, owned = 0, r;

	git_merge_options_init(&mo, GIT_MERGE_OPTIONS_VERSION);
	if (git_revwalk_new(&walk, repo) < 0 || git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE) < 0 ||
	    git_revwalk_push(walk, tip) < 0 || git_revwalk_hide(walk, git_commit_id(onto)) < 0) {
		gate_error(err, "cannot list the change's commits: %s", gate_git_error());
		goto out;
	}
	while (git_revwalk_next(&id, walk) == 0) {
		git_commit *n = NULL;

		git_commit_free(c);
		c = NULL;
		if (git_commit_lookup(&c, repo, &id) < 0) {
			gate_error(err, "cannot read commit: %s", gate_git_error());
			goto out;
		}
		if (git_commit_parentcount(c) > 1)
			continue;
		r = fast_pick(repo, c, cur, &tree_id);
		if (r < 0) {
			gate_error(err, "cannot apply commit %.12s: %s", git_oid_tostr_s(&id), gate_git_error());
			goto out;
		}
		if (r == 1) {
			rn->fast_picks++;
			goto picked;
		}
		rn->slow_picks++;
		git_index_free(idx);
		idx = NULL;
		if (git_cherrypick_commit(&idx, repo, c, cur, 0, &mo) < 0) {
			gate_error(err, "cannot apply commit %.12s: %s", git_oid_tostr_s(&id), gate_git_error());
			goto out;
		}
		if (git_index_has_conflicts(idx)) {
			gate_buf_addf(why, "conflicts with %s (commit %.12s \"", branch_name(branch), git_oid_tostr_s(&id));
			gate_buf_add_safes(why, git_commit_summary(c) ? git_commit_summary(c) : "");
			gate_buf_adds(why, "\"):");
			conflict_paths(why, idx);
			ret = APPLY_NOT;
			goto out;
		}
		if (git_index_write_tree_to(&tree_id, idx, repo) < 0) {
			gate_error(err, "cannot write a tree: %s", gate_git_error());
			goto out;
		}
picked:
		if (git_oid_equal(&tree_id, git_commit_tree_id(cur)))
			continue; /* already there: dropped, as git rebase does */
		{
			git_tree *tree = NULL;
			const git_commit *parents[1];
			git_oid new_id;
			int rc;

			parents[0] = cur;
			if (git_tree_lookup(&tree, repo, &tree_id) < 0) {
				gate_error(err, "cannot read a tree: %s", gate_git_error());
				goto out;
			}
			/* author, committer and message kept: the candidate is deterministic */
			rc = git_commit_create(&new_id, repo, NULL, git_commit_author(c), git_commit_committer(c),
					       git_commit_message_encoding(c), git_commit_message_raw(c), tree, 1,
					       parents);
			git_tree_free(tree);
			if (rc < 0 || git_commit_lookup(&n, repo, &new_id) < 0) {
				gate_error(err, "cannot write a commit: %s", gate_git_error());
				goto out;
			}
		}
		if (owned)
			git_commit_free(cur);
		cur = n;
		owned = 1;
	}
	git_oid_cpy(out, git_commit_id(cur));
	ret = APPLY_OK;
out:
	if (owned)
		git_commit_free(cur);
	git_commit_free(c);
	git_index_free(idx);
	git_revwalk_free(walk);
	git_error_clear();
	return ret;
}

static int merge_item(struct runner *rn, git_commit *onto, git_commit *tipc, const struct gate_queue_item *it,
		      git_oid *out, struct gate_buf *why, struct gate_buf *err)
{
	git_repository *repo = rn->repo->git;
	git_merge_options mo;
	git_index *idx = NULL;
	git_tree *tree = NULL;
	git_oid tree_id;
	const git_commit *parents[2];
	struct gate_buf msg = GATE_BUF_INIT;
	int ret = -1;

	git_merge_options_init(&mo, GIT_MERGE_OPTIONS_VERSION);

	if (git_merge_commits(&idx, repo, onto, tipc, &mo) < 0) {
		gate_error(err, "cannot merge: %s", gate_git_error());
		goto out;
	}
	if (git_index_has_conflicts(idx)) {
		gate_buf_addf(why, "conflicts with %s:", branch_name(it->branch));
		conflict_paths(why, idx);
		ret = APPLY_NOT;
		goto out;
	}
	if (git_index_write_tree_to(&tree_id, idx, repo) < 0 || git_tree_lookup(&tree, repo, &tree_id) < 0) {
		gate_error(err, "cannot write a tree: %s", gate_git_error());
		goto out;
	}
	gate_buf_addf(&msg, "Merge queue item %ld into %s\n\n%s\n", it->id, branch_name(it->branch),
		      git_commit_summary(tipc) ? git_commit_summary(tipc) : "");
	parents[0] = onto;
	parents[1] = tipc;
	if (git_commit_create(out, repo, NULL, git_commit_committer(tipc), git_commit_committer(tipc), NULL, msg.ptr,
			      tree, 2, parents) < 0) {
		gate_error(err, "cannot write the merge commit: %s", gate_git_error());
		goto out;
	}
	ret = APPLY_OK;
out:
	gate_buf_release(&msg);
	git_tree_free(tree);
	git_index_free(idx);
	git_error_clear();
	return ret;
}

/*
 * The candidate of `it` on `onto_hex`: APPLY_OK with *out, APPLY_NOT with
 * why (a conflict, not a fast-forward, already there), or -1.
 */
static int apply_item(struct runner *rn, const struct gate_rule *rule, const char *onto_hex,
		      const struct gate_queue_item *it, char out[41], struct gate_buf *why, struct gate_buf *err)
{
	git_repository *repo = rn->repo->git;
	git_oid onto_id, tip_id, res;
	git_commit *onto = NULL, *tipc = NULL;
	int ret = -1;

	if (git_oid_fromstr(&onto_id, onto_hex) < 0 || git_oid_fromstr(&tip_id, it->tip) < 0 ||
	    git_commit_lookup(&onto, repo, &onto_id) < 0) {
		gate_error(err, "cannot read '%s': %s", it->branch, gate_git_error());
		goto out;
	}
	if (git_commit_lookup(&tipc, repo, &tip_id) < 0) {
		gate_error(err, "cannot read the change %.12s: %s", it->tip, gate_git_error());
		goto out;
	}
	if (git_oid_equal(&onto_id, &tip_id) || git_graph_descendant_of(repo, &onto_id, &tip_id) == 1) {
		gate_buf_addf(why, "nothing to land: %.12s is already on %s", it->tip, branch_name(it->branch));
		ret = APPLY_NOT;
		goto out;
	}
	switch (rule->queue_strategy) {
	case GATE_QUEUE_FAST_FORWARD:
		if (git_graph_descendant_of(repo, &tip_id, &onto_id) != 1) {
			gate_buf_addf(why, "not a fast-forward of %s (queue_strategy = \"fast-forward\"): "
				      "rebase it onto %s and push again", branch_name(it->branch), branch_name(it->branch));
			ret = APPLY_NOT;
			goto out;
		}
		res = tip_id;
		ret = APPLY_OK;
		break;
	case GATE_QUEUE_REBASE:
		if (git_graph_descendant_of(repo, &tip_id, &onto_id) == 1) {
			res = tip_id; /* already on top: nothing to replay */
			ret = APPLY_OK;
		} else {
			ret = rebase_item(rn, onto, &tip_id, it->branch, &res, why, err);
		}
		break;
	case GATE_QUEUE_MERGE:
		ret = merge_item(rn, onto, tipc, it, &res, why, err);
		break;
	}
	if (ret == APPLY_OK && git_oid_equal(&res, &onto_id)) {
		/* every commit was already there (rebase drops them) */
		gate_buf_addf(why, "nothing to land: its changes are already on %s", branch_name(it->branch));
		ret = APPLY_NOT;
	}
	if (ret == APPLY_OK)
		git_oid_tostr(out, 41, &res);
out:
	git_commit_free(onto);
	git_commit_free(tipc);
	git_error_clear();
	return ret;
}

/* ---- recording decisions ---------------------------------------------------- */

/* The audit record of a test run or decision, and the ledger's of a decision (gate_queue_record). */
static void audit(struct runner *rn, const char *branch, struct gate_queue_item **items, size_t n,
		  const char *candidate, const char *verdict, const char *reason)
{
	struct gate_buf err = GATE_BUF_INIT;

	if (gate_queue_record(rn->repo, rn->cfg, branch, items, n, candidate, verdict, reason, &err) < 0)
		logf_(rn, "warning: %s", gate_buf_cstr(&err));
	gate_buf_release(&err);
}

/* The status site (status_dir), so that the page shows the queue as it is now. */
static void refresh_site(struct runner *rn)
{
	struct gate_buf err = GATE_BUF_INIT;

	if (rn->cfg && gate_status_refresh_site(rn->cfg, rn->repo, &err) < 0)
		logf_(rn, "warning: the status site was not refreshed: %s", gate_buf_cstr(&err));
	gate_buf_release(&err);
}

/* Decide one item (rejected or cancelled) under the queue lock. */
static int reject(struct runner *rn, struct gate_queue_item *it, const char *reason, const struct gate_buf *report,
		  const char *candidate)
{
	struct gate_buf err = GATE_BUF_INIT, r = GATE_BUF_INIT;
	struct gate_queue_item *cur = NULL;
	char *rp;
	int fd = gate_queue_lock(rn->git_dir, &err), ret = -1, decided = 0;

	if (fd < 0)
		goto out;
	/* cancelled meanwhile: nothing to decide (the cancel was recorded) */
	if (gate_queue_load(&cur, rn->git_dir, it->id, &err) < 0 || gate_queue_state_final(cur->state)) {
		ret = 0;
		goto out;
	}
	gate_buf_add_safes(&r, reason);
	rp = gate_queue_report_path(rn->git_dir, it->id);
	if (report && report->len) {
		char *dir = gate_queue_path(rn->git_dir, "items/decided");
		(void)gate_shared_mkdir_p(gate_shared_perm(rn->git_dir), dir);
		free(dir);
		(void)gate_queue_write_file(rn->git_dir, rp, report->ptr, report->len, &err);
	}
	free(rp);
	cur->state = GATE_QUEUE_REJECTED;
	cur->decided = (int64_t)time(NULL);
	free(cur->reason);
	cur->reason = gate_buf_detach(&r);
	if (gate_queue_save(rn->git_dir, cur, &err) < 0 || gate_queue_drop_ref(rn->repo->git, cur, &err) < 0)
		goto out;
	it->state = GATE_QUEUE_REJECTED;
	logf_(rn, "item %ld rejected: %s", it->id, cur->reason);
	decided = 1;
	ret = 0;
out:
	/* recorded before the lock goes: whoever waits for the verdict finds it in the log and the ledger */
	if (decided)
		audit(rn, it->branch, &it, 1, candidate, "rejected", reason);
	gate_queue_unlock(fd);
	if (ret < 0)
		logf_(rn, "cannot record the rejection of item %ld: %s", it->id, gate_buf_cstr(&err));
	gate_queue_item_free(cur);
	gate_buf_release(&err);
	gate_buf_release(&r);
	return ret;
}

/* Mark items as being tested together; RETRY when one was cancelled. */
static int mark_testing(struct runner *rn, struct gate_queue_item **items, size_t n)
{
	struct gate_buf err = GATE_BUF_INIT, batch = GATE_BUF_INIT;
	size_t i;
	int fd = gate_queue_lock(rn->git_dir, &err), ret = RETRY;

	if (fd < 0)
		goto out;
	for (i = 0; i < n; i++)
		gate_buf_addf(&batch, "%s%ld", i ? " " : "", items[i]->id);
	for (i = 0; i < n; i++) {
		struct gate_queue_item *cur = NULL;
		if (gate_queue_load(&cur, rn->git_dir, items[i]->id, &err) < 0 || gate_queue_state_final(cur->state)) {
			gate_queue_item_free(cur);
			goto out;
		}
		cur->state = GATE_QUEUE_TESTING;
		if (!cur->started)
			cur->started = (int64_t)time(NULL);
		free(cur->batch);
		cur->batch = gate_xstrdup(batch.ptr);
		if (gate_queue_save(rn->git_dir, cur, &err) < 0) {
			gate_queue_item_free(cur);
			goto out;
		}
		gate_queue_item_free(cur);
	}
	ret = DONE;
out:
	gate_queue_unlock(fd);
	if (err.len)
		logf_(rn, "%s", err.ptr);
	if (ret == DONE)
		refresh_site(rn); /* the items show as testing */
	gate_buf_release(&err);
	gate_buf_release(&batch);
	return ret;
}

/* Record items as landed (the branch already moved). Under the queue lock. */
static void record_landed(struct runner *rn, long *ids, char (*cands)[41], size_t n, const char *before)
{
	struct gate_buf err = GATE_BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++) {
		struct gate_queue_item *cur = NULL;
		if (gate_queue_load(&cur, rn->git_dir, ids[i], &err) < 0) {
			logf_(rn, "%s", gate_buf_cstr(&err));
			gate_buf_reset(&err);
			continue;
		}
		if (cur->state != GATE_QUEUE_LANDED) {
			cur->state = GATE_QUEUE_LANDED;
			cur->decided = (int64_t)time(NULL);
			memcpy(cur->before, i ? cands[i - 1] : before, 41);
			memcpy(cur->landed, cands[i], 41);
			if (gate_queue_save(rn->git_dir, cur, &err) < 0 ||
			    gate_queue_drop_ref(rn->repo->git, cur, &err) < 0) {
				logf_(rn, "%s", gate_buf_cstr(&err));
				gate_buf_reset(&err);
			}
		}
		gate_queue_item_free(cur);
	}
	gate_buf_release(&err);
}

/*
 * The journal: written before the branch moves, removed once the items
 * are recorded as landed.  "branch B\nold O\nitem ID CANDIDATE\n..."
 */
static int write_journal(struct runner *rn, const char *branch, const char *old, struct gate_queue_item **items,
			 char (*cands)[41], size_t n, struct gate_buf *err)
{
	struct gate_buf b = GATE_BUF_INIT;
	char *p = gate_queue_path(rn->git_dir, "landing");
	size_t i;
	int ret;

	gate_buf_addf(&b, "branch %s\nold %s\n", branch, old);
	for (i = 0; i < n; i++)
		gate_buf_addf(&b, "item %ld %s\n", items[i]->id, cands[i]);
	ret = gate_queue_write_file(rn->git_dir, p, b.ptr, b.len, err);
	free(p);
	gate_buf_release(&b);
	return ret;
}

/* Finish what a killed runner left in its journal.  Under the queue lock. */
static void recover(struct runner *rn)
{
	char *p = gate_queue_path(rn->git_dir, "landing");
	struct gate_buf text = GATE_BUF_INIT, err = GATE_BUF_INIT;
	char *branch = NULL, old[41] = "", now[41];
	long ids[64];
	char cands[64][41];
	size_t n = 0;
	char *line;

	if (gate_read_file(&text, p, &err) < 0)
		goto out;
	for (line = text.ptr; line && *line;) {
		char *nl = strchr(line, '\n');
		long id;
		char c[41];
		if (nl)
			*nl = '\0';
		if (!strncmp(line, "branch ", 7)) {
			free(branch);
			branch = gate_xstrdup(line + 7);
		} else if (!strncmp(line, "old ", 4) && gate_is_hex_oid(line + 4)) {
			memcpy(old, line + 4, 41);
		} else if (n < 64 && sscanf(line, "item %ld %40s", &id, c) == 2 && gate_is_hex_oid(c)) {
			ids[n] = id;
			memcpy(cands[n], c, 41);
			n++;
		}
		line = nl ? nl + 1 : NULL;
	}
	if (branch && n && old[0] && read_branch(rn, branch, now, &err) == 0 && !strcmp(now, cands[n - 1])) {
		logf_(rn, "recovering: %s moved to %.12s before the last runner stopped; recording %zu item(s)",
		      branch, now, n);
		record_landed(rn, ids, cands, n, old);
	}
	unlink(p);
out:
	free(p);
	free(branch);
	gate_buf_release(&text);
	gate_buf_release(&err);
}

/*
 * After a landing: the queue judged the new commits of the branch (the
 * items' own commits by the cheap checks, the candidate by the command
 * checks), so the judged records (judged.h) get the branch's new value
 * for every check the rule enforces -- as pre-receive records a push it
 * passed -- unless an item's pusher was exempt from one of them.  Without
 * this, the rebased commits would be judged again by later pushes (and a
 * signature check would fail on them: rebased commits carry no signature).
 */
static void record_judged(struct runner *rn, const struct gate_rule *rule, struct gate_queue_item **items, size_t n,
			  const char *old, const char *tip)
{
	struct gate_buf err = GATE_BUF_INIT;
	size_t i, k;

	if (!rule || rule->mode != GATE_MODE_ENFORCE)
		return;
	for (k = 0; k < rule->nchecks; k++)
		for (i = 0; i < n; i++)
			if (gate_rule_exempts(rn->cfg, rule, items[i]->user, rule->checks[k]) ||
			    gate_rule_exempts(rn->cfg, rule, items[i]->user, NULL))
				return;
	for (k = 0; k < rule->nchecks; k++) {
		struct gate_judged *j = NULL;
		int recorded = 0;

		if (!gate_rule_enforces(rule, rule->checks[k]))
			continue;
		/* as in gate.c: a pass of the candidate's tip alone vouches for nothing below it */
		if (rule->checks[k]->type->vouches && !rule->checks[k]->type->vouches(rule->checks[k]->data))
			continue;
		if (gate_judged_open(&j, rn->git_dir, rule->checks[k], &err) < 0 ||
		    (gate_judged_exists(j) &&
		     (gate_judged_record_pass(j, rn->repo, old, tip, &recorded, &err) < 0 ||
		      gate_judged_write(j, rn->repo, &err) < 0))) {
			logf_(rn, "warning: the judged record of '%s' was not updated: %s", rule->checks[k]->name,
			      gate_buf_cstr(&err));
			gate_buf_reset(&err);
		}
		gate_judged_free(j);
	}
	gate_buf_release(&err);
}

/*
 * The ledger (ledger.h): the note on the branch's new tip that post-receive
 * writes for a push, here for a landing, with the verdict of the
 * candidate's test run.
 */
static void record_ledger(struct runner *rn, const char *old, const char *tip)
{
	struct gate_buf err = GATE_BUF_INIT;
	size_t written = 0;

	if (!rn->pass_push.nr || strcmp(rn->pass_push.updates[0].old_id, old) ||
	    strcmp(rn->pass_push.updates[0].new_id, tip))
		return; /* not the run that passed this candidate */
	gate_ledger_describe(&rn->pass_v, rn->repo);
	if (gate_ledger_prepare(rn->pass_cfg, rn->repo, &rn->pass_push, &rn->pass_v, "queue", &err) < 0 ||
	    gate_ledger_record(rn->git_dir, rn->repo->git, &rn->pass_push, &written, &err) < 0)
		logf_(rn, "warning: the ledger note of %.12s was not written: %s", tip, gate_buf_cstr(&err));
	gate_buf_release(&err);
}

/*
 * Land items[0..n) whose stacked candidates are cands: move the branch
 * from `old` to the last candidate.  RETRY when an item was cancelled or
 * the branch moved meanwhile.
 */
static int land(struct runner *rn, const struct gate_rule *rule, const char *branch, const char *old,
		struct gate_queue_item **items, char (*cands)[41], size_t n)
{
	struct gate_buf err = GATE_BUF_INIT, msg = GATE_BUF_INIT;
	long ids[64];
	char *jp = gate_queue_path(rn->git_dir, "landing");
	size_t i;
	double t0 = gate_now();
	int fd = gate_queue_lock(rn->git_dir, &err), ret = RETRY, r;

	if (fd < 0)
		goto out;
	for (i = 0; i < n; i++) {
		struct gate_queue_item *cur = NULL;
		int gone = gate_queue_load(&cur, rn->git_dir, items[i]->id, &err) < 0 ||
			   gate_queue_state_final(cur->state) || !ref_exists(rn, items[i]->ref);
		gate_queue_item_free(cur);
		if (gone) {
			logf_(rn, "item %ld was cancelled while it was tested; testing again without it", items[i]->id);
			goto out;
		}
		ids[i] = items[i]->id;
	}
	if (write_journal(rn, branch, old, items, cands, n, &err) < 0)
		goto out;
	gate_buf_adds(&msg, "git-gate queue: land item");
	for (i = 0; i < n; i++)
		gate_buf_addf(&msg, "%s %ld", i ? "," : n > 1 ? "s" : "", items[i]->id);
	r = move_branch(rn, branch, old, cands[n - 1], msg.ptr, &err);
	if (r != 0) {
		unlink(jp);
		logf_(rn, "%s moved while the candidate was tested (%s); testing again", branch, gate_buf_cstr(&err));
		goto out;
	}
	record_landed(rn, ids, cands, n, old);
	unlink(jp);
	for (i = 0; i < n; i++)
		items[i]->state = GATE_QUEUE_LANDED;
	record_judged(rn, rule, items, n, old, cands[n - 1]);
	record_ledger(rn, old, cands[n - 1]);
	logf_(rn, "%s: %.12s -> %.12s (%s) in %.1f ms", branch, old, cands[n - 1], msg.ptr + strlen("git-gate queue: "),
	      (gate_now() - t0) * 1000);
	ret = DONE;
out:
	/* recorded before the lock goes: whoever waits for the verdict finds it in the log and the ledger */
	if (ret == DONE)
		audit(rn, branch, items, n, cands[n - 1], "landed", NULL);
	gate_queue_unlock(fd);
	if (ret != DONE && err.len)
		logf_(rn, "%s", err.ptr);
	free(jp);
	gate_buf_release(&err);
	gate_buf_release(&msg);
	return ret;
}

/* ---- judging ---------------------------------------------------------------- */

static void format_report(struct runner *rn, struct gate_buf *out, const struct gate_verdict *v)
{
	struct gate_report_opts ro;

	memset(&ro, 0, sizeof(ro));
	ro.prefix = "git-gate: ";
	ro.policy = rn->cfg->file ? rn->cfg->file : "built-in default";
	ro.max_findings = rn->cfg->max_findings;
	ro.hook = "queue";
	gate_report_format(out, v, &ro);
}

/*
 * gate_evaluate with a policy loaded for this evaluation alone (the
 * caller frees *cfg after the verdict): a policy is made to judge one
 * push -- a second evaluation with the same one was seen to find no new
 * commits -- as it is in the hooks.
 */
static int evaluate(struct runner *rn, struct gate_verdict *v, const struct gate_push *p, unsigned flags,
		    struct gate_config **cfg, struct gate_buf *err)
{
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_repo *repo = NULL;
	int r;

	*cfg = NULL;
	if (gate_policy_find(cfg, rn->git_dir, rn->repo->default_branch, &diag) < 0) {
		gate_error(err, "the gate's policy is invalid%s%s", diag.msgs.nr ? ": " : "",
			   diag.msgs.nr ? diag.msgs.v[0] : "");
		gate_diag_release(&diag);
		return -1;
	}
	gate_diag_release(&diag);
	if (gate_repo_open(&repo, rn->git_dir, err) < 0)
		return -1;
	r = gate_evaluate_ext(v, repo, *cfg, p, flags, err);
	gate_repo_free(repo);
	return r;
}

/*
 * The item's own commits against the branch's cheap checks (as pre-receive
 * judged them, with today's policy): 1 when they pass, 0 when rejected.
 */
static int judge_commits(struct runner *rn, struct gate_queue_item *it)
{
	struct gate_push p = GATE_PUSH_INIT;
	struct gate_verdict v;
	struct gate_config *ecfg = NULL;
	struct gate_buf err = GATE_BUF_INIT, report = GATE_BUF_INIT;
	int ok = 0;

	memset(&v, 0, sizeof(v));
	if (gate_push_add(&p, it->ref, GATE_ZERO_OID, it->tip, &err) < 0)
		goto fail;
	p.updates[0].target = gate_xstrdup(it->branch);
	p.user = gate_xstrdup(it->user);
	if (evaluate(rn, &v, &p, GATE_EVAL_NO_META, &ecfg, &err) < 0)
		goto fail;
	if (v.outcome != GATE_OUTCOME_REJECT) {
		ok = 1;
		goto out;
	}
	format_report(rn, &report, &v);
	reject(rn, it, "its commits fail the checks of its branch", &report, NULL);
	goto out;
fail:
	gate_buf_addf(&report, "git-gate: cannot judge this change: ");
	gate_buf_add_safes(&report, gate_buf_cstr(&err));
	gate_buf_adds(&report, "\ngit-gate: rejected (git-gate fails closed)\n");
	reject(rn, it, gate_buf_cstr(&err), &report, NULL);
out:
	gate_verdict_release(&v);
	gate_config_free(ecfg);
	gate_push_release(&p);
	gate_buf_release(&err);
	gate_buf_release(&report);
	return ok;
}

/*
 * Run the branch's command checks on the candidate: 1 pass, 0 fail (the
 * report in rn->last_report).
 */
static int test_candidate(struct runner *rn, const char *branch, const char *old, const char *cand,
			  struct gate_queue_item **items, size_t n)
{
	struct gate_push p = GATE_PUSH_INIT;
	struct gate_verdict v;
	struct gate_config *ecfg = NULL;
	struct gate_buf err = GATE_BUF_INIT;
	const char *user = items[0]->user;
	double t0 = gate_now();
	size_t i;
	int ok = 0;

	memset(&v, 0, sizeof(v));
	for (i = 1; i < n; i++)
		if (strcmp(items[i]->user, user))
			user = QUEUE_USER; /* several pushers: no one's exemptions apply */
	gate_buf_reset(&rn->last_report);
	rn->runs++;
	logf_(rn, "test run %ld: %s %.12s with item%s", rn->runs, branch, cand, n > 1 ? "s" : "");
	for (i = 0; i < n; i++)
		logf_(rn, "  item %ld: %s", items[i]->id, items[i]->subject ? items[i]->subject : "");
	if (gate_push_add(&p, branch, old, cand, &err) < 0)
		goto fail;
	p.user = gate_xstrdup(user);
	if (evaluate(rn, &v, &p, GATE_EVAL_NO_PROTECTION | GATE_EVAL_NO_META | GATE_EVAL_ONLY_EXPENSIVE, &ecfg,
		     &err) < 0)
		goto fail;
	ok = v.outcome != GATE_OUTCOME_REJECT;
	/* never land a candidate its command checks did not judge (fail closed) */
	for (i = 0; ok && i < v.njobs; i++)
		if ((v.jobs[i].def->type->flags & GATE_CHECK_EXPENSIVE) && !v.jobs[i].ncommits_judged) {
			gate_buf_reset(&err);
			gate_buf_addf(&err, "check '%s' judged none of the candidate's commits", v.jobs[i].def->name);
			logf_(rn, "%s: not landing it", err.ptr);
			gate_verdict_release(&v);
			ok = 0;
			goto fail;
		}
	if (!ok) {
		gate_buf_addf(&rn->last_report, "git-gate: the merge queue tested %s with %.12s on top (item%s",
			      branch_name(branch), cand, n > 1 ? "s" : "");
		for (i = 0; i < n; i++)
			gate_buf_addf(&rn->last_report, " %ld", items[i]->id);
		gate_buf_adds(&rn->last_report, "):\n");
		format_report(rn, &rn->last_report, &v);
	}
	goto out;
fail:
	gate_buf_adds(&rn->last_report, "git-gate: cannot judge the candidate: ");
	gate_buf_add_safes(&rn->last_report, gate_buf_cstr(&err));
	gate_buf_adds(&rn->last_report, "\ngit-gate: rejected (git-gate fails closed)\n");
out:
	logf_(rn, "test run %ld: %s in %.3f s", rn->runs, ok ? "passed" : "FAILED", gate_now() - t0);
	rn->last_fail_n = 0;
	if (!ok)
		for (i = 0; i < n && i < GATE_ARRAY_SIZE(rn->last_fail_ids); i++)
			rn->last_fail_ids[rn->last_fail_n++] = items[i]->id;
	audit(rn, branch, items, n, cand, ok ? "passed" : "failed", NULL);
	gate_verdict_release(&rn->pass_v);
	gate_push_release(&rn->pass_push);
	gate_config_free(rn->pass_cfg);
	rn->pass_cfg = NULL;
	if (ok && p.nr) {
		/* kept for the ledger; the verdict points into the push and the policy */
		rn->pass_push = p;
		rn->pass_v = v;
		rn->pass_cfg = ecfg;
		memset(&p, 0, sizeof(p));
		memset(&v, 0, sizeof(v));
		ecfg = NULL;
	}
	gate_verdict_release(&v);
	gate_config_free(ecfg);
	gate_push_release(&p);
	gate_buf_release(&err);
	return ok;
}

/*
 * Test items[0..n) stacked on the branch; land them when they pass, else
 * bisect.  `known_fail`: the report of a run this exact stack is known to
 * fail (its prefix landed and the whole failed), so it is split without a
 * run of its own; NULL when unknown.
 */
static int process(struct runner *rn, const struct gate_rule *rule, const char *branch,
		   struct gate_queue_item **items, size_t n, const struct gate_buf *known_fail)
{
	char old[41], (*cands)[41] = NULL;
	struct gate_buf why = GATE_BUF_INIT, err = GATE_BUF_INIT, mine = GATE_BUF_INIT;
	size_t i, k, h;
	int ret = DONE, r, all;
	double t0 = gate_now();

	while (n) {
		r = read_branch(rn, branch, old, &err);
		if (r < 0) {
			logf_(rn, "%s", err.ptr);
			ret = RETRY;
			goto out;
		}
		if (r == GATE_ENOTFOUND) {
			for (i = 0; i < n; i++)
				reject(rn, items[i], "its branch does not exist (any more)", NULL, NULL);
			goto out;
		}
		free(cands);
		cands = gate_xcalloc(n, sizeof(*cands));
		for (k = 0; k < n; k++) {
			gate_buf_reset(&why);
			r = apply_item(rn, rule, k ? cands[k - 1] : old, items[k], cands[k], &why, &err);
			if (r < 0) {
				gate_buf_reset(&why);
				gate_buf_addf(&why, "cannot build the candidate: %s", gate_buf_cstr(&err));
			}
			if (r != APPLY_OK)
				break;
		}
		if (k == 0) {
			/* the first item cannot apply to the branch itself: decided */
			reject(rn, items[0], why.ptr, NULL, NULL);
			items++;
			n--;
			known_fail = NULL;
			continue;
		}
		if (k < n) {
			/* it may apply once those before it are decided: later */
			n = k;
			known_fail = NULL;
		}
		break;
	}
	if (!n)
		goto out;
	logf_(rn, "candidate of %zu item%s built in %.1f ms (commits replayed so far: %ld by tree update, %ld by "
	      "cherry-pick)", n, n > 1 ? "s" : "", (gate_now() - t0) * 1000, rn->fast_picks, rn->slow_picks);
	if (!known_fail) {
		if (mark_testing(rn, items, n) == RETRY) {
			ret = RETRY;
			goto out;
		}
		if (test_candidate(rn, branch, old, cands[n - 1], items, n)) {
			ret = land(rn, rule, branch, old, items, cands, n);
			goto out;
		}
		gate_buf_add(&mine, rn->last_report.ptr, rn->last_report.len);
		known_fail = &mine;
	}
	if (n == 1) {
		struct gate_buf rep = GATE_BUF_INIT;
		if (known_fail != &mine)
			gate_buf_addf(&rep, "git-gate: found by bisecting a failed batch: %s with this change on top "
				      "is the tree that failed\n", branch_name(branch));
		gate_buf_add(&rep, known_fail->ptr, known_fail->len);
		reject(rn, items[0], "the checks failed on it, applied to its branch", &rep, cands[0]);
		gate_buf_release(&rep);
		goto out;
	}
	/* bisect: the first half on its own, then the rest */
	h = n / 2;
	logf_(rn, "bisecting %zu items: %zu, then %zu", n, h, n - h);
	ret = process(rn, rule, branch, items, h, NULL);
	if (ret == RETRY)
		goto out;
	for (all = 1, i = 0; i < h; i++)
		if (items[i]->state != GATE_QUEUE_LANDED)
			all = 0;
	ret = process(rn, rule, branch, items + h, n - h, all ? known_fail : NULL);
out:
	free(cands);
	gate_buf_release(&mine);
	gate_buf_release(&why);
	gate_buf_release(&err);
	return ret;
}

/* ---- the loop ----------------------------------------------------------------- */

static int load_policy(struct runner *rn, struct gate_buf *err)
{
	struct gate_diag diag = GATE_DIAG_INIT;

	gate_config_free(rn->cfg);
	rn->cfg = NULL;
	if (gate_policy_find(&rn->cfg, rn->git_dir, rn->repo->default_branch, &diag) < 0) {
		gate_error(err, "the gate's policy is invalid%s%s", diag.msgs.nr ? ": " : "",
			   diag.msgs.nr ? diag.msgs.v[0] : "");
		gate_diag_release(&diag);
		return -1;
	}
	gate_diag_release(&diag);
	return 0;
}

/*
 * An undecided item whose ref is gone was cancelled by its pusher
 * (`git push origin --delete refs/gate-queue/<branch>/<N>`).  Under the
 * queue lock.
 */
static void cancel_deleted(struct runner *rn, struct gate_queue_item **all, size_t n)
{
	struct gate_buf err = GATE_BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++) {
		struct gate_queue_item *it = all[i];
		if (gate_queue_state_final(it->state) || ref_exists(rn, it->ref))
			continue;
		gate_queue_mark_withdrawn(it);
		if (gate_queue_save(rn->git_dir, it, &err) < 0) {
			logf_(rn, "%s", err.ptr);
			gate_buf_reset(&err);
		}
		logf_(rn, "item %ld %s", it->id, it->reason);
		audit(rn, it->branch, &it, 1, NULL, "cancelled", it->reason);
	}
	gate_buf_release(&err);
}

/*
 * Decided items are kept for `git gate queue` for QUEUE_KEEP_DAYS, then
 * their files go, so that the hook's look at the queue stays cheap.
 * Under the queue lock.
 */
#define QUEUE_KEEP_DAYS 30
static void prune_decided(struct runner *rn, struct gate_queue_item **all, size_t n)
{
	int64_t cutoff = (int64_t)time(NULL) - (int64_t)QUEUE_KEEP_DAYS * 24 * 3600;
	size_t i;

	for (i = 0; i < n; i++) {
		char *p;
		if (!gate_queue_state_final(all[i]->state) || !all[i]->decided || all[i]->decided >= cutoff)
			continue;
		p = gate_queue_report_path(rn->git_dir, all[i]->id);
		unlink(p);
		free(p);
		p = gate_xstrfmt("%s/git-gate/queue/items/decided/%ld", rn->git_dir, all[i]->id);
		unlink(p);
		free(p);
	}
}

/*
 * One round: the first undecided item's branch, up to queue_batch of its
 * undecided items.  *idle when there was nothing to do; then, with
 * `release_fd` >= 0, the runner lock is released while the queue lock is
 * still held, so that an item queued right after is seen by a new runner.
 */
static int round_(struct runner *rn, int *idle, int *release_fd, struct gate_buf *err)
{
	struct gate_queue_item **all = NULL, **batch = NULL;
	size_t nall = 0, n = 0, i;
	const struct gate_rule *rule;
	const char *branch = NULL;
	int fd, ret = -1, ok;
	struct gate_buf policy_err = GATE_BUF_INIT;
	double t0;

	*idle = 0;
	fd = gate_queue_lock(rn->git_dir, err);
	if (fd < 0)
		return -1;
	recover(rn);
	if (gate_queue_list(&all, &nall, rn->git_dir, 0, err) < 0) {
		gate_queue_unlock(fd);
		return -1;
	}
	cancel_deleted(rn, all, nall);
	for (i = 0; i < nall; i++)
		if (!gate_queue_state_final(all[i]->state))
			break;
	if (i == nall) {
		struct gate_queue_item **decided = NULL;
		size_t ndecided = 0;

		*idle = 1;
		if (gate_queue_list(&decided, &ndecided, rn->git_dir, 1, err) == 0)
			prune_decided(rn, decided, ndecided);
		gate_queue_items_free(decided, ndecided);
		if (release_fd && *release_fd >= 0) {
			close(*release_fd);
			*release_fd = -1;
		}
		gate_queue_unlock(fd);
		ret = 0;
		goto out;
	}
	gate_queue_unlock(fd);
	branch = all[i]->branch;
	if (load_policy(rn, &policy_err) < 0) {
		logf_(rn, "%s", policy_err.ptr);
		for (; i < nall; i++)
			if (!gate_queue_state_final(all[i]->state))
				reject(rn, all[i], policy_err.ptr, NULL, NULL);
		ret = 0;
		goto out;
	}
	rule = gate_config_rule_for(rn->cfg, branch);
	batch = gate_xcalloc(nall + 1, sizeof(*batch));
	for (; i < nall; i++) {
		struct gate_queue_item *it = all[i];
		if (gate_queue_state_final(it->state) || strcmp(it->branch, branch))
			continue;
		if (!rule || !rule->queue || rule->mode == GATE_MODE_OFF) {
			reject(rn, it, "the policy no longer queues changes for this branch: push to it directly", NULL,
			       NULL);
			continue;
		}
		if ((long)n >= rule->queue_batch || n >= 64)
			break;
		t0 = gate_now();
		ok = judge_commits(rn, it);
		logf_(rn, "item %ld: its commits judged in %.1f ms%s", it->id, (gate_now() - t0) * 1000,
		      ok ? "" : " (rejected)");
		if (!ok)
			continue;
		batch[n++] = it;
	}
	/* something changed under the runner (a cancel, a direct push): a
	 * moment's pause keeps a lasting cause from spinning the loop */
	if (n && process(rn, rule, branch, batch, n, NULL) == RETRY)
		usleep(200000);
	ret = 0;
out:
	free(batch);
	gate_queue_items_free(all, nall);
	gate_buf_release(&policy_err);
	return ret;
}

/*
 * One round in a child process of its own: nothing one round leaves in
 * memory (libgit2's caches, a check's state) reaches the next, and a
 * round that crashes costs only itself.  The exit status is the number
 * of test runs (at most 200).
 */
static int round_in_child(const char *git_dir, const struct gate_queue_run_opts *o, long *runs)
{
	pid_t pid;
	int status = 0;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct runner rn;
		struct gate_buf err = GATE_BUF_INIT;
		int idle = 0;

		memset(&rn, 0, sizeof(rn));
		rn.o = o;
		if (gate_repo_open(&rn.repo, git_dir, &err) < 0) {
			fprintf(stderr, "git-gate queue: %s\n", err.ptr);
			_exit(255);
		}
		rn.git_dir = rn.repo->git_dir;
		if (round_(&rn, &idle, NULL, &err) < 0)
			logf_(&rn, "error: %s", gate_buf_cstr(&err));
		refresh_site(&rn); /* what the round decided */
		gate_verdict_release(&rn.pass_v);
		gate_push_release(&rn.pass_push);
		gate_config_free(rn.pass_cfg);
		gate_config_free(rn.cfg);
		gate_repo_free(rn.repo);
		gate_buf_release(&rn.last_report);
		gate_buf_release(&err);
		_exit(rn.runs > 200 ? 200 : (int)rn.runs);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) != 255) {
		*runs += WEXITSTATUS(status);
		return 0;
	}
	return -1;
}

int gate_queue_run(const char *git_dir, const struct gate_queue_run_opts *o, struct gate_buf *err)
{
	struct runner rn; /* for the log and pruning only: the rounds run in children */
	char *lp = gate_queue_path(git_dir, "runner.lock"), *pp = gate_queue_path(git_dir, "runner.pid");
	struct gate_buf pid = GATE_BUF_INIT;
	long runs = 0;
	int rfd, ret = -1;

	memset(&rn, 0, sizeof(rn));
	rn.o = o;
	rn.git_dir = git_dir;
	rfd = gate_queue_lock_file(git_dir, lp, !o->once && !o->nowait, err);
	if (rfd == GATE_ENOTFOUND) {
		ret = 1;
		goto out;
	}
	if (rfd < 0)
		goto out;
	gate_buf_addf(&pid, "%ld\n", (long)getpid());
	(void)gate_queue_write_file(git_dir, pp, pid.ptr, pid.len, err);
	logf_(&rn, "runner started for %s", git_dir);
	for (;;) {
		struct gate_queue_item **items = NULL;
		size_t n = 0;
		int qfd = gate_queue_lock(git_dir, err);

		if (qfd < 0 || gate_queue_list(&items, &n, git_dir, 0, err) < 0) {
			gate_queue_unlock(qfd);
			logf_(&rn, "error: %s", gate_buf_cstr(err));
			goto out;
		}
		gate_queue_items_free(items, n);
		if (!n) {
			struct gate_queue_item **decided = NULL;
			size_t nd = 0;

			if (gate_queue_list(&decided, &nd, git_dir, 1, err) == 0)
				prune_decided(&rn, decided, nd);
			gate_queue_items_free(decided, nd);
			if (o->once) {
				/* released under the queue lock: an item queued right
				 * after finds no runner and starts one */
				close(rfd);
				rfd = -1;
				gate_queue_unlock(qfd);
				break;
			}
			gate_queue_unlock(qfd);
			sleep(1);
			continue;
		}
		gate_queue_unlock(qfd);
		if (round_in_child(git_dir, o, &runs) < 0) {
			logf_(&rn, "a round of the runner failed; trying again in a moment");
			sleep(1);
		}
	}
	logf_(&rn, "queue empty after %ld test run(s); runner exits", runs);
	ret = 0;
out:
	if (rfd >= 0)
		close(rfd);
	gate_buf_release(&pid);
	free(lp);
	free(pp);
	return ret;
}
