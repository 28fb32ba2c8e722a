#include "unit.h"

#include "check.h"
#include "scan.h"
#include "signature.h"

#define TREE "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
#define PARENT1 "parent 1111111111111111111111111111111111111111\n"
#define PARENT2 "parent 2222222222222222222222222222222222222222\n"
#define IDENTS                                                               \
	"author A U Thor <author@example.com> 1700000000 +0000\n"           \
	"committer C O Mitter <committer@example.com> 1700000000 +0000\n"

#define SSH_SIG_HEADER                                                       \
	"gpgsig -----BEGIN SSH SIGNATURE-----\n"                            \
	" U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAg\n"                   \
	" \n"                                                               \
	" -----END SSH SIGNATURE-----\n"

#define SSH_SIG_TEXT                                                         \
	"-----BEGIN SSH SIGNATURE-----\n"                                   \
	"U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAg\n"                    \
	"\n"                                                                \
	"-----END SSH SIGNATURE-----\n"

#define PGP_SIG_HEADER                                                       \
	"gpgsig -----BEGIN PGP SIGNATURE-----\n"                            \
	" \n"                                                               \
	" iHUEABYKAB0WIQRkubrppWxSnHE7EOrTgxtmPGJAOgUCZ2VzAAAKCRDTgxtmPGJA\n" \
	" -----END PGP SIGNATURE-----\n"

static void split(const char *raw, int want, const char *want_payload, const char *want_sig)
{
	struct gate_buf payload = GATE_BUF_INIT, sig = GATE_BUF_INIT;

	assert_int_equal(gate_signature_split(raw, strlen(raw), &payload, &sig), want);
	assert_string_equal(gate_buf_cstr(&payload), want_payload);
	assert_string_equal(gate_buf_cstr(&sig), want_sig);
	gate_buf_release(&payload);
	gate_buf_release(&sig);
}

static void test_signature__unsigned_commit_is_its_own_payload(void **state)
{
	const char *raw = TREE PARENT1 IDENTS "\nSubject\n\nBody\n";

	(void)state;
	split(raw, 0, raw, "");
}

static void test_signature__gpgsig_header_and_continuations_are_the_signature(void **state)
{
	(void)state;
	split(TREE PARENT1 IDENTS SSH_SIG_HEADER "\nSubject\n", 1, TREE PARENT1 IDENTS "\nSubject\n", SSH_SIG_TEXT);
}

static void test_signature__headers_after_the_signature_stay_in_the_payload(void **state)
{
	/* a mergetag after gpgsig: its continuation lines belong to the payload */
	const char *raw = TREE PARENT1 PARENT2 IDENTS SSH_SIG_HEADER "mergetag object 2222\n"
				  " type commit\n"
				  " tag v1\n"
				  "encoding ISO-8859-1\n"
				  "\nMerge tag v1\n";
	const char *payload = TREE PARENT1 PARENT2 IDENTS "mergetag object 2222\n"
						     " type commit\n"
						     " tag v1\n"
						     "encoding ISO-8859-1\n"
						     "\nMerge tag v1\n";

	(void)state;
	split(raw, 1, payload, SSH_SIG_TEXT);
}

static void test_signature__a_sha256_signature_is_dropped_from_payload_and_signature(void **state)
{
	const char *raw = TREE IDENTS "gpgsig-sha256 -----BEGIN SSH SIGNATURE-----\n"
				      " AAAA\n"
				      " -----END SSH SIGNATURE-----\n" PGP_SIG_HEADER "\nSubject\n";

	(void)state;
	split(raw, 1, TREE IDENTS "\nSubject\n",
	      "-----BEGIN PGP SIGNATURE-----\n"
	      "\n"
	      "iHUEABYKAB0WIQRkubrppWxSnHE7EOrTgxtmPGJAOgUCZ2VzAAAKCRDTgxtmPGJA\n"
	      "-----END PGP SIGNATURE-----\n");
	/* only a gpgsig-sha256: unsigned for a SHA-1 repository */
	split(TREE IDENTS "gpgsig-sha256 x\n y\n\nS\n", 0, TREE IDENTS "\nS\n", "");
}

static void test_signature__gpgsig_in_the_message_is_not_a_signature(void **state)
{
	const char *raw = TREE IDENTS "\nSubject\n\ngpgsig -----BEGIN SSH SIGNATURE-----\n x\n";

	(void)state;
	split(raw, 0, raw, "");
}

