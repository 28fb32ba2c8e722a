#include "config.h"
#include "ledger.h"
#include "shared.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "sha256.h"

#include "banned.h"

#define PENDING_DIR "git-gate/ledger-pending"
#define PENDING_MAX_AGE (24 * 3600) /* entries of updates that never happened */
#define NOTE_MAX (1024 * 1024)      /* a note that grew past this is not appended to */
#define CAS_TRIES 50
#define SUBJECT_MAX 200

void gate_ledger_guard(struct gate_verdict *v)
{
	size_t i;

	for (i = 0; i < v->nr; i++) {
		struct gate_ref_verdict *rv = &v->refs[i];
		if (strcmp(rv->update->ref, GATE_LEDGER_REF))
			continue;
		gate_findings_add(&rv->protection, NULL, NULL, 0,
				  "the ledger records what the gate decided; nobody pushes to it (an admin repairs it on "
				  "the server with git notes or git update-ref)",
				  "'%s' is written by git-gate only", rv->update->ref);
		rv->outcome = GATE_OUTCOME_REJECT;
		v->outcome = GATE_OUTCOME_REJECT;
	}
}

void gate_ledger_describe(struct gate_verdict *v, struct gate_repo *repo)
{
	size_t i;

	for (i = 0; i < v->nr; i++) {
		struct gate_ref_verdict *rv = &v->refs[i];
		git_oid oid;
		git_object *obj = NULL, *peeled = NULL;
		const char *msg, *nl;
		size_t n;

		if (rv->update->kind == GATE_UPDATE_DELETE || git_oid_fromstr(&oid, rv->update->new_id) < 0 ||
		    git_object_lookup(&obj, repo->git, &oid, GIT_OBJECT_ANY) < 0 ||
		    git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
			git_object_free(obj);
			git_error_clear();
			continue;
		}
		git_oid_tostr(rv->tree_id, sizeof(rv->tree_id), git_commit_tree_id((git_commit *)peeled));
		msg = git_commit_message((git_commit *)peeled);
		if (msg) {
			while (*msg == '\n')
				msg++;
			nl = strchr(msg, '\n');
			n = nl ? (size_t)(nl - msg) : strlen(msg);
			if (n > SUBJECT_MAX)
				n = SUBJECT_MAX;
			free(rv->subject);
			rv->subject = gate_xstrndup(msg, n);
		}
		git_object_free(peeled);
		git_object_free(obj);
	}
}

/* The text of one of the policy's files, or -1. */
static int read_policy_file(struct gate_buf *text, const char *name, const struct gate_repo *repo)
{
	struct gate_buf err = GATE_BUF_INIT;
	const char *colon;
	int r = gate_read_file(text, name, &err);

	if (r < 0 && repo && (colon = strrchr(name, ':')) != NULL && colon > name) {
		/* a policy stored in a ref: REF:git-gate.conf */
		char *rev = gate_xstrndup(name, (size_t)(colon - name));
		gate_buf_reset(text);
		r = gate_policy_read_meta_in(text, repo->git, rev, &err);
		free(rev);
	}
	gate_buf_release(&err);
	return r < 0 ? -1 : 0;
}

/*
 * One file: the SHA-256 of its content (what sha256sum prints).  Several
 * (includes, layers): the SHA-256 of the sha256sum-style list of them,
 * "<digest>  <name>" a line, in the order they were read.
 */
char *gate_ledger_policy_hash(const struct gate_config *cfg, const struct gate_repo *repo)
{
	struct gate_buf text = GATE_BUF_INIT, list = GATE_BUF_INIT;
	char hex[2 * GATE_SHA256_LEN + 1];
	size_t i, n = 0;

	for (i = 0; cfg && cfg->file && i < cfg->files.nr; i++) {
		const char *name = cfg->files.v[i];
		if (!name)
			continue;
		gate_buf_reset(&text);
		if (read_policy_file(&text, name, repo) < 0)
			gate_buf_setf(&text, "(unreadable: %s)", name);
		gate_sha256_hex(hex, text.ptr ? text.ptr : "", text.len);
		gate_buf_addf(&list, "%s  %s\n", hex, name);
		n++;
	}
	if (n > 1)
		gate_sha256_hex(hex, list.ptr, list.len);
	else if (!n)
		gate_sha256_hex(hex, "built-in default", 16);
	gate_buf_release(&text);
	gate_buf_release(&list);
	return gate_xstrfmt("sha256:%s", hex);
}

