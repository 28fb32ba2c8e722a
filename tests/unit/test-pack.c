#include "unit.h"

#include <stdio.h>
#include <unistd.h>
#include <zlib.h>

#include "pack.h"

/*
 * Packs built here byte by byte: whole objects, offset and reference
 * deltas, a thin pack's base stored after its delta, and the corruptions
 * a reader must refuse.  Ids are made up (nothing here hashes content:
 * index-pack has checked them by the time a hook reads a pack).
 */

#define MAXOBJ 16

struct obj {
	int type;                  /* 1-4, 6 (offset delta), 7 (reference delta) */
	struct gate_buf payload;   /* content, or delta instructions */
	int base;                  /* index of the base object; -1 for an id outside the pack */
	unsigned char id[20];
	int bad_zlib;              /* write garbage instead of a zlib stream */
	int64_t ofs_override;      /* nonzero: written as the offset delta's distance */
};

struct builder {
	struct obj o[MAXOBJ];
	size_t n;
	uint64_t off[MAXOBJ];
	char *dir, *idx_path, *pack_path;
	struct gate_pack *pack;
};

static int setup(void **state)
{
	struct builder *b = gate_xcalloc(1, sizeof(*b));
	char tmpl[] = "/tmp/test-pack-XXXXXX";

	if (!mkdtemp(tmpl))
		return -1;
	b->dir = gate_xstrdup(tmpl);
	b->idx_path = gate_xstrfmt("%s/pack-x.idx", tmpl);
	b->pack_path = gate_xstrfmt("%s/pack-x.pack", tmpl);
	*state = b;
	return 0;
}

static int teardown(void **state)
{
	struct builder *b = *state;
	size_t i;

	gate_pack_free(b->pack);
	for (i = 0; i < b->n; i++)
		gate_buf_release(&b->o[i].payload);
	unlink(b->idx_path);
	unlink(b->pack_path);
	rmdir(b->dir);
	free(b->idx_path);
	free(b->pack_path);
	free(b->dir);
	free(b);
	return 0;
}

static int add(struct builder *b, int type, const void *data, size_t len, int base)
{
	struct obj *o = &b->o[b->n];

	o->type = type;
	gate_buf_add(&o->payload, data, len);
	o->base = base;
	/* distinct made-up ids, spread over the fan-out table */
	o->id[0] = (unsigned char)(0x11 * (b->n + 1));
	o->id[19] = (unsigned char)b->n;
	return (int)b->n++;
}

static void varint(struct gate_buf *d, uint64_t v)
{
	do {
		unsigned char c = v & 0x7f;
		v >>= 7;
		if (v)
			c |= 0x80;
		gate_buf_addch(d, (char)c);
	} while (v);
}

static void delta_start(struct gate_buf *d, uint64_t src, uint64_t dst)
{
	gate_buf_reset(d);
	varint(d, src);
	varint(d, dst);
}

static void delta_copy(struct gate_buf *d, uint32_t off, uint32_t n)
{
	unsigned char cmd = 0x80, bytes[7];
	size_t k = 0, i;

	for (i = 0; i < 4; i++)
		if ((off >> (8 * i)) & 0xff) {
			cmd |= 1u << i;
			bytes[k++] = (off >> (8 * i)) & 0xff;
		}
	for (i = 0; i < 3; i++)
		if ((n >> (8 * i)) & 0xff) {
			cmd |= 0x10u << i;
			bytes[k++] = (n >> (8 * i)) & 0xff;
		}
	gate_buf_addch(d, (char)cmd);
	gate_buf_add(d, bytes, k);
}

/* Copy the whole base, `len` bytes, in copies of at most 64 KiB. */
static void delta_copy_all(struct gate_buf *d, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 0x10000)
		delta_copy(d, (uint32_t)i, (uint32_t)(len - i < 0x10000 ? len - i : 0x10000));
}

static void delta_insert(struct gate_buf *d, const char *s)
{
	gate_buf_addch(d, (char)strlen(s));
	gate_buf_adds(d, s);
}

static void put32(struct gate_buf *b, uint32_t v)
{
	unsigned char c[4] = { v >> 24, v >> 16, v >> 8, v };
	gate_buf_add(b, c, 4);
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(((const struct obj *const *)a)[0]->id, ((const struct obj *const *)b)[0]->id, 20);
}

