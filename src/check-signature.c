#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"
#include "policy.h"
#include "scan.h"
#include "signature.h"

#include "banned.h"

/*
 * signature: every new commit must carry a signature that verifies
 * against the keys the admin trusts: an SSH allowed-signers file
 * (ssh-keygen -Y verify, as `git verify-commit` with gpg.format=ssh does)
 * or a GnuPG keyring.  Optionally the signer must be the pusher, or the
 * committer.  Merges may be let through unsigned (web UIs merge unsigned).
 */

#define FMT_SSH 1u
#define FMT_GPG 2u

struct sig_check {
	unsigned formats; /* which kinds are accepted */
	char *allowed_signers;
	char *keyring;
	char *gnupg_home;
	int signer_is_pusher;
	int signer_is_committer;
	int allow_unsigned_merges;
};

static void sig_free(void *data)
{
	struct sig_check *s = data;

	if (!s)
		return;
	free(s->allowed_signers);
	free(s->keyring);
	free(s->gnupg_home);
	free(s);
}

/* A path key; relative paths are taken from the repository's git directory. */
static int path_key(struct gate_conf_group *g, const char *key, char **out)
{
	const char *v = NULL, *git_dir = gate_conf_git_dir(g);
	int r = gate_conf_string(g, key, &v);

	if (r <= 0)
		return r;
	if (!*v) {
		gate_conf_error(g, key, "must not be empty");
		return -1;
	}
	if (v[0] == '/' || !git_dir)
		*out = gate_xstrdup(v);
	else
		*out = gate_xstrfmt("%s/%s", git_dir, v);
	return 1;
}

static int sig_parse(void **data, struct gate_conf_group *g)
{
	struct sig_check *s = gate_xcalloc(1, sizeof(*s));
	const char *format = "any";
	int bad = 0;

	/* no short-circuits: every key must be looked at to be known */
	bad |= gate_conf_string(g, "format", &format) < 0;
	bad |= path_key(g, "allowed_signers", &s->allowed_signers) < 0;
	bad |= path_key(g, "keyring", &s->keyring) < 0;
	bad |= path_key(g, "gnupg_home", &s->gnupg_home) < 0;
	bad |= gate_conf_bool(g, "signer_is_pusher", &s->signer_is_pusher) < 0;
	bad |= gate_conf_bool(g, "signer_is_committer", &s->signer_is_committer) < 0;
	bad |= gate_conf_bool(g, "allow_unsigned_merges", &s->allow_unsigned_merges) < 0;

	if (!strcmp(format, "ssh")) {
		s->formats = FMT_SSH;
	} else if (!strcmp(format, "gpg") || !strcmp(format, "openpgp")) {
		s->formats = FMT_GPG;
	} else if (!strcmp(format, "any")) {
		s->formats = (s->allowed_signers ? FMT_SSH : 0) | (s->keyring || s->gnupg_home ? FMT_GPG : 0);
	} else {
		gate_conf_error(g, "format", "unknown format \"%s\" (use \"ssh\", \"gpg\" or \"any\")", format);
		bad = 1;
	}
	if (!bad) {
		if ((s->formats & FMT_SSH) && !s->allowed_signers) {
			gate_conf_error(g, NULL, "format \"ssh\" needs 'allowed_signers' (an ssh-keygen ALLOWED "
						 "SIGNERS file)");
			bad = 1;
		}
		if (s->formats == FMT_GPG && !s->keyring && !s->gnupg_home) {
			gate_conf_error(g, NULL, "format \"gpg\" needs 'keyring' or 'gnupg_home'");
			bad = 1;
		}
		if (!s->formats) {
			gate_conf_error(g, NULL, "the signature check needs 'allowed_signers' (SSH) or 'keyring' / "
						 "'gnupg_home' (GnuPG) to verify signatures with");
			bad = 1;
		}
		if (s->formats == FMT_SSH && (s->keyring || s->gnupg_home)) {
			gate_conf_error(g, s->keyring ? "keyring" : "gnupg_home",
					"has no effect with format \"ssh\" (use format \"any\" to accept both)");
			bad = 1;
		}
		if (s->formats == FMT_GPG && s->allowed_signers) {
			gate_conf_error(g, "allowed_signers",
					"has no effect with format \"gpg\" (use format \"any\" to accept both)");
			bad = 1;
		}
	}
	if (bad) {
		sig_free(s);
		return -1;
	}
	*data = s;
	return 0;
}

