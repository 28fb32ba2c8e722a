/*
 * proc-receive: the merge queue's door (queue.h).  git hands it the pushes
 * to refs/for/<branch> (receive.procReceiveRefs) after pre-receive judged
 * them and after their objects left quarantine.  Each becomes a queue
 * item; a runner is started when none is active.  Without -o gate.wait
 * the push returns at once; with it, the hook stays with the pusher,
 * printing progress, until the item is decided, and reports the branch's
 * new value (git shows the branch as updated) or the rejection.
 *
 * Protocol (githooks(5), git's builtin/receive-pack.c), all pkt-line:
 *   in:  version=1\0FEATURES, flush; "<old> <new> <ref>"..., flush;
 *        push options..., flush (only when both sides named push-options)
 *   out: version=1\0push-options, flush; per command "ok <ref>" with
 *        "option refname/old-oid/new-oid", or "ng <ref> <reason>"; flush
 *
 * Run as "proc-receive --run-queue GIT_DIR" it is the detached runner.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "policy.h"
#include "push.h"
#include "queue.h"
#include "repo.h"
#include "report.h"
#include "status.h"
#include "util.h"

#include "banned.h"

#define PREFIX "git-gate: "
#define MAX_PKT 65516
#define POLL_US 100000   /* how often a waiting push looks at its items */
#define PROGRESS_EVERY 30 /* seconds between "still testing" lines */

struct command {
	char old_id[41], new_id[41];
	char *ref;
	struct gate_queue_item *item; /* queued */
	char *error;                  /* ng reason */
	int client_gone;
};

/* ---- pkt-line ------------------------------------------------------------- */

