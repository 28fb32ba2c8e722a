#include "config.h"
#include "signature.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run-command.h"

#include "banned.h"

/* ssh-keygen and gpg must not hang a push: git never times a hook out */
#define VERIFY_TIMEOUT 60

/* At most this many principals of one key are tried (git tries them all). */
#define MAX_PRINCIPALS 16

const char *gate_sig_format_name(enum gate_sig_format f)
{
	switch (f) {
	case GATE_SIG_FORMAT_SSH:
		return "SSH";
	case GATE_SIG_FORMAT_GPG:
		return "OpenPGP";
	case GATE_SIG_FORMAT_X509:
		return "X.509";
	case GATE_SIG_FORMAT_UNKNOWN:
		break;
	}
	return "unknown";
}

static int starts_with_n(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(s, prefix, n);
}

enum gate_sig_format gate_signature_format(const char *sig, size_t len)
{
	/* git's gpg_format[].sigs */
	if (starts_with_n(sig, len, "-----BEGIN SSH SIGNATURE-----"))
		return GATE_SIG_FORMAT_SSH;
	if (starts_with_n(sig, len, "-----BEGIN PGP SIGNATURE-----") ||
	    starts_with_n(sig, len, "-----BEGIN PGP MESSAGE-----"))
		return GATE_SIG_FORMAT_GPG;
	if (starts_with_n(sig, len, "-----BEGIN SIGNED MESSAGE-----"))
		return GATE_SIG_FORMAT_X509;
	return GATE_SIG_FORMAT_UNKNOWN;
}

int gate_signature_split(const char *raw, size_t len, struct gate_buf *payload, struct gate_buf *sig)
{
	/* A line-by-line copy of git's parse_buffer_signed_by_header() for SHA-1. */
	static const char header[] = "gpgsig";
	const size_t hlen = sizeof(header) - 1;
	const char *line = raw, *tail = raw + len;
	int in_signature = 0, saw_signature = 0, other_signature = 0;

	while (line < tail) {
		const char *s = NULL;
		const char *next = memchr(line, '\n', (size_t)(tail - line));
		size_t rest = (size_t)(tail - line);

		next = next ? next + 1 : tail;
		if (in_signature && line[0] == ' ') {
			s = line + 1;
		} else if (rest > hlen && !memcmp(line, header, hlen) && line[hlen] == ' ') {
			s = line + hlen + 1;
			other_signature = 0;
		} else if (starts_with_n(line, rest, header)) {
			other_signature = 1; /* gpgsig-sha256: another hash's signature */
		} else if (other_signature && line[0] != ' ') {
			other_signature = 0;
		}
		if (s) {
			gate_buf_add(sig, s, (size_t)(next - s));
			saw_signature = 1;
			in_signature = 1;
		} else {
			if (*line == '\n')
				next = tail; /* the message: keep the whole remainder */
			if (!other_signature)
				gate_buf_add(payload, line, (size_t)(next - line));
			in_signature = 0;
		}
		line = next;
	}
	return saw_signature;
}

void gate_sig_verdict_release(struct gate_sig_verdict *v)
{
	free(v->key);
	free(v->detail);
	gate_strvec_clear(&v->signers);
	v->key = NULL;
	v->detail = NULL;
	v->result = GATE_SIG_BAD;
}

/* --- gpg ------------------------------------------------------------------- */

static char *field_dup(const char *s)
{
	return gate_xstrndup(s, strcspn(s, " \n"));
}

