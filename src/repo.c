#include "config.h"
#include "repo.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "push.h"
#include "run-command.h"

#include "banned.h"

const char *gate_git_error(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

/* libgit2 1.5 cannot read SHA-256 repositories; say so before it fails obscurely. */
static int refuse_sha256(const char *git_dir, struct gate_buf *err)
{
	char *path = gate_xstrfmt("%s/config", git_dir);
	git_config *cfg = NULL;
	git_buf val = { 0 };
	int ret = 0;

	if (git_config_open_ondisk(&cfg, path) == 0 &&
	    git_config_get_string_buf(&val, cfg, "extensions.objectformat") == 0 &&
	    strcmp(val.ptr, "sha1"))
		ret = gate_error(err,
				 "repository '%s' uses the %s object format, which git-gate cannot read yet "
				 "(libgit2 1.5 reads only SHA-1 repositories)",
				 git_dir, val.ptr);
	git_buf_dispose(&val);
	git_config_free(cfg);
	free(path);
	git_error_clear();
	return ret;
}

int gate_repo_check_format(const char *path, struct gate_buf *err)
{
	char *dotgit = gate_xstrfmt("%s/.git", path);
	int ret = refuse_sha256(path, err);

	if (!ret)
		ret = refuse_sha256(dotgit, err);
	free(dotgit);
	return ret;
}

int gate_repo_open(struct gate_repo **out, const char *path, struct gate_buf *err)
{
	struct gate_repo *repo = gate_xcalloc(1, sizeof(*repo));
	const char *quarantine = getenv("GIT_QUARANTINE_PATH");
	const char *env_dir = getenv("GIT_DIR");
	unsigned flags = 0;
	git_reference *head = NULL;
	char real[PATH_MAX];
	const char *p;
	int ret = -1;

	if (!path) {
		path = env_dir && *env_dir ? env_dir : ".";
		if (env_dir && *env_dir)
			flags |= GIT_REPOSITORY_OPEN_NO_SEARCH;
	}
	/*
	 * Look before libgit2 does: its failed open of a SHA-256 repository
	 * leaks, and its message does not say what is wrong.
	 */
	if (gate_repo_check_format(path, err) < 0)
		goto out;
	if (git_repository_open_ext(&repo->git, path, flags, NULL) < 0) {
		gate_error(err, "cannot open repository '%s': %s", path, gate_git_error());
		goto out;
	}
	p = git_repository_path(repo->git);
	if (!realpath(p, real)) {
		gate_error(err, "cannot resolve '%s': %s", p, strerror(errno));
		goto out;
	}
	repo->git_dir = gate_xstrdup(real);
	if (refuse_sha256(repo->git_dir, err) < 0)
		goto out;

	if (quarantine && *quarantine) {
		git_odb *odb;
		if (git_repository_odb(&odb, repo->git) < 0 || git_odb_add_disk_alternate(odb, quarantine) < 0) {
			gate_error(err, "cannot read the pushed objects in '%s': %s", quarantine, gate_git_error());
			goto out;
		}
		git_odb_free(odb);
		repo->quarantined = 1;
	}

	if (git_reference_lookup(&head, repo->git, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC)
		repo->default_branch = gate_xstrdup(git_reference_symbolic_target(head));
	else
		repo->default_branch = gate_xstrdup("refs/heads/main");
	git_reference_free(head);
	git_error_clear();

	/*
	 * Children must read the same repository.  Inside a hook git's own
	 * variables (object directory, alternates) are already right and are
	 * inherited; outside one, point GIT_DIR at what we opened.
	 */
	if (!repo->quarantined)
		gate_strvec_pushf(&repo->env, "GIT_DIR=%s", repo->git_dir);
	gate_strvec_push(&repo->env, "GIT_WORK_TREE");
	gate_strvec_push(&repo->env, "GIT_COMMON_DIR");
	gate_strvec_push(&repo->env, "GIT_INDEX_FILE");
	gate_strvec_push(&repo->env, "GIT_NAMESPACE");
	gate_strvec_push(&repo->env, "GIT_CONFIG_PARAMETERS");
	gate_strvec_push(&repo->env, "GIT_CONFIG_COUNT");
	gate_strvec_argv(&repo->env);
	*out = repo;
	repo = NULL;
	ret = 0;
out:
	gate_repo_free(repo);
	return ret;
}

void gate_repo_free(struct gate_repo *repo)
{
	if (!repo)
		return;
	git_repository_free(repo->git);
	free(repo->git_dir);
	free(repo->default_branch);
	gate_strvec_clear(&repo->env);
	free(repo);
}

void gate_refs_free(struct gate_ref *refs, size_t nr)
{
	size_t i;

	if (!refs)
		return;
	for (i = 0; i < nr; i++)
		free(refs[i].name);
	free(refs);
}

int gate_repo_refs(struct gate_repo *repo, struct gate_ref **out, size_t *nr, struct gate_buf *err)
{
	static const char *const argv[] = {
		"git", "for-each-ref", "--format=%(objectname) %(objecttype) %(*objectname) %(*objecttype) %(refname)",
		NULL
	};
	struct gate_buf o = GATE_BUF_INIT, e = GATE_BUF_INIT;
	struct gate_ref *refs = NULL;
	size_t n = 0, alloc = 0;
	int status, ret = -1;
	char *line, *next;

	if (gate_run_capture(argv, gate_strvec_argv(&repo->env), NULL, NULL, 0, &o, &e, &status, err) < 0)
		goto out;
	if (status) {
		gate_error(err, "git for-each-ref failed: %s", gate_buf_cstr(&e));
		goto out;
	}
	for (line = o.ptr; line && *line; line = next) {
		char *f[5];
		int k;
		struct gate_ref *r;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* "id type [peeled] [peeledtype] name": empty fields collapse to "" */
		f[0] = line;
		for (k = 1; k < 5; k++) {
			char *sp = strchr(f[k - 1], ' ');
			if (!sp)
				break;
			*sp = '\0';
			f[k] = sp + 1;
		}
		if (k < 5 || strlen(f[0]) != 40)
			continue;
		GATE_ALLOC_GROW(refs, n + 1, alloc);
		r = &refs[n++];
		r->name = gate_xstrdup(f[4]);
		memcpy(r->id, f[0], 41);
		r->commit[0] = '\0';
		if (!strcmp(f[1], "commit"))
			memcpy(r->commit, f[0], 41);
		else if (!strcmp(f[3], "commit") && strlen(f[2]) == 40)
			memcpy(r->commit, f[2], 41);
	}
	*out = refs;
	*nr = n;
	refs = NULL;
	ret = 0;
out:
	gate_refs_free(refs, n);
	gate_buf_release(&o);
	gate_buf_release(&e);
	return ret;
}

int gate_repo_symref_target(struct gate_repo *repo, const char *ref, char **out, struct gate_buf *err)
{
	git_reference *r = NULL;
	char *name = gate_xstrdup(ref);
	int depth, ret = -1, found = 0;

	*out = NULL;
	for (depth = 0;; depth++) {
		int e = git_reference_lookup(&r, repo->git, name);
		if (e == GIT_ENOTFOUND)
			break; /* dangling (or not a ref at all when depth is 0) */
		if (e < 0) {
			gate_error(err, "cannot read ref '%s': %s", name, gate_git_error());
			goto out;
		}
		if (git_reference_type(r) != GIT_REFERENCE_SYMBOLIC)
			break;
		if (depth == GATE_SYMREF_MAXDEPTH) {
			gate_error(err, "'%s' is a symbolic ref that leads through more than %d others (a loop?)", ref,
				   GATE_SYMREF_MAXDEPTH);
			goto out;
		}
		free(name);
		name = gate_xstrdup(git_reference_symbolic_target(r));
		git_reference_free(r);
		r = NULL;
		if (!gate_ref_name_valid(name)) {
			gate_error(err, "'%s' is a symbolic ref to '%s', which is not a ref a push may update", ref, name);
			goto out;
		}
		found = 1;
	}
	if (found) {
		*out = name;
		name = NULL;
	}
	ret = 0;
out:
	git_reference_free(r);
	git_error_clear();
	free(name);
	return ret;
}

int gate_repo_object_type(struct gate_repo *repo, const char *id, git_object_t *type, struct gate_buf *err)
{
	git_odb *odb = NULL;
	git_oid oid;
	size_t len;
	int ret;

	if (git_oid_fromstr(&oid, id) < 0)
		return gate_error(err, "'%s' is not an object id", id);
	if (git_repository_odb(&odb, repo->git) < 0)
		return gate_error(err, "cannot open the object database: %s", gate_git_error());
	ret = git_odb_read_header(&len, type, odb, &oid);
	git_odb_free(odb);
	if (ret == GIT_ENOTFOUND) {
		git_error_clear();
		return GATE_ENOTFOUND;
	}
	if (ret < 0)
		return gate_error(err, "cannot read object %s: %s", id, gate_git_error());
	return 0;
}

int gate_repo_peel_commit(struct gate_repo *repo, const char *id, char out[41], struct gate_buf *err)
{
	git_object *obj = NULL, *peeled = NULL;
	git_oid oid;
	int ret;

	if (git_oid_fromstr(&oid, id) < 0)
		return gate_error(err, "'%s' is not an object id", id);
	ret = git_object_lookup(&obj, repo->git, &oid, GIT_OBJECT_ANY);
	if (ret == GIT_ENOTFOUND) {
		git_error_clear();
		return GATE_ENOTFOUND;
	}
	if (ret < 0)
		return gate_error(err, "cannot read object %s: %s", id, gate_git_error());
	ret = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
	git_object_free(obj);
	if (ret < 0) {
		git_error_clear();
		return GATE_ENOTFOUND;
	}
	git_oid_tostr(out, 41, git_object_id(peeled));
	git_object_free(peeled);
	return 0;
}

int gate_repo_is_ancestor(struct gate_repo *repo, const char *ancestor, const char *descendant, int *out,
			  struct gate_buf *err)
{
	git_oid a, d;
	int r;

	if (git_oid_fromstr(&a, ancestor) < 0 || git_oid_fromstr(&d, descendant) < 0)
		return gate_error(err, "bad object id");
	if (git_oid_equal(&a, &d)) {
		*out = 1;
		return 0;
	}
	r = git_graph_descendant_of(repo->git, &d, &a);
	if (r < 0)
		return gate_error(err, "cannot compare %.12s and %.12s: %s", ancestor, descendant, gate_git_error());
	*out = r;
	return 0;
}

int gate_repo_read_blob(struct gate_repo *repo, const char *id, struct gate_buf *out, struct gate_buf *err)
{
	git_blob *blob = NULL;
	git_oid oid;
	int ret;

	if (git_oid_fromstr(&oid, id) < 0)
		return gate_error(err, "'%s' is not an object id", id);
	ret = git_blob_lookup(&blob, repo->git, &oid);
	if (ret == GIT_ENOTFOUND) {
		git_error_clear();
		return GATE_ENOTFOUND;
	}
	if (ret < 0)
		return gate_error(err, "cannot read blob %s: %s", id, gate_git_error());
	gate_buf_add(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	return 0;
}