static void write_file(const char *path, const struct gate_buf *b)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b->ptr, 1, b->len, f), b->len);
	fclose(f);
}

/* Write the pack and its index; `idx_edit` may spoil the index before it is written. */
static void write_pack(struct builder *b, void (*idx_edit)(struct gate_buf *))
{
	struct gate_buf pack = GATE_BUF_INIT, idx = GATE_BUF_INIT;
	struct obj *sorted[MAXOBJ];
	unsigned char trailer[20];
	size_t i, k;

	memset(trailer, 0xab, sizeof(trailer));
	gate_buf_adds(&pack, "PACK");
	put32(&pack, 2);
	put32(&pack, (uint32_t)b->n);
	for (i = 0; i < b->n; i++) {
		struct obj *o = &b->o[i];
		uint64_t size = o->payload.len;
		unsigned char c = (unsigned char)(o->type << 4 | (size & 15));
		uLongf zlen = compressBound(o->payload.len);
		unsigned char *z = gate_xmalloc(zlen);

		b->off[i] = pack.len;
		size >>= 4;
		while (size) {
			gate_buf_addch(&pack, (char)(c | 0x80));
			c = size & 0x7f;
			size >>= 7;
		}
		gate_buf_addch(&pack, (char)c);
		if (o->type == 6) {
			uint64_t ofs = o->ofs_override ? (uint64_t)o->ofs_override : b->off[i] - b->off[o->base];
			unsigned char buf[16];
			size_t pos = sizeof(buf) - 1;
			buf[pos] = ofs & 0x7f;
			while (ofs >>= 7)
				buf[--pos] = 0x80 | (--ofs & 0x7f);
			gate_buf_add(&pack, buf + pos, sizeof(buf) - pos);
		} else if (o->type == 7) {
			unsigned char outside[20];
			memset(outside, 0xee, sizeof(outside));
			gate_buf_add(&pack, o->base >= 0 ? b->o[o->base].id : outside, 20);
		}
		if (o->bad_zlib) {
			gate_buf_add(&pack, "not a zlib stream at all", 24);
		} else {
			assert_int_equal(compress(z, &zlen, (const Bytef *)o->payload.ptr, o->payload.len), Z_OK);
			gate_buf_add(&pack, z, zlen);
		}
		free(z);
	}
	gate_buf_add(&pack, trailer, 20);

	for (i = 0; i < b->n; i++)
		sorted[i] = &b->o[i];
	qsort(sorted, b->n, sizeof(sorted[0]), id_cmp);
	gate_buf_add(&idx, "\377tOc", 4);
	put32(&idx, 2);
	for (k = 0; k < 256; k++) {
		uint32_t c = 0;
		for (i = 0; i < b->n; i++)
			c += sorted[i]->id[0] <= k;
		put32(&idx, c);
	}
	for (i = 0; i < b->n; i++)
		gate_buf_add(&idx, sorted[i]->id, 20);
	for (i = 0; i < b->n; i++)
		put32(&idx, 0); /* CRCs, not read */
	for (i = 0; i < b->n; i++)
		put32(&idx, (uint32_t)b->off[sorted[i] - b->o]);
	gate_buf_add(&idx, trailer, 20);
	gate_buf_add(&idx, trailer, 20);
	if (idx_edit)
		idx_edit(&idx);
	write_file(b->pack_path, &pack);
	write_file(b->idx_path, &idx);
	gate_buf_release(&pack);
	gate_buf_release(&idx);
}

static struct gate_pack *open_pack(struct builder *b)
{
	struct gate_buf err = GATE_BUF_INIT;

	write_pack(b, NULL);
	if (gate_pack_open(&b->pack, b->idx_path, &err) < 0)
		fail_msg("%s", gate_buf_cstr(&err));
	gate_buf_release(&err);
	return b->pack;
}

/* Read object `i` (found by its id) with `r`; returns what gate_pack_read returned. */
static int read_obj(struct builder *b, struct gate_pack_reader *r, int i, uint64_t max, struct gate_buf *out,
		    struct gate_buf *err)
{
	uint64_t off;
	const char *data;
	size_t len;
	int type, ret;

