/*
 * Spawning a domain. The runner (parent) and the child split the work as in
 * nsjail: the parent compiles seccomp before clone3 (al_seccomp_prepare), then
 * writes the uid/gid maps and puts the child in its cgroups; the child waits
 * for one GO record, contains itself in al_spawn_child() in DESIGN.md's
 * order, reports READY and waits again, so the runner can attest the final
 * state before any byte of the program runs. On EXEC, the child (the pid
 * namespace's init) forks the program and stays as its reaper.
 *
 * Any failure in the child is final (a partial drop has no way back): it
 * sends FAIL {step, errno} and exits with the step's code.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox_int.h"

static const char *const err_names[] = {
	[AL_SANDBOX_ERR_SYNC - 200] = "sync with the runner",
	[AL_SANDBOX_ERR_PDEATHSIG - 200] = "PR_SET_PDEATHSIG",
	[AL_SANDBOX_ERR_IDS - 200] = "taking the mapped uid/gid",
	[AL_SANDBOX_ERR_FDS - 200] = "placing passed fds",
	[AL_SANDBOX_ERR_CGROUPNS - 200] = "cgroup namespace",
	[AL_SANDBOX_ERR_RLIMIT - 200] = "rlimits",
	[AL_SANDBOX_ERR_MEMFD - 200] = "vm.memfd_noexec",
	[AL_SANDBOX_ERR_MOUNT - 200] = "mounts and pivot_root",
	[AL_SANDBOX_ERR_HOSTNAME - 200] = "hostname",
	[AL_SANDBOX_ERR_CPU - 200] = "CPU affinity",
	[AL_SANDBOX_ERR_SPECULATION - 200] = "speculation controls",
	[AL_SANDBOX_ERR_CAPS - 200] = "dropping capabilities",
	[AL_SANDBOX_ERR_NO_NEW_PRIVS - 200] = "PR_SET_NO_NEW_PRIVS",
	[AL_SANDBOX_ERR_DUMPABLE - 200] = "PR_SET_DUMPABLE",
	[AL_SANDBOX_ERR_MDWE - 200] = "PR_SET_MDWE",
	[AL_SANDBOX_ERR_LANDLOCK - 200] = "Landlock",
	[AL_SANDBOX_ERR_CLOSE_FDS - 200] = "closing fds",
	[AL_SANDBOX_ERR_SECCOMP - 200] = "seccomp",
	[AL_SANDBOX_ERR_NOTIFY - 200] = "seccomp listener hand-over",
	[AL_SANDBOX_ERR_INIT - 200] = "domain init fork",
	[AL_SANDBOX_ERR_EXEC - 200] = "execveat",
	[AL_SANDBOX_ERR_NET - 200] = "network namespace setup",
};

int al_sandbox_exec_fd(void)
{
	static int fd;
	if (!fd) {
		struct rlimit rl;
		rlim_t max = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_max : 1024;
		if (max == RLIM_INFINITY || max > 8192)
			max = 8192;
		fd = max < 1024 ? 1023 : (int)max - 1;
	}
	return fd;
}

const char *al_sandbox_strerror(int code)
{
	if (code == AL_SANDBOX_OK)
		return "ok";
	if (code >= 200 && code < AL_SANDBOX_ERR_MAX && err_names[code - 200])
		return err_names[code - 200];
	return "unknown step";
}

/* ---------------------------------------------------------------- child -- */

static void child_send(uint32_t kind, int code, int err, int value, unsigned ll, int abi)
{
	struct al_sync_msg m = { .kind = kind, .code = code, .err = err, .value = value,
				 .ll_applied = ll, .ll_abi = abi };
	(void)!write(AL_SANDBOX_SYNC_FD, &m, sizeof m);
}

/*
 * The seccomp listener goes to the runner with the message (SCM_RIGHTS). The
 * runner could take it with pidfd_getfd, but that needs ptrace rights over a
 * child that is no longer dumpable: CAP_SYS_PTRACE, which an unprivileged
 * runner does not have (and Yama's admin-only mode refuses to anyone else).
 */
static void child_send_fd(uint32_t kind, int fd)
{
	struct al_sync_msg m = { .kind = kind, .value = 1 };
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof m };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof u);
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	(void)!sendmsg(AL_SANDBOX_SYNC_FD, &mh, MSG_NOSIGNAL);
}

