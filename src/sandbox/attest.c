/*
 * Read-back attestation: what the kernel says is in force for a domain,
 * compared item by item with its spec. Read from /proc/PID (status, ns,
 * uid_map, gid_map, cgroup, limits) and the domain's cgroup files, never from
 * anything the domain could have written. The first mismatch fails the whole
 * attestation; every item is still reported.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox_int.h"

struct attest {
	json_t *items;
	char failed[64];
	bool ok;
};

static void item(struct attest *a, const char *name, const char *expected, const char *actual,
		 bool ok)
{
	json_array_append_new(a->items, json_pack("{s:s, s:s, s:s, s:b}", "item", name,
						  "expected", expected, "actual", actual, "ok", ok));
	if (!ok && a->ok) {
		a->ok = false;
		al_strlcpy(a->failed, name, sizeof a->failed);
		al_log_warnx("attest: %s is '%s', expected '%s'", name, actual, expected);
	}
}

static void expect_str(struct attest *a, const char *name, const char *expected,
		       const char *actual)
{
	item(a, name, expected, actual ? actual : "(unreadable)",
	     actual && strcmp(expected, actual) == 0);
}

/*
 * A requested speculation control: force-disabled where the CPU offers it per
 * task; where it does not (the same probe the child used), reported as
 * absent, with what /proc shows, instead of silently left out.
 */
static void check_speculation(struct attest *a, unsigned long which, const char *name,
			      const char *want, const char *actual)
{
	if (al_speculation_controllable(which)) {
		expect_str(a, name, want, actual);
		return;
	}
	char got[128];
	snprintf(got, sizeof got, "absent (%s)", actual ? actual : "unreadable");
	item(a, name, "absent: not controllable per task on this CPU", got, true);
}

/* Value of "Key:\tvalue" in a /proc status text, into buf. */
static const char *status_field(const char *text, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, kl) || l[kl] != ':')
			continue;
		const char *v = l + kl + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		size_t n = strcspn(v, "\n");
		if (n >= len)
			n = len - 1;
		memcpy(buf, v, n);
		buf[n] = '\0';
		return buf;
	}
	return NULL;
}

static void fmt_limit(uint64_t v, char *buf, size_t len)
{
	if (v == UINT64_MAX)
		snprintf(buf, len, "unlimited");
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

static void check_limits(struct attest *a, const char *text, const struct al_rlimits *s)
{
	const struct {
		const char *label, *name;
		uint64_t want;
	} rows[] = {
		{ "Max address space", "limit.as", s->as },
		{ "Max cpu time", "limit.cpu", s->cpu },
		{ "Max open files", "limit.nofile", s->nofile },
		{ "Max processes", "limit.nproc", s->nproc },
		{ "Max file size", "limit.fsize", s->fsize },
		{ "Max core file size", "limit.core", 0 },
		{ "Max locked memory", "limit.memlock", s->memlock },
		{ "Max nice priority", "limit.nice", 0 },
		{ "Max realtime priority", "limit.rtprio", 0 },
		{ "Max realtime timeout", "limit.rttime", s->rttime },
	};
	for (size_t i = 0; i < AL_ARRAY_LEN(rows); i++) {
		char want[48], got[96] = "(missing)";
		const char *l = text ? strstr(text, rows[i].label) : NULL;
		bool ok = false;
		if (rows[i].want == UINT64_MAX) {
			/* left as inherited: nothing to compare */
			snprintf(want, sizeof want, "inherited");
			ok = true;
		} else {
			fmt_limit(rows[i].want, want, sizeof want);
		}
		if (l) {
			char soft[32], hard[32];
			if (sscanf(l + strlen(rows[i].label), " %31s %31s", soft, hard) == 2) {
				snprintf(got, sizeof got, "%s", soft);
				if (strcmp(soft, hard) != 0)
					snprintf(got, sizeof got, "%s/%s", soft, hard);
				if (rows[i].want != UINT64_MAX)
					ok = strcmp(soft, want) == 0 && strcmp(hard, want) == 0;
			}
		}
		item(a, rows[i].name, want, got, ok);
	}
}

static void check_ns(struct attest *a, pid_t pid, bool host_net)
{
	static const char *const ns[] = { "user", "pid", "mnt", "net", "ipc", "uts", "cgroup" };
	for (size_t i = 0; i < AL_ARRAY_LEN(ns); i++) {
		char p[64], mine[64] = "", theirs[64] = "", name[32];
		snprintf(p, sizeof p, "/proc/self/ns/%s", ns[i]);
		ssize_t n1 = readlink(p, mine, sizeof mine - 1);
		snprintf(p, sizeof p, "/proc/%d/ns/%s", (int)pid, ns[i]);
		ssize_t n2 = readlink(p, theirs, sizeof theirs - 1);
		int e = errno;
		snprintf(name, sizeof name, "ns.%s", ns[i]);
		/* AL_NET_HOST: the runner's network namespace, by the spec */
		const char *want = host_net && !strcmp(ns[i], "net") ? "shared with the runner" : "own";
		if (n2 < 0 && e == EACCES && geteuid() != 0) {
			/* the domain is non-dumpable and its mm still belongs to the
			 * initial user namespace: only root may look until it execs */
			item(a, name, want, "not readable by an unprivileged runner", true);
			continue;
		}
		const char *got = n1 < 0 || n2 < 0 ? "(unreadable)"
				  : strcmp(mine, theirs) ? "own"
							 : "shared with the runner";
		item(a, name, want, got, strcmp(got, want) == 0);
	}
}

/* True if some line of text ends with suffix. */
static bool line_ends_with(const char *text, const char *suffix)
{
	size_t sl = strlen(suffix);
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t ll = nl ? (size_t)(nl - line) : strlen(line);
		if (ll >= sl && memcmp(line + ll - sl, suffix, sl) == 0)
			return true;
		if (!nl)
			break;
		line = nl + 1;
	}
	return false;
}

