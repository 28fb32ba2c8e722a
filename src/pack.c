#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "pack.h"

#include "banned.h"

/*
 * Pages of a pack mapped by its readers count in the hook's resident
 * memory until they are unmapped (a catch-up push's pack is 47 MB, a
 * whole-history import's 150 MB and more).  Once reads have touched
 * PACK_DROP_BYTES of it, counted in the blocks of FAULT_BLOCK bytes a
 * page fault maps at once (the kernel's fault-around), the mapping's
 * pages are dropped; they stay in the page cache, and reading them again
 * costs a minor fault.
 */
#define PACK_DROP_BYTES ((uint64_t)8 << 20)
#define FAULT_BLOCK_SHIFT 16

/*
 * Longest delta chain followed.  git writes chains of at most 4095
 * (pack.depth's limit); offset deltas always point backwards, but
 * reference deltas could form a loop, which this bound ends.
 */
#define MAX_CHAIN 10000

#define IDX_HEADER (8 + 256 * 4)
#define HASH_LEN 20

struct gate_pack {
	const unsigned char *idx, *pack;
	size_t idx_len, pack_len;
	uint32_t n;
	const unsigned char *ids, *off32, *off64;
	size_t n64;
	uint64_t read_since_drop; /* atomic */
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static int map_file(const char *path, const unsigned char **out, size_t *len, struct gate_buf *err)
{
	struct stat st;
	void *m;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return gate_error(err, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || (uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return gate_error(err, "cannot map %s: not a regular file of a usable size", path);
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return gate_error(err, "cannot map %s: %s", path, strerror(errno));
	*out = m;
	*len = (size_t)st.st_size;
	return 0;
}

void gate_pack_free(struct gate_pack *p)
{
	if (!p)
		return;
	if (p->idx)
		munmap((void *)p->idx, p->idx_len);
	if (p->pack)
		munmap((void *)p->pack, p->pack_len);
	free(p);
}

int gate_pack_open(struct gate_pack **out, const char *idx_path, struct gate_buf *err)
{
	struct gate_pack *p = gate_xcalloc(1, sizeof(*p));
	size_t plen = strlen(idx_path), need, i;
	char *pack_path = NULL;
	uint32_t prev = 0;
	int ret = -1;

	*out = NULL;
	if (plen < 4 || strcmp(idx_path + plen - 4, ".idx")) {
		gate_error(err, "%s is not a pack index", idx_path);
		goto out;
	}
	if (map_file(idx_path, &p->idx, &p->idx_len, err) < 0)
		goto out;
	if (p->idx_len < IDX_HEADER + 2 * HASH_LEN || memcmp(p->idx, "\377tOc", 4) || be32(p->idx + 4) != 2) {
		gate_error(err, "%s is not a version 2 pack index", idx_path);
		goto out;
	}
	for (i = 0; i < 256; i++) {
		uint32_t c = be32(p->idx + 8 + 4 * i);
		if (c < prev) {
			gate_error(err, "%s: its fan-out table is not sorted", idx_path);
			goto out;
		}
		prev = c;
	}
	p->n = prev;
	/* ids, CRCs, 32-bit offsets, then 8-byte offsets, then two checksums */
	need = IDX_HEADER + (size_t)p->n * (HASH_LEN + 4 + 4) + 2 * HASH_LEN;
	if (p->idx_len < need || (p->idx_len - need) % 8) {
		gate_error(err, "%s is not a pack index of SHA-1 ids (%zu bytes for %u objects)", idx_path,
			   p->idx_len, p->n);
		goto out;
	}
	p->ids = p->idx + IDX_HEADER;
	p->off32 = p->ids + (size_t)p->n * (HASH_LEN + 4);
	p->off64 = p->off32 + (size_t)p->n * 4;
	p->n64 = (p->idx_len - need) / 8;

	pack_path = gate_xstrfmt("%.*s.pack", (int)(plen - 4), idx_path);
	if (map_file(pack_path, &p->pack, &p->pack_len, err) < 0)
		goto out;
	if (p->pack_len < 12 + HASH_LEN || memcmp(p->pack, "PACK", 4) ||
	    (be32(p->pack + 4) != 2 && be32(p->pack + 4) != 3) || be32(p->pack + 8) != p->n) {
		gate_error(err, "%s is not the pack %s describes", pack_path, idx_path);
		goto out;
	}
	/* the index names its pack by the pack's trailing checksum */
	if (memcmp(p->idx + p->idx_len - 2 * HASH_LEN, p->pack + p->pack_len - HASH_LEN, HASH_LEN)) {
		gate_error(err, "%s does not belong to %s", idx_path, pack_path);
		goto out;
	}
	*out = p;
	p = NULL;
	ret = 0;
out:
	free(pack_path);
	gate_pack_free(p);
	return ret;
}

uint32_t gate_pack_count(const struct gate_pack *p)
{
	return p->n;
}

int gate_pack_find(const struct gate_pack *p, const unsigned char *id, uint64_t *offset)
{
	uint32_t lo = id[0] ? be32(p->idx + 8 + 4 * (id[0] - 1)) : 0;
	uint32_t hi = be32(p->idx + 8 + 4 * id[0]);

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(p->ids + (size_t)mid * HASH_LEN, id, HASH_LEN);
		uint64_t o;

		if (c < 0) {
			lo = mid + 1;
			continue;
		}
		if (c > 0) {
			hi = mid;
			continue;
		}
		o = be32(p->off32 + (size_t)mid * 4);
		if (o & 0x80000000u) {
			o &= 0x7fffffffu;
			if (o >= p->n64)
				return 0;
			o = be64(p->off64 + o * 8);
		}
		/* an offset inside the pack's objects, or the object is not read here */
		if (o < 12 || o >= p->pack_len - HASH_LEN)
			return 0;
		*offset = o;
		return 1;
	}
	return 0;
}

const unsigned char *gate_pack_id(const struct gate_pack *p, uint32_t pos)
{
	return p->ids + (size_t)pos * HASH_LEN;
}

static int entry_header(const struct gate_pack *p, uint64_t offset, int *type, uint64_t *size, uint64_t *next);
static int ofs_base(const struct gate_pack *p, uint64_t entry, uint64_t at, uint64_t *base, uint64_t *data);

struct by_offset {
	uint64_t offset;
	uint32_t pos;
};

static int by_offset_cmp(const void *a, const void *b)
{
	const struct by_offset *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The index in `v` (sorted) of the entry at `offset`, or -1. */
static long find_offset(const struct by_offset *v, size_t n, uint64_t offset)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].offset < offset)
			lo = mid + 1;
		else if (v[mid].offset > offset)
			hi = mid;
		else
			return (long)mid;
	}
	return -1;
}