static _Noreturn void child_fail(enum al_sandbox_err code, int rc)
{
	child_send(AL_SYNC_FAIL, code, rc < 0 ? -rc : rc, 0, 0, 0);
	_exit(code);
}

/* Fault injection (tests): the step spec->fail_at_step fails as if its call
 * had returned ECANCELED. A spec built outside tests leaves it 0. */
static int fault(const struct al_spec *spec, enum al_sandbox_err step)
{
	return spec->fail_at_step == (int)step ? -ECANCELED : 0;
}

static uint32_t child_wait(void)
{
	struct al_sync_msg m;
	ssize_t n;
	do
		n = read(AL_SANDBOX_SYNC_FD, &m, sizeof m);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof m)
		_exit(AL_SANDBOX_ERR_SYNC);
	return m.kind;
}

/*
 * Internal fds go to fixed high numbers; each passed fd goes to its number
 * through a temporary, so a source that is another's destination survives.
 * Done first, while no NOFILE limit stands in the way.
 */
static int place_fds(const struct al_spec *spec)
{
	if (spec->exec_fd >= 0 && dup3(spec->exec_fd, AL_SANDBOX_EXEC_FD, O_CLOEXEC) < 0)
		return -errno;
	for (size_t i = 0; i < spec->n_fds; i++)
		if (dup3(spec->fds[i].src, 900 + (int)i, O_CLOEXEC) < 0)
			return -errno;
	for (size_t i = 0; i < spec->n_fds; i++)
		if (dup2(900 + (int)i, spec->fds[i].dst) < 0)
			return -errno;
	return 0;
}

static bool fd_kept(const struct al_spec *spec, int fd)
{
	if (fd <= 2 && spec->keep_stdio)
		return true;
	if (fd == AL_SANDBOX_SYNC_FD || fd == AL_SANDBOX_EXEC_FD)
		return true; /* both close-on-exec */
	for (size_t i = 0; i < spec->n_fds; i++)
		if (spec->fds[i].dst == fd)
			return true;
	return false;
}

static int close_fds(const struct al_spec *spec)
{
	unsigned lo = 0, top = (unsigned)AL_SANDBOX_EXEC_FD;
	for (unsigned fd = 0; fd <= top + 1; fd++) {
		bool keep = fd <= top && fd_kept(spec, (int)fd);
		if (!keep && fd != top + 1)
			continue;
		if (fd > lo && close_range(lo, fd - 1, 0) < 0)
			return -errno;
		lo = fd + 1;
	}
	return close_range(top + 1, ~0U, 0) < 0 ? -errno : 0;
}

static char *const default_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/",
				     "LANG=C.UTF-8", NULL };

/* pid 1 of the domain forwards these to the program: as a namespace's init
 * without handlers it would itself ignore them, and Ctrl-C would do nothing. */
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
				 SIGWINCH, SIGCONT };
/* Only in the child's pid 1, after fork: the one process this handler runs in. */
static volatile pid_t init_main_pid;

static void init_forward(int sig)
{
	if (init_main_pid > 0)
		kill(init_main_pid, sig);
}

/* The forwarded signals, blocked in pid 1 from before the program is forked
 * until its handlers are in place: a namespace's init drops a signal it has
 * no handler for, and the program may run (and be signalled) first. */
static void block_forwarded(sigset_t *old)
{
	sigset_t fwd;
	sigemptyset(&fwd);
	for (size_t i = 0; i < AL_ARRAY_LEN(forwarded); i++)
		sigaddset(&fwd, forwarded[i]);
	sigprocmask(SIG_BLOCK, &fwd, old);
}

static _Noreturn void init_loop(pid_t main_pid, const sigset_t *old)
{
	init_main_pid = main_pid;
	struct sigaction sa = { .sa_handler = init_forward };
	for (size_t i = 0; i < AL_ARRAY_LEN(forwarded); i++)
		sigaction(forwarded[i], &sa, NULL);
	/* what arrived meanwhile is delivered now, and forwarded */
	sigprocmask(SIG_SETMASK, old, NULL);
	for (;;) {
		int st;
		pid_t r = wait4(-1, &st, 0, NULL);
		if (r == main_pid) {
			/* leaving takes every other process of the domain down with us */
			if (WIFEXITED(st))
				_exit(WEXITSTATUS(st));
			_exit(128 + WTERMSIG(st));
		}
		if (r < 0 && errno != EINTR)
			_exit(AL_SANDBOX_ERR_INIT);
	}
}

