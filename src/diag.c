#include "config.h"
#include "diag.h"

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