/*
 * Without a cgroup: which mechanism carries each cgroup limit. The rlimits
 * named here are read back by check_limits (limit.as, limit.nproc).
 */
static void check_carriers(struct attest *a, const struct al_spec *s)
{
	struct al_rlimits rl;
	al_rlimit_effective(s, false, &rl);
	char w[32], g[64];
	if (s->cg_memory) {
		fmt_limit(s->cg_memory, w, sizeof w);
		snprintf(g, sizeof g, "%s (RLIMIT_AS)", rl.as <= s->cg_memory ? w : "over the limit");
		item(a, "cgroup.memory", w, g, rl.as <= s->cg_memory);
	}
	if (s->cg_pids) {
		fmt_limit(s->cg_pids, w, sizeof w);
		snprintf(g, sizeof g, "%s (RLIMIT_NPROC)", rl.nproc <= s->cg_pids ? w : "over the limit");
		item(a, "cgroup.pids", w, g, rl.nproc <= s->cg_pids);
	}
	if (s->cg_cpu_percent) {
		snprintf(w, sizeof w, "%u", s->cg_cpu_percent);
		item(a, "cgroup.cpu_percent", w,
		     s->accept_unenforced ? "not enforced (accepted)" : "no cgroup: as many CPUs as allowed", true);
	}
}

static void check_cgroup(struct attest *a, struct al_domain *d, const struct al_spec *s)
{
	bool wanted = s->cg_memory || s->cg_pids || s->cg_cpu_percent;
	char carrier[PATH_MAX + 300];
	if (!d->cg.used) {
		snprintf(carrier, sizeof carrier, "unavailable to this runner (%s)", al_cgroup_scope_note());
		item(a, "cgroup", wanted ? "limits" : "none", d->cg_skipped ? carrier : "none",
		     !wanted || (d->cg_skipped && !s->cg_required));
		if (d->cg_skipped)
			check_carriers(a, s);
		return;
	}
	/* what carries the limits below: the hierarchy, and whose cgroup */
	al_cgroup_describe(&d->cg, carrier, sizeof carrier);
	item(a, "cgroup", wanted ? "limits" : "none", carrier, true);
	char p[64];
	AL_AUTOFREE char *text = NULL;
	snprintf(p, sizeof p, "/proc/%d/cgroup", (int)d->pid);
	(void)al_read_file_at(AT_FDCWD, p, 65536, &text, NULL);
	const char *names[AL_CG_LIMITS] = { "cgroup.memory", "cgroup.pids", "cgroup.cpu_percent" };
	/* the kernel keeps the memory limit in whole pages, rounded down */
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t want[AL_CG_LIMITS] = { s->cg_memory / page * page, s->cg_pids, s->cg_cpu_percent };
	for (int c = 0; c < AL_CG_LIMITS; c++) {
		const char *dir = d->cg.v2 ? d->cg.dir[0] : d->cg.dir[c];
		char w[32], g[32] = "(unreadable)";
		uint64_t v = 0;
		if (!want[c]) {
			item(a, names[c], "unlimited", dir[0] ? "set" : "unlimited", true);
			continue;
		}
		fmt_limit(want[c], w, sizeof w);
		if (dir[0] && al_cgroup_read(&d->cg, (enum al_cg_ctrl)c, &v) == 0)
			fmt_limit(v, g, sizeof g);
		/* membership: a line of the domain's /proc/PID/cgroup must end with
		 * this directory (a bare substring would let /dom-1 match /dom-12) */
		const char *leaf = strrchr(dir, '/');
		bool member = text && leaf && line_ends_with(text, leaf);
		if (!member)
			snprintf(g, sizeof g, "not a member");
		item(a, names[c], w, g, member && strcmp(w, g) == 0);
	}
}

