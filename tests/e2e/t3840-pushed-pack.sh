#!/bin/sh
# A large push's blobs are read by the hook from the pack receive-pack
# keeps in the quarantine (src/pack.c), and only what that reader leaves
# to git through `git cat-file`: a blob the server already had, one too
# large to hold.  Each push here is judged again with
# GIT_GATE_TEST_NO_PACK=1 (every blob through cat-file): the reports must
# be the same.  receive.unpackLimit=1 keeps even these small pushes as
# packs, and GIT_GATE_TEST_STREAM=1 keeps them out of the in-process path
# of small pushes.
. "$GATE_SRCDIR/tests/e2e/lib.sh"

GIT_GATE_TEST_STREAM=1
GIT_GATE_TRACE=1
export GIT_GATE_TEST_STREAM GIT_GATE_TRACE

policy() {
	git -C "$1" config receive.unpackLimit 1 &&
	cat >"$1/git-gate.conf" <<-\EOF
	rules = ( { refs = [ "refs/heads/**" ]; checks = [ "hyg", "size", "sec" ]; } );
	checks = {
	  hyg = { type = "text-hygiene"; };
	  size = { type = "max-file-size"; limit = "1 MiB"; };
	  sec = { type = "secrets"; };
	};
	EOF
}

# report ERRFILE: the hook's report, without trace lines and the policy's path
report() {
	grep "^remote: " "$1" | grep -v "trace:" | sed -n "/---- refs/,\$p" | sed "s/(policy: .*//; s/^remote: *//"
}

# twin PUSH-ARGS...: push to victim.git and, blobs through cat-file, to twin.git;
# the reports to err.pack and err.git
twin() {
	(cd w && git push "$TRASH/victim.git" "$@" 2>../err.pack; echo $? >../rc.pack) &&
	(cd w && GIT_GATE_TEST_NO_PACK=1 git push "$TRASH/twin.git" "$@" 2>../err.git; echo $? >../rc.git) &&
	test_cmp rc.git rc.pack &&
	report err.pack >report.pack &&
	report err.git >report.git &&
	test_cmp report.git report.pack &&
	test_grep ! "blobs read from the pushed pack" err.git
}

test_expect_success 'setup: two servers, the same history on both' '
	make_victim victim.git && make_victim twin.git &&
	policy victim.git && policy twin.git &&
	make_work w victim.git &&
	(cd w && git push -q "$TRASH/twin.git" main 2>/dev/null &&
	 seq 1 3000 | sed "s/^/line of text /" >long.txt && git add long.txt && git commit -q -m "Add long.txt" &&
	 git push -q origin main 2>/dev/null && git push -q "$TRASH/twin.git" main 2>/dev/null) &&
	test "$(ref_of victim.git main)" = "$(ref_of twin.git main)"
'

test_expect_success 'a thin pack: the delta, and the base index-pack stored after it, read from the pack' '
	(cd w && sed "1500s/.*/<<<<<<< HEAD/" long.txt >l && mv l long.txt &&
	 git commit -q -am "Edit long.txt") &&
	twin main &&
	test "$(cat rc.pack)" != 0 &&
	test_grep "long.txt:1500: leftover conflict marker" report.pack &&
	# the new version is a delta of the old one, which the server had: index-pack
	# completed the thin pack with it, and the reader reads both from the pack
	test_grep "remote: git-gate: trace: blobs read from the pushed pack: 2, through git cat-file: 0" err.pack &&
	test_grep "remote: git-gate: trace: 1 commits, 2 blobs read" err.pack &&
	test "$(grep -c "leftover conflict marker" report.pack)" = 1
'

test_expect_success 'a blob the server already has is read through git cat-file' '
	# a copy of a file of the parent commit: the push leaves its blob out
	(cd w && git reset -q --hard "$(ref_of ../victim.git main)" &&
	 cp long.txt copy.txt && printf "x\n<<<<<<< HEAD\n" >new.txt &&
	 git add copy.txt new.txt && git commit -q -m "Copy long.txt, add new.txt") &&
	twin main &&
	test_grep "new.txt:2: leftover conflict marker" report.pack &&
	test_grep ! "copy.txt" report.pack &&
	test_grep "remote: git-gate: trace: blobs read from the pushed pack: 1, through git cat-file: 1" err.pack
'

test_expect_success 'a blob too large to hold is left to git, and judged' '
	(cd w && git reset -q --hard "$(ref_of ../victim.git main)" && head -c 34000000 /dev/zero >huge.bin && git add huge.bin &&
	 git commit -q -m "Add huge.bin") &&
	twin main &&
	test_grep "huge.bin: file is 32.4 MiB, over the 1.0 MiB limit" report.pack &&
	test_grep "remote: git-gate: trace: blobs read from the pushed pack: 0, through git cat-file: 1" err.pack
'

# command OLD NEW REF: receive-pack's first command, with its capabilities, as a pkt-line
command() {
	line="$1 $2 $3"
	printf "%04x%s\0%s\n" $((${#line} + 1 + 13 + 1 + 4)) "$line" report-status
}

test_expect_success 'a hostile pack: a blob no commit brings is read, never reported' '
	(cd w && git reset -q --hard "$(ref_of ../victim.git main)" && echo clean >clean.txt && git add clean.txt &&
	 git commit -q -m "Clean" &&
	 printf "a\n<<<<<<< HEAD\nAKIAIOSFODNN7EXAMPLF\n" >../stray && git hash-object -w ../stray >../stray.id &&
	 { git rev-list --objects main --not "$(ref_of ../victim.git main)" | cut -d" " -f1 &&
	   cat ../stray.id; } | git pack-objects -q --stdout >../stray.pack) &&
	old=$(ref_of victim.git main) && new=$(git -C w rev-parse main) &&
	{ command "$old" "$new" refs/heads/main && printf 0000 && cat stray.pack; } >input &&
	git receive-pack victim.git <input >out 2>err.stray &&
	test_grep "unpack ok" out &&
	test_grep "ok refs/heads/main" out &&
	test "$(ref_of victim.git main)" = "$new" &&
	test_grep "git-gate: trace: blobs read from the pushed pack: 2, through git cat-file: 0" err.stray &&
	test_grep ! "leftover conflict marker" err.stray &&
	test_grep ! "AKIA" err.stray
'

test_done
