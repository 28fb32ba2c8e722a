/*
 * The merge queue's store: items as refs and small files (queue.h).
 */
#include "config.h"
#include "queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue-internal.h"
#include "report.h"
#include "run-command.h"
#include "shared.h"

#include "banned.h"

static const char *const state_names[] = { "waiting", "testing", "landed", "rejected", "cancelled" };

const char *gate_queue_state_name(enum gate_queue_state s)
{
	return state_names[s];
}

int gate_queue_state_final(enum gate_queue_state s)
{
	return s == GATE_QUEUE_LANDED || s == GATE_QUEUE_REJECTED || s == GATE_QUEUE_CANCELLED;
}

void gate_queue_item_free(struct gate_queue_item *it)
{
	if (!it)
		return;
	free(it->branch);
	free(it->ref);
	free(it->user);
	free(it->subject);
	free(it->reason);
	free(it->batch);
	free(it);
}

void gate_queue_items_free(struct gate_queue_item **items, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		gate_queue_item_free(items[i]);
	free(items);
}

char *gate_queue_branch_of(const char *ref)
{
	const char *name;

	if (!gate_skip_prefix(ref, GATE_QUEUE_PUSH_PREFIX, &name) || !*name)
		return NULL;
	return gate_xstrfmt("refs/heads/%s", name);
}

void gate_queue_mark_push(struct gate_push *push, const struct gate_config *cfg)
{
	size_t i;

	for (i = 0; i < push->nr; i++) {
		struct gate_update *u = &push->updates[i];
		char *branch = gate_queue_branch_of(u->ref);
		const struct gate_rule *r = branch ? gate_config_rule_for(cfg, branch) : NULL;

		if (r && r->queue && r->mode != GATE_MODE_OFF && u->kind != GATE_UPDATE_DELETE && !u->target) {
			u->target = branch;
			branch = NULL;
		}
		free(branch);
	}
}

char *gate_queue_dir(const char *git_dir)
{
	return gate_xstrfmt("%s/git-gate/queue", git_dir);
}

char *gate_queue_path(const char *git_dir, const char *name)
{
	return gate_xstrfmt("%s/git-gate/queue/%s", git_dir, name);
}

