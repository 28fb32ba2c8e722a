#!/bin/sh
# The signature check through real pushes: SSH signatures against an
# allowed-signers file, GnuPG signatures against a keyring.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# sign_commit KEY FILE CONTENT MESSAGE: an SSH-signed commit in the current directory
ssh_commit() {
	mkdir -p "$(dirname "$2")" &&
	printf '%s\n' "$3" >"$2" &&
	git add -- "$2" &&
	git -c gpg.format=ssh -c user.signingkey="$1" commit -q -S -m "$4"
}

test_expect_success 'setup: keys, allowed signers and a signed history' '
	ssh-keygen -q -t ed25519 -N "" -C alice -f alice &&
	ssh-keygen -q -t ed25519 -N "" -C mallory -f mallory &&
	make_victim victim.git &&
	git init -q --bare plain.git &&
	make_work work plain.git &&
	git -C work remote add victim ../victim.git &&
	git -C work push -q victim main &&
	printf "alice,alice@example.com %s\n" "$(cut -d" " -f1,2 alice.pub)" >victim.git/allowed_signers &&
	cat >victim.git/git-gate.conf <<-\EOF
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "signed" ]; } );
	checks = {
	  signed = { type = "signature"; format = "ssh"; allowed_signers = "allowed_signers"; };
	};
	EOF
	git-gate validate victim.git/git-gate.conf
'