static void test_signature__format_is_told_by_the_armour(void **state)
{
	(void)state;
	assert_int_equal(gate_signature_format(SSH_SIG_TEXT, strlen(SSH_SIG_TEXT)), GATE_SIG_FORMAT_SSH);
	assert_int_equal(gate_signature_format("-----BEGIN PGP SIGNATURE-----\n", 30), GATE_SIG_FORMAT_GPG);
	assert_int_equal(gate_signature_format("-----BEGIN SIGNED MESSAGE-----\n", 31), GATE_SIG_FORMAT_X509);
	assert_int_equal(gate_signature_format("garbage", 7), GATE_SIG_FORMAT_UNKNOWN);
	assert_int_equal(gate_signature_format("-----BEGIN SSH", 14), GATE_SIG_FORMAT_UNKNOWN);
}

#define FPR "64B9BAE9A56C529C713B10EAD3831B663C62403A"

static void test_signature__gpg_good_signature_gives_fingerprint_and_user_id(void **state)
{
	struct gate_sig_verdict v = GATE_SIG_VERDICT_INIT;

	(void)state;
	gate_signature_parse_gpg(&v,
				 "[GNUPG:] NEWSIG\n"
				 "[GNUPG:] KEY_CONSIDERED " FPR " 0\n"
				 "[GNUPG:] GOODSIG D3831B663C62403A Alice <alice@example.com>\n"
				 "[GNUPG:] VALIDSIG " FPR " 2026-11-27 1795821368 0 4 0 22 8 00 " FPR "\n",
				 0);
	assert_int_equal(v.result, GATE_SIG_GOOD);
	assert_string_equal(v.key, FPR);
	assert_int_equal(v.signers.nr, 1);
	assert_string_equal(v.signers.v[0], "Alice <alice@example.com>");
	gate_sig_verdict_release(&v);

	/* GOODSIG but gpg failed: not good */
	gate_signature_parse_gpg(&v, "[GNUPG:] GOODSIG D3831B663C62403A Alice <alice@example.com>\n", 2);
	assert_int_equal(v.result, GATE_SIG_BAD);
	assert_int_equal(v.signers.nr, 0);
	gate_sig_verdict_release(&v);
}

static void test_signature__gpg_bad_missing_key_expired_revoked_and_double(void **state)
{
	struct gate_sig_verdict v = GATE_SIG_VERDICT_INIT;

	(void)state;
	gate_signature_parse_gpg(&v, "[GNUPG:] BADSIG D3831B663C62403A Alice <alice@example.com>\n", 1);
	assert_int_equal(v.result, GATE_SIG_BAD);
	assert_string_equal(v.key, "D3831B663C62403A");
	gate_sig_verdict_release(&v);

	gate_signature_parse_gpg(&v,
				 "[GNUPG:] ERRSIG D3831B663C62403A 22 8 00 1795821368 9 " FPR "\n"
				 "[GNUPG:] NO_PUBKEY D3831B663C62403A\n",
				 2);
	assert_int_equal(v.result, GATE_SIG_NO_KEY);
	assert_string_equal(v.key, "D3831B663C62403A");
	gate_sig_verdict_release(&v);

	/* ERRSIG for another reason (rc 4: unknown algorithm) is a bad signature */
	gate_signature_parse_gpg(&v, "[GNUPG:] ERRSIG D3831B663C62403A 99 8 00 1795821368 4 " FPR "\n", 2);
	assert_int_equal(v.result, GATE_SIG_BAD);
	gate_sig_verdict_release(&v);

	gate_signature_parse_gpg(&v, "[GNUPG:] EXPKEYSIG D3831B663C62403A Alice <alice@example.com>\n", 0);
	assert_int_equal(v.result, GATE_SIG_EXPIRED);
	gate_sig_verdict_release(&v);

	gate_signature_parse_gpg(&v, "[GNUPG:] REVKEYSIG D3831B663C62403A Alice <alice@example.com>\n", 0);
	assert_int_equal(v.result, GATE_SIG_REVOKED);
	gate_sig_verdict_release(&v);

	gate_signature_parse_gpg(&v,
				 "[GNUPG:] GOODSIG D3831B663C62403A Alice <alice@example.com>\n"
				 "[GNUPG:] GOODSIG 0000000000000000 Mallory <m@example.com>\n",
				 0);
	assert_int_equal(v.result, GATE_SIG_BAD);
	assert_non_null(v.detail);
	assert_non_null(strstr(v.detail, "more than one"));
	gate_sig_verdict_release(&v);

	gate_signature_parse_gpg(&v, "gpg: no valid OpenPGP data found.\n", 2);
	assert_int_equal(v.result, GATE_SIG_BAD);
	gate_sig_verdict_release(&v);
}

