/*
 * post-receive: git runs it after the refs have moved, with the
 * "<old> <new> <ref>" lines of the updates that really happened.  It
 * records them in the ledger (refs/notes/gate) and refreshes the status
 * site.  Its exit status changes nothing: the push has happened.
 */
#include "config.h"

#include "driver.h"
#include "ledger.h"
#include "policy.h"
#include "repo.h"
#include "status.h"
#include "util.h"

#include "banned.h"

static void warn(const char *what, const struct gate_buf *err)
{
	struct gate_buf msg = GATE_BUF_INIT;

	gate_buf_addf(&msg, "git-gate: warning for the server's admin: %s: %s\n", what, gate_buf_cstr(err));
	(void)gate_write_all(2, msg.ptr, msg.len);
	gate_buf_release(&msg);
}

int main(int argc, char **argv)
{
	struct gate_push push = GATE_PUSH_INIT;
	struct gate_buf in = GATE_BUF_INIT, err = GATE_BUF_INIT;
	struct gate_repo *repo = NULL;
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	size_t written;

	(void)argc;
	(void)argv;
	gate_driver_setup();
	if (gate_read_fd(&in, 0) < 0 || gate_push_parse_pre_receive(&push, in.ptr ? in.ptr : "", in.len, &err) < 0) {
		warn("cannot read the ref updates", &err);
		goto out;
	}
	gate_push_identify(&push);
	if (gate_repo_open(&repo, NULL, &err) < 0) {
		warn("cannot open the repository", &err);
		goto out;
	}
	if (gate_ledger_record(repo->git_dir, &push, &written, &err) < 0)
		warn("the ledger (" GATE_LEDGER_REF ") was not written", &err);
	gate_buf_reset(&err);
	if (gate_policy_find(&cfg, repo->git_dir, repo->default_branch, &diag) == 0 &&
	    gate_status_refresh_site(cfg, repo, &err) < 0)
		warn("the status site was not refreshed", &err);
out:
	gate_config_free(cfg);
	gate_diag_release(&diag);
	gate_repo_free(repo);
	gate_push_release(&push);
	gate_buf_release(&in);
	gate_buf_release(&err);
	return 0;
}
