#ifndef GATE_OIDMAP_H
#define GATE_OIDMAP_H

/*
 * A hash map from 40-hex object ids (or any NUL-terminated key) to
 * pointers, open addressing, keys copied.  Not thread safe.
 */

#include <stddef.h>

struct gate_oidmap {
	struct gate_oidmap_slot {
		char *key;
		void *value;
	} *slots;
	size_t nr, alloc;
	/*
	 * Set before the first put: keys are not copied, the caller keeps
	 * each one alive and unchanged until release (e.g. an id inside the
	 * value): a whole-history import's 128,000 blob ids were 6 MB of
	 * copies.
	 */
	int borrowed;
};

#define GATE_OIDMAP_INIT { NULL, 0, 0, 0 }

void *gate_oidmap_get(const struct gate_oidmap *m, const char *key);
/* Insert or replace; returns the previous value or NULL. */
void *gate_oidmap_put(struct gate_oidmap *m, const char *key, void *value);
void gate_oidmap_release(struct gate_oidmap *m);

#endif
