#include "config.h"
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <dirent.h>
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "judged.h"
#include "oidmap.h"
#include "pack.h"
#include "run-command.h"

#include "banned.h"

/* A buffered reader over a pipe from a git child. */
struct reader {
	int fd;
	char *buf;
	size_t start, end, alloc;
	int eof;
};

static void reader_init_size(struct reader *r, int fd, size_t size)
{
	r->fd = fd;
	r->alloc = size;
	r->buf = gate_xmalloc(r->alloc);
	r->start = r->end = 0;
	r->eof = 0;
}

/* A bulk stream: 1 MiB at a time, like the widened pipes. */
static void reader_init(struct reader *r, int fd)
{
	reader_init_size(r, fd, 1 << 20);
}

/*
 * Give a pipe from a git child 1 MiB instead of 64 KiB (Linux, when the
 * limit in /proc/sys/fs/pipe-max-size allows): a blob stream of 700 MB
 * then wakes each side about 700 times instead of 11,000.  Best effort.
 */
static void widen_pipe(int fd)
{
#ifdef F_SETPIPE_SZ
	(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
#else
	(void)fd;
#endif
}

static void reader_release(struct reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

static int reader_fill(struct reader *r)
{
	ssize_t n;

	if (r->start == r->end)
		r->start = r->end = 0;
	if (r->end == r->alloc) {
		if (r->start) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		} else {
			r->alloc *= 2;
			r->buf = gate_xrealloc(r->buf, r->alloc);
		}
	}
	do {
		n = read(r->fd, r->buf + r->end, r->alloc - r->end);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		r->eof = 1;
	r->end += (size_t)n;
	return (int)n;
}

/*
 * The next token ending in `delim` (not included, NUL-terminated in
 * place).  NULL at a clean end of input; sets *bad on a short read.
 */
static char *reader_token(struct reader *r, int delim, size_t *len)
{
	for (;;) {
		char *p = memchr(r->buf + r->start, delim, r->end - r->start);
		if (p) {
			char *tok = r->buf + r->start;
			*p = '\0';
			if (len)
				*len = (size_t)(p - tok);
			r->start = (size_t)(p - r->buf) + 1;
			return tok;
		}
		if (r->eof || reader_fill(r) <= 0)
			return NULL;
	}
}

/*
 * Make the next n bytes contiguous in the buffer, reading (and growing the
 * buffer to n) as needed: a pointer to them, or NULL at a short read.
 * They stay until the caller moves r->start past them.
 */
static char *reader_need(struct reader *r, size_t n)
{
	while (r->end - r->start < n) {
		ssize_t got;
		if (r->alloc - r->start < n) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
			if (r->alloc < n) {
				r->alloc = n;
				r->buf = gate_xrealloc(r->buf, r->alloc);
			}
		}
		if (r->eof)
			return NULL;
		do {
			got = read(r->fd, r->buf + r->end, r->alloc - r->end);
		} while (got < 0 && errno == EINTR);
		if (got <= 0) {
			r->eof = 1;
			return NULL;
		}
		r->end += (size_t)got;
	}
	return r->buf + r->start;
}

/* Copy exactly n bytes into dst (NULL: discard). */
static int reader_bytes(struct reader *r, char *dst, uint64_t n)
{
	while (n) {
		size_t have = r->end - r->start;
		size_t take;
		if (!have && dst && n >= 65536) {
			/* a large blob: read straight into its buffer, not through ours */
			ssize_t got = read(r->fd, dst, n < ((size_t)1 << 30) ? (size_t)n : ((size_t)1 << 30));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				r->eof = 1;
				return -1;
			}
			dst += got;
			n -= (uint64_t)got;
			continue;
		}
		if (!have) {
			if (r->eof || reader_fill(r) <= 0)
				return -1;
			continue;
		}
		take = have < n ? have : (size_t)n;
		if (dst) {
			memcpy(dst, r->buf + r->start, take);
			dst += take;
		}
		r->start += take;
		n -= take;
	}
	return 0;
}

/*
 * Strings kept for the whole scan (occurrence paths) in large chunks:
 * one malloc per 64 KiB instead of one per path.
 */
struct arena {
	char **chunks;
	size_t nr, alloc, used, size;
};

static const char *arena_strdup(struct arena *a, const char *str, size_t len)
{
	char *p;

	if (!a->nr || a->size - a->used < len + 1) {
		size_t size = len + 1 > 65536 ? len + 1 : 65536;
		GATE_ALLOC_GROW(a->chunks, a->nr + 1, a->alloc);
		a->chunks[a->nr++] = gate_xmalloc(size);
		a->size = size;
		a->used = 0;
	}
	p = a->chunks[a->nr - 1] + a->used;
	memcpy(p, str, len);
	p[len] = '\0';
	a->used += len + 1;
	return p;
}

/* `len` zeroed bytes, aligned for nothing more than bytes */
static unsigned char *arena_zalloc(struct arena *a, size_t len)
{
	unsigned char *p;

	if (!a->nr || a->size - a->used < len) {
		size_t size = len > 65536 ? len : 65536;
		GATE_ALLOC_GROW(a->chunks, a->nr + 1, a->alloc);
		a->chunks[a->nr++] = gate_xmalloc(size);
		a->size = size;
		a->used = 0;
	}
	p = (unsigned char *)a->chunks[a->nr - 1] + a->used;
	memset(p, 0, len);
	a->used += len;
	return p;
}

static void arena_release(struct arena *a)
{
	size_t i;

	for (i = 0; i < a->nr; i++)
		free(a->chunks[i]);
	free(a->chunks);
	memset(a, 0, sizeof(*a));
}

/*
 * One path a blob appears at.  A whole-history import records hundreds of
 * thousands of these, so the previous blob's id is kept in binary.
 */
struct occurrence {
	const char *path; /* in the scan's arena */
	uint32_t commit;
	unsigned mode;
	unsigned char old_id[20]; /* all zero: no previous blob */
	int has_old;
};

static void hex_to_bin(unsigned char *out, const char *hex)
{
	size_t i;

	for (i = 0; i < 20; i++) {
		int hi = hex[2 * i], lo = hex[2 * i + 1];
		hi = hi <= '9' ? hi - '0' : hi - 'a' + 10;
		lo = lo <= '9' ? lo - '0' : lo - 'a' + 10;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
}

static void bin_to_hex(char *out, const unsigned char *bin)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 20; i++) {
		out[2 * i] = hex[bin[i] >> 4];
		out[2 * i + 1] = hex[bin[i] & 15];
	}
	out[40] = '\0';
}

/* One per blob of a push (128,015 for git.git's whole history): kept to 80 bytes and its results. */
struct blob_entry {
	char id[41];
	char binary;
	char missing;
	char listed;       /* in gate_scan.blobs: a change brought it (a pushed pack's blobs are read before) */
	uint32_t pack;     /* 1 + the index in gate_scan.packs of the pushed pack holding it; 0: none */
	uint64_t size;
	uint64_t pack_off; /* its offset there */
	struct occurrence *occs;
	uint32_t nocc, alloc;
	void *results[]; /* per blob-scanning check (gate_scan.blob_slot), in the same allocation */
};

/* Requests to the long-running cat-file, consumed in order. */
struct catfile {
	struct gate_child child;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct blob_entry **items;
	size_t nr, alloc, written;
	size_t taken; /* by the scan thread (catfile_next) */
	int closed;
	int write_error;
};

/* A large push's git children started while rev-list walks: see spares_start(). */
#define NSPARES 4

struct spares {
	pthread_t thread;
	int joined;
	const char *const *env;
	const char *const *argv[NSPARES];
	struct gate_child child[NSPARES];
	int ready[NSPARES]; /* started and not taken */
	size_t n, taken;    /* for GIT_GATE_TRACE */
};

/* A push's commits read while rev-list walks: see prefetch_start(). */
struct prefetched {
	size_t size;
	char data[]; /* size bytes and a NUL */
};

struct commit_prefetch {
	pthread_t thread;
	int joined;
	pthread_mutex_t lock;
	int stop;                      /* under lock: the walk is over, what is read is all there is */
	int read_all;                  /* GIT_GATE_TEST_PREFETCH: never stopped, for tests that count */
	struct gate_strvec env;        /* the repository's, over the quarantine alone */
	const char *const *repo_env;   /* the repository's */
	struct gate_oidmap map;        /* id -> struct prefetched *, NULL once taken */
	size_t n, taken;               /* read ahead, used (for GIT_GATE_TRACE) */
};

struct gate_scan {
	struct gate_repo *repo;
	const struct gate_config *cfg;
	const struct gate_push *push;
	const char *pusher;
	struct gate_commit **commits;
	size_t ncommits, alloc_commits;
	/* the commits themselves, COMMIT_SLAB at a time; their group bitmaps in `small` */
	struct gate_commit **commit_slabs;
	size_t nslabs, alloc_slabs;
	struct arena small;
	/* which result slot of a blob entry each check def uses (-1: none): only active blob scanners have one */
	int *blob_slot;
	size_t nslots;
	struct gate_oidmap commit_map;
	char (*first_parents)[41]; /* per commit index, from rev-list; "" for a root */
	size_t alloc_fp;
	int ngroups;
	/* per check def (index into cfg->checks): */
	struct gate_findings *findings;
	char **def_error;
	int *def_active;  /* some job runs it */
	unsigned char **def_groups; /* the groups its jobs are in, a bitmap of group_bytes */
	size_t group_bytes;
	struct gate_oidmap blob_map;
	struct arena paths;         /* occurrence paths */
	struct blob_entry **blobs;
	size_t nblobs, alloc_blobs;
	/* GIT_GATE_TRACE=1: counters printed to stderr, for tests and tuning */
	size_t blobs_read;
	uint64_t bytes_read;
	/* the changes listed, and a digest of them (kind, modes, ids, path; in order) */
	size_t nchanges;
	uint64_t changes_digest;
	/* seconds spent per phase, printed with the counters */
	double t_refs, t_revlist, t_commits, t_commit_hooks, t_changes, t_blob_wait, t_reports;
	pthread_mutex_t repo_lock;  /* libgit2 objects are not shared safely; also guards blob_reader */
	pthread_mutex_t error_lock; /* def_error, set from the blob streams' threads too */
	int diff_children, blob_children; /* for GIT_GATE_TRACE */
	/* single reads outside the bulk pass: a cat-file child started on first use */
	struct gate_child blob_reader;
	/*
	 * The commits are read on their own thread while diff-tree's output
	 * is taken in: `parsed` counts those read and judged by commit hooks,
	 * in index order; a commit is touched by another thread only once
	 * counted (wait_parsed).
	 */
	pthread_mutex_t parse_lock;
	pthread_cond_t parse_cond;
	size_t parsed;
	int parse_done, parse_threaded;
	pthread_t parse_thread;
	struct reader blob_in;
	int blob_reader_state; /* 0 not started, 1 running, -1 broken */
	pthread_mutex_t progress_lock;
	struct gate_judged *const *judged; /* per check def, or NULL */
	/*
	 * A small push (few commits, few and small blobs): its objects are
	 * read in this process with libgit2 (`odb`, under repo_lock) instead
	 * of through cat-file children, whose start-up is most of such a
	 * push's cost (see GATE_SCAN_INPROC_*).
	 */
	int inproc;
	git_odb *odb;
	git_odb *store_odb;               /* the repository's objects without the quarantine: see short_walk() */
	int short_tried, short_walks, full_walks; /* for GIT_GATE_TRACE */
	char default_tip[41];             /* see default_tip(); "" when none */
	int default_looked_up;
	struct gate_oidmap ancestry;      /* "A D" -> 1 (A is an ancestor of D) or 2 (not) */
	/* per check def: state its main-thread hooks keep for this push */
	void **check_state;
	void (**check_state_free)(void *);
	struct commit_prefetch *prefetch; /* see prefetch_start(); NULL: not started */
	struct spares *spares;            /* see spares_start(); NULL: not started */
	/* the quarantine's packs, whose blobs the scan threads read themselves: see packs_open() */
	struct gate_pack **packs;
	size_t npacks, alloc_packs;
	int packs_tried;
	int slow_parse; /* GIT_GATE_TEST_SLOW_PARSE=1: see take_commit() */
	size_t blobs_from_pack, blobs_via_git; /* for GIT_GATE_TRACE */
	uint64_t pack_inflated;
	struct blob_entry **ahead; /* every blob of the packs, listed in `blobs` or not: packs_read_ahead() */
	size_t nahead, alloc_ahead;
};

static int read_header(struct reader *r, const char *want, char type[16], uint64_t *size);
static void blob_reader_stop(struct gate_scan *s);
static void spares_start(struct gate_scan *s);
static int spare_take(struct gate_scan *s, const char *const *argv, struct gate_child *out);
static void spares_free(struct gate_scan *s);
static void spares_join(struct spares *sp);

/* The bulk readers' command lines (see spares_start()). */
static const char *const difftree_argv[] = { "git", "diff-tree", "--stdin", "-r", "-z", "--no-renames", "--root", NULL };
/* --buffer: no flush per object; all is read once stdin is closed */
static const char *const blobs_argv[] = { "git", "cat-file", "--batch", "--buffer", NULL };
static const char *const blob_sizes_argv[] = { "git", "cat-file", "--batch-check", "--buffer", NULL };
static void prefetch_start(struct gate_scan *s);
static void packs_open(struct gate_scan *s);
static void prefetch_join(struct gate_scan *s);
static void prefetch_free(struct gate_scan *s);

static size_t def_index(struct gate_scan *s, const struct gate_check_def *def)
{
	return (size_t)(def - s->cfg->checks);
}

int gate_scan_new(struct gate_scan **out, struct gate_repo *repo, const struct gate_config *cfg,
		  const struct gate_push *push, struct gate_buf *err)
{
	struct gate_scan *s = gate_xcalloc(1, sizeof(*s));
	size_t i;

	s->repo = repo;
	s->cfg = cfg;
	s->push = push;
	s->pusher = push && push->user ? push->user : "unknown";
	{
		const char *slow = getenv("GIT_GATE_TEST_SLOW_PARSE");
		s->slow_parse = slow && !strcmp(slow, "1");
	}
	s->findings = gate_xcalloc(cfg->nchecks + 1, sizeof(*s->findings));
	s->def_error = gate_xcalloc(cfg->nchecks + 1, sizeof(*s->def_error));
	s->def_active = gate_xcalloc(cfg->nchecks + 1, sizeof(*s->def_active));
	s->check_state = gate_xcalloc(cfg->nchecks + 1, sizeof(*s->check_state));
	s->check_state_free = gate_xcalloc(cfg->nchecks + 1, sizeof(*s->check_state_free));
	for (i = 0; i < cfg->nchecks; i++) {
		s->findings[i].lock = gate_xmalloc(sizeof(pthread_mutex_t));
		pthread_mutex_init(s->findings[i].lock, NULL);
	}
	/* its keys are the ids inside the blob entries */
	s->blob_map.borrowed = 1;
	pthread_mutex_init(&s->repo_lock, NULL);
	pthread_mutex_init(&s->error_lock, NULL);
	pthread_mutex_init(&s->progress_lock, NULL);
	pthread_mutex_init(&s->parse_lock, NULL);
	pthread_cond_init(&s->parse_cond, NULL);
	*out = s;
	(void)err;
	return 0;
}

/*
 * After its commit hooks ran, a commit keeps only what reports, change and
 * blob hooks and jobs read (id, tree, parents, subject): a whole-history
 * import holds tens of thousands of commits, and their raw objects,
 * messages and identities were most of the hook's memory.
 */
static void commit_shed(struct gate_commit *c)
{
	free(c->author.name);
	free(c->author.email);
	free(c->committer.name);
	free(c->committer.email);
	free(c->raw);
	free(c->encoding);
	memset(&c->author, 0, sizeof(c->author));
	memset(&c->committer, 0, sizeof(c->committer));
	c->raw = NULL;
	c->raw_len = 0;
	c->encoding = NULL;
	c->message = NULL;
	c->message_len = 0;
}

/* What parsing a commit allocates. */
static void commit_free_parsed(struct gate_commit *c)
{
	free(c->parents); /* one block with the ids */
	free(c->author.name);
	free(c->author.email);
	free(c->committer.name);
	free(c->committer.email);
	free(c->subject);
	free(c->raw);
	free(c->encoding);
}

void gate_commit_release(struct gate_commit *c)
{
	commit_free_parsed(c);
	free(c->groups);
}

/* This process's peak resident set (VmHWM), without its children; -1 if unknown. */
static long peak_rss_kib(void)
{
	struct gate_buf b = GATE_BUF_INIT;
	const char *p;
	long kib = -1;

	if (gate_read_file(&b, "/proc/self/status", NULL) == 0 && (p = strstr(gate_buf_cstr(&b), "VmHWM:")))
		kib = strtol(p + 6, NULL, 10);
	gate_buf_release(&b);
	return kib;
}

static void blob_entry_free(struct gate_scan *s, struct blob_entry *b)
{
	size_t j;

	for (j = 0; j < s->cfg->nchecks; j++) {
		const struct gate_check_type *t = s->cfg->checks[j].type;
		if (s->blob_slot && s->blob_slot[j] >= 0 && b->results[s->blob_slot[j]] && t->blob_result_free)
			t->blob_result_free(b->results[s->blob_slot[j]]);
	}
	free(b->occs);
	free(b);
}

