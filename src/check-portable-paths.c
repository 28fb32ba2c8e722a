#include "config.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "glob.h"
#include "oidmap.h"
#include "paths.h"
#include "policy.h"
#include "repo.h"
#include "scan.h"

#include "banned.h"

/*
 * portable-paths: paths a commit adds that cannot be checked out, or not
 * faithfully, on another system: names that differ only in case from a
 * sibling (Windows and macOS keep one of them), Windows device names,
 * characters and trailing dots or spaces, control characters, invalid
 * UTF-8, over-long paths and components, and ".git" in any disguise.
 *
 * Only added paths are judged, so a path that was already there before
 * the gate was installed can still be edited.  Case collisions are looked
 * up in the new commit's tree: for each component of an added path that
 * is new in its directory (absent from the first parent's tree there),
 * the directory's other entries are compared with it after case folding.
 * A collision that already existed in the parent is not reported again.
 *
 * The trees are read with libgit2, through a repository handle of this
 * check's own, opened on first use and used by the change hook alone,
 * which runs on the main thread only: no lock is shared with the hooks
 * that run on the blob thread.
 */

struct port_check {
	int casefold, windows, control, utf8, dotgit;
	struct gate_path_limits lim;
	struct gate_strvec allow;
};

static void port_free(void *data)
{
	struct port_check *m = data;

	if (!m)
		return;
	gate_strvec_clear(&m->allow);
	free(m);
}

static int port_parse(void **data, struct gate_conf_group *g)
{
	struct port_check *m = gate_xcalloc(1, sizeof(*m));
	long long max_path = 4096, max_comp = 255;
	int bad = 0;

	m->casefold = m->windows = m->control = m->utf8 = m->dotgit = 1;
	/* no short-circuits: every key must be looked at to be known */
	bad |= gate_conf_bool(g, "case", &m->casefold) < 0;
	bad |= gate_conf_bool(g, "windows", &m->windows) < 0;
	bad |= gate_conf_bool(g, "control", &m->control) < 0;
	bad |= gate_conf_bool(g, "utf8", &m->utf8) < 0;
	bad |= gate_conf_bool(g, "dotgit", &m->dotgit) < 0;
	bad |= gate_conf_int(g, "max_path_length", &max_path) < 0;
	bad |= gate_conf_int(g, "max_component_length", &max_comp) < 0;
	bad |= gate_conf_globs(g, "allow", &m->allow) < 0;
	if (max_path < 0 || max_comp < 0) {
		gate_conf_error(g, NULL, "max_path_length and max_component_length must not be negative");
		bad = 1;
	}
	m->lim.max_path = (size_t)max_path;
	m->lim.max_component = (size_t)max_comp;
	if (bad) {
		port_free(m);
		return -1;
	}
	*data = m;
	return 0;
}

/* ---- case collisions ---- */

/* A tree's entries sorted by folded name, built when first needed. */
struct folded_entry {
	char *folded;
	const char *name; /* owned by the git_tree */
};

struct tree_node {
	git_tree *tree;
	struct folded_entry *fold;
	size_t nfold;
	int folded;
};

/* Per push: trees of the commit being judged, what was reported for it. */
struct port_state {
	struct gate_repo *repo;
	char commit[41];            /* the commit the maps below are about */
	char parent_tree[41];       /* its first parent's tree, "" for a root commit */
	struct gate_oidmap trees;   /* tree id -> struct tree_node */
	struct tree_node **nodes;
	size_t nnodes, alloc;
	struct gate_oidmap reported; /* "DIR/FOLDED" keys reported for this commit */
};

static void clear_commit(struct port_state *st)
{
	size_t i, j;

	for (i = 0; i < st->nnodes; i++) {
		struct tree_node *n = st->nodes[i];
		for (j = 0; j < n->nfold; j++)
			free(n->fold[j].folded);
		free(n->fold);
		git_tree_free(n->tree);
		free(n);
	}
	st->nnodes = 0;
	gate_oidmap_release(&st->trees);
	gate_oidmap_release(&st->reported);
	st->commit[0] = '\0';
}