static void add_time(struct gate_buf *b, const char *key, time_t t)
{
	struct tm tm;
	char s[32];

	if (gmtime_r(&t, &tm) && strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm))
		gate_buf_addf(b, ",\"%s\":\"%s\"", key, s);
}

/* What a check said about an accepted update. */
static const char *ledger_result(const struct gate_ref_verdict *rv, const struct gate_scan_job *jb)
{
	if (gate_job_failed(jb))
		return "warn"; /* the update was accepted: the rule only warns */
	if (jb->note && strstr(jb->note, "cache"))
		return "cached";
	if (!jb->ran && jb->note)
		return "skipped";
	(void)rv;
	return "pass";
}

static void add_check(struct gate_buf *b, int *first, const struct gate_check_def *def, const char *result,
		      double seconds, const char *note)
{
	if (!*first)
		gate_buf_addch(b, ',');
	*first = 0;
	gate_buf_adds(b, "{\"name\":");
	gate_json_add_strings(b, def->name);
	gate_buf_adds(b, ",\"type\":");
	gate_json_add_strings(b, def->type ? def->type->name : NULL);
	gate_buf_addf(b, ",\"result\":\"%s\",\"seconds\":%.3f", result, seconds < 0 ? 0 : seconds);
	if (note) {
		gate_buf_adds(b, ",\"note\":");
		gate_json_add_strings(b, note);
	}
	gate_buf_addch(b, '}');
}

void gate_ledger_format(struct gate_buf *out, const struct gate_config *cfg, const char *policy_hash,
			const struct gate_push *push, const struct gate_verdict *v, const struct gate_ref_verdict *rv,
			const char *hook)
{
	const struct gate_update *u = rv->update;
	size_t j;
	int first = 1;

	gate_buf_addf(out, "{\"ledger\":%d", GATE_LEDGER_VERSION);
	gate_buf_adds(out, ",\"ref\":");
	gate_json_add_strings(out, u->ref);
	gate_buf_addf(out, ",\"old\":\"%s\",\"new\":\"%s\"", u->old_id, u->new_id);
	if (rv->tree_id[0])
		gate_buf_addf(out, ",\"tree\":\"%s\"", rv->tree_id);
	gate_buf_adds(out, ",\"pusher\":");
	gate_json_add_strings(out, push->user);
	add_time(out, "decided", time(NULL));
	gate_buf_adds(out, ",\"hook\":");
	gate_json_add_strings(out, hook);
	gate_buf_adds(out, ",\"policy\":{\"file\":");
	gate_json_add_strings(out, cfg && cfg->file ? cfg->file : "built-in default");
	gate_buf_adds(out, ",\"sha256\":");
	gate_json_add_strings(out, policy_hash && !strncmp(policy_hash, "sha256:", 7) ? policy_hash + 7 : policy_hash);
	gate_buf_adds(out, "}");
	gate_buf_addf(out, ",\"verdict\":\"%s\"", rv->outcome == GATE_OUTCOME_WARN ? "warn" : "accept");
	gate_buf_adds(out, ",\"bypass\":");
	gate_json_add_strings(out, rv->bypassed ? v->bypass_reason : NULL);
	gate_buf_addf(out, ",\"exempt\":%s", rv->exempt ? "true" : "false");
	gate_buf_addf(out, ",\"seconds\":%.3f", v->seconds < 0 ? 0 : v->seconds);
	gate_buf_adds(out, ",\"checks\":[");
	for (j = 0; j < rv->njobs; j++)
		add_check(out, &first, rv->jobs[j]->def, ledger_result(rv, rv->jobs[j]), rv->jobs[j]->seconds,
			  rv->jobs[j]->error ? rv->jobs[j]->error : rv->jobs[j]->note);
	for (j = 0; j < rv->nexempted; j++)
		add_check(out, &first, rv->exempted[j], "exempt", 0, NULL);
	if (rv->bypassed && rv->rule)
		for (j = 0; j < rv->rule->nchecks; j++)
			add_check(out, &first, rv->rule->checks[j], "bypassed", 0, NULL);
	gate_buf_adds(out, "]}");
}

