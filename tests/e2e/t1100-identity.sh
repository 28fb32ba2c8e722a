#!/bin/sh
# The identity check through real pushes: name and email patterns, the
# committer as the pusher, and dates in the future.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# policy KEYS...: the victim's policy runs one identity check "who" on main
policy() {
	cat >victim.git/git-gate.conf <<-EOF
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "who" ]; } );
	checks = { who = { type = "identity"; $*; }; };
	EOF
}

# back to what the victim has
sync_work() {
	(cd work && git reset -q --hard "$(git -C ../victim.git rev-parse main)")
}

test_expect_success 'setup' '
	make_victim victim.git &&
	make_work work victim.git
'

test_expect_success 'identities that match the patterns are accepted' '
	policy "author_email = \"@example\\\\.com\$\"; committer_name = \"^[A-Z]\"" &&
	git gate validate victim.git/git-gate.conf &&
	(cd work && commit_file a a "Add a" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'an author email outside the pattern is rejected with pattern and fix' '
	before=$(ref_of victim.git main) &&
	(cd work && export GIT_AUTHOR_EMAIL=bob@gmail.example && commit_file b b "Add b") &&
	(cd work && test_must_fail git push origin main 2>../err) &&
	bad=$(git -C work rev-parse --short=10 HEAD) &&
	test_grep "remote: git-gate:   \[who\] identity: 1 problem" err &&
	test_grep "remote: git-gate:     commit $bad \"Add b\":" err &&
	test_grep "author email .bob@gmail.example. does not match the required pattern \"@example\\\\.com\\$\"" err &&
	test_grep "fix: set your address (git config user.email" err &&
	test_grep "reset-author" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'a committer name outside the pattern is rejected' '
	sync_work &&
	(cd work && export GIT_COMMITTER_NAME="lower case" && commit_file c c "Add c") &&
	(cd work && test_must_fail git push origin main 2>../err) &&
	test_grep "committer name .lower case. does not match the required pattern \"^\[A-Z\]\"" err &&
	test_grep "fix: set your name (git config user.name" err
'

test_expect_success 'committer_is_pusher: another committer is rejected' '
	sync_work &&
	policy "committer_is_pusher = true" &&
	(cd work && commit_file d d "Add d" && test_must_fail git push origin main 2>../err) &&
	test_grep "committer .C O Mitter <committer@example.com>. is not the pusher .tester." err &&
	test_grep "neither the email, its local part nor the name is .tester." err &&
	test_grep "fix: push only commits you committed" err
'

test_expect_success 'committer_is_pusher: the email local part, the email or the name match' '
	(cd work && GIT_GATE_USER=committer git push origin main 2>../err) &&
	(cd work && commit_file d2 d2 "Add d2" && GIT_GATE_USER=Committer@Example.com git push origin main 2>../err) &&
	(cd work && commit_file d3 d3 "Add d3" && GIT_GATE_USER="C O Mitter" git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'pusher_emails: a listed pusher must use a listed address' '
	policy "committer_is_pusher = true; pusher_emails = { tester = [ \"committer@example.com\", \"t@old.example\" ]; committer = \"elsewhere@example.org\"; }" &&
	git gate validate victim.git/git-gate.conf &&
	(cd work && commit_file e e "Add e" && git push origin main 2>../err) &&
	(cd work && commit_file f f "Add f" && export GIT_GATE_USER=committer &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "is not the pusher .committer. (not one of the pusher.s addresses in pusher_emails)" err
'

test_expect_success 'pusher_emails in list form takes any user name' '
	sync_work &&
	policy "committer_is_pusher = true; pusher_emails = ( { user = \"c.o.mitter\"; emails = [ \"committer@example.com\" ]; } )" &&
	(cd work && commit_file g g "Add g" && GIT_GATE_USER=c.o.mitter git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'max_future: a commit dated a day ahead is rejected, a few minutes ahead is not' '
	policy "max_future = \"10 min\"" &&
	now=$(date +%s) &&
	(cd work && export GIT_COMMITTER_DATE="@$((now + 300)) +0000" GIT_AUTHOR_DATE="@$((now + 300)) +0000" &&
	 commit_file h h "Add h" && git push origin main 2>../err) &&
	(cd work && export GIT_COMMITTER_DATE="@$((now + 90000)) +0200" && commit_file i i "Add i") &&
	(cd work && test_must_fail git push origin main 2>../err) &&
	test_grep "remote: git-gate:       committer date 20[0-9-]* [0-9:]* +0200 is 1 day in the future (at most 10 min allowed)" err &&
	test_grep ! "author date" err &&
	test_grep "fix: set the clock" err
'

test_expect_success 'a bad pattern or an unknown key is a policy error' '
	policy "author_email = \"([\"" &&
	test_expect_code 1 git gate validate victim.git/git-gate.conf >out 2>&1 &&
	test_grep "author_email" out &&
	policy "author_mail = \"x\"" &&
	test_expect_code 1 git gate validate victim.git/git-gate.conf >out 2>&1 &&
	test_grep "author_mail" out &&
	policy "pusher_emails = { a = \"a@b\"; }" &&
	test_expect_code 1 git gate validate victim.git/git-gate.conf >out 2>&1 &&
	test_grep "committer_is_pusher" out
'

test_expect_success 'the sample content policy in contrib is valid' '
	git gate validate "$GATE_SRCDIR/contrib/policies/content.conf" >out &&
	test_grep "valid (2 rules, 5 checks)" out
'

test_done
