#ifndef GATE_SIGNATURE_H
#define GATE_SIGNATURE_H

/*
 * Signed commits: taking a commit object apart into its signature and the
 * bytes that were signed (exactly as git's commit.c does), and verifying
 * the signature with the same tools and invocations git uses
 * (gpg-interface.c): `ssh-keygen -Y find-principals` then `-Y verify`
 * against an allowed-signers file, or `gpg --status-fd=1 --verify`
 * against a keyring.
 *
 * The signature goes to a private temporary file (mode 0600 in a fresh
 * mode-0700 directory), the payload to the tool's stdin: pushed bytes
 * never reach a command line.  Children run with a cleaned environment
 * (LC_ALL=C, no GNUPGHOME, no agent sockets).
 *
 *   struct gate_buf payload = GATE_BUF_INIT, sig = GATE_BUF_INIT;
 *   struct gate_sig_verdict v = GATE_SIG_VERDICT_INIT;
 *   if (gate_signature_split(raw, len, &payload, &sig) == 1)
 *           gate_signature_verify(&v, &store, payload.ptr, payload.len, sig.ptr, sig.len, err);
 *   ... v.result, v.key, v.signers ...
 *   gate_sig_verdict_release(&v);
 */

#include <stddef.h>

#include "util.h"

enum gate_sig_format {
	GATE_SIG_FORMAT_UNKNOWN = 0,
	GATE_SIG_FORMAT_SSH,  /* -----BEGIN SSH SIGNATURE----- */
	GATE_SIG_FORMAT_GPG,  /* -----BEGIN PGP SIGNATURE----- (OpenPGP) */
	GATE_SIG_FORMAT_X509, /* -----BEGIN SIGNED MESSAGE----- (gpgsm) */
};

/* "SSH", "OpenPGP", "X.509", "unknown". */
const char *gate_sig_format_name(enum gate_sig_format f);

/* Which kind of signature `sig` is, from its armour line. */
enum gate_sig_format gate_signature_format(const char *sig, size_t len);

/*
 * Split a raw commit object (SHA-1 repository) the way git's
 * parse_buffer_signed_by_header() does: the `gpgsig` header and its
 * continuation lines (those starting with a space, the space removed)
 * become `sig`; every other line, minus any `gpgsig-sha256` header with
 * its continuation lines, becomes `payload`, the bytes that were signed.
 * Headers end at the first empty line; the message is kept whole.
 * Appends to both buffers.  Returns 1 when the object carries a
 * signature, 0 when it does not.
 */
int gate_signature_split(const char *raw, size_t len, struct gate_buf *payload, struct gate_buf *sig);

enum gate_sig_result {
	GATE_SIG_GOOD,        /* verified by a key the store trusts */
	GATE_SIG_BAD,         /* does not verify (changed, damaged, or the wrong namespace) */
	GATE_SIG_NO_KEY,      /* made by a key the store does not hold */
	GATE_SIG_EXPIRED,     /* the signature or its key has expired */
	GATE_SIG_REVOKED,     /* made by a revoked key */
};

struct gate_sig_verdict {
	enum gate_sig_result result;
	char *key;                  /* "SHA256:..." (ssh), a fingerprint or key id (gpg), or NULL */
	struct gate_strvec signers; /* ssh: principals it verified for; gpg: the signing user id */
	char *detail;               /* the tool's own words when it did not verify, or NULL */
};

#define GATE_SIG_VERDICT_INIT { GATE_SIG_BAD, NULL, GATE_STRVEC_INIT, NULL }

void gate_sig_verdict_release(struct gate_sig_verdict *v);

/* Where trusted keys live; NULL members are not configured. */
struct gate_sig_store {
	const char *allowed_signers; /* ssh-keygen's ALLOWED SIGNERS file */
	const char *keyring;         /* a gpg keyring file (gpg --export output, or a .kbx) */
	const char *gnupg_home;      /* a GnuPG home directory whose public keys are trusted */
	int all_principals;          /* ssh: try every principal of the key (to list all who
					verify), not only up to the first that verifies */
};

/*
 * What `ssh-keygen -Y find-principals` said about each signing key, kept
 * for one push (the allowed-signers file does not change meanwhile): a
 * push of many commits signed by one key asks once.  Not thread-safe.
 */
struct gate_sig_cache;
struct gate_sig_cache *gate_sig_cache_new(void);
void gate_sig_cache_free(void *cache);

/*
 * Verify `sig` over `payload` with the tool for `format` (SSH or GPG).
 * `cache` may be NULL.  Returns 0 with `v` filled when the tool gave a
 * verdict, -1 with `err` when it could not be run or its store could not
 * be read (fail closed).
 */
int gate_signature_verify(struct gate_sig_verdict *v, const struct gate_sig_store *store,
			  struct gate_sig_cache *cache, enum gate_sig_format format, const char *payload, size_t payload_len, const char *sig,
			  size_t sig_len, struct gate_buf *err);

/*
 * Parsers of the tools' output, exposed for tests.
 *
 * gpg: `status` is what --status-fd=1 printed.  Exactly one of GOODSIG,
 * BADSIG, ERRSIG, EXPSIG, EXPKEYSIG, REVKEYSIG must appear (more means
 * several signatures, which git refuses too: BAD).  VALIDSIG supplies the
 * fingerprint.  GOOD needs GOODSIG and `exit_status` 0.
 */
void gate_signature_parse_gpg(struct gate_sig_verdict *v, const char *status, int exit_status);

/*
 * ssh-keygen -Y verify / check-novalidate: the first line of stdout,
 * `Good "git" signature for PRINCIPAL with ALGO key SHA256:...` or
 * `Good "git" signature with ALGO key SHA256:...`.  Returns 1 when it
 * says Good (setting *principal to a new string, or NULL when none was
 * named, and *key likewise), 0 otherwise.
 */
int gate_signature_parse_ssh(const char *out, char **principal, char **key);

/* The public key of an armoured SSH signature as hex, or NULL (caller frees). */
char *gate_signature_ssh_key(const char *sig, size_t len);

#endif
