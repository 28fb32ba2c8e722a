/*
 * git gate queue: look at, cancel and run a repository's merge queue
 * (queue.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "diag.h"
#include "policy.h"
#include "push.h"
#include "status.h"
#include "queue.h"
#include "repo.h"
#include "util.h"

#include "banned.h"

static const char queue_usage[] =
	"usage: git gate queue [list] [--repo DIR] [--all]\n"
	"   or: git gate queue show [--repo DIR] N\n"
	"   or: git gate queue cancel [--repo DIR] N\n"
	"   or: git gate queue run [--repo DIR] [--once]\n"
	"\n"
	"The merge queue of a repository whose policy has 'queue = true' rules:\n"
	"changes pushed to refs/for/<branch> land on <branch> once they pass.\n"
	"\n"
	"    list          items not yet decided and the last 20 decided (default)\n"
	"    show N        one item, with the report of a rejection\n"
	"    cancel N      take a waiting or testing item out of the queue\n"
	"    run           run the queue in the foreground (for a service manager);\n"
	"                  the proc-receive hook otherwise starts a runner itself\n"
	"    --repo DIR    the repository (default: the current one)\n"
	"    --all         list every item\n"
	"    --once        run: exit when the queue is empty\n";

static void fmt_time(char *buf, size_t size, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t) {
		snprintf(buf, size, "-");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%SZ", &tm);
}

static void print_item(const struct gate_queue_item *it, int full)
{
	char q[32], d[32];
	const char *name = it->branch;

	gate_skip_prefix(it->branch, "refs/heads/", &name);
	fmt_time(q, sizeof(q), it->queued);
	fmt_time(d, sizeof(d), it->decided);
	if (!full) {
		printf("%5ld  %-9s  %-12s  %-12.12s  %-20s  %-20s  %.12s  %s\n", it->id,
		       gate_queue_state_name(it->state), name, it->user ? it->user : "", q, d,
		       it->landed[0] ? it->landed : "-", it->subject ? it->subject : "");
		return;
	}
	printf("item:     %ld\nstate:    %s\nbranch:   %s\nref:      %s\ntip:      %s\nuser:     %s\n"
	       "subject:  %s\nqueued:   %s\n",
	       it->id, gate_queue_state_name(it->state), it->branch, it->ref, it->tip, it->user ? it->user : "",
	       it->subject ? it->subject : "", q);
	if (it->started) {
		fmt_time(q, sizeof(q), it->started);
		printf("started:  %s\n", q);
	}
	if (it->decided)
		printf("decided:  %s\n", d);
	if (it->batch)
		printf("batch:    %s\n", it->batch);
	if (it->landed[0])
		printf("landed:   %s (%s was %s)\n", it->landed, name, it->before);
	if (it->reason)
		printf("reason:   %s\n", it->reason);
}

static int parse_id(const char *s, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1)
		return -1;
	*out = v;
	return 0;
}

static int list(const char *git_dir, int all)
{
	struct gate_queue_item **items = NULL;
	struct gate_buf err = GATE_BUF_INIT;
	size_t n = 0, i, decided = 0;

	if (gate_queue_list(&items, &n, git_dir, 1, &err) < 0) {
		fprintf(stderr, "git-gate: %s\n", err.ptr);
		gate_buf_release(&err);
		return GATE_EXIT_INTERNAL;
	}
	for (i = 0; i < n; i++)
		decided += gate_queue_state_final(items[i]->state) != 0;
	printf("%5s  %-9s  %-12s  %-12s  %-20s  %-20s  %-12s  %s\n", "ITEM", "STATE", "BRANCH", "USER", "QUEUED",
	       "DECIDED", "LANDED AS", "SUBJECT");
	for (i = 0; i < n; i++) {
		if (!all && gate_queue_state_final(items[i]->state) && decided-- > 20)
			continue;
		print_item(items[i], 0);
	}
	if (!n)
		printf("(the queue is empty)\n");
	printf("runner: %s\n", gate_queue_runner_active(git_dir) ? "active" : "not running");
	gate_queue_items_free(items, n);
	gate_buf_release(&err);
	return 0;
}

/*
 * After an admin's cancel: the audit record and the ledger line (as the
 * runner writes for its own decisions), and the status site.  Warnings
 * only: the item is cancelled whatever happens here.
 */
