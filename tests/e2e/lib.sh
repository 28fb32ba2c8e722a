# Shared helpers for git-gate's end-to-end tests, in the style of git's
# t/test-lib.sh: each test script sources this, runs test_expect_success
# blocks against real bare repositories with the real git client, and
# prints TAP for automake's tap-driver.
#
#   . "$GATE_SRCDIR/tests/e2e/lib.sh"
#   test_expect_success 'fast-forward is accepted' '
#       ... && git push origin main
#   '
#   test_done

set -u

: "${GATE_BUILDDIR:?run through make check (GATE_BUILDDIR unset)}"
: "${GATE_SRCDIR:=$GATE_BUILDDIR}"
: "${GIT_GATE_LIBEXECDIR:=$GATE_BUILDDIR/hooks}"
export GIT_GATE_LIBEXECDIR

test_name=$(basename "$0" .sh)
TRASH="$GATE_BUILDDIR/tests/e2e/trash.$test_name"
rm -rf "$TRASH"
mkdir -p "$TRASH"
cd "$TRASH" || exit 1

# A clean, predictable git environment: nothing from the user running make.
export HOME="$TRASH"
export XDG_CONFIG_HOME="$TRASH/.config"
export GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME='A U Thor' GIT_AUTHOR_EMAIL='author@example.com'
export GIT_COMMITTER_NAME='C O Mitter' GIT_COMMITTER_EMAIL='committer@example.com'
export GIT_GATE_USER=tester
export LC_ALL=C LANG=C TZ=UTC
# The default workspace root, and with it max_concurrent_commands' slots,
# per test: test files that run at once (make -j) must not wait for each
# other.  Short and under the system's temporary folder, not in the trash
# folder: programs put sockets there (chromium, gpg-agent), and a socket's
# name holds at most 107 bytes, less than a distcheck build's paths.
GATE_TEST_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/gg-test.XXXXXX") || exit 1
TMPDIR=$GATE_TEST_TMPDIR
export TMPDIR
# make check's own jobserver must not leak into the commands the gate runs
unset MAKEFLAGS MAKELEVEL MFLAGS 2>/dev/null || true
unset GIT_GATE_CONFIG GIT_DIR GIT_WORK_TREE GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES \
	GIT_QUARANTINE_PATH GL_USERNAME GL_USER GITHUB_USER_LOGIN GITEA_PUSHER_NAME REMOTE_USER 2>/dev/null || true
# an absent system policy unless a test sets one
export GIT_GATE_SYSTEM_CONFIG="$TRASH/no-system-policy.conf"
PATH="$GATE_BUILDDIR:$PATH"
export PATH
git config --global init.defaultBranch main
git config --global advice.detachedHead false
git config --global protocol.file.allow always

test_count=0
test_failed=0

say() { printf '# %s\n' "$*"; }

# test_expect_success DESCRIPTION COMMANDS
test_expect_success() {
	test_count=$((test_count + 1))
	if (cd "$TRASH" && eval "$2") >"$TRASH/.out.$test_count" 2>&1; then
		printf 'ok %d - %s\n' "$test_count" "$1"
	else
		test_failed=$((test_failed + 1))
		printf 'not ok %d - %s\n' "$test_count" "$1"
		sed -e 's/^/#   /' "$TRASH/.out.$test_count"
		printf '#   commands were:\n'
		printf '%s\n' "$2" | sed -e 's/^/#   /'
	fi
}

# test_must_fail COMMAND...: COMMAND must exit non-zero, but not die of a signal.
test_must_fail() {
	"$@"
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	fi
	if [ $rc -gt 128 ] && [ $rc -le 192 ]; then
		echo "test_must_fail: command died of signal $((rc - 128)): $*" >&2
		return 1
	fi
	return 0
}

# test_expect_code CODE COMMAND...
test_expect_code() {
	want=$1
	shift
	"$@"
	rc=$?
	if [ "$rc" != "$want" ]; then
		echo "test_expect_code: expected $want, got $rc: $*" >&2
		return 1
	fi
}

# test_cmp EXPECTED ACTUAL
test_cmp() {
	diff -u "$1" "$2"
}

# grep that shows the text searched when it fails
test_grep() {
	if [ "$1" = "!" ]; then
		shift
		if grep "$@"; then
			echo "test_grep: unexpected match for: $*" >&2
			return 1
		fi
		return 0
	fi
	if ! grep "$@"; then
		eval "last=\${$#}"
		echo "test_grep: no match for: $*" >&2
		[ -f "$last" ] && sed -e 's/^/| /' "$last" >&2
		return 1
	fi
}

# A bare repository with git-gate's pre-receive hook installed.
# make_victim NAME [--hook update]
make_victim() {
	name=$1
	shift
	git init -q --bare "$name" &&
	git-gate install "$@" "$name" >/dev/null
}