/* The address inside "Name <addr>", or the whole string. */
static void uid_email(const char *uid, const char **start, size_t *len)
{
	const char *lt = strrchr(uid, '<'), *gt;

	if (lt && (gt = strchr(lt, '>'))) {
		*start = lt + 1;
		*len = (size_t)(gt - lt - 1);
	} else {
		*start = uid;
		*len = strlen(uid);
	}
}

/*
 * Whether a signer (an SSH principal, or a GnuPG user id) names `user`:
 * the signer is `user`, or its address is `user` or `user@anything`.
 */
static int signer_names_user(const char *signer, const char *user)
{
	const char *e, *at;
	size_t n, ul = strlen(user);

	if (!strcmp(signer, user))
		return 1;
	uid_email(signer, &e, &n);
	if (n == ul && !strncmp(e, user, n))
		return 1;
	at = memchr(e, '@', n);
	return at && (size_t)(at - e) == ul && !strncmp(e, user, ul);
}

/* Whether a signer's address is `email` (case-insensitively, like mail). */
static int signer_has_email(const char *signer, const char *email)
{
	const char *e;
	size_t n;

	uid_email(signer, &e, &n);
	return email && n == strlen(email) && !strncasecmp(e, email, n);
}

static void list_signers(struct gate_buf *b, const struct gate_strvec *signers)
{
	size_t i;

	for (i = 0; i < signers->nr; i++)
		gate_buf_addf(b, "%s'%s'", i ? ", " : "", signers->v[i]);
}

#define HINT_SIGN                                                                                                 \
	"sign your commits (git config commit.gpgsign true; for an SSH key also git config gpg.format ssh and "   \
	"git config user.signingkey ~/.ssh/id_ed25519.pub), then re-sign the new ones: "                        \
	"git rebase --exec 'git commit --amend --no-edit -S' <upstream>"

static void report_format(const struct sig_check *s, const struct gate_commit *c, enum gate_sig_format f,
			  struct gate_findings *out)
{
	if (f == GATE_SIG_FORMAT_SSH || f == GATE_SIG_FORMAT_GPG) {
		const char *want = s->formats == FMT_SSH ? "SSH" : "OpenPGP";
		gate_findings_add(out, c, NULL, 0,
				  s->formats == FMT_SSH
					  ? "sign with your SSH key: git config gpg.format ssh; git config user.signingkey "
					    "~/.ssh/id_ed25519.pub; then git commit --amend --no-edit -S (or git rebase "
					    "--exec 'git commit --amend --no-edit -S' <upstream>)"
					  : "sign with your GnuPG key: git config gpg.format openpgp; git config "
					    "user.signingkey KEYID; then git commit --amend --no-edit -S (or git rebase "
					    "--exec 'git commit --amend --no-edit -S' <upstream>)",
				  "the commit is signed with an %s key, but only %s signatures are accepted",
				  gate_sig_format_name(f), want);
	} else {
		gate_findings_add(out, c, NULL, 0, HINT_SIGN, "the commit has a signature of an unsupported kind (%s)",
				  gate_sig_format_name(f));
	}
}

static void check_signer(const struct sig_check *s, const struct gate_check_run *run, const struct gate_commit *c,
			 const struct gate_sig_verdict *v, struct gate_findings *out)
{
	struct gate_buf who = GATE_BUF_INIT;
	size_t i;
	int ok;

	list_signers(&who, &v->signers);
	if (s->signer_is_pusher) {
		for (ok = 0, i = 0; i < v->signers.nr && !ok; i++)
			ok = signer_names_user(v->signers.v[i], run->pusher);
		if (!ok)
			gate_findings_add(out, c, NULL, 0,
					  "push only commits signed with your own key, or let the signer push them; "
					  "an admin maps keys to users in the allowed signers file (principal = user "
					  "name) or the keyring (user id address = user name or user@domain)",
					  "the commit is signed by %s (key %s), not by the pusher '%s'",
					  who.len ? who.ptr : "an unnamed key", v->key ? v->key : "?", run->pusher);
	}
	if (s->signer_is_committer) {
		for (ok = 0, i = 0; i < v->signers.nr && !ok; i++)
			ok = signer_has_email(v->signers.v[i], c->committer.email);
		if (!ok)
			gate_findings_add(out, c, NULL, 0,
					  "commit with the address your key belongs to (git config user.email) and "
					  "amend: git commit --amend --no-edit --reset-author -S, or have the key's "
					  "entry list this address",
					  "the commit is signed by %s (key %s), which is not its committer <%s>",
					  who.len ? who.ptr : "an unnamed key", v->key ? v->key : "?",
					  c->committer.email ? c->committer.email : "");
	}
	gate_buf_release(&who);
}

