/*
 * Scheduling classes: set by the runner on the domain's first task after it
 * is in its cgroups and before it is told to go on (spawn.c), so not one
 * instruction of the domain runs under another class, and everything it
 * later forks or starts as a thread inherits it. The domain itself never
 * gets to change it: setpriority and the sched_set* calls are on the
 * always-denied list of every filter, and its RLIMIT_NICE and RLIMIT_RTPRIO
 * are 0, so even without a filter the kernel refuses any raise.
 *
 * The real-time class is the one exception to "set once before it runs": its
 * I/O threads do not exist until the program has started them, so the
 * runner sets them from outside afterwards (al_domain_sched_threads: every
 * 5 ms while a new domain's are missing, then on every supervisor tick),
 * each by its thread id, and reads every thread back
 * (al_domain_sched_report). The bounds are in place before the domain runs:
 * RLIMIT_RTTIME (rlimit.c) and the real-time budget of a cpu group that only
 * these threads join (cgroup.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "airlock/worker.h"
#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox_int.h"

/*
 * The real-time class's figures. Priority 1: above every SCHED_OTHER, BATCH
 * and IDLE task (it preempts the AI domain's compute at once), below any
 * real-time work the host itself runs. Two threads: the protocol worker's
 * libmicrohttpd pool. The budget, per CPU: 40 ms of every 100 ms, so a
 * protocol domain spinning in its I/O threads leaves at least 60 % of each
 * CPU to everything else, and two instances fit the kernel's 95 %. A thread
 * that runs 500 ms without sleeping is killed: an answer takes tens of µs.
 */
#define RT_PRIO 1
#define RT_IO_MAX 2
#define RT_PERIOD_US 100000u
#define RT_RUNTIME_US 40000u
#define RT_RTTIME_US 500000u

/*
 * The latency class's slice: the least the kernel grants (it clamps requests
 * to 0.1..100 ms; its default is 0.75 ms times 1 + log2 of the CPUs). A task
 * that wakes with a shorter slice than the running task's preempts it at
 * once; with the default one it may wait for the running task's turn to end.
 * bench/sched/bench_slice, a task waking every 2 ms beside one CPU-bound
 * task: p99.9 lateness 3.6 ms at the default slice, 91 us at this one.
 * Through the stack (airlock bench --only load, README) it keeps tools/list
 * p99.9 with six busy processes beside two generations at 0.2 ms instead of
 * 2.8 ms, and costs p99 on a quiet machine (1.1-1.6x the unsandboxed stack's
 * instead of 1.0-1.1x): its I/O threads preempt their client at the send too.
 * Not for the real-time class's other threads (no gain through the stack),
 * nor a long one for the AI domain: beside two such tasks a default-slice
 * waker's p99.9 grew from 4.9 to 9.1 ms.
 */
#define SHORT_SLICE_US 100u

/* The kernel's SCHED_FLAG_RESET_ON_FORK (sched_setattr(2)), spelled out like
 * struct al_sched_attr: nothing the I/O thread starts inherits the class. */
#define AL_SCHED_RESET_ON_FORK 0x01u

static const char *const class_names[AL_SCHED_COUNT] = { "default", "batch", "idle", "latency", "realtime",
							   "adaptive" };

const char *al_sched_class_name(enum al_sched_class c)
{
	return (unsigned)c < AL_SCHED_COUNT ? class_names[c] : "?";
}

int al_sched_class_parse(const char *s, enum al_sched_class *out)
{
	for (int i = 0; i < AL_SCHED_COUNT; i++)
		if (strcmp(s, class_names[i]) == 0) {
			*out = (enum al_sched_class)i;
			return 0;
		}
	return -EINVAL;
}

struct al_sched al_sched_of_class(enum al_sched_class c)
{
	switch (c) {
	case AL_SCHED_BATCH:
		/* the group's weight is left alone: a lower one starves the domain on
		 * a busy host, and the detector reads a sustained spin from its share */
		return (struct al_sched){ .cls = c, .policy = SCHED_BATCH, .nice = 10 };
	case AL_SCHED_IDLE:
		/* the kernel ignores (and does not keep) a nice value for SCHED_IDLE;
		 * an idle group has its least weight (shares 3) whatever is set */
		return (struct al_sched){ .cls = c, .policy = SCHED_IDLE, .cpu_idle = true };
	case AL_SCHED_LATENCY:
		return (struct al_sched){ .cls = c, .policy = SCHED_OTHER, .nice = -5, .cpu_weight = 400,
					  .slice_us = SHORT_SLICE_US };
	case AL_SCHED_REALTIME:
	case AL_SCHED_ADAPTIVE:
		return (struct al_sched){ .cls = c, .policy = SCHED_OTHER, .io_policy = SCHED_RR, .io_prio = RT_PRIO,
					  .io_max = RT_IO_MAX, .io_comm = AL_WORKER_IO_THREAD,
					  .rt_period_us = RT_PERIOD_US, .rt_runtime_us = RT_RUNTIME_US,
					  .rttime_us = RT_RTTIME_US, .io_adaptive = c == AL_SCHED_ADAPTIVE };
	default:
		return (struct al_sched){ .cls = AL_SCHED_DEFAULT, .policy = SCHED_OTHER };
	}
}