	assert_int_equal(gate_pack_find(b->pack, b->o[i].id, &off), 1);
	assert_true(off == b->off[i]);
	gate_buf_reset(out);
	ret = gate_pack_read(r, b->pack, off, max, &type, &data, &len, err);
	if (ret == 0) {
		assert_int_equal(type, GATE_PACK_BLOB);
		assert_int_equal(data[len], '\0');
		gate_buf_add(out, data, len);
	}
	return ret;
}

static void expect_content(struct builder *b, struct gate_pack_reader *r, int i, const char *want)
{
	struct gate_buf out = GATE_BUF_INIT, err = GATE_BUF_INIT;

	if (read_obj(b, r, i, 1 << 20, &out, &err) != 0)
		fail_msg("object %d: %s", i, gate_buf_cstr(&err));
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(out.ptr, want, out.len);
	gate_buf_release(&out);
	gate_buf_release(&err);
}

static const char *v1 = "int main(void)\n{\n\treturn 0;\n}\n";
static const char *v2 = "int main(void)\n{\n\tputs(\"hi\");\n\treturn 0;\n}\n";
static const char *v3 = "/* v3 */\nint main(void)\n{\n\tputs(\"hi\");\n\treturn 0;\n}\n";

/* v1 whole; v2 an offset delta of it; v3 a reference delta of v2. */
static void build_chain(struct builder *b, int *i1, int *i2, int *i3)
{
	struct gate_buf d = GATE_BUF_INIT;

	*i1 = add(b, GATE_PACK_BLOB, v1, strlen(v1), -1);
	delta_start(&d, strlen(v1), strlen(v2));
	delta_copy(&d, 0, 17);      /* "int main(void)\n{\n" */
	delta_insert(&d, "\tputs(\"hi\");\n");
	delta_copy(&d, 17, (uint32_t)strlen(v1) - 17);
	*i2 = add(b, 6, d.ptr, d.len, *i1);
	delta_start(&d, strlen(v2), strlen(v3));
	delta_insert(&d, "/* v3 */\n");
	delta_copy(&d, 0, (uint32_t)strlen(v2));
	*i3 = add(b, 7, d.ptr, d.len, *i2);
	gate_buf_release(&d);
}

static void test_whole_blobs_and_both_kinds_of_delta_read_back(void **state)
{
	struct builder *b = *state;
	struct gate_pack_reader *r;
	int i1, i2, i3;

	build_chain(b, &i1, &i2, &i3);
	open_pack(b);
	assert_int_equal(gate_pack_count(b->pack), 3);
	r = gate_pack_reader_new(1 << 20);
	/* the deepest first (the chain walked down, then up), then from the cache */
	expect_content(b, r, i3, v3);
	expect_content(b, r, i1, v1);
	expect_content(b, r, i2, v2);
	expect_content(b, r, i3, v3);
	gate_pack_reader_free(r);
	/* and each alone, with nothing cached */
	r = gate_pack_reader_new(1 << 20);
	expect_content(b, r, i2, v2);
	gate_pack_reader_free(r);
}

static void test_a_cache_too_small_for_any_base_still_reads_right(void **state)
{
	struct builder *b = *state;
	struct gate_pack_reader *r;
	int i1, i2, i3, k;

	build_chain(b, &i1, &i2, &i3);
	open_pack(b);
	/* a quarter of 64 bytes holds none of these: every read walks the chain */
	r = gate_pack_reader_new(64);
	for (k = 0; k < 3; k++) {
		expect_content(b, r, i3, v3);
		expect_content(b, r, i2, v2);
		expect_content(b, r, i1, v1);
	}
	gate_pack_reader_free(r);
	/* room for about one: entries keep being dropped and replaced */
	r = gate_pack_reader_new(4 * (strlen(v3) + 120));
	for (k = 0; k < 3; k++) {
		expect_content(b, r, i1, v1);
		expect_content(b, r, i3, v3);
		expect_content(b, r, i2, v2);
	}
	gate_pack_reader_free(r);
}

