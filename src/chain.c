#include "config.h"
#include "chain.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deadline.h"
#include "push.h"
#include "run-command.h"

#include "banned.h"

int gate_chain_find(struct gate_buf *out, const char *argv0, const char *name)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
	struct stat st;

	gate_buf_reset(out);
	if (slash)
		gate_buf_add(out, argv0, (size_t)(slash - argv0));
	else
		gate_buf_adds(out, "hooks"); /* git runs hooks from $GIT_DIR */
	gate_buf_addf(out, "/%s%s", name, GATE_CHAIN_SUFFIX);
	/* as git: a hook that is not an executable file is not run */
	if (stat(out->ptr, &st) < 0 || !S_ISREG(st.st_mode) || access(out->ptr, X_OK) < 0)
		return 0;
	return 1;
}

int gate_chain_run(const char *path, const char *const *args, const char *input, size_t input_len, int *status,
		   struct gate_buf *err)
{
	struct gate_strvec argv = GATE_STRVEC_INIT;
	struct gate_child c = GATE_CHILD_INIT;
	size_t i;
	int ret = -1;

	gate_strvec_push(&argv, path);
	for (i = 0; args && args[i]; i++)
		gate_strvec_push(&argv, args[i]);
	c.argv = gate_strvec_argv(&argv);
	if (input)
		c.in = -1;
	else
		c.no_stdin = 1;
	if (gate_child_start(&c, err) < 0)
		goto out;
	if (input) {
		/* a hook that does not read its stdin is fine (EPIPE: SIGPIPE is ignored) */
		(void)gate_write_all(c.in, input, input_len);
		close(c.in);
	}
	if (gate_child_finish(&c, status, err) < 0)
		goto out;
	ret = 0;
out:
	gate_strvec_clear(&argv);
	return ret;
}

int gate_chain_after(int code, const struct gate_chain *ch, struct gate_buf *what)
{
	struct gate_buf path = GATE_BUF_INIT, err = GATE_BUF_INIT, msg = GATE_BUF_INIT;
	const char *shown;
	int status = 0, r, judging = strcmp(ch->name, "post-receive") != 0;

	if (!gate_chain_find(&path, ch->argv0, ch->name))
		goto out;
	shown = strrchr(path.ptr, '/') ? strrchr(path.ptr, '/') + 1 : path.ptr;
	/*
	 * git gave the hook no time limit before git-gate came: its time does
	 * not count against hook_timeout (when that has run out already, the
	 * push is rejected anyway and the hook is not started).
	 */
	if (gate_deadline_pause() < 0) {
		gate_buf_addf(what, "%s: not run: hook_timeout had been reached", path.ptr);
		goto out;
	}
	r = gate_chain_run(path.ptr, ch->args, ch->input, ch->input_len, &status, &err);
	gate_deadline_resume();
	if (r < 0) {
		gate_buf_addf(&msg, "git-gate: cannot run the %s hook that was here before git-gate (%s): %s\n",
			      ch->name, shown, err.ptr);
		if (judging)
			gate_buf_adds(&msg, "git-gate: push rejected (git-gate fails closed); tell the repository's "
					    "admin\n");
		gate_buf_addf(what, "%s: could not be run: %s", path.ptr, err.ptr);
		if (!code && judging)
			code = GATE_EXIT_INTERNAL;
	} else {
		gate_buf_addf(what, "%s: ", path.ptr);
		gate_buf_add_status(what, status);
		if (status) {
			gate_buf_addf(&msg, "git-gate: the %s hook that was here before git-gate (%s) %s (", ch->name,
				      shown, judging ? "rejected the push" : "failed");
			gate_buf_add_status(&msg, status);
			gate_buf_adds(&msg, ")\n");
			if (!code && judging)
				code = status;
		}
	}
	if (msg.len)
		(void)gate_write_all(2, msg.ptr, msg.len);
out:
	gate_buf_release(&path);
	gate_buf_release(&err);
	gate_buf_release(&msg);
	return code;
}

int gate_chain_after_cb(int code, void *arg, struct gate_buf *what)
{
	return gate_chain_after(code, arg, what);
}

void gate_chain_input(struct gate_buf *out, const struct gate_push *push)
{
	size_t i;

	for (i = 0; i < push->nr; i++)
		gate_buf_addf(out, "%s %s %s\n", push->updates[i].old_id, push->updates[i].new_id,
			      push->updates[i].ref);
}