static int sig_commit(const struct gate_check_run *run, const struct gate_commit *c, struct gate_findings *out)
{
	const struct sig_check *s = run->data;
	struct gate_buf payload = GATE_BUF_INIT, sig = GATE_BUF_INIT;
	struct gate_sig_verdict v = GATE_SIG_VERDICT_INIT;
	struct gate_sig_store store = { s->allowed_signers, s->keyring, s->gnupg_home,
					s->signer_is_pusher || s->signer_is_committer };
	struct gate_sig_cache *cache = NULL;
	enum gate_sig_format f;
	int ret = 0;

	if (!gate_signature_split(c->raw, c->raw_len, &payload, &sig)) {
		if (!(s->allow_unsigned_merges && c->nparents > 1))
			gate_findings_add(out, c, NULL, 0, HINT_SIGN, "the commit is not signed");
		goto out;
	}
	f = gate_signature_format(sig.ptr, sig.len);
	if ((f != GATE_SIG_FORMAT_SSH || !(s->formats & FMT_SSH)) &&
	    (f != GATE_SIG_FORMAT_GPG || !(s->formats & FMT_GPG))) {
		report_format(s, c, f, out);
		goto out;
	}
	if (run->scan) {
		cache = gate_scan_check_state(run->scan, run->def);
		if (!cache) {
			cache = gate_sig_cache_new();
			gate_scan_set_check_state(run->scan, run->def, cache, gate_sig_cache_free);
		}
	}
	if (gate_signature_verify(&v, &store, cache, f, payload.ptr, payload.len, sig.ptr, sig.len, run->err) < 0) {
		ret = -1;
		goto out;
	}
	switch (v.result) {
	case GATE_SIG_GOOD:
		check_signer(s, run, c, &v, out);
		break;
	case GATE_SIG_NO_KEY:
		if (f == GATE_SIG_FORMAT_SSH)
			gate_findings_add(out, c, NULL, 0,
					  "sign with a key the server knows, or ask an admin to add your public key "
					  "(~/.ssh/id_ed25519.pub) to the allowed signers file",
					  "the commit is signed with SSH key %s, which is not in the allowed signers file",
					  v.key ? v.key : "?");
		else
			gate_findings_add(out, c, NULL, 0,
					  "sign with a key the server knows, or ask an admin to import your public key "
					  "(gpg --export --armor KEYID) into the keyring",
					  "the commit is signed with OpenPGP key %s, which is not in the keyring",
					  v.key ? v.key : "?");
		break;
	case GATE_SIG_EXPIRED:
		gate_findings_add(out, c, NULL, 0,
				  "re-sign with a current key (git commit --amend --no-edit -S, or git rebase --exec "
				  "'git commit --amend --no-edit -S' <upstream>), or ask an admin to extend the key",
				  "the commit's signature or signing key %s has expired", v.key ? v.key : "?");
		break;
	case GATE_SIG_REVOKED:
		gate_findings_add(out, c, NULL, 0,
				  "re-sign with a key that is not revoked (git rebase --exec 'git commit --amend "
				  "--no-edit -S' <upstream>)",
				  "the commit is signed with revoked key %s", v.key ? v.key : "?");
		break;
	case GATE_SIG_BAD:
		gate_findings_add(out, c, NULL, 0,
				  "the commit was changed after it was signed, or the signature is damaged or made for "
				  "another purpose: re-sign it (git commit --amend --no-edit -S, or git rebase --exec "
				  "'git commit --amend --no-edit -S' <upstream>)",
				  "the commit's %s signature does not verify%s%s", gate_sig_format_name(f),
				  v.detail ? ": " : "", v.detail ? v.detail : "");
		break;
	}
out:
	gate_sig_verdict_release(&v);
	gate_buf_release(&payload);
	gate_buf_release(&sig);
	return ret;
}

const struct gate_check_type gate_check_signature = {
	.name = "signature",
	.summary = "every new commit signed by a trusted SSH or GnuPG key, optionally the pusher's",
	.parse = sig_parse,
	.free = sig_free,
	.commit = sig_commit,
};
