#ifndef GATE_DIAG_H
#define GATE_DIAG_H

/*
 * Configuration diagnostics: every problem found while loading a policy,
 * each as "FILE:LINE: what is wrong", collected so that one run of
 * `git gate validate` lists them all (like `sshd -t`).
 */

#include "util.h"

struct gate_diag {
	struct gate_strvec msgs;
	/* Name for text that came from no file (a policy read from a ref). */
	const char *name;
};

#define GATE_DIAG_INIT { GATE_STRVEC_INIT, NULL }

void gate_diag_addf(struct gate_diag *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void gate_diag_release(struct gate_diag *d);
/*
 * Order the messages like a compiler's: by file (in the order files first
 * appear), then by line; messages without a line come first in their
 * file, and the order of equal places is kept.
 */
void gate_diag_sort(struct gate_diag *d);
/* All messages, one a line. */
void gate_diag_format(const struct gate_diag *d, struct gate_buf *out);

#endif
