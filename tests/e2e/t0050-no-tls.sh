#!/bin/sh
# A hook makes no TLS connections, so it must not pay for TLS set-up
# (libgit2 with mbedTLS parses the whole CA bundle in git_libgit2_init).
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# Which TLS library libgit2 uses here decides what there is to prove.
libgit2=$(ldd "$GIT_GATE_LIBEXECDIR/pre-receive" 2>/dev/null | sed -n 's/.*libgit2[^ ]* => \([^ ]*\).*/\1/p')
if ldd "$libgit2" 2>/dev/null | grep -q libmbedx509; then
	say "libgit2 ($libgit2) uses mbedTLS"
	backend=mbedtls
else
	say "libgit2 ($libgit2) does not use mbedTLS: only the absence of CA parsing is checked"
	backend=other
fi

test_expect_success 'setup: a gated repository and a clone' '
	git init -q --bare victim.git &&
	git gate install victim.git >/dev/null &&
	git init -q work &&
	(cd work && echo a >a && git add a && git commit -qm "first" &&
	 git remote add origin ../victim.git)
'

test_expect_success 'in a real push the hook binds the CA parser to its own stub' '
	mkdir ld &&
	(cd work && LD_DEBUG=bindings LD_DEBUG_OUTPUT="$TRASH/ld/trace" git push -q origin main) &&
	git --git-dir=victim.git rev-parse --verify -q refs/heads/main &&
	hook=$(grep -l "to [^ ]*pre-receive \[0\]" ld/trace.* | head -n 1) &&
	test -n "$hook" &&
	if test "$backend" = mbedtls; then
		grep "mbedtls_x509_crt_parse_file" "$hook" >bind &&
		test_grep "libgit2[^ ]* \[0\] to [^ ]*pre-receive \[0\]: normal symbol .mbedtls_x509_crt_parse_file" bind &&
		! grep -q "libgit2[^ ]* \[0\] to [^ ]*libmbedx509" bind
	fi
'

test_expect_success 'the same holds for the update hook and the CLI' '
	for prog in "$GIT_GATE_LIBEXECDIR/update" "$GATE_BUILDDIR/git-gate"; do
		rm -f ld/prog.* &&
		LD_DEBUG=bindings LD_DEBUG_OUTPUT="$TRASH/ld/prog" "$prog" --version >/dev/null 2>&1;
		f=$(ls ld/prog.* | head -n 1) &&
		if test "$backend" = mbedtls; then
			grep "mbedtls_x509_crt_parse_file" "$f" >bind &&
			test_grep "libgit2[^ ]* \[0\] to [^ ]*$(basename "$prog") \[0\]: normal symbol" bind || return 1
		fi
	done
'

test_done
