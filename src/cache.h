#ifndef GATE_CACHE_H
#define GATE_CACHE_H

/*
 * The verdict cache: passes of expensive checks remembered on disk, so
 * that a tree that already passed a check (a rebase ending on the same
 * tree, a branch promoted from staging to main) is not built again.
 *
 *   gate_cache_key(&key, tree_id, def->digest);
 *   if (gate_cache_lookup(dir, key.ptr, key.len) == 1) ... skip the run
 *   ... run, and on a pass:
 *   gate_cache_store(dir, shared, key.ptr, key.len, "duration 12.3 s", err);
 *
 * Only passes are stored.  One file per entry, named by a hash of the
 * key, written atomically (temporary file, rename), so that concurrent
 * writers leave either a whole entry or none; not synced to disk: after
 * a crash an entry may be cut short, and reads as a miss.  An
 * entry holds the full key and a checksum of itself: a hash collision, a
 * truncated or corrupt file reads as a miss, never as a pass.
 */

#include <stddef.h>

#include "util.h"

/*
 * The key of a verdict: the tree, the check's definition (its canonical
 * text, which changes whenever a key of the check changes) and the
 * git-gate version.
 */
void gate_cache_key(struct gate_buf *key, const char *tree_id, const char *digest);

/* 1: a valid pass is recorded under key; 0: not (missing, unreadable, corrupt). */
int gate_cache_lookup(const char *dir, const char *key, size_t key_len);

/*
 * Record a pass under key, with `info` (one line, may be NULL) for the
 * admin.  Creates `dir` when needed; folders and files get the mode
 * `shared` asks for (gate_shared_perm of the repository, see shared.h).
 * 0, or -1 with a message.
 */
int gate_cache_store(const char *dir, int shared, const char *key, size_t key_len, const char *info,
		     struct gate_buf *err);

/* The file an entry lives in (for tests and `git gate explain`); caller frees. */
char *gate_cache_entry_path(const char *dir, const char *key, size_t key_len);

#endif
