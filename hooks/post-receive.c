/*
 * post-receive: record what really happened.  git runs it after the ref
 * updates with "<old> <new> <ref>" lines for the refs that moved (only
 * those) and the push options.  Its exit status changes nothing: the push
 * has happened; failures are told to the pusher as warnings for the admin.
 * A post-receive hook that was here before git-gate runs next, with the
 * same stdin (see chain.h).
 */
#include "config.h"

#include "chain.h"
#include "deadline.h"
#include "driver.h"
#include "post-receive.h"
#include "util.h"

#include "banned.h"

int main(int argc, char **argv)
{
	struct gate_push push = GATE_PUSH_INIT;
	struct gate_post_receive_opts o = { "post-receive", NULL, 2 };
	struct gate_chain ch = { .name = "post-receive" };
	struct gate_buf err = GATE_BUF_INIT, in = GATE_BUF_INIT, what = GATE_BUF_INIT;
	int code;

	(void)argc;
	gate_driver_setup_hook();
	/* nothing may hold a push forever: the policy's hook_timeout replaces this */
	gate_deadline_start(GATE_DEADLINE_DEFAULT, "the push has happened but is not fully recorded");
	if (gate_driver_read_updates(&push, &err) < 0) {
		struct gate_buf msg = GATE_BUF_INIT;
		gate_buf_addf(&msg, "git-gate: warning for the server's admin: post-receive cannot read the ref "
				    "updates, so they are not recorded: %s\n",
			      err.ptr);
		(void)gate_write_all(2, msg.ptr, msg.len);
		gate_buf_release(&msg);
		code = GATE_EXIT_INTERNAL;
		goto out;
	}
	gate_push_identify(&push);
	gate_chain_input(&in, &push);
	code = gate_post_receive_run(&push, &o);
	ch.argv0 = argv[0];
	ch.args = (const char *const *)argv + 1;
	ch.input = gate_buf_cstr(&in);
	ch.input_len = in.len;
	code = gate_chain_after(code, &ch, &what);
out:
	gate_deadline_stop();
	gate_push_release(&push);
	gate_buf_release(&err);
	gate_buf_release(&in);
	gate_buf_release(&what);
	return code;
}