/*
 * The containment sequence, one step per line, in DESIGN.md's order.
 * Everything up to the capability drop uses the privileges the child has in
 * its own user namespace; nothing here allocates.
 */
static _Noreturn void al_spawn_child(const struct al_spec *spec, const struct al_rlimits *rl, int sync_fd)
{
	int rc, listener = -1, abi = 0;
	unsigned ll = 0, wx_set = 0;

	/* the runner's blocked or ignored signals must not leak into the domain */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	/* the internal fds' numbers are below the hard limit, maybe above the soft one */
	struct rlimit nf;
	if (getrlimit(RLIMIT_NOFILE, &nf) == 0 && nf.rlim_cur <= (rlim_t)AL_SANDBOX_EXEC_FD &&
	    (nf.rlim_cur = (rlim_t)AL_SANDBOX_EXEC_FD + 1, setrlimit(RLIMIT_NOFILE, &nf)) < 0)
		_exit(AL_SANDBOX_ERR_FDS);
	/* internal fds first, to numbers the NOFILE limit set below cannot refuse;
	 * the sync socket before all, so a failure below can be reported */
	if (dup3(sync_fd, AL_SANDBOX_SYNC_FD, O_CLOEXEC) < 0)
		_exit(AL_SANDBOX_ERR_FDS);
	/* its old number may be a kept one (0-2 when the runner had them closed) */
	close(sync_fd);
	if ((rc = fault(spec, AL_SANDBOX_ERR_FDS)) < 0 || (rc = place_fds(spec)) < 0)
		child_fail(AL_SANDBOX_ERR_FDS, rc);
	/* the runner writes our uid/gid maps and moves us into our cgroups */
	if ((rc = fault(spec, AL_SANDBOX_ERR_SYNC)) < 0 || child_wait() != AL_SYNC_GO)
		child_fail(AL_SANDBOX_ERR_SYNC, rc ? rc : -EPROTO);
	/* through the runner's /proc, while we still carry the runner's ids
	 * (sysctl files are writable by global root only); where it cannot be
	 * set, the filter refuses memfd_create (memfd.c) */
	if ((rc = fault(spec, AL_SANDBOX_ERR_MEMFD)) < 0 || (rc = al_memfd_apply(spec)) < 0)
		child_fail(AL_SANDBOX_ERR_MEMFD, rc);
	wx_set |= rc > 0 ? AL_WX_SET_MEMFD_NOEXEC : 0;
	if ((rc = fault(spec, AL_SANDBOX_ERR_IDS)) < 0 || (rc = al_ns_become_root()) < 0)
		child_fail(AL_SANDBOX_ERR_IDS, rc);
	/* a domain never outlives its runner: if the runner died before this,
	 * its end of the sync socket is closed and we stop here. After the id
	 * change above, which would clear it. */
	if ((rc = fault(spec, AL_SANDBOX_ERR_PDEATHSIG)) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		child_fail(AL_SANDBOX_ERR_PDEATHSIG, rc ? rc : -errno);
	struct pollfd alive = { .fd = AL_SANDBOX_SYNC_FD, .events = POLLIN };
	if (poll(&alive, 1, 0) != 0)
		_exit(AL_SANDBOX_ERR_PDEATHSIG);
	/* after the cgroup move, so the namespace's root is the domain's cgroup */
	if ((rc = fault(spec, AL_SANDBOX_ERR_CGROUPNS)) < 0 || (rc = al_ns_unshare_cgroup()) < 0)
		child_fail(AL_SANDBOX_ERR_CGROUPNS, rc);
	if ((rc = fault(spec, AL_SANDBOX_ERR_RLIMIT)) < 0 || (rc = al_rlimit_apply(rl)) < 0)
		child_fail(AL_SANDBOX_ERR_RLIMIT, rc);
	/* needs CAP_SYS_ADMIN in our user namespace: before the caps drop */
	if ((rc = fault(spec, AL_SANDBOX_ERR_MOUNT)) < 0 || (rc = al_mount_apply(spec)) < 0)
		child_fail(AL_SANDBOX_ERR_MOUNT, rc);
	if ((rc = fault(spec, AL_SANDBOX_ERR_HOSTNAME)) < 0 || sethostname("airlock", 7) < 0)
		child_fail(AL_SANDBOX_ERR_HOSTNAME, rc ? rc : -errno);
	/* needs CAP_NET_ADMIN (and, for a port below 1024, CAP_NET_BIND_SERVICE)
	 * in our user namespace */
	if ((rc = fault(spec, AL_SANDBOX_ERR_NET)) < 0 || (rc = al_net_apply(spec, AL_SANDBOX_SYNC_FD)) < 0)
		child_fail(AL_SANDBOX_ERR_NET, rc);
	if ((rc = fault(spec, AL_SANDBOX_ERR_CPU)) < 0 || (rc = al_cpu_apply(spec)) < 0)
		child_fail(AL_SANDBOX_ERR_CPU, rc);
	if ((rc = fault(spec, AL_SANDBOX_ERR_SPECULATION)) < 0 ||
	    (rc = al_speculation_apply(spec)) < 0)
		child_fail(AL_SANDBOX_ERR_SPECULATION, rc);
	/* all privileged operations are done */
	if ((rc = fault(spec, AL_SANDBOX_ERR_CAPS)) < 0 || (rc = al_caps_apply(spec)) < 0)
		child_fail(AL_SANDBOX_ERR_CAPS, rc);
	if ((rc = fault(spec, AL_SANDBOX_ERR_NO_NEW_PRIVS)) < 0 ||
	    (spec->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0))
		child_fail(AL_SANDBOX_ERR_NO_NEW_PRIVS, rc ? rc : -errno);
	/* execve resets this for a readable binary: workers set it again */
	if ((rc = fault(spec, AL_SANDBOX_ERR_DUMPABLE)) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		child_fail(AL_SANDBOX_ERR_DUMPABLE, rc ? rc : -errno);
	/* W^X where the kernel has MDWE; where not, the filter carries it alone (wx.c) */
	if ((rc = fault(spec, AL_SANDBOX_ERR_MDWE)) < 0 || (rc = al_wx_mdwe_apply(spec)) < 0)
		child_fail(AL_SANDBOX_ERR_MDWE, rc);
	wx_set |= rc > 0 ? AL_WX_SET_MDWE : 0;
	/* as late as possible: after NO_NEW_PRIVS, with the final paths */
	if ((rc = fault(spec, AL_SANDBOX_ERR_LANDLOCK)) < 0 ||
	    (rc = al_landlock_apply(spec, &ll, &abi)) < 0)
		child_fail(AL_SANDBOX_ERR_LANDLOCK, rc);
	if ((rc = fault(spec, AL_SANDBOX_ERR_CLOSE_FDS)) < 0 || (rc = close_fds(spec)) < 0)
		child_fail(AL_SANDBOX_ERR_CLOSE_FDS, rc);
	/* last: the filter then has nothing to allow but the program and our exit */
	if ((rc = fault(spec, AL_SANDBOX_ERR_SECCOMP)) < 0 ||
	    (rc = al_seccomp_apply(spec, &listener)) < 0)
		child_fail(AL_SANDBOX_ERR_SECCOMP, rc);
	if (listener >= 0) {
		/* it goes with the message; ours is close-on-exec */
		child_send_fd(AL_SYNC_NOTIFY_FD, listener);
		if ((rc = fault(spec, AL_SANDBOX_ERR_NOTIFY)) < 0 || child_wait() != AL_SYNC_ACK)
			child_fail(AL_SANDBOX_ERR_NOTIFY, rc ? rc : -EPROTO);
		close(listener);
	}
	child_send(AL_SYNC_READY, 0, 0, (int)wx_set, ll, abi);
	if (child_wait() != AL_SYNC_EXEC)
		_exit(AL_SANDBOX_ERR_SYNC);

	if ((rc = fault(spec, AL_SANDBOX_ERR_INIT)) < 0)
		child_fail(AL_SANDBOX_ERR_INIT, rc);
	sigset_t old;
	block_forwarded(&old);
	pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	if (pid < 0)
		child_fail(AL_SANDBOX_ERR_INIT, -errno);
	if (pid > 0) {
		/* pid 1 only reaps: it keeps no descriptor (close, on every
		 * profile's list). The runner sees EOF on the sync socket once the
		 * program runs, and a pipe passed to the program reaches EOF when the
		 * program closes it, not when init dies. */
		close(AL_SANDBOX_SYNC_FD);
		if (spec->exec_fd >= 0)
			close(AL_SANDBOX_EXEC_FD);
		for (int fd = 0; fd <= 2; fd++)
			close(fd);
		for (size_t i = 0; i < spec->n_fds; i++)
			close(spec->fds[i].dst);
		init_loop(pid, &old);
	}
	/* the program starts with the mask pid 1 had */
	sigprocmask(SIG_SETMASK, &old, NULL);
	if ((rc = fault(spec, AL_SANDBOX_ERR_EXEC)) < 0)
		child_fail(AL_SANDBOX_ERR_EXEC, rc);
	syscall(SYS_execveat, AL_SANDBOX_EXEC_FD, "", spec->argv,
		spec->envp ? spec->envp : default_env, AT_EMPTY_PATH);
	child_fail(AL_SANDBOX_ERR_EXEC, -errno);
}

/* --------------------------------------------------------------- parent -- */

/* Setup that takes longer than this is stuck (a hung mount source, say). */
#define AL_SANDBOX_SETUP_TIMEOUT_MS 10000

/* One record; descriptors riding along (SCM_RIGHTS) go to fds (at most
 * AL_SANDBOX_MAX_PORTS, *nfds of them; closed when fds is NULL). */
static int recv_msg(struct al_domain *d, struct al_sync_msg *m, int *fds, size_t *nfds)
{
	ssize_t n;
	struct pollfd p = { .fd = d->sync_fd, .events = POLLIN };
	int r;
	if (nfds)
		*nfds = 0;
	do
		r = poll(&p, 1, AL_SANDBOX_SETUP_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0) {
		al_log_warnx("sandbox: the domain did not finish its setup in %d ms",
			     AL_SANDBOX_SETUP_TIMEOUT_MS);
		return -ETIMEDOUT;
	}
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * AL_SANDBOX_MAX_PORTS)];
	} ctl;
	struct iovec iov = { .iov_base = m, .iov_len = sizeof *m };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof ctl.buf };
	do
		n = recvmsg(d->sync_fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	size_t got = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (fds && got < AL_SANDBOX_MAX_PORTS)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	if (nfds)
		*nfds = got;
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof *m || (mh.msg_flags & MSG_CTRUNC))
		return -EPROTO;
	return 1;
}