static int read_full(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* One packet into `out` (trailing LF removed): 1, 0 on flush, -1 on error. */
static int pkt_read(struct gate_buf *out, size_t *len)
{
	char hdr[5], *end;
	long n;

	gate_buf_reset(out);
	if (read_full(0, hdr, 4) < 0)
		return -1;
	hdr[4] = '\0';
	n = strtol(hdr, &end, 16);
	if (*end || n < 0 || n == 1 || n == 2 || n == 3 || n > MAX_PKT + 4)
		return -1;
	if (n == 0)
		return 0;
	gate_buf_grow(out, (size_t)n);
	if (read_full(0, out->ptr, (size_t)n - 4) < 0)
		return -1;
	out->len = (size_t)n - 4;
	out->ptr[out->len] = '\0';
	if (out->len && out->ptr[out->len - 1] == '\n')
		out->ptr[--out->len] = '\0';
	*len = out->len;
	return 1;
}

static void pkt_add(struct gate_buf *b, const char *data, size_t len)
{
	if (len > MAX_PKT - 1)
		len = MAX_PKT - 1;
	gate_buf_addf(b, "%04zx", len + 5);
	gate_buf_add(b, data, len);
	gate_buf_addch(b, '\n');
}

static void pkt_addf(struct gate_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pkt_addf(struct gate_buf *b, const char *fmt, ...)
{
	struct gate_buf t = GATE_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	gate_buf_vaddf(&t, fmt, ap);
	va_end(ap);
	pkt_add(b, t.ptr, t.len);
	gate_buf_release(&t);
}

/* ---- talking to the pusher ----------------------------------------------------- */

static int say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int say(const char *fmt, ...)
{
	struct gate_buf b = GATE_BUF_INIT;
	va_list ap;
	int r;

	gate_buf_adds(&b, PREFIX);
	va_start(ap, fmt);
	gate_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	gate_buf_addch(&b, '\n');
	r = gate_write_all(2, b.ptr, b.len);
	gate_buf_release(&b);
	return r;
}

static const char *short_branch(const char *branch)
{
	const char *name = branch;

	gate_skip_prefix(branch, "refs/heads/", &name);
	return name;
}

/* ---- queuing ----------------------------------------------------------------- */

static void refuse(struct command *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(struct command *c, const char *fmt, ...)
{
	struct gate_buf b = GATE_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	gate_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	free(c->error);
	c->error = gate_buf_detach(&b);
}

/* An undecided item of `branch` with the same tip: the push waits on it. */
static struct gate_queue_item *already_queued(const char *git_dir, const char *branch, const char *tip)
{
	struct gate_queue_item **items = NULL, *found = NULL;
	struct gate_buf err = GATE_BUF_INIT;
	size_t n = 0, i;

	if (gate_queue_list(&items, &n, git_dir, 0, &err) == 0)
		for (i = n; i-- > 0;)
			if (!gate_queue_state_final(items[i]->state) && !strcmp(items[i]->branch, branch) &&
			    !strcmp(items[i]->tip, tip)) {
				found = items[i];
				items[i] = NULL;
				break;
			}
	gate_queue_items_free(items, n);
	gate_buf_release(&err);
	return found;
}

/* Queue the change of `c`, or only see whether it could be (dry). */
static void queue_one(struct command *c, struct gate_repo *repo, const struct gate_config *cfg, const char *user,
		      int dry)
{
	char *branch = gate_queue_branch_of(c->ref);
	const struct gate_rule *rule = branch ? gate_config_rule_for(cfg, branch) : NULL;
	struct gate_buf err = GATE_BUF_INIT;
	char peeled[41], cur[41];
	git_oid oid;
	int r;

	if (!branch || !gate_ref_name_valid(branch)) {
		refuse(c, "not a branch to queue for (push to refs/for/<branch>)");
		goto out;
	}
	if (!rule || !rule->queue || rule->mode == GATE_MODE_OFF) {
		refuse(c, "%s has no merge queue (its rule in the policy has no 'queue = true')", branch);
		goto out;
	}
	if (gate_is_zero_oid(c->new_id)) {
		refuse(c, "a queued change cannot be deleted by a push; an admin can cancel it (git gate queue cancel N)");
		goto out;
	}
	r = gate_repo_peel_commit(repo, c->new_id, peeled, &err);
	if (r < 0 || strcmp(peeled, c->new_id)) {
		refuse(c, "only a commit can be queued");
		goto out;
	}
	if (git_reference_name_to_id(&oid, repo->git, branch) < 0) {
		git_error_clear();
		refuse(c, "%s does not exist yet: create it with a direct push first", branch);
		goto out;
	}
	git_oid_tostr(cur, sizeof(cur), &oid);
	{
		int anc = 0;
		if (gate_repo_is_ancestor(repo, c->new_id, cur, &anc, &err) == 0 && anc) {
			refuse(c, "nothing to queue: %.12s is already on %s", c->new_id, short_branch(branch));
			goto out;
		}
	}
	if (dry)
		goto out;
	c->item = already_queued(repo->git_dir, branch, c->new_id);
	if (c->item) {
		say("%.12s is already queued for %s as item %ld (%s); following it", c->new_id, short_branch(branch),
		    c->item->id, gate_queue_state_name(c->item->state));
		goto out;
	}
	if (gate_queue_add(&c->item, repo, branch, c->new_id, user, &err) < 0) {
		refuse(c, "cannot queue it: %s", gate_buf_cstr(&err));
		goto out;
	}
out:
	free(branch);
	gate_buf_release(&err);
}

static size_t position_of(const char *git_dir, const struct gate_queue_item *it)
{
	struct gate_queue_item **items = NULL;
	struct gate_buf err = GATE_BUF_INIT;
	size_t n = 0, pos;

	if (gate_queue_list(&items, &n, git_dir, 0, &err) < 0)
		n = 0;
	pos = gate_queue_position(items, n, it);
	gate_queue_items_free(items, n);
	gate_buf_release(&err);
	return pos;
}

/* ---- waiting ------------------------------------------------------------------ */

static int all_decided(struct command *cmds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cmds[i].item && !cmds[i].client_gone && !gate_queue_state_final(cmds[i].item->state))
			return 0;
	return 1;
}

static void print_decision(const char *git_dir, struct command *c)
{
	struct gate_queue_item *it = c->item;
	struct gate_buf rep = GATE_BUF_INIT, err = GATE_BUF_INIT;

	switch (it->state) {
	case GATE_QUEUE_LANDED:
		say("item %ld landed: %s is now %.12s (was %.12s)", it->id, short_branch(it->branch), it->landed,
		    it->before);
		break;
	case GATE_QUEUE_REJECTED:
		if (gate_queue_read_report(&rep, git_dir, it->id, &err) == 0 && rep.len)
			(void)gate_write_all(2, rep.ptr, rep.len);
		say("item %ld rejected: %s", it->id, it->reason ? it->reason : "");
		break;
	case GATE_QUEUE_CANCELLED:
		say("item %ld %s", it->id, it->reason ? it->reason : "cancelled");
		break;
	default:
		break;
	}
	gate_buf_release(&rep);
	gate_buf_release(&err);
}

static void wait_for(const char *git_dir, struct command *cmds, size_t n, const char *const *runner_argv)
{
	double start = gate_now(), last_check = 0, last_progress = start;
	size_t i;

	while (!all_decided(cmds, n)) {
		double now;

		usleep(POLL_US);
		now = gate_now();
		for (i = 0; i < n; i++) {
			struct command *c = &cmds[i];
			struct gate_queue_item *fresh = NULL;
			struct gate_buf err = GATE_BUF_INIT;
			int r = 0;

			if (!c->item || c->client_gone || gate_queue_state_final(c->item->state))
				continue;
			if (gate_queue_load(&fresh, git_dir, c->item->id, &err) < 0) {
				gate_buf_release(&err);
				continue;
			}
			gate_buf_release(&err);
			if (fresh->state != c->item->state) {
				if (fresh->state == GATE_QUEUE_TESTING)
					r = say("item %ld: testing (with item%s %s)", fresh->id,
						fresh->batch && strchr(fresh->batch, ' ') ? "s" : "",
						fresh->batch ? fresh->batch : "");
				else if (gate_queue_state_final(fresh->state)) {
					/* the runner records a decision (audit log, ledger) before it lets
					 * go of the queue lock: once we hold it, the records are there */
					gate_queue_settle(git_dir);
					gate_queue_item_free(c->item);
					c->item = fresh;
					fresh = NULL;
					print_decision(git_dir, c);
				} else {
					r = say("item %ld: %s", fresh->id, gate_queue_state_name(fresh->state));
				}
			} else if (now - last_progress >= PROGRESS_EVERY) {
				r = say("item %ld: still %s (%.0f s)", fresh->id, gate_queue_state_name(fresh->state),
					now - start);
			}
			if (fresh) {
				gate_queue_item_free(c->item);
				c->item = fresh;
			}
			if (r < 0) /* the pusher went away: the item stays queued */
				c->client_gone = 1;
		}
		if (now - last_progress >= PROGRESS_EVERY)
			last_progress = now;
		/* a runner that died is replaced */
		if (now - last_check >= 1.0) {
			struct gate_buf err = GATE_BUF_INIT;
			last_check = now;
			if (!all_decided(cmds, n) && !gate_queue_runner_active(git_dir) &&
			    gate_queue_spawn_runner(git_dir, runner_argv, &err) < 0)
				say("%s", err.ptr);
			gate_buf_release(&err);
		}
	}
}

/* ---- the protocol --------------------------------------------------------------- */

static void report(struct gate_buf *out, struct command *c, int waited)
{
	struct gate_queue_item *it = c->item;

	if (c->error) {
		struct gate_buf r = GATE_BUF_INIT;
		gate_buf_add_safes(&r, c->error);
		if (r.len > 1000)
			gate_buf_truncate(&r, 1000);
		pkt_addf(out, "ng %s %s", c->ref, r.ptr);
		gate_buf_release(&r);
		return;
	}
	if (waited && it->state == GATE_QUEUE_LANDED) {
		pkt_addf(out, "ok %s", c->ref);
		pkt_addf(out, "option refname %s", it->branch);
		pkt_addf(out, "option old-oid %s", it->before);
		pkt_addf(out, "option new-oid %s", it->landed);
		return;
	}
	if (waited && (it->state == GATE_QUEUE_REJECTED || it->state == GATE_QUEUE_CANCELLED)) {
		struct gate_buf r = GATE_BUF_INIT;
		gate_buf_addf(&r, "item %ld %s", it->id, gate_queue_state_name(it->state));
		if (it->reason) {
			gate_buf_adds(&r, ": ");
			gate_buf_adds(&r, it->reason);
		}
		if (r.len > 1000)
			gate_buf_truncate(&r, 1000);
		pkt_addf(out, "ng %s %s", c->ref, r.ptr);
		gate_buf_release(&r);
		return;
	}
	/* queued: git shows the item's ref as created */
	pkt_addf(out, "ok %s", c->ref);
	pkt_addf(out, "option refname %s", it->ref);
	pkt_addf(out, "option old-oid %s", GATE_ZERO_OID);
	pkt_addf(out, "option new-oid %s", it->tip);
}

static int self_path(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int run_queue(const char *git_dir)
{
	struct gate_queue_run_opts o;
	struct gate_buf err = GATE_BUF_INIT;
	int r;

	memset(&o, 0, sizeof(o));
	o.once = 1;
	r = gate_queue_run(git_dir, &o, &err);
	if (r < 0)
		fprintf(stderr, "git-gate queue: %s\n", gate_buf_cstr(&err));
	gate_buf_release(&err);
	return r < 0 ? GATE_EXIT_INTERNAL : 0;
}

int main(int argc, char **argv)
{
	struct gate_buf line = GATE_BUF_INIT, out = GATE_BUF_INIT, err = GATE_BUF_INIT;
	struct gate_push who = GATE_PUSH_INIT;
	struct gate_repo *repo = NULL;
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct command *cmds = NULL;
	size_t ncmds = 0, alloc = 0, len, i;
	int offered_options = 0, atomic = 0, wait = 0, queued = 0, refused = 0, r, code = GATE_EXIT_INTERNAL;
	char self[PATH_MAX];
	const char *runner_argv[4];

	gate_driver_setup();
	if (argc == 3 && !strcmp(argv[1], "--run-queue"))
		return run_queue(argv[2]);

	/* version negotiation */
	while ((r = pkt_read(&line, &len)) > 0) {
		const char *feat;
		if (!gate_skip_prefix(line.ptr, "version=", &feat))
			continue;
		if (strcmp(feat, "1")) {
			fprintf(stderr, PREFIX "unsupported proc-receive protocol '%s'\n", line.ptr);
			goto out;
		}
		if (strlen(line.ptr) < len) {
			const char *f = line.ptr + strlen(line.ptr) + 1;
			offered_options = strstr(f, "push-options") != NULL;
			atomic = strstr(f, "atomic") != NULL;
		}
	}
	if (r < 0)
		goto bad_protocol;
	gate_buf_reset(&out);
	gate_buf_addf(&out, "%04zx", (size_t)4 + 10 + (offered_options ? 12 : 0) + 1);
	gate_buf_add(&out, "version=1\0", 10);
	if (offered_options)
		gate_buf_adds(&out, "push-options");
	gate_buf_adds(&out, "\n0000");
	if (gate_write_all(1, out.ptr, out.len) < 0)
		goto out;

	/* commands */
	while ((r = pkt_read(&line, &len)) > 0) {
		struct command *c;
		if (len < 83 || line.ptr[40] != ' ' || line.ptr[81] != ' ')
			goto bad_protocol;
		GATE_ALLOC_GROW(cmds, ncmds + 1, alloc);
		c = &cmds[ncmds++];
		memset(c, 0, sizeof(*c));
		memcpy(c->old_id, line.ptr, 40);
		memcpy(c->new_id, line.ptr + 41, 40);
		c->ref = gate_xstrdup(line.ptr + 82);
		if (!gate_is_hex_oid(c->old_id) || !gate_is_hex_oid(c->new_id))
			goto bad_protocol;
	}
	if (r < 0)
		goto bad_protocol;
	if (offered_options) {
		while ((r = pkt_read(&line, &len)) > 0)
			if (!strcmp(line.ptr, "gate.wait") || !strncmp(line.ptr, "gate.wait=", 10))
				wait = 1;
		if (r < 0)
			goto bad_protocol;
	}

	gate_push_identify(&who);
	if (gate_repo_open(&repo, NULL, &err) < 0) {
		for (i = 0; i < ncmds; i++)
			refuse(&cmds[i], "cannot open the repository: %s", err.ptr);
	} else if (gate_policy_find(&cfg, repo->git_dir, repo->default_branch, &diag) < 0) {
		for (i = 0; i < ncmds; i++)
			refuse(&cmds[i], "the gate's policy is invalid, so nothing can be queued (admins: git gate validate)");
	} else {
		/* git push --atomic: all of them or none */
		for (i = 0; atomic && i < ncmds; i++) {
			queue_one(&cmds[i], repo, cfg, who.user, 1);
			refused += cmds[i].error != NULL;
		}
		for (i = 0; i < ncmds; i++) {
			if (!refused)
				queue_one(&cmds[i], repo, cfg, who.user, 0);
			else if (!cmds[i].error)
				refuse(&cmds[i], "atomic push: another change of it was refused");
		}
		for (i = 0; i < ncmds; i++)
			if (cmds[i].item) {
				size_t pos = position_of(repo->git_dir, cmds[i].item);
				queued++;
				say("queued as item %ld for %s (position %zu)", cmds[i].item->id,
				    short_branch(cmds[i].item->branch), pos);
			}
	}
	if (queued) {
		/* the status site shows the new items waiting */
		gate_buf_reset(&err);
		if (gate_status_refresh_site(cfg, repo, &err) < 0)
			say("warning for the server's admin: the status site was not refreshed: %s", err.ptr);
		gate_buf_reset(&err);
		if (self_path(self, sizeof(self)) < 0) {
			say("warning: cannot find the hook program to start the queue runner; ask an admin to run "
			    "'git gate queue run'");
		} else {
			runner_argv[0] = self;
			runner_argv[1] = "--run-queue";
			runner_argv[2] = repo->git_dir;
			runner_argv[3] = NULL;
			if (gate_queue_spawn_runner(repo->git_dir, runner_argv, &err) < 0)
				say("warning: %s", err.ptr);
			if (wait)
				wait_for(repo->git_dir, cmds, ncmds, runner_argv);
		}
		if (!wait)
			for (i = 0; i < ncmds; i++)
				if (cmds[i].item) {
					const char *name = short_branch(cmds[i].item->branch);
					say("it lands on %s once it passes; follow it with 'git ls-remote origin %s' "
					    "(gone once decided),", name, cmds[i].item->ref);
					say("or push again with -o gate.wait to wait for the verdict");
					break;
				}
	}
	gate_buf_reset(&out);
	for (i = 0; i < ncmds; i++)
		report(&out, &cmds[i], wait && !cmds[i].client_gone);
	gate_buf_adds(&out, "0000");
	code = gate_write_all(1, out.ptr, out.len) < 0 ? GATE_EXIT_INTERNAL : 0;
	goto out;
bad_protocol:
	fprintf(stderr, PREFIX "proc-receive: malformed input from git\n");
out:
	for (i = 0; i < ncmds; i++) {
		free(cmds[i].ref);
		free(cmds[i].error);
		gate_queue_item_free(cmds[i].item);
	}
	free(cmds);
	gate_push_release(&who);
	gate_config_free(cfg);
	gate_repo_free(repo);
	gate_diag_release(&diag);
	gate_buf_release(&line);
	gate_buf_release(&out);
	gate_buf_release(&err);
	return code;
}
