#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "glob.h"
#include "oidmap.h"
#include "paths.h"
#include "policy.h"
#include "repo.h"
#include "run-command.h"
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
 * The trees are read by a `git cat-file --batch` of this check's own,
 * started on first use and used by the change hook alone, which runs on
 * the main thread only: nothing is shared with the hooks that run on the
 * blob thread.  Only the directories that receive a new name are read.
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

/*
 * Trees are read through a `git cat-file --batch` of this check's own,
 * started on first use: git resolves deltas several times faster than
 * libgit2 1.5, the pack pages it touches count against its memory rather
 * than the hook's, and nothing is shared with the hooks on the blob thread.
 */

struct tree_entry {
	const char *name; /* NUL-terminated inside the node's data */
	size_t len;
	unsigned mode;
	char id[41];
};

struct tree_node {
	char *data;
	struct tree_entry *e;
	size_t n;
};

/* Trees read for one commit, by id. */
struct tree_set {
	struct gate_oidmap map; /* tree id -> struct tree_node */
	struct tree_node **nodes;
	size_t nr, alloc;
};

/*
 * Per push: the reader, the trees of the commit being judged and of the
 * one before (in a linear series its trees are this commit's parent
 * trees), and what was reported for the commit.
 */
struct port_state {
	struct gate_child cf;
	struct gate_buf in; /* buffered output of git cat-file */
	size_t pos;
	char commit[41];      /* the commit `cur` and `reported` are about */
	char parent_tree[41]; /* its first parent's tree, "" for a root commit */
	struct tree_set sets[2];
	struct tree_set *cur, *prev;
	struct gate_oidmap reported; /* "DIR/FOLDED" keys reported for this commit */
};

static void tree_set_clear(struct tree_set *ts)
{
	size_t i;

	for (i = 0; i < ts->nr; i++) {
		free(ts->nodes[i]->data);
		free(ts->nodes[i]->e);
		free(ts->nodes[i]);
	}
	ts->nr = 0;
	gate_oidmap_release(&ts->map);
}

/* A new commit: its trees become the previous ones, the older ones go. */
static void next_commit(struct port_state *st)
{
	struct tree_set *t = st->prev;

	tree_set_clear(t);
	st->prev = st->cur;
	st->cur = t;
	gate_oidmap_release(&st->reported);
	st->commit[0] = '\0';
}

static void port_state_free(void *data)
{
	struct port_state *st = data;
	int status;

	tree_set_clear(&st->sets[0]);
	tree_set_clear(&st->sets[1]);
	free(st->sets[0].nodes);
	free(st->sets[1].nodes);
	gate_oidmap_release(&st->reported);
	close(st->cf.in);
	close(st->cf.out);
	gate_child_finish(&st->cf, &status, NULL);
	gate_buf_release(&st->in);
	free(st);
}

static int state_get(const struct gate_check_run *run, struct port_state **out)
{
	static const char *const argv[] = { "git", "cat-file", "--batch", NULL };
	struct port_state *st = gate_scan_check_state(run->scan, run->def);

	if (!st) {
		st = gate_xcalloc(1, sizeof(*st));
		st->cur = &st->sets[0];
		st->prev = &st->sets[1];
		st->cf = (struct gate_child)GATE_CHILD_INIT;
		st->cf.argv = argv;
		st->cf.env = gate_strvec_argv(&gate_scan_repo(run->scan)->env);
		st->cf.in = -1;
		st->cf.out = -1;
		if (gate_child_start(&st->cf, run->err) < 0) {
			free(st);
			return -1;
		}
		gate_scan_set_check_state(run->scan, run->def, st, port_state_free);
	}
	*out = st;
	return 0;
}

static int cf_fill(struct port_state *st)
{
	ssize_t r;

	if (st->pos) {
		memmove(st->in.ptr, st->in.ptr + st->pos, st->in.len - st->pos);
		st->in.len -= st->pos;
		st->pos = 0;
	}
	gate_buf_grow(&st->in, 65536);
	do {
		r = read(st->cf.out, st->in.ptr + st->in.len, 65536);
	} while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	st->in.len += (size_t)r;
	return 0;
}

/* Read object `id`, which must be of type `type`, into `out`. */
static int cf_read(struct port_state *st, const char *id, const char *type, struct gate_buf *out,
		   struct gate_buf *err)
{
	char req[41], *nl, *sp, *e;
	size_t tl = strlen(type);
	unsigned long long size;

