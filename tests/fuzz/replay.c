/*
 * Replay a fuzz target's seed corpus without libFuzzer, as a TAP test:
 * each file of tests/fuzz/corpus/FUZZ_TARGET (in name order) is fed once
 * to LLVMFuzzerTestOneInput.  A target that breaks an invariant aborts,
 * which the TAP driver reports as a failure; ASan and UBSan do the rest
 * in the sanitizer build.
 *
 *   tests/fuzz/fuzz-policy            the corpus under $GATE_SRCDIR
 *   tests/fuzz/fuzz-policy FILE...    just these files (to reproduce a crash)
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>

#include "util.h"

#include "banned.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET names the corpus folder"
#endif

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_corpus(struct gate_strvec *files, const char *dir)
{
	struct gate_strvec names = GATE_STRVEC_INIT;
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t i;

	if (!d) {
		printf("Bail out! cannot open the corpus %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			gate_strvec_push(&names, de->d_name);
	closedir(d);
	if (names.nr)
		qsort(names.v, names.nr, sizeof(*names.v), cmp_names);
	for (i = 0; i < names.nr; i++)
		gate_strvec_pushf(files, "%s/%s", dir, names.v[i]);
	gate_strvec_clear(&names);
	return 0;
}

int main(int argc, char **argv)
{
	struct gate_strvec files = GATE_STRVEC_INIT;
	size_t i;
	int ret = 0;

	if (argc > 1) {
		int k;
		for (k = 1; k < argc; k++)
			gate_strvec_push(&files, argv[k]);
	} else {
		const char *src = getenv("GATE_SRCDIR");
		char *dir = gate_xstrfmt("%s/tests/fuzz/corpus/%s", src && *src ? src : ".", FUZZ_TARGET);
		ret = list_corpus(&files, dir);
		free(dir);
		if (ret < 0)
			return 1;
	}
	if (!files.nr) {
		printf("Bail out! the corpus of %s is empty\n", FUZZ_TARGET);
		return 1;
	}
	printf("1..%zu\n", files.nr);
	fflush(stdout);
	for (i = 0; i < files.nr; i++) {
		struct gate_buf data = GATE_BUF_INIT, err = GATE_BUF_INIT;
		const char *name = strrchr(files.v[i], '/') ? strrchr(files.v[i], '/') + 1 : files.v[i];

		if (gate_read_file(&data, files.v[i], &err) < 0) {
			printf("not ok %zu - %s: %s\n", i + 1, name, gate_buf_cstr(&err));
			ret = 1;
		} else {
			/* a copy of exactly the file's size, so that ASan sees reads past it */
			uint8_t *copy = gate_xmalloc(data.len ? data.len : 1);
			if (data.len)
				memcpy(copy, data.ptr, data.len);
			LLVMFuzzerTestOneInput(copy, data.len);
			free(copy);
			printf("ok %zu - %s\n", i + 1, name);
		}
		fflush(stdout);
		gate_buf_release(&data);
		gate_buf_release(&err);
	}
	gate_strvec_clear(&files);
	return ret;
}
