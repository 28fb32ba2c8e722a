#include "unit.h"

#include <unistd.h>

#include "deadline.h"
#include "run-command.h"

/*
 * The deadline is one per process, so this is one test that walks it
 * through its life: paused time does not count, expiry kills the
 * children it tracks, and a pause after expiry is refused.  The whole
 * test takes about 3 seconds (the budget is 1 s).
 */
static void test_deadline__pauses_then_kills_tracked_children_on_expiry(void **state)
{
	static const char *const argv[] = { "sleep", "30", NULL };
	struct gate_child c = GATE_CHILD_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	double t0;
	int status = 0, i;

	(void)state;
	/* nothing happens before start (the CLI never starts it) */
	gate_deadline_set(5);
	assert_int_equal(gate_deadline_seconds(), 0);
	assert_int_equal(gate_deadline_pause(), 0);
	gate_deadline_resume();

	assert_int_equal(gate_deadline_start(1, "test"), 0);
	assert_int_equal(gate_deadline_seconds(), 1);
	/* a command check runs: 1.5 s that do not count */
	assert_int_equal(gate_deadline_pause(), 0);
	assert_int_equal(gate_deadline_pause(), 0); /* nested: two checks at once */
	usleep(1500 * 1000);
	gate_deadline_resume();
	assert_false(gate_deadline_expired());
	gate_deadline_resume();
	assert_false(gate_deadline_expired());

	/* a git child that hangs is killed when the budget is used up */
	c.argv = argv;
	c.no_stdin = 1;
	t0 = gate_now();
	assert_int_equal(gate_child_start(&c, &err), 0);
	assert_int_equal(gate_child_finish(&c, &status, &err), 0);
	assert_int_equal(status, 128 + 9);
	assert_true(gate_now() - t0 < 10);
	for (i = 0; i < 100 && !gate_deadline_expired(); i++)
		usleep(10 * 1000);
	assert_true(gate_deadline_expired());
	/* nothing new may start now */
	assert_int_equal(gate_deadline_pause(), -1);
	/* stopped before the grace period ends, it does not end the process */
	gate_deadline_stop();
	gate_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline__pauses_then_kills_tracked_children_on_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