void gate_scan_free(struct gate_scan *s)
{
	size_t i;
	const char *trace;

	if (!s)
		return;
	trace = getenv("GIT_GATE_TRACE");
	if (trace && *trace && strcmp(trace, "0")) {
		char line[200];
		int len = snprintf(line, sizeof(line), "git-gate: trace: %zu commits, %zu blobs read (%llu bytes)\n",
				   s->ncommits, s->blobs_read, (unsigned long long)s->bytes_read);
		if (len > 0)
			(void)gate_write_all(2, line, (size_t)len);
		len = snprintf(line, sizeof(line), "git-gate: trace: %zu changes (digest %016llx)\n", s->nchanges,
			       (unsigned long long)s->changes_digest);
		if (len > 0)
			(void)gate_write_all(2, line, (size_t)len);
		if (s->short_tried) {
			len = snprintf(line, sizeof(line),
				       "git-gate: trace: walks: %d from the old value alone, %d past every excluded tip\n",
				       s->short_walks, s->full_walks);
			if (len > 0)
				(void)gate_write_all(2, line, (size_t)len);
		}
		if (s->spares) {
			spares_join(s->spares);
			len = snprintf(line, sizeof(line),
				       "git-gate: trace: git children started while rev-list ran: %zu, %zu of them used\n",
				       s->spares->n, s->spares->taken);
			if (len > 0)
				(void)gate_write_all(2, line, (size_t)len);
		}
		if (s->prefetch) {
			prefetch_join(s);
			len = snprintf(line, sizeof(line),
				       "git-gate: trace: commits read while rev-list ran: %zu, %zu of them judged\n",
				       s->prefetch->n, s->prefetch->taken);
			if (len > 0)
				(void)gate_write_all(2, line, (size_t)len);
		}
		if (s->npacks) {
			len = snprintf(line, sizeof(line),
				       "git-gate: trace: blobs read from the pushed pack: %zu, through git cat-file: %zu; "
				       "%llu bytes inflated\n",
				       s->blobs_from_pack, s->blobs_via_git, (unsigned long long)s->pack_inflated);
			if (len > 0)
				(void)gate_write_all(2, line, (size_t)len);
		}
		if (s->diff_children || s->blob_children) {
			len = snprintf(line, sizeof(line), "git-gate: trace: children: %d diff-tree, %d cat-file for blobs\n",
				       s->diff_children, s->blob_children);
			if (len > 0)
				(void)gate_write_all(2, line, (size_t)len);
		}
		len = snprintf(line, sizeof(line),
			       "git-gate: trace: ms: refs %.1f, rev-list %.1f, commits %.1f, commit hooks %.1f, "
			       "changes %.1f, blob wait %.1f, blob reports %.1f; peak RSS %ld KiB\n",
			       s->t_refs * 1e3, s->t_revlist * 1e3, s->t_commits * 1e3, s->t_commit_hooks * 1e3,
			       s->t_changes * 1e3, s->t_blob_wait * 1e3, s->t_reports * 1e3, peak_rss_kib());
		if (len > 0)
			(void)gate_write_all(2, line, (size_t)len);
	}
	blob_reader_stop(s);
	prefetch_free(s);
	spares_free(s);
	for (i = 0; i < s->npacks; i++)
		gate_pack_free(s->packs[i]);
	free(s->packs);
	git_odb_free(s->odb);
	git_odb_free(s->store_odb);
	for (i = 0; i < s->ncommits; i++) {
		s->commits[i]->groups = NULL; /* in s->small */
		gate_commit_release(s->commits[i]);
	}
	for (i = 0; i < s->nslabs; i++)
		free(s->commit_slabs[i]);
	free(s->commit_slabs);
	arena_release(&s->small);
	free(s->commits);
	free(s->first_parents);
	gate_oidmap_release(&s->commit_map);
	gate_oidmap_release(&s->ancestry);
	/* those no change brought first: the others are freed through `blobs` */
	for (i = 0; i < s->nahead; i++)
		if (!s->ahead[i]->listed)
			blob_entry_free(s, s->ahead[i]);
	for (i = 0; i < s->nblobs; i++)
		blob_entry_free(s, s->blobs[i]);
	free(s->blobs);
	free(s->ahead);
	free(s->blob_slot);
	gate_oidmap_release(&s->blob_map);
	arena_release(&s->paths);
	for (i = 0; i < s->cfg->nchecks; i++) {
		gate_findings_release(&s->findings[i]);
		pthread_mutex_destroy(s->findings[i].lock);
		free(s->findings[i].lock);
		free(s->def_error[i]);
		if (s->check_state[i] && s->check_state_free[i])
			s->check_state_free[i](s->check_state[i]);
	}
	free(s->check_state);
	free(s->check_state_free);
	free(s->findings);
	free(s->def_error);
	free(s->def_active);
	if (s->def_groups)
		for (i = 0; i < s->cfg->nchecks; i++)
			free(s->def_groups[i]);
	free(s->def_groups);
	pthread_mutex_destroy(&s->repo_lock);
	pthread_mutex_destroy(&s->error_lock);
	pthread_mutex_destroy(&s->progress_lock);
	pthread_mutex_destroy(&s->parse_lock);
	pthread_cond_destroy(&s->parse_cond);
	free(s);
}

void *gate_scan_check_state(struct gate_scan *s, const struct gate_check_def *def)
{
	return s->check_state[def_index(s, def)];
}

void gate_scan_set_check_state(struct gate_scan *s, const struct gate_check_def *def, void *state,
			       void (*free_fn)(void *))
{
	size_t i = def_index(s, def);

	if (s->check_state[i] && s->check_state_free[i])
		s->check_state_free[i](s->check_state[i]);
	s->check_state[i] = state;
	s->check_state_free[i] = free_fn;
}

struct gate_repo *gate_scan_repo(struct gate_scan *s)
{
	return s->repo;
}

void gate_scan_set_judged(struct gate_scan *s, struct gate_judged *const *records)
{
	s->judged = records;
}

const struct gate_config *gate_scan_config(struct gate_scan *s)
{
	return s->cfg;
}

const struct gate_push *gate_scan_push(struct gate_scan *s)
{
	return s->push;
}

/*
 * Wait until commit `index` has been read (returns 1), or the reading
 * stopped short of it (0).  The reading thread itself never waits.
 */
static int wait_parsed(struct gate_scan *s, size_t index)
{
	int ok;

	if (!s->parse_threaded || pthread_equal(pthread_self(), s->parse_thread))
		return 1;
	pthread_mutex_lock(&s->parse_lock);
	while (s->parsed <= index && !s->parse_done)
		pthread_cond_wait(&s->parse_cond, &s->parse_lock);
	ok = s->parsed > index;
	pthread_mutex_unlock(&s->parse_lock);
	return ok;
}

static void set_parsed(struct gate_scan *s, size_t n, int done)
{
	pthread_mutex_lock(&s->parse_lock);
	s->parsed = n;
	s->parse_done = done;
	pthread_cond_broadcast(&s->parse_cond);
	pthread_mutex_unlock(&s->parse_lock);
}

const struct gate_commit *gate_scan_commit(struct gate_scan *s, const char *id)
{
	const struct gate_commit *c = gate_oidmap_get(&s->commit_map, id);

	return c && wait_parsed(s, c->index) ? c : NULL;
}


/*
 * Read object `id` in this process (a small push, s->inproc): its content
 * into `out` (NUL-terminated; NULL: header only), its type and size.
 * Returns 0, GATE_ENOTFOUND, or -1.  The caller holds repo_lock.
 */
static int odb_read_locked(struct gate_scan *s, const char *id, git_object_t *type, uint64_t *size,
			   struct gate_buf *out, struct gate_buf *err)
{
	git_odb_object *obj = NULL;
	git_oid oid;
	size_t len;
	int r;

	if (!s->odb && git_repository_odb(&s->odb, s->repo->git) < 0)
		return gate_error(err, "cannot open the object database: %s", gate_git_error());
	if (git_oid_fromstr(&oid, id) < 0)
		return gate_error(err, "'%s' is not an object id", id);
	if (!out) {
		r = git_odb_read_header(&len, type, s->odb, &oid);
		if (r == 0)
			*size = len;
	} else {
		r = git_odb_read(&obj, s->odb, &oid);
		if (r == 0) {
			*type = git_odb_object_type(obj);
			*size = git_odb_object_size(obj);
			gate_buf_grow(out, git_odb_object_size(obj));
			gate_buf_add(out, git_odb_object_data(obj), git_odb_object_size(obj));
			out->ptr[out->len] = '\0';
			git_odb_object_free(obj);
		}
	}
	if (r == GIT_ENOTFOUND) {
		git_error_clear();
		return GATE_ENOTFOUND;
	}
	if (r < 0)
		return gate_error(err, "cannot read object %s: %s", id, gate_git_error());
	return 0;
}

/*
 * Through git cat-file, not libgit2: git resolves deltas several times
 * faster, and libgit2's pack windows and delta cache would count in the
 * hook's own memory (16 MB and more on a whole-history import).
 */
int gate_scan_read_blob(struct gate_scan *s, const char *id, struct gate_buf *out, struct gate_buf *err)
{
	static const char *const argv[] = { "git", "cat-file", "--batch", NULL };
	char line[42], type[16];
	uint64_t size;
	int ret = -1, r;

	if (!gate_is_hex_oid(id))
		return gate_error(err, "'%s' is not an object id", id);
	pthread_mutex_lock(&s->repo_lock);
	if (s->inproc) {
		git_object_t t;
		size_t at = out->len;
		ret = odb_read_locked(s, id, &t, &size, out, err);
		if (ret == 0 && t != GIT_OBJECT_BLOB) {
			out->len = at;
			out->ptr[at] = '\0';
			ret = gate_error(err, "object %s is a %s, not a blob", id, git_object_type2string(t));
		}
		goto out;
	}
	if (s->blob_reader_state < 0) {
		gate_error(err, "cannot read blob %s: git cat-file failed earlier", id);
		goto out;
	}
	if (!s->blob_reader_state) {
		s->blob_reader = (struct gate_child)GATE_CHILD_INIT;
		s->blob_reader.argv = argv;
		s->blob_reader.env = gate_strvec_argv(&s->repo->env);
		s->blob_reader.in = -1;
		s->blob_reader.out = -1;
		if (gate_child_start(&s->blob_reader, err) < 0) {
			s->blob_reader_state = -1;
			goto out;
		}
		reader_init_size(&s->blob_in, s->blob_reader.out, 64 << 10); /* one blob at a time */
		s->blob_reader_state = 1;
	}
	memcpy(line, id, 40);
	line[40] = '\n';
	if (gate_write_all(s->blob_reader.in, line, 41) < 0)
		goto broken;
	r = read_header(&s->blob_in, id, type, &size);
	if (r == GATE_ENOTFOUND) {
		ret = GATE_ENOTFOUND;
		goto out;
	}
	if (r < 0)
		goto broken;
	if (strcmp(type, "blob")) {
		/* the content still follows: skip it so the stream stays in step */
		if (reader_bytes(&s->blob_in, NULL, size + 1) < 0)
			goto broken;
		gate_error(err, "object %s is a %s, not a blob", id, type);
		goto out;
	}
	if (size > (uint64_t)SIZE_MAX / 2) {
		gate_error(err, "blob %s is too large to read (%llu bytes)", id, (unsigned long long)size);
		s->blob_reader_state = -1;
		goto out;
	}
	gate_buf_grow(out, (size_t)size);
	if (reader_bytes(&s->blob_in, out->ptr + out->len, size) < 0 || reader_bytes(&s->blob_in, NULL, 1) < 0)
		goto broken;
	out->len += (size_t)size;
	out->ptr[out->len] = '\0';
	ret = 0;
	goto out;
broken:
	s->blob_reader_state = -1;
	gate_error(err, "cannot read blob %s: git cat-file stopped answering", id);
out:
	pthread_mutex_unlock(&s->repo_lock);
	return ret;
}

static void blob_reader_stop(struct gate_scan *s)
{
	int status;

	if (!s->blob_reader_state)
		return;
	if (s->blob_reader.in >= 0)
		close(s->blob_reader.in);
	s->blob_reader.in = -1;
	if (s->blob_reader.out >= 0)
		close(s->blob_reader.out);
	s->blob_reader.out = -1;
	reader_release(&s->blob_in);
	(void)gate_child_finish(&s->blob_reader, &status, NULL);
	s->blob_reader_state = 0;
}

void gate_scan_progress(struct gate_scan *s, const char *fmt, ...)
{
	struct gate_buf b = GATE_BUF_INIT, msg = GATE_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	gate_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	/* messages quote check names, refs and errors: one neutralised line */
	gate_buf_adds(&b, "git-gate: ");
	gate_buf_add_safe(&b, msg.ptr ? msg.ptr : "", msg.len);
	gate_buf_release(&msg);
	gate_buf_addch(&b, '\n');
	pthread_mutex_lock(&s->progress_lock);
	(void)gate_write_all(2, b.ptr, b.len);
	pthread_mutex_unlock(&s->progress_lock);
	gate_buf_release(&b);
}

/* ---- commit parsing ---- */

static int parse_ident(struct gate_ident *id, const char *p, size_t len)
{
	const char *lt = memchr(p, '<', len), *gt, *end = p + len, *q;
	char *e;

	if (!lt)
		return -1;
	gt = memchr(lt, '>', (size_t)(end - lt));
	if (!gt)
		return -1;
	q = lt;
	while (q > p && q[-1] == ' ')
		q--;
	id->name = gate_xstrndup(p, (size_t)(q - p));
	id->email = gate_xstrndup(lt + 1, (size_t)(gt - lt - 1));
	q = gt + 1;
	while (q < end && *q == ' ')
		q++;
	{
		char tmp[64];
		size_t n = (size_t)(end - q) < sizeof(tmp) - 1 ? (size_t)(end - q) : sizeof(tmp) - 1;
		memcpy(tmp, q, n);
		tmp[n] = '\0';
		id->time = strtoll(tmp, &e, 10);
		while (*e == ' ')
			e++;
		if (*e == '+' || *e == '-') {
			long tz = strtol(e + 1, NULL, 10);
			if (tz < 0 || tz > 9999)
				tz = 0; /* not +HHMM: no offset rather than an overflow */
			id->tz = (int)((tz / 100) * 60 + tz % 100) * (*e == '-' ? -1 : 1);
		}
	}
	return 0;
}

int gate_commit_parse(struct gate_commit *c, const char *id, const char *data, size_t len, struct gate_buf *err)
{
	const char *p = data, *end = data + len;
	const char *first_parent = NULL;

	memset(c, 0, sizeof(*c));
	memcpy(c->id, id, 40);
	c->id[40] = '\0';
	while (p < end && *p != '\n') {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *v;

		if (n > 5 && !strncmp(p, "tree ", 5) && n == 45 && !c->tree[0]) {
			memcpy(c->tree, p + 5, 40);
			c->tree[40] = '\0';
			if (!gate_is_hex_oid(c->tree))
				return gate_error(err, "commit %.12s has a malformed tree line", id);
		} else if (n == 47 && !strncmp(p, "parent ", 7)) {
			if (!c->nparents++)
				first_parent = p;
		} else if (n > 7 && !strncmp(p, "author ", 7) && !c->author.email) {
			/* a repeated header: git reads the first, and so do we */
			v = p + 7;
			if (parse_ident(&c->author, v, (size_t)(p + n - v)) < 0)
				return gate_error(err, "commit %.12s has a malformed author line", id);
		} else if (n > 10 && !strncmp(p, "committer ", 10) && !c->committer.email) {
			v = p + 10;
			if (parse_ident(&c->committer, v, (size_t)(p + n - v)) < 0)
				return gate_error(err, "commit %.12s has a malformed committer line", id);
		} else if (n > 9 && !strncmp(p, "encoding ", 9) && !c->encoding) {
			c->encoding = gate_xstrndup(p + 9, n - 9);
		}
		p += n + (nl ? 1 : 0);
	}
	if (c->nparents) {
		/* one block: the pointers, then the ids; a second pass over the same header lines */
		char *ids;
		const char *q = first_parent;
		size_t i = 0;

		c->parents = gate_xmalloc(c->nparents * (sizeof(char *) + 41));
		ids = (char *)(c->parents + c->nparents);
		while (i < c->nparents && q < end && *q != '\n') {
			const char *nl = memchr(q, '\n', (size_t)(end - q));
			size_t n = nl ? (size_t)(nl - q) : (size_t)(end - q);
			if (n == 47 && !strncmp(q, "parent ", 7)) {
				c->parents[i] = ids + 41 * i;
				memcpy(c->parents[i], q + 7, 40);
				c->parents[i][40] = '\0';
				if (!gate_is_hex_oid(c->parents[i]))
					return gate_error(err, "commit %.12s has a malformed parent line", id);
				i++;
			}
			q += n + (nl ? 1 : 0);
		}
	}
	if (!c->tree[0])
		return gate_error(err, "commit %.12s has no tree", id);
	if (!c->author.email)
		c->author.name = gate_xstrdup(""), c->author.email = gate_xstrdup("");
	if (!c->committer.email)
		c->committer.name = gate_xstrdup(""), c->committer.email = gate_xstrdup("");
	if (p < end && *p == '\n')
		p++;
	/* the message is the tail of the object: point into one copy of it */
	c->raw = gate_xstrndup(data, len);
	c->raw_len = len;
	c->message = c->raw + (p - data);
	c->message_len = (size_t)(end - p);
	{
		const char *nl = memchr(c->message, '\n', c->message_len);
		c->subject = gate_xstrndup(c->message, nl ? (size_t)(nl - c->message) : c->message_len);
	}

	return 0;
}

/* ---- which commits ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct group {
	const char *new_id;
	const char *old_id;          /* the ref's value before the push; NULL: a new ref, or refs that differ */
	struct gate_strvec excludes; /* sorted, unique */
	struct gate_strvec also;     /* excluded commits judged all the same (judged.h exceptions) */
};

static int same_strvec(const struct gate_strvec *a, const struct gate_strvec *b)
{
	size_t i;

	if (a->nr != b->nr)
		return 0;
	for (i = 0; i < a->nr; i++)
		if (strcmp(a->v[i], b->v[i]))
			return 0;
	return 1;
}