const char *al_sched_policy_name(int policy)
{
	switch (policy) {
	case SCHED_OTHER: return "SCHED_OTHER";
	case SCHED_FIFO: return "SCHED_FIFO";
	case SCHED_RR: return "SCHED_RR";
	case SCHED_BATCH: return "SCHED_BATCH";
	case SCHED_IDLE: return "SCHED_IDLE";
	case 6: return "SCHED_DEADLINE";
	default: return "?";
	}
}

uint64_t al_sched_v1_shares(uint32_t weight)
{
	uint64_t s = (uint64_t)weight * 1024 / 100;
	return s < 2 ? 2 : s; /* the kernel's least */
}

/* The kernel's struct sched_attr (sched_setattr(2)), spelled out so no libc
 * header version decides whether it exists. */
struct al_sched_attr {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
};

int al_sched_set_fair(pid_t pid, int policy, int nice, uint32_t slice_us)
{
	struct al_sched_attr a = { .size = sizeof a, .sched_policy = (uint32_t)policy, .sched_nice = nice,
				   .sched_runtime = (uint64_t)slice_us * 1000 };
	return syscall(SYS_sched_setattr, pid, &a, 0) < 0 ? -errno : 0;
}

static int runtime_real(pid_t tid, uint64_t *ns)
{
	struct al_sched_attr a = { 0 };
	if (syscall(SYS_sched_getattr, tid, &a, sizeof a, 0) < 0)
		return -errno;
	*ns = a.sched_runtime;
	return 0;
}

static al_sched_runtime_fn runtime_probe = runtime_real;

void al_sched_set_probe(al_sched_runtime_fn fn)
{
	runtime_probe = fn ? fn : runtime_real;
}

int al_sched_slice_read(pid_t tid, uint32_t *us)
{
	uint64_t ns = 0;
	int rc = runtime_probe(tid, &ns);
	if (rc < 0)
		return rc;
	/* a kernel with per-task slices reports every fair task's (its default
	 * one too); an older one leaves sched_runtime 0 */
	if (ns == 0)
		return -ENOTSUP;
	*us = (uint32_t)((ns + 500) / 1000);
	return 0;
}

int al_sched_apply(struct al_domain *d, const struct al_spec *spec)
{
	const struct al_sched *s = &spec->sched;
	d->sched = *s;
	d->io_calm = false; /* real-time until the runner says calm */
	d->sched_nice = 0;
	d->sched_refused = 0;
	d->io_err = 0;
	if (s->policy == SCHED_OTHER && s->nice == 0 && !s->slice_us)
		return 0;
	int rc = al_sched_set_fair(d->pid, s->policy, s->nice, s->slice_us);
	if (rc == 0) {
		d->sched_nice = s->nice;
		return 0;
	}
	/* raising needs CAP_SYS_NICE in the initial namespace: an unprivileged
	 * runner keeps the policy at nice 0 and the attestation says so */
	if ((rc == -EPERM || rc == -EACCES) && s->nice < 0 &&
	    (rc = al_sched_set_fair(d->pid, s->policy, 0, s->slice_us)) == 0) {
		d->sched_refused = EPERM;
		al_log_warnx("sandbox: nice %d refused to this runner; the domain runs at nice 0", s->nice);
		return 0;
	}
	al_log_warnx("sandbox: setting %s nice %d: %s", al_sched_policy_name(s->policy), s->nice, strerror(-rc));
	return rc;
}

int al_domain_sched_nice(const struct al_domain *d, int *refused)
{
	if (refused)
		*refused = d->sched_refused;
	return d->sched_nice;
}

/* ---- the real-time class's I/O threads --------------------------------------- */

struct thread {
	pid_t tid;
	char comm[20];
	long policy, prio, nice;
};