static void port_state_free(void *data)
{
	struct port_state *st = data;

	clear_commit(st);
	free(st->nodes);
	gate_repo_free(st->repo);
	free(st);
}

static int load_tree(struct port_state *st, const git_oid *oid, struct tree_node **out, struct gate_buf *err)
{
	char hex[41];
	struct tree_node *n;

	git_oid_tostr(hex, sizeof(hex), oid);
	if ((n = gate_oidmap_get(&st->trees, hex))) {
		*out = n;
		return 0;
	}
	n = gate_xcalloc(1, sizeof(*n));
	if (git_tree_lookup(&n->tree, st->repo->git, oid) < 0) {
		free(n);
		return gate_error(err, "cannot read tree %s: %s", hex, gate_git_error());
	}
	gate_oidmap_put(&st->trees, hex, n);
	GATE_ALLOC_GROW(st->nodes, st->nnodes + 1, st->alloc);
	st->nodes[st->nnodes++] = n;
	*out = n;
	return 0;
}

static int cmp_folded(const void *a, const void *b)
{
	return strcmp(((const struct folded_entry *)a)->folded, ((const struct folded_entry *)b)->folded);
}

static void fold_tree(struct tree_node *n)
{
	size_t i, count = git_tree_entrycount(n->tree);
	struct gate_buf b = GATE_BUF_INIT;

	n->fold = gate_xcalloc(count + 1, sizeof(*n->fold));
	for (i = 0; i < count; i++) {
		const char *name = git_tree_entry_name(git_tree_entry_byindex(n->tree, i));
		gate_buf_reset(&b);
		gate_path_fold(&b, name, strlen(name));
		n->fold[i].folded = gate_xstrdup(gate_buf_cstr(&b));
		n->fold[i].name = name;
	}
	n->nfold = count;
	qsort(n->fold, count, sizeof(*n->fold), cmp_folded);
	n->folded = 1;
	gate_buf_release(&b);
}

/* Start judging commit `c`: forget the previous commit's trees, find the parent's tree. */
static int begin_commit(const struct gate_check_run *run, struct port_state *st, const struct gate_commit *c)
{
	const struct gate_commit *pc;
	git_commit *gc = NULL;
	git_oid oid;

	clear_commit(st);
	memcpy(st->commit, c->id, 41);
	st->parent_tree[0] = '\0';
	if (!c->nparents)
		return 0;
	pc = gate_scan_commit(run->scan, c->parents[0]);
	if (pc && pc->tree[0]) {
		memcpy(st->parent_tree, pc->tree, 41);
		return 0;
	}
	if (git_oid_fromstr(&oid, c->parents[0]) < 0 || git_commit_lookup(&gc, st->repo->git, &oid) < 0) {
		st->commit[0] = '\0';
		return gate_error(run->err, "cannot read commit %s: %s", c->parents[0], gate_git_error());
	}
	git_oid_tostr(st->parent_tree, sizeof(st->parent_tree), git_commit_tree_id(gc));
	git_commit_free(gc);
	return 0;
}

static void report_collision(const struct gate_commit *c, const char *path, size_t plen, const struct tree_node *n,
			     size_t lo, size_t hi, const char *name, struct gate_findings *out)
{
	struct gate_buf msg = GATE_BUF_INIT, self = GATE_BUF_INIT;
	size_t dirlen = plen - strlen(name), k, others = 0;

	gate_buf_add(&self, path, plen);
	gate_buf_addf(&msg, "'%s' and ", self.ptr);
	for (k = lo; k < hi; k++) {
		if (!strcmp(n->fold[k].name, name))
			continue;
		gate_buf_addf(&msg, "%s'%.*s%s'", others ? ", " : "", (int)dirlen, path, n->fold[k].name);
		others++;
	}
	gate_buf_adds(&msg, " differ only in case: a case-insensitive file system (Windows, macOS) keeps only one");
	gate_findings_add(out, c, self.ptr, 0,
			  "rename one of them (git mv) and rewrite the commit that adds it (git commit --amend, or "
			  "git rebase -i)",
			  "%s", msg.ptr);
	gate_buf_release(&msg);
	gate_buf_release(&self);
}

