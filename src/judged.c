#include "config.h"
#include "judged.h"
#include "shared.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oidmap.h"
#include "run-command.h"
#include "sha256.h"

#include "banned.h"

#define HEADER "git-gate judged record 1\n"

/* A ref's state in `entered` (see judged.h) */
#define ENTERED ((void *)1)
#define WARNED ((void *)2)
/* Longest encoded check name kept readable; longer ones are hashed. */
#define MAX_NAME 160
/* more tips than this are reduced by one walk of the history (reduce_by_walk) */
#define MAX_MERGE_BASE 64

struct gate_judged {
	char *dir, *path;
	int exists;
	int shared;                  /* core.sharedRepository: see shared.h */
	struct gate_strvec tips;
	struct gate_oidmap tip_set;  /* id -> (void *)1 */
	struct gate_oidmap entered;  /* ref -> ENTERED, WARNED, or NULL (left, or never seen) */
	struct gate_strvec except;   /* commits below a tip that were not judged */
	struct gate_oidmap except_set;
	long base;                   /* tips after the last seeding or compaction */
	size_t tip_lines;            /* tip lines in the file as read */
	struct gate_buf pending;     /* lines to append */
	size_t pending_tips;
};

char *gate_judged_dir(const char *git_dir)
{
	return gate_xstrfmt("%s/git-gate/judged", git_dir);
}

char *gate_judged_file_name(const char *name, const char *type, const char *policy)
{
	struct gate_buf b = GATE_BUF_INIT;
	const unsigned char *p;
	char hex[2 * GATE_SHA256_LEN + 1];

	for (p = (const unsigned char *)name; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		    *p == '-')
			gate_buf_addch(&b, *p);
		else
			gate_buf_addf(&b, "%%%02X", *p);
	}
	if (b.len > MAX_NAME || !b.len) {
		gate_sha256_hex(hex, name, strlen(name));
		gate_buf_setf(&b, "sha256-%s", hex);
	}
	gate_sha256_hex(hex, policy ? policy : "", policy ? strlen(policy) : 0);
	gate_buf_addf(&b, ".%s.%.12s", type, hex);
	return gate_buf_detach(&b);
}

static void add_tip(struct gate_judged *j, const char *id)
{
	if (gate_oidmap_get(&j->tip_set, id))
		return;
	gate_strvec_push(&j->tips, id);
	/* the key is the copy in tips (tip_set.borrowed): one copy of 20,000 tips, not two */
	gate_oidmap_put(&j->tip_set, j->tips.v[j->tips.nr - 1], (void *)1);
}

static void add_except(struct gate_judged *j, const char *id)
{
	if (gate_oidmap_get(&j->except_set, id))
		return;
	gate_oidmap_put(&j->except_set, id, (void *)1);
	gate_strvec_push(&j->except, id);
}

static void clear_state(struct gate_judged *j)
{
	gate_oidmap_release(&j->tip_set);
	j->tip_set.borrowed = 1;
	gate_strvec_clear(&j->tips);
	gate_oidmap_release(&j->entered);
	gate_strvec_clear(&j->except);
	gate_oidmap_release(&j->except_set);
	j->base = 0;
	j->tip_lines = 0;
	j->exists = 0;
}

/*
 * Parse a record's text into j.  A last line without its newline is being
 * written by another push (or was cut short by a crash) and is ignored.
 */
static int parse(struct gate_judged *j, char *text, size_t len, struct gate_buf *err)
{
	char *p = text, *end = text + len, *nl, *line;
	size_t lineno = 1;
	int ret = -1;

	clear_state(j);
	if (len < sizeof(HEADER) - 1 || memcmp(text, HEADER, sizeof(HEADER) - 1))
		goto bad;
	p += sizeof(HEADER) - 1;
	for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1) {
		const char *rest;
		lineno++;
		/* each line in place (a record of 20,000 tips is read on every push) */
		line = p;
		*nl = '\0';
		if (strlen(line) != (size_t)(nl - p))
			goto bad; /* a NUL byte */
		if (gate_skip_prefix(line, "tip ", &rest)) {
			if (!gate_is_hex_oid(rest))
				goto bad;
			add_tip(j, rest);
			j->tip_lines++;
		} else if (gate_skip_prefix(line, "except ", &rest)) {
			if (!gate_is_hex_oid(rest))
				goto bad;
			add_except(j, rest);
		} else if (gate_skip_prefix(line, "enter ", &rest) && *rest) {
			gate_oidmap_put(&j->entered, rest, ENTERED);
		} else if (gate_skip_prefix(line, "warn ", &rest) && *rest) {
			gate_oidmap_put(&j->entered, rest, WARNED);
		} else if (gate_skip_prefix(line, "leave ", &rest) && *rest) {
			gate_oidmap_put(&j->entered, rest, NULL);
		} else if (gate_skip_prefix(line, "base ", &rest) && *rest >= '0' && *rest <= '9') {
			j->base = strtol(rest, NULL, 10);
		} else {
			goto bad;
		}
	}
	j->exists = 1;
	ret = 0;
	goto out;