/* Name, nice (field 19), rt_priority (40) and policy (41) of /proc/PID/task/TID/stat. */
static int read_thread(pid_t pid, pid_t tid, struct thread *t)
{
	char p[96];
	AL_AUTOFREE char *stat = NULL;
	snprintf(p, sizeof p, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	if (al_read_file_at(AT_FDCWD, p, 4096, &stat, NULL) < 0)
		return -ESRCH;
	const char *open = strchr(stat, '('), *close = strrchr(stat, ')');
	if (!open || !close || close < open)
		return -EPROTO;
	snprintf(t->comm, sizeof t->comm, "%.*s", (int)(close - open - 1), open + 1);
	t->tid = tid;
	t->policy = t->prio = t->nice = -1;
	const char *f = close;
	/* after "pid (comm)", field 3 is the first */
	for (int field = 2; f && *f && field < 41; field++) {
		if (!(f = strchr(f + 1, ' ')))
			break;
		long v = strtol(f + 1, NULL, 10);
		if (field + 1 == 19)
			t->nice = v;
		else if (field + 1 == 40)
			t->prio = v;
		else if (field + 1 == 41)
			t->policy = v;
	}
	return t->policy < 0 ? -EPROTO : 0;
}

#define MAX_THREADS 64

/* The threads of the domain's program (its init's children), at most max. */
static size_t list_threads(const struct al_domain *d, pid_t *prog, struct thread *out, size_t max)
{
	pid_t kids[4];
	size_t nk = al_proc_children(d->pid, kids, AL_ARRAY_LEN(kids)), n = 0;
	*prog = nk ? kids[0] : 0;
	for (size_t k = 0; k < nk && n < max; k++) {
		char p[64];
		snprintf(p, sizeof p, "/proc/%d/task", (int)kids[k]);
		DIR *dir = opendir(p);
		if (!dir)
			continue;
		struct dirent *e;
		while ((e = readdir(dir)) && n < max) {
			pid_t tid;
			if (al_parse_pid(e->d_name, &tid) < 0)
				continue;
			if (read_thread(kids[k], tid, &out[n]) == 0)
				n++;
		}
		closedir(dir);
	}
	return n;
}

static bool is_io(const struct al_sched *s, const struct thread *t)
{
	return strcmp(t->comm, s->io_comm) == 0;
}

/* An I/O thread's change refused with errno e: said once per new errno, kept
 * for the report; returns -e. */
static int io_refused(struct al_domain *d, const struct thread *t, const char *what, int e)
{
	if (d->io_err != e)
		al_log_warnx("sandbox: thread %d (%s): %s: %s", (int)t->tid, t->comm, what, strerror(e));
	d->io_err = e;
	return -e;
}

/* The adaptive class while calm: every real-time I/O thread back to the
 * domain's own class. They stay in their cgroup, ready for the next turn. */
static int io_calm(struct al_domain *d, const struct thread *t, size_t n)
{
	const struct al_sched *s = &d->sched;
	int set = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_io(s, &t[i]) || t[i].policy != s->io_policy)
			continue;
		int rc = al_sched_set_fair(t[i].tid, s->policy, d->sched_nice, s->slice_us);
		if (rc == -ESRCH)
			continue;
		if (rc < 0)
			return io_refused(d, &t[i], "back to the domain's class", -rc);
		set++;
	}
	return set;
}

bool al_domain_sched_io_calm(struct al_domain *d, bool calm)
{
	if (!d->sched.io_adaptive || d->io_calm == calm)
		return false;
	d->io_calm = calm;
	return true;
}

int al_domain_sched_threads(struct al_domain *d, unsigned *missing)
{
	const struct al_sched *s = &d->sched;
	unsigned ignored;
	if (!missing)
		missing = &ignored;
	*missing = 0;
	if (!s->io_policy || !s->io_comm || d->reaped)
		return 0;
	/* Without its group the class would be unbounded here: the threads stay
	 * SCHED_OTHER. Where no group can hold a budget at all (ENOTSUP), the
	 * class goes on, bounded by RLIMIT_RTTIME and the kernel's global limit. */
	if (s->rt_runtime_us && !d->cg.rt_dir[0] && d->cg.rt_err != ENOTSUP)
		return 0;
	struct thread t[MAX_THREADS];
	pid_t prog;
	size_t n = list_threads(d, &prog, t, MAX_THREADS);
	if (s->io_adaptive && d->io_calm)
		return io_calm(d, t, n);
	unsigned have = 0;
	for (size_t i = 0; i < n; i++)
		have += is_io(s, &t[i]) && t[i].policy == s->io_policy;
	int set = 0;
	for (size_t i = 0; i < n && have < s->io_max; i++) {
		if (!is_io(s, &t[i]) || t[i].policy == s->io_policy)
			continue;
		/* Into the real-time group first: a real-time thread is never outside
		 * its budget. By thread id: one that ended meanwhile is skipped. */
		int jrc = d->cg.rt_dir[0] ? al_cgroup_rt_join(&d->cg, t[i].tid) : 0;
		if (jrc == -ESRCH)
			continue;
		if (jrc < 0)
			return io_refused(d, &t[i], d->cg.rt_dir, -jrc);
		struct al_sched_attr a = { .size = sizeof a, .sched_policy = (uint32_t)s->io_policy,
					   .sched_flags = AL_SCHED_RESET_ON_FORK, .sched_priority = (uint32_t)s->io_prio };
		if (syscall(SYS_sched_setattr, t[i].tid, &a, 0) < 0) {
			if (errno == ESRCH)
				continue;
			return io_refused(d, &t[i], al_sched_policy_name(s->io_policy), errno);
		}
		d->io_err = 0;
		have++;
		set++;
	}
	*missing = have < s->io_max ? s->io_max - have : 0;
	return set;
}