/* The pending entry's file name for an update by `user`. */
static char *pending_path(const char *git_dir, const char *ref, const char *old_id, const char *new_id,
			  const char *user)
{
	struct gate_buf key = GATE_BUF_INIT;
	char hex[2 * GATE_SHA256_LEN + 1];

	gate_buf_adds(&key, ref);
	gate_buf_addch(&key, '\0');
	gate_buf_adds(&key, old_id);
	gate_buf_addch(&key, '\0');
	gate_buf_adds(&key, new_id);
	gate_buf_addch(&key, '\0');
	gate_buf_adds(&key, user ? user : "");
	gate_sha256_hex(hex, key.ptr, key.len);
	gate_buf_release(&key);
	return gate_xstrfmt("%s/" PENDING_DIR "/%.40s", git_dir, hex);
}

int gate_ledger_prepare(const struct gate_config *cfg, struct gate_repo *repo, const struct gate_push *push,
			const struct gate_verdict *v, const char *hook, struct gate_buf *err)
{
	struct gate_buf line = GATE_BUF_INIT;
	char *hash = NULL, *dir = gate_xstrfmt("%s/" PENDING_DIR, repo->git_dir);
	size_t i;
	int ret = 0, shared = 0;

	for (i = 0; i < v->nr; i++) {
		const struct gate_ref_verdict *rv = &v->refs[i];
		char *path;
		if (rv->outcome == GATE_OUTCOME_REJECT || rv->update->kind == GATE_UPDATE_DELETE)
			continue;
		if (!hash) {
			hash = gate_ledger_policy_hash(cfg, repo);
			shared = gate_shared_perm(repo->git_dir);
			if (gate_shared_mkdir_p(shared, dir) < 0) {
				ret = gate_error(err, "cannot create '%s': %s", dir, strerror(errno));
				break;
			}
		}
		gate_buf_reset(&line);
		gate_ledger_format(&line, cfg, hash, push, v, rv, hook);
		gate_buf_addch(&line, '\n');
		path = pending_path(repo->git_dir, rv->update->ref, rv->update->old_id, rv->update->new_id, push->user);
		if (gate_shared_write_file(shared, path, line.ptr, line.len, 0, err) < 0)
			ret = -1;
		free(path);
	}
	free(hash);
	free(dir);
	gate_buf_release(&line);
	return ret;
}

/* Remove pending entries older than a day: updates that lost a race or were refused later. */
static void expire_pending(const char *git_dir)
{
	char *dir = gate_xstrfmt("%s/" PENDING_DIR, git_dir);
	DIR *d = opendir(dir);
	struct dirent *e;
	time_t now = time(NULL);

	while (d && (e = readdir(d)) != NULL) {
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && now - st.st_mtime > PENDING_MAX_AGE)
			(void)unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d)
		closedir(d);
	free(dir);
}

struct entry {
	git_oid commit;
	char *line; /* with "time" */
	char *path; /* the pending file */
};

