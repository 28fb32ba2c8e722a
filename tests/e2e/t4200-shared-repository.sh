#!/bin/sh
# A repository shared by several system users (git init --shared=group,
# plain SSH hosting): every member of the group can push through the
# gate, and what the gate writes in the repository (audit log, command
# logs, verdict cache) stays writable by the group, as git's own files do.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

# Files and folders under DIR that the group cannot write, or folders
# without the setgid bit; prints them, fails when there are any.
not_shared() {
	bad=$(find "$1" \( -type f ! -perm -g+w \) -o \( -type d \( ! -perm -g+w -o ! -perm -g+s \) \)) &&
	if test -n "$bad"; then
		ls -la $bad >&2
		return 1
	fi
}

# in_work USER COMMANDS: run COMMANDS in USER's clone as that system user
# (with umask 022, as most accounts have)
in_work() {
	u=$1
	shift
	if test -n "$multi"; then
		setpriv --reuid="$u" --regid="$grp" --init-groups \
			env HOME="$TRASH/home-$u" GIT_GATE_USER="$u" sh -c "umask 022 && cd \"$TRASH/work-$u\" && $1"
	else
		env GIT_GATE_USER="$u" sh -c "umask 022 && cd \"$TRASH/work-$u\" && $1"
	fi
}

multi=
if test "$(id -u)" = 0 && command -v useradd >/dev/null && command -v setpriv >/dev/null; then
	multi=yes
	grp="ggate$$"
	ua="ggate$$a"
	ub="ggate$$b"
else
	say "not root: one system user only; the modes of what the gate writes are checked, pushes by two accounts are not"
	grp=$(id -gn)
	ua=alice
	ub=bob
fi

test_expect_success 'setup: a group-shared bare repository with the gate' '
	if test -n "$multi"; then
		test_atexit "userdel $ua; userdel $ub; groupdel $grp" &&
		groupadd "$grp" &&
		useradd -M -N -g "$grp" -s /bin/sh "$ua" &&
		useradd -M -N -g "$grp" -s /bin/sh "$ub"
	fi &&
	git init -q --bare --shared=group shared.git &&
	git-gate install shared.git >/dev/null &&
	mkdir ws && chmod 1777 ws &&
	cat >shared.git/git-gate.conf <<-EOF &&
	workspace = "$TRASH/ws";
	checks = {
	  msg = { type = "commit-message"; forbid = "^WIP"; };
	  build = { type = "command"; run = "true"; };
	};
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "msg", "build" ]; } );
	EOF
	for u in $ua $ub; do
		mkdir "home-$u" &&
		git init -q "work-$u" &&
		git -C "work-$u" remote add origin "$TRASH/shared.git" &&
		printf "[safe]\n\tdirectory = *\n" >"home-$u/.gitconfig" || return 1
		if test -n "$multi"; then chown -R "$u:$grp" "home-$u" "work-$u" || return 1; fi
	done &&
	# the first user made it; the second is only in its group
	if test -n "$multi"; then chown -R "$ua:$grp" shared.git; fi
'

test_expect_success 'the first user creates main through the gate' '
	in_work $ua "echo one >one.txt && git add one.txt && git commit -q -m \"First commit\" &&
		git push origin main" 2>err &&
	test -n "$(ref_of shared.git refs/heads/main)" &&
	ls shared.git/git-gate/logs/*.log &&
	ws_empty
'

test_expect_success 'what the gate wrote is group-writable, its folders setgid' '
	test -f shared.git/git-gate/audit.log &&
	test -d shared.git/git-gate/logs &&
	test -d shared.git/git-gate/cache &&
	not_shared shared.git/git-gate
'

# git has applied safe.directory ("*" here, as many servers set it, which
# libgit2 1.5 does not understand) before it runs the hook
test_expect_success 'a second user pushes to the same repository and is judged' '
	in_work $ub "git pull -q origin main && echo two >two.txt && git add two.txt &&
		git commit -q -m \"Second commit\" && git push origin main" 2>err &&
	test "$(ref_of shared.git refs/heads/main)" = "$(in_work $ub "git rev-parse HEAD")" &&
	test_grep ! "warning" err &&
	test $(grep "\"event\":\"decision\"" shared.git/git-gate/audit.log | grep -c "\"user\":\"$ub\"") = 1 &&
	in_work $ub "echo wip >wip.txt && git add wip.txt && git commit -q -m \"WIP half done\"" &&
	test_must_fail in_work $ub "git push origin main" 2>err &&
	test_grep "REJECTED" err &&
	not_shared shared.git/git-gate
'

test_expect_success 'the first user again: the second one wrote nothing it cannot use' '
	in_work $ua "git pull -q origin main && echo three >three.txt && git add three.txt &&
		git commit -q -m \"Third commit\" && git push origin main" 2>err &&
	test_grep ! "warning" err &&
	test "$(ref_of shared.git refs/heads/main)" = "$(in_work $ua "git rev-parse HEAD")" &&
	test $(grep -c "\"accepted\":true" shared.git/git-gate/audit.log) = 3 &&
	not_shared shared.git/git-gate
'

test_expect_success 'core.sharedRepository = 0640: the exact mode, no group write' '
	git init -q --bare --shared=0640 strict.git &&
	git-gate install strict.git >/dev/null &&
	if test -n "$multi"; then chown -R "$ua:$grp" strict.git; fi &&
	in_work $ua "git push -q \"$TRASH/strict.git\" main" 2>err &&
	test -f strict.git/git-gate/audit.log &&
	test "$(stat -c %a strict.git/git-gate/audit.log)" = 640 &&
	test "$(stat -c %a strict.git/git-gate)" = 2750
'

test_done