size_t gate_pack_blobs(const struct gate_pack *p, struct gate_pack_blob **out)
{
	struct by_offset *v = gate_xmalloc(((size_t)p->n + 1) * sizeof(*v));
	/* per entry in pack order: its type once known (0: not yet, -1: none) */
	signed char *type = gate_xcalloc((size_t)p->n + 1, 1);
	/* its base's index (-1: a whole object), its chain's whole object, its first child, its next sibling */
	long *base = gate_xmalloc(((size_t)p->n + 1) * sizeof(*base));
	long *root = gate_xmalloc(((size_t)p->n + 1) * sizeof(*root));
	long *child = gate_xmalloc(((size_t)p->n + 1) * sizeof(*child));
	long *sibling = gate_xmalloc(((size_t)p->n + 1) * sizeof(*sibling));
	long *stack = NULL;
	size_t i, nstack = 0, stack_alloc = 0, nblobs = 0;
	uint32_t k;

	for (k = 0; k < p->n; k++) {
		uint64_t o = be32(p->off32 + (size_t)k * 4);
		if (o & 0x80000000u)
			o = (o & 0x7fffffffu) < p->n64 ? be64(p->off64 + (o & 0x7fffffffu) * 8) : 0;
		v[k].offset = o;
		v[k].pos = k;
	}
	qsort(v, p->n, sizeof(*v), by_offset_cmp);
	for (i = 0; i < p->n; i++) {
		uint64_t size, at, b;
		int t;

		/* every header is read: the pages they are on are dropped as for any read */
		if (i && v[i].offset / PACK_DROP_BYTES != v[i - 1].offset / PACK_DROP_BYTES)
			(void)madvise((void *)p->pack, p->pack_len, MADV_DONTNEED);

		base[i] = -1;
		root[i] = (long)i;
		child[i] = sibling[i] = -1;
		if (entry_header(p, v[i].offset, &t, &size, &at) < 0) {
			type[i] = -1;
		} else if (t >= 1 && t <= 4) {
			type[i] = (signed char)t;
		} else if (t == 6 && ofs_base(p, v[i].offset, at, &b, &size) == 0) {
			base[i] = find_offset(v, p->n, b);
		} else if (t == 7 && at + HASH_LEN <= p->pack_len - HASH_LEN && gate_pack_find(p, p->pack + at, &b)) {
			base[i] = find_offset(v, p->n, b);
		}
		if (!type[i] && base[i] < 0)
			type[i] = -1;
	}
	/*
	 * A delta's type is its chain's whole object's (a thin pack's bases
	 * come after their deltas).  Chains that loop or end nowhere stop at
	 * MAX_CHAIN and are left out, as is everything that leads to them.
	 */
	for (i = 0; i < p->n; i++) {
		long cur = (long)i;
		signed char t;
		long r;

		nstack = 0;
		while (!type[cur] && nstack < MAX_CHAIN) {
			GATE_ALLOC_GROW(stack, nstack + 1, stack_alloc);
			stack[nstack++] = cur;
			cur = base[cur];
		}
		t = type[cur] > 0 ? type[cur] : -1;
		r = root[cur];
		while (nstack) {
			long d = stack[--nstack];
			type[d] = t;
			root[d] = r;
		}
	}
	/* each blob under its base, in pack order */
	for (i = p->n; i-- > 0;) {
		if (type[i] != GATE_PACK_BLOB)
			continue;
		nblobs++;
		if (base[i] >= 0) {
			sibling[i] = child[base[i]];
			child[base[i]] = (long)i;
		}
	}
	/*
	 * Listed depth first from each whole blob: every delta right after
	 * the chain that leads to it, whose objects a reader's cache of
	 * bases still holds.
	 */
	*out = gate_xmalloc((nblobs + 1) * sizeof(**out));
	nblobs = 0;
	for (i = 0; i < p->n; i++) {
		if (type[i] != GATE_PACK_BLOB || base[i] >= 0)
			continue;
		nstack = 0;
		GATE_ALLOC_GROW(stack, nstack + 1, stack_alloc);
		stack[nstack++] = (long)i;
		(*out)[nblobs].offset = v[i].offset;
		(*out)[nblobs].root = v[i].offset;
		(*out)[nblobs++].pos = v[i].pos;
		while (nstack) {
			long x = stack[nstack - 1], c = child[x];
			if (c < 0) {
				nstack--;
				continue;
			}
			child[x] = sibling[c];
			(*out)[nblobs].offset = v[c].offset;
			(*out)[nblobs].root = v[root[c]].offset;
			(*out)[nblobs++].pos = v[c].pos;
			GATE_ALLOC_GROW(stack, nstack + 1, stack_alloc);
			stack[nstack++] = c;
		}
	}
	free(v);
	free(type);
	free(base);
	free(root);
	free(child);
	free(sibling);
	free(stack);
	return nblobs;
}

