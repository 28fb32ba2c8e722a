/*
 * Fuzz the pushed-pack reader (src/pack.c): listing a pack's blobs and
 * reading every object, through chains of offset and reference deltas.
 * Input: one byte N (objects, 1-32), N little-endian 16-bit offsets into
 * the body, then the body: the pack's bytes after its 12-byte header.
 * The harness writes the pack (header, body, a trailer) and an index
 * that puts object i at 12 + offset i under a made-up id, as index-pack
 * would for a pack whose objects begin there.
 * Invariants: every listed blob is an object of the index, listed once;
 * a read answers 0 (a NUL-terminated object no larger than the bound),
 * GATE_ENOTFOUND, or -1 with a message; and a reader whose cache holds
 * nothing reads exactly what one with a large cache reads.
 */
#include "fuzz.h"

#include <unistd.h>

#include "pack.h"
#include "util.h"

#include "banned.h"

#define MAX_OBJECTS 32
#define READ_MAX (1u << 16)

static void put32(struct gate_buf *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
			       (unsigned char)v };
	gate_buf_add(b, c, 4);
}

static int write_all_to(const char *path, const struct gate_buf *b)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -1;
	ok = fwrite(b->ptr, 1, b->len, f) == b->len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static void made_up_id(unsigned char id[20], size_t i)
{
	memset(id, 0, 20);
	id[0] = (unsigned char)(i * 7); /* increasing with i: already in id order */
	id[19] = (unsigned char)i;
}

/* What one reader reads of every object: per object, its answer and content. */
struct answer {
	int ret, type;
	struct gate_buf data;
};

static void read_all(struct gate_pack *p, size_t cache, const uint64_t *off, size_t n, struct answer *out)
{
	struct gate_pack_reader *r = gate_pack_reader_new(cache);
	struct gate_buf err = GATE_BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *data = NULL;
		size_t len = 0;
		int type = 0;

		gate_buf_reset(&err);
		out[i].ret = gate_pack_read(r, p, off[i], READ_MAX, &type, &data, &len, &err);
		FUZZ_ASSERT(out[i].ret == 0 || out[i].ret == -1 || out[i].ret == GATE_ENOTFOUND);
		if (out[i].ret == -1)
			FUZZ_ASSERT(err.len > 0);
		if (out[i].ret == 0) {
			FUZZ_ASSERT(len <= READ_MAX && data[len] == '\0');
			FUZZ_ASSERT(type >= GATE_PACK_COMMIT && type <= GATE_PACK_TAG);
			out[i].type = type;
			gate_buf_add(&out[i].data, data, len);
		}
	}
	gate_buf_release(&err);
	gate_pack_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *dir;
	char *idx_path, *pack_path;
	struct gate_buf pack = GATE_BUF_INIT, idx = GATE_BUF_INIT, err = GATE_BUF_INIT;
	struct gate_pack *p = NULL;
	struct gate_pack_blob *blobs = NULL;
	struct answer small[MAX_OBJECTS], large[MAX_OBJECTS];
	uint64_t off[MAX_OBJECTS];
	unsigned char trailer[20], id[20];
	size_t n, i, k, nblobs;

	if (size < 3)
		return 0;
	n = data[0] % MAX_OBJECTS + 1;
	if (size < 1 + 2 * n)
		return 0;
	if (!dir) {
		const char *tmp = getenv("TMPDIR");
		char *tmpl = gate_xstrfmt("%s/fuzz-pack-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		dir = mkdtemp(tmpl);
		if (!dir)
			abort();
	}
	idx_path = gate_xstrfmt("%s/pack-f.idx", dir);
	pack_path = gate_xstrfmt("%s/pack-f.pack", dir);
	memset(trailer, 0x5a, sizeof(trailer));

	gate_buf_add(&pack, "PACK", 4);
	put32(&pack, 2);
	put32(&pack, (uint32_t)n);
	gate_buf_add(&pack, data + 1 + 2 * n, size - 1 - 2 * n);
	gate_buf_add(&pack, trailer, 20);
	gate_buf_add(&idx, "\377tOc", 4);
	put32(&idx, 2);
	for (k = 0; k < 256; k++) {
		uint32_t c = 0;
		for (i = 0; i < n; i++) {
			made_up_id(id, i);
			c += id[0] <= k;
		}
		put32(&idx, c);
	}
	for (i = 0; i < n; i++) {
		made_up_id(id, i);
		gate_buf_add(&idx, id, 20);
	}
	for (i = 0; i < n; i++)
		put32(&idx, 0);
	for (i = 0; i < n; i++) {
		off[i] = 12 + (uint64_t)(data[1 + 2 * i] | data[2 + 2 * i] << 8);
		put32(&idx, (uint32_t)off[i]);
	}
	gate_buf_add(&idx, trailer, 20);
	gate_buf_add(&idx, trailer, 20);
	if (write_all_to(pack_path, &pack) < 0 || write_all_to(idx_path, &idx) < 0)
		abort();

	if (gate_pack_open(&p, idx_path, &err) == 0) {
		nblobs = gate_pack_blobs(p, &blobs);
		FUZZ_ASSERT(nblobs <= n);
		for (i = 0; i < nblobs; i++) {
			FUZZ_ASSERT(blobs[i].pos < n && blobs[i].offset == off[blobs[i].pos]);
			for (k = 0; k < i; k++)
				FUZZ_ASSERT(blobs[k].pos != blobs[i].pos);
		}
		/* offsets the index gives that lie outside the pack are never looked up */
		for (i = 0; i < n; i++) {
			uint64_t o;
			made_up_id(id, i);
			if (gate_pack_find(p, id, &o))
				FUZZ_ASSERT(o == off[i] && o < pack.len - 20);
			else
				off[i] = 12; /* read the first object instead */
		}
		memset(small, 0, sizeof(small));
		memset(large, 0, sizeof(large));
		read_all(p, 0, off, n, small);
		read_all(p, 1 << 20, off, n, large);
		for (i = 0; i < n; i++) {
			FUZZ_ASSERT(small[i].ret == large[i].ret);
			if (small[i].ret == 0)
				FUZZ_ASSERT(small[i].type == large[i].type && small[i].data.len == large[i].data.len &&
					    !memcmp(small[i].data.ptr, large[i].data.ptr, small[i].data.len));
			gate_buf_release(&small[i].data);
			gate_buf_release(&large[i].data);
		}
		free(blobs);
		gate_pack_free(p);
	} else {
		FUZZ_ASSERT(err.len > 0);
	}
	unlink(idx_path);
	unlink(pack_path);
	free(idx_path);
	free(pack_path);
	gate_buf_release(&pack);
	gate_buf_release(&idx);
	gate_buf_release(&err);
	return 0;
}