bad:
	gate_error(err,
		   "the judged record '%s' is damaged (line %zu); an admin can remove it, which grandfathers all "
		   "history as of the next push",
		   j->path, lineno);
	clear_state(j);
out:
	return ret;
}

/* Read the file: 0, GATE_ENOTFOUND, or -1. */
static int load(struct gate_judged *j, struct gate_buf *err)
{
	struct gate_buf text = GATE_BUF_INIT;
	struct stat st;
	int fd, ret = -1;

	clear_state(j);
	fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return GATE_ENOTFOUND;
		return gate_error(err, "cannot open the judged record '%s': %s", j->path, strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		gate_error(err, "the judged record '%s' is not a regular file", j->path);
		goto out;
	}
	if (gate_read_fd(&text, fd) < 0) {
		gate_error(err, "cannot read the judged record '%s': %s", j->path, strerror(errno));
		goto out;
	}
	gate_buf_grow(&text, 0); /* never NULL: parsed in place */
	ret = parse(j, text.ptr, text.len, err);
out:
	close(fd);
	gate_buf_release(&text);
	return ret;
}

int gate_judged_open(struct gate_judged **out, const char *git_dir, const struct gate_check_def *def,
		     struct gate_buf *err)
{
	struct gate_judged *j = gate_xcalloc(1, sizeof(*j));
	const char *policy = def->src.file ? def->src.file : "";
	size_t dl = strlen(git_dir);
	char *name;
	int r;

	j->tip_set.borrowed = 1;

	/* a policy inside the repository by its path there: the repository may move */
	if (!strncmp(policy, git_dir, dl) && policy[dl] == '/')
		policy += dl + 1;
	name = gate_judged_file_name(def->name, def->type->name, policy);

	j->dir = gate_judged_dir(git_dir);
	j->path = gate_xstrfmt("%s/%s", j->dir, name);
	j->shared = gate_shared_perm(git_dir);
	free(name);
	r = load(j, err);
	if (r < 0 && r != GATE_ENOTFOUND) {
		gate_judged_free(j);
		return -1;
	}
	*out = j;
	return 0;
}

void gate_judged_free(struct gate_judged *j)
{
	if (!j)
		return;
	clear_state(j);
	gate_buf_release(&j->pending);
	free(j->dir);
	free(j->path);
	free(j);
}

int gate_judged_exists(const struct gate_judged *j)
{
	return j->exists;
}

const char *gate_judged_path(const struct gate_judged *j)
{
	return j->path;
}

int gate_judged_same_tips(const struct gate_judged *a, const struct gate_judged *b)
{
	size_t i;

	if (a == b)
		return 1;
	if (a->tips.nr != b->tips.nr)
		return 0;
	/* tips are unique in each: the same count and all of a in b */
	for (i = 0; i < a->tips.nr; i++)
		if (!gate_oidmap_get(&b->tip_set, a->tips.v[i]))
			return 0;
	return 1;
}

const char *const *gate_judged_tips(const struct gate_judged *j, size_t *n)
{
	*n = j->tips.nr;
	return (const char *const *)j->tips.v;
}

int gate_judged_has_tip(const struct gate_judged *j, const char *id)
{
	return gate_oidmap_get(&j->tip_set, id) != NULL;
}

int gate_judged_entered(const struct gate_judged *j, const char *ref)
{
	return gate_oidmap_get(&j->entered, ref) == ENTERED;
}

