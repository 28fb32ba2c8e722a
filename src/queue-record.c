/*
 * The merge queue's records (queue.h): every test run and decision in the
 * audit log, and every decision about an item in the ledger.
 */
#include "config.h"
#include "queue.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "ledger.h"
#include "shared.h"

#include "banned.h"

/* The tree of commit `id` (hex) into tree[41]; "" when there is none. */
static void tree_of(git_repository *repo, const char *id, char tree[41])
{
	git_oid oid;
	git_commit *c = NULL;

	tree[0] = '\0';
	if (id && git_oid_fromstr(&oid, id) == 0 && git_commit_lookup(&c, repo, &oid) == 0)
		git_oid_tostr(tree, 41, git_commit_tree_id(c));
	git_commit_free(c);
	git_error_clear();
}

static void add_utc(struct gate_buf *b, time_t t)
{
	char when[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	gate_buf_addf(b, "\"%s\"", when);
}

static int audit(struct gate_repo *repo, const struct gate_config *cfg, const char *branch,
		 struct gate_queue_item *const *items, size_t n, const char *candidate, const char *verdict,
		 const char *reason, struct gate_buf *err)
{
	char *path = gate_audit_path(cfg, repo->git_dir);
	struct gate_buf b = GATE_BUF_INIT;
	char tree[41];
	size_t i;
	int ret;

	if (!path)
		return 0; /* audit_log = "off" */
	tree_of(repo->git, candidate, tree);
	gate_buf_adds(&b, "{\"time\":");
	add_utc(&b, time(NULL));
	gate_buf_adds(&b, ",\"hook\":\"queue\",\"repository\":");
	gate_json_add_strings(&b, repo->git_dir);
	gate_buf_adds(&b, ",\"branch\":");
	gate_json_add_strings(&b, branch);
	gate_buf_adds(&b, ",\"items\":[");
	for (i = 0; i < n; i++) {
		gate_buf_addf(&b, "%s{\"id\":%ld,\"ref\":", i ? "," : "", items[i]->id);
		gate_json_add_strings(&b, items[i]->ref);
		gate_buf_addf(&b, ",\"tip\":\"%s\",\"user\":", items[i]->tip);
		gate_json_add_strings(&b, items[i]->user);
		gate_buf_adds(&b, "}");
	}
	gate_buf_adds(&b, "],\"candidate\":");
	gate_json_add_strings(&b, candidate);
	gate_buf_adds(&b, ",\"tree\":");
	gate_json_add_strings(&b, tree[0] ? tree : NULL);
	gate_buf_adds(&b, ",\"verdict\":");
	gate_json_add_strings(&b, verdict);
	gate_buf_adds(&b, ",\"reason\":");
	gate_json_add_strings(&b, reason);
	gate_buf_adds(&b, "}\n");
	ret = gate_audit_append(path, gate_shared_perm(repo->git_dir), b.ptr, b.len, err);
	gate_buf_release(&b);
	free(path);
	return ret;
}

/*
 * The ledger line of a decided item, on its pushed tip: the pusher has
 * that commit, so `git notes --ref=gate show <it>` answers "what became of
 * my change" after a fetch of refs/notes/gate.
 */
static void ledger_item(struct gate_buf *b, struct gate_repo *repo, const struct gate_config *cfg,
			const char *hash, const struct gate_queue_item *it, const char *candidate)
{
	char tree[41], ctree[41];

	if (it->state == GATE_QUEUE_LANDED && it->landed[0])
		candidate = it->landed;
	tree_of(repo->git, it->tip, tree);
	tree_of(repo->git, candidate, ctree);
	gate_buf_addf(b, "{\"ledger\":%d,\"ref\":", GATE_LEDGER_VERSION);
	gate_json_add_strings(b, it->ref);
	gate_buf_addf(b, ",\"old\":\"%s\",\"new\":\"%s\"", GATE_ZERO_OID, it->tip);
	if (tree[0])
		gate_buf_addf(b, ",\"tree\":\"%s\"", tree);
	gate_buf_adds(b, ",\"pusher\":");
	gate_json_add_strings(b, it->user);
	gate_buf_adds(b, ",\"decided\":");
	add_utc(b, it->decided ? (time_t)it->decided : time(NULL));
	gate_buf_adds(b, ",\"hook\":\"queue\",\"policy\":");
	if (cfg) {
		gate_buf_adds(b, "{\"file\":");
		gate_json_add_strings(b, cfg->file ? cfg->file : "built-in default");
		gate_buf_adds(b, ",\"sha256\":");
		gate_json_add_strings(b, hash + strlen("sha256:"));
		gate_buf_adds(b, "}");
	} else {
		gate_buf_adds(b, "null"); /* the policy was invalid: that is the reason */
	}
	gate_buf_addf(b, ",\"verdict\":\"%s\",\"queue\":{\"item\":%ld,\"branch\":", gate_queue_state_name(it->state),
		      it->id);
	gate_json_add_strings(b, it->branch);
	gate_buf_adds(b, ",\"landed\":");
	gate_json_add_strings(b, it->state == GATE_QUEUE_LANDED && it->landed[0] ? it->landed : NULL);
	gate_buf_adds(b, ",\"before\":");
	gate_json_add_strings(b, it->state == GATE_QUEUE_LANDED && it->before[0] ? it->before : NULL);
	gate_buf_adds(b, ",\"candidate\":");
	gate_json_add_strings(b, candidate);
	gate_buf_adds(b, ",\"candidate_tree\":");
	gate_json_add_strings(b, ctree[0] ? ctree : NULL);
	gate_buf_adds(b, ",\"reason\":");
	gate_json_add_strings(b, it->state == GATE_QUEUE_LANDED ? NULL : it->reason);
	gate_buf_adds(b, ",\"batch\":");
	gate_json_add_strings(b, it->batch);
	gate_buf_adds(b, "}}");
}

int gate_queue_record(struct gate_repo *repo, const struct gate_config *cfg, const char *branch,
		      struct gate_queue_item *const *items, size_t n, const char *candidate, const char *verdict,
		      const char *reason, struct gate_buf *err)
{
	struct gate_buf e = GATE_BUF_INIT;
	struct gate_buf *lines;
	const char **objs, **texts;
	char *hash = NULL;
	size_t i, k = 0;
	int ret = audit(repo, cfg, branch, items, n, candidate, verdict, reason, err);

	if (strcmp(verdict, "landed") && strcmp(verdict, "rejected") && strcmp(verdict, "cancelled"))
		return ret; /* a test run: no decision about an item */
	lines = gate_xcalloc(n ? n : 1, sizeof(*lines));
	objs = gate_xcalloc(n ? n : 1, sizeof(*objs));
	texts = gate_xcalloc(n ? n : 1, sizeof(*texts));
	if (cfg)
		hash = gate_ledger_policy_hash(cfg, repo);
	for (i = 0; i < n; i++) {
		struct gate_queue_item *it = NULL;

		/* as stored: the landed commit, the reason, the time of the decision */
		if (gate_queue_load(&it, repo->git_dir, items[i]->id, &e) < 0 || !gate_queue_state_final(it->state)) {
			if (ret == 0)
				gate_error(err, "the ledger note of item %ld was not written: %s", items[i]->id,
					   e.len ? e.ptr : "it is not decided");
			ret = -1;
			gate_buf_reset(&e);
			gate_queue_item_free(it);
			continue;
		}
		ledger_item(&lines[k], repo, cfg, hash, it, candidate);
		objs[k] = gate_xstrdup(it->tip);
		texts[k] = lines[k].ptr;
		k++;
		gate_queue_item_free(it);
	}
	gate_buf_reset(&e);
	if (k && gate_ledger_add(repo->git_dir, repo->git, objs, texts, k, &e) < 0) {
		if (ret == 0)
			gate_error(err, "the ledger notes were not written: %s", e.ptr);
		ret = -1;
	}
	for (i = 0; i < k; i++) {
		free((char *)objs[i]);
		gate_buf_release(&lines[i]);
	}
	free(lines);
	free(objs);
	free(texts);
	free(hash);
	gate_buf_release(&e);
	return ret;
}
