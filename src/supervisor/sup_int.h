/*
 * The supervisor's shared state, and how its parts divide the work.
 *
 *   supervisor.c  al_sup_run: the start sequence, the event loop, and the
 *                 only file that calls across the others: it carries out
 *                 what they return (restart, lockdown, respawn, stop)
 *   domain.c      a domain's lifecycle: spec, spawn and attest, ending it
 *                 (SIGTERM, then SIGKILL at a deadline the loop keeps), reaping
 *   guard.c       incidents and levels: exit statuses, reports, seccomp
 *                 notifications, the tick's detection and integrity checks;
 *                 each returns SUP_* actions instead of acting on domains
 *   files.c       the verified files (manifest, unlock), the state lock, the
 *                 listener, the required protections
 *   status.c      the control socket's status and level documents
 *   event.c       the audit record writer every part uses
 *
 * domain.c, guard.c, files.c and status.c never call one another. Nothing
 * blocks: every wait is a deadline the loop's timer fires at.
 */
#ifndef AL_SUPERVISOR_SUP_INT_H
#define AL_SUPERVISOR_SUP_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit/audit.h"
#include "detect/detect.h"
#include "integrity/manifest.h"
#include "integrity/monitor.h"
#include "integrity/procstate.h"
#include "respond/level.h"
#include "respond/respond.h"
#include "sandbox/sandbox.h"
#include "supervisor/config.h"
#include "supervisor/domlog.h"

#define SUP_TICK_MS 1000
#define SUP_SCHED_POLL_MS 5        /* a new domain's I/O threads: looked for this often, */
#define SUP_SCHED_POLL_FOR_MS 2000 /* for this long after it starts (then on every tick) */
#define SUP_PRESSURE_POLL_MS 100   /* the adaptive class: the CPUs' pressure read this often */
/* SIGTERM to SIGKILL. */
#define SUP_STOP_GRACE_MS 3000
/* A protocol domain left alone on a closed channel ends by itself within this
 * (it answers its calls in flight for 0.5 s first); the AI domain is not waited for. */
#define SUP_PEER_GRACE_MS 1000

enum dom_state { DOM_STOPPED, DOM_RUNNING, DOM_STOPPING, DOM_BACKOFF, DOM_FAILED, DOM_LOCKED };

extern const char *const sup_dom_names[AL_DOMAIN_COUNT];
extern const char *const sup_dom_state_names[];

struct sup_domain {
	enum al_domain_id id;
	int exe_fd;                 /* verified executable, exec'd by fd */
	struct al_domain *d;        /* the sandboxed process while it exists */
	enum dom_state state;
	unsigned restarts;
	unsigned recent_restarts;   /* within the crash window */
	uint64_t window_start_ns;
	uint64_t started_ns;
	int last_status;            /* waitpid status of the last exit, -1 none */
	json_t *attestation;
	enum al_level spawned_level; /* the level its spec was built for */
	bool spawned_tight;         /* built with the side-channel tightening */
	bool follow;                /* its I/O threads follow their clients' CPUs (--follow-client) */
	bool adaptive;              /* its I/O threads are real-time only while the CPUs are contended */
	bool frozen;
	struct al_detector det;
	struct al_metrics counters; /* violations and restarts the supervisor counts */
	struct al_proc_baseline pb_init, pb_worker;
	pid_t worker;               /* the program: the child of the domain's init */
	uint64_t incidents;
	struct al_domlog log;       /* its fds 1 and 2, drained into our log */
	int report_r, report_w;     /* its report pipe (worker.h): read end ours */
	bool reported;              /* this incarnation has reported (once counts) */
	bool restart_wanted;        /* an incident's response: end it and restart the pair */
	bool culprit;               /* ended for an incident: its exit is not an expected one */
	bool crash_loop;            /* restarted too often: stays stopped */
	uint64_t term_at_ns;        /* while stopping: SIGTERM then (0: sent) */
	uint64_t kill_at_ns;        /* while stopping: SIGKILL then (0: sent) */
	uint64_t sched_poll_ns;     /* when to look for its I/O threads next (sup_guard_sched_poll) */
};

/* The files the domains were started from: open, verified, watched. */
struct sup_files {
	size_t n;
	const char *name[AL_CONFIG_MAX_FILES];
	const char *path[AL_CONFIG_MAX_FILES];
	int fd[AL_CONFIG_MAX_FILES];
	unsigned char digest[AL_CONFIG_MAX_FILES][AL_MANIFEST_DIGEST_LEN];
	/* Each domain's profile, read once from its verified fd: every spawn and
	 * restart is built from these bytes, never from the disk again. */
	char *profile[AL_DOMAIN_COUNT];
	size_t profile_len[AL_DOMAIN_COUNT];
};

/* The adaptive class's view of the CPUs (src/sandbox/pressure.c). */
struct sup_pressure {
	struct al_contention c;
	int err;                    /* errno of the last failed read (0: readable); real-time meanwhile */
	uint64_t next_ns;           /* when to read it next */
};