static void test_signature__ssh_output_names_principal_and_key(void **state)
{
	char *p, *k;

	(void)state;
	assert_int_equal(gate_signature_parse_ssh("Good \"git\" signature for alice@example.com with ED25519 key "
						  "SHA256:6X3zcXKN//dfLI\n",
						  &p, &k),
			 1);
	assert_string_equal(p, "alice@example.com");
	assert_string_equal(k, "SHA256:6X3zcXKN//dfLI");
	free(p);
	free(k);

	/* a principal holding " with " ends at the last one */
	assert_int_equal(gate_signature_parse_ssh("Good \"git\" signature for a with b with RSA key SHA256:x", &p, &k),
			 1);
	assert_string_equal(p, "a with b");
	free(p);
	free(k);

	assert_int_equal(gate_signature_parse_ssh("Good \"git\" signature with ED25519 key SHA256:abc\n", &p, &k), 1);
	assert_null(p);
	assert_string_equal(k, "SHA256:abc");
	free(k);

	assert_int_equal(gate_signature_parse_ssh("Could not verify signature.\n", &p, &k), 0);
	assert_null(p);
	assert_null(k);
	assert_int_equal(gate_signature_parse_ssh("", &p, &k), 0);
}

static void test_signature__the_public_key_is_read_from_an_ssh_signature(void **state)
{
	/* ssh-keygen -Y sign -n git with an ed25519 key; its public key in hex */
	static const char sig[] = "-----BEGIN SSH SIGNATURE-----\n"
				  "U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgTfjuWfAvLOyxVwakOUJkQy9TIh\n"
				  "L8Tm3BPjG19CutJmwAAAADZ2l0AAAAAAAAAAZzaGE1MTIAAABTAAAAC3NzaC1lZDI1NTE5\n"
				  "AAAAQM3dW6JjQR69Dgl0lp7hXtV1tvMVf4vkXDxM0CMsA1alXC5INDHsytrZdoSROcgxMg\n"
				  "2ddtEGsZ8Y9RGteDP4Bg4=\n"
				  "-----END SSH SIGNATURE-----\n";
	char *key = gate_signature_ssh_key(sig, strlen(sig));

	(void)state;
	assert_non_null(key);
	assert_string_equal(key, "0000000b7373682d65643235353139000000204df8ee59f02f2cecb15706a4394264432f53"
				 "2212fc4e6dc13e31b5f42bad266c");
	free(key);
	/* garbage, a truncated blob, another armour: no key (nothing cached) */
	assert_null(gate_signature_ssh_key("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n", 39));
	assert_null(gate_signature_ssh_key("-----BEGIN SSH SIGNATURE-----\n!!!!\n", 36));
	assert_null(gate_signature_ssh_key("-----BEGIN PGP SIGNATURE-----\nU1NIU0lH\n", 39));
	assert_null(gate_signature_ssh_key("", 0));
}

#define POLICY(keys) "checks = { s = { type = \"signature\"; " keys " }; };\n"

static struct gate_findings run_sig(const char *policy, const char *raw, int want_ret)
{
	struct gate_config *cfg = unit_policy(policy);
	struct gate_findings out = GATE_FINDINGS_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	struct gate_commit c;
	struct gate_check_run run;

	assert_int_equal(gate_commit_parse(&c, "0123456789abcdef0123456789abcdef01234567", raw, strlen(raw), &err), 0);
	memset(&run, 0, sizeof(run));
	run.def = &cfg->checks[0];
	run.data = cfg->checks[0].data;
	run.pusher = "tester";
	run.err = &err;
	assert_int_equal(cfg->checks[0].type->commit(&run, &c, &out), want_ret);
	if (want_ret < 0)
		assert_true(err.len > 0);
	gate_commit_release(&c);
	gate_config_free(cfg);
	gate_buf_release(&err);
	return out;
}

static void test_signature__unsigned_commits_are_reported_with_how_to_sign(void **state)
{
	struct gate_findings f = run_sig(POLICY("allowed_signers = \"/nonexistent/allowed\";"),
					 TREE PARENT1 IDENTS "\nSubject\n", 0);

	(void)state;
	assert_int_equal(f.nr, 1);
	assert_string_equal(f.v[0].message, "the commit is not signed");
	assert_non_null(strstr(f.v[0].hint, "commit.gpgsign"));
	assert_non_null(strstr(f.v[0].hint, "git rebase --exec 'git commit --amend --no-edit -S'"));
	gate_findings_release(&f);
}

