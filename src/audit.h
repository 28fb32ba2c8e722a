#ifndef GATE_AUDIT_H
#define GATE_AUDIT_H

/*
 * The audit log: one JSON object per line for every decision, appended
 * with O_APPEND in a single write so that concurrent pushes never
 * interleave.
 */

#include "gate.h"

/*
 * Append the record for this decision.  `v` is NULL when the push could
 * not be judged.  Returns -1 with a message when the log could not be
 * written; the caller decides whether that rejects the push.
 */
int gate_audit_record(const struct gate_config *cfg, const struct gate_repo *repo, const struct gate_push *push,
		      const struct gate_verdict *v, const char *hook, int exit_code, struct gate_buf *err);

#endif