test_expect_success 'a commit signed by an allowed key is accepted' '
	(cd work && ssh_commit ../alice a a "Add a" && git push victim main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	git -C victim.git -c gpg.ssh.allowedSignersFile=allowed_signers verify-commit main
'

test_expect_success 'an unsigned commit is rejected with how to sign' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file b b "Add b unsigned" && test_must_fail git push victim main 2>../err) &&
	test_grep "the commit is not signed" err &&
	test_grep "commit.gpgsign true" err &&
	test_grep "git rebase --exec .git commit --amend --no-edit -S" err &&
	test_grep "refs/heads/main rejected" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 're-signing the commits as the hint says makes the push pass' '
	(cd work &&
	 git -c gpg.format=ssh -c user.signingkey=../alice rebase -q --exec "git commit -q --amend --no-edit -S" victim/main &&
	 git push victim main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a commit signed by a key not in the file is rejected' '
	before=$(ref_of victim.git main) &&
	(cd work && ssh_commit ../mallory c c "Add c by mallory" && test_must_fail git push victim main 2>../err) &&
	fpr=$(ssh-keygen -l -f mallory.pub | cut -d" " -f2) &&
	test_grep "signed with SSH key $fpr, which is not in the allowed signers file" err &&
	test_grep "ask an admin to add your public key" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	git -C work reset -q --hard victim/main
'

test_expect_success 'a signature copied onto other content does not verify' '
	before=$(ref_of victim.git main) &&
	(cd work && ssh_commit ../alice d d "Add d" &&
	 git cat-file commit HEAD | sed -e "s/^Add d$/Add d, changed after signing/" >forged &&
	 forged=$(git hash-object -t commit -w forged) &&
	 test_must_fail git push victim "$forged:refs/heads/main" 2>../err) &&
	test_grep "signature does not verify" err &&
	test_grep "changed after it was signed" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	git -C work reset -q --hard victim/main
'

test_expect_success 'signer_is_pusher: the principal must be the pusher' '
	cat >victim.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "signed" ]; } );
	checks = {
	  signed = { type = "signature"; allowed_signers = "allowed_signers"; signer_is_pusher = true; };
	};
	EOF
	(cd work && ssh_commit ../alice e e "Add e" &&
	 GIT_GATE_USER=bob test_must_fail git push victim main 2>../err) &&
	test_grep "signed by .alice., .alice@example.com. (key SHA256:[^)]*), not by the pusher .bob." err &&
	(cd work && GIT_GATE_USER=alice git push victim main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'signer_is_committer: the committer address must be a principal of the key' '
	cat >victim.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "signed" ]; } );
	checks = {
	  signed = { type = "signature"; allowed_signers = "allowed_signers"; signer_is_committer = true; };
	};
	EOF
	(cd work && ssh_commit ../alice f f "Add f" && test_must_fail git push victim main 2>../err) &&
	test_grep "which is not its committer <committer@example.com>" err &&
	(cd work && git reset -q --hard victim/main &&
	 GIT_COMMITTER_EMAIL=alice@example.com ssh_commit ../alice f f "Add f" && git push victim main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a missing allowed signers file rejects the push (fail closed)' '
	mv victim.git/allowed_signers victim.git/allowed_signers.away &&
	before=$(ref_of victim.git main) &&
	(cd work && ssh_commit ../alice g g "Add g" && test_must_fail git push victim main 2>../err) &&
	test_grep "allowed signers file .*allowed_signers. cannot be read" err &&
	test "$(ref_of victim.git main)" = "$before" &&
	mv victim.git/allowed_signers.away victim.git/allowed_signers
'

test_expect_success 'one key signing many commits is looked up once, each commit verified once' '
	real=$(command -v ssh-keygen) &&
	mkdir -p bin &&
	printf "#!/bin/sh\necho \"\$2\" >>\"%s/keygen.log\"\nexec \"%s\" \"\$@\"\n" "$TRASH" "$real" >bin/ssh-keygen &&
	chmod +x bin/ssh-keygen &&
	cat >victim.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/*" ]; checks = [ "signed" ]; } );
	checks = { signed = { type = "signature"; allowed_signers = "allowed_signers"; }; };
	EOF
	(cd work && git reset -q --hard victim/main &&
	 ssh_commit ../alice h1 h1 "Add h1" && ssh_commit ../alice h2 h2 "Add h2" && ssh_commit ../alice h3 h3 "Add h3" &&
	 rm -f ../keygen.log && PATH="$TRASH/bin:$PATH" git push victim main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	test "$(grep -c "^find-principals$" keygen.log)" = 1 &&
	test "$(grep -c "^verify$" keygen.log)" = 3
'

test_expect_success 'signatures never reach a command line: no temporary files are left' '
	ls "${TMPDIR:-/tmp}" | grep "^git-gate-sig\." >leftover || true &&
	test_must_fail test -s leftover
'

# --- GnuPG -----------------------------------------------------------------
if command -v gpg >/dev/null 2>&1; then
	# a short path: gpg-agent's socket must fit in a sockaddr_un (108 bytes),
	# which a build directory deep inside make distcheck does not
	GNUPGHOME=$(mktemp -d "${TMPDIR:-/tmp}/gate-gpg.XXXXXX")
	export GNUPGHOME
	test_atexit 'gpgconf --kill gpg-agent; rm -rf "$GNUPGHOME"'
	test_expect_success 'gpg setup: a key, its public keyring on the server' '
		chmod 700 "$GNUPGHOME" &&
		gpg --batch --passphrase "" --quick-gen-key "Alice <alice@example.com>" ed25519 sign never 2>/dev/null &&
		gpg --batch --passphrase "" --quick-gen-key "Mallory <mallory@example.com>" ed25519 sign never 2>/dev/null &&
		gpg --batch --export alice@example.com >victim.git/trusted.gpg &&
		cat >victim.git/git-gate.conf <<-\EOF
		rules = ( { refs = [ "refs/heads/*" ]; checks = [ "signed" ]; } );
		checks = {
		  signed = { type = "signature"; format = "any"; allowed_signers = "allowed_signers";
		             keyring = "trusted.gpg"; };
		};
		EOF
	'

	test_expect_success 'gpg: a commit signed by a key in the keyring is accepted' '
		(cd work && git reset -q --hard victim/main && commit_file h h "Add h" &&
		 git commit -q --amend --no-edit -S"alice@example.com" && git push victim main 2>../err) &&
		test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
	'

	test_expect_success 'gpg: unsigned and unknown-key commits are rejected' '
		before=$(ref_of victim.git main) &&
		(cd work && commit_file i i "Add i" && test_must_fail git push victim main 2>../err) &&
		test_grep "the commit is not signed" err &&
		(cd work && git commit -q --amend --no-edit -S"mallory@example.com" &&
		 test_must_fail git push victim main 2>../err) &&
		test_grep "signed with OpenPGP key [0-9A-F]*, which is not in the keyring" err &&
		test "$(ref_of victim.git main)" = "$before"
	'

	test_expect_success 'gpg: format "ssh" refuses an OpenPGP signature' '
		sed -e "s/format = \"any\"/format = \"ssh\"/" -e "s/ keyring = \"trusted.gpg\";//" \
			victim.git/git-gate.conf >c && mv c victim.git/git-gate.conf &&
		(cd work && git commit -q --amend --no-edit -S"alice@example.com" &&
		 test_must_fail git push victim main 2>../err) &&
		test_grep "signed with an OpenPGP key, but only SSH signatures are accepted" err
	'
else
	test_count=$((test_count + 1))
	printf 'ok %d # SKIP gpg is not installed\n' "$test_count"
fi

test_done