int gate_queue_lock_file(const char *git_dir, const char *path, int wait, struct gate_buf *err)
{
	int fd, shared = gate_shared_perm(git_dir);
	char *dir = gate_xstrdup(path), *slash = strrchr(dir, '/');

	if (slash) {
		*slash = '\0';
		if (gate_shared_mkdir_p(shared, dir) < 0) {
			gate_error(err, "cannot create '%s': %s", dir, strerror(errno));
			free(dir);
			return -1;
		}
	}
	free(dir);
	fd = gate_shared_open(shared, path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return gate_error(err, "cannot open '%s': %s", path, strerror(errno));
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			close(fd);
			return GATE_ENOTFOUND; /* held by someone else */
		}
		gate_error(err, "cannot lock '%s': %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int gate_queue_lock(const char *git_dir, struct gate_buf *err)
{
	char *p = gate_queue_path(git_dir, "lock");
	int fd = gate_queue_lock_file(git_dir, p, 1, err);

	free(p);
	return fd;
}

void gate_queue_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

void gate_queue_settle(const char *git_dir)
{
	struct gate_buf err = GATE_BUF_INIT;

	gate_queue_unlock(gate_queue_lock(git_dir, &err));
	gate_buf_release(&err);
}

int gate_queue_write_file(const char *git_dir, const char *path, const char *data, size_t len,
			  struct gate_buf *err)
{
	char *tmp = gate_xstrfmt("%s.tmp.%ld", path, (long)getpid());
	int fd, ret = -1;

	fd = gate_shared_open(gate_shared_perm(git_dir), tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		gate_error(err, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (gate_write_all(fd, data, len) < 0 || close(fd) < 0) {
		gate_error(err, "cannot write '%s': %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) < 0) {
		gate_error(err, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	free(tmp);
	return ret;
}

static void add_kv(struct gate_buf *b, const char *key, const char *value)
{
	if (!value || !*value)
		return;
	gate_buf_addf(b, "%s ", key);
	gate_buf_add_safes(b, value); /* one line whatever it holds */
	gate_buf_addch(b, '\n');
}

/* An item's file: items/N while undecided, items/decided/N after. */
static char *item_path(const char *git_dir, long id, int decided)
{
	return gate_xstrfmt("%s/git-gate/queue/items/%s%ld", git_dir, decided ? "decided/" : "", id);
}

char *gate_queue_report_path(const char *git_dir, long id)
{
	return gate_xstrfmt("%s/git-gate/queue/items/decided/%ld.report", git_dir, id);
}

int gate_queue_save(const char *git_dir, const struct gate_queue_item *it, struct gate_buf *err)
{
	struct gate_buf b = GATE_BUF_INIT;
	int decided = gate_queue_state_final(it->state);
	char *dir = gate_queue_path(git_dir, decided ? "items/decided" : "items"), *path = NULL;
	int ret = -1;

	if (gate_shared_mkdir_p(gate_shared_perm(git_dir), dir) < 0) {
		gate_error(err, "cannot create '%s': %s", dir, strerror(errno));
		goto out;
	}
	gate_buf_addf(&b, "id %ld\n", it->id);
	add_kv(&b, "branch", it->branch);
	add_kv(&b, "ref", it->ref);
	add_kv(&b, "tip", it->tip);
	add_kv(&b, "user", it->user);
	add_kv(&b, "subject", it->subject);
	add_kv(&b, "state", gate_queue_state_name(it->state));
	gate_buf_addf(&b, "queued %lld\n", (long long)it->queued);
	if (it->started)
		gate_buf_addf(&b, "started %lld\n", (long long)it->started);
	if (it->decided)
		gate_buf_addf(&b, "decided %lld\n", (long long)it->decided);
	add_kv(&b, "before", it->before);
	add_kv(&b, "landed", it->landed);
	add_kv(&b, "reason", it->reason);
	add_kv(&b, "batch", it->batch);
	path = item_path(git_dir, it->id, decided);
	ret = gate_queue_write_file(git_dir, path, b.ptr, b.len, err);
	if (ret == 0 && decided) {
		/* the undecided file goes only once the decided one is there */
		free(path);
		path = item_path(git_dir, it->id, 0);
		unlink(path);
	}
out:
	gate_buf_release(&b);
	free(dir);
	free(path);
	return ret;
}

static int parse_long(const char *s, long *out)
{
	char *end;
	long v;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0)
		return -1;
	*out = v;
	return 0;
}

static int parse_item(struct gate_queue_item *it, char *text)
{
	char *line = text, *nl;

	while (line && *line) {
		char *sp, *key, *val;
		long n;

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		key = line;
		line = nl ? nl + 1 : NULL;
		sp = strchr(key, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		val = sp + 1;
		if (!strcmp(key, "id")) {
			if (parse_long(val, &it->id) < 0)
				return -1;
		} else if (!strcmp(key, "branch")) {
			free(it->branch);
			it->branch = gate_xstrdup(val);
		} else if (!strcmp(key, "ref")) {
			free(it->ref);
			it->ref = gate_xstrdup(val);
		} else if (!strcmp(key, "tip") && gate_is_hex_oid(val)) {
			memcpy(it->tip, val, 41);
		} else if (!strcmp(key, "user")) {
			free(it->user);
			it->user = gate_xstrdup(val);
		} else if (!strcmp(key, "subject")) {
			free(it->subject);
			it->subject = gate_xstrdup(val);
		} else if (!strcmp(key, "state")) {
			size_t i;
			for (i = 0; i < GATE_ARRAY_SIZE(state_names); i++)
				if (!strcmp(val, state_names[i]))
					it->state = (enum gate_queue_state)i;
		} else if (!strcmp(key, "queued") && !parse_long(val, &n)) {
			it->queued = n;
		} else if (!strcmp(key, "started") && !parse_long(val, &n)) {
			it->started = n;
		} else if (!strcmp(key, "decided") && !parse_long(val, &n)) {
			it->decided = n;
		} else if (!strcmp(key, "before") && gate_is_hex_oid(val)) {
			memcpy(it->before, val, 41);
		} else if (!strcmp(key, "landed") && gate_is_hex_oid(val)) {
			memcpy(it->landed, val, 41);
		} else if (!strcmp(key, "reason")) {
			free(it->reason);
			it->reason = gate_xstrdup(val);
		} else if (!strcmp(key, "batch")) {
			free(it->batch);
			it->batch = gate_xstrdup(val);
		}
	}
	return it->branch && it->ref && it->tip[0] ? 0 : -1;
}

int gate_queue_load(struct gate_queue_item **out, const char *git_dir, long id, struct gate_buf *err)
{
	struct gate_buf text = GATE_BUF_INIT;
	struct gate_queue_item *it;
	char *path = item_path(git_dir, id, 1);
	int r = gate_read_file(&text, path, err);

	if (r == GATE_ENOTFOUND) {
		free(path);
		path = item_path(git_dir, id, 0);
		r = gate_read_file(&text, path, err);
	}
	if (r < 0) {
		free(path);
		gate_buf_release(&text);
		return r;
	}
	it = gate_xcalloc(1, sizeof(*it));
	gate_buf_addch(&text, '\0'); /* never NULL */
	if (parse_item(it, text.ptr) < 0 || it->id != id) {
		gate_queue_item_free(it);
		gate_error(err, "queue item file '%s' is damaged", path);
		free(path);
		gate_buf_release(&text);
		return -1;
	}
	free(path);
	gate_buf_release(&text);
	*out = it;
	return 0;
}

static int cmp_item(const void *a, const void *b)
{
	const struct gate_queue_item *x = *(struct gate_queue_item *const *)a;
	const struct gate_queue_item *y = *(struct gate_queue_item *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* The items whose files are in `sub` (items or items/decided), appended. */
static int list_dir(struct gate_queue_item ***items, size_t *n, size_t *alloc, const char *git_dir,
		    const char *sub, int want_decided, struct gate_buf *err)
{
	char *dir = gate_queue_path(git_dir, sub);
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d) {
		free(dir);
		return errno == ENOENT ? 0 : gate_error(err, "cannot read the queue: %s", strerror(errno));
	}
	while ((e = readdir(d)) != NULL) {
		struct gate_queue_item *it = NULL;
		struct gate_buf e2 = GATE_BUF_INIT;
		long id;

		if (parse_long(e->d_name, &id) < 0)
			continue;
		if (gate_queue_load(&it, git_dir, id, &e2) < 0 || !gate_queue_state_final(it->state) != !want_decided) {
			/* vanished, damaged, or decided while listed (found in items/decided/) */
			gate_queue_item_free(it);
			gate_buf_release(&e2);
			continue;
		}
		gate_buf_release(&e2);
		GATE_ALLOC_GROW(*items, *n + 1, *alloc);
		(*items)[(*n)++] = it;
	}
	closedir(d);
	free(dir);
	return 0;
}

int gate_queue_list(struct gate_queue_item ***out, size_t *nr, const char *git_dir, int decided_too,
		    struct gate_buf *err)
{
	struct gate_queue_item **items = NULL;
	size_t n = 0, alloc = 0;

	if (list_dir(&items, &n, &alloc, git_dir, "items", 0, err) < 0 ||
	    (decided_too && list_dir(&items, &n, &alloc, git_dir, "items/decided", 1, err) < 0)) {
		gate_queue_items_free(items, n);
		return -1;
	}
	if (n)
		qsort(items, n, sizeof(*items), cmp_item);
	*out = items;
	*nr = n;
	return 0;
}

size_t gate_queue_position(struct gate_queue_item *const *items, size_t nr, const struct gate_queue_item *it)
{
	size_t i, pos = 1;

	for (i = 0; i < nr; i++)
		if (items[i]->id < it->id && !gate_queue_state_final(items[i]->state) &&
		    !strcmp(items[i]->branch, it->branch))
			pos++;
	return pos;
}

static int next_id(const char *git_dir, long *out, struct gate_buf *err)
{
	struct gate_buf text = GATE_BUF_INIT, num = GATE_BUF_INIT;
	char *path = gate_queue_path(git_dir, "next");
	long id = 1;
	int r = gate_read_file(&text, path, err), ret = -1;

	if (r < 0 && r != GATE_ENOTFOUND)
		goto out;
	if (r == 0) {
		gate_buf_truncate(&text, strcspn(gate_buf_cstr(&text), "\n"));
		if (parse_long(gate_buf_cstr(&text), &id) < 0 || id < 1) {
			gate_error(err, "the queue's counter '%s' is damaged", path);
			goto out;
		}
	}
	gate_buf_addf(&num, "%ld\n", id + 1);
	if (gate_queue_write_file(git_dir, path, num.ptr, num.len, err) < 0)
		goto out;
	*out = id;
	ret = 0;
out:
	gate_buf_release(&text);
	gate_buf_release(&num);
	free(path);
	return ret;
}

static void tip_subject(git_repository *repo, const char *tip, struct gate_buf *out)
{
	git_oid oid;
	git_commit *c = NULL;
	const char *s;

	if (git_oid_fromstr(&oid, tip) == 0 && git_commit_lookup(&c, repo, &oid) == 0 &&
	    (s = git_commit_summary(c)) != NULL)
		gate_buf_add_safes(out, s);
	git_commit_free(c);
	git_error_clear();
}

int gate_queue_add(struct gate_queue_item **out, struct gate_repo *repo, const char *branch, const char *tip,
		   const char *user, struct gate_buf *err)
{
	struct gate_queue_item *it = gate_xcalloc(1, sizeof(*it));
	struct gate_buf subject = GATE_BUF_INIT;
	git_reference *ref = NULL;
	git_oid oid;
	const char *name;
	char *path = NULL;
	int fd, ret = -1;

	if (!gate_skip_prefix(branch, "refs/heads/", &name) || git_oid_fromstr(&oid, tip) < 0) {
		gate_error(err, "cannot queue '%s' for '%s'", tip, branch);
		gate_queue_item_free(it);
		return -1;
	}
	fd = gate_queue_lock(repo->git_dir, err);
	if (fd < 0) {
		gate_queue_item_free(it);
		return -1;
	}
	if (next_id(repo->git_dir, &it->id, err) < 0)
		goto out;
	it->branch = gate_xstrdup(branch);
	it->ref = gate_xstrfmt(GATE_QUEUE_REF_PREFIX "%s/%ld", name, it->id);
	memcpy(it->tip, tip, 41);
	it->user = gate_xstrdup(user ? user : "unknown");
	tip_subject(repo->git, tip, &subject);
	it->subject = gate_buf_detach(&subject);
	it->state = GATE_QUEUE_WAITING;
	it->queued = (int64_t)time(NULL);
	if (gate_queue_save(repo->git_dir, it, err) < 0)
		goto out;
	if (git_reference_create(&ref, repo->git, it->ref, &oid, 0, "git-gate: queued") < 0) {
		gate_error(err, "cannot create '%s': %s", it->ref, gate_git_error());
		path = item_path(repo->git_dir, it->id, 0);
		unlink(path);
		goto out;
	}
	ret = 0;
out:
	gate_queue_unlock(fd);
	git_reference_free(ref);
	free(path);
	gate_buf_release(&subject);
	if (ret < 0)
		gate_queue_item_free(it);
	else
		*out = it;
	return ret;
}

int gate_queue_drop_ref(git_repository *repo, const struct gate_queue_item *it, struct gate_buf *err)
{
	git_reference *ref = NULL;
	int r = git_reference_lookup(&ref, repo, it->ref);

	if (r == GIT_ENOTFOUND) {
		git_error_clear();
		return 0;
	}
	if (r < 0 || git_reference_delete(ref) < 0) {
		git_reference_free(ref);
		return gate_error(err, "cannot remove '%s': %s", it->ref, gate_git_error());
	}
	git_reference_free(ref);
	return 0;
}

int gate_queue_cancel(const char *git_dir, long id, const char *who, struct gate_buf *err)
{
	struct gate_queue_item *it = NULL;
	git_repository *repo = NULL;
	int fd, r, ret = -1;

	fd = gate_queue_lock(git_dir, err);
	if (fd < 0)
		return -1;
	r = gate_queue_load(&it, git_dir, id, err);
	if (r < 0) {
		ret = r;
		if (r == GATE_ENOTFOUND)
			gate_error(err, "there is no queue item %ld", id);
		goto out;
	}
	if (gate_queue_state_final(it->state)) {
		gate_error(err, "item %ld is already %s", id, gate_queue_state_name(it->state));
		goto out;
	}
	if (git_repository_open_ext(&repo, git_dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		gate_error(err, "cannot open '%s': %s", git_dir, gate_git_error());
		goto out;
	}
	it->state = GATE_QUEUE_CANCELLED;
	it->decided = (int64_t)time(NULL);
	free(it->reason);
	it->reason = gate_xstrfmt("cancelled by %s", who ? who : "an admin");
	if (gate_queue_save(git_dir, it, err) < 0 || gate_queue_drop_ref(repo, it, err) < 0)
		goto out;
	ret = 0;
out:
	gate_queue_unlock(fd);
	gate_queue_item_free(it);
	git_repository_free(repo);
	return ret;
}

void gate_queue_mark_withdrawn(struct gate_queue_item *it)
{
	it->state = GATE_QUEUE_CANCELLED;
	it->decided = (int64_t)time(NULL);
	free(it->reason);
	it->reason = gate_xstrfmt("cancelled by its pusher (its ref %s was deleted)", it->ref);
}

int gate_queue_cancel_deleted(struct gate_repo *repo, const struct gate_config *cfg, const char *ref,
			      struct gate_buf *err)
{
	struct gate_queue_item *it = NULL;
	git_reference *r = NULL;
	const char *slash = strrchr(ref, '/');
	long id;
	int fd, ret = 0, decided = 0;

	if (!slash || !gate_skip_prefix(ref, GATE_QUEUE_REF_PREFIX, NULL) || parse_long(slash + 1, &id) < 0)
		return 0;
	fd = gate_queue_lock(repo->git_dir, err);
	if (fd < 0)
		return -1;
	if (gate_queue_load(&it, repo->git_dir, id, err) < 0) {
		gate_buf_reset(err); /* no such item: nothing to record */
		goto out;
	}
	if (gate_queue_state_final(it->state) || strcmp(it->ref, ref))
		goto out;
	if (git_reference_lookup(&r, repo->git, ref) == 0)
		goto out; /* still there */
	git_error_clear();
	gate_queue_mark_withdrawn(it);
	if (gate_queue_save(repo->git_dir, it, err) < 0) {
		ret = -1;
		goto out;
	}
	decided = 1;
out:
	gate_queue_unlock(fd);
	git_reference_free(r);
	if (decided)
		ret = gate_queue_record(repo, cfg, it->branch, &it, 1, NULL, "cancelled", it->reason, err);
	gate_queue_item_free(it);
	return ret;
}

int gate_queue_may_cancel_by_push(const char *git_dir, const char *ref, const char *user)
{
	struct gate_queue_item *it = NULL;
	struct gate_buf err = GATE_BUF_INIT, safe = GATE_BUF_INIT;
	const char *slash = strrchr(ref, '/');
	long id;
	int ok = 0;

	if (!user || !slash || !gate_skip_prefix(ref, GATE_QUEUE_REF_PREFIX, NULL) || parse_long(slash + 1, &id) < 0)
		return 0;
	if (gate_queue_load(&it, git_dir, id, &err) == 0) {
		gate_buf_add_safes(&safe, user); /* as it was stored */
		ok = !strcmp(it->ref, ref) && !gate_queue_state_final(it->state) && !strcmp(it->user, safe.ptr);
	}
	gate_queue_item_free(it);
	gate_buf_release(&err);
	gate_buf_release(&safe);
	return ok;
}

int gate_queue_read_report(struct gate_buf *out, const char *git_dir, long id, struct gate_buf *err)
{
	char *path = gate_queue_report_path(git_dir, id);
	int r = gate_read_file(out, path, err);

	free(path);
	return r == GATE_ENOTFOUND ? 0 : r;
}

/*
 * One receive.procReceiveRefs value against an update, as git's
 * receive-pack reads it (proc_receive_ref_matches): "[a][m][d][!]:PREFIX"
 * or "PREFIX".  1: routed, 0: not, -1: this value does not decide.
 */
static int routed_by(const char *value, const struct gate_update *u)
{
	const char *colon = strchr(value, ':'), *prefix = value, *rest;
	int add = 1, del = 1, mod = 1, neg = 0, r = -1;
	char *pfx;
	size_t len;

	if (colon) {
		add = del = mod = 0;
		for (; prefix < colon; prefix++) {
			add |= *prefix == 'a';
			del |= *prefix == 'd';
			mod |= *prefix == 'm';
			neg |= *prefix == '!';
		}
		prefix++;
	}
	if ((u->kind == GATE_UPDATE_CREATE && !add) || (u->kind == GATE_UPDATE_DELETE && !del) ||
	    (u->kind == GATE_UPDATE_MODIFY && !mod))
		return -1;
	len = strlen(prefix);
	while (len && prefix[len - 1] == '/')
		len--;
	pfx = gate_xstrndup(prefix, len);
	if (gate_skip_prefix(u->ref, pfx, &rest) && (!*rest || *rest == '/')) {
		if (!neg)
			r = 1;
	} else if (neg) {
		r = 1;
	}
	free(pfx);
	return r;
}

int gate_queue_routed(struct gate_repo *repo, const struct gate_update *u, struct gate_buf *err)
{
	static const char *const argv[] = { "git", "config", "--get-all", "receive.procReceiveRefs", NULL };
	struct gate_buf out = GATE_BUF_INIT, errout = GATE_BUF_INIT;
	char *line, *next;
	int status, ret = -1;

	if (gate_run_capture(argv, gate_strvec_argv(&repo->env), repo->git_dir, NULL, 0, &out, &errout, &status,
			     err) < 0)
		goto out;
	if (status == 1 && !out.len) {
		ret = 0; /* not set */
		goto out;
	}
	if (status) {
		gate_error(err, "git config receive.procReceiveRefs failed: %s", gate_buf_cstr(&errout));
		goto out;
	}
	ret = 0;
	for (line = out.ptr; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line && routed_by(line, u) == 1) {
			ret = 1;
			break;
		}
	}
out:
	gate_buf_release(&out);
	gate_buf_release(&errout);
	return ret;
}