static void test_large_objects_are_read_outside_the_cache(void **state)
{
	struct builder *b = *state;
	struct gate_buf big = GATE_BUF_INIT, want2 = GATE_BUF_INIT, want3 = GATE_BUF_INIT, d = GATE_BUF_INIT;
	struct gate_buf out = GATE_BUF_INIT, err = GATE_BUF_INIT;
	struct gate_pack_reader *r;
	size_t i;
	int i1, i2, i3;

	/* 300 KiB and more: past what the cache takes, and given pages of their own */
	for (i = 0; i < 300 * 1024; i++)
		gate_buf_addch(&big, (char)('a' + i % 23));
	i1 = add(b, GATE_PACK_BLOB, big.ptr, big.len, -1);
	gate_buf_add(&want2, big.ptr, big.len);
	gate_buf_adds(&want2, "tail\n");
	delta_start(&d, big.len, want2.len);
	delta_copy_all(&d, big.len);
	delta_insert(&d, "tail\n");
	i2 = add(b, 6, d.ptr, d.len, i1);
	gate_buf_adds(&want3, "head\n");
	gate_buf_add(&want3, want2.ptr, want2.len);
	delta_start(&d, want2.len, want3.len);
	delta_insert(&d, "head\n");
	delta_copy_all(&d, want2.len);
	i3 = add(b, 6, d.ptr, d.len, i2);
	open_pack(b);
	r = gate_pack_reader_new(64 << 10);
	expect_content(b, r, i3, want3.ptr);
	expect_content(b, r, i1, big.ptr);
	expect_content(b, r, i2, want2.ptr);
	/* a bound below the object's size: left to git, whether whole or built by deltas */
	assert_int_equal(read_obj(b, r, i1, big.len - 1, &out, &err), GATE_ENOTFOUND);
	assert_int_equal(read_obj(b, r, i3, want2.len, &out, &err), GATE_ENOTFOUND);
	assert_int_equal(read_obj(b, r, i3, want3.len, &out, &err), 0);
	gate_pack_reader_free(r);
	gate_buf_release(&big);
	gate_buf_release(&want2);
	gate_buf_release(&want3);
	gate_buf_release(&d);
	gate_buf_release(&out);
	gate_buf_release(&err);
}

static void test_a_chain_of_large_objects_read_in_order_is_inflated_once(void **state)
{
	struct builder *b = *state;
	struct gate_buf big = GATE_BUF_INIT, want = GATE_BUF_INIT, d = GATE_BUF_INIT;
	struct gate_pack_reader *r;
	int idx[12];
	size_t i, k;

	/* versions of a 300 KiB file, each a delta of the one before: none fits the cache */
	for (i = 0; i < 300 * 1024; i++)
		gate_buf_addch(&big, (char)('a' + i % 19));
	idx[0] = add(b, GATE_PACK_BLOB, big.ptr, big.len, -1);
	gate_buf_add(&want, big.ptr, big.len);
	for (k = 1; k < GATE_ARRAY_SIZE(idx); k++) {
		size_t before = want.len;
		delta_start(&d, before, before + 4);
		delta_copy_all(&d, before);
		delta_insert(&d, "end\n");
		gate_buf_adds(&want, "end\n");
		idx[k] = add(b, 6, d.ptr, d.len, idx[k - 1]);
	}
	open_pack(b);
	r = gate_pack_reader_new(64 << 10);
	for (k = 0; k < GATE_ARRAY_SIZE(idx); k++) {
		struct gate_buf out = GATE_BUF_INIT, err = GATE_BUF_INIT;
		assert_int_equal(read_obj(b, r, idx[k], 1 << 20, &out, &err), 0);
		assert_int_equal(out.len, big.len + 4 * k);
		gate_buf_release(&out);
		gate_buf_release(&err);
	}
	/* the whole object once, each delta once: not the whole object again for every version */
	assert_true(gate_pack_reader_inflated(r) < big.len + 1024);
	/* out of order, the chain is followed down again, and still reads right */
	want.len = big.len + 4 * 3;
	want.ptr[want.len] = '\0';
	expect_content(b, r, idx[3], want.ptr);
	gate_pack_reader_free(r);
	gate_buf_release(&big);
	gate_buf_release(&want);
	gate_buf_release(&d);
}