/* Add `line` to the note text `old` unless it is there already; NULL when nothing changes. */
static char *note_with(const char *old, const char *line)
{
	size_t n = strlen(line);
	const char *p = old;

	while (p && (p = strstr(p, line)) != NULL) {
		if ((p == old || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return NULL;
		p += n;
	}
	if (!old || !*old)
		return gate_xstrfmt("%s\n", line);
	if (strlen(old) > NOTE_MAX)
		return NULL;
	return gate_xstrfmt("%s%s%s\n", old, old[strlen(old) - 1] == '\n' ? "" : "\n", line);
}

/* The text of the blob `id` names in `tree`, appended to `out`; 0 when there is none. */
static int blob_text(git_repository *repo, const git_tree *tree, const char *name, struct gate_buf *out)
{
	const git_tree_entry *e = tree ? git_tree_entry_byname(tree, name) : NULL;
	git_blob *blob = NULL;

	if (!e || git_tree_entry_type(e) != GIT_OBJECT_BLOB ||
	    git_blob_lookup(&blob, repo, git_tree_entry_id(e)) < 0) {
		git_error_clear();
		return 0;
	}
	if (out->len && out->ptr[out->len - 1] != '\n')
		gate_buf_addch(out, '\n');
	gate_buf_add(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	return 1;
}

/*
 * Add one note line to the notes tree `root` (NULL: none yet); *out is the
 * new tree, or a copy of root's id when the line is there already.
 *
 * Notes go one level deep, ab/cdef... (git's own fanout for 256 to 65536
 * notes a level): writing a note rewrites a root of at most 256 entries and
 * one subtree, not a flat tree of every note ever written (libgit2's
 * git_note_commit_create writes flat trees: 120 ms a note at 50,000 notes).
 * git and libgit2 read every layout.  A note found flat (written by git
 * notes, say) is merged into the fanout entry and its flat entry removed.
 */
static int add_note(git_repository *repo, const git_tree *root, const git_oid *object, const char *line,
		    git_oid *out, struct gate_buf *err)
{
	char hex[GIT_OID_HEXSZ + 1], dir[3];
	struct gate_buf old = GATE_BUF_INIT;
	git_treebuilder *rb = NULL, *sb = NULL;
	git_tree *sub = NULL;
	const git_tree_entry *se = NULL;
	git_oid blob_id, sub_id;
	char *text = NULL;
	int flat, ret = -1;

	git_oid_tostr(hex, sizeof(hex), object);
	memcpy(dir, hex, 2);
	dir[2] = '\0';
	if (root && (se = git_tree_entry_byname(root, dir)) != NULL && git_tree_entry_type(se) == GIT_OBJECT_TREE &&
	    git_tree_lookup(&sub, repo, git_tree_entry_id(se)) < 0) {
		gate_error(err, "cannot read the notes tree: %s", gate_git_error());
		goto out;
	}
	flat = blob_text(repo, root, hex, &old);
	blob_text(repo, sub, hex + 2, &old);
	text = note_with(old.len ? old.ptr : NULL, line);
	if (!text) {
		git_oid_cpy(out, root ? git_tree_id(root) : object); /* unchanged */
		ret = 1;
		goto out;
	}
	if (git_blob_create_from_buffer(&blob_id, repo, text, strlen(text)) < 0 ||
	    git_treebuilder_new(&sb, repo, sub) < 0 ||
	    git_treebuilder_insert(NULL, sb, hex + 2, &blob_id, GIT_FILEMODE_BLOB) < 0 ||
	    git_treebuilder_write(&sub_id, sb) < 0 || git_treebuilder_new(&rb, repo, root) < 0 ||
	    (flat && git_treebuilder_remove(rb, hex) < 0) ||
	    git_treebuilder_insert(NULL, rb, dir, &sub_id, GIT_FILEMODE_TREE) < 0 || git_treebuilder_write(out, rb) < 0) {
		gate_error(err, "cannot write a note: %s", gate_git_error());
		goto out;
	}
	ret = 0;
out:
	free(text);
	gate_buf_release(&old);
	git_treebuilder_free(sb);
	git_treebuilder_free(rb);
	git_tree_free(sub);
	return ret;
}

/* One attempt: notes on top of the current refs/notes/gate, then a compare-and-swap. */
static int write_notes(git_repository *repo, struct entry *ents, size_t n, const git_signature *sig,
		       struct gate_buf *err)
{
	git_reference *newref = NULL;
	git_commit *parent = NULL;
	git_tree *tree = NULL;
	git_oid old_id, new_id, tree_id;
	int have_old = 0, changed = 0, r, ret = -1;
	size_t i;

	r = git_reference_name_to_id(&old_id, repo, GATE_LEDGER_REF);
	if (r == 0)
		have_old = 1;
	else if (r != GIT_ENOTFOUND)
		return gate_error(err, "cannot read %s: %s", GATE_LEDGER_REF, gate_git_error());
	if (have_old && (git_commit_lookup(&parent, repo, &old_id) < 0 || git_commit_tree(&tree, parent) < 0)) {
		gate_error(err, "%s does not point to a commit: %s", GATE_LEDGER_REF, gate_git_error());
		goto out;
	}
	for (i = 0; i < n; i++) {
		r = add_note(repo, tree, &ents[i].commit, ents[i].line, &tree_id, err);
		if (r < 0)
			goto out;
		if (r > 0)
			continue; /* the line was there already */
		changed = 1;
		git_tree_free(tree);
		tree = NULL;
		if (git_tree_lookup(&tree, repo, &tree_id) < 0) {
			gate_error(err, "cannot read the notes tree: %s", gate_git_error());
			goto out;
		}
	}
	if (!changed) {
		ret = 0;
		goto out;
	}
	if (git_commit_create(&new_id, repo, NULL, sig, sig, NULL, "Notes added by git-gate\n", tree,
			      parent ? 1 : 0, (const git_commit **)&parent) < 0) {
		gate_error(err, "cannot write the notes commit: %s", gate_git_error());
		goto out;
	}
	if (have_old)
		r = git_reference_create_matching(&newref, repo, GATE_LEDGER_REF, &new_id, 1, &old_id,
						  "git-gate: ledger");
	else
		r = git_reference_create(&newref, repo, GATE_LEDGER_REF, &new_id, 0, "git-gate: ledger");
	if (r == GIT_EMODIFIED || r == GIT_EEXISTS || r == GIT_ELOCKED) {
		ret = 1; /* someone else moved it: try again */
		git_error_clear();
		goto out;
	}
	if (r < 0) {
		gate_error(err, "cannot update %s: %s", GATE_LEDGER_REF, gate_git_error());
		goto out;
	}
	ret = 0;
out:
	git_reference_free(newref);
	git_tree_free(tree);
	git_commit_free(parent);
	return ret;
}

/*
 * Add the lines of ents[0..n) to the notes of their objects: on top of the
 * current refs/notes/gate, with a compare-and-swap, retried.
 */
static int write_entries(const char *git_dir, git_repository *open_repo, struct entry *ents, size_t n,
			 struct gate_buf *err)
{
	git_repository *repo = open_repo, *own = NULL;
	git_signature *sig = NULL;
	int ret = -1, tries, r = 1, shared, masked = 0;
	mode_t old_mask = 0;

	if (!repo) {
		if (git_repository_open_ext(&own, git_dir, GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE,
					    NULL) < 0) {
			gate_error(err, "cannot open '%s': %s", git_dir, gate_git_error());
			goto out;
		}
		repo = own;
	}
	if (git_signature_now(&sig, "git-gate", "git-gate@localhost") < 0) {
		gate_error(err, "cannot make a signature: %s", gate_git_error());
		goto out;
	}
	/* libgit2 creates objects, folders and refs with the umask: make it the repository's */
	shared = gate_shared_perm(git_dir);
	old_mask = umask(0);
	umask((mode_t)gate_shared_umask(shared, (unsigned)old_mask));
	masked = 1;
	for (tries = 0; tries < CAS_TRIES; tries++) {
		r = write_notes(repo, ents, n, sig, err);
		if (r <= 0)
			break;
		/* lost the race to another post-receive: back off a little, differently each time */
		{
			struct timespec ts = { 0, (long)(1000000L * (1 + (getpid() + tries * 7) % 10)) };
			nanosleep(&ts, NULL);
		}
	}
	if (r > 0) {
		gate_error(err, "%s kept changing under %d attempts to add a note", GATE_LEDGER_REF, CAS_TRIES);
		goto out;
	}
	if (r < 0)
		goto out;
	ret = 0;
out:
	if (masked)
		umask(old_mask);
	git_signature_free(sig);
	git_repository_free(own);
	return ret;
}

/* `line` ("{"ledger":1,...") with "time" (now) after the version. */
static char *with_time(const char *line, size_t len)
{
	struct gate_buf b = GATE_BUF_INIT;
	const char *rest = memchr(line, ',', len);

	gate_buf_add(&b, line, (size_t)(rest - line));
	add_time(&b, "time", time(NULL));
	gate_buf_add(&b, rest, len - (size_t)(rest - line));
	return gate_buf_detach(&b);
}

int gate_ledger_record(const char *git_dir, git_repository *open_repo, const struct gate_push *moved, size_t *written,
		       struct gate_buf *err)
{
	struct entry *ents = gate_xcalloc(moved->nr ? moved->nr : 1, sizeof(*ents));
	size_t n = 0, i;
	int ret = -1;

	*written = 0;
	for (i = 0; i < moved->nr; i++) {
		const struct gate_update *u = &moved->updates[i];
		struct gate_buf text = GATE_BUF_INIT, ignored = GATE_BUF_INIT;
		char *path;
		git_oid oid;

		if (u->kind == GATE_UPDATE_DELETE)
			continue;
		path = pending_path(git_dir, u->ref, u->old_id, u->new_id, moved->user);
		if (gate_read_file(&text, path, &ignored) < 0 || text.len < 12 || strncmp(text.ptr, "{\"ledger\":", 10) ||
		    !strchr(text.ptr, ',') || git_oid_fromstr(&oid, u->new_id) < 0) {
			free(path);
			gate_buf_release(&text);
			gate_buf_release(&ignored);
			continue;
		}
		while (text.len && text.ptr[text.len - 1] == '\n')
			gate_buf_truncate(&text, text.len - 1);
		if (memchr(text.ptr, '\n', text.len)) {
			/* one line or nothing */
			free(path);
			gate_buf_release(&text);
			gate_buf_release(&ignored);
			continue;
		}
		ents[n].line = with_time(text.ptr, text.len);
		/* a tag's note goes on the tag object: that is what the ref points at */
		git_oid_cpy(&ents[n].commit, &oid);
		ents[n].path = path;
		n++;
		gate_buf_release(&text);
		gate_buf_release(&ignored);
	}
	if (!n) {
		ret = 0;
		goto out;
	}
	if (write_entries(git_dir, open_repo, ents, n, err) < 0)
		goto out;
	for (i = 0; i < n; i++)
		(void)unlink(ents[i].path);
	*written = n;
	ret = 0;
out:
	expire_pending(git_dir);
	for (i = 0; i < n; i++) {
		free(ents[i].line);
		free(ents[i].path);
	}
	free(ents);
	return ret;
}

int gate_ledger_add(const char *git_dir, git_repository *repo, const char *const *objects, const char *const *lines,
		    size_t n, struct gate_buf *err)
{
	struct entry *ents = gate_xcalloc(n ? n : 1, sizeof(*ents));
	size_t i;
	int ret = -1;

	for (i = 0; i < n; i++) {
		if (git_oid_fromstr(&ents[i].commit, objects[i]) < 0 || strncmp(lines[i], "{\"ledger\":", 10) ||
		    !strchr(lines[i], ',') || strchr(lines[i], '\n')) {
			gate_error(err, "not a ledger line for '%s'", objects[i]);
			goto out;
		}
		ents[i].line = with_time(lines[i], strlen(lines[i]));
	}
	ret = n ? write_entries(git_dir, repo, ents, n, err) : 0;
out:
	for (i = 0; i < n; i++)
		free(ents[i].line);
	free(ents);
	return ret;
}
