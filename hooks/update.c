/*
 * update: judge one ref.  git runs it once per ref as
 * "update <ref> <old> <new>"; a non-zero exit refuses only that ref (the
 * rest of a non-atomic push still lands).  git passes no push options here.
 * An update hook that was here before git-gate runs next, with the same
 * arguments (see chain.h).
 */
#include "config.h"

#include "chain.h"
#include "deadline.h"
#include "driver.h"
#include "util.h"

#include "banned.h"

int main(int argc, char **argv)
{
	struct gate_push push = GATE_PUSH_INIT;
	struct gate_driver_opts o = { .hook = "update", .out_fd = 2 };
	struct gate_chain ch = { .name = "update" };
	struct gate_buf err = GATE_BUF_INIT;
	int code;

	gate_driver_setup_hook();
	/* nothing may hold a push forever: the policy's hook_timeout replaces this */
	gate_deadline_start(GATE_DEADLINE_DEFAULT, "ref rejected");
	if (argc != 4 || gate_push_add(&push, argv[1], argv[2], argv[3], &err) < 0) {
		struct gate_buf msg = GATE_BUF_INIT;
		gate_buf_adds(&msg, "git-gate: update hook called wrongly: ");
		gate_buf_add_safes(&msg, argc != 4 ? "expected <ref> <old> <new>" : err.ptr);
		gate_buf_adds(&msg, "\ngit-gate: ref rejected\n");
		(void)gate_write_all(2, msg.ptr, msg.len);
		gate_buf_release(&msg);
		code = GATE_EXIT_USAGE;
		goto out;
	}
	ch.argv0 = argv[0];
	ch.args = (const char *const *)argv + 1;
	o.after = gate_chain_after_cb;
	o.after_arg = &ch;
	code = gate_driver_run(&push, &o);
out:
	gate_deadline_stop();
	gate_push_release(&push);
	gate_buf_release(&err);
	return code;
}