static int same_group(const struct group *g, const char *new_id, const struct gate_strvec *ex,
		      const struct gate_strvec *also)
{
	return !strcmp(g->new_id, new_id) && same_strvec(&g->excludes, ex) && same_strvec(&g->also, also);
}

/*
 * The tip of the default branch (what HEAD names, e.g. main) when its
 * rule enforces `def` and it is not the ref being updated, else NULL.
 * What the default branch holds got there through its own rule -- judged,
 * or let in by a bypass or an exemption granted there -- so it counts as
 * judged for the other refs: a branch made from main is not held up by
 * main's own history, while nothing reaches main itself that way.
 */
static const char *default_tip(struct gate_scan *s, const struct gate_check_def *def, const char *ref)
{
	const char *head = s->repo->default_branch;

	if (!head || !strcmp(head, ref) || !gate_rule_enforces(gate_config_rule_for(s->cfg, head), def))
		return NULL;
	if (!s->default_looked_up) {
		git_oid oid;
		char hex[41];
		s->default_looked_up = 1;
		s->default_tip[0] = '\0';
		if (git_reference_name_to_id(&oid, s->repo->git, head) == 0) {
			git_oid_tostr(hex, sizeof(hex), &oid);
			if (gate_repo_peel_commit(s->repo, hex, s->default_tip, NULL) != 0)
				s->default_tip[0] = '\0';
		}
		git_error_clear();
	}
	return s->default_tip[0] ? s->default_tip : NULL;
}

const char *gate_scan_default_tip(struct gate_scan *s, const struct gate_check_def *def, const char *ref)
{
	return default_tip(s, def, ref);
}

/* gate_repo_is_ancestor, remembered: every check's record usually lists the same exceptions. */
static int is_ancestor(struct gate_scan *s, const char *a, const char *d, int *out, struct gate_buf *err)
{
	char key[84];
	uintptr_t known;

	snprintf(key, sizeof(key), "%.40s %.40s", a, d);
	known = (uintptr_t)gate_oidmap_get(&s->ancestry, key);
	if (known) {
		*out = known == 1;
		return 0;
	}
	if (gate_repo_is_ancestor(s->repo, a, d, out, err) < 0)
		return -1;
	gate_oidmap_put(&s->ancestry, key, (void *)(uintptr_t)(*out ? 1 : 2));
	return 0;
}

/*
 * The record's exceptions that this update brings to its ref: reachable
 * from the new value, not from the old one (nor from the default branch,
 * `dflt`).  Usually there are none.
 */
static int exceptions_brought(struct gate_scan *s, const struct gate_judged *rec, const struct gate_update *u,
			      const char *dflt, struct gate_strvec *out, struct gate_buf *err)
{
	size_t n, i;
	const char *const *ex = gate_judged_exceptions(rec, &n);

	for (i = 0; i < n; i++) {
		git_object_t type;
		int in_new = 0, in_old = 0, r = gate_repo_object_type(s->repo, ex[i], &type, err);
		if (r == GATE_ENOTFOUND)
			continue; /* gone: no new value can reach it */
		if (r < 0 || is_ancestor(s, ex[i], u->new_id, &in_new, err) < 0)
			return -1;
		if (in_new && u->kind != GATE_UPDATE_CREATE && is_ancestor(s, ex[i], u->old_id, &in_old, err) < 0)
			return -1;
		if (in_new && !in_old && dflt && is_ancestor(s, ex[i], dflt, &in_old, err) < 0)
			return -1;
		if (in_new && !in_old)
			gate_strvec_push(out, ex[i]);
	}
	if (out->nr > 1)
		qsort(out->v, out->nr, sizeof(*out->v), cmp_str);
	return 0;
}

/*
 * A push of at most this many commits is read in-process (s->inproc),
 * and its blobs too when they are at most GATE_SCAN_INPROC_BLOBS and
 * GATE_SCAN_INPROC_BYTES in all: one commit onto git.git started four
 * git children, most of the hook's time.  Larger pushes go through git's
 * plumbing, which reads packs several times faster.
 */
#define GATE_SCAN_INPROC_COMMITS 32
#define GATE_SCAN_INPROC_BLOBS 256
#define GATE_SCAN_INPROC_BYTES (64u << 20)

/* commits are allocated this many at a time: a whole history has tens of thousands */
#define COMMIT_SLAB 1024

static struct gate_commit *add_commit(struct gate_scan *s, const char *id)
{
	struct gate_commit *c = gate_oidmap_get(&s->commit_map, id);

	if (c)
		return c;
	if (s->ncommits % COMMIT_SLAB == 0) {
		GATE_ALLOC_GROW(s->commit_slabs, s->nslabs + 1, s->alloc_slabs);
		s->commit_slabs[s->nslabs++] = gate_xcalloc(COMMIT_SLAB, sizeof(struct gate_commit));
	}
	c = &s->commit_slabs[s->nslabs - 1][s->ncommits % COMMIT_SLAB];
	memcpy(c->id, id, 41);
	c->index = s->ncommits;
	GATE_ALLOC_GROW(s->commits, s->ncommits + 1, s->alloc_commits);
	s->commits[s->ncommits++] = c;
	gate_oidmap_put(&s->commit_map, id, c);
	return c;
}

/*
 * Sort the commits of one rev-list into the order `git rev-list
 * --topo-order --reverse` gives without a commit-graph: git's
 * sort_in_topological_order() in graph order (tips in walk order on a
 * LIFO, a parent emitted once all its children are), then reversed.
 *
 * Why not ask git: with a commit-graph, --topo-order walks down to the
 * generation of the oldest negative tip, however few commits are new:
 * 65 ms for one new commit against git.git's 1,200 tags and branches,
 * where the plain limited walk takes 5 ms.
 *
 * `ids` holds n ids in walk order, `par[i]` the parents of ids[i] as
 * indexes into ids (-1: not in the list); `order` receives n indexes.
 */
static void topo_sort(size_t n, const long *par_start, const long *par, long *order)
{
	long *indeg = gate_xcalloc(n + 1, sizeof(*indeg));
	long *stack = gate_xcalloc(n + 1, sizeof(*stack));
	size_t i, nstack = 0, nout = 0;

	for (i = 0; i < n; i++)
		indeg[i] = 1;
	for (i = 0; i < n; i++) {
		long k;
		for (k = par_start[i]; k < par_start[i + 1]; k++)
			if (par[k] >= 0)
				indeg[par[k]]++;
	}
	/* the tips, reversed so that the first one in walk order pops first */
	for (i = n; i-- > 0;)
		if (indeg[i] == 1)
			stack[nstack++] = (long)i;
	while (nstack) {
		long c = stack[--nstack], k;
		for (k = par_start[c]; k < par_start[c + 1]; k++) {
			long p = par[k];
			if (p < 0 || !indeg[p])
				continue;
			if (--indeg[p] == 1)
				stack[nstack++] = p;
		}
		indeg[c] = 0;
		order[nout++] = c;
	}
	/* oldest first, like --reverse */
	for (i = 0; i < nout / 2; i++) {
		long t = order[i];
		order[i] = order[nout - 1 - i];
		order[nout - 1 - i] = t;
	}
	free(indeg);
	free(stack);
}

/*
 * 1 (with a message) when git cannot read `id`: rev-list --ignore-missing
 * then lists nothing, which would read as "nothing new to judge".  Asked
 * on stdin like everything else, so that input that never arrives fails
 * this too rather than passing it.
 */
static int tip_unseen(struct gate_scan *s, const char *id, struct gate_buf *err)
{
	static const char *const argv[] = { "git", "cat-file", "--batch-check", NULL };
	struct gate_buf in = GATE_BUF_INIT, out = GATE_BUF_INIT, eo = GATE_BUF_INIT;
	int status, unseen = 1;

	gate_buf_addf(&in, "%s\n", id);
	if (gate_run_capture(argv, gate_strvec_argv(&s->repo->env), NULL, in.ptr, in.len, &out, &eo, &status,
			     err) < 0)
		goto out;
	if (status || out.len < 48 || strncmp(out.ptr, id, 40) ||
	    (strncmp(out.ptr + 40, " commit ", 8) && strncmp(out.ptr + 40, " tag ", 5))) {
		gate_error(err, "git cannot read the pushed commit %s (%s%s%s)", id,
			   out.len ? "git cat-file says: " : "no answer from git cat-file",
			   out.len ? gate_buf_cstr(&out) : "", eo.len ? gate_buf_cstr(&eo) : "");
		goto out;
	}
	unseen = 0;
out:
	gate_buf_release(&in);
	gate_buf_release(&out);
	gate_buf_release(&eo);
	return unseen;
}

/*
 * Many excluded tips -- a judged tip for each unmerged branch (forks,
 * review branches) -- make every walk start from all of them: 40-50 ms
 * for 20,000, whatever the push.  The common push, a fast-forward of
 * commits new to the server, needs none of them: if nothing `git rev-list
 * NEW ^OLD` lists was in the repository before the push, none of it can be
 * reachable from a tip the repository held, so the other exclusions would
 * take nothing away.  (The one exception, a judged tip kept from a
 * rejected push whose commits come again, has them judged again: stricter,
 * never looser.)  Returns 1 with that list in `out`, or 0 when the full
 * walk must be made: a commit already in the repository (a merge of an
 * existing branch, a rewind), or any failure.
 */
#define SHORT_WALK_MIN_EXCLUDES 16

static int short_walk(struct gate_scan *s, const struct group *g, struct gate_buf *out)
{
	static const char *const argv[] = { "git", "rev-list", "--parents", "--stdin", NULL };
	struct gate_buf in = GATE_BUF_INIT, eo = GATE_BUF_INIT, err = GATE_BUF_INIT;
	const char *line;
	int status, ret = 0;

	if (!s->store_odb) {
		char *dir = gate_xstrfmt("%s/objects", s->repo->git_dir);
		int r = git_odb_open(&s->store_odb, dir);
		free(dir);
		if (r < 0) {
			git_error_clear();
			s->store_odb = NULL;
			goto out;
		}
	}
	gate_buf_addf(&in, "%s\n^%s\n", g->new_id, g->old_id);
	if (gate_run_capture(argv, gate_strvec_argv(&s->repo->env), NULL, in.ptr, in.len, out, &eo, &status, &err) <
		    0 ||
	    status)
		goto out;
	for (line = out->ptr; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		git_oid oid;
		if (git_oid_fromstrn(&oid, line, 40) < 0 ||
		    git_odb_exists_ext(s->store_odb, &oid, GIT_ODB_LOOKUP_NO_REFRESH))
			goto out;
	}
	ret = 1;
out:
	if (!ret)
		gate_buf_reset(out);
	git_error_clear();
	gate_buf_release(&in);
	gate_buf_release(&eo);
	gate_buf_release(&err);
	return ret;
}

static int rev_list(struct gate_scan *s, const struct group *g, int gi, struct gate_buf *err)
{
	/* --ignore-missing: a ref tip that names a missing object excludes nothing */
	static const char *const argv[] = { "git", "rev-list", "--parents", "--ignore-missing", "--stdin", NULL };
	struct gate_buf in = GATE_BUF_INIT, out = GATE_BUF_INIT, eo = GATE_BUF_INIT;
	struct gate_oidmap pos = GATE_OIDMAP_INIT;
	char **ids = NULL;
	size_t *nparents = NULL;
	long *par_start = NULL, *par = NULL, *order = NULL;
	size_t n = 0, alloc = 0, alloc2 = 0, npar = 0, apar = 0, i;
	int status, ret = -1, attempt;
	char *line, *next;

	if (g->old_id && g->excludes.nr >= SHORT_WALK_MIN_EXCLUDES && s->repo->quarantined) {
		int r = short_walk(s, g, &out);
		s->short_tried++;
		if (r > 0) {
			s->short_walks++;
			goto walked;
		}
	}
	s->full_walks++;
	gate_buf_addf(&in, "%s\n", g->new_id);
	for (i = 0; i < g->excludes.nr; i++)
		gate_buf_addf(&in, "^%s\n", g->excludes.v[i]);
	for (attempt = 0;; attempt++) {
		if (gate_run_capture(argv, gate_strvec_argv(&s->repo->env), NULL, in.ptr, in.len, &out, &eo,
				     &status, err) < 0)
			goto out;
		/*
		 * A judged tip recorded by a concurrent push whose objects git
		 * is moving out of its quarantine right now: git found no
		 * object, then found the file, and calls it "corrupt" (seen
		 * with 8 pushes at once).  A moment later it is there.  A
		 * truly corrupt object fails again, and the push is rejected.
		 */
		if (status != 128 || attempt == 2 || !strstr(gate_buf_cstr(&eo), " is corrupt"))
			break;
		gate_buf_reset(&out);
		gate_buf_reset(&eo);
		usleep(20000);
	}
	if (status) {
		gate_error(err, "git rev-list failed (%s): %s", status == 128 ? "missing objects?" : "error",
			   gate_buf_cstr(&eo));
		goto out;
	}
walked:
	if (!out.len && tip_unseen(s, g->new_id, err))
		goto out; /* nothing to judge only when git can see the tip: --ignore-missing must not hide it */
	if (g->also.nr) {
		/* the exceptions, each alone with its parents */
		static const char *const also_argv[] = { "git", "rev-list", "--parents", "--no-walk", "--stdin", NULL };
		gate_buf_reset(&in);
		for (i = 0; i < g->also.nr; i++)
			gate_buf_addf(&in, "%s\n", g->also.v[i]);
		if (gate_run_capture(also_argv, gate_strvec_argv(&s->repo->env), NULL, in.ptr, in.len, &out, &eo,
				     &status, err) < 0)
			goto out;
		if (status) {
			gate_error(err, "git rev-list failed: %s", gate_buf_cstr(&eo));
			goto out;
		}
	}
	/* "<id> <parent>...": ids first, parents resolved once all are known */
	for (line = out.ptr; line && *line; line = next) {
		size_t len;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		len = strlen(line);
		if (len < 40 || len % 41 != 40) {
			gate_error(err, "unexpected output from git rev-list");
			goto out;
		}
		for (i = 40; i < len; i += 41)
			line[i] = '\0';
		for (i = 0; i < len; i += 41)
			if (!gate_is_hex_oid(line + i)) {
				gate_error(err, "unexpected output from git rev-list");
				goto out;
			}
		if (gate_oidmap_get(&pos, line))
			continue;
		GATE_ALLOC_GROW(ids, n + 1, alloc);
		GATE_ALLOC_GROW(nparents, n + 1, alloc2);
		ids[n] = line;
		nparents[n] = (len - 40) / 41;
		gate_oidmap_put(&pos, line, (void *)(uintptr_t)(n + 1));
		n++;
	}
	par_start = gate_xcalloc(n + 1, sizeof(*par_start));
	for (i = 0; i < n; i++) {
		size_t k;
		par_start[i] = (long)npar;
		for (k = 0; k < nparents[i]; k++) {
			uintptr_t at = (uintptr_t)gate_oidmap_get(&pos, ids[i] + 41 * (k + 1));
			GATE_ALLOC_GROW(par, npar + 1, apar);
			par[npar++] = at ? (long)at - 1 : -1;
		}
	}
	par_start[n] = (long)npar;
	order = gate_xcalloc(n + 1, sizeof(*order));
	topo_sort(n, par_start, par, order);
	for (i = 0; i < n; i++) {
		struct gate_commit *c = add_commit(s, ids[order[i]]);
		GATE_ALLOC_GROW(s->first_parents, s->ncommits, s->alloc_fp);
		if (nparents[order[i]])
			memcpy(s->first_parents[c->index], ids[order[i]] + 41, 41);
		else
			s->first_parents[c->index][0] = '\0';
		if (!c->groups)
			c->groups = arena_zalloc(&s->small, ((size_t)s->ngroups + 7) / 8 + 1);
		c->groups[gi / 8] |= (unsigned char)(1u << (gi % 8));
	}
	ret = 0;
out:
	free(ids);
	free(nparents);
	free(par_start);
	free(par);
	free(order);
	gate_oidmap_release(&pos);
	gate_buf_release(&in);
	gate_buf_release(&out);
	gate_buf_release(&eo);
	return ret;
}

static int in_group(const struct gate_commit *c, int g)
{
	return c->groups && (c->groups[g / 8] & (1u << (g % 8)));
}

/*
 * Every ref's tip, peeled through annotated tags, into refs[].commit: the
 * commits a check's exclusions start from.  `git show-ref -d` takes the
 * peeled values packed-refs keeps, where for-each-ref's %(*objectname)
 * reads every tag object (4 ms against 13 ms for git.git's 1,200 tags and
 * branches).  A tip that is not a commit is passed on all the same: `git
 * rev-list ^<tree>` excludes nothing, like skipping it did.
 */
static int list_ref_tips(struct gate_scan *s, struct gate_ref **out, size_t *nr, struct gate_buf *err)
{
	static const char *const argv[] = { "git", "show-ref", "-d", NULL };
	struct gate_buf o = GATE_BUF_INIT, e = GATE_BUF_INIT;
	struct gate_ref *refs = NULL;
	size_t n = 0, alloc = 0;
	int status, ret = -1;
	char *line, *next;

	if (gate_run_capture(argv, gate_strvec_argv(&s->repo->env), NULL, NULL, 0, &o, &e, &status, err) < 0)
		goto out;
	/* exit status 1 with no output: no refs at all */
	if (status && !(status == 1 && !o.len && !e.len)) {
		gate_error(err, "git show-ref failed: %s", gate_buf_cstr(&e));
		goto out;
	}
	for (line = o.ptr; line && *line; line = next) {
		const char *name;
		size_t len;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		len = strlen(line);
		if (len < 42 || line[40] != ' ')
			continue;
		line[40] = '\0';
		if (!gate_is_hex_oid(line))
			continue;
		name = line + 41;
		/* "<peeled> <name>^{}" follows its ref's own line */
		if (len > 44 && !strcmp(line + len - 3, "^{}")) {
			if (n && !strncmp(refs[n - 1].name, name, len - 44) && !refs[n - 1].name[len - 44])
				memcpy(refs[n - 1].commit, line, 41);
			continue;
		}
		GATE_ALLOC_GROW(refs, n + 1, alloc);
		refs[n].name = gate_xstrdup(name);
		memcpy(refs[n].id, line, 41);
		memcpy(refs[n].commit, line, 41);
		n++;
	}
	*out = refs;
	*nr = n;
	refs = NULL;
	ret = 0;
out:
	gate_refs_free(refs, n);
	gate_buf_release(&o);
	gate_buf_release(&e);
	return ret;
}

