/*
 * Incident responses the supervisor carries out: freezing a domain, a
 * forensic dump, the alert hook. Which response follows which incident is
 * decided by al_respond_plan(); the supervisor executes the plan's steps in
 * order because only it owns the domains.
 *
 *   struct al_freezer fz;
 *   al_freezer_create(&fz, "ai");        before the domain's worker exists
 *   al_freezer_attach(&fz, init_pid);    its children are born inside
 *   ... incident ...
 *   al_freezer_freeze(&fz);              every task stopped; 0 once frozen
 *   al_freezer_destroy(&fz);             after the domain was reaped
 *
 * Freezer order of preference: the cgroup v1 freezer hierarchy
 * (/sys/fs/cgroup/freezer, a child "airlock.SUPPID.NAME" of the supervisor's
 * own freezer cgroup), then cgroup v2 (a child of the supervisor's v2 cgroup
 * with cgroup.freeze, only where the domain is not already kept in a v2
 * cgroup by the sandbox), then SIGSTOP to each known task (a task can only
 * escape it by being a new child between the listing and the signal; the
 * kill that follows ends it anyway).
 */
#ifndef AL_RESPOND_H
#define AL_RESPOND_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "detect/detect.h"

enum al_freezer_kind { AL_FREEZER_NONE, AL_FREEZER_V1, AL_FREEZER_V2, AL_FREEZER_SIGSTOP };

struct al_freezer {
	enum al_freezer_kind kind;
	char dir[PATH_MAX];
	pid_t pids[8];        /* SIGSTOP fallback: the tasks attached */
	size_t n_pids;
};

const char *al_freezer_kind_name(enum al_freezer_kind k);
/* root: NULL for /sys/fs/cgroup (tests may point elsewhere). Never fails: SIGSTOP is the floor. */
int al_freezer_create(struct al_freezer *fz, const char *root, const char *name);
int al_freezer_attach(struct al_freezer *fz, pid_t pid);
/* Freezes and waits (bounded, 100 ms) until the kernel reports it frozen. 0 or -errno. */
int al_freezer_freeze(struct al_freezer *fz);
int al_freezer_thaw(struct al_freezer *fz);
/* True if the cgroup reports frozen (SIGSTOP: every task is stopped, state T). */
bool al_freezer_frozen(const struct al_freezer *fz);
void al_freezer_destroy(struct al_freezer *fz);

/* Children of pid, from /proc/PID/task/.../children. Returns how many (<= max). */
size_t al_proc_children(pid_t pid, pid_t *out, size_t max);

/* What to do about an incident, in order. */
enum al_respond_step {
	AL_STEP_FREEZE = 1u << 0,      /* stop every task of the domain now */
	AL_STEP_DUMP = 1u << 1,        /* maps, status, metrics to the dump dir */
	AL_STEP_RESTART = 1u << 2,     /* kill, then restart both domains clean */
	AL_STEP_TIGHTEN = 1u << 3,     /* pin apart, force mitigations, TSC off (level MAXIMUM) */
	AL_STEP_LOCKDOWN = 1u << 4,    /* AI domain stopped until airlock unlock */
	AL_STEP_AUDIT_UP = 1u << 5,    /* raise audit verbosity */
	AL_STEP_RAISE_LEVEL = 1u << 6, /* the severity's level, at least */
};

unsigned al_respond_plan(enum al_incident_type t);
/* The steps as names, for the audit record. */
json_t *al_respond_steps_json(unsigned steps);

/*
 * Writes DIR/DOMAIN-YYYYmmddTHHMMSS-PID/{maps,status,incident.json} for each
 * pid (the files the kernel shows; a domain made non-dumpable shows root-owned
 * files that root can still read). *out_path gets the directory (malloc'd).
 */
int al_respond_dump(const char *dir, const char *domain, const pid_t *pids, size_t npids,
		    json_t *incident, char **out_path);

/*
 * Runs command with doc serialised on its stdin, without waiting for it
 * (double fork: nothing to reap). The command gets an empty environment
 * but PATH and is killed after 10 s (alarm before exec). 0 or -errno.
 */
int al_respond_alert(const char *command, json_t *doc);

#endif
