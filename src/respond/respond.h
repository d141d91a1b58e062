/*
 * Incident responses the supervisor carries out: freezing a domain, a
 * forensic dump, the alert hook. Which response follows which incident is
 * decided by al_respond_plan(); the supervisor executes the plan's steps in
 * order because only it owns the domains. Freezing itself is the sandbox's
 * (al_domain_freeze: the domain's own cgroup, else SIGSTOP).
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