/*
 * The scheduling class: policy and nice value from /proc/PID/stat (fields 41
 * and 19), the slice from sched_getattr, the group's weight and idle flag
 * from its cpu cgroup.
 */
static void check_sched(struct attest *a, const struct al_domain *d, const struct al_spec *s)
{
	const struct al_sched *w = &s->sched;
	char p[64], want[96], got[96] = "(unreadable)";
	AL_AUTOFREE char *stat = NULL;
	snprintf(p, sizeof p, "/proc/%d/stat", (int)d->pid);
	(void)al_read_file_at(AT_FDCWD, p, 4096, &stat, NULL);
	long nice = 99, policy = -1;
	const char *f = stat ? strrchr(stat, ')') : NULL;
	/* after "pid (comm)", field 3 is the first; nice is 19, policy 41 */
	for (int field = 2; f && *f && field < 41; field++) {
		f = strchr(f + 1, ' ');
		if (!f)
			break;
		if (field + 1 == 19)
			nice = strtol(f + 1, NULL, 10);
		if (field + 1 == 41)
			policy = strtol(f + 1, NULL, 10);
	}
	if (policy >= 0)
		snprintf(got, sizeof got, "%s", al_sched_policy_name((int)policy));
	expect_str(a, "sched.policy", al_sched_policy_name(w->policy), got);
	if (w->policy == SCHED_IDLE) {
		/* the kernel ignores nice for SCHED_IDLE: anything is as low */
		snprintf(got, sizeof got, "%ld", nice);
		item(a, "sched.nice", "any (SCHED_IDLE)", nice == 99 ? "(unreadable)" : got, nice != 99);
	} else if (d->sched_refused && w->nice < 0) {
		snprintf(want, sizeof want, "%d (0 where the runner may not raise it)", w->nice);
		snprintf(got, sizeof got, "%ld (nice %d refused to this runner)", nice, w->nice);
		item(a, "sched.nice", want, got, nice == 0);
	} else {
		snprintf(want, sizeof want, "%d", w->nice);
		snprintf(got, sizeof got, "%ld", nice);
		expect_str(a, "sched.nice", want, nice == 99 ? "(unreadable)" : got);
	}

	if (w->slice_us) {
		/* optional: a kernel before 6.12 keeps no per-task slice */
		uint32_t slice = 0;
		int rc = al_sched_slice_read(d->pid, &slice);
		snprintf(want, sizeof want, "%u us", w->slice_us);
		if (rc == -ENOTSUP)
			item(a, "sched.slice", want, "absent: this kernel keeps no per-task slice (6.12 and later do)",
			     true);
		else {
			if (rc == 0)
				snprintf(got, sizeof got, "%u us", slice);
			else
				snprintf(got, sizeof got, "(unreadable: %s)", strerror(-rc));
			expect_str(a, "sched.slice", want, got);
		}
	}
	if (w->io_adaptive) {
		/* the adaptive class reads the CPUs' pressure; optional: where the
		 * kernel keeps none its I/O threads are real-time throughout */
		uint64_t total;
		int rc = al_psi_cpu_read(&total);
		if (rc == 0)
			item(a, "sched.pressure", "/proc/pressure/cpu readable", "readable", true);
		else {
			snprintf(got, sizeof got, "absent: %s (the I/O threads are real-time throughout)", strerror(-rc));
			item(a, "sched.pressure", "/proc/pressure/cpu readable", got, true);
		}
	}
	if (w->rt_runtime_us) {
		/* the bound of the real-time class's I/O threads (sched.c); optional:
		 * without it they stay SCHED_OTHER */
		uint64_t rt = 0, per = 0;
		snprintf(want, sizeof want, "%u/%u us", w->rt_runtime_us, w->rt_period_us);
		if (d->cg.rt_err == ENOTSUP)
			item(a, "cgroup.rt_budget", want, "absent: no real-time group scheduling (RLIMIT_RTTIME bounds it)",
			     true);
		else if (d->cg.rt_err) {
			snprintf(got, sizeof got, "not given: %s (threads stay SCHED_OTHER)", strerror(d->cg.rt_err));
			item(a, "cgroup.rt_budget", want, got, true);
		} else {
			if (al_cgroup_read_rt(&d->cg, &rt, &per) == 0)
				snprintf(got, sizeof got, "%llu/%llu us", (unsigned long long)rt, (unsigned long long)per);
			else
				snprintf(got, sizeof got, "(unreadable)");
			expect_str(a, "cgroup.rt_budget", want, got);
		}
	}
	if (!w->cpu_weight && !w->cpu_idle)
		return;
	if (!d->cg.used) {
		item(a, "cgroup.cpu_weight", "a cpu cgroup", d->cg_skipped ? "unavailable to this runner" : "none",
		     d->cg_skipped && !s->cg_required);
		return;
	}
	uint64_t v = 0;
	int idle = -1;
	bool read = al_cgroup_read_sched(&d->cg, &v, &idle) == 0;
	if (w->cpu_weight) {
		uint64_t ww = d->cg.v2 ? w->cpu_weight : al_sched_v1_shares(w->cpu_weight);
		snprintf(want, sizeof want, "%s %llu", d->cg.v2 ? "weight" : "shares", (unsigned long long)ww);
		if (read)
			snprintf(got, sizeof got, "%s %llu", d->cg.v2 ? "weight" : "shares", (unsigned long long)v);
		else
			snprintf(got, sizeof got, "(unreadable)");
		expect_str(a, "cgroup.cpu_weight", want, got);
	}
	if (w->cpu_idle) {
		if (read && idle < 0)
			item(a, "cgroup.cpu_idle", "1", "absent (no cpu.idle in this kernel)", true);
		else
			expect_str(a, "cgroup.cpu_idle", "1", read && idle == 1 ? "1" : read ? "0" : "(unreadable)");
	}
}

