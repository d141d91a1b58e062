/*
 * airlock-egress: the egress domain's worker (include/airlock/worker.h).
 * Runs in the runner's network namespace, holding the listeners the tool
 * domain's namespace was given, and connects out only to the allowlist.
 *
 *   1. options: the allowlist rules, the listeners and what each is;
 *   2. the resolver thread, then a stage-2 filter (on both threads) allowing
 *      what the loop and getaddrinfo need, and nothing to open but files;
 *   3. serve (egress.c) until the supervisor stops the domain.
 */
#include <errno.h>
#include <getopt.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "workers/egress/egress.h"
#include "workers/stage2/stage2.h"

static void usage(void)
{
	fputs("usage: airlock-egress [--allow HOST:PORT]... [--listen FD:PORT:proxy|direct|dns]...\n"
	      "Run by `airlock gate` in the egress domain, with the fds of include/airlock/worker.h.\n",
	      stderr);
}

static int lockdown(void)
{
	static const char *const allowed[] = {
		/* the loop */
		"read", "write", "close", "poll", "ppoll", "accept4", "socket", "connect", "getsockopt",
		"setsockopt", "getsockname", "getpeername", "sendto", "recvfrom", "shutdown", "fcntl",
		"clock_gettime", "mmap", "munmap", "mremap", "madvise", "brk", "mprotect",
		"rt_sigreturn", "rt_sigprocmask", "futex", "restart_syscall", "exit", "exit_group", "getrandom",
		/* the resolver thread may still be starting when the filter comes */
		"set_robust_list", "rseq", "sigaltstack", "sched_yield",
		/* getaddrinfo: /etc/hosts, /etc/resolv.conf and the like; a UDP query
		 * (sendmmsg, sendto, recvfrom), or TCP for a long answer (writev, read) */
		"openat", "fstat", "newfstatat", "lseek", "sendmmsg", "writev", "readv", "getpid", "gettid", "uname",
	};
	/* the resolver thread runs already: the filter must cover it too */
	scmp_filter_ctx ctx = al_stage2_new(true);
	if (!ctx)
		return -ENOMEM;
	int rc = al_stage2_allow(ctx, allowed, AL_ARRAY_LEN(allowed));
	/* glibc's resolver sizes a UDP answer with FIONREAD before it reads it
	 * (res_send.c); no other ioctl */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	return al_stage2_load(ctx, rc, "egress");
}

/* FD:PORT:proxy|direct|dns */
static int parse_listen(const char *s, struct al_egress_listener *l)
{
	char kind[16];
	unsigned fd, port;
	int used = 0;
	if (sscanf(s, "%u:%u:%15[a-z]%n", &fd, &port, kind, &used) != 3 || s[used] || fd < 3 || fd > 255 ||
	    port == 0 || port > 65535)
		return -EINVAL;
	enum al_egress_kind k;
	if (!strcmp(kind, "proxy"))
		k = AL_EGRESS_PROXY;
	else if (!strcmp(kind, "direct"))
		k = AL_EGRESS_DIRECT;
	else if (!strcmp(kind, "dns"))
		k = AL_EGRESS_DNS;
	else
		return -EINVAL;
	*l = (struct al_egress_listener){ .fd = (int)fd, .port = (uint16_t)port, .kind = k };
	return 0;
}

int main(int argc, char **argv)
{
	al_log_init("airlock-egress", AL_LOG_WARN);
	static struct al_egress_config cfg = { .report_fd = AL_WORKER_FD_REPORT, .head_timeout_ms = 10000,
					       .connect_timeout_ms = 10000 };
	static const struct option opts[] = {
		{ "allow", required_argument, NULL, 'a' },
		{ "listen", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a' && cfg.n_rules < AL_EGRESS_MAX_RULES &&
		    al_egress_rule_parse(optarg, &cfg.rules[cfg.n_rules]) == 0) {
			cfg.n_rules++;
		} else if (c == 'l' && cfg.n_listen < AL_EGRESS_MAX_LISTEN &&
			   parse_listen(optarg, &cfg.listen[cfg.n_listen]) == 0) {
			cfg.n_listen++;
		} else {
			usage();
			return AL_WORKER_EXIT_USAGE;
		}
	}
	if (optind != argc || !cfg.n_listen) {
		usage();
		return AL_WORKER_EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	int rc = al_egress_init();
	if (rc < 0) {
		al_log_warnx("egress: the resolver thread: %s", strerror(-rc));
		return AL_WORKER_EXIT_FAIL;
	}
	if (lockdown() < 0) {
		al_log_warnx("egress: the stage-2 filter could not be installed");
		return AL_WORKER_EXIT_LOCKDOWN;
	}
	rc = al_egress_serve(&cfg);
	if (rc == 0)
		return AL_WORKER_EXIT_OK;
	al_log_warnx("egress: %s", strerror(-rc));
	return AL_WORKER_EXIT_FAIL;
}