	memcpy(req, id, 40);
	req[40] = '\n';
	if (gate_write_all(st->cf.in, req, sizeof(req)) < 0)
		return gate_error(err, "cannot read %s %s: git cat-file: %s", type, id, strerror(errno));
	for (;;) {
		if (st->in.len > st->pos && (nl = memchr(st->in.ptr + st->pos, '\n', st->in.len - st->pos)))
			break;
		if (cf_fill(st) < 0)
			return gate_error(err, "cannot read %s %s: git cat-file ended early", type, id);
	}
	/* "<id> <type> <size>", or "<id> missing" */
	sp = st->in.ptr + st->pos + 40;
	if (nl - (st->in.ptr + st->pos) < 42 || memcmp(st->in.ptr + st->pos, id, 40) || *sp != ' ' ||
	    strncmp(sp + 1, type, tl) || sp[1 + tl] != ' ')
		return gate_error(err, "cannot read %s %s: not found or not a %s", type, id, type);
	size = strtoull(sp + 2 + tl, &e, 10);
	if (e != nl)
		return gate_error(err, "cannot read %s %s: unexpected output from git cat-file", type, id);
	st->pos = (size_t)(nl + 1 - st->in.ptr);
	while (st->in.len - st->pos < size + 1)
		if (cf_fill(st) < 0)
			return gate_error(err, "cannot read %s %s: git cat-file ended early", type, id);
	gate_buf_reset(out);
	gate_buf_add(out, st->in.ptr + st->pos, (size_t)size);
	st->pos += (size_t)size + 1;
	return 0;
}

static void hex20(char out[41], const unsigned char *raw)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 20; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[40] = '\0';
}

/* Entries "<octal mode> <name>\0<20-byte id>". */
static int parse_tree(struct tree_node *n, size_t len)
{
	const char *p = n->data, *end = n->data + len;
	size_t alloc = 0;

	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p)), *nul;
		struct tree_entry *te;
		unsigned mode = 0;

		if (!sp || sp == p || !(nul = memchr(sp + 1, '\0', (size_t)(end - sp - 1))) || end - nul < 21)
			return -1;
		for (; p < sp; p++) {
			if (*p < '0' || *p > '7')
				return -1;
			mode = mode * 8 + (unsigned)(*p - '0');
		}
		GATE_ALLOC_GROW(n->e, n->n + 1, alloc);
		te = &n->e[n->n++];
		te->name = sp + 1;
		te->len = (size_t)(nul - sp - 1);
		te->mode = mode;
		hex20(te->id, (const unsigned char *)nul + 1);
		p = nul + 21;
	}
	return 0;
}

static int load_tree(struct port_state *st, const char *id, struct tree_node **out, struct gate_buf *err)
{
	struct gate_buf data = GATE_BUF_INIT;
	struct tree_node *n;
	size_t len;

	if ((n = gate_oidmap_get(&st->cur->map, id)) || (n = gate_oidmap_get(&st->prev->map, id))) {
		*out = n; /* a previous commit's tree lives until the next commit starts */
		return 0;
	}
	if (cf_read(st, id, "tree", &data, err) < 0) {
		gate_buf_release(&data);
		return -1;
	}
	n = gate_xcalloc(1, sizeof(*n));
	len = data.len;
	n->data = gate_buf_detach(&data);
	if (parse_tree(n, len) < 0) {
		free(n->data);
		free(n->e);
		free(n);
		return gate_error(err, "tree %s is malformed", id);
	}
	gate_oidmap_put(&st->cur->map, id, n);
	GATE_ALLOC_GROW(st->cur->nodes, st->cur->nr + 1, st->cur->alloc);
	st->cur->nodes[st->cur->nr++] = n;
	*out = n;
	return 0;
}

static const struct tree_entry *entry_byname(const struct tree_node *n, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < n->n; i++)
		if (n->e[i].len == len && !memcmp(n->e[i].name, name, len))
			return &n->e[i];
	return NULL;
}

#define MODE_IS_TREE(m) (((m) & 0170000) == 0040000)

/* Start judging commit `c`: forget the previous commit's trees, find the parent's tree. */
static int begin_commit(const struct gate_check_run *run, struct port_state *st, const struct gate_commit *c)
{
	const struct gate_commit *pc;
	struct gate_buf data = GATE_BUF_INIT;

	next_commit(st);
	st->parent_tree[0] = '\0';
	if (c->nparents) {
		pc = gate_scan_commit(run->scan, c->parents[0]);
		if (pc && pc->tree[0]) {
			memcpy(st->parent_tree, pc->tree, 41);
		} else {
			if (cf_read(st, c->parents[0], "commit", &data, run->err) < 0) {
				gate_buf_release(&data);
				return -1;
			}
			if (data.len < 46 || memcmp(data.ptr, "tree ", 5) || data.ptr[45] != '\n') {
				gate_buf_release(&data);
				return gate_error(run->err, "commit %s has no tree line", c->parents[0]);
			}
			memcpy(st->parent_tree, data.ptr + 5, 40);
			st->parent_tree[40] = '\0';
			gate_buf_release(&data);
		}
	}
	memcpy(st->commit, c->id, 41);
	return 0;
}

