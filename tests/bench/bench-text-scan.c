/*
 * Micro-benchmark of the text scanners (the secrets check's rule set and
 * the text-hygiene scan) on real blobs, without git or the hook around
 * them: how many MB/s of text one core scans.
 *
 *   make tests/bench/bench-text-scan
 *   R=/path/to/git.git
 *   git -C $R rev-list --objects v2.40.0 --not v2.30.0 | cut -d' ' -f1 |
 *     git -C $R cat-file --batch-check='%(objecttype) %(objectname)' |
 *     sed -n 's/^blob //p' | git -C $R cat-file --batch >blobs.batch
 *   tests/bench/bench-text-scan blobs.batch [REPS]
 *
 * Binary blobs (a NUL in the first 8000 bytes) are skipped as the checks
 * skip them.  Times are the thread's CPU time, best of REPS (default 3),
 * so that other load on the machine disturbs them little.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secrets.h"
#include "textscan.h"

static double cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct blob {
	const char *data;
	size_t len;
};

int main(int argc, char **argv)
{
	struct gate_buf in = GATE_BUF_INIT, err = GATE_BUF_INIT;
	struct blob *blobs = NULL;
	size_t nblobs = 0, alloc = 0, pos = 0, text = 0, i, hits_sec = 0, hits_hyg = 0, hits_ws = 0;
	struct gate_secrets *set;
	double best[3] = { 1e9, 1e9, 1e9 };
	int reps = argc > 2 ? atoi(argv[2]) : 3, r;
	FILE *f;

	if (argc < 2) {
		fprintf(stderr, "usage: bench-text-scan BLOBS.batch [REPS]\n");
		return 2;
	}
	if (gate_read_file(&in, argv[1], &err) < 0) {
		fprintf(stderr, "bench-text-scan: %s\n", gate_buf_cstr(&err));
		return 1;
	}
	/* "<id> blob <size>\n<content>\n" */
	while (pos < in.len) {
		const char *nl = memchr(in.ptr + pos, '\n', in.len - pos), *sp;
		size_t size;
		if (!nl)
			break;
		sp = memrchr(in.ptr + pos, ' ', (size_t)(nl - (in.ptr + pos)));
		if (!sp)
			break;
		size = strtoull(sp + 1, NULL, 10);
		pos = (size_t)(nl - in.ptr) + 1;
		if (pos + size > in.len)
			break;
		if (!memchr(in.ptr + pos, '\0', size < 8000 ? size : 8000)) {
			GATE_ALLOC_GROW(blobs, nblobs + 1, alloc);
			blobs[nblobs].data = in.ptr + pos;
			blobs[nblobs++].len = size;
			text += size;
		}
		pos += size + 1;
	}
	set = gate_secrets_new();
	if (gate_secrets_add_builtins(set, NULL, &err) < 0 || gate_secrets_compile(set, &err) < 0) {
		fprintf(stderr, "bench-text-scan: %s\n", gate_buf_cstr(&err));
		return 1;
	}
	for (r = 0; r < reps; r++) {
		struct gate_text_hygiene markers = { 1, 7, 0, 8 }, ws = { 1, 7, GATE_WS_DEFAULT, 8 };
		double t;

		hits_sec = hits_hyg = hits_ws = 0;
		t = cpu_now();
		for (i = 0; i < nblobs; i++) {
			struct gate_secret_hits h = GATE_SECRET_HITS_INIT;
			if (gate_secrets_scan(set, blobs[i].data, blobs[i].len, 512, &h, &err) < 0) {
				fprintf(stderr, "bench-text-scan: %s\n", gate_buf_cstr(&err));
				return 1;
			}
			hits_sec += h.nr;
			gate_secret_hits_release(&h);
		}
		t = cpu_now() - t;
		if (t < best[0])
			best[0] = t;
		t = cpu_now();
		for (i = 0; i < nblobs; i++) {
			struct gate_text_issues is = GATE_TEXT_ISSUES_INIT;
			gate_text_hygiene_scan(&markers, blobs[i].data, blobs[i].len, &is, 256);
			hits_hyg += is.nr;
			gate_text_issues_release(&is);
		}
		t = cpu_now() - t;
		if (t < best[1])
			best[1] = t;
		t = cpu_now();
		for (i = 0; i < nblobs; i++) {
			struct gate_text_issues is = GATE_TEXT_ISSUES_INIT;
			gate_text_hygiene_scan(&ws, blobs[i].data, blobs[i].len, &is, 256);
			hits_ws += is.nr;
			gate_text_issues_release(&is);
		}
		t = cpu_now() - t;
		if (t < best[2])
			best[2] = t;
	}
	f = stdout;
	fprintf(f, "%zu text blobs, %.1f MB; CPU time, best of %d:\n", nblobs, (double)text / 1e6, reps);
	fprintf(f, "  secrets (%zu rules):             %.3f s  %6.0f MB/s  (%zu findings)\n",
		gate_secrets_nrules(set), best[0], (double)text / 1e6 / best[0], hits_sec);
	fprintf(f, "  text-hygiene, conflict markers:  %.3f s  %6.0f MB/s  (%zu findings)\n", best[1],
		(double)text / 1e6 / best[1], hits_hyg);
	fprintf(f, "  text-hygiene, with whitespace:   %.3f s  %6.0f MB/s  (%zu findings)\n", best[2],
		(double)text / 1e6 / best[2], hits_ws);
	gate_secrets_free(set);
	free(blobs);
	gate_buf_release(&in);
	gate_buf_release(&err);
	return 0;
}
