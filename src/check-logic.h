#ifndef GATE_CHECK_LOGIC_H
#define GATE_CHECK_LOGIC_H

/*
 * The pure decisions inside the identity, max-file-size and history
 * checks, exposed so that unit tests can call them without a push.
 * (Path classification lives in paths.h.)
 */

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/*
 * identity: whether the committer (`name`, `email`) is the pusher.  When
 * `emails` is non-NULL (the pusher has an entry in pusher_emails) the
 * email must be one of them; otherwise the pusher must equal the whole
 * email, its local part (before the last '@') or the name.  All
 * comparisons ignore ASCII case.
 */
int gate_identity_is_pusher(const char *pusher, const char *name, const char *email,
			    const struct gate_strvec *emails);

/* identity: "3 days", "2 hours", "15 min", "40 s": the largest whole unit. */
void gate_buf_add_duration(struct gate_buf *b, int64_t seconds);

/*
 * max-file-size: whether `data` is a Git LFS pointer file: under 1024
 * bytes, "version https://git-lfs.github.com/spec/v1" first, an
 * "oid sha256:<64 hex>" and a "size <digits>" line, every line "key value"
 * ending in a newline.
 */
int gate_lfs_is_pointer(const char *data, size_t len);

/* Largest size of a Git LFS pointer file (git-lfs reads no further). */
#define GATE_LFS_POINTER_MAX 1024

/* history: the autosquash prefix ("fixup!", "squash!", "amend!") a subject starts with, or NULL. */
const char *gate_history_autosquash_prefix(const char *subject);

#endif
