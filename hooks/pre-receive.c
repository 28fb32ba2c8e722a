/*
 * pre-receive: judge the whole push.  git writes "<old> <new> <ref>" lines
 * on stdin; exit 0 accepts every update, anything else rejects them all.
 * A pre-receive hook that was here before git-gate runs next, with the
 * same stdin (see chain.h).
 */
#include "config.h"

#include <unistd.h>

#include "chain.h"
#include "deadline.h"
#include "driver.h"
#include "util.h"

#include "banned.h"

int main(int argc, char **argv)
{
	struct gate_push push = GATE_PUSH_INIT;
	struct gate_driver_opts o = { .hook = "pre-receive", .out_fd = 2 };
	struct gate_chain ch = { .name = "pre-receive" };
	struct gate_buf err = GATE_BUF_INIT, in = GATE_BUF_INIT;
	int code;

	(void)argc;
	gate_driver_setup_hook();
	/* nothing may hold a push forever: the policy's hook_timeout replaces this */
	gate_deadline_start(GATE_DEADLINE_DEFAULT, "push rejected");
	if (gate_driver_read_updates(&push, &err) < 0) {
		struct gate_buf msg = GATE_BUF_INIT;
		/* the error may quote a malformed ref name as pushed */
		gate_buf_adds(&msg, "git-gate: cannot read the ref updates: ");
		gate_buf_add_safes(&msg, err.len ? err.ptr : "read error");
		gate_buf_adds(&msg, "\ngit-gate: push rejected\n");
		(void)gate_write_all(2, msg.ptr, msg.len);
		gate_buf_release(&msg);
		code = GATE_EXIT_INTERNAL;
		goto out;
	}
	/* what git wrote on our stdin, for the chained hook */
	gate_chain_input(&in, &push);
	ch.argv0 = argv[0];
	ch.args = (const char *const *)argv + 1;
	ch.input = gate_buf_cstr(&in);
	ch.input_len = in.len;
	o.after = gate_chain_after_cb;
	o.after_arg = &ch;
	code = gate_driver_run(&push, &o);
out:
	gate_deadline_stop();
	gate_push_release(&push);
	gate_buf_release(&err);
	gate_buf_release(&in);
	return code;
}
