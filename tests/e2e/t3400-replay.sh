#!/bin/sh
# git gate replay: what a candidate policy would have rejected in a
# branch's recent history, counted per check.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# The history of main, oldest first (first-parent line c1..c8):
#   c1 Initial commit
#   c2 WIP one                                        nowip
#   c3 Add feature
#   c4 WIP two                                        nowip
#   c5 A subject line well over the forty character limit   len
#   c6 Merge branch 'side' (brings "WIP side")        nowip (its own new commits)
#   c7 Fix
#   c8 WIP three, and also far too long for the limit  nowip, len
test_expect_success 'setup: a synthetic history' '
	git init -q repo &&
	(cd repo &&
	 commit_file f1 1 "Initial commit" &&
	 commit_file f2 2 "WIP one" &&
	 commit_file f3 3 "Add feature" &&
	 commit_file f4 4 "WIP two" &&
	 commit_file f5 5 "A subject line well over the forty character limit" &&
	 git checkout -q -b side HEAD~1 &&
	 commit_file s1 s "WIP side" &&
	 git checkout -q main &&
	 git merge -q --no-ff -m "Merge branch side" side &&
	 commit_file f7 7 "Fix" &&
	 commit_file f8 8 "WIP three, and also far too long for the limit") &&
	test $(git -C repo rev-list --first-parent --count main) = 8 &&
	cat >candidate.conf <<-\EOF
	rules = ( { refs = [ "refs/heads/main" ]; allow_force_push = false; allow_create = false;
	            checks = [ "nowip", "len" ]; } );
	checks = {
	  nowip = { type = "commit-message"; forbid = "^WIP"; };
	  len = { type = "commit-message"; subject_max = 40; };
	};
	EOF
'

test_expect_success 'replay counts what the candidate would have rejected, per check' '
	git gate replay --repo repo --config candidate.conf main >out &&
	test_grep "^replaying 8 commits of refs/heads/main under candidate.conf" out &&
	test_grep "^summary: 5 of 8 commits would have been rejected$" out &&
	test_grep "^nowip: 4 of 8 commits would have been rejected$" out &&
	test_grep "^len: 2 of 8 commits would have been rejected$" out
'

test_expect_success 'replay says which commits and why, in the report format' '
	git gate replay --repo repo --config candidate.conf main >out &&
	test_grep "^== 2/8 commit $(git -C repo rev-parse --short=10 main~6) \"WIP one\": would be REJECTED" out &&
	test_grep "^== 5/8 commit $(git -C repo rev-parse --short=10 main~3) \"A subject line well over the forty character limit\": would be REJECTED" out &&
	test_grep "^  ---- refs/heads/main: REJECTED ----" out &&
	test_grep "^    \[nowip\] commit-message: 1 problem" out &&
	test_grep "subject is 50 characters long, more than the 40 allowed" out &&
	test_grep "^  refs/heads/main rejected: 2 checks failed (policy: candidate.conf)" out &&
	test_grep ! "\"Fix\"" out &&
	test_grep ! "\"Add feature\"" out
'

test_expect_success 'each commit is judged on its own changes: a merge brings its side commits' '
	git gate replay --repo repo --config candidate.conf main >out &&
	test_grep "^== 6/8 commit .* \"Merge branch side\": would be REJECTED" out &&
	test_grep "commit $(git -C repo rev-parse --short=10 side) \"WIP side\":" out &&
	test $(grep -c "\"WIP one\":" out) = 2
'

test_expect_success 'ref protection does not apply to history' '
	git gate replay --repo repo --config candidate.conf -v main >out &&
	test_grep ! "is not allowed" out &&
	test_grep ! "fast-forward" out &&
	test_grep "^== 1/8 commit .* \"Initial commit\": passes" out &&
	test_grep "^== 7/8 commit .* \"Fix\": passes" out
'

