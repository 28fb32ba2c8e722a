#include "config.h"
#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"
#include "shared.h"

#include "banned.h"

/*
 * An entry file:
 *
 *   git-gate verdict cache 1 LF
 *   key <length> LF <key bytes> LF
 *   verdict pass LF
 *   info <one line> LF                     (optional)
 *   sum <sha256 of everything above> LF
 */
#define MAGIC "git-gate verdict cache 1\n"
#define MAX_ENTRY (1024 * 1024)

void gate_cache_key(struct gate_buf *key, const char *tree_id, const char *digest)
{
	gate_buf_addf(key, "tree %s\nversion %s\ncheck %zu:%s\n", tree_id, PACKAGE_VERSION, strlen(digest), digest);
}

char *gate_cache_entry_path(const char *dir, const char *key, size_t key_len)
{
	char hex[2 * GATE_SHA256_LEN + 1];

	gate_sha256_hex(hex, key, key_len);
	return gate_xstrfmt("%s/%s", dir, hex);
}

static void entry_body(struct gate_buf *b, const char *key, size_t key_len, const char *info)
{
	gate_buf_adds(b, MAGIC);
	gate_buf_addf(b, "key %zu\n", key_len);
	gate_buf_add(b, key, key_len);
	gate_buf_adds(b, "\nverdict pass\n");
	if (info && *info) {
		gate_buf_adds(b, "info ");
		for (; *info; info++)
			gate_buf_addch(b, *info == '\n' ? ' ' : *info);
		gate_buf_addch(b, '\n');
	}
}

/* Whether `data` is a whole, intact entry for exactly this key, saying pass. */
static int entry_valid(const char *data, size_t len, const char *key, size_t key_len)
{
	char want_head[64], hex[2 * GATE_SHA256_LEN + 1];
	const char *p = data, *end = data + len, *sum;
	size_t hl;
	int n;

	/* the checksum line closes the entry */
	if (len < 70 || data[len - 1] != '\n')
		return 0;
	sum = end - (4 + 2 * GATE_SHA256_LEN + 1);
	if (memcmp(sum, "sum ", 4) || (sum > data && sum[-1] != '\n'))
		return 0;
	gate_sha256_hex(hex, data, (size_t)(sum - data));
	if (memcmp(sum + 4, hex, 2 * GATE_SHA256_LEN))
		return 0;
	n = snprintf(want_head, sizeof(want_head), "%skey %zu\n", MAGIC, key_len);
	if (n < 0 || (size_t)n >= sizeof(want_head))
		return 0;
	hl = (size_t)n;
	if ((size_t)(sum - p) < hl + key_len + 1 || memcmp(p, want_head, hl))
		return 0;
	p += hl;
	if (memcmp(p, key, key_len) || p[key_len] != '\n')
		return 0;
	p += key_len + 1;
	if ((size_t)(sum - p) < 13 || memcmp(p, "verdict pass\n", 13))
		return 0;
	return 1;
}

int gate_cache_lookup(const char *dir, const char *key, size_t key_len)
{
	struct gate_buf data = GATE_BUF_INIT;
	char *path;
	struct stat st;
	int fd, ret = 0;

	if (!dir || !*dir)
		return 0;
	path = gate_cache_entry_path(dir, key, key_len);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		goto out;
	/* a regular file of sane size only */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_ENTRY) {
		close(fd);
		goto out;
	}
	if (gate_read_fd(&data, fd) == 0)
		ret = entry_valid(data.ptr ? data.ptr : "", data.len, key, key_len);
	close(fd);
out:
	free(path);
	gate_buf_release(&data);
	return ret;
}

int gate_cache_store(const char *dir, int shared, const char *key, size_t key_len, const char *info,
		     struct gate_buf *err)
{
	struct gate_buf body = GATE_BUF_INIT;
	char hex[2 * GATE_SHA256_LEN + 1];
	char *path = NULL;
	int ret = -1;

	if (!dir || !*dir)
		return gate_error(err, "no cache directory");
	if (gate_shared_mkdir_p(shared, dir) < 0) {
		gate_error(err, "cannot create the cache directory '%s': %s", dir, strerror(errno));
		goto out;
	}
	entry_body(&body, key, key_len, info);
	gate_sha256_hex(hex, body.ptr, body.len);
	gate_buf_addf(&body, "sum %s\n", hex);

	path = gate_cache_entry_path(dir, key, key_len);
	/*
	 * Not durable: after a crash an entry may be empty or cut short, and
	 * its checksum then makes it a miss, never a pass.  A lost pass
	 * costs one more build; waiting for the disk would cost every push.
	 */
	if (gate_shared_write_file(shared, path, body.ptr, body.len, 0, err) < 0)
		goto out;
	ret = 0;
out:
	free(path);
	gate_buf_release(&body);
	return ret;
}