/* Find the entries of `n` that fold like `name`: [lo, hi) in n->fold. */
static size_t fold_range(struct tree_node *n, const char *folded, size_t *lo)
{
	size_t a = 0, b, hi;

	if (!n->folded)
		fold_tree(n);
	b = n->nfold;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (strcmp(n->fold[mid].folded, folded) < 0)
			a = mid + 1;
		else
			b = mid;
	}
	for (hi = a; hi < n->nfold && !strcmp(n->fold[hi].folded, folded); hi++)
		;
	*lo = a;
	return hi;
}

static int case_check(const struct gate_check_run *run, const struct gate_commit *c, const char *path,
		      struct gate_findings *out)
{
	struct port_state *st = gate_scan_check_state(run->scan, run->def);
	struct tree_node *cur = NULL, *old = NULL;
	struct gate_buf comp = GATE_BUF_INIT, key = GATE_BUF_INIT;
	git_oid oid;
	const char *p = path;
	int ret = -1;

	if (!st) {
		st = gate_xcalloc(1, sizeof(*st));
		if (gate_repo_open(&st->repo, gate_scan_repo(run->scan)->git_dir, run->err) < 0) {
			free(st);
			return -1;
		}
		gate_scan_set_check_state(run->scan, run->def, st, port_state_free);
	}
	if (strcmp(st->commit, c->id) && begin_commit(run, st, c) < 0)
		return -1;
	if (git_oid_fromstr(&oid, c->tree) < 0 || load_tree(st, &oid, &cur, run->err) < 0)
		goto out;
	if (st->parent_tree[0] &&
	    (git_oid_fromstr(&oid, st->parent_tree) < 0 || load_tree(st, &oid, &old, run->err) < 0))
		goto out;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		const git_tree_entry *ne, *oe = NULL;

		gate_buf_reset(&comp);
		gate_buf_add(&comp, p, n);
		if (old)
			oe = git_tree_entry_byname(old->tree, comp.ptr);
		if (!oe) {
			/* a name new in this directory: does it fold like a sibling? */
			size_t lo, hi;
			gate_buf_reset(&key);
			gate_buf_add(&key, path, (size_t)(p - path));
			gate_path_fold(&key, comp.ptr, comp.len);
			hi = fold_range(cur, key.ptr + (p - path), &lo);
			if (hi - lo > 1 && !gate_oidmap_get(&st->reported, key.ptr)) {
				gate_oidmap_put(&st->reported, key.ptr, st);
				report_collision(c, path, (size_t)(p - path) + n, cur, lo, hi, comp.ptr, out);
			}
		}
		if (!slash)
			break;
		ne = git_tree_entry_byname(cur->tree, comp.ptr);
		if (!ne || git_tree_entry_type(ne) != GIT_OBJECT_TREE) {
			gate_error(run->err, "commit %s: '%s' is not a directory in its tree", c->id, comp.ptr);
			goto out;
		}
		if (load_tree(st, git_tree_entry_id(ne), &cur, run->err) < 0)
			goto out;
		old = NULL;
		if (oe && git_tree_entry_type(oe) == GIT_OBJECT_TREE &&
		    load_tree(st, git_tree_entry_id(oe), &old, run->err) < 0)
			goto out;
		p = slash + 1;
	}
	ret = 0;
out:
	gate_buf_release(&comp);
	gate_buf_release(&key);
	return ret;
}

/* ---- names ---- */

static const char *const fix_rename =
	"rename it (git mv) and rewrite the commit that adds it (git commit --amend, or git rebase -i)";