/*
 * The group of an earlier job (before jobs[i]) on the same update whose
 * check has a record of the same tips, the same default tip and the same
 * exceptions as `rec`, `dflt` and `also`, or -1.
 */
static int same_walk_as(struct gate_scan *s, const struct gate_scan_job *jobs, size_t i,
			const struct gate_judged *rec, const char *dflt, const struct gate_strvec *also,
			const struct group *groups)
{
	size_t k;

	for (k = 0; k < i; k++) {
		const struct gate_scan_job *o = &jobs[k];
		const struct gate_judged *orec;
		const char *odflt;

		if (o->group < 0 || o->update != jobs[i].update)
			continue;
		orec = s->judged ? s->judged[def_index(s, o->def)] : NULL;
		if (!orec || !gate_judged_exists(orec))
			continue;
		odflt = default_tip(s, o->def, o->update->ref);
		if (!odflt != !dflt || (dflt && strcmp(odflt, dflt)))
			continue;
		if (!same_strvec(&groups[o->group].also, also) || !gate_judged_same_tips(orec, rec))
			continue;
		return o->group;
	}
	return -1;
}

int gate_scan_collect(struct gate_scan *s, struct gate_scan_job *jobs, size_t n, struct gate_buf *err)
{
	struct gate_ref *refs = NULL;
	size_t nrefs = 0, i, j, ngroups = 0;
	struct group *groups = gate_xcalloc(n + 1, sizeof(*groups));
	const struct gate_rule **ref_rules = NULL;
	int ret = -1;
	double t0;

	/* Group jobs that share the same new tip and the same exclusions. */
	for (i = 0; i < n; i++) {
		struct gate_scan_job *jb = &jobs[i];
		struct gate_judged *rec = s->judged ? s->judged[def_index(s, jb->def)] : NULL;
		struct gate_strvec ex = GATE_STRVEC_INIT, also = GATE_STRVEC_INIT;
		const char *prev = NULL;
		struct gate_strvec uniq = GATE_STRVEC_INIT;

		jb->group = -1;
		jb->job.ref = jb->update->ref;
		jb->job.old_id = jb->update->old_id;
		jb->job.new_id = jb->update->new_id;
		if (jb->update->kind == GATE_UPDATE_DELETE)
			continue;
		/* a ref keeps its own history */
		if (jb->update->kind != GATE_UPDATE_CREATE)
			gate_strvec_push(&ex, jb->update->old_id);
		if (rec && gate_judged_exists(rec)) {
			/* what the check judged and passed, and what it grandfathered */
			size_t nt;
			const char *const *tips;
			const char *dflt = default_tip(s, jb->def, jb->update->ref);
			int same;
			if (exceptions_brought(s, rec, jb->update, dflt, &also, err) < 0) {
				gate_strvec_clear(&ex);
				goto out;
			}
			/*
			 * An earlier check's job on this update with the same default
			 * tip and a record of the same tips and exceptions walks the
			 * same commits: its group, without sorting 20,000 tips again.
			 */
			if ((same = same_walk_as(s, jobs, i, rec, dflt, &also, groups)) >= 0) {
				gate_strvec_clear(&ex);
				gate_strvec_clear(&also);
				jb->group = same;
				s->def_active[def_index(s, jb->def)] = 1;
				continue;
			}
			tips = gate_judged_tips(rec, &nt);
			for (j = 0; j < nt; j++)
				gate_strvec_push(&ex, tips[j]);
			if (dflt)
				gate_strvec_push(&ex, dflt);
		} else {
			/* no record (git gate check, replay): refs that enforce the check stand in */
			if (!ref_rules) {
				t0 = gate_now();
				if (list_ref_tips(s, &refs, &nrefs, err) < 0)
					goto out;
				/* each ref's rule, once: matching is not free with many refs */
				ref_rules = gate_xcalloc(nrefs + 1, sizeof(*ref_rules));
				for (j = 0; j < nrefs; j++)
					ref_rules[j] = gate_config_rule_for(s->cfg, refs[j].name);
				s->t_refs += gate_now() - t0;
			}
			for (j = 0; j < nrefs; j++) {
				if (!refs[j].commit[0])
					continue;
				/*
				 * The updated ref stands at its old value, excluded
				 * above; where it is now may differ (git gate check in
				 * a clone whose main already holds the commits).
				 */
				if (!strcmp(refs[j].name, jb->update->ref))
					continue;
				if (gate_rule_enforces(ref_rules[j], jb->def))
					gate_strvec_push(&ex, refs[j].commit);
			}
		}
		if (ex.nr) /* qsort(NULL, 0) is undefined */
			qsort(ex.v, ex.nr, sizeof(*ex.v), cmp_str);
		for (j = 0; j < ex.nr; j++) {
			if (prev && !strcmp(prev, ex.v[j]))
				continue;
			gate_strvec_push(&uniq, ex.v[j]);
			prev = ex.v[j];
		}
		gate_strvec_clear(&ex);
		for (j = 0; j < ngroups; j++)
			if (same_group(&groups[j], jb->update->new_id, &uniq, &also))
				break;
		if (j == ngroups) {
			groups[ngroups].new_id = jb->update->new_id;
			groups[ngroups].old_id = jb->update->kind != GATE_UPDATE_CREATE ? jb->update->old_id : NULL;
			groups[ngroups].excludes = uniq;
			groups[ngroups].also = also;
			ngroups++;
		} else {
			if (groups[j].old_id &&
			    (jb->update->kind == GATE_UPDATE_CREATE || strcmp(groups[j].old_id, jb->update->old_id)))
				groups[j].old_id = NULL;
			gate_strvec_clear(&uniq);
			gate_strvec_clear(&also);
		}
		jb->group = (int)j;
		s->def_active[def_index(s, jb->def)] = 1;
	}
	t0 = gate_now();
	if (ngroups)
		prefetch_start(s);
	s->ngroups = (int)ngroups;
	for (j = 0; j < ngroups; j++) {
		git_object_t type;
		int r;
		/* a tag or tree pushed to a branch has no commits to judge */
		r = gate_repo_object_type(s->repo, groups[j].new_id, &type, err);
		if (r == GATE_ENOTFOUND) {
			gate_error(err, "pushed object %s is missing", groups[j].new_id);
			goto out;
		}
		if (r < 0)
			goto out;
		if (type != GIT_OBJECT_COMMIT && type != GIT_OBJECT_TAG)
			continue;
		if (rev_list(s, &groups[j], (int)j, err) < 0)
			goto out;
	}
	for (i = 0; i < n; i++) {
		struct gate_scan_job *jb = &jobs[i];
		size_t k, alloc = 0;

		if (jb->group < 0)
			continue;
		/* only job hooks read the list; for the others the count does (a whole history: 0.5 MB a check) */
		for (k = 0; k < s->ncommits; k++) {
			if (!in_group(s->commits[k], jb->group))
				continue;
			if (jb->def->type->job) {
				GATE_ALLOC_GROW(jb->job.commits, jb->job.ncommits + 1, alloc);
				jb->job.commits[jb->job.ncommits] = s->commits[k];
			}
			jb->job.ncommits++;
		}
	}
	s->group_bytes = ((size_t)s->ngroups + 7) / 8 + 1;
	s->def_groups = gate_xcalloc(s->cfg->nchecks + 1, sizeof(*s->def_groups));
	for (i = 0; i < s->cfg->nchecks; i++)
		s->def_groups[i] = gate_xcalloc(s->group_bytes, 1);
	for (i = 0; i < n; i++)
		if (jobs[i].group >= 0)
			s->def_groups[def_index(s, jobs[i].def)][jobs[i].group / 8] |=
				(unsigned char)(1u << (jobs[i].group % 8));
	ret = 0;
	s->t_revlist += gate_now() - t0;
out:
	for (j = 0; j < ngroups; j++) {
		gate_strvec_clear(&groups[j].excludes);
		gate_strvec_clear(&groups[j].also);
	}
	free(groups);
	free(ref_rules);
	gate_refs_free(refs, nrefs);
	return ret;
}

/* Whether some job of check def k includes commit c: O(groups / 8), not O(jobs). */
static int needed(const struct gate_scan *s, size_t k, const struct gate_commit *c)
{
	const unsigned char *dg = s->def_groups ? s->def_groups[k] : NULL;
	size_t b;

	if (!c->groups || !dg)
		return 0;
	for (b = 0; b < s->group_bytes; b++)
		if (c->groups[b] & dg[b])
			return 1;
	return 0;
}

/* ---- the cat-file stream ---- */

static void *catfile_writer(void *arg)
{
	struct catfile *cf = arg;
	struct gate_buf b = GATE_BUF_INIT;

	for (;;) {
		size_t from, to, i;
		int closed;

		pthread_mutex_lock(&cf->lock);
		while (cf->written == cf->nr && !cf->closed)
			pthread_cond_wait(&cf->cond, &cf->lock);
		from = cf->written;
		to = cf->nr;
		closed = cf->closed;
		gate_buf_reset(&b);
		for (i = from; i < to; i++) {
			gate_buf_add(&b, cf->items[i]->id, 40);
			gate_buf_addch(&b, '\n');
		}
		pthread_mutex_unlock(&cf->lock);
		if (b.len && gate_write_all(cf->child.in, b.ptr, b.len) < 0) {
			pthread_mutex_lock(&cf->lock);
			cf->write_error = errno ? errno : EPIPE;
			cf->written = to;
			pthread_cond_broadcast(&cf->cond);
			pthread_mutex_unlock(&cf->lock);
			break;
		}
		pthread_mutex_lock(&cf->lock);
		cf->written = to;
		pthread_cond_broadcast(&cf->cond);
		pthread_mutex_unlock(&cf->lock);
		if (closed && to == cf->nr)
			break;
	}
	close(cf->child.in);
	cf->child.in = -1;
	gate_buf_release(&b);
	return NULL;
}

static void catfile_request_many(struct catfile *cf, struct blob_entry **e, size_t n)
{
	if (!n)
		return;
	pthread_mutex_lock(&cf->lock);
	GATE_ALLOC_GROW(cf->items, cf->nr + n, cf->alloc);
	memcpy(cf->items + cf->nr, e, n * sizeof(*e));
	cf->nr += n;
	pthread_cond_broadcast(&cf->cond);
	pthread_mutex_unlock(&cf->lock);
}


static void catfile_close(struct catfile *cf)
{
	pthread_mutex_lock(&cf->lock);
	cf->closed = 1;
	pthread_cond_broadcast(&cf->cond);
	pthread_mutex_unlock(&cf->lock);
}

/* Next requested entry in order, or NULL when all are done. */
static struct blob_entry *catfile_next(struct catfile *cf, size_t *pos)
{
	struct blob_entry *e = NULL;

	pthread_mutex_lock(&cf->lock);
	while (*pos >= cf->nr && !cf->closed)
		pthread_cond_wait(&cf->cond, &cf->lock);
	if (*pos < cf->nr)
		e = cf->items[(*pos)++];
	cf->taken = *pos;
	pthread_mutex_unlock(&cf->lock);
	return e;
}

/*
 * Read one object's header ("<id> <type> <size>" or "<id> missing").
 * Returns 0 with *size, GATE_ENOTFOUND for missing, -1 on a bad stream.
 */
static int read_header(struct reader *r, const char *want, char type[16], uint64_t *size)
{
	size_t len;
	char *line = reader_token(r, '\n', &len);
	char *sp;

	if (!line || len < 41 || strncmp(line, want, 40) || line[40] != ' ')
		return -1;
	if (!strcmp(line + 41, "missing") || !strcmp(line + 41, "ambiguous"))
		return GATE_ENOTFOUND;
	sp = strchr(line + 41, ' ');
	if (!sp || (size_t)(sp - (line + 41)) >= 16)
		return -1;
	memcpy(type, line + 41, (size_t)(sp - (line + 41)));
	type[sp - (line + 41)] = '\0';
	*size = strtoull(sp + 1, NULL, 10);
	return 0;
}

struct scan_thread {
	struct gate_scan *s;
	struct catfile *cf;
	struct reader r;
	struct gate_scan_job *jobs;
	size_t njobs;
	int content;      /* cat-file --batch (else --batch-check) */
	int failed;
	struct gate_buf err;
	size_t blobs_read; /* added to the scan's counts when the thread is joined */
	uint64_t bytes_read;
	/*
	 * Reading the pushed pack (s->packs): blobs are read here, and only
	 * those the pack reader leaves to git are asked of a `git cat-file
	 * --batch` this thread starts when it first needs one, one at a time.
	 */
	struct gate_pack_reader *pr;
	int git_started;
	size_t from_pack, via_git;
};

static void set_def_error(struct gate_scan *s, size_t i, const struct gate_buf *err, const char *what);

static void blob_analyse(struct scan_thread *t, struct blob_entry *e, const char *data, size_t len)
{
	struct gate_scan *s = t->s;
	struct gate_blob b;
	size_t i;

	memset(&b, 0, sizeof(b));
	memcpy(b.id, e->id, 41);
	b.size = e->size;
	b.data = data;
	b.len = len;
	b.binary = e->binary;
	for (i = 0; i < s->cfg->nchecks; i++) {
		const struct gate_check_def *def = &s->cfg->checks[i];
		struct gate_check_run run = { def, def->data, s, s->pusher, &t->err, NULL };
		if (!s->def_active[i] || !def->type->blob_scan)
			continue;
		gate_buf_reset(&t->err);
		if (def->type->blob_scan(&run, &b, &e->results[s->blob_slot[i]]) < 0)
			set_def_error(s, i, &t->err, "blob scan failed");
	}
}

/* Blobs below this size are analysed in the reader's buffer (the size of a bulk reader's buffer). */
#define IN_PLACE_MAX ((uint64_t)1 << 20)

/*
 * Read entry `e`'s answer from cat-file (t->r) and analyse it: 0, or -1
 * with t->failed set and the message in t->err.
 */
static int scan_from_catfile(struct scan_thread *t, struct blob_entry *e, struct gate_buf *content)
{
	char type[16];
	int r = read_header(&t->r, e->id, type, &e->size);

	if (r == GATE_ENOTFOUND) {
		e->missing = 1;
		return 0;
	}
	if (r < 0) {
		gate_error(&t->err, "unexpected output from git cat-file while reading %s", e->id);
		goto failed;
	}
	t->blobs_read++;
	if (!t->content) {
		blob_analyse(t, e, NULL, 0);
		return 0;
	}
	t->bytes_read += e->size;
	if (e->size < IN_PLACE_MAX) {
		/*
		 * Analysed where it was read, in the reader's buffer: a
		 * catch-up push's 700 MB are not copied once more.  Its
		 * trailing LF becomes the NUL the hooks may rely on.
		 */
		char *p = reader_need(&t->r, (size_t)e->size + 1);
		if (!p)
			goto short_read;
		if (p[e->size] != '\n') {
			gate_error(&t->err, "unexpected output from git cat-file while reading %s", e->id);
			goto failed;
		}
		p[e->size] = '\0';
		e->binary = memchr(p, '\0', e->size < 8000 ? (size_t)e->size : 8000) != NULL;
		blob_analyse(t, e, p, (size_t)e->size);
		t->r.start += (size_t)e->size + 1;
		return 0;
	}
	if (e->size <= GATE_SCAN_MAX_CONTENT) {
		gate_buf_reset(content);
		gate_buf_grow(content, (size_t)e->size);
		if (reader_bytes(&t->r, content->ptr, e->size) < 0)
			goto short_read;
		content->len = (size_t)e->size;
		content->ptr[content->len] = '\0';
		e->binary = memchr(content->ptr, '\0', content->len < 8000 ? content->len : 8000) != NULL;
		blob_analyse(t, e, content->ptr, content->len);
	} else {
		/* too large to hold: keep the head for binary detection */
		char head[8000];
		if (reader_bytes(&t->r, head, sizeof(head)) < 0 ||
		    reader_bytes(&t->r, NULL, e->size - sizeof(head)) < 0)
			goto short_read;
		e->binary = memchr(head, '\0', sizeof(head)) != NULL;
		blob_analyse(t, e, NULL, 0);
	}
	if (reader_bytes(&t->r, NULL, 1) < 0)
		goto short_read;
	return 0;
short_read:
	gate_error(&t->err, "git cat-file ended early while reading %s", e->id);
failed:
	t->failed = 1;
	return -1;
}

/*
 * Read `e` from the pushed pack and analyse it: 0 when done, 1 when git
 * must read it (not in the pack, larger than GATE_SCAN_MAX_CONTENT, a
 * delta against an object outside the pack, not a blob -- cat-file's
 * answer is then the one judged -- or a pack this reader cannot parse,
 * which git then reports).
 */
