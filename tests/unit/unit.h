#ifndef GATE_TEST_UNIT_H
#define GATE_TEST_UNIT_H

/* What every cmocka unit test includes. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "diag.h"
#include "policy.h"
#include "scan.h"
#include "util.h"

/* Load a policy from text; fails the test with the diagnostics when invalid. */
static inline struct gate_config *unit_policy(const char *text)
{
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_buf msgs = GATE_BUF_INIT;

	if (gate_policy_load_string(&cfg, text, "test.conf", &diag) < 0) {
		gate_diag_format(&diag, &msgs);
		print_error("%s", msgs.ptr);
		fail_msg("policy did not load");
	}
	gate_diag_release(&diag);
	gate_buf_release(&msgs);
	return cfg;
}

/* Load a policy expected to be invalid; returns all diagnostics, one a line. */
static inline char *unit_policy_errors(const char *text)
{
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_buf msgs = GATE_BUF_INIT;

	assert_int_equal(gate_policy_load_string(&cfg, text, "test.conf", &diag), -1);
	assert_null(cfg);
	gate_diag_format(&diag, &msgs);
	gate_diag_release(&diag);
	return gate_buf_detach(&msgs);
}

/*
 * Policies that must not load, each with a part of the message it must
 * give: `keys` is put into `policy_fmt` (a policy text with one %s).
 */
struct unit_bad_keys {
	const char *keys, *error;
};

static inline void unit_expect_policy_errors(const char *policy_fmt, const struct unit_bad_keys *bad, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char *policy = gate_xstrfmt(policy_fmt, bad[i].keys);
		char *e = unit_policy_errors(policy);
		if (!strstr(e, bad[i].error))
			fail_msg("%s: expected \"%s\" in:\n%s", bad[i].keys, bad[i].error, e);
		free(e);
		free(policy);
	}
}

/*
 * A check from a policy and a commit to run its hooks on: check 0 of
 * `policy`, and a commit whose message is `message`.
 */
struct unit_fixture {
	struct gate_config *cfg;
	const struct gate_check_type *type;
	struct gate_commit commit;
	struct gate_check_run run;
	struct gate_buf err;
};

/* The fixture for a whole raw commit object (`raw`: headers, blank line, message). */
static inline void unit_fixture_init_raw(struct unit_fixture *f, const char *policy, const char *raw)
{
	memset(f, 0, sizeof(*f));
	f->cfg = unit_policy(policy);
	f->type = f->cfg->checks[0].type;
	assert_int_equal(gate_commit_parse(&f->commit, "0123456789abcdef0123456789abcdef01234567", raw, strlen(raw),
					   &f->err),
			 0);
	f->run.def = &f->cfg->checks[0];
	f->run.data = f->cfg->checks[0].data;
	f->run.pusher = "tester";
	f->run.err = &f->err;
}

static inline void unit_fixture_init(struct unit_fixture *f, const char *policy, const char *message)
{
	struct gate_buf raw = GATE_BUF_INIT;

	gate_buf_addf(&raw,
		      "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
		      "author A U Thor <author@example.com> 1700000000 +0000\n"
		      "committer C O Mitter <committer@example.com> 1700000000 +0000\n"
		      "\n%s",
		      message);
	unit_fixture_init_raw(f, policy, raw.ptr);
	gate_buf_release(&raw);
}

static inline void unit_fixture_release(struct unit_fixture *f)
{
	gate_commit_release(&f->commit);
	gate_config_free(f->cfg);
	gate_buf_release(&f->err);
}

/*
 * Judge one blob (`size` bytes, content `data` of `len` bytes or NULL) at
 * `path` with check 0 of `policy`, as the scan engine does: blob_scan with
 * the content, then blob_report without it.
 */
static inline struct gate_findings unit_judge_blob(const char *policy, const char *path, uint64_t size,
						   const char *data, size_t len)
{
	struct unit_fixture f;
	struct gate_findings out = GATE_FINDINGS_INIT;
	struct gate_blob b;
	struct gate_occurrence occ;
	void *result = NULL;

	unit_fixture_init(&f, policy, "Add a file\n");
	memset(&b, 0, sizeof(b));
	memcpy(b.id, "89abcdef0123456789abcdef0123456789abcdef", 41);
	b.size = size;
	b.data = data;
	b.len = data ? len : 0;
	b.binary = data && memchr(data, '\0', len < 8000 ? len : 8000) != NULL;
	assert_int_equal(f.type->blob_scan(&f.run, &b, &result), 0);
	b.data = NULL; /* the content is gone when reports are made */
	memset(&occ, 0, sizeof(occ));
	occ.path = path;
	occ.commit = &f.commit;
	occ.mode = 0100644;
	assert_int_equal(f.type->blob_report(&f.run, &b, result, &occ, &out), 0);
	if (f.type->blob_result_free)
		f.type->blob_result_free(result);
	unit_fixture_release(&f);
	return out;
}

#endif