static void report_problem(const struct gate_commit *c, const char *path, const struct gate_path_problem *pr,
			   const struct port_check *m, struct gate_findings *out)
{
	int cl = (int)pr->len;
	const char *comp = path + pr->start;
	unsigned char ch = (unsigned char)path[pr->at];

	switch (pr->kind) {
	case GATE_PATH_DOTGIT:
		gate_findings_add(out, c, path, 0, fix_rename,
				  "component '%.*s' is read as '.git' by git or by Windows/macOS file systems; git "
				  "refuses to check it out",
				  cl, comp);
		break;
	case GATE_PATH_RESERVED:
		gate_findings_add(out, c, path, 0, fix_rename,
				  "component '%.*s' is a reserved device name on Windows and cannot be checked out there",
				  cl, comp);
		break;
	case GATE_PATH_BAD_CHAR:
		gate_findings_add(out, c, path, 0, fix_rename,
				  "component '%.*s' contains '%c', which Windows does not allow in file names", cl, comp,
				  ch);
		break;
	case GATE_PATH_CONTROL:
		gate_findings_add(out, c, path, 0, fix_rename,
				  "path contains the control character 0x%02x, which breaks tools and Windows checkouts",
				  ch);
		break;
	case GATE_PATH_TRAILING:
		gate_findings_add(out, c, path, 0, fix_rename,
				  "component '%.*s' ends in a %s, which Windows drops from file names", cl, comp,
				  ch == '.' ? "dot" : "space");
		break;
	case GATE_PATH_UTF8:
		gate_findings_add(out, c, path, 0, "rename it to a UTF-8 name (git mv) and rewrite the commit that adds it "
						   "(git commit --amend, or git rebase -i)",
				  "path is not valid UTF-8 (byte 0x%02x at offset %zu): other systems show or store it "
				  "differently",
				  ch, pr->at);
		break;
	case GATE_PATH_LONG:
		gate_findings_add(out, c, path, 0, "shorten the path (git mv) and rewrite the commit that adds it",
				  "path is %zu bytes long, more than the %zu allowed (max_path_length)", pr->len,
				  m->lim.max_path);
		break;
	case GATE_PATH_LONG_COMPONENT:
		gate_findings_add(out, c, path, 0, "shorten the name (git mv) and rewrite the commit that adds it",
				  "a component is %zu bytes long, more than the %zu allowed (max_component_length)",
				  pr->len, m->lim.max_component);
		break;
	}
}

static int port_change(const struct gate_check_run *run, const struct gate_commit *c, const struct gate_change *ch,
		       struct gate_findings *out)
{
	const struct port_check *m = run->data;
	struct gate_path_problem pr[GATE_PATH_MAX_PROBLEMS];
	unsigned kinds = GATE_PATH_LONG | GATE_PATH_LONG_COMPONENT;
	size_t i, n;

	if (ch->kind != GATE_CHANGE_ADD)
		return 0;
	for (i = 0; i < m->allow.nr; i++)
		if (gate_glob_match_path(m->allow.v[i], ch->path, 0))
			return 0;
	if (m->dotgit)
		kinds |= GATE_PATH_DOTGIT;
	if (m->windows)
		kinds |= GATE_PATH_RESERVED | GATE_PATH_BAD_CHAR | GATE_PATH_TRAILING;
	if (m->control)
		kinds |= GATE_PATH_CONTROL;
	if (m->utf8)
		kinds |= GATE_PATH_UTF8;
	n = gate_path_problems(ch->path, strlen(ch->path), kinds, &m->lim, pr);
	for (i = 0; i < n; i++)
		report_problem(c, ch->path, &pr[i], m, out);
	if (m->casefold && run->scan)
		return case_check(run, c, ch->path, out);
	return 0;
}

const struct gate_check_type gate_check_portable_paths = {
	.name = "portable-paths",
	.summary = "paths every system can check out: case collisions, Windows names, UTF-8, length, .git",
	.parse = port_parse,
	.free = port_free,
	.change = port_change,
};