static void test_a_delta_against_an_object_outside_the_pack_is_left_to_git(void **state)
{
	struct builder *b = *state;
	struct gate_buf out = GATE_BUF_INIT, err = GATE_BUF_INIT, d = GATE_BUF_INIT;
	struct gate_pack_reader *r;
	struct gate_pack_blob *v;
	int i1, thin;

	i1 = add(b, GATE_PACK_BLOB, v1, strlen(v1), -1);
	delta_start(&d, 10, 5);
	delta_copy(&d, 0, 5);
	thin = add(b, 7, d.ptr, d.len, -1);
	open_pack(b);
	r = gate_pack_reader_new(1 << 20);
	assert_int_equal(read_obj(b, r, thin, 1 << 20, &out, &err), GATE_ENOTFOUND);
	expect_content(b, r, i1, v1);
	/* and it is not listed to be read */
	assert_int_equal(gate_pack_blobs(b->pack, &v), 1);
	assert_true(v[0].offset == b->off[i1]);
	free(v);
	gate_pack_reader_free(r);
	gate_buf_release(&out);
	gate_buf_release(&err);
	gate_buf_release(&d);
}

static void test_blobs_are_listed_depth_first_along_their_chains(void **state)
{
	struct builder *b = *state;
	struct gate_buf d = GATE_BUF_INIT;
	struct gate_pack_blob *v;
	int a, tree, b1, other, c1, b2, thin, base_after;
	size_t n;

	/*
	 * In pack order: a; a tree; b1 (delta of a); other (whole); c1
	 * (delta of b1); b2 (delta of a); thin (delta of base_after, stored
	 * after it as index-pack completes a thin pack).  Depth first: a,
	 * b1, c1, b2; other; base_after, thin.
	 */
	a = add(b, GATE_PACK_BLOB, v1, strlen(v1), -1);
	tree = add(b, GATE_PACK_TREE, "not read", 8, -1);
	delta_start(&d, strlen(v1), 3);
	delta_copy(&d, 0, 3);
	b1 = add(b, 6, d.ptr, d.len, a);
	other = add(b, GATE_PACK_BLOB, v2, strlen(v2), -1);
	delta_start(&d, 3, 2);
	delta_copy(&d, 1, 2);
	c1 = add(b, 6, d.ptr, d.len, b1);
	delta_start(&d, strlen(v1), 4);
	delta_copy(&d, 4, 4);
	b2 = add(b, 7, d.ptr, d.len, a);
	delta_start(&d, strlen(v3), 2);
	delta_copy(&d, 0, 2);
	thin = add(b, 7, d.ptr, d.len, 8);
	base_after = add(b, GATE_PACK_BLOB, v3, strlen(v3), -1);
	assert_int_equal(base_after, 8 - 1);
	b->o[thin].base = base_after;
	open_pack(b);
	(void)tree;
	n = gate_pack_blobs(b->pack, &v);
	assert_int_equal(n, 7);
	assert_true(v[0].offset == b->off[a]);
	assert_true(v[1].offset == b->off[b1]);
	assert_true(v[2].offset == b->off[c1]);
	assert_true(v[3].offset == b->off[b2]);
	assert_true(v[4].offset == b->off[other]);
	assert_true(v[5].offset == b->off[base_after]);
	assert_true(v[6].offset == b->off[thin]);
	/* each names its chain's whole object, and its id */
	assert_true(v[2].root == b->off[a] && v[3].root == b->off[a] && v[6].root == b->off[base_after]);
	assert_memory_equal(gate_pack_id(b->pack, v[2].pos), b->o[c1].id, 20);
	free(v);
	gate_buf_release(&d);
}

static void expect_corrupt(struct builder *b, int i)
{
	struct gate_buf out = GATE_BUF_INIT, err = GATE_BUF_INIT;
	struct gate_pack_reader *r = gate_pack_reader_new(1 << 20);

	assert_int_equal(read_obj(b, r, i, 1 << 20, &out, &err), -1);
	assert_non_null(strstr(gate_buf_cstr(&err), "the pushed pack is corrupt at offset"));
	gate_pack_reader_free(r);
	gate_buf_release(&out);
	gate_buf_release(&err);
}