struct fd_want {
	int dst, src; /* src: the runner's fd, -1 when there is none to compare */
};

static int cmp_int(const void *x, const void *y)
{
	int a = *(const int *)x, b = *(const int *)y;
	return (a > b) - (a < b);
}

static void fmt_fds(const int *fds, size_t n, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%d", i ? "," : "", fds[i]);
	if (!n)
		snprintf(buf, len, "none");
}

/*
 * The domain's fd table before exec: exactly the listed destinations, 0-2
 * when the spec keeps stdio (those the runner has open), and the two internal
 * fds (close-on-exec). Each listed fd, and each kept stdio fd, must be the
 * same open file as the runner's source.
 */
static void check_fds(struct attest *a, const struct al_domain *d, const struct al_spec *s)
{
	enum { MAXW = AL_SANDBOX_MAX_FDS + 5, MAXG = 64 };
	struct fd_want w[MAXW];
	size_t nw = 0;
	for (size_t i = 0; i < s->n_fds && nw < MAXW; i++)
		w[nw++] = (struct fd_want){ s->fds[i].dst, s->fds[i].src };
	for (int fd = 0; fd <= 2 && s->keep_stdio; fd++) {
		bool listed = false;
		for (size_t i = 0; i < s->n_fds; i++)
			listed |= s->fds[i].dst == fd;
		if (!listed && fcntl(fd, F_GETFD) >= 0)
			w[nw++] = (struct fd_want){ fd, fd };
	}
	w[nw++] = (struct fd_want){ AL_SANDBOX_SYNC_FD, -1 };
	w[nw++] = (struct fd_want){ AL_SANDBOX_EXEC_FD, s->exec_fd };
	int want[MAXW], got[MAXG];
	for (size_t i = 0; i < nw; i++)
		want[i] = w[i].dst;
	qsort(want, nw, sizeof want[0], cmp_int);
	char wbuf[256], gbuf[320];
	fmt_fds(want, nw, wbuf, sizeof wbuf);

	char p[64];
	snprintf(p, sizeof p, "/proc/%d/fd", (int)d->pid);
	DIR *dir = opendir(p);
	if (!dir) {
		if (errno == EACCES && geteuid() != 0)
			item(a, "fds", wbuf, "not readable by an unprivileged runner", true);
		else
			item(a, "fds", wbuf, "(unreadable)", false);
		return;
	}
	size_t ng = 0;
	bool overflow = false;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		if (ng == MAXG) {
			overflow = true;
			break;
		}
		got[ng++] = atoi(e->d_name);
	}
	closedir(dir);
	qsort(got, ng, sizeof got[0], cmp_int);
	fmt_fds(got, ng, gbuf, sizeof gbuf);
	if (overflow)
		al_strlcpy(gbuf + strlen(gbuf), ",...", sizeof gbuf - strlen(gbuf));
	bool ok = !overflow && ng == nw && memcmp(want, got, nw * sizeof want[0]) == 0;
	/* the same open file: the domain's fd and the runner's source */
	for (size_t i = 0; ok && i < nw; i++) {
		if (w[i].src < 0)
			continue;
		struct stat mine, theirs;
		snprintf(p, sizeof p, "/proc/%d/fd/%d", (int)d->pid, w[i].dst);
		if (fstat(w[i].src, &mine) < 0 || stat(p, &theirs) < 0 ||
		    mine.st_dev != theirs.st_dev || mine.st_ino != theirs.st_ino) {
			size_t l = strlen(gbuf);
			snprintf(gbuf + l, sizeof gbuf - l, " (fd %d is not the runner's fd %d)",
				 w[i].dst, w[i].src);
			ok = false;
		}
	}
	item(a, "fds", wbuf, gbuf, ok);
}

