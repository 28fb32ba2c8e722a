#!/bin/sh
# Run git-gate's whole test suite: unit tests (cmocka) and end-to-end tests
# (real pushes over file://, git:// and smart HTTP), in a normal build and
# again in an AddressSanitizer + UndefinedBehaviorSanitizer build, then
# `make distcheck`.  Build dependencies: contrib/install-deps.sh.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

autoreconf -fi >/dev/null 2>&1 || autoreconf -fi

run() {
	dir=$1
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && ../configure -q --enable-werror "$@" && make -s -j"$jobs" &&
	 make -s -j"$jobs" check) || {
		find "$dir/tests" -name '*.log' -exec grep -l '^not ok\|^FAIL\|^ERROR' {} + 2>/dev/null |
			while read -r log; do echo "==== $log"; cat "$log"; done
		return 1
	}
}

echo "== build and test"
run _build-test
echo "== build and test with -fsanitize=address,undefined"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run _build-asan --enable-sanitizers
echo "== make distcheck"
(cd _build-test && make -s distcheck)
echo "== all tests passed"
