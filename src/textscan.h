#ifndef GATE_TEXTSCAN_H
#define GATE_TEXTSCAN_H

/*
 * Fast scanning of text blobs for the text checks (secrets,
 * text-hygiene): line bookkeeping, a set of line hashes to tell which
 * lines a file's previous version already had, and the text-hygiene
 * scanner (conflict markers and the whitespace errors of
 * `git diff --check`).
 *
 * These run on the scan thread over every new text blob of a push, so
 * they touch each byte as few times as possible: the hygiene scan tests
 * 16 bytes at a time for the few byte pairs that can start a problem
 * ("\n<", "\n=", " \t", " \n", ...) and only looks closer at those lines.
 */

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Number of '\n' bytes in p[0..n). */
size_t gate_text_count_newlines(const char *p, size_t n);

/* A 64-bit hash of a line's bytes (without its '\n'); not cryptographic. */
uint64_t gate_text_line_hash(const char *p, size_t n);

/*
 * Which line a byte offset is on, for offsets visited in increasing
 * order (a smaller offset restarts from the top).
 */
struct gate_text_locator {
	const char *data;
	size_t len;
	size_t start; /* first byte of the current line */
	size_t end;   /* its '\n', or len */
	long line;    /* its 1-based number */
};

void gate_text_locator_init(struct gate_text_locator *l, const char *data, size_t len);
/* Move to the line holding offset q (q <= len); returns its number. */
long gate_text_locate(struct gate_text_locator *l, size_t q);

/* A set of line hashes (open addressing). */
struct gate_text_lineset {
	uint64_t *v;
	size_t mask;
	size_t nr;
	int has_zero;
};

#define GATE_TEXT_LINESET_INIT { NULL, 0, 0, 0 }

void gate_text_lineset_add(struct gate_text_lineset *s, uint64_t hash);
/* Add the hash of every line of a text. */
void gate_text_lineset_add_lines(struct gate_text_lineset *s, const char *data, size_t len);
int gate_text_lineset_has(const struct gate_text_lineset *s, uint64_t hash);
void gate_text_lineset_release(struct gate_text_lineset *s);

/* Whitespace rules, named as in git's core.whitespace. */
#define GATE_WS_BLANK_AT_EOL 0x01u
#define GATE_WS_SPACE_BEFORE_TAB 0x02u
#define GATE_WS_INDENT_WITH_NON_TAB 0x04u
#define GATE_WS_TAB_IN_INDENT 0x08u
#define GATE_WS_BLANK_AT_EOF 0x10u
#define GATE_WS_CR_AT_EOL 0x20u
/* git's default: blank-at-eol, space-before-tab, blank-at-eof */
#define GATE_WS_DEFAULT (GATE_WS_BLANK_AT_EOL | GATE_WS_SPACE_BEFORE_TAB | GATE_WS_BLANK_AT_EOF)

/*
 * Parse a core.whitespace-style list ("trailing-space,-space-before-tab,
 * tab-in-indent,tabwidth=4"), starting from GATE_WS_DEFAULT like git.
 * -1 with a message on an unknown name.
 */
int gate_text_parse_ws_rules(const char *s, unsigned *rules, int *tabwidth, struct gate_buf *err);

/* Describe the whitespace errors in `errs` like git does ("trailing whitespace, space before tab in indent"). */
void gate_text_describe_ws(struct gate_buf *out, unsigned errs);

struct gate_text_hygiene {
	int conflict_markers; /* report conflict markers */
	int marker_size;      /* 7, like git's conflict-marker-size */
	unsigned ws;          /* GATE_WS_* to report; 0: none */
	int tabwidth;         /* for indent-with-non-tab, default 8 */
};

struct gate_text_issue {
	long line;
	uint64_t hash;        /* gate_text_line_hash of the line */
	unsigned ws;          /* GATE_WS_* errors of the line (never BLANK_AT_EOF) */
	char marker;          /* '<', '=', '>' or '|' for a conflict marker line, else 0 */
};

struct gate_text_issues {
	struct gate_text_issue *v;
	size_t nr, alloc;
	long lines;           /* lines in the text, counted only when blank_at_eof > 0 */
	long blank_at_eof;    /* trailing whitespace-only lines */
	int truncated;        /* more issues than `max` were found */
};

#define GATE_TEXT_ISSUES_INIT { NULL, 0, 0, 0, 0, 0 }

/*
 * Scan a text for conflict markers and whitespace errors, keeping at most
 * `max` issues (0: no limit).  A line of '=' or '|' markers counts only
 * when the text also has a '<' or '>' marker line: alone it is far more
 * often a heading underline (Markdown, reStructuredText, AsciiDoc).
 */
void gate_text_hygiene_scan(const struct gate_text_hygiene *opts, const char *data, size_t len,
			    struct gate_text_issues *out, size_t max);
void gate_text_issues_release(struct gate_text_issues *is);

#endif