static int scan_from_pack(struct scan_thread *t, struct blob_entry *e)
{
	struct gate_buf err = GATE_BUF_INIT;
	const char *data;
	size_t len;
	int type, r;

	if (!e->pack)
		return 1;
	r = gate_pack_read(t->pr, t->s->packs[e->pack - 1], e->pack_off, GATE_SCAN_MAX_CONTENT, &type, &data, &len,
			   &err);
	gate_buf_release(&err);
	if (r < 0 || type != GATE_PACK_BLOB)
		return 1;
	e->size = len;
	e->binary = memchr(data, '\0', len < 8000 ? len : 8000) != NULL;
	t->blobs_read++;
	t->bytes_read += len;
	t->from_pack++;
	blob_analyse(t, e, data, len);
	return 0;
}

/* Ask the thread's own cat-file for `e` (started on first use): 0, or -1 with t->failed set. */
static int ask_git(struct scan_thread *t, struct blob_entry *e)
{
	static const char *const argv[] = { "git", "cat-file", "--batch", NULL };
	char line[41];

	if (!t->git_started) {
		t->cf->child = (struct gate_child)GATE_CHILD_INIT;
		t->cf->child.argv = argv;
		t->cf->child.env = gate_strvec_argv(&t->s->repo->env);
		t->cf->child.in = -1;
		t->cf->child.out = -1;
		if (gate_child_start(&t->cf->child, &t->err) < 0) {
			t->failed = 1;
			return -1;
		}
		reader_init_size(&t->r, t->cf->child.out, 64 << 10);
		t->git_started = 1;
	}
	memcpy(line, e->id, 40);
	line[40] = '\n';
	if (gate_write_all(t->cf->child.in, line, sizeof(line)) < 0) {
		gate_error(&t->err, "cannot ask git cat-file for %s: %s", e->id, strerror(errno));
		t->failed = 1;
		return -1;
	}
	t->via_git++;
	return 0;
}

/* The thread's own cat-file, at its end: 0, or -1 with t->failed set. */
static int git_finish(struct scan_thread *t)
{
	int status = 0, r;

	if (!t->git_started)
		return 0;
	close(t->cf->child.in);
	t->cf->child.in = -1;
	while (!t->r.eof && reader_fill(&t->r) >= 0)
		t->r.start = t->r.end = 0;
	close(t->cf->child.out);
	t->cf->child.out = -1;
	reader_release(&t->r);
	r = gate_child_finish(&t->cf->child, &status, NULL);
	t->git_started = 0;
	if ((r < 0 || status) && !t->failed) {
		gate_error(&t->err, "git cat-file failed");
		t->failed = 1;
		return -1;
	}
	return 0;
}

static void *scan_thread_main(void *arg)
{
	struct scan_thread *t = arg;
	struct gate_buf content = GATE_BUF_INIT;
	size_t pos = 0;
	struct blob_entry *e;

	while ((e = catfile_next(t->cf, &pos))) {
		if (t->pr && (!scan_from_pack(t, e) || ask_git(t, e) < 0)) {
			if (t->failed)
				break;
			continue;
		}
		if (scan_from_catfile(t, e, &content) < 0)
			break;
	}
	if (t->failed) {
		/* drain so the writer and git cat-file are not blocked on us */
		while (catfile_next(t->cf, &pos))
			;
		while (!t->pr && !t->r.eof && reader_fill(&t->r) >= 0) {
			t->r.start = t->r.end = 0;
		}
	}
	if (t->pr)
		git_finish(t);
	gate_buf_release(&content);
	return NULL;
}

/* ---- diff-tree ---- */

/*
 * A child's input of commit ids: "<commit> <first parent>" lines for
 * diff-tree, "<commit>" for cat-file, written a chunk at a time from
 * copies taken before the thread starts (the commits themselves are being
 * parsed meanwhile): a whole history's lines at once were 9 MB.
 */
struct dt_writer {
	int fd;
	size_t n;
	char (*ids)[41];
	const char (*first_parents)[41]; /* per commit index, stable during the scan; NULL: ids only */
	uint32_t *index;
};

static void *difftree_writer(void *arg)
{
	struct dt_writer *w = arg;
	struct gate_buf b = GATE_BUF_INIT;
	size_t i;

	for (i = 0; i < w->n; i++) {
		const char *fp = w->first_parents ? w->first_parents[w->index[i]] : "";
		gate_buf_add(&b, w->ids[i], 40);
		if (*fp) {
			gate_buf_addch(&b, ' ');
			gate_buf_add(&b, fp, 40);
		}
		gate_buf_addch(&b, '\n');
		if (b.len >= 65536 || i + 1 == w->n) {
			if (gate_write_all(w->fd, b.ptr, b.len) < 0)
				break;
			gate_buf_reset(&b);
		}
	}
	close(w->fd);
	gate_buf_release(&b);
	return NULL;
}

static void set_def_error(struct gate_scan *s, size_t i, const struct gate_buf *err, const char *what)
{
	pthread_mutex_lock(&s->error_lock);
	if (!s->def_error[i])
		s->def_error[i] = gate_xstrdup(err->len ? err->ptr : what);
	pthread_mutex_unlock(&s->error_lock);
}

/* The commit hooks of every check that judges `c`: cheap, on this thread. */
static void run_commit_hooks(struct gate_scan *s, struct gate_commit *c)
{
	const struct gate_config *cfg = s->cfg;
	struct gate_buf herr = GATE_BUF_INIT;
	double t0 = gate_now();
	size_t k;

	for (k = 0; k < cfg->nchecks; k++) {
		const struct gate_check_def *def = &cfg->checks[k];
		struct gate_check_run run = { def, def->data, s, s->pusher, &herr, NULL };
		if (!s->def_active[k] || !def->type->commit || !needed(s, k, c))
			continue;
		gate_buf_reset(&herr);
		if (def->type->commit(&run, c, &s->findings[k]) < 0)
			set_def_error(s, k, &herr, "commit check failed");
	}
	gate_buf_release(&herr);
	s->t_commit_hooks += gate_now() - t0;
}

/* ---- a large push's git children, started while rev-list walks ---- */

/* What the active checks need: changes (diff-tree), blobs, their content. */
static void wanted(const struct gate_scan *s, int *changes, int *blobs, int *content)
{
	size_t i;

	*changes = *blobs = *content = 0;
	for (i = 0; i < s->cfg->nchecks; i++) {
		const struct gate_check_type *t = s->cfg->checks[i].type;
		if (!s->def_active[i])
			continue;
		if (t->change)
			*changes = 1;
		if (t->blob_scan) {
			*blobs = 1;
			if (t->flags & GATE_CHECK_CONTENT)
				*content = 1;
		}
	}
}

/*
 * Starting the two diff-trees and the two blob cat-files of a large push
 * took 8-13 ms on the main thread after the walk (each start waits for
 * its exec).  Where commits are read ahead (prefetch_start()), they are
 * started during the walk instead, by a thread of their own, and taken
 * when the scan gets to them; one the scan does not take (a push smaller
 * than it looked, one diff-tree where two were guessed) is sent EOF and
 * waited for.  They read nothing before they get their input, so what
 * they judge is the same.
 */
static void *spares_main(void *arg)
{
	struct spares *sp = arg;
	struct gate_buf err = GATE_BUF_INIT;
	size_t i;

	for (i = 0; i < sp->n; i++) {
		sp->child[i] = (struct gate_child)GATE_CHILD_INIT;
		sp->child[i].argv = sp->argv[i];
		sp->child[i].env = sp->env;
		sp->child[i].in = -1;
		sp->child[i].out = -1;
		sp->ready[i] = gate_child_start(&sp->child[i], &err) == 0;
		gate_buf_reset(&err);
	}
	gate_buf_release(&err);
	return NULL;
}

static void spares_start(struct gate_scan *s)
{
	struct spares *sp;
	int changes, blobs, content;

	wanted(s, &changes, &blobs, &content);
	if (s->spares || !(changes || blobs) || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	sp = gate_xcalloc(1, sizeof(*sp));
	sp->env = gate_strvec_argv(&s->repo->env);
	sp->argv[sp->n++] = difftree_argv;
	sp->argv[sp->n++] = difftree_argv;
	if (content)
		packs_open(s);
	if (blobs && !(content && s->npacks)) {
		sp->argv[sp->n++] = content ? blobs_argv : blob_sizes_argv;
		sp->argv[sp->n++] = content ? blobs_argv : blob_sizes_argv;
	}
	if (pthread_create(&sp->thread, NULL, spares_main, sp)) {
		free(sp);
		return;
	}
	s->spares = sp;
}

static void spares_join(struct spares *sp)
{
	if (!sp->joined) {
		pthread_join(sp->thread, NULL);
		sp->joined = 1;
	}
}

/* A spare child started with `argv` into *out: 1, or 0 when there is none. */
static int spare_take(struct gate_scan *s, const char *const *argv, struct gate_child *out)
{
	struct spares *sp = s->spares;
	size_t i;

	if (!sp)
		return 0;
	spares_join(sp);
	for (i = 0; i < sp->n; i++)
		if (sp->ready[i] && sp->argv[i] == argv) {
			*out = sp->child[i];
			sp->ready[i] = 0;
			sp->taken++;
			return 1;
		}
	return 0;
}

static void spares_free(struct gate_scan *s)
{
	struct spares *sp = s->spares;
	size_t i;
	int status;

	if (!sp)
		return;
	spares_join(sp);
	for (i = 0; i < sp->n; i++)
		if (sp->ready[i]) {
			/* never given input: EOF ends it */
			close(sp->child[i].in);
			close(sp->child[i].out);
			gate_child_finish(&sp->child[i], &status, NULL);
		}
	free(sp);
	s->spares = NULL;
}

/* ---- a large push's commits, read while rev-list walks ---- */

/*
 * Over a large push, `git rev-list` (80-100 ms for git.git's 8,071
 * commits v2.30.0..v2.40.0) runs alone: nothing else can start before it
 * has listed the commits, and the second core idles.  The pushed objects
 * sit in the quarantine, and its commits are (nearly always exactly) the
 * ones the walk will list, so they are read meanwhile on that core and
 * kept until the commit hooks can run.  Only a push with at least
 * PREFETCH_MIN_OBJECTS objects in the quarantine's packs (for a small one
 * two more processes would cost more than they save) and at most
 * PREFETCH_MAX_COMMITS new commits is read ahead, and at most
 * PREFETCH_MAX_BYTES of them held (read in pack order, they wait for
 * their turn: a whole-history import's would be most of its memory).
 * Reading stops when the walk ends (waiting for the rest would hold up
 * everything after it).  A commit the walk lists that was not read by
 * then, or that the quarantine lacks (already on the server: a branch
 * copied to a new name), is read afterwards as before, and one the
 * quarantine holds that the walk does not list is dropped: either way a
 * commit is judged on git's own answer for its id, so the verdict cannot
 * change.
 */
#define PREFETCH_MIN_OBJECTS 2048
#define PREFETCH_MAX_COMMITS 16384
#define PREFETCH_MAX_BYTES ((uint64_t)8 << 20)

/*
 * The quarantine's packs, for the scan threads to read blobs from (see
 * pack.h): only a push to a repository (quarantined), and not when
 * GIT_GATE_TEST_NO_PACK=1 (the tests' and benchmarks' way to compare
 * with reading everything through cat-file).  A pack that does not open
 * is left to git, and so are packs of more than PACK_MAX_OBJECTS objects
 * in all: reading them here costs the hook memory in proportion to them
 * (an entry for each of their blobs before any change names it, its
 * readers' caches, the pack's pages), which a whole-history import of
 * git.git (over 300,000 objects) cannot spare under 100 MiB, and its
 * time was no better for it.
 */
#define PACK_MAX_OBJECTS 131072

static void packs_open(struct gate_scan *s)
{
	const char *quarantine = getenv("GIT_QUARANTINE_PATH");
	const char *off = getenv("GIT_GATE_TEST_NO_PACK");
	struct gate_buf err = GATE_BUF_INIT;
	struct dirent *de;
	uint64_t objects = 0;
	char *dir;
	DIR *d;
	size_t i;

	if (s->packs_tried)
		return;
	s->packs_tried = 1;
	if (!s->repo->quarantined || !quarantine || !*quarantine || (off && !strcmp(off, "1")))
		return;
	dir = gate_xstrfmt("%s/pack", quarantine);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct gate_pack *p;
		char *path;

		if (len < 5 || strcmp(de->d_name + len - 4, ".idx"))
			continue;
		path = gate_xstrfmt("%s/%s", dir, de->d_name);
		if (gate_pack_open(&p, path, &err) == 0) {
			GATE_ALLOC_GROW(s->packs, s->npacks + 1, s->alloc_packs);
			s->packs[s->npacks++] = p;
			objects += gate_pack_count(p);
		}
		gate_buf_reset(&err);
		free(path);
	}
	if (d)
		closedir(d);
	free(dir);
	gate_buf_release(&err);
	if (objects > PACK_MAX_OBJECTS) {
		for (i = 0; i < s->npacks; i++)
			gate_pack_free(s->packs[i]);
		s->npacks = 0;
	}
#ifdef __GLIBC__
	if (s->npacks) {
		/*
		 * The readers allocate and free the push's blobs by the
		 * thousand, from bytes to megabytes.  With glibc's defaults a
		 * blob over the mmap threshold (which rises to the size of each
		 * mapped block freed) got fresh pages, and thread arenas were
		 * trimmed and grown again: page faults on new pages were a sixth
		 * of the hook's time.  Fixed thresholds keep that memory for the
		 * next blobs (2-5% less time, and less memory at the peak, on a
		 * catch-up push); the hook ends with the push.
		 */
		mallopt(M_MMAP_THRESHOLD, (int)GATE_SCAN_MAX_CONTENT);
		mallopt(M_TRIM_THRESHOLD, 64 << 20);
	}
#endif
}

/* Objects in the quarantine's packs, from their index headers (a pushed pack is never loose). */
static uint64_t quarantine_objects(const char *quarantine)
{
	char *dir = gate_xstrfmt("%s/pack", quarantine);
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t n = 0;

	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		unsigned char hdr[8 + 256 * 4];
		const unsigned char *last;
		char *path;
		int fd;

		if (len < 5 || strcmp(de->d_name + len - 4, ".idx"))
			continue;
		path = gate_xstrfmt("%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		free(path);
		if (fd < 0)
			continue;
		if (read(fd, hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr)) {
			/* version 2 starts "\377tOc" and a version; then (as version 1 does) 256 counts, the last of all */
			last = memcmp(hdr, "\377tOc", 4) ? hdr + 255 * 4 : hdr + 8 + 255 * 4;
			n += (uint64_t)last[0] << 24 | (uint64_t)last[1] << 16 | (uint64_t)last[2] << 8 | last[3];
		}
		close(fd);
	}
	if (d)
		closedir(d);
	free(dir);
	return n;
}

static void prefetch_drop(struct commit_prefetch *p)
{
	size_t i;

	for (i = 0; i < p->map.alloc; i++)
		if (p->map.slots[i].key)
			free(p->map.slots[i].value);
	gate_oidmap_release(&p->map);
	memset(&p->map, 0, sizeof(p->map));
	p->n = 0;
}

static int prefetch_stopped(struct commit_prefetch *p)
{
	int stop;

	pthread_mutex_lock(&p->lock);
	stop = p->stop;
	pthread_mutex_unlock(&p->lock);
	return stop;
}

/* The ids of the quarantine's commits, unless there are more than PREFETCH_MAX_COMMITS. */
static size_t prefetch_list(struct commit_prefetch *p, char (**out)[41])
{
	/* unordered and without sizes: 20 ms for the 42,785 objects of the push above, not 70 */
	static const char *const argv[] = { "git", "cat-file", "--batch-all-objects", "--unordered",
					    "--batch-check=%(objecttype) %(objectname)", NULL };
	struct gate_child c = GATE_CHILD_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	char (*ids)[41] = NULL, *line;
	size_t n = 0, alloc = 0, len;
	struct reader r;
	int status, fail = 0, null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	c.argv = argv;
	c.env = gate_strvec_argv(&p->env);
	c.no_stdin = 1;
	c.out = -1;
	c.err = null >= 0 ? null : 0;
	if (gate_child_start(&c, &err) < 0) {
		if (null >= 0)
			close(null);
		gate_buf_release(&err);
		return 0;
	}
	if (null >= 0)
		close(null);
	reader_init_size(&r, c.out, 65536);
	while ((line = reader_token(&r, '\n', &len))) {
		/* "commit <id>" */
		if (strncmp(line, "commit ", 7))
			continue;
		if (len != 47 || !gate_is_hex_oid(line + 7) || n == PREFETCH_MAX_COMMITS || prefetch_stopped(p)) {
			fail = 1; /* closing the pipe ends the child */
			break;
		}
		GATE_ALLOC_GROW(ids, n + 1, alloc);
		memcpy(ids[n++], line + 7, 41);
	}
	close(c.out);
	reader_release(&r);
	if (gate_child_finish(&c, &status, NULL) < 0 || status)
		fail = 1;
	gate_buf_release(&err);
	if (fail) {
		free(ids);
		return 0;
	}
	*out = ids;
	return n;
}

