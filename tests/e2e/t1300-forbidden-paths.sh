#!/bin/sh
# The forbidden-paths check through real pushes: patterns at any depth or
# from the root, exceptions, changes and deletions, case.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

sync_work() {
	(cd work && git reset -q --hard "$(git -C ../victim.git rev-parse main)")
}

test_expect_success 'setup' '
	make_victim victim.git &&
	make_work work victim.git &&
	cat >victim.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "paths" ]; } );
	checks = {
	  paths = { type = "forbidden-paths";
	            patterns = [ "*.pem", "**/id_rsa", ".env", "node_modules/**" ];
	            allow = [ "tests/fixtures/*.pem" ]; };
	};
	EOF
	git gate validate victim.git/git-gate.conf
'

test_expect_success 'ordinary paths are accepted' '
	(cd work && commit_file src/main.c "int main;" "Add main" && commit_file .env.example "X=" "Add env example" &&
	 commit_file src/node_modules/readme "nested" "Add nested dir" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a key file at any depth is rejected with the pattern and the fix' '
	before=$(ref_of victim.git main) &&
	(cd work && commit_file deploy/certs/server.pem "KEY" "Add the server key" &&
	 test_must_fail git push origin main 2>../err) &&
	c=$(git -C work rev-parse --short=10 HEAD) &&
	test_grep "remote: git-gate:   \[paths\] forbidden-paths: 1 problem" err &&
	test_grep "remote: git-gate:     commit $c \"Add the server key\":" err &&
	test_grep "remote: git-gate:       deploy/certs/server.pem: path matches the forbidden pattern .\*.pem. (added)" err &&
	test_grep "fix: take it out of every commit that adds or changes it" err &&
	test_grep "git filter-repo --invert-paths" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'every forbidden path of the push is reported' '
	sync_work &&
	(cd work && commit_file id_rsa "k" "Add key at the root" && commit_file home/u/.ssh/id_rsa "k" "Add nested key" &&
	 commit_file .env "SECRET=1" "Add env" && commit_file node_modules/left-pad/index.js "x" "Vendor deps" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "\[paths\] forbidden-paths: 4 problems" err &&
	test_grep "id_rsa: path matches the forbidden pattern .\*\*/id_rsa." err &&
	test_grep "home/u/.ssh/id_rsa: path matches the forbidden pattern .\*\*/id_rsa." err &&
	test_grep "\.env: path matches the forbidden pattern .\.env." err &&
	test_grep "node_modules/left-pad/index.js: path matches the forbidden pattern .node_modules/\*\*." err
'

test_expect_success 'an allowed exception passes' '
	sync_work &&
	(cd work && commit_file tests/fixtures/test.pem "TEST KEY" "Add a test key" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a forbidden file added and removed again is still rejected' '
	sync_work &&
	(cd work && commit_file prod.pem "KEY" "Add prod key" && git rm -q prod.pem && git commit -q -m "Remove it" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "commit $(git -C work rev-parse --short=10 HEAD~1) \"Add prod key\":" err &&
	test_grep "prod.pem: path matches" err &&
	test_grep ! "Remove it" err
'

test_expect_success 'a file that predates the gate: changing it is rejected, deleting it is not' '
	sync_work &&
	(cd work && commit_file legacy.pem "OLD" "Add legacy key" && GIT_GATE_CONFIG=/dev/null git push -q origin main) &&
	(cd work && commit_file legacy.pem "NEWER" "Update legacy key" && test_must_fail git push origin main 2>../err) &&
	test_grep "legacy.pem: path matches the forbidden pattern .\*.pem. (changed)" err &&
	sync_work &&
	(cd work && git rm -q legacy.pem && git commit -q -m "Remove legacy key" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a type change (file to symlink) counts as a change' '
	sync_work &&
	(cd work && commit_file old.pem "OLD" "Add old key" && GIT_GATE_CONFIG=/dev/null git push -q origin main) &&
	(cd work && rm old.pem && ln -s /dev/null old.pem && git add old.pem && git commit -q -m "Link it" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "old.pem: path matches the forbidden pattern .\*.pem. (changed)" err
'

test_expect_success 'matching is case-sensitive unless case_insensitive = true' '
	sync_work &&
	(cd work && commit_file SERVER.PEM "KEY" "Add upper-case key" && git push origin main 2>../err) &&
	sed -e "s/type = \"forbidden-paths\";/type = \"forbidden-paths\"; case_insensitive = true;/" \
		victim.git/git-gate.conf >conf && mv conf victim.git/git-gate.conf &&
	(cd work && commit_file OTHER.Pem "KEY" "Add another key" && test_must_fail git push origin main 2>../err) &&
	test_grep "OTHER.Pem: path matches the forbidden pattern .\*.pem." err
'

test_expect_success 'a policy without patterns, or with a bad glob, is invalid' '
	cat >bad.conf <<-\EOF &&
	checks = {
	  p1 = { type = "forbidden-paths"; };
	  p2 = { type = "forbidden-paths"; patterns = [ "[abc" ]; };
	};
	EOF
	test_expect_code 1 git gate validate bad.conf >out 2>&1 &&
	test_grep "bad.conf:2:.*needs patterns" out &&
	test_grep "bad.conf:3:.*bad glob" out
'

test_done
