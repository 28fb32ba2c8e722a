#ifndef GATE_SLOT_H
#define GATE_SLOT_H

/*
 * Slots: a server-wide cap on how many commands run at once.  A slot is
 * a file DIR/slot-N (N < max) held with flock(), so a slot is free again
 * the moment its holder ends, however it ends (a killed hook included).
 * Every push whose workspace root is the same directory shares the slots.
 *
 *   struct gate_slot s = GATE_SLOT_INIT;
 *   gate_slot_acquire(&s, dir, max, waiting, arg, err);   blocks until one is free
 *   ... run ...
 *   gate_slot_release(&s);
 */

#include "util.h"

struct gate_slot {
	int fd;
};

#define GATE_SLOT_INIT { -1 }

/*
 * Take a slot.  When all are busy, `waiting(arg, seconds)` (may be NULL)
 * is called once at once and then every `interval` seconds (0: only
 * once) while waiting.  DIR is created mode 0700 when missing and must be
 * a directory of our own that nobody else can write.  0, or -1 with a
 * message.
 */
int gate_slot_acquire(struct gate_slot *s, const char *dir, long max, double interval,
		      void (*waiting)(void *arg, double seconds), void *arg, struct gate_buf *err);
void gate_slot_release(struct gate_slot *s);

#endif