static void *prefetch_main(void *arg)
{
	static const char *const argv[] = { "git", "cat-file", "--batch", "--buffer", NULL };
	struct commit_prefetch *p = arg;
	struct gate_child c = GATE_CHILD_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	char (*ids)[41] = NULL;
	size_t n = prefetch_list(p, &ids), i;
	uint64_t bytes = 0;
	int cut = 0, bad = 0;
	struct dt_writer w;
	pthread_t writer;
	struct reader r;
	int status;

	if (!n)
		goto out;
	c.argv = argv;
	c.env = p->repo_env;
	c.in = -1;
	c.out = -1;
	if (gate_child_start(&c, &err) < 0)
		goto out;
	memset(&w, 0, sizeof(w));
	w.fd = c.in;
	w.n = n;
	w.ids = ids;
	if (pthread_create(&writer, NULL, difftree_writer, &w)) {
		close(c.in);
		close(c.out);
		gate_child_finish(&c, &status, NULL);
		goto out;
	}
	widen_pipe(c.out);
	reader_init(&r, c.out);
	for (i = 0; i < n; i++) {
		struct prefetched *pf;
		char type[16];
		uint64_t size;

		/* the walk is over: the commits not read yet are read in turn (waiting would cost more) */
		if (prefetch_stopped(p)) {
			cut = 1;
			break;
		}
		if (read_header(&r, ids[i], type, &size) < 0 || strcmp(type, "commit")) {
			bad = 1;
			break;
		}
		bytes += size;
		if (bytes > PREFETCH_MAX_BYTES) {
			cut = 1; /* enough held: the rest are read in turn */
			break;
		}
		pf = gate_xmalloc(sizeof(*pf) + (size_t)size + 1);
		pf->size = (size_t)size;
		if (reader_bytes(&r, pf->data, size) < 0 || reader_bytes(&r, NULL, 1) < 0) {
			free(pf);
			bad = 1;
			break;
		}
		pf->data[size] = '\0';
		gate_oidmap_put(&p->map, ids[i], pf);
		p->n++;
	}
	close(c.out);
	pthread_join(writer, NULL);
	reader_release(&r);
	/* output not understood, or a child that failed (not one cut short): all is read again */
	if (gate_child_finish(&c, &status, NULL) < 0 || bad || (status && !cut))
		prefetch_drop(p);
out:
	free(ids);
	gate_buf_release(&err);
	return NULL;
}

static void prefetch_start(struct gate_scan *s)
{
	const char *quarantine = getenv("GIT_QUARANTINE_PATH");
	const char *force = getenv("GIT_GATE_TEST_PREFETCH"); /* the tests' way to use it on a small push */
	struct commit_prefetch *p;
	size_t i;

	if (s->prefetch || !s->repo->quarantined || !quarantine || !*quarantine)
		return;
	if (!(force && !strcmp(force, "1")) && quarantine_objects(quarantine) < PREFETCH_MIN_OBJECTS)
		return;
	p = gate_xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->read_all = force && !strcmp(force, "1");
	for (i = 0; i < s->repo->env.nr; i++)
		gate_strvec_push(&p->env, s->repo->env.v[i]);
	gate_strvec_pushf(&p->env, "GIT_OBJECT_DIRECTORY=%s", quarantine);
	gate_strvec_push(&p->env, "GIT_ALTERNATE_OBJECT_DIRECTORIES");
	(void)gate_strvec_argv(&p->env);
	p->repo_env = gate_strvec_argv(&s->repo->env);
	spares_start(s);
	if (pthread_create(&p->thread, NULL, prefetch_main, p)) {
		pthread_mutex_destroy(&p->lock);
		gate_strvec_clear(&p->env);
		free(p);
		return;
	}
	s->prefetch = p;
}

/* The walk is over: stop reading ahead, keep what was read. */
static void prefetch_join(struct gate_scan *s)
{
	if (s->prefetch && !s->prefetch->joined) {
		pthread_mutex_lock(&s->prefetch->lock);
		s->prefetch->stop = !s->prefetch->read_all;
		pthread_mutex_unlock(&s->prefetch->lock);
		pthread_join(s->prefetch->thread, NULL);
		s->prefetch->joined = 1;
	}
}

/* The raw commit read ahead for `id`, or NULL: the caller frees it. */
static struct prefetched *prefetch_take(struct gate_scan *s, const char *id)
{
	struct prefetched *pf;

	if (!s->prefetch)
		return NULL;
	prefetch_join(s);
	pf = gate_oidmap_get(&s->prefetch->map, id);
	if (pf) {
		gate_oidmap_put(&s->prefetch->map, id, NULL);
		s->prefetch->taken++;
	}
	return pf;
}

static void prefetch_free(struct gate_scan *s)
{
	if (!s->prefetch)
		return;
	prefetch_join(s);
	prefetch_drop(s->prefetch);
	pthread_mutex_destroy(&s->prefetch->lock);
	gate_strvec_clear(&s->prefetch->env);
	free(s->prefetch);
	s->prefetch = NULL;
}

/*
 * Read every new commit, run its commit hooks as it arrives, then let go
 * of what only those hooks read.
 */
static int read_commits_body(struct gate_scan *s, struct gate_buf *err);

static int read_commits(struct gate_scan *s, struct gate_buf *err)
{
	double t0 = gate_now(), hooks0 = s->t_commit_hooks;
	int ret = read_commits_body(s, err);

	/* the commit hooks ran while the commits were read: their time is counted apart */
	s->t_commits += gate_now() - t0 - (s->t_commit_hooks - hooks0);
	pthread_mutex_lock(&s->parse_lock);
	s->parse_done = 1;
	pthread_cond_broadcast(&s->parse_cond);
	pthread_mutex_unlock(&s->parse_lock);
	return ret;
}

struct parse_thread {
	struct gate_scan *s;
	struct gate_buf err;
	int ret;
};

static void *parse_thread_main(void *arg)
{
	struct parse_thread *t = arg;

	t->ret = read_commits(t->s, &t->err);
#ifdef __GLIBC__
	/*
	 * This thread's malloc arena holds what reading freed (raw objects,
	 * the id list): hand it back, or a whole-history import keeps ~10 MB
	 * that no other thread's allocations can reuse.
	 */
	malloc_trim(0);
#endif
	return NULL;
}

/* Commit i has been read (`id`, its raw object in `raw`): parse it and run its commit hooks. */
/* take_commit() moves a parsed commit in around these two, which come last. */
_Static_assert(offsetof(struct gate_commit, index) + sizeof(size_t) == sizeof(struct gate_commit) &&
		       offsetof(struct gate_commit, groups) + sizeof(unsigned char *) ==
			       offsetof(struct gate_commit, index),
	       "struct gate_commit ends with groups and index");

static int take_commit(struct gate_scan *s, size_t i, const char *id, const char *raw, size_t len, struct gate_buf *err)
{
	struct gate_commit *cm = s->commits[i], parsed;
	const size_t from = offsetof(struct gate_commit, tree), to = offsetof(struct gate_commit, groups);

	/*
	 * Parsed aside, then moved in without writing the commit's id,
	 * groups and index: the diff-tree loop looks a commit up by its id
	 * and reads its index to wait for it (wait_parsed()) while this
	 * thread may be parsing it.  Parsed in place, they were cleared for
	 * a moment, and under load the last commit's changes of a push were
	 * once attached to its first commit and skipped by a check.
	 */
	if (gate_commit_parse(&parsed, id, raw, len, err) < 0) {
		gate_commit_release(&parsed);
		return -1;
	}
	if (s->slow_parse)
		usleep(2000); /* the tests': the diff-tree loop gets ahead and waits for every commit */
	commit_free_parsed(cm);
	memcpy((char *)cm + from, (char *)&parsed + from, to - from);
	run_commit_hooks(s, cm);
	commit_shed(cm);
	set_parsed(s, i + 1, 0);
	return 0;
}

/* A small push (s->inproc): the commits through libgit2, no cat-file child. */
static int read_commits_inproc(struct gate_scan *s, struct gate_buf *err)
{
	struct gate_buf raw = GATE_BUF_INIT;
	size_t i;
	int ret = -1;

	for (i = 0; i < s->ncommits; i++) {
		struct prefetched *pf;
		char id[41];
		git_object_t type;
		uint64_t size;
		int r;

		memcpy(id, s->commits[i]->id, 41);
		if ((pf = prefetch_take(s, id))) {
			r = take_commit(s, i, id, pf->data, pf->size, err);
			free(pf);
			if (r < 0)
				goto out;
			continue;
		}
		gate_buf_reset(&raw);
		pthread_mutex_lock(&s->repo_lock);
		r = odb_read_locked(s, id, &type, &size, &raw, err);
		pthread_mutex_unlock(&s->repo_lock);
		if (r == GATE_ENOTFOUND) {
			gate_error(err, "commit %s is missing from the repository", id);
			goto out;
		}
		if (r < 0)
			goto out;
		if (type != GIT_OBJECT_COMMIT) {
			gate_error(err, "cannot read commit %s", id);
			goto out;
		}
		if (take_commit(s, i, id, raw.ptr, raw.len, err) < 0)
			goto out;
	}
	ret = 0;
out:
	gate_buf_release(&raw);
	return ret;
}

static int read_commits_body(struct gate_scan *s, struct gate_buf *err)
{
	static const char *const argv[] = { "git", "cat-file", "--batch", "--buffer", NULL };
	struct gate_buf e2 = GATE_BUF_INIT;
	struct gate_child cf = GATE_CHILD_INIT;
	struct prefetched **held = NULL;
	struct reader r;
	pthread_t writer;
	struct dt_writer w;
	size_t i, nmiss = 0;
	int ret = -1, status, started = 0;

	if (!s->ncommits)
		return 0;
	if (s->inproc)
		return read_commits_inproc(s, err);
	memset(&w, 0, sizeof(w));
	memset(&r, 0, sizeof(r));
	/* what was read while rev-list ran, and the ids cat-file must still read */
	held = gate_xcalloc(s->ncommits, sizeof(*held));
	w.ids = gate_xcalloc(s->ncommits, sizeof(*w.ids));
	for (i = 0; i < s->ncommits; i++)
		if (!(held[i] = prefetch_take(s, s->commits[i]->id)))
			memcpy(w.ids[nmiss++], s->commits[i]->id, 41);
	if (nmiss) {
		cf.argv = argv;
		cf.env = gate_strvec_argv(&s->repo->env);
		cf.in = -1;
		cf.out = -1;
		if (gate_child_start(&cf, err) < 0)
			goto out;
		w.fd = cf.in;
		w.n = nmiss;
		if (pthread_create(&writer, NULL, difftree_writer, &w)) {
			close(cf.in);
			close(cf.out);
			gate_child_finish(&cf, &status, NULL);
			gate_error(err, "cannot start a thread to feed git cat-file");
			goto out;
		}
		started = 1;
		widen_pipe(cf.out);
		reader_init(&r, cf.out);
	}
	for (i = 0; i < s->ncommits; i++) {
		struct gate_commit *cm = s->commits[i];
		char type[16], id[41];
		uint64_t size;
		int h;

		memcpy(id, cm->id, 41);
		if (held[i]) {
			h = take_commit(s, i, id, held[i]->data, held[i]->size, err);
			free(held[i]);
			held[i] = NULL;
			if (h < 0)
				break;
			continue;
		}
		h = read_header(&r, id, type, &size);
		if (h == GATE_ENOTFOUND) {
			gate_error(err, "commit %s is missing from the repository", id);
			break;
		}
		if (h < 0 || strcmp(type, "commit")) {
			gate_error(err, "cannot read commit %s", id);
			break;
		}
		gate_buf_reset(&e2);
		gate_buf_grow(&e2, (size_t)size);
		if (reader_bytes(&r, e2.ptr, size) < 0 || reader_bytes(&r, NULL, 1) < 0) {
			gate_error(err, "git cat-file ended early reading commit %s", id);
			break;
		}
		e2.len = (size_t)size;
		if (take_commit(s, i, id, e2.ptr, e2.len, err) < 0)
			break;
	}
	if (i == s->ncommits)
		ret = 0;
	if (started) {
		close(cf.out);
		pthread_join(writer, NULL);
		if (gate_child_finish(&cf, &status, ret < 0 ? NULL : err) < 0)
			ret = -1;
		reader_release(&r);
	}
out:
	for (i = 0; i < s->ncommits; i++)
		free(held[i]);
	free(held);
	free(w.ids);
	gate_buf_release(&e2);
	return ret;
}

static unsigned parse_mode(const char *s)
{
	return (unsigned)strtoul(s, NULL, 8);
}

/* ---- a small push's tree diffs, in-process ---- */

static void buf_truncate(struct gate_buf *b, size_t len)
{
	b->len = len;
	if (b->ptr)
		b->ptr[len] = '\0';
}

/* git's tree order: a tree's name sorts as if it ended in '/' */
static int entry_cmp(const git_tree_entry *a, const git_tree_entry *b)
{
	const char *na = git_tree_entry_name(a), *nb = git_tree_entry_name(b);
	size_t la = strlen(na), lb = strlen(nb), n = la < lb ? la : lb;
	int c = memcmp(na, nb, n);
	unsigned char ca, cb;

	if (c)
		return c;
	ca = la > n ? (unsigned char)na[n] : git_tree_entry_type(a) == GIT_OBJECT_TREE ? '/' : 0;
	cb = lb > n ? (unsigned char)nb[n] : git_tree_entry_type(b) == GIT_OBJECT_TREE ? '/' : 0;
	return ca < cb ? -1 : ca > cb;
}

/* one raw -z record, as git diff-tree -r -z --no-renames writes it */
static void diff_record(struct gate_buf *out, const struct gate_buf *path, const git_tree_entry *o,
			const git_tree_entry *n, char status)
{
	char hex[GIT_OID_HEXSZ + 1];

	gate_buf_addf(out, ":%06o %06o ", o ? (unsigned)git_tree_entry_filemode(o) : 0u,
		      n ? (unsigned)git_tree_entry_filemode(n) : 0u);
	if (o)
		git_oid_tostr(hex, sizeof(hex), git_tree_entry_id(o));
	gate_buf_adds(out, o ? hex : "0000000000000000000000000000000000000000");
	gate_buf_addch(out, ' ');
	if (n)
		git_oid_tostr(hex, sizeof(hex), git_tree_entry_id(n));
	gate_buf_adds(out, n ? hex : "0000000000000000000000000000000000000000");
	gate_buf_addch(out, ' ');
	gate_buf_addch(out, status);
	gate_buf_addch(out, '\0');
	gate_buf_add(out, path->ptr, path->len);
	gate_buf_addch(out, '\0');
}

/*
 * The changes from tree `a` to tree `b` (either NULL: empty) below
 * `path`, recursing only into subtrees whose ids differ, in git's order:
 * what `git diff-tree -r --no-renames` lists.
 */
static int diff_trees(git_repository *repo, const git_tree *a, const git_tree *b, struct gate_buf *path,
		      struct gate_buf *out, struct gate_buf *err)
{
	size_t na = a ? git_tree_entrycount(a) : 0, nb = b ? git_tree_entrycount(b) : 0, i = 0, j = 0;
	size_t plen = path->len;
	int ret = 0;

	while (ret == 0 && (i < na || j < nb)) {
		const git_tree_entry *o = i < na ? git_tree_entry_byindex(a, i) : NULL;
		const git_tree_entry *n = j < nb ? git_tree_entry_byindex(b, j) : NULL;
		int c = !o ? 1 : !n ? -1 : entry_cmp(o, n);
		const git_tree_entry *e = c <= 0 ? o : n;
		int otree, ntree;

		if (c == 0 && git_tree_entry_filemode(o) == git_tree_entry_filemode(n) &&
		    git_oid_equal(git_tree_entry_id(o), git_tree_entry_id(n))) {
			i++, j++;
			continue;
		}
		buf_truncate(path, plen);
		if (plen)
			gate_buf_addch(path, '/');
		gate_buf_adds(path, git_tree_entry_name(e));
		otree = c <= 0 && git_tree_entry_type(o) == GIT_OBJECT_TREE;
		ntree = c >= 0 && git_tree_entry_type(n) == GIT_OBJECT_TREE;
		if (otree || ntree) {
			/* same name on both sides is the same kind here: entry_cmp tells trees apart */
			git_tree *ta = NULL, *tb = NULL;
			if ((otree && git_tree_lookup(&ta, repo, git_tree_entry_id(o)) < 0) ||
			    (ntree && git_tree_lookup(&tb, repo, git_tree_entry_id(n)) < 0))
				ret = gate_error(err, "cannot read a tree: %s", gate_git_error());
			else
				ret = diff_trees(repo, ta, tb, path, out, err);
			git_tree_free(ta);
			git_tree_free(tb);
		} else if (c < 0) {
			diff_record(out, path, o, NULL, 'D');
		} else if (c > 0) {
			diff_record(out, path, NULL, n, 'A');
		} else {
			int type_changed = (git_tree_entry_filemode(o) & 0170000) != (git_tree_entry_filemode(n) & 0170000);
			diff_record(out, path, o, n, type_changed ? 'T' : 'M');
		}
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	buf_truncate(path, plen);
	return ret;
}

/*
 * What `git diff-tree --stdin -r -z --no-renames --root` writes for the
 * commits of `list` (each against its first parent), into `out`: a
 * small push spares the child.  Caller holds no lock; takes repo_lock.
 */
static int diff_commits_inproc(struct gate_scan *s, struct gate_commit **list, size_t n, struct gate_buf *out,
			       struct gate_buf *err)
{
	git_repository *repo = s->repo->git;
	struct gate_buf path = GATE_BUF_INIT;
	size_t i;
	int ret = 0;