int al_domain_attest(struct al_domain *d, const struct al_spec *spec, void **report,
		     const char **failed)
{
	struct attest a = { .items = json_array(), .ok = true };
	char p[64], buf[128], want[64];
	AL_AUTOFREE char *status = NULL;
	AL_AUTOFREE char *limits = NULL;
	AL_AUTOFREE char *uid_map = NULL;
	AL_AUTOFREE char *gid_map = NULL;
	if (!a.items)
		return -ENOMEM;

	snprintf(p, sizeof p, "/proc/%d/status", (int)d->pid);
	(void)al_read_file_at(AT_FDCWD, p, 65536, &status, NULL);
	const char *st = status ? status : "";
	expect_str(&a, "status.NoNewPrivs", spec->no_new_privs ? "1" : "0",
		   status_field(st, "NoNewPrivs", buf, sizeof buf));
	expect_str(&a, "status.Seccomp", spec->seccomp ? "2" : "0",
		   status_field(st, "Seccomp", buf, sizeof buf));
	expect_str(&a, "status.Seccomp_filters", spec->seccomp ? "1" : "0",
		   status_field(st, "Seccomp_filters", buf, sizeof buf));
	static const char *const caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	for (size_t i = 0; i < AL_ARRAY_LEN(caps); i++) {
		char name[32];
		snprintf(name, sizeof name, "status.%s", caps[i]);
		const char *v = status_field(st, caps[i], buf, sizeof buf);
		if (spec->drop_caps)
			expect_str(&a, name, "0000000000000000", v);
		else
			item(&a, name, "any", v ? v : "(unreadable)", true);
	}
	if (spec->spec_store_bypass)
		check_speculation(&a, PR_SPEC_STORE_BYPASS, "status.Speculation_Store_Bypass",
				  "thread force mitigated",
				  status_field(st, "Speculation_Store_Bypass", buf, sizeof buf));
	if (spec->spec_indirect_branch)
		check_speculation(&a, PR_SPEC_INDIRECT_BRANCH, "status.SpeculationIndirectBranch",
				  "conditional force disabled",
				  status_field(st, "SpeculationIndirectBranch", buf, sizeof buf));

	if (spec->has_cpus) {
		char list[256];
		al_cpu_format_list(&spec->cpus, list, sizeof list);
		expect_str(&a, "status.Cpus_allowed_list", list,
			   status_field(st, "Cpus_allowed_list", buf, sizeof buf));
	}

	check_ns(&a, d->pid, spec->net == AL_NET_HOST);

	uid_t ou = geteuid() == 0 ? spec->outside_uid : geteuid();
	gid_t og = geteuid() == 0 ? spec->outside_gid : getegid();
	snprintf(p, sizeof p, "/proc/%d/uid_map", (int)d->pid);
	(void)al_read_file_at(AT_FDCWD, p, 4096, &uid_map, NULL);
	unsigned in = 9, out = 9, cnt = 0;
	snprintf(want, sizeof want, "0 %u 1", (unsigned)ou);
	if (uid_map && sscanf(uid_map, "%u %u %u", &in, &out, &cnt) == 3)
		snprintf(buf, sizeof buf, "%u %u %u", in, out, cnt);
	else
		snprintf(buf, sizeof buf, "(unreadable)");
	expect_str(&a, "uid_map", want, buf);
	snprintf(p, sizeof p, "/proc/%d/gid_map", (int)d->pid);
	(void)al_read_file_at(AT_FDCWD, p, 4096, &gid_map, NULL);
	snprintf(want, sizeof want, "0 %u 1", (unsigned)og);
	if (gid_map && sscanf(gid_map, "%u %u %u", &in, &out, &cnt) == 3)
		snprintf(buf, sizeof buf, "%u %u %u", in, out, cnt);
	else
		snprintf(buf, sizeof buf, "(unreadable)");
	expect_str(&a, "gid_map", want, buf);

	check_cgroup(&a, d, spec);
	check_sched(&a, d, spec);

	snprintf(p, sizeof p, "/proc/%d/limits", (int)d->pid);
	(void)al_read_file_at(AT_FDCWD, p, 65536, &limits, NULL);
	/* the limits this spec gives a domain where this one runs (with or
	 * without a cgroup), not what the domain was built with */
	struct al_rlimits rl_want;
	al_rlimit_effective(spec, !d->cg_skipped, &rl_want);
	check_limits(&a, limits, &rl_want);

	check_fds(&a, d, spec);

	/* W^X and no executable memfd: what carries each, by the filter the
	 * runner compiled (attested above as installed) and what the child
	 * reported setting (wx.c). Off when a profile asks for one is a
	 * failure: the child refuses to start without a carrier. */
	char wx[160], memfd[160];
	al_wx_describe(d, spec, wx, sizeof wx, memfd, sizeof memfd);
	item(&a, "mdwe", spec->mdwe ? "on" : "off", wx, !spec->mdwe || strncmp(wx, "on", 2) == 0);
	item(&a, "memfd_noexec", spec->memfd_noexec ? "on" : "off", memfd,
	     !spec->memfd_noexec || strncmp(memfd, "on", 2) == 0);

	/* set by the child before it reported READY, but not shown by /proc:
	 * listed so the report says what is attested and what is not */
	const struct {
		const char *name;
		bool on;
	} unseen[] = {
		{ "tsc_sigsegv", spec->tsc_sigsegv },
		{ "l1d_flush", spec->spec_l1d_flush && al_speculation_controllable(2) },
	};
	for (size_t i = 0; i < AL_ARRAY_LEN(unseen); i++)
		item(&a, unseen[i].name, unseen[i].on ? "on" : "off",
		     unseen[i].on ? "on (set before exec; /proc cannot show it)"
				  : (strcmp(unseen[i].name, "l1d_flush") == 0 && spec->spec_l1d_flush)
					     ? "off (not offered by this kernel)"
					     : "off",
		     true);

	/* not visible in /proc: what the child reported applying */
	bool need_all = spec->landlock == AL_LANDLOCK_REQUIRED;
	unsigned all = AL_LANDLOCK_APPLIED_FS | AL_LANDLOCK_APPLIED_NET | AL_LANDLOCK_APPLIED_SCOPE;
	snprintf(buf, sizeof buf, "abi %d:%s%s%s", d->ll_abi,
		 d->ll_applied & AL_LANDLOCK_APPLIED_FS ? " fs" : "",
		 d->ll_applied & AL_LANDLOCK_APPLIED_NET ? " net" : "",
		 d->ll_applied & AL_LANDLOCK_APPLIED_SCOPE ? " scope" : "");
	item(&a, "landlock",
	     spec->landlock == AL_LANDLOCK_OFF ? "off"
	     : need_all			       ? "fs net scope"
					       : "best effort",
	     buf, !need_all || (d->ll_applied & all) == all);

	int rc = a.ok ? 0 : -EPERM;
	al_strlcpy(d->attest_failed, a.failed, sizeof d->attest_failed);
	if (failed)
		*failed = a.ok ? NULL : d->attest_failed;
	if (report) {
		json_t *r = json_pack("{s:i, s:s, s:b, s:o}", "pid", (int)d->pid, "profile",
				      spec->name ? spec->name : "", "ok", a.ok, "items", a.items);
		if (r && !a.ok)
			json_object_set_new(r, "failed", json_string(a.failed));
		*report = r;
	} else {
		json_decref(a.items);
	}
	return rc;
}