test_expect_success '--max limits the replay to the last N commits' '
	git gate replay --repo repo --config candidate.conf --max 3 main >out &&
	test_grep "^replaying 3 commits" out &&
	test_grep "^summary: 2 of 3 commits would have been rejected$" out &&
	test_grep "^nowip: 2 of 3 commits would have been rejected$" out &&
	test_grep "^len: 1 of 3 commits would have been rejected$" out &&
	git gate replay --repo repo --config candidate.conf --max=100 main >out &&
	test_grep "^summary: 5 of 8 commits" out
'

test_expect_success 'without --config the policy in effect is replayed' '
	git clone -q --bare repo victim.git &&
	printf "rules = ( { refs = [ \"refs/heads/*\" ]; checks = [ \"nowip\" ]; } );\nchecks = { nowip = { type = \"commit-message\"; forbid = \"^WIP\"; }; };\n" >victim.git/git-gate.conf &&
	git gate replay --repo victim.git main >out &&
	test_grep "under $(cd victim.git && pwd -P)/git-gate.conf" out &&
	test_grep "^summary: 4 of 8 commits would have been rejected$" out &&
	(cd victim.git && git gate replay refs/heads/main >../out2) &&
	test_grep "^summary: 4 of 8 commits" out2
'

test_expect_success 'replay is read-only: no refs, no files left behind' '
	git -C victim.git for-each-ref >before &&
	ls victim.git >files-before &&
	TMPDIR="$TRASH/tmp" && mkdir -p "$TMPDIR" && export TMPDIR &&
	git gate replay --repo victim.git main >/dev/null &&
	git -C victim.git for-each-ref >after &&
	ls victim.git >files-after &&
	test_cmp before after &&
	test_cmp files-before files-after &&
	test -z "$(ls "$TMPDIR")"
'

test_expect_success 'command checks are skipped unless --with-commands' '
	cat >cmd.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "nowip", "build" ]; } );
	checks = {
	  nowip = { type = "commit-message"; forbid = "^WIP"; };
	  build = { type = "command"; run = "test ! -e f7"; cache = false; };
	};
	EOF
	git gate replay --repo repo --config cmd.conf main >out &&
	test_grep "^build: not run (an expensive check; --with-commands runs it)" out &&
	test_grep "^summary: 4 of 8 commits would have been rejected$" out &&
	git gate replay --repo repo --config cmd.conf --with-commands main >out &&
	test_grep "^build: 2 of 8 commits would have been rejected$" out &&
	test_grep "^summary: 5 of 8 commits would have been rejected$" out
'

test_expect_success 'exemptions apply only to a named --user' '
	cat >exempt.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "nowip" ]; exempt_users = [ "bot" ]; } );
	checks = { nowip = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
	git gate replay --repo repo --config exempt.conf main >out &&
	test_grep "^nowip: 4 of 8" out &&
	git gate replay --repo repo --config exempt.conf --user bot main >out &&
	test_grep "^summary: 0 of 8 commits would have been rejected$" out
'

test_expect_success 'usage and policy errors exit 2; a report exits 0 whatever it finds' '
	test_expect_code 2 git gate replay --repo repo 2>err &&
	test_grep "usage: git gate replay" err &&
	test_expect_code 2 git gate replay --repo repo --max 0 main 2>err &&
	test_expect_code 2 git gate replay --repo repo --max x main 2>err &&
	test_expect_code 2 git gate replay --repo repo --config nosuch.conf main 2>err &&
	test_grep "nosuch.conf: no such file" err &&
	test_expect_code 2 git gate replay --repo repo --config candidate.conf nosuch 2>err &&
	test_grep "no ref .nosuch." err &&
	echo "rules = 1;" >bad.conf &&
	test_expect_code 2 git gate replay --repo repo --config bad.conf main 2>err &&
	test_grep "bad.conf:1: " err &&
	test_expect_code 0 git gate replay --repo repo --config candidate.conf main >/dev/null
'

test_done