/*
 * The other entries of `n` whose names fold like `name` (len bytes), whose
 * folded form is in `folded`.  Folding keeps lengths (paths.h), so only
 * names of the same length are folded and compared: no directory is
 * folded or sorted as a whole.
 */
static void case_twins(const struct tree_node *n, const char *name, size_t len, const char *folded,
		       struct gate_strvec *out, struct gate_buf *tmp)
{
	size_t i;

	for (i = 0; i < n->n; i++) {
		const struct tree_entry *e = &n->e[i];
		if (e->len != len || !memcmp(e->name, name, len))
			continue;
		gate_buf_reset(tmp);
		gate_path_fold(tmp, e->name, len);
		if (tmp->len == len && !memcmp(tmp->ptr, folded, len))
			gate_strvec_push(out, e->name);
	}
}

static void report_collision(const struct gate_commit *c, const char *path, size_t plen, size_t dirlen,
			     const struct gate_strvec *twins, struct gate_findings *out)
{
	struct gate_buf msg = GATE_BUF_INIT, self = GATE_BUF_INIT;
	size_t k;

	gate_buf_add(&self, path, plen);
	gate_buf_addf(&msg, "'%s' and ", self.ptr);
	for (k = 0; k < twins->nr; k++)
		gate_buf_addf(&msg, "%s'%.*s%s'", k ? ", " : "", (int)dirlen, path, twins->v[k]);
	gate_buf_adds(&msg, " differ only in case: a case-insensitive file system (Windows, macOS) keeps only one");
	gate_findings_add(out, c, self.ptr, 0,
			  "rename one of them (git mv) and rewrite the commit that adds it (git commit --amend, or "
			  "git rebase -i)",
			  "%s", msg.ptr);
	gate_buf_release(&msg);
	gate_buf_release(&self);
}

static int case_check(const struct gate_check_run *run, const struct gate_commit *c, const char *path,
		      struct gate_findings *out)
{
	struct port_state *st;
	struct tree_node *cur = NULL, *old = NULL;
	struct gate_buf key = GATE_BUF_INIT, tmp = GATE_BUF_INIT;
	struct gate_strvec twins = GATE_STRVEC_INIT;
	const char *p = path;
	int ret = -1;

	if (state_get(run, &st) < 0)
		return -1;
	if (strcmp(st->commit, c->id) && begin_commit(run, st, c) < 0)
		return -1;
	if (load_tree(st, c->tree, &cur, run->err) < 0)
		goto out;
	if (st->parent_tree[0] && load_tree(st, st->parent_tree, &old, run->err) < 0)
		goto out;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		size_t dirlen = (size_t)(p - path);
		const struct tree_entry *ne, *oe = old ? entry_byname(old, p, n) : NULL;

		if (!oe) {
			/* a name new in this directory: does it fold like a sibling? */
			gate_buf_reset(&key);
			gate_buf_add(&key, path, dirlen);
			gate_path_fold(&key, p, n);
			gate_strvec_clear(&twins);
			case_twins(cur, p, n, key.ptr + dirlen, &twins, &tmp);
			if (twins.nr && !gate_oidmap_get(&st->reported, key.ptr)) {
				gate_oidmap_put(&st->reported, key.ptr, st);
				report_collision(c, path, dirlen + n, dirlen, &twins, out);
			}
		}
		if (!slash)
			break;
		ne = entry_byname(cur, p, n);
		if (!ne || !MODE_IS_TREE(ne->mode)) {
			gate_error(run->err, "commit %s: '%.*s' is not a directory in its tree", c->id, (int)(dirlen + n),
				   path);
			goto out;
		}
		if (load_tree(st, ne->id, &cur, run->err) < 0)
			goto out;
		old = NULL;
		if (oe && MODE_IS_TREE(oe->mode) && load_tree(st, oe->id, &old, run->err) < 0)
			goto out;
		p = slash + 1;
	}
	ret = 0;
out:
	gate_buf_release(&key);
	gate_buf_release(&tmp);
	gate_strvec_clear(&twins);
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

/* Its cat-file child and tree cache (10-20 ms to end on a catch-up push) go while the blobs are read. */
static void port_changes_done(const struct gate_check_run *run)
{
	if (run->scan && gate_scan_check_state(run->scan, run->def))
		gate_scan_set_check_state(run->scan, run->def, NULL, NULL);
}

const struct gate_check_type gate_check_portable_paths = {
	.name = "portable-paths",
	.summary = "paths every system can check out: case collisions, Windows names, UTF-8, length, .git",
	.parse = port_parse,
	.free = port_free,
	.change = port_change,
	.changes_done = port_changes_done,
};
