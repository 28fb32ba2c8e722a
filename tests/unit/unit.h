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

#include "diag.h"
#include "policy.h"
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

#endif
