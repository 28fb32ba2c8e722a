#include "config.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define MAX_DEPTH 64

struct parser {
	struct gate_json *j;
	const char *p, *end;
	int depth;
};

static void ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static long new_node(struct gate_json *j, enum gate_json_type t)
{
	struct gate_json_node *n;

	GATE_ALLOC_GROW(j->nodes, j->nr + 1, j->alloc);
	n = &j->nodes[j->nr];
	memset(n, 0, sizeof(*n));
	n->type = t;
	n->child = n->next = -1;
	return (long)j->nr++;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static void add_utf8(struct gate_buf *b, unsigned long cp)
{
	if (cp < 0x80) {
		gate_buf_addch(b, (int)cp);
	} else if (cp < 0x800) {
		gate_buf_addch(b, (int)(0xc0 | (cp >> 6)));
		gate_buf_addch(b, (int)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		gate_buf_addch(b, (int)(0xe0 | (cp >> 12)));
		gate_buf_addch(b, (int)(0x80 | ((cp >> 6) & 0x3f)));
		gate_buf_addch(b, (int)(0x80 | (cp & 0x3f)));
	} else {
		gate_buf_addch(b, (int)(0xf0 | (cp >> 18)));
		gate_buf_addch(b, (int)(0x80 | ((cp >> 12) & 0x3f)));
		gate_buf_addch(b, (int)(0x80 | ((cp >> 6) & 0x3f)));
		gate_buf_addch(b, (int)(0x80 | (cp & 0x3f)));
	}
}

/* A string literal at ps->p (the quote); its value goes to strs, NUL-terminated. */
static int string(struct parser *ps, size_t *off)
{
	struct gate_buf *b = &ps->j->strs;

	if (ps->p >= ps->end || *ps->p != '"')
		return -1;
	ps->p++;
	*off = b->len;
	while (ps->p < ps->end) {
		const char *q = ps->p;
		/* the common case: a run of plain bytes */
		while (q < ps->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
			q++;
		gate_buf_add(b, ps->p, (size_t)(q - ps->p));
		ps->p = q;
		if (q >= ps->end || (unsigned char)*q < 0x20)
			return -1;
		if (*q == '"') {
			ps->p++;
			gate_buf_addch(b, '\0');
			return 0;
		}
		/* an escape */
		if (q + 1 >= ps->end)
			return -1;
		switch (q[1]) {
		case '"': gate_buf_addch(b, '"'); break;
		case '\\': gate_buf_addch(b, '\\'); break;
		case '/': gate_buf_addch(b, '/'); break;
		case 'b': gate_buf_addch(b, '\b'); break;
		case 'f': gate_buf_addch(b, '\f'); break;
		case 'n': gate_buf_addch(b, '\n'); break;
		case 'r': gate_buf_addch(b, '\r'); break;
		case 't': gate_buf_addch(b, '\t'); break;
		case 'u': {
			unsigned hi, lo;
			unsigned long cp;
			if (ps->end - q < 6 || hex4(q + 2, &hi) < 0)
				return -1;
			cp = hi;
			if (hi >= 0xd800 && hi <= 0xdbff && ps->end - q >= 12 && q[6] == '\\' && q[7] == 'u' &&
			    hex4(q + 8, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((unsigned long)(hi - 0xd800) << 10) + (lo - 0xdc00);
				q += 6;
			} else if ((hi >= 0xd800 && hi <= 0xdfff) || hi == 0) {
				cp = 0xfffd;
			}
			add_utf8(b, cp);
			ps->p = q + 6;
			continue;
		}
		default:
			return -1;
		}
		ps->p = q + 2;
	}
	return -1;
}

static int value(struct parser *ps, long *out);

static int number(struct parser *ps, long *out)
{
	char tmp[64];
	const char *s = ps->p;
	char *endp;
	size_t n;
	long id;

	int simple = 1;
	double v = 0, scale = 0;

	/* the common case, [-]digits[.digits], without strtod */
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
		v = v * 10 + (*ps->p++ - '0');
	if (ps->p < ps->end && *ps->p == '.')
		for (ps->p++, scale = 0.1; ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9'; ps->p++, scale /= 10)
			v += (*ps->p - '0') * scale;
	while (ps->p < ps->end && strchr("+-0123456789.eE", *ps->p)) {
		simple = 0;
		ps->p++;
	}
	n = (size_t)(ps->p - s);
	if (!n || n >= sizeof(tmp) || (n == 1 && *s == '-'))
		return -1;
	id = new_node(ps->j, GATE_JSON_NUMBER);
	if (simple && (n < 16 || !memchr(s, '.', n))) {
		ps->j->nodes[id].num = *s == '-' ? -v : v;
	} else {
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		ps->j->nodes[id].num = strtod(tmp, &endp);
		if (*endp)
			return -1;
	}
	*out = id;
	return 0;
}

static int word(struct parser *ps, const char *w, enum gate_json_type t, long *out)
{
	size_t n = strlen(w);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n))
		return -1;
	ps->p += n;
	*out = new_node(ps->j, t);
	return 0;
}

/* The elements of an array or the members of an object, after the bracket. */
static int members(struct parser *ps, long parent, int object)
{
	long last = -1, id;
	size_t key = 0;

	ws(ps);
	if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
		ps->p++;
		return 0;
	}
	for (;;) {
		ws(ps);
		if (object) {
			if (string(ps, &key) < 0)
				return -1;
			ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return -1;
			ps->p++;
		}
		if (value(ps, &id) < 0)
			return -1;
		ps->j->nodes[id].key = key;
		if (last < 0)
			ps->j->nodes[parent].child = id;
		else
			ps->j->nodes[last].next = id;
		last = id;
		ws(ps);
		if (ps->p >= ps->end)
			return -1;
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p != (object ? '}' : ']'))
			return -1;
		ps->p++;
		return 0;
	}
}

static int value(struct parser *ps, long *out)
{
	long id;
	int r;

	ws(ps);
	if (ps->p >= ps->end)
		return -1;
	switch (*ps->p) {
	case '{':
	case '[': {
		int object = *ps->p == '{';
		if (++ps->depth > MAX_DEPTH)
			return -1;
		ps->p++;
		id = new_node(ps->j, object ? GATE_JSON_OBJECT : GATE_JSON_ARRAY);
		r = members(ps, id, object);
		ps->depth--;
		if (r < 0)
			return -1;
		*out = id;
		return 0;
	}
	case '"': {
		size_t off;
		if (string(ps, &off) < 0)
			return -1;
		id = new_node(ps->j, GATE_JSON_STRING);
		ps->j->nodes[id].str = off;
		*out = id;
		return 0;
	}
	case 't':
		return word(ps, "true", GATE_JSON_TRUE, out);
	case 'f':
		return word(ps, "false", GATE_JSON_FALSE, out);
	case 'n':
		return word(ps, "null", GATE_JSON_NULL, out);
	default:
		return number(ps, out);
	}
}

int gate_json_parse(struct gate_json *j, const char *text, size_t len)
{
	struct parser ps = { j, text, text + len, 0 };
	long root;

	j->nr = 0;
	gate_buf_reset(&j->strs);
	gate_buf_addch(&j->strs, '\0'); /* offset 0: the empty string */
	if (value(&ps, &root) < 0)
		return -1;
	ws(&ps);
	return ps.p == ps.end && root == 0 ? 0 : -1;
}

void gate_json_release(struct gate_json *j)
{
	free(j->nodes);
	j->nodes = NULL;
	j->nr = j->alloc = 0;
	gate_buf_release(&j->strs);
}

long gate_json_index(const struct gate_json *j, const struct gate_json_node *n)
{
	return n ? (long)(n - j->nodes) : -1;
}

const struct gate_json_node *gate_json_first(const struct gate_json *j, const struct gate_json_node *n)
{
	return n && n->child >= 0 ? &j->nodes[n->child] : NULL;
}

const struct gate_json_node *gate_json_next(const struct gate_json *j, const struct gate_json_node *n)
{
	return n && n->next >= 0 ? &j->nodes[n->next] : NULL;
}

const struct gate_json_node *gate_json_get(const struct gate_json *j, long obj, const char *name)
{
	const struct gate_json_node *n;

	if (obj < 0 || (size_t)obj >= j->nr || j->nodes[obj].type != GATE_JSON_OBJECT)
		return NULL;
	for (n = gate_json_first(j, &j->nodes[obj]); n; n = gate_json_next(j, n)) {
		const char *k = j->strs.ptr + n->key;
		if (k[0] == name[0] && !strcmp(k, name))
			return n;
	}
	return NULL;
}

const char *gate_json_str(const struct gate_json *j, const struct gate_json_node *n)
{
	return n && n->type == GATE_JSON_STRING ? j->strs.ptr + n->str : NULL;
}

const char *gate_json_key(const struct gate_json *j, const struct gate_json_node *n)
{
	return n ? j->strs.ptr + n->key : "";
}

const char *gate_json_get_str(const struct gate_json *j, const struct gate_json_node *obj, const char *name)
{
	return gate_json_str(j, gate_json_get(j, gate_json_index(j, obj), name));
}

double gate_json_get_num(const struct gate_json *j, const struct gate_json_node *obj, const char *name, double dflt)
{
	const struct gate_json_node *n = gate_json_get(j, gate_json_index(j, obj), name);

	return n && n->type == GATE_JSON_NUMBER ? n->num : dflt;
}

int gate_json_get_bool(const struct gate_json *j, const struct gate_json_node *obj, const char *name)
{
	const struct gate_json_node *n = gate_json_get(j, gate_json_index(j, obj), name);

	return n && n->type == GATE_JSON_TRUE;
}
