/*
 * Periodic re-verification of the files the domains were started from,
 * within a CPU budget.
 *
 *   struct al_monitor *mon = al_monitor_new(&key, 1.0);      1 % of a core
 *   al_monitor_add(mon, "ai.model", path, fd, entry->digest); the verified fd
 *   every tick (1 s):
 *     struct al_monitor_finding f;
 *     if (al_monitor_step(mon, interval_ns, &f) < 0) -> integrity incident (f says which, why)
 *   al_monitor_free(mon);
 *
 * A pass re-hashes every file through the fd that was verified and handed
 * on (what the domain really reads), a slice per tick: the slice is sized from
 * the CPU time (CLOCK_THREAD_CPUTIME_ID) the previous slices took so that the
 * checks stay within the budget per tick; a pass that needs longer than the
 * interval simply takes longer (the budget wins). Between passes, each tick
 * costs two stat calls per file: the fd's size, mtime and ctime (an in-place
 * write changes them: that file is re-hashed at once, ahead of the schedule)
 * and the path's identity (a file replaced on disk by rename no longer is the
 * fd the domain holds: what the next start would read is not what runs).
 */
#ifndef AL_INTEGRITY_MONITOR_H
#define AL_INTEGRITY_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "integrity/manifest.h"

#define AL_MONITOR_MAX_FILES 8

struct al_monitor;

struct al_monitor_finding {
	char name[AL_MANIFEST_MAX_NAME];
	char path[256];
	const char *reason;  /* "digest mismatch", "size changed", "replaced on disk", ... */
};

struct al_monitor_stats {
	uint64_t passes;         /* complete passes over every file */
	uint64_t bytes;          /* hashed in total */
	uint64_t cpu_ns;         /* thread CPU time spent in al_monitor_step */
	uint64_t steps;
	uint64_t slice;          /* bytes per step now */
};

/* budget_pct: share of one core per tick (1.0 = 1 %). NULL on allocation failure. */
struct al_monitor *al_monitor_new(const struct al_manifest_key *key, double budget_pct);
void al_monitor_free(struct al_monitor *mon);

/* fd is borrowed (must stay open); digest is the manifest's. 0 or -errno. */
int al_monitor_add(struct al_monitor *mon, const char *name, const char *path, int fd,
		   const unsigned char digest[AL_MANIFEST_DIGEST_LEN]);

/*
 * One tick. interval_ns: time from the start of one pass to the next.
 * tick_ns: the caller's tick (the budget is a share of it). 0, or -EBADMSG
 * with *f filled on the first deviation (the pass restarts after one).
 */
int al_monitor_step(struct al_monitor *mon, uint64_t interval_ns, uint64_t tick_ns,
		    struct al_monitor_finding *f);

void al_monitor_stats(const struct al_monitor *mon, struct al_monitor_stats *st);

/* ---- running domains ---- */

#include <sys/types.h>
#include "integrity/procstate.h"

/* What a process looked like when first checked after its spawn. */
struct al_proc_baseline {
	bool have;
	struct al_procstate_ns ns;
	char ssb[AL_PROCSTATE_SPEC_LEN], ib[AL_PROCSTATE_SPEC_LEN];
};

enum al_proc_finding {
	AL_PROC_OK = 0,
	AL_PROC_GONE,          /* exited meanwhile: the pidfd reports it, not an incident */
	AL_PROC_UNCONFINED,    /* Seccomp, NoNewPrivs or a capability set changed */
	AL_PROC_EXEC_MAPPING,  /* anonymous or deleted executable mapping */
	AL_PROC_EXE,           /* /proc/PID/exe is not the verified file */
	AL_PROC_NAMESPACE,     /* moved to another namespace */
	AL_PROC_SPECULATION,   /* speculation controls differ from the attested ones */
};

/*
 * Checks one process of a domain. exe_fd: the verified executable the process
 * must be running, or -1 (a domain's init runs the supervisor's image). The
 * first call fills *b; later ones compare against it. why names the item.
 */
enum al_proc_finding al_monitor_check_proc(pid_t pid, int exe_fd, struct al_proc_baseline *b, char *why,
					   size_t whylen);
const char *al_proc_finding_name(enum al_proc_finding f);

/* The thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID). */
uint64_t al_thread_cpu_ns(void);

#endif