static void test_corrupt_objects_are_errors_not_guesses(void **state)
{
	struct builder *b = *state;
	struct gate_buf d = GATE_BUF_INIT;
	struct gate_pack_blob *v;
	int a, bad_zlib, wrong_src, copy_past, reserved, short_out, before_start, loop1, loop2;

	a = add(b, GATE_PACK_BLOB, v1, strlen(v1), -1);
	bad_zlib = add(b, GATE_PACK_BLOB, v2, strlen(v2), -1);
	b->o[bad_zlib].bad_zlib = 1;
	delta_start(&d, strlen(v1) + 1, 3); /* the base is one byte shorter */
	delta_copy(&d, 0, 3);
	wrong_src = add(b, 6, d.ptr, d.len, a);
	delta_start(&d, strlen(v1), 8);
	delta_copy(&d, (uint32_t)strlen(v1) - 4, 8); /* past the base's end */
	copy_past = add(b, 6, d.ptr, d.len, a);
	delta_start(&d, strlen(v1), 1);
	gate_buf_addch(&d, 0); /* instruction 0 is reserved */
	reserved = add(b, 6, d.ptr, d.len, a);
	delta_start(&d, strlen(v1), 10);
	delta_copy(&d, 0, 3); /* builds 3 of the 10 bytes it promised */
	short_out = add(b, 6, d.ptr, d.len, a);
	delta_start(&d, strlen(v1), 3);
	delta_copy(&d, 0, 3);
	before_start = add(b, 6, d.ptr, d.len, a);
	b->o[before_start].ofs_override = 1 << 20; /* before the pack's first byte */
	loop1 = add(b, 7, d.ptr, d.len, 0);
	loop2 = add(b, 7, d.ptr, d.len, 0);
	b->o[loop1].base = loop2;
	b->o[loop2].base = loop1;
	open_pack(b);
	expect_corrupt(b, bad_zlib);
	expect_corrupt(b, wrong_src);
	expect_corrupt(b, copy_past);
	expect_corrupt(b, reserved);
	expect_corrupt(b, short_out);
	expect_corrupt(b, before_start);
	expect_corrupt(b, loop1);
	{
		/* the whole blob beside them still reads, with no cache at all */
		struct gate_pack_reader *r = gate_pack_reader_new(0);
		expect_content(b, r, a, v1);
		gate_pack_reader_free(r);
	}
	/* listed: the whole blobs and the deltas whose chains lead to one; never the loop */
	assert_int_equal(gate_pack_blobs(b->pack, &v), 6);
	free(v);
	gate_buf_release(&d);
}

static void spoil_magic(struct gate_buf *idx)
{
	idx->ptr[1] = 'X';
}

static void spoil_checksum(struct gate_buf *idx)
{
	idx->ptr[idx->len - 40] ^= 1;
}

static void spoil_length(struct gate_buf *idx)
{
	idx->len -= 3;
}

static void spoil_fanout(struct gate_buf *idx)
{
	idx->ptr[8 + 4 * 10 + 3] = 99; /* a count above the next one */
}

static void test_an_index_that_does_not_describe_its_pack_does_not_open(void **state)
{
	struct builder *b = *state;
	void (*edits[])(struct gate_buf *) = { spoil_magic, spoil_checksum, spoil_length, spoil_fanout };
	struct gate_buf err = GATE_BUF_INIT;
	struct gate_pack *p = NULL;
	size_t i;

	add(b, GATE_PACK_BLOB, v1, strlen(v1), -1);
	add(b, GATE_PACK_BLOB, v2, strlen(v2), -1);
	for (i = 0; i < GATE_ARRAY_SIZE(edits); i++) {
		write_pack(b, edits[i]);
		gate_buf_reset(&err);
		assert_int_equal(gate_pack_open(&p, b->idx_path, &err), -1);
		assert_null(p);
		assert_true(err.len > 0);
	}
	/* no pack beside the index */
	write_pack(b, NULL);
	unlink(b->pack_path);
	assert_int_equal(gate_pack_open(&p, b->idx_path, &err), -1);
	assert_non_null(strstr(gate_buf_cstr(&err), "pack-x.pack"));
	gate_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_whole_blobs_and_both_kinds_of_delta_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_cache_too_small_for_any_base_still_reads_right, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_objects_are_read_outside_the_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_chain_of_large_objects_read_in_order_is_inflated_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_delta_against_an_object_outside_the_pack_is_left_to_git, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_blobs_are_listed_depth_first_along_their_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_objects_are_errors_not_guesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_index_that_does_not_describe_its_pack_does_not_open, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