/* Ref names reach us from git, which refuses control characters in them; be sure anyway. */
static int line_safe(const char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			return 0;
	return 1;
}

void gate_judged_enter(struct gate_judged *j, const char *ref, const char *grandfathered)
{
	if (gate_judged_entered(j, ref))
		return;
	/* what was pushed while the check only warned there is not grandfathered */
	if (grandfathered && gate_oidmap_get(&j->entered, ref) != WARNED)
		gate_judged_add(j, grandfathered);
	gate_oidmap_put(&j->entered, ref, ENTERED);
	if (line_safe(ref))
		gate_buf_addf(&j->pending, "enter %s\n", ref);
}

void gate_judged_leave(struct gate_judged *j, const char *ref)
{
	if (!gate_judged_entered(j, ref))
		return;
	gate_oidmap_put(&j->entered, ref, NULL);
	if (line_safe(ref))
		gate_buf_addf(&j->pending, "leave %s\n", ref);
}

void gate_judged_warn(struct gate_judged *j, const char *ref)
{
	if (gate_oidmap_get(&j->entered, ref) == WARNED)
		return;
	gate_oidmap_put(&j->entered, ref, WARNED);
	if (line_safe(ref))
		gate_buf_addf(&j->pending, "warn %s\n", ref);
}

void gate_judged_add(struct gate_judged *j, const char *tip)
{
	if (!gate_is_hex_oid(tip) || gate_is_zero_oid(tip) || gate_judged_has_tip(j, tip))
		return;
	add_tip(j, tip);
	gate_buf_addf(&j->pending, "tip %s\n", tip);
	j->pending_tips++;
}

const char *const *gate_judged_exceptions(const struct gate_judged *j, size_t *n)
{
	*n = j->except.nr;
	return (const char *const *)j->except.v;
}

int gate_judged_uncovered(const struct gate_judged *j, struct gate_repo *repo, const char *id, size_t limit,
			  struct gate_strvec *out, struct gate_buf *err)
{
	const char *argv[] = { "git", "rev-list", "--ignore-missing", NULL, "--stdin", NULL };
	struct gate_buf in = GATE_BUF_INIT, o = GATE_BUF_INIT, e = GATE_BUF_INIT;
	git_object_t type;
	char *line, *next, max[40];
	size_t i, n = 0;
	int r, status, ret = -1;

	/* one more than the limit tells that there are more */
	snprintf(max, sizeof(max), "--max-count=%zu", limit + 1);
	argv[3] = max;
	if (gate_judged_has_tip(j, id))
		return 0;
	/* --ignore-missing below would make a missing id look covered */
	r = gate_repo_object_type(repo, id, &type, err);
	if (r == GATE_ENOTFOUND)
		return 1;
	if (r < 0)
		return -1;
	gate_buf_addf(&in, "%s\n", id);
	for (i = 0; i < j->tips.nr; i++)
		gate_buf_addf(&in, "^%s\n", j->tips.v[i]);
	if (gate_run_capture(argv, gate_strvec_argv(&repo->env), NULL, in.ptr, in.len, &o, &e, &status, err) < 0)
		goto out;
	if (status) {
		gate_error(err, "git rev-list failed: %s", gate_buf_cstr(&e));
		goto out;
	}
	ret = 0;
	for (line = o.ptr; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!gate_is_hex_oid(line))
			continue;
		if (++n > limit) {
			ret = 1;
			break;
		}
		gate_strvec_push(out, line);
	}
out:
	gate_buf_release(&in);
	gate_buf_release(&o);
	gate_buf_release(&e);
	return ret;
}

int gate_judged_record_pass(struct gate_judged *j, struct gate_repo *repo, const char *old, const char *tip,
			    int *recorded, struct gate_buf *err)
{
	return gate_judged_record_pass_dflt(j, repo, old, NULL, tip, recorded, err);
}