void gate_signature_parse_gpg(struct gate_sig_verdict *v, const char *status, int exit_status)
{
	static const struct {
		const char *tag;
		enum gate_sig_result result;
		int has_uid;
	} excl[] = {
		{ "GOODSIG ", GATE_SIG_GOOD, 1 },     { "BADSIG ", GATE_SIG_BAD, 1 },
		{ "ERRSIG ", GATE_SIG_BAD, 0 },       { "EXPSIG ", GATE_SIG_EXPIRED, 1 },
		{ "EXPKEYSIG ", GATE_SIG_EXPIRED, 1 }, { "REVKEYSIG ", GATE_SIG_REVOKED, 1 },
	};
	const char *line = status, *p;
	int seen = 0, good = 0, no_key = 0;
	char *uid = NULL, *keyid = NULL, *fpr = NULL;
	size_t i;

	v->result = GATE_SIG_BAD;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		if (gate_skip_prefix(line, "[GNUPG:] ", &p)) {
			for (i = 0; i < GATE_ARRAY_SIZE(excl); i++) {
				if (!gate_skip_prefix(p, excl[i].tag, &p))
					continue;
				seen++;
				v->result = excl[i].result;
				good = excl[i].result == GATE_SIG_GOOD;
				free(keyid);
				keyid = field_dup(p);
				if (excl[i].has_uid) {
					const char *u = p + strcspn(p, " \n");
					free(uid);
					uid = *u == ' ' ? gate_xstrndup(u + 1, strcspn(u + 1, "\n")) : NULL;
				} else {
					/* ERRSIG <keyid> <pkalgo> <hashalgo> <class> <time> <rc> [<fpr>] */
					const char *f = p;
					int k;
					for (k = 0; k < 5 && f; k++) {
						f = strchr(f, ' ');
						f = f && f < line + n ? f + 1 : NULL;
					}
					if (f && !strncmp(f, "9", 1) && (f[1] == ' ' || f[1] == '\n' || !f[1]))
						no_key = 1;
				}
				break;
			}
			if (gate_skip_prefix(p, "NO_PUBKEY ", &p))
				no_key = 1;
			else if (gate_skip_prefix(p, "VALIDSIG ", &p)) {
				free(fpr);
				fpr = field_dup(p);
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	if (seen != 1) {
		v->result = GATE_SIG_BAD;
		if (seen > 1) {
			free(v->detail);
			v->detail = gate_xstrdup("more than one signature");
		}
	} else if (good && exit_status) {
		v->result = GATE_SIG_BAD;
	} else if (v->result == GATE_SIG_BAD && no_key) {
		v->result = GATE_SIG_NO_KEY;
	}
	free(v->key);
	v->key = fpr && *fpr ? fpr : keyid;
	if (v->key == fpr)
		free(keyid);
	else
		free(fpr);
	if (v->result == GATE_SIG_GOOD && uid)
		gate_strvec_push(&v->signers, uid);
	free(uid);
}

/* --- ssh ------------------------------------------------------------------- */

int gate_signature_parse_ssh(const char *out, char **principal, char **key)
{
	const char *line, *p, *search, *k;
	size_t n = strcspn(out, "\n");
	char *first = gate_xstrndup(out, n);
	int ret = 0;

	*principal = NULL;
	*key = NULL;
	line = first;
	if (gate_skip_prefix(line, "Good \"git\" signature for ", &line)) {
		/* the principal may hold spaces: it ends at the last " with " (git does the same) */
		p = line;
		while ((search = strstr(line, " with ")))
			line = search + 1;
		if (line == p)
			goto out;
		*principal = gate_xstrndup(p, (size_t)(line - p - 1));
	} else if (!gate_skip_prefix(line, "Good \"git\" signature with ", &line)) {
		goto out;
	}
	k = strstr(line, "key ");
	if (!k) {
		free(*principal);
		*principal = NULL;
		goto out;
	}
	*key = gate_xstrdup(k + 4);
	ret = 1;
out:
	free(first);
	return ret;
}

/* --- running the tools ------------------------------------------------------ */

static const char *const clean_env[] = {
	"LC_ALL=C", "LANG=C", "LANGUAGE", "GNUPGHOME", "GPG_AGENT_INFO", "GPG_TTY", "SSH_AUTH_SOCK",
	"SSH_ASKPASS", "DISPLAY", NULL,
};

/* Remove `path` and everything below it (it is our own private directory). */
static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (d) {
		while ((e = readdir(d))) {
			char *sub;
			struct stat st;
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			sub = gate_xstrfmt("%s/%s", path, e->d_name);
			if (!lstat(sub, &st) && S_ISDIR(st.st_mode))
				remove_tree(sub);
			else
				unlink(sub);
			free(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static int make_private_dir(char **out, struct gate_buf *err)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	if (!tmp || *tmp != '/')
		tmp = "/tmp";
	dir = gate_xstrfmt("%s/git-gate-sig.XXXXXX", tmp);
	if (!mkdtemp(dir)) {
		int e = errno;
		free(dir);
		return gate_error(err, "cannot create a temporary directory in '%s': %s", tmp, strerror(e));
	}
	*out = dir;
	return 0;
}

static int write_private_file(const char *path, const char *data, size_t len, struct gate_buf *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return gate_error(err, "cannot create '%s': %s", path, strerror(errno));
	if (gate_write_all(fd, data, len) < 0) {
		int e = errno;
		close(fd);
		return gate_error(err, "cannot write '%s': %s", path, strerror(e));
	}
	if (close(fd) < 0)
		return gate_error(err, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

static char *first_line(const struct gate_buf *a, const struct gate_buf *b)
{
	const struct gate_buf *src[2] = { a, b };
	size_t i;

	for (i = 0; i < 2; i++) {
		const char *s = gate_buf_cstr(src[i]);
		while (*s == '\n' || *s == ' ')
			s++;
		if (*s)
			return gate_xstrndup(s, strcspn(s, "\n"));
	}
	return NULL;
}

static int readable(const char *what, const char *path, int want_dir, struct gate_buf *err)
{
	struct stat st;

	if (stat(path, &st) < 0 || access(path, R_OK) < 0)
		return gate_error(err, "%s '%s' cannot be read: %s", what, path, strerror(errno));
	if (want_dir && !S_ISDIR(st.st_mode))
		return gate_error(err, "%s '%s' is not a directory", what, path);
	if (!want_dir && S_ISDIR(st.st_mode))
		return gate_error(err, "%s '%s' is a directory", what, path);
	return 0;
}

/* --- what find-principals said about each key, for the length of a push --- */

struct sig_cache_entry {
	char *key;        /* the signing public key, hex */
	char *principals; /* find-principals' output, one a line; "" for none */
};

struct gate_sig_cache {
	struct sig_cache_entry *v;
	size_t nr, alloc;
};

struct gate_sig_cache *gate_sig_cache_new(void)
{
	return gate_xcalloc(1, sizeof(struct gate_sig_cache));
}

void gate_sig_cache_free(void *p)
{
	struct gate_sig_cache *c = p;
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nr; i++) {
		free(c->v[i].key);
		free(c->v[i].principals);
	}
	free(c->v);
	free(c);
}

static int b64_value(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * The public key inside an armoured SSH signature (PROTOCOL.sshsig:
 * "SSHSIG", uint32 version, string publickey, ...), as hex; NULL when
 * the signature does not parse (then nothing is cached for it).
 */
char *gate_signature_ssh_key(const char *sig, size_t len)
{
	static const char begin[] = "-----BEGIN SSH SIGNATURE-----";
	struct gate_buf raw = GATE_BUF_INIT, hex = GATE_BUF_INIT;
	const char *p = sig + sizeof(begin) - 1, *end = sig + len;
	unsigned acc = 0;
	int bits = 0;
	uint32_t klen;
	char *ret = NULL;
	size_t i;

	if (len < sizeof(begin) - 1 || memcmp(sig, begin, sizeof(begin) - 1))
		return NULL;
	for (; p < end && *p != '-' && *p != '='; p++) {
		int v = b64_value((unsigned char)*p);
		if (v < 0) {
			if (*p == '\n' || *p == '\r' || *p == ' ')
				continue;
			goto out;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			gate_buf_addch(&raw, (int)((acc >> bits) & 0xff));
		}
	}
	if (raw.len < 6 + 4 + 4 || memcmp(raw.ptr, "SSHSIG", 6))
		goto out;
	klen = get_u32((const unsigned char *)raw.ptr + 10);
	if (!klen || klen > raw.len - 14)
		goto out;
	for (i = 0; i < klen; i++)
		gate_buf_addf(&hex, "%02x", (unsigned char)raw.ptr[14 + i]);
	ret = gate_buf_detach(&hex);
out:
	gate_buf_release(&raw);
	gate_buf_release(&hex);
	return ret;
}

static const struct sig_cache_entry *cache_find(const struct gate_sig_cache *c, const char *key)
{
	size_t i;

	for (i = 0; c && key && i < c->nr; i++)
		if (!strcmp(c->v[i].key, key))
			return &c->v[i];
	return NULL;
}

static void cache_add(struct gate_sig_cache *c, const char *key, const char *principals)
{
	if (!c || !key)
		return;
	GATE_ALLOC_GROW(c->v, c->nr + 1, c->alloc);
	c->v[c->nr].key = gate_xstrdup(key);
	c->v[c->nr].principals = gate_xstrdup(principals);
	c->nr++;
}

static int verify_ssh(struct gate_sig_verdict *v, const char *allowed, int all, struct gate_sig_cache *cache,
		      const char *sig, size_t sig_len, const char *sigfile, const char *payload,
		      size_t payload_len, struct gate_buf *err)
{
	struct gate_buf out = GATE_BUF_INIT, errout = GATE_BUF_INIT;
	char *principal = NULL, *key = NULL, *keyhex = NULL;
	const struct sig_cache_entry *hit;
	const char *line;
	int status, ret = -1, tried = 0;

	if (readable("allowed signers file", allowed, 0, err) < 0)
		return -1;
	keyhex = cache ? gate_signature_ssh_key(sig, sig_len) : NULL;
	hit = cache_find(cache, keyhex);
	if (hit) {
		status = 0;
		gate_buf_adds(&out, hit->principals);
	} else {
		const char *argv[] = { "ssh-keygen", "-Y", "find-principals", "-f", allowed, "-s", sigfile, NULL };
		if (gate_run_capture_timeout(argv, clean_env, NULL, NULL, 0, &out, &errout, &status, VERIFY_TIMEOUT,
					     err) < 0)
			goto out;
		if (status && strstr(gate_buf_cstr(&errout), "usage:")) {
			gate_error(err, "ssh-keygen cannot verify signatures (OpenSSH 8.2p1 or later is needed)");
			goto out;
		}
		/* the key's principals do not change during a push */
		cache_add(cache, keyhex, status ? "" : gate_buf_cstr(&out));
	}
	if (status || !out.len) {
		/* No principal holds this key: is it a good signature by an unknown key? */
		const char *argv[] = { "ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", sigfile, NULL };
		gate_buf_reset(&out);
		gate_buf_reset(&errout);
		if (gate_run_capture_timeout(argv, clean_env, NULL, payload, payload_len, &out, &errout, &status,
					     VERIFY_TIMEOUT, err) < 0)
			goto out;
		if (!status && gate_signature_parse_ssh(out.ptr ? out.ptr : "", &principal, &key)) {
			v->result = GATE_SIG_NO_KEY;
			v->key = key;
			key = NULL;
		} else {
			v->result = GATE_SIG_BAD;
			v->detail = first_line(&errout, &out);
		}
		ret = 0;
		goto out;
	}

	/* Try each principal of the key, like git (one per line). */
	{
		struct gate_buf principals = GATE_BUF_INIT;
		gate_buf_add(&principals, out.ptr, out.len);
		v->result = GATE_SIG_BAD;
		for (line = principals.ptr; *line && tried < MAX_PRINCIPALS && (all || v->result != GATE_SIG_GOOD);) {
			size_t n = strcspn(line, "\n");
			char *p = gate_xstrndup(line, n);
			const char *argv[] = { "ssh-keygen", "-Y", "verify", "-n", "git", "-f", allowed,
					       "-I", p, "-s", sigfile, NULL };

			line += n;
			if (*line)
				line++;
			if (n && p[n - 1] == '\r')
				p[n - 1] = '\0';
			if (!*p) {
				free(p);
				continue;
			}
			tried++;
			gate_buf_reset(&out);
			gate_buf_reset(&errout);
			if (gate_run_capture_timeout(argv, clean_env, NULL, payload, payload_len, &out, &errout,
						     &status, VERIFY_TIMEOUT, err) < 0) {
				free(p);
				gate_buf_release(&principals);
				goto out;
			}
			if (!status && gate_signature_parse_ssh(out.ptr ? out.ptr : "", &principal, &key)) {
				v->result = GATE_SIG_GOOD;
				gate_strvec_push(&v->signers, p);
				if (!v->key) {
					v->key = key;
					key = NULL;
				}
			} else if (!v->detail) {
				v->detail = first_line(&errout, &out);
			}
			free(principal);
			free(key);
			principal = key = NULL;
			free(p);
		}
		gate_buf_release(&principals);
	}
	if (v->result == GATE_SIG_GOOD) {
		free(v->detail);
		v->detail = NULL;
	}
	ret = 0;
out:
	free(principal);
	free(key);
	free(keyhex);
	gate_buf_release(&out);
	gate_buf_release(&errout);
	return ret;
}

static int verify_gpg(struct gate_sig_verdict *v, const struct gate_sig_store *store, const char *tmpdir,
		      const char *sigfile, const char *payload, size_t payload_len, struct gate_buf *err)
{
	struct gate_buf out = GATE_BUF_INIT, errout = GATE_BUF_INIT;
	struct gate_strvec argv = GATE_STRVEC_INIT;
	char *home = NULL;
	int status, ret = -1;

	if (store->gnupg_home && readable("GnuPG home directory", store->gnupg_home, 1, err) < 0)
		goto out;
	if (store->keyring && readable("keyring", store->keyring, 0, err) < 0)
		goto out;
	if (store->gnupg_home) {
		home = gate_xstrdup(store->gnupg_home);
	} else {
		/* a private, empty home: nothing but the keyring is trusted */
		home = gate_xstrfmt("%s/gnupg", tmpdir);
		if (mkdir(home, 0700) < 0) {
			gate_error(err, "cannot create '%s': %s", home, strerror(errno));
			goto out;
		}
	}
	gate_strvec_push(&argv, "gpg");
	gate_strvec_push(&argv, "--batch");
	gate_strvec_push(&argv, "--no-tty");
	gate_strvec_push(&argv, "--no-permission-warning");
	gate_strvec_push(&argv, "--no-auto-key-retrieve");
	gate_strvec_push(&argv, "--homedir");
	gate_strvec_push(&argv, home);
	if (store->keyring) {
		gate_strvec_push(&argv, "--no-default-keyring");
		gate_strvec_push(&argv, "--keyring");
		gate_strvec_push(&argv, store->keyring);
	}
	/* the store is the trust decision: every key in it is trusted */
	gate_strvec_push(&argv, "--trust-model");
	gate_strvec_push(&argv, "always");
	gate_strvec_push(&argv, "--status-fd=1");
	gate_strvec_push(&argv, "--verify");
	gate_strvec_push(&argv, sigfile);
	gate_strvec_push(&argv, "-");
	if (gate_run_capture_timeout(gate_strvec_argv(&argv), clean_env, NULL, payload, payload_len, &out, &errout,
				     &status, VERIFY_TIMEOUT, err) < 0)
		goto out;
	if (status == 127 && !out.len) {
		gate_error(err, "gpg could not be run: %s", gate_buf_cstr(&errout));
		goto out;
	}
	gate_signature_parse_gpg(v, gate_buf_cstr(&out), status);
	if (v->result != GATE_SIG_GOOD && !v->detail) {
		/* gpg's human-readable lines: the one that says what went wrong */
		const char *s = gate_buf_cstr(&errout), *hit = NULL;
		if ((hit = strstr(s, "BAD signature")) || (hit = strstr(s, "Can't check signature")) ||
		    (hit = strstr(s, "expired")) || (hit = strstr(s, "revoked")))
			v->detail = gate_xstrndup(hit, strcspn(hit, "\n"));
		else
			v->detail = first_line(&errout, &out);
	}
	ret = 0;
out:
	free(home);
	gate_strvec_clear(&argv);
	gate_buf_release(&out);
	gate_buf_release(&errout);
	return ret;
}

int gate_signature_verify(struct gate_sig_verdict *v, const struct gate_sig_store *store,
			  struct gate_sig_cache *cache, enum gate_sig_format format, const char *payload, size_t payload_len, const char *sig,
			  size_t sig_len, struct gate_buf *err)
{
	char *dir = NULL, *sigfile = NULL;
	int ret = -1;

	if (format == GATE_SIG_FORMAT_SSH && !store->allowed_signers)
		return gate_error(err, "no allowed signers file to verify SSH signatures with");
	if (format == GATE_SIG_FORMAT_GPG && !store->keyring && !store->gnupg_home)
		return gate_error(err, "no keyring to verify OpenPGP signatures with");
	if (format != GATE_SIG_FORMAT_SSH && format != GATE_SIG_FORMAT_GPG)
		return gate_error(err, "cannot verify %s signatures", gate_sig_format_name(format));
	if (make_private_dir(&dir, err) < 0)
		return -1;
	sigfile = gate_xstrfmt("%s/signature", dir);
	if (write_private_file(sigfile, sig, sig_len, err) < 0)
		goto out;
	if (format == GATE_SIG_FORMAT_SSH)
		ret = verify_ssh(v, store->allowed_signers, store->all_principals, cache, sig, sig_len, sigfile, payload, payload_len, err);
	else
		ret = verify_gpg(v, store, dir, sigfile, payload, payload_len, err);
out:
	remove_tree(dir);
	free(sigfile);
	free(dir);
	return ret;
}
