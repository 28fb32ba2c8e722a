/*
 * Fuzz the audit log's JSON writer (src/audit.c): gate_json_add_string on
 * the raw input, and whole records (gate_audit_format: a decision judged
 * or not, and post-receive's record of what moved) of a verdict made of
 * hostile strings (see fuzz-verdict.h).  Invariants: a string is one
 * valid JSON string, a record is one valid JSON object on exactly one
 * line; both are valid UTF-8 and hold no control character (C0, DEL, C1),
 * no bidirectional control and no U+2028/U+2029, even unescaped, so that
 * a log viewer shows the record as it is.  The JSON validator is a strict
 * one of its own (fuzz.h), checked against known cases on the first run.
 */
#include "fuzz-verdict.h"

#include "audit.h"

#include "banned.h"

static void self_test(void)
{
	static const char *const good[] = { "{}", "[]", "\"\"", "0", "-0.5e+3", "[1,\"a\\u00e9\\ud83d\\ude00\",null]",
					    "{\"a\":{\"b\":[true,false]}}", " \"\\/\" " };
	static const char *const bad[] = { "", "{", "[1,]", "{\"a\"}", "01", "1.", "\"\\x41\"", "\"\t\"", "\"\\ud800\"",
					   "\"\\udc00\"", "nul", "{} {}", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "{a:1}" };
	static int done;
	size_t i;

	if (done)
		return;
	done = 1;
	for (i = 0; i < GATE_ARRAY_SIZE(good); i++)
		FUZZ_ASSERT(fuzz_json_valid(good[i], strlen(good[i])));
	for (i = 0; i < GATE_ARRAY_SIZE(bad); i++)
		FUZZ_ASSERT(!fuzz_json_valid(bad[i], strlen(bad[i])));
}

/* No raw line or paragraph separator either: some viewers break lines there. */
static void assert_no_separators(const char *s, size_t len)
{
	FUZZ_ASSERT(!memmem(s, len, "\xe2\x80\xa8", 3) && !memmem(s, len, "\xe2\x80\xa9", 3));
}

static void check_string(const char *s, size_t len)
{
	struct gate_buf out = GATE_BUF_INIT;

	gate_json_add_string(&out, s, len);
	FUZZ_ASSERT(out.len >= 2 && out.ptr[0] == '"' && fuzz_json_valid(out.ptr, out.len));
	fuzz_assert_safe_text(out.ptr, out.len, NULL);
	assert_no_separators(out.ptr, out.len);
	gate_buf_release(&out);
}

static void check_record(const struct fuzz_verdict *fv, int judged, enum gate_audit_kind kind)
{
	struct gate_audit_event e = GATE_AUDIT_EVENT_INIT;
	struct gate_buf out = GATE_BUF_INIT;

	e.kind = kind;
	if (fv->flags & 0x04)
		e.chained = "hooks/pre-receive.chained: exit 1";

	e.cfg = judged ? fuzz_verdict_policy() : NULL;
	e.git_dir = fv->flags & 0x01 ? fv->git_dir : NULL;
	e.push = &fv->push;
	e.v = judged ? &fv->v : NULL;
	e.hook = kind == GATE_AUDIT_UPDATED ? "post-receive" : "pre-receive";
	e.exit_code = judged ? (fv->v.outcome == GATE_OUTCOME_REJECT) : 1;
	e.error = judged ? NULL : fv->error;
	e.when.tv_sec = 1700000000;
	e.when.tv_nsec = 123456789;
	gate_audit_format(&out, &e);
	FUZZ_ASSERT(out.len >= 2 && out.ptr[out.len - 1] == '\n');
	FUZZ_ASSERT(memchr(out.ptr, '\n', out.len) == out.ptr + out.len - 1);
	FUZZ_ASSERT(out.ptr[0] == '{' && fuzz_json_valid(out.ptr, out.len - 1));
	fuzz_assert_safe_text(out.ptr, out.len - 1, NULL);
	assert_no_separators(out.ptr, out.len);
	gate_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_verdict fv;

	self_test();
	check_string((const char *)data, size);
	fuzz_verdict_init(&fv, data, size);
	if (*fv.client)
		setenv("SSH_CONNECTION", fv.client, 1);
	else
		unsetenv("SSH_CONNECTION");
	check_record(&fv, 1, GATE_AUDIT_DECISION);
	check_record(&fv, 0, GATE_AUDIT_DECISION);
	check_record(&fv, 0, GATE_AUDIT_UPDATED);
	fuzz_verdict_release(&fv);
	return 0;
}