int gate_judged_record_pass_dflt(struct gate_judged *j, struct gate_repo *repo, const char *old, const char *dflt,
				 const char *tip, int *recorded, struct gate_buf *err)
{
	struct gate_strvec below = GATE_STRVEC_INIT;
	size_t i;
	int r;

	*recorded = 0;
	if (dflt) {
		/*
		 * Not as exceptions: a bot that alone pushes main would make
		 * them many, and every push tests each one.
		 */
		r = gate_judged_uncovered(j, repo, dflt, 0, &below, err);
		gate_strvec_clear(&below);
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	if (old && !gate_is_zero_oid(old)) {
		r = gate_judged_uncovered(j, repo, old, GATE_JUDGED_MAX_EXCEPT, &below, err);
		if (r < 0)
			return -1;
		if (r > 0) {
			gate_strvec_clear(&below);
			return 0;
		}
	}
	for (i = 0; i < below.nr; i++) {
		if (gate_oidmap_get(&j->except_set, below.v[i]))
			continue;
		add_except(j, below.v[i]);
		gate_buf_addf(&j->pending, "except %s\n", below.v[i]);
	}
	gate_strvec_clear(&below);
	gate_judged_add(j, tip);
	*recorded = 1;
	return 0;
}

/* ---- writing, under the lock ---- */

static int lock_dir(const struct gate_judged *j, int *fd_out, struct gate_buf *err)
{
	char *lock = gate_xstrfmt("%s/lock", j->dir);
	int fd, r, ret = -1;

	if (gate_shared_mkdir_p(j->shared, j->dir) < 0) {
		gate_error(err, "cannot create '%s': %s", j->dir, strerror(errno));
		goto out;
	}
	fd = gate_shared_open(j->shared, lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (fd < 0) {
		gate_error(err, "cannot open '%s': %s", lock, strerror(errno));
		goto out;
	}
	while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		gate_error(err, "cannot lock '%s': %s", lock, strerror(errno));
		close(fd);
		goto out;
	}
	*fd_out = fd;
	ret = 0;
out:
	free(lock);
	return ret;
}

static void unlock_dir(int fd)
{
	if (fd >= 0) {
		(void)flock(fd, LOCK_UN);
		close(fd);
	}
}

/*
 * Many tips (a repository's 20,000 branches when a record is seeded):
 * `git merge-base --independent` takes minutes there.  One walk of the
 * history instead: a tip is reachable from another one exactly when some
 * commit of the walk has it as a parent (or it is listed twice).
 */
static int reduce_by_walk(struct gate_repo *repo, const struct gate_strvec *tips, struct gate_strvec *out,
			  struct gate_buf *err)
{
	static const char *const argv[] = { "git", "rev-list", "--parents", "--stdin", NULL };
	struct gate_buf in = GATE_BUF_INIT, o = GATE_BUF_INIT, e = GATE_BUF_INIT;
	struct gate_oidmap has_child = GATE_OIDMAP_INIT, seen = GATE_OIDMAP_INIT;
	char *line, *next;
	size_t i;
	int status, ret = -1;

	for (i = 0; i < tips->nr; i++)
		gate_buf_addf(&in, "%s\n", tips->v[i]);
	if (gate_run_capture(argv, gate_strvec_argv(&repo->env), NULL, in.ptr, in.len, &o, &e, &status, err) < 0)
		goto out;
	if (status) {
		ret = gate_error(err, "git rev-list failed: %s", gate_buf_cstr(&e));
		goto out;
	}
	/* "<id> <parent>...": every parent is reachable from some tip through its child */
	for (line = o.ptr; line && *line; line = next) {
		size_t len;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		len = strlen(line);
		if (len < 40 || len % 41 != 40) {
			ret = gate_error(err, "unexpected output from git rev-list");
			goto out;
		}
		for (i = 41; i < len; i += 41) {
			line[i + 40] = '\0';
			gate_oidmap_put(&has_child, line + i, (void *)1);
		}
	}
	for (i = 0; i < tips->nr; i++)
		if (!gate_oidmap_get(&has_child, tips->v[i]) && !gate_oidmap_put(&seen, tips->v[i], (void *)1))
			gate_strvec_push(out, tips->v[i]);
	ret = 0;
out:
	gate_oidmap_release(&has_child);
	gate_oidmap_release(&seen);
	gate_buf_release(&in);
	gate_buf_release(&o);
	gate_buf_release(&e);
	return ret;
}

int gate_judged_reduce(struct gate_repo *repo, const struct gate_strvec *ids, struct gate_strvec *out,
		       struct gate_buf *err)
{
	static const char *const check_argv[] = { "git", "cat-file", "--batch-check=%(objectname) %(objecttype)",
						   NULL };
	struct gate_buf in = GATE_BUF_INIT, o = GATE_BUF_INIT, e = GATE_BUF_INIT;
	struct gate_strvec present = GATE_STRVEC_INIT, argv = GATE_STRVEC_INIT;
	char *line, *next;
	size_t i;
	int status, ret = -1;

	if (!ids->nr)
		return 0;
	for (i = 0; i < ids->nr; i++)
		gate_buf_addf(&in, "%s\n", ids->v[i]);
	if (gate_run_capture(check_argv, gate_strvec_argv(&repo->env), NULL, in.ptr, in.len, &o, &e, &status,
			     err) < 0)
		goto out;
	if (status) {
		gate_error(err, "git cat-file failed: %s", gate_buf_cstr(&e));
		goto out;
	}
	/* "<id> commit", "<id> missing", "<id> tag", ... */
	for (line = o.ptr; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strlen(line) == 47 && !strcmp(line + 40, " commit")) {
			line[40] = '\0';
			gate_strvec_push(&present, line);
		}
	}
	if (present.nr <= 1) {
		for (i = 0; i < present.nr; i++)
			gate_strvec_push(out, present.v[i]);
		ret = 0;
		goto out;
	}
	if (present.nr > MAX_MERGE_BASE) {
		ret = reduce_by_walk(repo, &present, out, err);
		goto out;
	}
	gate_strvec_push(&argv, "git");
	gate_strvec_push(&argv, "merge-base");
	gate_strvec_push(&argv, "--independent");
	/*
	 * The one place ids go on a command line: merge-base reads none from
	 * stdin.  Each is 40 hex digits taken from cat-file's own answer
	 * above, so it can be neither an option nor anything but an object
	 * name, and there are at most MAX_MERGE_BASE of them; one walk that
	 * stops at the tips' common history is worth it (reduce_by_walk reads
	 * the whole history).
	 */
	for (i = 0; i < present.nr; i++)
		gate_strvec_push(&argv, present.v[i]);
	gate_buf_reset(&o);
	gate_buf_reset(&e);
	if (gate_run_capture(gate_strvec_argv(&argv), gate_strvec_argv(&repo->env), NULL, NULL, 0, &o, &e, &status,
			     err) < 0)
		goto out;
	if (status) {
		gate_error(err, "git merge-base --independent failed: %s", gate_buf_cstr(&e));
		goto out;
	}
	for (line = o.ptr; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (gate_is_hex_oid(line))
			gate_strvec_push(out, line);
	}
	ret = 0;
out:
	gate_strvec_clear(&present);
	gate_strvec_clear(&argv);
	gate_buf_release(&in);
	gate_buf_release(&o);
	gate_buf_release(&e);
	return ret;
}