/* ---- reading ---- */

struct cache_entry {
	const struct gate_pack *pack;
	uint64_t offset;
	int type;
	char *data; /* len + 1 bytes, NUL-terminated */
	size_t len;
	struct cache_entry *prev, *next; /* recency: the sentinel's next is the newest */
	struct cache_entry *chain;       /* the hash bucket's next */
};

#define CACHE_BUCKETS 8192

/* A delta met on the way to a base: where its data starts, how long it inflates to. */
struct link {
	uint64_t offset;
	uint64_t data;
	uint64_t size;
};

struct gate_pack_reader {
	z_stream z;
	int z_ready;
	size_t budget, used;
	struct cache_entry *bucket[CACHE_BUCKETS];
	struct cache_entry lru;
	struct link *chain;
	size_t nchain, chain_alloc;
	unsigned char *delta; /* one delta's instructions */
	size_t delta_alloc;
	char *big[2]; /* objects too large for the cache: see object_room() */
	size_t big_alloc[2];
	struct {
		const struct gate_pack *pack; /* NULL: holds nothing to reuse */
		uint64_t offset;
		int type;
		size_t len;
	} big_holds[2]; /* the object each big buffer holds, a base for the next read like the cache's */
	uint64_t inflated; /* bytes zlib produced, for gate_pack_reader_inflated() */
};