/* RLIMIT_RTTIME of pid as /proc/PID/limits shows it ("500000", "unlimited"). */
static void read_rttime(pid_t pid, char *out, size_t len)
{
	char p[64];
	AL_AUTOFREE char *text = NULL;
	snprintf(out, len, "(unreadable)");
	snprintf(p, sizeof p, "/proc/%d/limits", (int)pid);
	if (al_read_file_at(AT_FDCWD, p, 8192, &text, NULL) < 0)
		return;
	const char *l = strstr(text, "Max realtime timeout");
	char soft[32], hard[32];
	if (l && sscanf(l + strlen("Max realtime timeout"), " %31s %31s", soft, hard) == 2)
		snprintf(out, len, strcmp(soft, hard) ? "%s/%s" : "%s", soft, hard);
}

void *al_domain_sched_report(const struct al_domain *d)
{
	const struct al_sched *s = &d->sched;
	struct thread t[MAX_THREADS];
	pid_t prog;
	size_t n = list_threads(d, &prog, t, MAX_THREADS);
	json_t *threads = json_array();
	unsigned io = 0, io_rt = 0;
	for (size_t i = 0; i < n; i++) {
		/* read here, for the report only: its slice (none for a real-time
		 * thread or before Linux 6.12) and its affinity */
		char cpus[64];
		cpu_set_t set;
		CPU_ZERO(&set);
		(void)sched_getaffinity(t[i].tid, sizeof set, &set);
		al_cpu_format_list(&set, cpus, sizeof cpus);
		uint32_t slice;
		bool has_slice = al_sched_slice_read(t[i].tid, &slice) == 0;
		json_array_append_new(threads, json_pack("{s:i, s:s, s:s, s:i, s:i, s:o, s:s}", "tid", (int)t[i].tid,
							 "name", t[i].comm, "policy",
							 al_sched_policy_name((int)t[i].policy), "priority",
							 (int)t[i].prio, "nice", (int)t[i].nice, "slice_us",
							 has_slice ? json_integer(slice) : json_null(), "cpus",
							 cpus[0] ? cpus : "(unreadable)"));
		if (s->io_comm && is_io(s, &t[i])) {
			io++;
			io_rt += s->io_policy && t[i].policy == s->io_policy;
		}
	}
	json_t *r = json_pack("{s:s, s:i, s:o}", "class", al_sched_class_name(s->cls), "program", (int)prog,
			      "threads", threads);
	if (!r)
		return NULL;
	if (!s->io_policy)
		return r;
	char want[48], budget[160], rttime[48];
	snprintf(want, sizeof want, "%s %d", al_sched_policy_name(s->io_policy), s->io_prio);
	uint64_t rt = 0, per = 0;
	if (d->cg.rt_err == ENOTSUP)
		snprintf(budget, sizeof budget, "absent: no real-time group scheduling here (no cgroup v1 cpu "
			 "hierarchy); RLIMIT_RTTIME and the kernel's global sched_rt_runtime_us bound it");
	else if (d->cg.rt_err)
		snprintf(budget, sizeof budget, "not given: %s (I/O threads left SCHED_OTHER)", strerror(d->cg.rt_err));
	else if (al_cgroup_read_rt(&d->cg, &rt, &per) == 0)
		snprintf(budget, sizeof budget, "%llu us of every %llu us per CPU, for the I/O threads alone",
			 (unsigned long long)rt, (unsigned long long)per);
	else
		snprintf(budget, sizeof budget, "(unreadable)");
	read_rttime(prog ? prog : d->pid, rttime, sizeof rttime);
	json_object_set_new(r, "io_threads", json_pack("{s:s, s:s, s:i, s:i, s:i, s:s?}", "name", s->io_comm, "want",
						       want, "max", (int)s->io_max, "found", (int)io, "set",
						       (int)io_rt, "refused", d->io_err ? strerror(d->io_err) : NULL));
	if (s->io_adaptive)
		json_object_set_new(json_object_get(r, "io_threads"), "calm", json_boolean(d->io_calm));
	json_object_set_new(r, "rt_budget", json_string(budget));
	json_object_set_new(r, "rlimit_rttime_us", json_string(rttime));
	return r;
}