# A working clone with one commit on main, pushed to the victim.
# make_work DIR VICTIM (a path relative to the trash directory, or a URL)
make_work() {
	case "$2" in
	/* | *://*) url=$2 ;;
	*) url="$TRASH/$2" ;;
	esac
	git init -q "$1" &&
	(
		cd "$1" &&
		git remote add origin "$url" &&
		echo base >base.txt &&
		git add base.txt &&
		git commit -q -m "Initial commit" &&
		git push -q origin main 2>/dev/null
	)
}

# commit_file FILE CONTENT MESSAGE: commit in the current directory
commit_file() {
	mkdir -p "$(dirname "$1")" &&
	printf '%s\n' "$2" >"$1" &&
	git add -- "$1" &&
	git commit -q -m "$3"
}

# The current value of a ref in a repository ("" when absent).
ref_of() {
	git --git-dir="$1" rev-parse -q --verify "$2" 2>/dev/null || true
}

# ws_empty: command checks left no workspace in $TRASH/ws (they are
# removed by a detached process after the verdict: give it a moment)
ws_empty() {
	i=0
	# git-gate-slots.UID: the locks of max_concurrent_commands, kept
	while test -n "$(ls -A "$TRASH/ws" 2>/dev/null | grep -v '^git-gate-slots\.[0-9]*$')"; do
		i=$((i + 1))
		if test $i -gt 100; then
			echo "workspaces left behind:" >&2
			ls -la "$TRASH/ws" >&2
			return 1
		fi
		sleep 0.1
	done
	test -d "$TRASH/ws"
}

# A free TCP port on loopback.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
	echo $((20000 + $$ % 20000))
}

# start_git_daemon PORT REPO: git daemon on loopback serving $TRASH/srv
# (pushes enabled), stopped when the script ends; waits until REPO answers.
start_git_daemon() {
	git daemon --reuseaddr --listen=127.0.0.1 --port="$1" --base-path="$TRASH/srv" \
		--export-all --enable=receive-pack --pid-file="$TRASH/daemon.pid" --detach "$TRASH/srv" &&
	test_atexit "kill \$(cat \"$TRASH/daemon.pid\")" &&
	for i in 1 2 3 4 5 6 7 8 9 10; do
		git ls-remote "git://127.0.0.1:$1/$2" >/dev/null 2>&1 && break
		sleep 0.3
	done &&
	git ls-remote "git://127.0.0.1:$1/$2" >/dev/null
}

# final_system_policy FILE: a system policy whose final rule for main
# forbids "WIP" subjects, for the integrations' layering tests
final_system_policy() {
	cat >"$1" <<-\EOF
	rules = ( { refs = [ "refs/heads/main" ]; final = true; checks = [ "nowip" ]; } );
	checks = { nowip = { type = "commit-message"; forbid = "^WIP"; }; };
	EOF
}

# Run something when the script ends, even on failure.  Tests run in
# subshells, so the commands are kept in a file, newest first.
test_atexit() {
	{ printf '%s\n' "$1"; cat "$TRASH/.atexit" 2>/dev/null || :; } >"$TRASH/.atexit.new" &&
	mv "$TRASH/.atexit.new" "$TRASH/.atexit"
}

run_cleanups() {
	if [ -f "$TRASH/.atexit" ]; then
		(cd "$TRASH" && . "$TRASH/.atexit") >/dev/null 2>&1 || true
		rm -f "$TRASH/.atexit"
	fi
	rm -rf "$GATE_TEST_TMPDIR"
}
trap run_cleanups EXIT

test_done() {
	printf '1..%d\n' "$test_count"
	run_cleanups
	if [ "$test_failed" -eq 0 ]; then
		rm -rf "$TRASH"
		exit 0
	fi
	exit 1
}

# chrome ARGS...: Debian's chromium, headless, with a profile of its own in a
# short folder (chromium puts a socket there, and a deep build folder's path
# is too long for a socket's name); its messages go to $TRASH/chrome.err.
chrome() {
	profile=$(mktemp -d /tmp/gg-chrome.XXXXXX) &&
	timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$profile" "$@" 2>>"$TRASH/chrome.err"
	rc=$?
	rm -rf "$profile"
	return $rc
}

# dom_json FILE: the page a browser rendered (chrome --dump-dom) as JSON:
# "text" maps each element's id (else its class, else its tag) to the text
# inside it, "tags" lists [tag, attributes] in order, "title" the title
dom_json() {
	python3 - "$1" <<-\EOF
	import json, sys
	from html.parser import HTMLParser
	class P(HTMLParser):
	    def __init__(s):
	        super().__init__(); s.stack = []; s.text = {}; s.tags = []; s.title = ""
	    def handle_starttag(s, tag, attrs):
	        a = dict(attrs); s.tags.append((tag, a))
	        s.stack.append(a.get("id") or a.get("class") or tag)
	    def handle_endtag(s, tag):
	        if s.stack: s.stack.pop()
	    def handle_data(s, d):
	        for k in s.stack: s.text[k] = s.text.get(k, "") + d
	        if s.stack and s.stack[-1] == "title": s.title += d
	p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read())
	print(json.dumps({"text": p.text, "tags": p.tags, "title": p.title}))
	EOF
}

# json_q FILE EXPR: evaluate EXPR with j = the JSON document in FILE
json_q() {
	python3 - "$1" "$2" <<-\EOF
	import json, sys
	j = json.load(open(sys.argv[1], encoding="utf-8"))
	v = eval(sys.argv[2])
	print(" ".join(map(str, v)) if isinstance(v, tuple) else v)
	EOF
}

# note_q COMMIT EXPR: evaluate EXPR (Python) over the ledger lines of
# COMMIT's note as the work clone has them (n = the list of records)
note_q() {
	git -C work notes --ref=gate show "$1" >note.out &&
	python3 - note.out "$2" <<-\EOF
	import json, sys
	n = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
	v = eval(sys.argv[2])
	print(" ".join(map(str, v)) if isinstance(v, tuple) else v)
	EOF
}