	pthread_mutex_lock(&s->repo_lock);
	for (i = 0; i < n && ret == 0; i++) {
		const struct gate_commit *c = list[i];
		const char *fp = s->first_parents[c->index];
		git_tree *ta = NULL, *tb = NULL;
		git_commit *parent = NULL;
		git_oid oid;
		size_t at = out->len;

		if (git_oid_fromstr(&oid, c->tree) < 0 || git_tree_lookup(&tb, repo, &oid) < 0) {
			ret = gate_error(err, "cannot read the tree of commit %s: %s", c->id, gate_git_error());
			break;
		}
		if (*fp && (git_oid_fromstr(&oid, fp) < 0 || git_commit_lookup(&parent, repo, &oid) < 0 ||
			    git_commit_tree(&ta, parent) < 0))
			ret = gate_error(err, "cannot read the parent of commit %s: %s", c->id, gate_git_error());
		else {
			gate_buf_add(out, c->id, 40);
			gate_buf_addch(out, '\0');
			gate_buf_reset(&path);
			ret = diff_trees(repo, ta, tb, &path, out, err);
			if (out->len == at + 41)
				buf_truncate(out, at); /* like diff-tree: no header without changes */
		}
		git_tree_free(ta);
		git_tree_free(tb);
		git_commit_free(parent);
	}
	pthread_mutex_unlock(&s->repo_lock);
	gate_buf_release(&path);
	return ret;
}

/*
 * What each scan thread's reader of the pushed pack keeps of delta
 * bases.  Read depth first along their chains (packs_read_ahead()), the
 * blobs of a catch-up push (v2.30.0..v2.40.0 of git.git, 18,734 blobs)
 * were each inflated once with 8 MiB: 80 MB inflated in all (78 MB with
 * 16 MiB or 64 MiB, 92 MB with 4 MiB, 297 MB with 1 MiB).
 */
#define PACK_CACHE_BYTES ((size_t)8 << 20)

/*
 * Start the long-running cat-file that reads every new blob (`content`:
 * --batch, else sizes only with --batch-check) and prepare its reader;
 * the caller starts the writer and scan threads.
 */
static int start_blob_stream(struct gate_scan *s, struct catfile *cf, struct scan_thread *st, int content,
			     struct gate_buf *err)
{
	const char *const *argv = content ? blobs_argv : blob_sizes_argv;

	st->s = s;
	st->cf = cf;
	st->content = content;
	if (content && s->npacks) {
		/* the thread reads the pushed pack, and starts a cat-file only if it needs one */
		pthread_mutex_init(&cf->lock, NULL);
		pthread_cond_init(&cf->cond, NULL);
		cf->child = (struct gate_child)GATE_CHILD_INIT;
		cf->child.in = cf->child.out = -1;
		st->pr = gate_pack_reader_new(PACK_CACHE_BYTES);
		return 0;
	}
	cf->child = (struct gate_child)GATE_CHILD_INIT;
	cf->child.argv = argv;
	cf->child.env = gate_strvec_argv(&s->repo->env);
	cf->child.in = -1;
	cf->child.out = -1;
	if (!spare_take(s, argv, &cf->child) && gate_child_start(&cf->child, err) < 0)
		return -1;
	pthread_mutex_init(&cf->lock, NULL);
	pthread_cond_init(&cf->cond, NULL);
	widen_pipe(cf->child.out);
	reader_init(&st->r, cf->child.out);
	return 0;
}

/*
 * diff-tree in up to two parts: a catch-up push's commits are cut in two
 * halves, each diffed by a child of its own on its own core; the second
 * one's output is read into memory by a thread while the first one's is
 * parsed, then parsed in turn, so that changes still come in push order.
 * Below DT_SPLIT_MIN commits one child is quick enough.
 */
#define DT_SPLIT_MIN 256
/*
 * At most this much of the second part is read ahead; the rest waits in
 * its pipe (a whole-history import lists hundreds of MB of changes).
 */
#define DT_SLURP_MAX ((size_t)1 << 20)

struct dt_part {
	struct gate_child child;
	struct dt_writer w;
	pthread_t writer, slurper;
	int started, slurping;
	struct gate_buf out; /* the slurped output */
	int read_error;      /* errno of a failed read, for the slurped part */
	int ended;           /* the slurper read to the end (not only slurp_max) */
	size_t slurp_max;    /* DT_SLURP_MAX; GIT_GATE_TEST_SLURP_MAX in the tests */
};

static void *dt_slurp(void *arg)
{
	struct dt_part *p = arg;

	while (p->out.len < p->slurp_max) {
		size_t want = p->slurp_max - p->out.len;
		ssize_t n;
		gate_buf_grow(&p->out, want < (1 << 20) ? want : (1 << 20));
		if (want > p->out.alloc - p->out.len - 1)
			want = p->out.alloc - p->out.len - 1;
		n = read(p->child.out, p->out.ptr + p->out.len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			p->read_error = errno;
		if (n <= 0) {
			p->ended = 1;
			break;
		}
		p->out.len += (size_t)n;
	}
	return NULL;
}

static int dt_part_start(struct gate_scan *s, struct dt_part *p, struct gate_commit **list, size_t from, size_t to,
			 int slurp, struct gate_buf *err)
{
	size_t i;

	p->w.n = to - from;
	p->w.ids = gate_xcalloc(p->w.n + 1, sizeof(*p->w.ids));
	p->w.index = gate_xcalloc(p->w.n + 1, sizeof(*p->w.index));
	p->w.first_parents = (const char(*)[41])s->first_parents;
	for (i = from; i < to; i++) {
		memcpy(p->w.ids[i - from], list[i]->id, 41);
		p->w.index[i - from] = (uint32_t)list[i]->index;
	}
	p->child = (struct gate_child)GATE_CHILD_INIT;
	p->child.argv = difftree_argv;
	p->child.env = gate_strvec_argv(&s->repo->env);
	p->child.in = -1;
	p->child.out = -1;
	if (!spare_take(s, difftree_argv, &p->child) && gate_child_start(&p->child, err) < 0)
		return -1;
	s->diff_children++;
	widen_pipe(p->child.out);
	p->w.fd = p->child.in;
	if (pthread_create(&p->writer, NULL, difftree_writer, &p->w)) {
		int status;
		close(p->child.in);
		close(p->child.out);
		p->child.out = -1;
		gate_child_finish(&p->child, &status, NULL);
		return gate_error(err, "cannot start a thread to feed git diff-tree");
	}
	p->started = 1;
	if (slurp) {
		const char *max = getenv("GIT_GATE_TEST_SLURP_MAX");
		p->slurp_max = max && *max ? (size_t)strtoul(max, NULL, 10) : DT_SLURP_MAX;
		if (pthread_create(&p->slurper, NULL, dt_slurp, p))
			return gate_error(err, "cannot start a thread to read git diff-tree");
		p->slurping = 1;
	}
	return 0;
}

/* Wait until a part's slurper has read all of its output. */
static void dt_part_slurped(struct dt_part *p)
{
	if (p->slurping) {
		pthread_join(p->slurper, NULL);
		p->slurping = 0;
	}
}

/* Its output read (or given up on) and its input written: close and join. */
static void dt_part_join(struct dt_part *p)
{
	if (!p->started || p->child.out < 0)
		return;
	dt_part_slurped(p);
	close(p->child.out);
	p->child.out = -1;
	pthread_join(p->writer, NULL);
}

/* The child's exit: 0, or -1 with a message in `err` (NULL: only clean up). */
static int dt_part_finish(struct dt_part *p, struct gate_buf *err)
{
	int status = 0, ret = 0;

	dt_part_join(p);
	if (p->started) {
		if (gate_child_finish(&p->child, &status, err) < 0)
			ret = -1;
		else if (status) {
			if (err)
				gate_error(err, "git diff-tree failed with exit status %d", status);
			ret = -1;
		}
		p->started = 0;
	}
	free(p->w.ids);
	free(p->w.index);
	p->w.ids = NULL;
	p->w.index = NULL;
	gate_buf_release(&p->out);
	return ret;
}

/*
 * A push's blobs are read by up to MAX_STREAMS cat-file children at once,
 * each with its writer and its scan thread: inflating a catch-up push's
 * 700 MB is the longest task of the scan, and one child does it on one
 * core.  A blob goes to the stream its first path hashes to, so that the
 * versions of a file, which the pack stores as deltas of each other, are
 * inflated by the same child and its cache of delta bases (blob by blob
 * in turn, the two children together did more work than one).
 */
#define MAX_STREAMS 2

struct blob_stream {
	struct catfile cf;
	struct scan_thread st;
	pthread_t writer, scanner;
	int started;
	struct blob_entry *pending[64]; /* handed over in batches: one lock and wakeup per batch */
	size_t npending;
};

static int stream_start(struct gate_scan *s, struct blob_stream *b, int content, struct gate_buf *err)
{
	int status, writing = 0;

	if (start_blob_stream(s, &b->cf, &b->st, content, err) < 0)
		return -1;
	if (b->st.pr) {
		if (!pthread_create(&b->scanner, NULL, scan_thread_main, &b->st)) {
			b->started = 1;
			return 0;
		}
		gate_pack_reader_free(b->st.pr);
		b->st.pr = NULL;
		pthread_mutex_destroy(&b->cf.lock);
		pthread_cond_destroy(&b->cf.cond);
		return gate_error(err, "cannot start a thread to read blobs");
	}
	s->blob_children++;
	if (!pthread_create(&b->writer, NULL, catfile_writer, &b->cf)) {
		writing = 1;
		if (!pthread_create(&b->scanner, NULL, scan_thread_main, &b->st)) {
			b->started = 1;
			return 0;
		}
	}
	/* no thread to feed or to read the child: it gets no more input, and ends */
	if (writing) {
		catfile_close(&b->cf);
		pthread_join(b->writer, NULL);
	} else {
		close(b->cf.child.in);
	}
	close(b->cf.child.out);
	reader_release(&b->st.r);
	gate_child_finish(&b->cf.child, &status, NULL);
	pthread_mutex_destroy(&b->cf.lock);
	pthread_cond_destroy(&b->cf.cond);
	return gate_error(err, "cannot start a thread to read git cat-file");
}

static void stream_flush(struct blob_stream *b)
{
	if (b->started)
		catfile_request_many(&b->cf, b->pending, b->npending);
	b->npending = 0;
}

/*
 * At a commit's end: hand over what it brought only when the stream runs
 * low (STREAM_LOW blobs not yet taken by its scan thread); otherwise
 * they wait for a full batch.  Every hand-over wakes the writer thread,
 * git cat-file and the scan thread: handing over at each of a catch-up
 * push's 8,071 commits made most of its 48,000 context switches.
 */
#define STREAM_LOW 32

static void stream_flush_if_low(struct blob_stream *b)
{
	int low;

	if (!b->npending)
		return;
	pthread_mutex_lock(&b->cf.lock);
	low = b->cf.nr - b->cf.taken < STREAM_LOW;
	pthread_mutex_unlock(&b->cf.lock);
	if (low)
		stream_flush(b);
}

static size_t stream_of(const char *path, size_t nstreams)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *path; path++)
		h = (h ^ (unsigned char)*path) * 1099511628211ULL;
	return (size_t)(h % nstreams);
}

/*
 * Wait for a started stream to end and add up what it read.  Returns 0,
 * or -1 with what went wrong in `err` (NULL: only clean up).
 */
static int stream_finish(struct gate_scan *s, struct blob_stream *b, struct gate_buf *err)
{
	int status = 0, r, ret = 0;

	if (!b->started)
		return 0;
	catfile_close(&b->cf);
	pthread_join(b->scanner, NULL);
	if (b->st.pr) {
		/* the thread has ended its own cat-file, if it started one */
		r = 0;
		s->pack_inflated += gate_pack_reader_inflated(b->st.pr);
		gate_pack_reader_free(b->st.pr);
		b->st.pr = NULL;
		s->blobs_from_pack += b->st.from_pack;
		s->blobs_via_git += b->st.via_git;
	} else {
		pthread_join(b->writer, NULL);
		close(b->cf.child.out);
		reader_release(&b->st.r);
		r = gate_child_finish(&b->cf.child, &status, NULL);
	}
	if (b->st.failed) {
		if (err)
			gate_error(err, "%s", gate_buf_cstr(&b->st.err));
		ret = -1;
	} else if (r < 0 || status) {
		if (err)
			gate_error(err, "git cat-file failed");
		ret = -1;
	}
	s->blobs_read += b->st.blobs_read;
	s->bytes_read += b->st.bytes_read;
	pthread_mutex_destroy(&b->cf.lock);
	pthread_cond_destroy(&b->cf.cond);
	free(b->cf.items);
	b->cf.items = NULL;
	gate_buf_release(&b->st.err);
	b->started = 0;
	return ret;
}

/*
 * Reading the pushed packs (see pack.h): every blob they hold is handed
 * to the scan threads now, in the order the pack stores them, before
 * diff-tree has said which changes bring them.  In that order a delta's
 * base is among the objects a thread has just read (the same chain of
 * deltas always goes to the same thread), so a small cache of bases
 * serves it; in the order changes come (oldest commit first), a version
 * of a file is a delta of a newer one still to come, and a cache of 16
 * MiB per thread made inflating them a third slower than git's 96 MiB
 * cache does.  A blob's analysis does not depend on where it is used;
 * one no change brings (a pushed pack holds what its commits need, but a
 * pusher may add more) is read and never reported.  Blobs a change
 * brings that the packs do not hold follow, through cat-file.
 */
static void packs_read_ahead(struct gate_scan *s, struct blob_stream *bs, size_t nstreams)
{
	struct blob_entry **to[MAX_STREAMS];
	size_t nto[MAX_STREAMS], alloc[MAX_STREAMS], i, k;
	char hex[41];

	memset(to, 0, sizeof(to));
	memset(nto, 0, sizeof(nto));
	memset(alloc, 0, sizeof(alloc));
	for (k = 0; k < s->npacks; k++) {
		struct gate_pack_blob *v;
		size_t n = gate_pack_blobs(s->packs[k], &v);

		for (i = 0; i < n; i++) {
			struct blob_entry *e;
			size_t st;

			bin_to_hex(hex, gate_pack_id(s->packs[k], v[i].pos));
			if (gate_oidmap_get(&s->blob_map, hex))
				continue; /* in two packs */
			e = gate_xcalloc(1, sizeof(*e) + (s->nslots + 1) * sizeof(e->results[0]));
			memcpy(e->id, hex, 41);
			e->pack = (uint32_t)k + 1;
			e->pack_off = v[i].offset;
			gate_oidmap_put(&s->blob_map, e->id, e);
			GATE_ALLOC_GROW(s->ahead, s->nahead + 1, s->alloc_ahead);
			s->ahead[s->nahead++] = e;
			st = (size_t)((v[i].root * 0x9e3779b97f4a7c15ull) >> 32) % nstreams;
			GATE_ALLOC_GROW(to[st], nto[st] + 1, alloc[st]);
			to[st][nto[st]++] = e;
		}
		free(v);
	}
	for (k = 0; k < nstreams; k++) {
		catfile_request_many(&bs[k].cf, to[k], nto[k]);
		free(to[k]);
	}
}

/*
 * A small push (s->inproc): read and analyse its blobs here with libgit2.
 * Returns 1, having read nothing, when they are too many or one is too
 * large to hold (the cat-file stream reads them then), 0 when done, -1
 * on error.
 */
static int read_blobs_inproc(struct gate_scan *s, int content, struct gate_buf *err)
{
	struct scan_thread t;
	struct gate_buf data = GATE_BUF_INIT;
	uint64_t total = 0;
	size_t i;
	int ret = -1;

	if (s->nblobs > GATE_SCAN_INPROC_BLOBS)
		return 1;
	memset(&t, 0, sizeof(t));
	t.s = s;
	t.content = content;
	pthread_mutex_lock(&s->repo_lock);
	for (i = 0; i < s->nblobs; i++) {
		git_object_t type;
		int r = odb_read_locked(s, s->blobs[i]->id, &type, &s->blobs[i]->size, NULL, err);
		if (r == GATE_ENOTFOUND)
			continue; /* reported as missing below, when read */
		if (r < 0)
			goto out;
		total += s->blobs[i]->size;
		if (content && (s->blobs[i]->size > GATE_SCAN_MAX_CONTENT || total > GATE_SCAN_INPROC_BYTES)) {
			ret = 1;
			goto out;
		}
	}
	for (i = 0; i < s->nblobs; i++) {
		struct blob_entry *e = s->blobs[i];
		git_object_t type;
		int r;

		gate_buf_reset(&data);
		r = odb_read_locked(s, e->id, &type, &e->size, content ? &data : NULL, err);
		if (r == GATE_ENOTFOUND) {
			e->missing = 1;
			continue;
		}
		if (r < 0)
			goto out;
		s->blobs_read++;
		if (content) {
			s->bytes_read += e->size;
			e->binary = memchr(data.ptr, '\0', data.len < 8000 ? data.len : 8000) != NULL;
		}
		/* hooks may read other blobs (gate_scan_read_blob takes the lock) */
		pthread_mutex_unlock(&s->repo_lock);
		blob_analyse(&t, e, content ? data.ptr : NULL, content ? data.len : 0);
		pthread_mutex_lock(&s->repo_lock);
	}
	ret = 0;
out:
	pthread_mutex_unlock(&s->repo_lock);
	gate_buf_release(&data);
	gate_buf_release(&t.err);
	return ret;
}

