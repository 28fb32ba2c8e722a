#include "config.h"
#include "diag.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

void gate_diag_addf(struct gate_diag *d, const char *file, int line, const char *fmt, ...)
{
	struct gate_buf b = GATE_BUF_INIT;
	va_list ap;

	if (file && line > 0)
		gate_buf_addf(&b, "%s:%d: ", file, line);
	else if (file)
		gate_buf_addf(&b, "%s: ", file);
	va_start(ap, fmt);
	gate_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	gate_strvec_push(&d->msgs, b.ptr);
	gate_buf_release(&b);
}

void gate_diag_release(struct gate_diag *d)
{
	gate_strvec_clear(&d->msgs);
}

void gate_diag_format(const struct gate_diag *d, struct gate_buf *out)
{
	size_t i;

	/* messages quote policy text, which may have been pushed (the policy ref) */
	for (i = 0; i < d->msgs.nr; i++) {
		gate_buf_add_safes(out, d->msgs.v[i]);
		gate_buf_addch(out, '\n');
	}
}

struct diag_key {
	size_t file_len;  /* the "FILE" of "FILE:LINE: ", 0: none */
	long line;
	size_t file_rank; /* order of the file's first appearance */
	size_t index;     /* original position, for a stable order */
	char *msg;
};

/* Split "FILE:LINE: message" (or "FILE: message"). */
static void parse_place(struct diag_key *k)
{
	const char *m = k->msg, *p;

	for (p = m; (p = strchr(p, ':')) != NULL; p++) {
		const char *q = p + 1;
		long line = 0;
		while (*q >= '0' && *q <= '9' && line < 100000000)
			line = line * 10 + (*q++ - '0');
		if (q > p + 1 && *q == ':') {
			k->file_len = (size_t)(p - m);
			k->line = line;
			return;
		}
	}
	p = strstr(m, ": ");
	k->file_len = p ? (size_t)(p - m) : 0;
	k->line = 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct diag_key *x = a, *y = b;

	if (x->file_rank != y->file_rank)
		return x->file_rank < y->file_rank ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

void gate_diag_sort(struct gate_diag *d)
{
	struct diag_key *k;
	size_t i, j;

	if (d->msgs.nr < 2)
		return;
	k = gate_xcalloc(d->msgs.nr, sizeof(*k));
	for (i = 0; i < d->msgs.nr; i++) {
		k[i].msg = d->msgs.v[i];
		k[i].index = i;
		parse_place(&k[i]);
		k[i].file_rank = i;
		for (j = 0; j < i; j++)
			if (k[j].file_len == k[i].file_len && !strncmp(k[j].msg, k[i].msg, k[i].file_len)) {
				k[i].file_rank = k[j].file_rank;
				break;
			}
	}
	qsort(k, d->msgs.nr, sizeof(*k), key_cmp);
	for (i = 0; i < d->msgs.nr; i++)
		d->msgs.v[i] = k[i].msg;
	free(k);
}