static void test_signature__unsigned_merges_pass_only_when_allowed(void **state)
{
	const char *merge = TREE PARENT1 PARENT2 IDENTS "\nMerge branch 'x'\n";
	struct gate_findings strict = run_sig(POLICY("allowed_signers = \"/nonexistent/allowed\";"), merge, 0);
	struct gate_findings lax = run_sig(
		POLICY("allowed_signers = \"/nonexistent/allowed\"; allow_unsigned_merges = true;"), merge, 0);
	struct gate_findings single = run_sig(
		POLICY("allowed_signers = \"/nonexistent/allowed\"; allow_unsigned_merges = true;"),
		TREE PARENT1 IDENTS "\nNot a merge\n", 0);

	(void)state;
	assert_int_equal(strict.nr, 1);
	assert_int_equal(lax.nr, 0);
	assert_int_equal(single.nr, 1);
	gate_findings_release(&strict);
	gate_findings_release(&lax);
	gate_findings_release(&single);
}

static void test_signature__a_signature_of_the_wrong_kind_is_reported_without_running_tools(void **state)
{
	struct gate_findings f = run_sig(POLICY("format = \"ssh\"; allowed_signers = \"/nonexistent/allowed\";"),
					 TREE IDENTS PGP_SIG_HEADER "\nSubject\n", 0);

	(void)state;
	assert_int_equal(f.nr, 1);
	assert_string_equal(f.v[0].message,
			    "the commit is signed with an OpenPGP key, but only SSH signatures are accepted");
	assert_non_null(strstr(f.v[0].hint, "gpg.format ssh"));
	gate_findings_release(&f);
}

static void test_signature__an_unreadable_allowed_signers_file_fails_closed(void **state)
{
	struct gate_findings f = run_sig(POLICY("allowed_signers = \"/nonexistent/allowed\";"),
					 TREE IDENTS SSH_SIG_HEADER "\nSubject\n", -1);

	(void)state;
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
}

static void test_signature__config_needs_a_trust_store_matching_the_format(void **state)
{
	char *e;

	(void)state;
	e = unit_policy_errors(POLICY(""));
	assert_non_null(strstr(e, "needs 'allowed_signers'"));
	free(e);
	e = unit_policy_errors(POLICY("format = \"ssh\"; keyring = \"k.gpg\";"));
	assert_non_null(strstr(e, "format \"ssh\" needs 'allowed_signers'"));
	free(e);
	e = unit_policy_errors(POLICY("format = \"gpg\"; allowed_signers = \"a\";"));
	assert_non_null(strstr(e, "needs 'keyring' or 'gnupg_home'"));
	free(e);
	e = unit_policy_errors(POLICY("format = \"x509\"; allowed_signers = \"a\";"));
	assert_non_null(strstr(e, "unknown format \"x509\""));
	free(e);
	e = unit_policy_errors(POLICY("allowed_signers = \"a\"; signer_is_pusher = \"yes\";"));
	assert_non_null(strstr(e, "signer_is_pusher"));
	free(e);
	e = unit_policy_errors(POLICY("allowed_signers = \"a\"; allowed_signer = \"b\";"));
	assert_non_null(strstr(e, "allowed_signer"));
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature__unsigned_commit_is_its_own_payload),
		cmocka_unit_test(test_signature__gpgsig_header_and_continuations_are_the_signature),
		cmocka_unit_test(test_signature__headers_after_the_signature_stay_in_the_payload),
		cmocka_unit_test(test_signature__a_sha256_signature_is_dropped_from_payload_and_signature),
		cmocka_unit_test(test_signature__gpgsig_in_the_message_is_not_a_signature),
		cmocka_unit_test(test_signature__format_is_told_by_the_armour),
		cmocka_unit_test(test_signature__gpg_good_signature_gives_fingerprint_and_user_id),
		cmocka_unit_test(test_signature__gpg_bad_missing_key_expired_revoked_and_double),
		cmocka_unit_test(test_signature__ssh_output_names_principal_and_key),
		cmocka_unit_test(test_signature__the_public_key_is_read_from_an_ssh_signature),
		cmocka_unit_test(test_signature__unsigned_commits_are_reported_with_how_to_sign),
		cmocka_unit_test(test_signature__unsigned_merges_pass_only_when_allowed),
		cmocka_unit_test(test_signature__a_signature_of_the_wrong_kind_is_reported_without_running_tools),
		cmocka_unit_test(test_signature__an_unreadable_allowed_signers_file_fails_closed),
		cmocka_unit_test(test_signature__config_needs_a_trust_store_matching_the_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