/* Write the whole record (tips, entered refs) to a temporary file and rename it over the record. */
static int replace(struct gate_judged *j, const struct gate_strvec *tips, struct gate_buf *err)
{
	struct gate_buf body = GATE_BUF_INIT;
	size_t i;
	int ret;

	gate_buf_adds(&body, HEADER);
	gate_buf_addf(&body, "base %zu\n", tips->nr);
	for (i = 0; i < tips->nr; i++)
		gate_buf_addf(&body, "tip %s\n", tips->v[i]);
	for (i = 0; i < j->except.nr; i++)
		gate_buf_addf(&body, "except %s\n", j->except.v[i]);
	for (i = 0; i < j->entered.alloc; i++) {
		const struct gate_oidmap_slot *s = &j->entered.slots[i];
		if (s->key && s->value && line_safe(s->key))
			gate_buf_addf(&body, "%s %s\n", s->value == WARNED ? "warn" : "enter", s->key);
	}
	/* mode 0666 less the umask, or core.sharedRepository's, like git's own files; on disk before the rename */
	ret = gate_shared_write_file(j->shared, j->path, body.ptr, body.len, 1, err);
	gate_buf_release(&body);
	return ret;
}

/*
 * Re-read the record (under the lock, after this push's lines were
 * appended) and rewrite it with only its independent, present tips.
 */
