#ifndef GATE_JSON_H
#define GATE_JSON_H

/*
 * A small JSON reader (RFC 8259) for git-gate's own files: the audit log's
 * records and the ledger's notes.  One document at a time is parsed into
 * a flat array of nodes that is reused for the next one, so reading a log
 * of 100,000 records costs no allocation per record.
 *
 *   struct gate_json j = GATE_JSON_INIT;
 *   if (gate_json_parse(&j, line, len) == 0) {
 *       const struct gate_json_node *v = gate_json_get(&j, 0, "verdict");
 *       const char *s = gate_json_str(&j, v);     NULL unless a string
 *   }
 *   gate_json_release(&j);
 *
 * Nodes are referred to by index (0 is the root); string values are
 * unescaped into the reader's own buffer and stay valid until the next
 * parse.  \u0000 becomes U+FFFD so that every string is a C string.
 */

#include <stddef.h>

#include "util.h"

enum gate_json_type {
	GATE_JSON_NULL,
	GATE_JSON_FALSE,
	GATE_JSON_TRUE,
	GATE_JSON_NUMBER,
	GATE_JSON_STRING,
	GATE_JSON_ARRAY,
	GATE_JSON_OBJECT,
};

struct gate_json_node {
	enum gate_json_type type;
	size_t key;      /* offset of the member name in strs (object members) */
	size_t str;      /* offset of a string's value in strs */
	double num;
	long child;      /* first element or member, -1 when empty */
	long next;       /* next sibling, -1 at the end */
};

struct gate_json {
	struct gate_json_node *nodes;
	size_t nr, alloc;
	struct gate_buf strs;
};

#define GATE_JSON_INIT { NULL, 0, 0, GATE_BUF_INIT }

/* Parse one document (surrounding white space allowed); -1 when malformed. */
int gate_json_parse(struct gate_json *j, const char *text, size_t len);
void gate_json_release(struct gate_json *j);

/* Member `name` of the object at index `obj`, or NULL. */
const struct gate_json_node *gate_json_get(const struct gate_json *j, long obj, const char *name);
/* Index of a node (for gate_json_get and iteration). */
long gate_json_index(const struct gate_json *j, const struct gate_json_node *n);
/* First child and next sibling, or NULL. */
const struct gate_json_node *gate_json_first(const struct gate_json *j, const struct gate_json_node *n);
const struct gate_json_node *gate_json_next(const struct gate_json *j, const struct gate_json_node *n);
/* A string value, or NULL for anything else (and for NULL). */
const char *gate_json_str(const struct gate_json *j, const struct gate_json_node *n);
/* A member's name. */
const char *gate_json_key(const struct gate_json *j, const struct gate_json_node *n);
/* Shortcuts: member `name` of `obj` as a string / number / truth value. */
const char *gate_json_get_str(const struct gate_json *j, const struct gate_json_node *obj, const char *name);
double gate_json_get_num(const struct gate_json *j, const struct gate_json_node *obj, const char *name, double dflt);
int gate_json_get_bool(const struct gate_json *j, const struct gate_json_node *obj, const char *name);

#endif
