#!/bin/sh
# The secrets check through real pushes: the rule, path and line are
# reported and the secret is not; allowed paths, fingerprints, files that
# held a secret before the gate, binary files, private keys, policy patterns.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# Made-up credentials, built at run time so that this script holds nothing
# a secret scanner would take for one: hex from sha256sum of a seed.
rand_hex() { printf '%s' "$1" | sha256sum | cut -c1-"$2"; }
rand_b64() { printf '%s' "$1" | sha256sum | base64 | tr -d '\n=' | cut -c1-"$2"; }
rand_digits() { rand_hex "$1" "$2" | tr 'a-f' '0-5'; }
gh_token() { printf 'gh%s_%s' p "$(rand_hex "$1" 36)"; }
aws_key() { printf 'AK%s%s' IA "$(rand_hex "$1" 16 | tr 'a-f0-9' 'A-P')"; }

sync_work() {
	(cd work && git reset -q --hard "$(git -C ../victim.git rev-parse main)")
}

write_policy() {
	cat >victim.git/git-gate.conf <<-EOF
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "sec" ]; } );
	checks = {
	  sec = { type = "secrets"; allow_paths = [ "tests/fixtures/**" ];
	          allow_fingerprints = [ $1 ];
	          patterns = ( { id = "acme-token"; regex = "acme_[0-9a-f]{32}";
	                         description = "ACME API token"; keywords = [ "acme_" ]; } ); };
	};
	EOF
}

test_expect_success 'setup' '
	command -v sha256sum && command -v base64 &&
	make_victim victim.git &&
	make_work work victim.git &&
	write_policy "" &&
	git gate validate victim.git/git-gate.conf
'

test_expect_success 'ordinary text is accepted' '
	(cd work && commit_file src/app.py "password = os.environ[\"DB_PASSWORD\"]
token = request.headers.get(\"X-Token\")" "Read settings from the environment" &&
	 git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a token on line 3 is rejected with rule, path, line and fingerprint, and without the secret' '
	before=$(ref_of victim.git main) &&
	tok=$(gh_token one) &&
	(cd work && commit_file config.py "# settings
DEBUG = False
GITHUB_TOKEN = \"$tok\"
TIMEOUT = 30" "Add config" && test_must_fail git push origin main 2>../err) &&
	c=$(git -C work rev-parse --short=10 HEAD) &&
	test_grep "remote: git-gate:   \[sec\] secrets: 1 problem" err &&
	test_grep "remote: git-gate:     commit $c \"Add config\":" err &&
	test_grep "config.py:3: possible GitHub personal access token (rule .github-pat., fingerprint [0-9a-f]\{16\})" err &&
	test_grep "fix: treat the credential as leaked: revoke or rotate it" err &&
	test_grep "allow_fingerprints of check .sec." err &&
	body=$(printf "%s" "$tok" | cut -c5-) &&
	test_grep ! "$body" err &&
	test_grep ! "$(printf "%s" "$body" | cut -c1-8)" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'the fingerprint from the rejection lets that push through' '
	fp=$(sed -n "s/.*config.py:3: .*fingerprint \([0-9a-f]\{16\}\)).*/\1/p" err | head -n 1) &&
	test -n "$fp" &&
	write_policy "\"$fp\"" &&
	git gate validate victim.git/git-gate.conf &&
	(cd work && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	write_policy ""
'

test_expect_success 'the same secret under another path is a new finding' '
	(cd work && cp config.py settings.py && git add settings.py && git commit -q -m "Copy config" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "settings.py:3: possible GitHub personal access token" err &&
	test_grep ! "config.py:3" err
'

test_expect_success 'a secret under an allowed path is accepted' '
	sync_work &&
	(cd work && commit_file tests/fixtures/aws/credentials "[default]
aws_access_key_id = $(aws_key fixture)" "Add a test fixture" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'editing a file that held a secret before the gate is accepted; adding another is not' '
	sync_work &&
	(cd work && commit_file legacy.env "USER=app
AWS_KEY=$(aws_key legacy)
REGION=eu-west-1" "Add legacy env" && GIT_GATE_CONFIG=/dev/null git push -q origin main) &&
	(cd work && sed -i "s/eu-west-1/eu-central-1/" legacy.env && git commit -q -am "Move region" &&
	 git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	(cd work && echo "SLACK=xo""xb-$(rand_digits s1 12)-$(rand_digits s2 13)-$(rand_hex slack 24)" >>legacy.env &&
	 git commit -q -am "Add the slack token" && test_must_fail git push origin main 2>../err) &&
	test_grep "legacy.env:4: possible Slack bot token (rule .slack-bot-token." err &&
	test_grep ! "legacy.env:2" err
'

test_expect_success 'a secret added and removed again is still rejected' '
	sync_work &&
	(cd work && commit_file deploy.sh "export KEY=$(aws_key deploy)" "Add deploy script" &&
	 git rm -q deploy.sh && git commit -q -m "Remove it again" && test_must_fail git push origin main 2>../err) &&
	test_grep "commit $(git -C work rev-parse --short=10 HEAD~1) \"Add deploy script\":" err &&
	test_grep "deploy.sh:1: possible AWS access key id (rule .aws-access-key-id." err
'

test_expect_success 'a binary file with a key-like string is skipped' '
	sync_work &&
	(cd work && printf "\000\001\002%s\000" "$(gh_token binary)" >blob.bin && git add blob.bin &&
	 git commit -q -m "Add a binary" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a private key block is reported at its first line' '
	sync_work &&
	(cd work && {
		echo "# deploy key" &&
		echo "-----BEGIN OPENSSH PRIV""ATE KEY-----" &&
		rand_b64 k1 64 && rand_b64 k2 64 && rand_b64 k3 20 &&
		echo "-----END OPENSSH PRIV""ATE KEY-----"
	} >deploy_key && git add deploy_key && git commit -q -m "Add deploy key" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "deploy_key:2: possible private key block (RSA, DSA, EC, OpenSSH, PGP, PKCS#8) (rule .private-key." err &&
	test_grep ! "$(rand_b64 k2 64)" err
'

test_expect_success 'a policy pattern finds its own token' '
	sync_work &&
	(cd work && commit_file env/prod "ACME_KEY=acme_$(rand_hex acme 32)" "Add prod env" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "env/prod:1: possible ACME API token (rule .acme-token." err
'

test_expect_success 'placeholders and documentation examples pass' '
	sync_work &&
	(cd work && commit_file README.md "Set \`aws_access_key_id = AK""IAIOSFODNN7EXAMPLE\` and
\`password = changeme\`, or \`token: \${{ secrets.TOKEN }}\`." "Document settings" &&
	 git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'policy mistakes are reported by validate' '
	cat >bad.conf <<-\EOF &&
	checks = { s = { type = "secrets"; disable_rules = [ "github-token" ];
	                 allow_fingerprints = [ "nothex" ]; }; };
	EOF
	test_must_fail git gate validate bad.conf 2>out &&
	test_grep "no built-in rule is called .github-token." out &&
	test_grep "\"nothex\" is not a fingerprint" out
'

test_done
