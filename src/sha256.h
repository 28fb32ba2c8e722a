#ifndef GATE_SHA256_H
#define GATE_SHA256_H

/*
 * A small SHA-256 (FIPS 180-4), for fingerprints that must stay the same
 * across versions and machines (e.g. the secrets check's finding
 * fingerprints).  Not for bulk hashing.
 *
 *   struct gate_sha256 c;
 *   gate_sha256_init(&c);
 *   gate_sha256_update(&c, data, len);   as often as needed
 *   gate_sha256_final(&c, digest);       32 bytes
 */

#include <stddef.h>
#include <stdint.h>

#define GATE_SHA256_LEN 32

struct gate_sha256 {
	uint32_t h[8];
	uint64_t len;          /* bytes hashed so far */
	unsigned char buf[64]; /* pending partial block */
	size_t nbuf;
};

void gate_sha256_init(struct gate_sha256 *c);
void gate_sha256_update(struct gate_sha256 *c, const void *data, size_t len);
void gate_sha256_final(struct gate_sha256 *c, unsigned char out[GATE_SHA256_LEN]);

/* One-shot: the digest of `data` as 64 lowercase hex digits and a NUL. */
void gate_sha256_hex(char out[2 * GATE_SHA256_LEN + 1], const void *data, size_t len);

#endif
