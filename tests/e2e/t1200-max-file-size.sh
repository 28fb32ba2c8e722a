#!/bin/sh
# The max-file-size check through real pushes: the limit, per-pattern
# limits, Git LFS pointers, blobs deleted again, and the same blob under
# two paths (reported for each path, read once).
. "$GATE_SRCDIR/tests/e2e/lib.sh"

sync_work() {
	(cd work && git reset -q --hard "$(git -C ../victim.git rev-parse main)")
}

# bytes N FILE: N bytes of incompressible-ish, unique content
bytes() {
	mkdir -p "$(dirname "$2")" &&
	awk -v n="$1" -v seed="$2" 'BEGIN { srand(length(seed) * 7919); s = seed "\n";
		while (length(s) < n) s = s sprintf("%08x", int(rand() * 4294967295));
		printf "%s", substr(s, 1, n) }' >"$2"
}

lfs_pointer() {
	mkdir -p "$(dirname "$1")" &&
	printf "version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %s\n" \
		4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393 "$2" >"$1"
}

test_expect_success 'setup' '
	make_victim victim.git &&
	make_work work victim.git &&
	cat >victim.git/git-gate.conf <<-\EOF &&
	rules = ( { refs = [ "refs/heads/main" ]; checks = [ "size" ]; } );
	checks = {
	  size = { type = "max-file-size"; limit = "10 KiB";
	           limits = ( { pattern = "*.psd"; limit = "0"; },
	                      { pattern = "assets/**"; limit = "100 KiB"; },
	                      { pattern = "vendor/**"; limit = "none"; } ); };
	};
	EOF
	git gate validate victim.git/git-gate.conf
'

test_expect_success 'files under the limit are accepted' '
	(cd work && bytes 10240 small.bin && git add small.bin && git commit -q -m "Add small" &&
	 git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'a file over the limit is rejected with path, size, limit and commit' '
	before=$(ref_of victim.git main) &&
	(cd work && bytes 20480 data/big.bin && git add data/big.bin && git commit -q -m "Add big" &&
	 test_must_fail git push origin main 2>../err) &&
	c=$(git -C work rev-parse --short=10 HEAD) &&
	test_grep "remote: git-gate:   \[size\] max-file-size: 1 problem" err &&
	test_grep "remote: git-gate:     commit $c \"Add big\":" err &&
	test_grep "remote: git-gate:       data/big.bin: file is 20.0 KiB, over the 10.0 KiB limit *$" err &&
	test_grep "fix: take it out of every commit that adds it" err &&
	test_grep "git lfs migrate import" err &&
	test "$(ref_of victim.git main)" = "$before"
'

test_expect_success 'one byte over the limit shows exact byte counts' '
	sync_work &&
	(cd work && bytes 10241 edge.bin && git add edge.bin && git commit -q -m "Add edge" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "edge.bin: file is 10.0 KiB (10241 bytes), over the 10.0 KiB (10240 bytes) limit" err
'

test_expect_success 'a big file added and deleted again is still rejected: it is in the history' '
	sync_work &&
	(cd work && bytes 30000 tmp/dump.sql && git add tmp/dump.sql && git commit -q -m "Add dump" &&
	 git rm -q tmp/dump.sql && git commit -q -m "Remove dump again" &&
	 test_must_fail git push origin main 2>../err) &&
	c=$(git -C work rev-parse --short=10 HEAD~1) &&
	test_grep "commit $c \"Add dump\":" err &&
	test_grep "tmp/dump.sql: file is 29.3 KiB, over the 10.0 KiB limit" err &&
	test_grep ! "Remove dump again" err
'

test_expect_success 'the same big blob under two paths: reported per path, read once' '
	sync_work &&
	(cd work && bytes 40000 one.bin && git add one.bin && git commit -q -m "Add one" &&
	 mkdir -p copy && cp one.bin copy/two.bin && git add copy/two.bin && git commit -q -m "Add a copy" &&
	 export GIT_GATE_TRACE=1 && test_must_fail git push origin main 2>../err) &&
	test_grep "\[size\] max-file-size: 2 problems" err &&
	test_grep "one.bin: file is 39.1 KiB" err &&
	test_grep "copy/two.bin: file is 39.1 KiB" err &&
	test_grep "commit $(git -C work rev-parse --short=10 HEAD) \"Add a copy\":" err &&
	test_grep "remote: git-gate: trace: 2 commits, 1 blobs read" err
'

test_expect_success 'the same blob twice in one commit is read once too' '
	sync_work &&
	(cd work && bytes 12000 x/a.bin && mkdir -p y && cp x/a.bin y/a.bin && git add x y &&
	 git commit -q -m "Add twins" && export GIT_GATE_TRACE=1 && test_must_fail git push origin main 2>../err) &&
	test_grep "x/a.bin: file is" err &&
	test_grep "y/a.bin: file is" err &&
	test_grep "trace: 1 commits, 1 blobs read" err
'

test_expect_success 'per-pattern limits: the first matching pattern wins' '
	sync_work &&
	(cd work && bytes 51200 assets/logo.png && bytes 204800 vendor/lib.a &&
	 git add assets vendor && git commit -q -m "Add assets and vendor" && git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	(cd work && bytes 150000 assets/huge.png && git add assets && git commit -q -m "Add huge" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "assets/huge.png: file is 146.5 KiB, over the 100.0 KiB limit for .assets/\*\*." err
'

test_expect_success 'a limit of 0 for *.psd demands Git LFS: pointers pass, content does not' '
	sync_work &&
	(cd work && lfs_pointer art/cover.psd 73012345 && git add art && git commit -q -m "Add cover via LFS" &&
	 git push origin main 2>../err) &&
	test "$(ref_of victim.git main)" = "$(git -C work rev-parse HEAD)" &&
	(cd work && mkdir -p art && printf "8BPS not a pointer" >art/raw.psd && git add art && git commit -q -m "Add raw psd" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "art/raw.psd: file is 18 B, over the 0 B limit for .\*.psd." err
'

test_expect_success 'a malformed pointer is not a pointer' '
	sync_work &&
	(cd work && mkdir -p art && printf "version https://git-lfs.github.com/spec/v1\noid sha256:xyz\nsize 1\n" >art/fake.psd &&
	 git add art && git commit -q -m "Add fake pointer" && test_must_fail git push origin main 2>../err) &&
	test_grep "art/fake.psd: file is" err
'

test_expect_success 'lfs = false judges pointer files like any file' '
	sync_work &&
	sed -e "s/type = \"max-file-size\";/type = \"max-file-size\"; lfs = false;/" victim.git/git-gate.conf >conf &&
	mv conf victim.git/git-gate.conf &&
	(cd work && lfs_pointer art/back.psd 99 && git add art && git commit -q -m "Add back via LFS" &&
	 test_must_fail git push origin main 2>../err) &&
	test_grep "art/back.psd: file is 1[0-9][0-9] B, over the 0 B limit" err
'

test_expect_success 'bad limits are policy errors with their line' '
	cat >bad.conf <<-\EOF &&
	checks = {
	  s1 = { type = "max-file-size"; limit = "5 parsecs"; };
	  s2 = { type = "max-file-size";
	         limits = ( { pattern = "*.psd"; },
	                    { pattern = "*.iso"; limit = "1 GiB"; size = 3; } ); };
	};
	EOF
	test_expect_code 1 git gate validate bad.conf >out 2>&1 &&
	test_grep "bad.conf:2:.*limit" out &&
	test_grep "bad.conf:4:.*needs a pattern and a limit" out &&
	test_grep "bad.conf:5:.*unknown key .size." out
'

test_done
