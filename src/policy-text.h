#ifndef GATE_POLICY_TEXT_H
#define GATE_POLICY_TEXT_H

/*
 * What is checked in a policy's text before libconfig parses it, because
 * libconfig 1.5 would hang on it or silently change its meaning:
 *
 *  - a NUL byte, raw or as a "\x00" escape in a string: libconfig keeps
 *    C strings, so the value would end there ("refs/heads/ma\x00in" would
 *    silently be "refs/heads/ma");
 *  - an @include of anything but a regular file: libconfig opens it with
 *    fopen(), and a FIFO or a device blocks the hook forever;
 *  - a file that includes itself, directly or through others: libconfig
 *    only says "cannot open include file" after ten levels.
 *
 * Each problem goes to `diag` as "FILE:LINE: ...".
 */

#include <stddef.h>

#include "diag.h"

/*
 * Check `text` (`len` bytes, NULs included) of the policy called `name`
 * for NUL bytes.  Returns the number of problems found.
 */
int gate_policy_text_check(const char *name, const char *text, size_t len, struct gate_diag *diag);

/*
 * Check the policy file `file` and, recursively, the files it @includes
 * (resolved against `include_dir` as libconfig does: every @include name,
 * nested ones too, is taken from that directory, or from the current
 * directory when NULL).  Files are opened without blocking and must be
 * regular files (/dev/null counts as an empty one).  Returns the number of problems found (0: libconfig may
 * read it), or GATE_ENOTFOUND when `file` does not exist.
 */
int gate_policy_file_check(const char *file, const char *include_dir, struct gate_diag *diag);

#endif