static void record_cancel(struct gate_repo *repo, long id)
{
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_queue_item *it = NULL;
	struct gate_buf err = GATE_BUF_INIT;

	if (gate_policy_find(&cfg, repo->git_dir, repo->default_branch, &diag) < 0)
		cfg = NULL; /* the default audit log, the ledger without a policy */
	if (gate_queue_load(&it, repo->git_dir, id, &err) < 0 ||
	    gate_queue_record(repo, cfg, it->branch, &it, 1, NULL, "cancelled", it->reason, &err) < 0 ||
	    gate_status_refresh_site(cfg, repo, &err) < 0)
		fprintf(stderr, "git-gate: warning: %s\n", gate_buf_cstr(&err));
	gate_queue_item_free(it);
	gate_config_free(cfg);
	gate_diag_release(&diag);
	gate_buf_release(&err);
}

int cmd_queue(int argc, char **argv)
{
	const char *v;
	const char *repo_path = NULL, *verb = "list";
	struct gate_repo *repo = NULL;
	struct gate_buf err = GATE_BUF_INIT;
	long id = 0;
	int i, all = 0, once = 0, ret = GATE_EXIT_USAGE, have_id = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a))
			return cli_usage(queue_usage, 0);
		if ((v = cli_option(argc, argv, &i, "--repo")))
			repo_path = v;
		else if (!strcmp(a, "--all"))
			all = 1;
		else if (!strcmp(a, "--once"))
			once = 1;
		else if (a[0] == '-')
			return cli_usage(queue_usage, 1);
		else if (i == 1 && (!strcmp(a, "list") || !strcmp(a, "show") || !strcmp(a, "cancel") ||
				    !strcmp(a, "run")))
			verb = a;
		else if (!have_id && parse_id(a, &id) == 0)
			have_id = 1;
		else
			return cli_usage(queue_usage, 1);
	}
	if ((!strcmp(verb, "show") || !strcmp(verb, "cancel")) != have_id)
		return cli_usage(queue_usage, 1);
	if (gate_repo_open(&repo, repo_path, &err) < 0) {
		fprintf(stderr, "git-gate: %s\n", err.ptr);
		goto out;
	}
	if (!strcmp(verb, "list")) {
		ret = list(repo->git_dir, all);
	} else if (!strcmp(verb, "show")) {
		struct gate_queue_item *it = NULL;
		struct gate_buf rep = GATE_BUF_INIT;
		int r = gate_queue_load(&it, repo->git_dir, id, &err);
		if (r < 0) {
			fprintf(stderr, "git-gate: %s\n", r == GATE_ENOTFOUND ? "there is no such queue item" : err.ptr);
			ret = r == GATE_ENOTFOUND ? GATE_EXIT_REJECT : GATE_EXIT_INTERNAL;
			goto out;
		}
		print_item(it, 1);
		if (gate_queue_read_report(&rep, repo->git_dir, id, &err) == 0 && rep.len)
			printf("\n%s", rep.ptr);
		gate_buf_release(&rep);
		gate_queue_item_free(it);
		ret = 0;
	} else if (!strcmp(verb, "cancel")) {
		struct gate_push who = GATE_PUSH_INIT;
		int r;
		gate_push_identify(&who);
		r = gate_queue_cancel(repo->git_dir, id, who.user, &err);
		gate_push_release(&who);
		if (r < 0) {
			fprintf(stderr, "git-gate: %s\n", err.ptr);
			ret = GATE_EXIT_REJECT;
			goto out;
		}
		record_cancel(repo, id);
		printf("git-gate: item %ld cancelled\n", id);
		ret = 0;
	} else {
		struct gate_queue_run_opts o;
		int r;
		memset(&o, 0, sizeof(o));
		o.once = once;
		o.verbose = 1;
		r = gate_queue_run(repo->git_dir, &o, &err);
		if (r < 0) {
			fprintf(stderr, "git-gate: %s\n", err.ptr);
			ret = GATE_EXIT_INTERNAL;
		} else if (r == 1) {
			fprintf(stderr, "git-gate: another runner is active for %s\n", repo->git_dir);
			ret = GATE_EXIT_REJECT;
		} else {
			ret = 0;
		}
	}
out:
	gate_repo_free(repo);
	gate_buf_release(&err);
	return ret;
}
