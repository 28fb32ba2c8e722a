#ifndef GATE_DEADLINE_H
#define GATE_DEADLINE_H

/*
 * The hook's overall deadline (`hook_timeout`, git-gate.conf(5)): git
 * never times a hook out, so without one a stuck child (git rev-list on a
 * stalled disk, gpg waiting for an agent, ...), a blocked lock or a file
 * that never ends could hold a push, and the pusher's terminal, forever.
 *
 * A watchdog thread counts the time the hook spends on everything except
 * command checks, which have their own per-check timeout: while one runs
 * the clock is paused (gate_deadline_pause/resume, nestable and safe from
 * any thread).  When the budget is used up the watchdog marks the
 * deadline expired and kills every child started through run-command.h
 * (SIGKILL, the whole group for group leaders), so that the waiting code
 * fails and the hook rejects the push through its ordinary error path
 * (report, audit record).  Should the hook still not be done GRACE
 * seconds later (stuck outside any child), the watchdog prints the
 * message itself and ends the process with GATE_EXIT_INTERNAL, which
 * rejects the push.
 *
 *   gate_deadline_start(300, "push rejected");     first thing in main()
 *   ... policy loaded ...
 *   gate_deadline_set(cfg->hook_timeout);         the policy's budget
 *   ... if (gate_deadline_expired()) say so, reject ...
 *   gate_deadline_stop();                          before returning
 *
 * In programs that never call gate_deadline_start (the CLI) every
 * function here does nothing.
 */

#include <sys/types.h>

/* The budget when the policy sets none, and the most it may set. */
#define GATE_DEADLINE_DEFAULT 300
#define GATE_DEADLINE_MAX (24 * 3600)

/*
 * Start the watchdog with a budget of `seconds`.  `consequence` ends the
 * message printed should the watchdog have to end the hook itself
 * ("push rejected").  -1 when the thread cannot be started (the hook then
 * runs without a deadline).
 */
int gate_deadline_start(long seconds, const char *consequence);
/* Change the whole budget (time already spent counts against it). */
void gate_deadline_set(long seconds);
long gate_deadline_seconds(void);
/* Whether the budget ran out. */
int gate_deadline_expired(void);
/*
 * Stop counting while a command check runs.  -1 (and no pause taken)
 * when the deadline has already expired: start nothing new then.
 */
int gate_deadline_pause(void);
void gate_deadline_resume(void);
/* The hook is done: end the watchdog. */
void gate_deadline_stop(void);

/* run-command.c: children to kill when the deadline expires. */
void gate_deadline_track(pid_t pid, int group);
void gate_deadline_untrack(pid_t pid);

#endif
