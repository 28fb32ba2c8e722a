#!/bin/sh
# Fuzz campaigns (make fuzz): build each tests/fuzz/fuzz-*.c target with
# clang and libFuzzer (ASan and UBSan on), then run it from its seed corpus.
#
#   run.sh SRCDIR BUILDDIR
#
# Settings, from the environment (make fuzz passes them on):
#   FUZZ_TARGETS  targets to run (default: all), e.g. "glob paths"
#   FUZZ_TIME     seconds per target (default 60; 0: no time limit)
#   FUZZ_RUNS     inputs per target (default 0: no limit)
#   FUZZ_JOBS     targets run at once (default 1)
#   FUZZ_ARGS     more libFuzzer options, e.g. "-max_len=65536"
#   CLANG         the compiler (default clang)
#
# The library sources are compiled again with clang into BUILDDIR/fuzz/
# (the ordinary build is left alone); new inputs a campaign finds go to
# BUILDDIR/fuzz/corpus/TARGET, crashes to BUILDDIR/fuzz/crash-TARGET-*,
# each target's log to BUILDDIR/fuzz/TARGET.log.  Exit status 0 when no
# target crashed.
set -u

srcdir=${1:?usage: run.sh SRCDIR BUILDDIR}
builddir=${2:?usage: run.sh SRCDIR BUILDDIR}
CLANG=${CLANG:-clang}
FUZZ_TARGETS=${FUZZ_TARGETS:-"policy push report audit commit secrets glob paths pack"}
FUZZ_TIME=${FUZZ_TIME:-60}
FUZZ_RUNS=${FUZZ_RUNS:-0}
FUZZ_JOBS=${FUZZ_JOBS:-1}
FUZZ_ARGS=${FUZZ_ARGS:-}

if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "make fuzz: '$CLANG' not found: the campaigns need clang with libFuzzer" >&2
	echo "(Debian: apt-get install clang libclang-rt-14-dev; or make fuzz CLANG=clang-14)." >&2
	echo "make check replays the seed corpora without clang." >&2
	exit 2
fi
if [ ! -f "$builddir/config.h" ]; then
	echo "make fuzz: no config.h in $builddir: run configure first" >&2
	exit 2
fi
deps=$(pkg-config --cflags libgit2 libconfig libpcre2-8 zlib) || exit 2
libs=$(pkg-config --libs libgit2 libconfig libpcre2-8 zlib) || exit 2

out=$builddir/fuzz
mkdir -p "$out/obj" || exit 2
flags="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
cppflags="-I$srcdir/src -I$builddir -D_GNU_SOURCE -DGATE_SYSCONFDIR=\"/nonexistent\" -DGATE_PKGLIBEXECDIR=\"/nonexistent\""

# a test link, so that a missing libFuzzer runtime is said plainly
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
	>"$out/probe.c"
if ! "$CLANG" -fsanitize=fuzzer,address,undefined -o "$out/probe" "$out/probe.c" >"$out/probe.log" 2>&1; then
	echo "make fuzz: $CLANG cannot link a libFuzzer target (see $out/probe.log);" >&2
	echo "the runtime is in libclang-rt-NN-dev (Debian) or compiler-rt." >&2
	exit 2
fi

# the library: the C files of libgitgate_a_SOURCES in Makefile.am
lib=$(sed -n '/^libgitgate_a_SOURCES *=/,/[^\\]$/p' "$srcdir/Makefile.am" | tr ' \t\\' '\n\n\n' | grep '\.c$')
if [ -z "$lib" ]; then
	echo "make fuzz: cannot read libgitgate_a_SOURCES in $srcdir/Makefile.am" >&2
	exit 2
fi
objs=
for f in $lib; do
	c=$srcdir/$f
	base=$(basename "$c" .c)
	o=$out/obj/$base.o
	if [ ! -f "$o" ] || [ "$c" -nt "$o" ] || [ -n "$(find "$srcdir/src" -name '*.h' -newer "$o")" ]; then
		echo "  CLANG    src/$base.c"
		# shellcheck disable=SC2086
		"$CLANG" $flags -fsanitize=fuzzer-no-link $cppflags $deps -c "$c" -o "$o" || exit 2
	fi
	objs="$objs $o"
done

# one campaign: build, run, summarise
campaign() {
	t=$1
	bin=$out/fuzz-$t
	log=$out/$t.log
	# shellcheck disable=SC2086
	"$CLANG" $flags -fsanitize=fuzzer $cppflags $deps -o "$bin" "$srcdir/tests/fuzz/fuzz-$t.c" $objs $libs \
		-lpthread || return 2
	mkdir -p "$out/corpus/$t"
	rm -f "$out/crash-$t-"*
	limits="-timeout=10 -rss_limit_mb=2048 -print_final_stats=1"
	[ "$FUZZ_TIME" -gt 0 ] && limits="$limits -max_total_time=$FUZZ_TIME"
	[ "$FUZZ_RUNS" -gt 0 ] && limits="$limits -runs=$FUZZ_RUNS"
	start=$(date +%s)
	# A small quarantine: libFuzzer checks for leaks after every input
	# that allocated more than it freed (libconfig's suppressed leaks do),
	# and that check's time grows with the quarantine; at the default
	# 256 MiB it was 90% of the policy target's time (335 inputs a second
	# against 2,560 with 8 MiB).  Each input frees far less than 16 MiB,
	# so a use after free within one input is still caught.
	# shellcheck disable=SC2086
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=16 \
	LSAN_OPTIONS="suppressions=$srcdir/tests/fuzz/lsan.supp" \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$bin" $limits -artifact_prefix="$out/crash-$t-" $FUZZ_ARGS \
		"$out/corpus/$t" "$srcdir/tests/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	crashes=$(ls "$out/crash-$t-"* 2>/dev/null | wc -l)
	if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
		result="ok, no crash"
	else
		result="FAILED (exit $rc; $crashes artifact(s) in $out; log $log)"
	fi
	echo "fuzz-$t: ${execs:-?} execs in ${secs} s, $(ls "$out/corpus/$t" | wc -l) new corpus inputs: $result"
	[ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]
}

# FUZZ_JOBS campaigns at a time, a batch after another
status=0
pids=
for t in $FUZZ_TARGETS; do
	if [ ! -f "$srcdir/tests/fuzz/fuzz-$t.c" ]; then
		echo "make fuzz: no target '$t' (tests/fuzz/fuzz-$t.c)" >&2
		status=2
		continue
	fi
	campaign "$t" &
	pids="$pids $!"
	if [ "$(echo $pids | wc -w)" -ge "$FUZZ_JOBS" ]; then
		for pid in $pids; do
			wait "$pid" || status=1
		done
		pids=
	fi
done
for pid in $pids; do
	wait "$pid" || status=1
done
exit $status