int gate_scan_content(struct gate_scan *s, struct gate_scan_job *jobs, size_t n, struct gate_buf *err)
{
	const struct gate_config *cfg = s->cfg;
	struct gate_buf herr = GATE_BUF_INIT;
	struct gate_commit **list = NULL;
	size_t nlist = 0, alloc = 0, i, j, k;
	int want_changes = 0, want_blobs = 0, want_content = 0, ret = -1;
	double t0;
	struct blob_stream bs[MAX_STREAMS];
	size_t nstreams = 1;
	struct dt_part dp[2];
	size_t ndp = 0, part = 0; /* diff-tree parts started, the one being parsed */
	int streaming;
	struct reader r;
	struct gate_commit *cur = NULL;
	struct parse_thread pt;
	size_t *njobs_of = NULL; /* per check def: its jobs in this push */

	memset(bs, 0, sizeof(bs));
	memset(dp, 0, sizeof(dp));
	dp[0].child.out = dp[1].child.out = -1;
	memset(&pt, 0, sizeof(pt));
	/* Commits some content check must see, in push order. */
	for (i = 0; i < s->ncommits; i++) {
		for (j = 0; j < n; j++)
			if (jobs[j].group >= 0 && in_group(s->commits[i], jobs[j].group))
				break;
		if (j < n) {
			GATE_ALLOC_GROW(list, nlist + 1, alloc);
			list[nlist++] = s->commits[i];
		}
	}
	free(s->blob_slot);
	s->blob_slot = gate_xcalloc(cfg->nchecks + 1, sizeof(*s->blob_slot));
	s->nslots = 0;
	for (i = 0; i < cfg->nchecks; i++)
		s->blob_slot[i] = s->def_active[i] && cfg->checks[i].type->blob_scan ? (int)s->nslots++ : -1;
	wanted(s, &want_changes, &want_blobs, &want_content);
	/* GIT_GATE_TEST_STREAM=1: the tests' way to judge a small push through the children too */
	s->inproc = s->ncommits <= GATE_SCAN_INPROC_COMMITS && !getenv("GIT_GATE_TEST_STREAM");
	t0 = gate_now();
	streaming = nlist && (want_changes || want_blobs);
	if (streaming && !s->inproc) {
		/*
		 * Start diff-tree (and the blob cat-file) before reading the
		 * commits: they need only ids and first parents (known from
		 * rev-list), and get a head start into their 1 MiB pipes.
		 */
		size_t half = nlist >= DT_SPLIT_MIN && sysconf(_SC_NPROCESSORS_ONLN) > 1 ? nlist / 2 : nlist;
		if (dt_part_start(s, &dp[0], list, 0, half, 0, err) < 0)
			goto out;
		ndp = 1;
		if (half < nlist) {
			if (dt_part_start(s, &dp[1], list, half, nlist, 1, err) < 0)
				goto out;
			ndp = 2;
		}
	}
	if (streaming && want_blobs && !s->inproc) {
		/* reading only sizes (--batch-check) is no long task */
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		nstreams = want_content && cpus > 1 ? MAX_STREAMS : 1;
		if (want_content)
			packs_open(s);
		for (k = 0; k < nstreams; k++)
			if (stream_start(s, &bs[k], want_content, err) < 0)
				goto out;
		if (want_content && s->npacks)
			packs_read_ahead(s, bs, nstreams);
	}
	if (!streaming || s->inproc) {
		/* a small push: read on this thread while diff-tree starts */
		if (read_commits(s, err) < 0)
			goto out;
		if (!streaming) {
			ret = 0;
			goto distribute;
		}
	} else {
		/* the commits on their own thread: diff-tree and cat-file need not wait for them */
		pt.s = s;
		if (pthread_create(&s->parse_thread, NULL, parse_thread_main, &pt)) {
			gate_error(err, "cannot start a thread to read the commits");
			goto out;
		}
		s->parse_threaded = 1;
	}
	t0 = gate_now();

	if (s->inproc) {
		/* a small push: its changes computed here, then read as diff-tree's output */
		struct gate_buf d = GATE_BUF_INIT;
		if (diff_commits_inproc(s, list, nlist, &d, err) < 0) {
			gate_buf_release(&d);
			goto out;
		}
		gate_buf_grow(&d, 0);
		memset(&r, 0, sizeof(r));
		r.fd = -1;
		r.end = d.len;
		r.alloc = d.alloc;
		r.eof = 1;
		r.buf = gate_buf_detach(&d);
	} else {
		reader_init(&r, dp[0].child.out);
	}
	for (;;) {
		size_t len;
		char *tok = reader_token(&r, '\0', &len);
		char *path;
		struct gate_change ch;
		char old_id[41], new_id[41], om[8], nm[8];

		if (!tok && part + 1 < ndp) {
			/* the first part is parsed: the second one's output, read meanwhile */
			if (r.start != r.end) {
				gate_error(err, "unexpected output from git diff-tree");
				goto fail_stream;
			}
			reader_release(&r);
			part++;
			dt_part_slurped(&dp[part]);
			if (dp[part].read_error) {
				gate_error(err, "cannot read from git diff-tree: %s", strerror(dp[part].read_error));
				memset(&r, 0, sizeof(r));
				r.eof = 1;
				goto fail_stream;
			}
			/* what was read ahead, then the rest from the pipe */
			gate_buf_grow(&dp[part].out, 1 << 20);
			memset(&r, 0, sizeof(r));
			r.fd = dp[part].child.out;
			r.end = dp[part].out.len;
			r.alloc = dp[part].out.alloc;
			r.eof = dp[part].ended;
			r.buf = gate_buf_detach(&dp[part].out);
			continue;
		}
		if (!tok)
			break;
		if (*tok != ':') {
			/* a commit header: "<id>"; what the last one brought goes to cat-file if it runs low */
			for (k = 0; k < nstreams; k++)
				stream_flush_if_low(&bs[k]);
			if (len < 40 || !(cur = gate_oidmap_get(&s->commit_map, tok))) {
				gate_error(err, "unexpected output from git diff-tree");
				goto fail_stream;
			}
			if (!wait_parsed(s, cur->index))
				goto fail_stream; /* the reading thread's error is reported */
			continue;
		}
		/* ":100644 100644 <old> <new> M" */
		if (len < 98 || !cur) {
			gate_error(err, "unexpected output from git diff-tree");
			goto fail_stream;
		}
		memcpy(om, tok + 1, 6);
		om[6] = '\0';
		memcpy(nm, tok + 8, 6);
		nm[6] = '\0';
		memcpy(old_id, tok + 15, 40);
		old_id[40] = '\0';
		memcpy(new_id, tok + 56, 40);
		new_id[40] = '\0';
		ch.kind = (enum gate_change_kind)tok[97];
		path = reader_token(&r, '\0', &len);
		if (!path) {
			gate_error(err, "git diff-tree output ended early");
			goto fail_stream;
		}
		ch.path = path;
		ch.old_mode = parse_mode(om);
		ch.new_mode = parse_mode(nm);
		ch.old_id = old_id;
		ch.new_id = new_id;
		{
			/* FNV-1a over the record, for GIT_GATE_TRACE: the in-process diff must match diff-tree's */
			const unsigned char *p;
			uint64_t h = s->changes_digest ? s->changes_digest : 1469598103934665603ULL;
			for (p = (const unsigned char *)tok; p < (const unsigned char *)tok + 98; p++)
				h = (h ^ *p) * 1099511628211ULL;
			for (p = (const unsigned char *)path; *p; p++)
				h = (h ^ *p) * 1099511628211ULL;
			s->changes_digest = (h ^ 0xff) * 1099511628211ULL;
			s->nchanges++;
		}
		for (k = 0; k < cfg->nchecks && want_changes; k++) {
			const struct gate_check_def *def = &cfg->checks[k];
			struct gate_check_run run = { def, def->data, s, s->pusher, &herr, NULL };
			if (!s->def_active[k] || !def->type->change || !needed(s, k, cur))
				continue;
			gate_buf_reset(&herr);
			if (def->type->change(&run, cur, &ch, &s->findings[k]) < 0)
				set_def_error(s, k, &herr, "change check failed");
		}
		if (want_blobs && ch.kind != GATE_CHANGE_DELETE &&
		    (GATE_MODE_IS_BLOB(ch.new_mode) || GATE_MODE_IS_LINK(ch.new_mode))) {
			struct blob_entry *e = gate_oidmap_get(&s->blob_map, new_id);
			struct occurrence *o;
			if (!e) {
				e = gate_xcalloc(1, sizeof(*e) + (s->nslots + 1) * sizeof(e->results[0]));
				memcpy(e->id, new_id, 41);
				gate_oidmap_put(&s->blob_map, e->id, e);
				{
					struct blob_stream *b = &bs[nstreams > 1 ? stream_of(path, nstreams) : 0];
					b->pending[b->npending++] = e;
					if (b->npending == GATE_ARRAY_SIZE(b->pending))
						stream_flush(b);
				}
			}
			if (!e->listed) {
				GATE_ALLOC_GROW(s->blobs, s->nblobs + 1, s->alloc_blobs);
				s->blobs[s->nblobs++] = e;
				e->listed = 1;
			}
			/* occurrences are only read after the scan thread is joined */
			/* most blobs have one occurrence: grow from 1, not 16 */
			if (e->nocc == e->alloc) {
				e->alloc = e->alloc ? 2 * e->alloc : 1;
				e->occs = gate_xrealloc(e->occs, e->alloc * sizeof(*e->occs));
			}
			o = &e->occs[e->nocc++];
			o->path = arena_strdup(&s->paths, path, len);
			o->commit = (uint32_t)cur->index;
			o->mode = ch.new_mode;
			if (GATE_MODE_IS_BLOB(ch.old_mode) || GATE_MODE_IS_LINK(ch.old_mode))
				hex_to_bin(o->old_id, old_id), o->has_old = 1;
			else
				o->has_old = 0;
		}
	}
	for (k = 0; k < nstreams; k++)
		stream_flush(&bs[k]);
	/* no change hook runs again */
	for (k = 0; k < cfg->nchecks; k++) {
		const struct gate_check_def *def = &cfg->checks[k];
		struct gate_check_run run = { def, def->data, s, s->pusher, &herr, NULL };
		if (s->def_active[k] && def->type->changes_done)
			def->type->changes_done(&run);
	}
	ret = 0;
	s->t_changes += gate_now() - t0;
	t0 = gate_now();
fail_stream:
	/* on failure keep reading so the writer thread can finish */
	while (ret < 0 && !r.eof && reader_fill(&r) >= 0)
		r.start = r.end = 0;
	reader_release(&r);
	for (k = 0; k < ndp; k++)
		dt_part_join(&dp[k]);
	if (s->parse_threaded) {
		pthread_join(s->parse_thread, NULL);
		s->parse_threaded = 0;
	}
	if (pt.ret < 0) {
		/* the cause: the diff-tree loop only stopped because of it */
		gate_error(err, "%s", gate_buf_cstr(&pt.err));
		ret = -1;
	}
	/* diff-tree's input is written: its copies and the first parents are not read again */
	for (k = 0; k < ndp; k++)
		if (dt_part_finish(&dp[k], ret < 0 ? NULL : err) < 0)
			ret = -1;
	ndp = 0;
	free(s->first_parents);
	s->first_parents = NULL;
	s->alloc_fp = 0;
	if (ret == 0 && want_blobs && s->inproc) {
		/* a small push: its blobs in this process, unless they are many or large */
		int r = read_blobs_inproc(s, want_content, err);
		if (r < 0)
			ret = -1;
		else if (r > 0) {
			/* too many or too large to read here: one stream reads them */
			if (stream_start(s, &bs[0], want_content, err) < 0)
				ret = -1;
			else
				catfile_request_many(&bs[0].cf, s->blobs, s->nblobs);
		}
	}
	for (k = 0; k < MAX_STREAMS; k++)
		if (stream_finish(s, &bs[k], ret == 0 ? err : NULL) < 0)
			ret = -1;
	if (ret < 0)
		goto out;
	s->t_blob_wait += gate_now() - t0;
	t0 = gate_now();

	/* blob reports, per occurrence, now that every path is known */
	for (i = 0; i < s->nblobs; i++) {
		struct blob_entry *e = s->blobs[i];
		struct gate_blob b;

		if (e->missing) {
			gate_error(err, "blob %s is missing from the push", e->id);
			ret = -1;
			goto out;
		}
		memset(&b, 0, sizeof(b));
		memcpy(b.id, e->id, 41);
		b.size = e->size;
		b.binary = e->binary;
		for (k = 0; k < cfg->nchecks; k++) {
			const struct gate_check_def *def = &cfg->checks[k];
			struct gate_check_run run = { def, def->data, s, s->pusher, &herr, NULL };
			size_t o, p;
			/* a blob under many paths (an empty file in every directory): a set, not O(n^2) */
			struct gate_oidmap seen = GATE_OIDMAP_INIT;
			int many = e->nocc > 16;
			char old_hex[41];
			if (!s->def_active[k] || !def->type->blob_report || s->def_error[k])
				continue;
			for (o = 0; o < e->nocc; o++) {
				struct gate_occurrence occ;
				const struct gate_commit *c = s->commits[e->occs[o].commit];
				if (!needed(s, k, c))
					continue;
				/* the same path again in a later commit: reported once */
				if (many) {
					if (gate_oidmap_put(&seen, e->occs[o].path, e))
						continue;
				} else {
					for (p = 0; p < o; p++)
						if (!strcmp(e->occs[p].path, e->occs[o].path) &&
						    needed(s, k, s->commits[e->occs[p].commit]))
							break;
					if (p < o)
						continue;
				}
				occ.path = e->occs[o].path;
				occ.commit = c;
				if (e->occs[o].has_old)
					bin_to_hex(old_hex, e->occs[o].old_id);
				occ.old_id = e->occs[o].has_old ? old_hex : NULL;
				occ.mode = e->occs[o].mode;
				gate_buf_reset(&herr);
				if (def->type->blob_report(&run, &b, s->blob_slot[k] >= 0 ? e->results[s->blob_slot[k]] : NULL,
							   &occ, &s->findings[k]) < 0) {
					set_def_error(s, k, &herr, "blob check failed");
					break;
				}
			}
			gate_oidmap_release(&seen);
		}
	}
	s->t_reports += gate_now() - t0;

distribute:
	njobs_of = gate_xcalloc(cfg->nchecks + 1, sizeof(*njobs_of));
	for (j = 0; j < n; j++)
		if (jobs[j].group >= 0)
			njobs_of[def_index(s, jobs[j].def)]++;
	for (j = 0; j < n; j++) {
		struct gate_scan_job *jb = &jobs[j];
		size_t d = def_index(s, jb->def);
		struct gate_findings *f = &s->findings[d];

		if (jb->group < 0)
			continue;
		jb->ran = 1;
		if (s->def_error[d] && !jb->error)
			jb->error = gate_xstrdup(s->def_error[d]);
		if (njobs_of[d] == 1 && !jb->findings.nr) {
			/*
			 * The check's only job: its findings are handed over, not
			 * copied (a whole-history import: tens of thousands).
			 */
			for (i = 0; i < f->nr; i++)
				if (f->v[i].commit_index != (size_t)-1 &&
				    !in_group(s->commits[f->v[i].commit_index], jb->group))
					break;
			if (i == f->nr) {
				free(jb->findings.v);
				jb->findings.v = f->v;
				jb->findings.nr = f->nr;
				jb->findings.alloc = f->alloc;
				f->v = NULL;
				f->nr = f->alloc = 0;
				continue;
			}
		}
		for (i = 0; i < f->nr; i++) {
			struct gate_finding *fi = &f->v[i], copy;
			if (fi->commit_index != (size_t)-1 && !in_group(s->commits[fi->commit_index], jb->group))
				continue;
			copy = *fi;
			copy.commit = fi->commit ? gate_xstrdup(fi->commit) : NULL;
			copy.subject = fi->subject ? gate_xstrdup(fi->subject) : NULL;
			copy.path = fi->path ? gate_xstrdup(fi->path) : NULL;
			copy.message = gate_xstrdup(fi->message);
			copy.hint = fi->hint ? gate_xstrdup(fi->hint) : NULL;
			copy.detail = fi->detail ? gate_xstrdup(fi->detail) : NULL;
			GATE_ALLOC_GROW(jb->findings.v, jb->findings.nr + 1, jb->findings.alloc);
			jb->findings.v[jb->findings.nr++] = copy;
		}
	}
	ret = 0;
out:
	for (k = 0; k < 2; k++)
		dt_part_finish(&dp[k], NULL);
	for (k = 0; k < MAX_STREAMS; k++)
		stream_finish(s, &bs[k], NULL);
	if (s->parse_threaded) {
		pthread_join(s->parse_thread, NULL);
		s->parse_threaded = 0;
	}
	free(njobs_of);
	gate_buf_release(&pt.err);
	gate_buf_release(&herr);
	free(list);
	return ret;
}

/* ---- per-update hooks ---- */

struct job_pool {
	struct gate_scan *s;
	struct gate_scan_job *jobs;
	size_t n, next;
	pthread_mutex_t lock;
};

static void run_one_job(struct gate_scan *s, struct gate_scan_job *jb)
{
	struct gate_buf herr = GATE_BUF_INIT;
	struct gate_check_run run = { jb->def, jb->def->data, s, s->pusher, &herr, &jb->note };
	double t0 = gate_now();

	if (jb->update->kind != GATE_UPDATE_DELETE && jb->def->type->job) {
		if (jb->def->type->job(&run, &jb->job, &jb->findings) < 0 && !jb->error)
			jb->error = gate_xstrdup(herr.len ? herr.ptr : "check failed");
		jb->ran = 1;
	}
	jb->seconds += gate_now() - t0;
	gate_buf_release(&herr);
}

static void *job_worker(void *arg)
{
	struct job_pool *p = arg;

	for (;;) {
		struct gate_scan_job *jb = NULL;
		pthread_mutex_lock(&p->lock);
		if (p->next < p->n)
			jb = &p->jobs[p->next++];
		pthread_mutex_unlock(&p->lock);
		if (!jb)
			break;
		run_one_job(p->s, jb);
	}
	return NULL;
}

int gate_scan_run_jobs(struct gate_scan *s, struct gate_scan_job *jobs, size_t n, long parallel,
		       struct gate_buf *err)
{
	struct job_pool pool;
	pthread_t *tids;
	long i, nthreads;

	if (parallel <= 1 || n <= 1) {
		size_t k;
		for (k = 0; k < n; k++)
			run_one_job(s, &jobs[k]);
		return 0;
	}
	nthreads = parallel < (long)n ? parallel : (long)n;
	pool.s = s;
	pool.jobs = jobs;
	pool.n = n;
	pool.next = 0;
	pthread_mutex_init(&pool.lock, NULL);
	tids = gate_xcalloc((size_t)nthreads, sizeof(*tids));
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&tids[i], NULL, job_worker, &pool)) {
			nthreads = i;
			break;
		}
	if (!nthreads)
		job_worker(&pool);
	for (i = 0; i < nthreads; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	pthread_mutex_destroy(&pool.lock);
	(void)err;
	return 0;
}
