#ifndef GATE_QUEUE_INTERNAL_H
#define GATE_QUEUE_INTERNAL_H

/* What queue.c (the store) gives queue-run.c (the runner); not an API. */

#include <git2.h>

#include "queue.h"

/* GIT_DIR/git-gate/queue/NAME; the caller frees. */
char *gate_queue_path(const char *git_dir, const char *name);
/*
 * flock(path), a file of the repository at git_dir, exclusively, waiting or not: the descriptor (close it to
 * unlock), GATE_ENOTFOUND when not waiting and someone holds it, or -1.
 */
int gate_queue_lock_file(const char *git_dir, const char *path, int wait, struct gate_buf *err);
/* The queue lock, held briefly around every change of items. */
int gate_queue_lock(const char *git_dir, struct gate_buf *err);
void gate_queue_unlock(int fd);
/*
 * Replace a file atomically (temporary file and rename).  What the queue
 * creates follows the repository's core.sharedRepository (shared.h).
 */
int gate_queue_write_file(const char *git_dir, const char *path, const char *data, size_t len,
			  struct gate_buf *err);
/* Write an item's file (under the queue lock). */
int gate_queue_save(const char *git_dir, const struct gate_queue_item *it, struct gate_buf *err);
/* Where the report of a rejected item goes; the caller frees. */
char *gate_queue_report_path(const char *git_dir, long id);
/* Mark an undecided item as cancelled by its pusher (its ref was deleted). */
void gate_queue_mark_withdrawn(struct gate_queue_item *it);
/* Remove an item's ref (a missing one is fine). */
int gate_queue_drop_ref(git_repository *repo, const struct gate_queue_item *it, struct gate_buf *err);

#endif