struct gate_pack_reader *gate_pack_reader_new(size_t cache_bytes)
{
	struct gate_pack_reader *r = gate_xcalloc(1, sizeof(*r));

	r->budget = cache_bytes;
	r->lru.next = r->lru.prev = &r->lru;
	return r;
}

static size_t bucket_of(const struct gate_pack *p, uint64_t offset)
{
	uint64_t h = (offset ^ (uint64_t)(uintptr_t)p) * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 51) & (CACHE_BUCKETS - 1);
}

static void lru_unlink(struct cache_entry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void lru_push(struct gate_pack_reader *r, struct cache_entry *e)
{
	e->next = r->lru.next;
	e->prev = &r->lru;
	r->lru.next->prev = e;
	r->lru.next = e;
}

static struct cache_entry *cache_get(struct gate_pack_reader *r, const struct gate_pack *p, uint64_t offset)
{
	struct cache_entry *e;

	for (e = r->bucket[bucket_of(p, offset)]; e; e = e->chain)
		if (e->offset == offset && e->pack == p) {
			lru_unlink(e);
			lru_push(r, e);
			return e;
		}
	return NULL;
}

static void cache_drop(struct gate_pack_reader *r, struct cache_entry *e)
{
	struct cache_entry **pp = &r->bucket[bucket_of(e->pack, e->offset)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	lru_unlink(e);
	r->used -= e->len + sizeof(*e);
	free(e->data);
	free(e);
}

/* Whether the cache keeps an object of `len` bytes: a quarter of it at most. */
static int cacheable(const struct gate_pack_reader *r, size_t len)
{
	return len < r->budget / 4 && len + sizeof(struct cache_entry) <= r->budget / 4;
}

/*
 * Keep `data` (len + 1 bytes, malloc'd, cacheable()) as the object at
 * `offset`.  Older entries make room; the new one is never the one
 * dropped.
 */
static void cache_put(struct gate_pack_reader *r, const struct gate_pack *p, uint64_t offset, int type, char *data,
		      size_t len)
{
	struct cache_entry *e;
	size_t b;
	while (r->used + len + sizeof(*e) > r->budget && r->lru.prev != &r->lru)
		cache_drop(r, r->lru.prev);
	e = gate_xmalloc(sizeof(*e));
	e->pack = p;
	e->offset = offset;
	e->type = type;
	e->data = data;
	e->len = len;
	b = bucket_of(p, offset);
	e->chain = r->bucket[b];
	r->bucket[b] = e;
	lru_push(r, e);
	r->used += len + sizeof(*e);
}

uint64_t gate_pack_reader_inflated(const struct gate_pack_reader *r)
{
	return r->inflated;
}

void gate_pack_reader_free(struct gate_pack_reader *r)
{
	if (!r)
		return;
	while (r->lru.next != &r->lru)
		cache_drop(r, r->lru.next);
	if (r->z_ready)
		inflateEnd(&r->z);
	free(r->chain);
	free(r->delta);
	free(r->big[0]);
	free(r->big[1]);
	free(r);
}

/* Count what a read mapped, `n` bytes from `at`; drop the pages every PACK_DROP_BYTES. */
static void pack_consumed(struct gate_pack *p, uint64_t at, uint64_t n)
{
	uint64_t blocks = n ? ((at + n - 1) >> FAULT_BLOCK_SHIFT) - (at >> FAULT_BLOCK_SHIFT) + 1 : 1;
	uint64_t total = __atomic_add_fetch(&p->read_since_drop, blocks << FAULT_BLOCK_SHIFT, __ATOMIC_RELAXED);

	if (total >= PACK_DROP_BYTES &&
	    __atomic_compare_exchange_n(&p->read_since_drop, &total, 0, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		(void)madvise((void *)p->pack, p->pack_len, MADV_DONTNEED);
}

/*
 * The entry header at `offset`: its type, its size (inflated: the
 * object's for a whole object, the instructions' for a delta) and where
 * its data, or a delta's base reference, starts.
 */
static int entry_header(const struct gate_pack *p, uint64_t offset, int *type, uint64_t *size, uint64_t *next)
{
	const uint64_t end = p->pack_len - HASH_LEN;
	unsigned shift = 4;
	unsigned char c;

	if (offset < 12 || offset >= end)
		return -1;
	c = p->pack[offset++];
	*type = (c >> 4) & 7;
	*size = c & 15;
	while (c & 0x80) {
		if (offset >= end || shift > 57)
			return -1;
		c = p->pack[offset++];
		*size |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	}
	*next = offset;
	return 0;
}

/* An offset delta's base: its entry's offset, and where the delta's data starts. */
static int ofs_base(const struct gate_pack *p, uint64_t entry, uint64_t at, uint64_t *base, uint64_t *data)
{
	const uint64_t end = p->pack_len - HASH_LEN;
	uint64_t ofs;
	unsigned char c;

	if (at >= end)
		return -1;
	c = p->pack[at++];
	ofs = c & 0x7f;
	while (c & 0x80) {
		if (at >= end || ofs >= ((uint64_t)1 << 56))
			return -1;
		c = p->pack[at++];
		ofs = ((ofs + 1) << 7) | (c & 0x7f);
	}
	if (!ofs || ofs > entry - 12)
		return -1;
	*base = entry - ofs;
	*data = at;
	return 0;
}

/* Inflate the data at `at` into out[0..size), which must be exactly that long. */
static int inflate_at(struct gate_pack_reader *r, struct gate_pack *p, uint64_t at, unsigned char *out, uint64_t size)
{
	const uint64_t end = p->pack_len - HASH_LEN;
	uint64_t avail = at < end ? end - at : 0;
	unsigned char spare;
	int z;

	if (!r->z_ready) {
		memset(&r->z, 0, sizeof(r->z));
		if (inflateInit(&r->z) != Z_OK)
			return -1;
		r->z_ready = 1;
	} else if (inflateReset(&r->z) != Z_OK) {
		return -1;
	}
	if (size > UINT_MAX)
		return -1;
	r->z.next_in = (unsigned char *)(uintptr_t)(p->pack + at);
	r->z.avail_in = avail > UINT_MAX ? UINT_MAX : (unsigned)avail;
	/* the byte after the end must stay unwritten: a stream that inflates to more is corrupt */
	r->z.next_out = size ? out : &spare;
	r->z.avail_out = size ? (unsigned)size : 1;
	z = inflate(&r->z, Z_FINISH);
	r->inflated += r->z.total_out;
	pack_consumed(p, at, r->z.total_in);
	if (z != Z_STREAM_END || r->z.total_out != size)
		return -1;
	return 0;
}

static int delta_varint(const unsigned char **d, const unsigned char *end, uint64_t *v)
{
	unsigned shift = 0;
	unsigned char c;

	*v = 0;
	do {
		if (*d >= end || shift > 63)
			return -1;
		c = *(*d)++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	} while (c & 0x80);
	return 0;
}

/* Apply delta instructions d[0..dlen) (their two sizes read) to `base`: exactly out_len bytes into `out`. */
static int apply_delta(const unsigned char *base, size_t base_len, const unsigned char *d, const unsigned char *end,
		       unsigned char *out, size_t out_len)
{
	unsigned char *o = out, *const oend = out + out_len;

	while (d < end) {
		unsigned char c = *d++;

		if (c & 0x80) {
			uint64_t off = 0, n = 0;
			unsigned i;
			for (i = 0; i < 4; i++)
				if (c & (1u << i)) {
					if (d >= end)
						return -1;
					off |= (uint64_t)*d++ << (8 * i);
				}
			for (i = 0; i < 3; i++)
				if (c & (0x10u << i)) {
					if (d >= end)
						return -1;
					n |= (uint64_t)*d++ << (8 * i);
				}
			if (!n)
				n = 0x10000;
			if (off > base_len || n > base_len - off || n > (uint64_t)(oend - o))
				return -1;
			memcpy(o, base + off, (size_t)n);
			o += n;
		} else if (c) {
			if (c > end - d || c > oend - o)
				return -1;
			memcpy(o, d, c);
			d += c;
			o += c;
		} else {
			return -1; /* reserved */
		}
	}
	return o == oend ? 0 : -1;
}

static int corrupt(struct gate_buf *err, uint64_t offset, const char *what)
{
	return gate_error(err, "the pushed pack is corrupt at offset %llu: %s", (unsigned long long)offset, what);
}

/*
 * Room for an object of `size` bytes and its NUL: a new allocation the
 * cache will take, or, for an object too large for the cache, one of the
 * reader's two big buffers (not `avoid`, which holds the delta's base),
 * kept from read to read.  (How malloc serves a reader's allocations
 * matters: see packs_open() in scan.c.)
 */
static char *object_room(struct gate_pack_reader *r, uint64_t size, int avoid, int *slot,
			 const struct cache_entry *keep)
{
	if (cacheable(r, (size_t)size)) {
		*slot = -1;
		/* room in the cache first: what it drops is memory this object can reuse */
		while (r->used + size + 1 + sizeof(struct cache_entry) > r->budget && r->lru.prev != &r->lru &&
		       r->lru.prev != keep)
			cache_drop(r, r->lru.prev);
		return gate_xmalloc((size_t)size + 1);
	}
	*slot = avoid == 0 ? 1 : 0;
	r->big_holds[*slot].pack = NULL;
	if (r->big_alloc[*slot] < size + 1) {
		free(r->big[*slot]);
		r->big_alloc[*slot] = (size_t)size + 1;
		r->big[*slot] = gate_xmalloc(r->big_alloc[*slot]);
	}
	return r->big[*slot];
}

/* Big buffer `slot` (if any) now holds the object at `offset`. */
static void hold(struct gate_pack_reader *r, int slot, const struct gate_pack *p, uint64_t offset, int type, size_t len)
{
	if (slot < 0)
		return;
	r->big_holds[slot].pack = p;
	r->big_holds[slot].offset = offset;
	r->big_holds[slot].type = type;
	r->big_holds[slot].len = len;
}

int gate_pack_read(struct gate_pack_reader *r, struct gate_pack *p, uint64_t offset, uint64_t max, int *type,
		   const char **data, size_t *len, struct gate_buf *err)
{
	struct cache_entry *hit = NULL;
	uint64_t cur = offset, base_off = 0, size, at, next;
	/* the object built so far: the cache's (hit), in a big buffer (slot >= 0), or owned */
	char *base = NULL;
	size_t base_len = 0;
	int base_type = 0, slot = -1, t, ret = -1;

	r->nchain = 0;
	if (max > UINT_MAX - 1)
		max = UINT_MAX - 1; /* what one call to zlib inflates */
	/* down the chain of deltas to a cached object or a whole one */
	for (;;) {
		int k;

		if ((hit = cache_get(r, p, cur))) {
			base = hit->data;
			base_len = hit->len;
			base_type = hit->type;
			base_off = cur;
			break;
		}
		/*
		 * One too large for the cache, still in a big buffer: read
		 * depth first, a chain of large objects (versions of one large
		 * file) finds each one's base there, instead of following the
		 * chain down to its whole object for every version.
		 */
		for (k = 0; k < 2; k++)
			if (r->big_holds[k].pack == p && r->big_holds[k].offset == cur)
				break;
		if (k < 2) {
			slot = k;
			base = r->big[k];
			base_len = r->big_holds[k].len;
			base_type = r->big_holds[k].type;
			base_off = cur;
			break;
		}
		if (entry_header(p, cur, &t, &size, &at) < 0) {
			corrupt(err, cur, "a bad entry header");
			goto out;
		}
		if (t >= GATE_PACK_COMMIT && t <= GATE_PACK_TAG) {
			if (size > max) {
				ret = GATE_ENOTFOUND;
				goto out;
			}
			base = object_room(r, size, -1, &slot, NULL);
			base_len = (size_t)size;
			if (inflate_at(r, p, at, (unsigned char *)base, size) < 0) {
				corrupt(err, cur, "its data does not inflate to its size");
				goto out;
			}
			base[size] = '\0';
			base_type = t;
			base_off = cur;
			hold(r, slot, p, cur, t, base_len);
			break;
		}
		if (r->nchain == MAX_CHAIN) {
			corrupt(err, offset, "a chain of deltas too long to follow");
			goto out;
		}
		GATE_ALLOC_GROW(r->chain, r->nchain + 1, r->chain_alloc);
		r->chain[r->nchain].offset = cur;
		r->chain[r->nchain].size = size;
		if (t == 6) {
			if (ofs_base(p, cur, at, &next, &r->chain[r->nchain].data) < 0) {
				corrupt(err, cur, "a bad base offset");
				goto out;
			}
		} else if (t == 7) {
			if (at + HASH_LEN > p->pack_len - HASH_LEN) {
				corrupt(err, cur, "a truncated base id");
				goto out;
			}
			if (!gate_pack_find(p, p->pack + at, &next)) {
				ret = GATE_ENOTFOUND; /* its base is elsewhere: git reads it */
				goto out;
			}
			r->chain[r->nchain].data = at + HASH_LEN;
		} else {
			corrupt(err, cur, "an unknown object type");
			goto out;
		}
		r->nchain++;
		cur = next;
	}
	if (base_len > max) {
		ret = GATE_ENOTFOUND; /* a held object, read under a larger bound */
		goto out;
	}
	/* back up, applying each delta to the object below it */
	while (r->nchain) {
		const struct link *l = &r->chain[--r->nchain];
		const unsigned char *d, *dend;
		uint64_t src, dst;
		char *res;
		int res_slot;

		if (l->size > max + max / 64 + 64) {
			/* longer than any instructions for an object of at most max bytes */
			ret = GATE_ENOTFOUND;
			goto out;
		}
		if (l->size + 1 > r->delta_alloc) {
			r->delta_alloc = (size_t)l->size + 1;
			free(r->delta);
			r->delta = gate_xmalloc(r->delta_alloc);
		}
		if (inflate_at(r, p, l->data, r->delta, l->size) < 0) {
			corrupt(err, l->offset, "its delta does not inflate to its size");
			goto out;
		}
		d = r->delta;
		dend = r->delta + l->size;
		if (delta_varint(&d, dend, &src) < 0 || delta_varint(&d, dend, &dst) < 0 || src != base_len) {
			corrupt(err, l->offset, "a delta that does not fit its base");
			goto out;
		}
		if (dst > max) {
			ret = GATE_ENOTFOUND;
			goto out;
		}
		/* a cached base is kept while its delta is applied */
		res = object_room(r, dst, hit ? -1 : slot, &res_slot, hit);
		if (apply_delta((const unsigned char *)base, base_len, d, dend, (unsigned char *)res, (size_t)dst) < 0) {
			if (res_slot < 0)
				free(res);
			corrupt(err, l->offset, "a delta that does not apply to its base");
			goto out;
		}
		res[dst] = '\0';
		/* a base met on the way is likely the next read's base too: keep it */
		if (!hit && slot < 0)
			cache_put(r, p, base_off, base_type, base, base_len);
		hit = NULL;
		base = res;
		slot = res_slot;
		base_len = (size_t)dst;
		base_off = l->offset;
		hold(r, slot, p, base_off, base_type, base_len);
	}
	if (!hit && slot < 0) {
		cache_put(r, p, base_off, base_type, base, base_len);
		hit = cache_get(r, p, base_off);
	}
	*type = base_type;
	*len = base_len;
	*data = base;
	base = NULL;
	ret = 0;
out:
	if (ret < 0 && base && !hit && slot < 0)
		free(base);
	return ret;
}
