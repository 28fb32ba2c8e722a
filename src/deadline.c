#include "config.h"
#include "deadline.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#include "banned.h"

/* how long the hook gets to reject cleanly after its children were killed */
#define GRACE 5.0
#define MAX_TRACKED 256

/*
 * One deadline per process: it guards the process itself, like an alarm
 * does, so it is process state by nature (and touched from several
 * threads, always under `lock`).
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	int started, stopping, expired, paused;
	double budget;       /* seconds */
	double spent;        /* seconds counted before `since` */
	double since;        /* monotonic time counting resumed; valid when !paused */
	const char *consequence;
	struct {
		pid_t pid;
		int group;
	} kids[MAX_TRACKED];
} dl = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double spent_locked(double now)
{
	return dl.spent + (dl.paused ? 0 : now - dl.since);
}

static void kill_kids_locked(void)
{
	size_t i;

	for (i = 0; i < MAX_TRACKED; i++) {
		if (dl.kids[i].pid <= 0)
			continue;
		if (dl.kids[i].group)
			kill(-dl.kids[i].pid, SIGKILL);
		kill(dl.kids[i].pid, SIGKILL);
	}
}

static void wait_until(double when)
{
	struct timespec ts;
	double whole;

	whole = (double)(long)when;
	ts.tv_sec = (time_t)whole;
	ts.tv_nsec = (long)((when - whole) * 1e9);
	(void)pthread_cond_timedwait(&dl.cond, &dl.lock, &ts);
}

static void *watchdog(void *arg)
{
	double now, give_up = 0;

	(void)arg;
	pthread_mutex_lock(&dl.lock);
	while (!dl.stopping) {
		now = mono();
		if (!dl.expired) {
			if (dl.paused) {
				pthread_cond_wait(&dl.cond, &dl.lock);
				continue;
			}
			if (spent_locked(now) < dl.budget) {
				wait_until(now + (dl.budget - spent_locked(now)));
				continue;
			}
			dl.expired = 1;
			kill_kids_locked();
			give_up = now + GRACE;
			continue;
		}
		if (now < give_up) {
			kill_kids_locked(); /* children started since */
			wait_until(now + 0.1 < give_up ? now + 0.1 : give_up);
			continue;
		}
		{
			char msg[512];
			int n = snprintf(msg, sizeof(msg),
					 "git-gate: the hook did not finish within hook_timeout (%.0f s) and was "
					 "stopped; %s\n",
					 dl.budget, dl.consequence ? dl.consequence : "push rejected");
			kill_kids_locked();
			if (n > 0)
				(void)gate_write_all(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
			/* the one exit outside main(): nothing else can end a hook stuck in a system call */
			_exit(GATE_EXIT_INTERNAL);
		}
	}
	pthread_mutex_unlock(&dl.lock);
	return NULL;
}

int gate_deadline_start(long seconds, const char *consequence)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int r;

	pthread_mutex_lock(&dl.lock);
	if (dl.started) {
		pthread_mutex_unlock(&dl.lock);
		return 0;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&dl.cond);
	pthread_cond_init(&dl.cond, &ca);
	pthread_condattr_destroy(&ca);
	dl.budget = (double)(seconds > 0 ? seconds : GATE_DEADLINE_DEFAULT);
	dl.spent = 0;
	dl.since = mono();
	dl.consequence = consequence;
	/* the watchdog takes no signals: they stay with the threads that expect them */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&dl.thread, NULL, watchdog, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	dl.started = r == 0;
	pthread_mutex_unlock(&dl.lock);
	return r == 0 ? 0 : -1;
}

void gate_deadline_set(long seconds)
{
	pthread_mutex_lock(&dl.lock);
	if (dl.started && seconds > 0 && !dl.expired) {
		dl.budget = (double)seconds;
		pthread_cond_broadcast(&dl.cond);
	}
	pthread_mutex_unlock(&dl.lock);
}

long gate_deadline_seconds(void)
{
	long s;

	pthread_mutex_lock(&dl.lock);
	s = dl.started ? (long)dl.budget : 0;
	pthread_mutex_unlock(&dl.lock);
	return s;
}

int gate_deadline_expired(void)
{
	int e;

	pthread_mutex_lock(&dl.lock);
	e = dl.expired;
	pthread_mutex_unlock(&dl.lock);
	return e;
}

int gate_deadline_pause(void)
{
	int ret = 0;

	pthread_mutex_lock(&dl.lock);
	if (!dl.started) {
		/* nothing to pause */
	} else if (dl.expired) {
		ret = -1;
	} else if (dl.paused++ == 0) {
		dl.spent += mono() - dl.since;
		pthread_cond_broadcast(&dl.cond);
	}
	pthread_mutex_unlock(&dl.lock);
	return ret;
}

void gate_deadline_resume(void)
{
	pthread_mutex_lock(&dl.lock);
	if (dl.started && dl.paused > 0 && --dl.paused == 0) {
		dl.since = mono();
		pthread_cond_broadcast(&dl.cond);
	}
	pthread_mutex_unlock(&dl.lock);
}

void gate_deadline_stop(void)
{
	int join;

	pthread_mutex_lock(&dl.lock);
	join = dl.started && !dl.stopping;
	dl.stopping = 1;
	pthread_cond_broadcast(&dl.cond);
	pthread_mutex_unlock(&dl.lock);
	if (join)
		pthread_join(dl.thread, NULL);
}

void gate_deadline_track(pid_t pid, int group)
{
	size_t i;

	pthread_mutex_lock(&dl.lock);
	for (i = 0; dl.started && i < MAX_TRACKED; i++)
		if (dl.kids[i].pid <= 0) {
			dl.kids[i].pid = pid;
			dl.kids[i].group = group;
			break;
		}
	/* started after expiry (a race with the watchdog): it goes at once */
	if (dl.expired)
		kill(pid, SIGKILL);
	pthread_mutex_unlock(&dl.lock);
}

void gate_deadline_untrack(pid_t pid)
{
	size_t i;

	pthread_mutex_lock(&dl.lock);
	for (i = 0; i < MAX_TRACKED; i++)
		if (dl.kids[i].pid == pid)
			dl.kids[i].pid = 0;
	pthread_mutex_unlock(&dl.lock);
}