static int send_msg(struct al_domain *d, uint32_t kind)
{
	struct al_sync_msg m = { .kind = kind };
	ssize_t n;
	/* no SIGPIPE when the child has already given up */
	do
		n = send(d->sync_fd, &m, sizeof m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof m ? 0 : -EPROTO;
}

/* The child step that made this thread's last al_domain_spawn fail. */
static _Thread_local int last_step;

int al_sandbox_last_step(void)
{
	return last_step;
}

static int child_failed(struct al_domain *d, const struct al_sync_msg *m)
{
	d->child_err = m->code;
	last_step = m->code;
	d->child_errno = m->err;
	al_log_warnx("sandbox: %s failed in the domain: %s", al_sandbox_strerror(m->code),
		     strerror(m->err));
	return -(m->err ? m->err : EPROTO);
}

/* CPUs the domain may run on: its own list, else the runner's. */
static unsigned usable_cpus(const struct al_spec *spec)
{
	cpu_set_t set;
	if (spec->has_cpus)
		return (unsigned)CPU_COUNT(&spec->cpus);
	return sched_getaffinity(0, sizeof set, &set) == 0 ? (unsigned)CPU_COUNT(&set) : 1;
}

/*
 * No writable cgroup (an unprivileged runner, no delegated cgroup):
 * memory and pids are carried by rlimits (rlimit.c). A CPU share below all
 * the CPUs the domain can use has no other mechanism: refused unless the
 * spec accepts running without it. One line says which mechanism carries
 * which limit, and why there is no cgroup (delegate.c's note: no systemd
 * user manager, say).
 */
static int limits_without_cgroup(const struct al_spec *spec, int err)
{
	bool cpu_limited = spec->cg_cpu_percent && spec->cg_cpu_percent < 100 * usable_cpus(spec);
	if (cpu_limited && !spec->accept_unenforced) {
		al_log_warnx("sandbox: the CPU limit (%u %% of a CPU) needs a cgroup, and this runner has "
			     "none (its own cgroup: %s; %s): refusing to run without it (accept it explicitly, or run where a "
			     "cgroup is delegated)",
			     spec->cg_cpu_percent, strerror(err), al_cgroup_scope_note());
		return -EPERM;
	}
	al_log_warnx("sandbox: no cgroup for this domain (the runner's cgroup: %s; %s): memory%s carried by RLIMIT_AS, pids%s "
		     "by RLIMIT_NPROC%s",
		     strerror(err), al_cgroup_scope_note(), spec->cg_memory ? "" : " (no limit)",
		     spec->cg_pids ? "" : " (no limit)",
		     cpu_limited ? ", the CPU share NOT enforced (accepted)" : "");
	return 0;
}

int al_domain_spawn(const struct al_spec *spec, struct al_domain **out)
{
	int sv[2] = { -1, -1 }, rc;
	last_step = AL_SANDBOX_OK;
	struct al_domain *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->pidfd = d->sync_fd = d->notify_fd = -1;
	d->pid = -1;
	if (spec->seccomp && !al_seccomp_bpf(spec)) {
		al_log_warnx("sandbox: seccomp filter not prepared (al_seccomp_prepare)");
		rc = -EINVAL;
		goto fail;
	}
	if (spec->exec_fd < 0 || !spec->argv || !spec->argv[0]) {
		rc = -EINVAL;
		goto fail;
	}
	const struct al_bpf *filter = spec->seccomp ? al_seccomp_bpf(spec) : NULL;
	if (filter) {
		d->filter_carries = filter->carries;
		d->n_eacces = filter->n_eacces;
		memcpy(d->eacces_nr, filter->eacces_nr, sizeof d->eacces_nr);
	}
	al_cgroup_sweep();
	if ((rc = al_cgroup_create(spec, &d->cg)) < 0) {
		if (spec->cg_required)
			goto fail;
		d->cg_skipped = true;
		if ((rc = limits_without_cgroup(spec, -rc)) < 0)
			goto fail;
	}
	/* without a cgroup, rlimits carry the memory and pids limits */
	al_rlimit_effective(spec, !d->cg_skipped, &d->rl);
	if (spec->resctrl_l3[0] || spec->resctrl_mb[0]) {
		static unsigned serial;
		char name[96];
		snprintf(name, sizeof name, "airlock-%s-%d-%u", spec->name ? spec->name : "domain",
			 (int)getpid(), __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED));
		if ((rc = al_resctrl_create(spec, name, &d->rg)) < 0)
			goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		goto fail;
	}
	struct clone_args args = {
		.flags = al_ns_clone_flags(spec) | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)&d->pidfd,
		.exit_signal = SIGCHLD,
	};
	/* cgroup v2: born in its cgroup, no migration afterwards */
	int cgfd = -1;
	if (d->cg.used && d->cg.v2 &&
	    (cgfd = open(d->cg.dir[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgfd;
	}
	pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	if (pid < 0 && cgfd >= 0) {
		args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
		close(cgfd);
		cgfd = -1;
		pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	}
	if (pid > 0 && cgfd >= 0) {
		close(cgfd);
		d->cg_joined = true;
	}
	if (pid < 0) {
		rc = -errno;
		al_log_warn("sandbox: clone3");
		goto fail;
	}
	if (pid == 0) {
		close(sv[0]);
		al_spawn_child(spec, &d->rl, sv[1]);
	}
	d->pid = pid;
	close(sv[1]);
	sv[1] = -1;
	d->sync_fd = al_steal_fd(&sv[0]);

	if ((rc = al_ns_write_maps(pid, spec->outside_uid, spec->outside_gid)) < 0)
		goto fail;
	if (d->cg.used && !d->cg_joined && (rc = al_cgroup_attach(&d->cg, pid)) < 0)
		goto fail;
	/* before GO: not one instruction of the domain runs outside its group */
	if ((rc = al_resctrl_attach(&d->rg, pid)) < 0)
		goto fail;
	/* from outside, before GO, for the same reason: its class is never its own choice */
	if ((rc = al_sched_apply(d, spec)) < 0)
		goto fail;
	if ((rc = send_msg(d, AL_SYNC_GO)) < 0)
		goto fail;
	for (;;) {
		struct al_sync_msg m;
		int fds[AL_SANDBOX_MAX_PORTS];
		size_t nf = 0;
		rc = recv_msg(d, &m, fds, &nf);
		if (rc > 0 && m.kind == AL_SYNC_NET_FDS && nf == spec->n_listen && (size_t)m.value == nf &&
		    !d->n_net_fds) {
			memcpy(d->net_fds, fds, nf * sizeof *fds);
			d->n_net_fds = nf;
			nf = 0;
		} else if (rc > 0 && m.kind == AL_SYNC_NOTIFY_FD && nf == 1 && d->notify_fd < 0) {
			d->notify_fd = fds[0]; /* the seccomp listener */
			nf = 0;
		} else if (rc > 0 && (m.kind == AL_SYNC_NET_FDS || m.kind == AL_SYNC_NOTIFY_FD || nf)) {
			rc = -EPROTO; /* listeners other than the spec's, or fds on another record */
		}
		for (size_t i = 0; i < nf; i++)
			close(fds[i]);
		if (rc == 0) {
			rc = -ECHILD;
			al_log_warnx("sandbox: the domain exited during setup");
			goto fail;
		}
		if (rc < 0)
			goto fail;
		if (m.kind == AL_SYNC_FAIL) {
			rc = child_failed(d, &m);
			goto fail;
		}
		if (m.kind == AL_SYNC_NOTIFY_FD) {
			if ((rc = send_msg(d, AL_SYNC_ACK)) < 0)
				goto fail;
			continue;
		}
		if (m.kind == AL_SYNC_NET_FDS)
			continue;
		if (m.kind == AL_SYNC_READY) {
			if (spec->net == AL_NET_LOOPBACK && d->n_net_fds != spec->n_listen) {
				rc = -EPROTO; /* ready without the listeners it owes */
				goto fail;
			}
			d->ll_applied = m.ll_applied;
			d->ll_abi = m.ll_abi;
			d->wx_set = (unsigned)m.value;
			al_log_info("sandbox: domain %d ready; Landlock ABI %d applied:%s%s%s", (int)pid,
				    m.ll_abi, m.ll_applied & AL_LANDLOCK_APPLIED_FS ? " fs" : "",
				    m.ll_applied & AL_LANDLOCK_APPLIED_NET ? " net" : " (no net)",
				    m.ll_applied & AL_LANDLOCK_APPLIED_SCOPE ? " scope" : " (no scope)");
			break;
		}
		rc = -EPROTO;
		goto fail;
	}
	*out = d;
	return 0;
fail:
	/* a child that gave up before the runner was done with it (maps, cgroups,
	 * GO) has left its reason: name that step rather than the runner's echo */
	if (d->sync_fd >= 0 && last_step == AL_SANDBOX_OK) {
		struct al_sync_msg m;
		ssize_t n;
		/* a reset (the child left with GO unread) is reported before its data */
		do
			n = recv(d->sync_fd, &m, sizeof m, MSG_DONTWAIT);
		while (n < 0 && (errno == EINTR || errno == ECONNRESET));
		if (n == (ssize_t)sizeof m && m.kind == AL_SYNC_FAIL)
			rc = child_failed(d, &m);
	}
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	al_domain_free(d);
	return rc;
}

int al_domain_start(struct al_domain *d)
{
	if (d->started || d->sync_fd < 0)
		return -EALREADY;
	int rc = send_msg(d, AL_SYNC_EXEC);
	if (rc < 0)
		return rc;
	d->started = true;
	struct al_sync_msg m;
	rc = recv_msg(d, &m, NULL, NULL);
	close(d->sync_fd);
	d->sync_fd = -1;
	if (rc == 0)
		return 0; /* EOF: the sync fd was closed by a successful exec */
	if (rc < 0)
		return rc;
	if (m.kind == AL_SYNC_FAIL)
		return child_failed(d, &m);
	return -EPROTO;
}

int al_domain_net_fd(const struct al_domain *d, size_t i)
{
	return i < d->n_net_fds ? d->net_fds[i] : -1;
}

int al_domain_pidfd(const struct al_domain *d)
{
	return d->pidfd;
}

pid_t al_domain_pid(const struct al_domain *d)
{
	return d->pid;
}

int al_domain_notify_fd(const struct al_domain *d)
{
	return d->notify_fd;
}

int al_domain_child_error(const struct al_domain *d)
{
	return d->child_err;
}

unsigned al_domain_landlock_applied(const struct al_domain *d)
{
	return d->ll_applied;
}

int al_domain_landlock_abi(const struct al_domain *d)
{
	return d->ll_abi;
}

int al_domain_kill(struct al_domain *d, int sig)
{
	if (d->reaped || d->pidfd < 0)
		return -ESRCH;
	if (syscall(SYS_pidfd_send_signal, d->pidfd, sig, NULL, 0) < 0)
		return -errno;
	/* a task frozen by the v1 freezer does not die until thawed */
	if (sig == SIGKILL)
		(void)al_domain_thaw(d);
	return 0;
}

int al_domain_wait(struct al_domain *d, int *status)
{
	if (!d->reaped) {
		siginfo_t si = { 0 };
		int r;
		do
			r = waitid(P_PIDFD, (id_t)d->pidfd, &si, WEXITED);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		/* back to a waitpid()-style status */
		d->status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8
						      : (si.si_status & 0x7f) |
								(si.si_code == CLD_DUMPED ? 0x80 : 0);
		d->reaped = true;
	}
	if (d->cg.used || d->cg.rt_dir[0])
		al_cgroup_destroy(&d->cg);
	al_resctrl_destroy(&d->rg);
	if (status)
		*status = d->status;
	return 0;
}

void al_domain_free(struct al_domain *d)
{
	if (!d)
		return;
	if (d->pid > 0 && !d->reaped) {
		al_domain_kill(d, SIGKILL);
		al_domain_wait(d, NULL);
	}
	if (d->cg.used || d->cg.rt_dir[0])
		al_cgroup_destroy(&d->cg);
	al_resctrl_destroy(&d->rg);
	if (d->pidfd >= 0)
		close(d->pidfd);
	if (d->sync_fd >= 0)
		close(d->sync_fd);
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	for (size_t i = 0; i < d->n_net_fds; i++)
		close(d->net_fds[i]);
	free(d->notify_req);
	free(d->notify_resp);
	free(d);
}

int al_domain_notify_handle(struct al_domain *d, struct al_violation *v)
{
	if (d->notify_fd < 0)
		return -EINVAL;
	struct seccomp_notif_sizes sz = { 0 };
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0)
		return -errno;
	if (!d->notify_req) {
		/* the kernel's sizes, which may exceed this header's structs */
		d->notify_req = calloc(1, sz.seccomp_notif > sizeof(struct seccomp_notif)
						  ? sz.seccomp_notif : sizeof(struct seccomp_notif));
		d->notify_resp = calloc(1, sz.seccomp_notif_resp >
						   sizeof(struct seccomp_notif_resp)
					   ? sz.seccomp_notif_resp
					   : sizeof(struct seccomp_notif_resp));
		if (!d->notify_req || !d->notify_resp)
			return -ENOMEM;
	}
	struct seccomp_notif *req = d->notify_req;
	struct seccomp_notif_resp *resp = d->notify_resp;
	/* the kernel refuses a receive buffer that is not all zero */
	memset(req, 0, sz.seccomp_notif);
	memset(resp, 0, sz.seccomp_notif_resp);
	if (ioctl(d->notify_fd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
		return -errno;
	memset(v, 0, sizeof *v);
	v->pid = (pid_t)req->pid;
	v->nr = req->data.nr;
	v->ip = req->data.instruction_pointer;
	memcpy(v->args, req->data.args, sizeof v->args);
	char *name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
	al_strlcpy(v->name, name ? name : "?", sizeof v->name);
	free(name);
	/* refuse, exactly as errno mode would: EACCES for the W^X rules, as MDWE */
	resp->id = req->id;
	resp->val = 0;
	resp->error = al_wx_eacces(d, v->nr) ? -EACCES : -EPERM;
	resp->flags = 0;
	if (ioctl(d->notify_fd, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0 && errno != ENOENT)
		return -errno; /* ENOENT: the caller died meanwhile, still a violation */
	return 0;
}