struct sup {
	const struct al_config *cfg;
	bool verbose;
	struct sup_pressure pressure;
	struct al_audit *audit;
	bool earlier_runs;          /* the audit log had records before this start */
	/* This instance's own files: the configuration's, or under --stdio with
	 * the default paths, STATE_DIR/stdio/PID/ (each MCP client that launches
	 * airlock gets an instance of its own; the manifest is shared). */
	char audit_log[512], control_socket[512];
	int epfd, sigfd, timerfd, deadlinefd, ctlfd, listenfd;
	int model_fd, tok_fd;
	int token_fd;               /* bearer token file, read by the protocol domain through this fd */
	int chan_fd;                /* current channel; replaced on every restart */
	int handoff_fd;             /* our end of the protocol domain's handoff socket, -1 none */
	int handoff_child;          /* its end while the protocol domain is being spawned */
	struct sup_domain dom[AL_DOMAIN_COUNT];
	unsigned backoff_ms;
	uint64_t restart_at_ns;     /* when both domains are started again, 0 = not pending */
	const char *restart_why;    /* "failure", "level", "lockdown", "unlock" */
	bool restart_ai_only;       /* the protocol domain stays: the AI domain comes back alone */
	int pending_ctl_fd;         /* a control client owed a reply once the restart is done */
	bool audit_sync_due;        /* a record awaits its sync at the loop's next turn (sup_event_sync) */
	uint32_t pending_op;
	uint64_t started_ns;
	uint64_t violations;
	bool stopping;
	bool tsc_trap_safe;         /* the clocksource is not the TSC (probed once) */
	/* guard: levels, integrity, detection, response */
	struct al_level_state lv;
	struct sup_files files;
	struct al_monitor *mon;
	struct al_manifest_key key;
	bool locked;                /* integrity lockdown: the AI domain stays stopped */
	bool lock_all;              /* the protocol domain's own executable failed: it stays stopped too */
	bool listen_paused;         /* the listener does not listen meanwhile (sup_listen_follow) */
	char lock_reason[256];
	bool tighten;               /* side-channel response in force until the level is back at base */
	int audit_verbosity;        /* the level's, raised by protocol abuse */
	uint64_t last_tick_ns;
	uint64_t last_integrity_ns;
	uint64_t guard_cpu_ns;      /* thread CPU spent in detection and /proc checks */
	uint64_t incidents;
	json_t *last_incident;
	uint64_t incidents_by[AL_INC_COUNT][AL_DOMAIN_COUNT]; /* counted as their records are written */
	/* operation */
	struct al_config *cfg_owned;    /* a configuration read again on SIGHUP (s->cfg then); freed at the end */
	struct al_monitor_stats integrity_before; /* the totals of monitors replaced since the start */
};

/* What a part asks the loop to do (a bit set). */
enum {
	SUP_RESTART = 1u << 0,  /* a domain has restart_wanted: end the pair, restart it */
	SUP_LOCKDOWN = 1u << 1, /* s->lock_reason says why: end both, bring the protocol domain back alone */
	SUP_RESPAWN = 1u << 2,  /* the level changed: rebuild both on the new spec */
	SUP_STOP = 1u << 3,     /* end airlock run */
};

/* epoll tags: the low byte names the source, the next the domain. */
enum { TAG_SIGNAL = 1, TAG_TIMER, TAG_DEADLINE, TAG_CONTROL, TAG_PIDFD, TAG_NOTIFY, TAG_LOG, TAG_REPORT };
#define TAG(kind, dom) ((uint32_t)(kind) | ((uint32_t)(dom) << 8))

/* How often every file is re-hashed: the configuration's, else the level's. */
static inline uint32_t sup_integrity_interval_s(const struct sup *s)
{
	return s->cfg->respond.integrity_interval_s ? s->cfg->respond.integrity_interval_s
						    : al_level_policy(s->lv.current)->integrity_interval_s;
}

/* event.c */
void sup_event(struct sup *s, const char *event, bool urgent, json_t *fields);
void sup_event_sync(struct sup *s);
int sup_epoll_add(struct sup *s, int fd, uint32_t tag);

/* domain.c */
int sup_dom_pipes(struct sup *s, struct sup_domain *dom);
int sup_dom_start_pair(struct sup *s);
int sup_dom_restart_ai(struct sup *s);
void sup_dom_end(struct sup *s, struct sup_domain *dom, uint64_t term_after_ms);
void sup_dom_reap(struct sup *s, struct sup_domain *dom);
uint64_t sup_dom_deadlines(struct sup *s, uint64_t now);
bool sup_dom_any(const struct sup *s);
void sup_dom_settle(struct sup *s);

/* guard.c */
unsigned sup_guard_incident(struct sup *s, struct sup_domain *dom, struct al_incident *inc);
unsigned sup_guard_exit(struct sup *s, struct sup_domain *dom, int status);
unsigned sup_guard_report(struct sup *s, struct sup_domain *dom);
unsigned sup_guard_notify(struct sup *s, struct sup_domain *dom);
unsigned sup_guard_tick(struct sup *s);
uint64_t sup_guard_sched_poll(struct sup *s, uint64_t now);
/* Whether an adaptive domain's I/O threads are calm (the last reading; a
 * kernel without pressure never is). */
bool sup_guard_calm_of(const struct sup_pressure *p);
unsigned sup_guard_level_changed(struct sup *s, enum al_level from, const char *why);

/* files.c */
int sup_files_open(struct sup *s);
int sup_files_verify(struct sup *s, bool may_create, struct sup_files *out, char *why, size_t wl);
void sup_files_install(struct sup *s, struct sup_files *nf);
void sup_files_close(struct sup_files *f);
int sup_state_lock(const char *dir);
int sup_mkdir_private(const char *dir);
int sup_require_protections(struct sup *s);
int sup_listen_tcp(const char *host, uint16_t port);
int sup_listen_systemd(void);
void sup_listen_name(int fd, char *host, size_t hl, unsigned *port);
void sup_listen_follow(struct sup *s);
int sup_reload(struct sup *s, char *why, size_t wl);
int sup_open_verified(const char *what, const char *path);
int sup_instance_files(struct sup *s);
bool sup_tsc_trap_safe(void);
void sup_notify_ready(void);

/* status.c */
json_t *sup_status(struct sup *s);
json_t *sup_level_json(struct sup *s);
json_t *sup_metrics(struct sup *s);

#endif
