/*
 * pre-receive: judge the whole push.  git writes "<old> <new> <ref>" lines
 * on stdin; exit 0 accepts every update, anything else rejects them all.
 * A pre-receive hook that was here before git-gate runs next, with the
 * same stdin (see chain.h).
 */
#include "config.h"

#include <unistd.h>

#include "chain.h"
#include "driver.h"
#include "util.h"

#include "banned.h"

int main(int argc, char **argv)
{
	struct gate_push push = GATE_PUSH_INIT;
	struct gate_driver_opts o = { .hook = "pre-receive", .out_fd = 2 };
	struct gate_chain ch;
	struct gate_buf in = GATE_BUF_INIT, err = GATE_BUF_INIT;
	int code;

	(void)argc;
	gate_driver_setup();
	if (gate_read_fd(&in, 0) < 0 || gate_push_parse_pre_receive(&push, in.ptr ? in.ptr : "", in.len, &err) < 0) {
		struct gate_buf msg = GATE_BUF_INIT;
		gate_buf_addf(&msg, "git-gate: cannot read the ref updates: %s\ngit-gate: push rejected\n",
			      err.len ? err.ptr : "read error");
		(void)gate_write_all(2, msg.ptr, msg.len);
		gate_buf_release(&msg);
		code = GATE_EXIT_INTERNAL;
		goto out;
	}
	gate_push_read_options(&push);
	ch.argv0 = argv[0];
	ch.name = "pre-receive";
	ch.args = (const char *const *)argv + 1;
	ch.input = in.ptr ? in.ptr : "";
	ch.input_len = in.len;
	o.after = gate_chain_after_cb;
	o.after_arg = &ch;
	code = gate_driver_run(&push, &o);
out:
	gate_push_release(&push);
	gate_buf_release(&in);
	gate_buf_release(&err);
	return code;
}
