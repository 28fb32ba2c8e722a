/*
 * Fuzz the report neutraliser (gate_buf_add_safe in src/report.c) and the
 * report built around it (gate_report_format).  Input: see fuzz-verdict.h;
 * the whole input is also neutralised on its own.  Invariants: what
 * reaches the pusher's terminal is valid UTF-8 with no control character
 * (C0, DEL, C1) and no bidirectional control; a neutralised string holds
 * no line break and leaves text that needed no change as it was; every
 * report line starts with the prefix and ends with a newline, so that
 * pushed text can neither forge a line nor drive the terminal.
 */
#include "fuzz-verdict.h"

#include "report.h"

#include "banned.h"

static void check_neutraliser(const char *s, size_t len)
{
	struct gate_buf out = GATE_BUF_INIT;
	size_t i = 0, n;
	int plain = 1;

	gate_buf_add_safe(&out, s, len);
	fuzz_assert_safe_text(out.ptr ? out.ptr : "", out.len, NULL);
	/* text that is already safe passes unchanged */
	while (i < len && plain) {
		long cp = fuzz_utf8((const unsigned char *)s + i, len - i, &n);
		if (cp < 0 || fuzz_is_dangerous(cp))
			plain = 0;
		else
			i += n;
	}
	if (plain)
		FUZZ_ASSERT(out.len == len && (!len || !memcmp(out.ptr, s, len)));
	else
		FUZZ_ASSERT(out.len > 0);
	gate_buf_release(&out);
}

static void check_report(const struct fuzz_verdict *fv, int verbose)
{
	static const char prefix[] = "git-gate: ";
	struct gate_report_opts o;
	struct gate_buf out = GATE_BUF_INIT;
	const char *p, *end;

	memset(&o, 0, sizeof(o));
	o.prefix = prefix;
	o.policy = "fuzz.conf";
	o.max_findings = 2;
	o.verbose = verbose;
	o.hook = "pre-receive";
	gate_report_format(&out, &fv->v, &o);
	fuzz_assert_safe_text(gate_buf_cstr(&out), out.len, "\n");
	FUZZ_ASSERT(!out.len || out.ptr[out.len - 1] == '\n');
	for (p = gate_buf_cstr(&out), end = p + out.len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		FUZZ_ASSERT(nl && !strncmp(p, prefix, sizeof(prefix) - 1));
		p = nl + 1;
	}
	gate_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_verdict fv;

	check_neutraliser((const char *)data, size);
	fuzz_verdict_init(&fv, data, size);
	check_neutraliser(fv.ref, strlen(fv.ref));
	check_report(&fv, 0);
	check_report(&fv, 1);
	fuzz_verdict_release(&fv);
	return 0;
}