static int compact(struct gate_judged *j, struct gate_repo *repo, struct gate_buf *err)
{
	struct gate_strvec kept = GATE_STRVEC_INIT;
	int r, ret = -1;

	r = load(j, err);
	if (r == GATE_ENOTFOUND)
		return 0;
	if (r < 0)
		return -1;
	if ((long)j->tip_lines < 2 * j->base + GATE_JUDGED_SLACK)
		return 0; /* another push compacted it meanwhile */
	if (gate_judged_reduce(repo, &j->tips, &kept, err) < 0 || replace(j, &kept, err) < 0)
		goto out;
	ret = load(j, err);
out:
	gate_strvec_clear(&kept);
	return ret;
}

int gate_judged_seed(struct gate_judged *j, const char *const *tips, size_t n, struct gate_buf *err)
{
	struct gate_strvec all = GATE_STRVEC_INIT;
	struct gate_oidmap seen = GATE_OIDMAP_INIT;
	size_t i;
	int fd = -1, r, ret = -1;

	if (lock_dir(j, &fd, err) < 0)
		return -1;
	r = load(j, err);
	if (r == 0) {
		ret = 0; /* another push seeded it meanwhile */
		goto out;
	}
	if (r != GATE_ENOTFOUND)
		goto out;
	for (i = 0; i < n; i++)
		if (tips[i] && gate_is_hex_oid(tips[i]) && !gate_oidmap_put(&seen, tips[i], (void *)1))
			gate_strvec_push(&all, tips[i]);
	/*
	 * The caller reduced the tips already: reducing again costs a second
	 * walk that, over unrelated histories, goes down to the roots.
	 */
	if (replace(j, &all, err) < 0)
		goto out;
	ret = load(j, err);
out:
	unlock_dir(fd);
	gate_strvec_clear(&all);
	gate_oidmap_release(&seen);
	return ret;
}

/*
 * A push that died while appending leaves a last line without its newline:
 * cut it off before appending after it.
 */
static int cut_partial_line(int fd, off_t size, off_t *out)
{
	char buf[4096];
	off_t pos = size;

	while (pos > 0) {
		size_t want = pos < (off_t)sizeof(buf) ? (size_t)pos : sizeof(buf);
		ssize_t got = pread(fd, buf, want, pos - (off_t)want);
		size_t k;
		if (got != (ssize_t)want)
			return -1;
		for (k = want; k-- > 0;) {
			if (buf[k] == '\n') {
				off_t end = pos - (off_t)want + (off_t)k + 1;
				if (end != size && ftruncate(fd, end) < 0)
					return -1;
				*out = end;
				return 0;
			}
		}
		pos -= (off_t)want;
	}
	return -1;
}

int gate_judged_write(struct gate_judged *j, struct gate_repo *repo, struct gate_buf *err)
{
	struct stat st;
	off_t size;
	ssize_t n;
	int lock = -1, fd = -1, ret = -1;

	if (!j->pending.len || !j->exists)
		return 0;
	if (lock_dir(j, &lock, err) < 0)
		return -1;
	fd = open(j->path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		/* removed since it was read: the next push seeds a new one */
		if (errno == ENOENT) {
			ret = 0;
			goto out;
		}
		gate_error(err, "cannot open the judged record '%s': %s", j->path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || cut_partial_line(fd, st.st_size, &size) < 0) {
		gate_error(err, "cannot append to the judged record '%s': it is damaged", j->path);
		goto out;
	}
	do {
		n = write(fd, j->pending.ptr, j->pending.len);
	} while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != j->pending.len) {
		int saved = n < 0 ? errno : ENOSPC;
		if (n > 0 && ftruncate(fd, size) < 0)
			saved = errno;
		gate_error(err, "cannot write to the judged record '%s': %s", j->path, strerror(saved));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		gate_error(err, "cannot write to the judged record '%s': %s", j->path, strerror(errno));
		goto out;
	}
	fd = -1;
	j->tip_lines += j->pending_tips;
	gate_buf_reset(&j->pending);
	j->pending_tips = 0;
	if ((long)j->tip_lines >= 2 * j->base + GATE_JUDGED_SLACK && compact(j, repo, err) < 0)
		goto out;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	unlock_dir(lock);
	return ret;
}
