#ifndef GATE_PACK_H
#define GATE_PACK_H

/*
 * pack: objects read from a pushed pack in the hook's own process.
 *
 * The blobs of a large push are most of what it costs to judge (700 MB
 * inflated for git.git v2.30.0..v2.40.0).  Read through a pipe from `git
 * cat-file --batch`, every byte is copied twice more by the kernel (0.35-
 * 0.45 s of system time for those 700 MB) and the two ends wake each
 * other tens of thousands of times.  The pack receive-pack has just
 * indexed sits in the quarantine: `git index-pack` has inflated every
 * object in it, applied every delta, checked each object's id against its
 * content and completed a thin pack with the bases it lacked.  This
 * module reads that pack instead: the index looked up, the object
 * inflated with zlib, its deltas applied, with a cache of delta bases per
 * reader, as git does.
 *
 * It reads only what it can read exactly: an object outside the pack, a
 * delta against one, or one larger than the caller's bound is answered
 * GATE_ENOTFOUND and left to git.  Anything that does not parse is an
 * error, never a guess.  SHA-1 repositories only (a version 2 index of
 * any other id length does not open).
 */

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct gate_pack;
struct gate_pack_reader;

/* Object types as a pack stores them. */
enum gate_pack_type {
	GATE_PACK_COMMIT = 1,
	GATE_PACK_TREE = 2,
	GATE_PACK_BLOB = 3,
	GATE_PACK_TAG = 4
};

/*
 * Map the pack index `idx_path` ("<dir>/pack-<hash>.idx") and its pack.
 * 0, or -1 with a message when either is missing or is not a version 2
 * index of SHA-1 ids and the pack it describes.
 */
int gate_pack_open(struct gate_pack **out, const char *idx_path, struct gate_buf *err);
void gate_pack_free(struct gate_pack *p);

/* How many objects the pack holds. */
uint32_t gate_pack_count(const struct gate_pack *p);

/* 1 and the object's offset in the pack when `id` (20 bytes) is in it, else 0. */
int gate_pack_find(const struct gate_pack *p, const unsigned char *id, uint64_t *offset);

/* The id (20 bytes) of the pack's `pos`-th object in id order. */
const unsigned char *gate_pack_id(const struct gate_pack *p, uint32_t pos);

/* A blob of the pack, as gate_pack_blobs() lists them. */
struct gate_pack_blob {
	uint64_t offset;
	uint64_t root; /* the offset of the whole object its chain of deltas starts from */
	uint32_t pos;  /* for gate_pack_id() */
};

/*
 * The pack's blobs in the order they are stored, which is the order to
 * read them in: a delta's base is stored before it (but for a base a thin
 * pack was completed with, at its end), so a reader going through them in
 * this order finds the bases it needs among the last ones it read.  A
 * delta whose base is not in the pack, or whose chain does not parse, is
 * not listed.  Returns how many there are, listed in *out (to be freed).
 */
size_t gate_pack_blobs(const struct gate_pack *p, struct gate_pack_blob **out);

/*
 * A reader: zlib's state and a cache of delta bases of up to
 * `cache_bytes`.  A reader is one thread's; packs may be shared.
 */
struct gate_pack_reader *gate_pack_reader_new(size_t cache_bytes);
void gate_pack_reader_free(struct gate_pack_reader *r);

/*
 * How many bytes the reader has inflated (whole objects and deltas'
 * instructions): about the pack's objects' once each when its cache
 * serves, more when chains are walked again.
 */
uint64_t gate_pack_reader_inflated(const struct gate_pack_reader *r);

/*
 * Read the object at `offset` in `p`: 0 with its type, its content in
 * *data (NUL-terminated; valid until this reader's next read) and its
 * length.  GATE_ENOTFOUND when it is not read here: it, or an object its
 * deltas need, is larger than `max` bytes, or a delta's base is not in
 * `p`.  -1 with a message in `err` when the pack does not parse there.
 */
int gate_pack_read(struct gate_pack_reader *r, struct gate_pack *p, uint64_t offset, uint64_t max, int *type,
		   const char **data, size_t *len, struct gate_buf *err);

#endif
