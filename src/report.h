#ifndef GATE_REPORT_H
#define GATE_REPORT_H

/*
 * The report the pusher reads as "remote:" lines: for each ref with
 * problems, every failed check with the commit, path and line at fault,
 * what is wrong and how to fix it, and a last line with the verdict.
 * Everything that came from pushed content is neutralised so that it
 * cannot drive the pusher's terminal (git before 2.55 passes ESC through).
 */

#include "gate.h"
#include "util.h"

/* The neutraliser everything goes through is gate_buf_add_safe (util.h). */

struct gate_report_opts {
	const char *prefix;     /* each line starts with it, e.g. "git-gate: " */
	const char *policy;     /* policy file name for the last line, or NULL */
	long max_findings;      /* per check */
	int verbose;            /* also list passed checks */
	const char *hook;       /* "pre-receive", "update", "check" */
};

/* Write the report for `v` into `out`. */
void gate_report_format(struct gate_buf *out, const struct gate_verdict *v, const struct gate_report_opts *o);

#endif
