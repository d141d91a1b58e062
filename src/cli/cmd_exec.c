/*
 * airlock exec: runs one program in a domain built from a profile. Parses
 * argv into a struct al_spec and calls the sandbox library; nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox.h"

static int run(int argc, char **argv);

const struct al_cmd al_cmd_exec = {
	.name = "exec",
	.summary = "run a program in a sandboxed domain",
	.usage =
		"usage: airlock exec --profile NAME|PATH [--ro PATH]... [--rw PATH]...\n"
		"                    [--memory SIZE] [--pids N] [--cpu-time SEC] [--cpus LIST]\n"
		"                    [--seccomp kill|errno|notify] [--fd N]... [--uid ID]\n"
		"                    [--accept-unenforced] [--attest] [--json] -- CMD [ARGS...]\n"
		"\n"
		"Runs CMD in new user, pid, mount, network, ipc, uts and cgroup namespaces,\n"
		"on a read-only root holding only the profile's paths and those given, with\n"
		"every capability dropped, rlimits and cgroup limits, speculation controls,\n"
		"Landlock and a seccomp allowlist. What is in force is read back and compared\n"
		"with the profile before CMD runs; any difference stops it.\n"
		"\n"
		"  --profile NAME   compute, service, tool, runtime (JIT runtimes such as\n"
		"                   node), or a profile file path\n"
		"  --ro PATH        bind PATH read-only (no symlink in any component)\n"
		"  --rw PATH        bind PATH read-write\n"
		"  --memory SIZE    cgroup memory limit (e.g. 512M)\n"
		"  --pids N         cgroup pids limit\n"
		"  --cpu-time SEC   RLIMIT_CPU\n"
		"  --cpus LIST      CPU affinity, e.g. 0 or 0-1\n"
		"  --seccomp MODE   what a refused syscall does: kill, errno or notify (logged)\n"
		"  --fd N           pass the runner's fd N at the same number\n"
		"  --uid ID         outside uid/gid of the domain when run as root (default 65534)\n"
		"  --accept-unenforced\n"
		"                   where no cgroup can be made (an ordinary user with no\n"
		"                   delegated cgroup), run although the profile's CPU share\n"
		"                   cannot be enforced; memory and pids are then held by\n"
		"                   RLIMIT_AS and RLIMIT_NPROC either way\n"
		"  --attest         print the attestation before CMD runs\n"
		"  --json           print it as JSON (implies --attest)\n"
		"\n"
		"CMD without a slash is looked up in PATH, as a shell does.\n"
		"\n"
		"As an ordinary user the limits are a cgroup's where the user's cgroup is\n"
		"delegated (systemd's Delegate=yes, or chown by an administrator); else,\n"
		"where a systemd user manager runs, exec continues in a transient scope with\n"
		"Delegate=yes (systemd-run --user --scope; AIRLOCK_CGROUP_SCOPE=off skips it).\n"
		"\n"
		"Exit status: CMD's, or 128+signal if it was killed; 1 if the domain could\n"
		"not be built or attested.\n",
	.run = run,
};

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
				 SIGWINCH, SIGCONT };

/* CMD as given when it holds a '/', else the first executable match in PATH. */
static void print_attestation(json_t *r, bool as_json)
{
	if (as_json) {
		json_dumpf(r, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	} else {
		size_t i;
		json_t *it;
		printf("attestation of pid %d (%s): %s\n",
		       (int)json_integer_value(json_object_get(r, "pid")),
		       json_string_value(json_object_get(r, "profile")),
		       json_is_true(json_object_get(r, "ok")) ? "ok" : "MISMATCH");
		json_array_foreach(json_object_get(r, "items"), i, it)
			printf("  %-34s %-4s %s\n", json_string_value(json_object_get(it, "item")),
			       json_is_true(json_object_get(it, "ok")) ? "ok" : "FAIL",
			       json_string_value(json_object_get(it, "actual")));
	}
	fflush(stdout);
}

/* Waits for the domain, forwarding signals and logging seccomp notifications. */
static int supervise(struct al_domain *d, int sfd)
{
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = al_domain_pidfd(d), .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = al_domain_notify_fd(d), .events = POLLIN },
		};
		if (poll(p, p[2].fd >= 0 ? 3 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
				al_domain_kill(d, (int)si.ssi_signo);
		}
		if (p[2].fd >= 0 && (p[2].revents & POLLIN)) {
			struct al_violation v;
			int rc = al_domain_notify_handle(d, &v);
			if (rc < 0 && rc != -EINTR) {
				/* an unanswered notification would hang the domain */
				al_log_warnx("seccomp: notification lost (%s): stopping the domain",
					     strerror(-rc));
				al_domain_kill(d, SIGKILL);
			} else if (rc == 0)
				al_log_warnx("seccomp: pid %d called %s(%#llx, %#llx, %#llx, %#llx, "
					     "%#llx, %#llx) at %#llx: refused",
					     (int)v.pid, v.name, (unsigned long long)v.args[0],
					     (unsigned long long)v.args[1],
					     (unsigned long long)v.args[2],
					     (unsigned long long)v.args[3],
					     (unsigned long long)v.args[4],
					     (unsigned long long)v.args[5], (unsigned long long)v.ip);
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			int st;
			int rc = al_domain_wait(d, &st);
			if (rc < 0)
				return rc;
			if (WIFEXITED(st))
				return WEXITSTATUS(st);
			return 128 + WTERMSIG(st);
		}
	}
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "ro", required_argument, NULL, 'r' },
		{ "rw", required_argument, NULL, 'w' },
		{ "memory", required_argument, NULL, 'm' },
		{ "pids", required_argument, NULL, 'n' },
		{ "cpu-time", required_argument, NULL, 't' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "seccomp", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, 'f' },
		{ "uid", required_argument, NULL, 'u' },
		{ "accept-unenforced", no_argument, NULL, 'U' },
		{ "attest", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *profile = NULL, *mode = NULL, *cpus = NULL;
	const char *ro[AL_SANDBOX_MAX_PATHS], *rw[AL_SANDBOX_MAX_PATHS];
	size_t n_ro = 0, n_rw = 0;
	int fds[AL_SANDBOX_MAX_FDS];
	size_t n_fds = 0;
	uint64_t memory = 0, pids = 0, cpu_time = 0, uid = AL_SANDBOX_NOBODY;
	bool attest = false, json = false, has_mem = false, has_pids = false, has_cpu = false;
	bool unenforced = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		uint64_t v;
		switch (c) {
		case 'p':
			profile = optarg;
			break;
		case 'r':
		case 'w':
			if ((c == 'r' ? n_ro : n_rw) == AL_SANDBOX_MAX_PATHS)
				return al_cli_usage_error(&al_cmd_exec, "too many paths");
			if (c == 'r')
				ro[n_ro++] = optarg;
			else
				rw[n_rw++] = optarg;
			break;
		case 'm':
			if (al_parse_size(optarg, &memory) < 0 || memory == 0)
				return al_cli_usage_error(&al_cmd_exec, "bad --memory '%s'", optarg);
			has_mem = true;
			break;
		case 'n':
			if (al_parse_u64(optarg, &pids) < 0 || pids == 0)
				return al_cli_usage_error(&al_cmd_exec, "bad --pids '%s'", optarg);
			has_pids = true;
			break;
		case 't':
			if (al_parse_u64(optarg, &cpu_time) < 0 || cpu_time == 0)
				return al_cli_usage_error(&al_cmd_exec, "bad --cpu-time '%s'", optarg);
			has_cpu = true;
			break;
		case 'c':
			cpus = optarg;
			break;
		case 's':
			mode = optarg;
			break;
		case 'f':
			if (al_parse_u64(optarg, &v) < 0 || v > AL_SANDBOX_MAX_FD_NUM ||
			    n_fds == AL_SANDBOX_MAX_FDS)
				return al_cli_usage_error(&al_cmd_exec, "bad --fd '%s'", optarg);
			fds[n_fds++] = (int)v;
			break;
		case 'u':
			if (al_parse_u64(optarg, &uid) < 0 || uid == 0 || uid > 0xfffffffe)
				return al_cli_usage_error(&al_cmd_exec, "bad --uid '%s'", optarg);
			break;
		case 'U':
			unenforced = true;
			break;
		case 'a':
			attest = true;
			break;
		case 'j':
			json = attest = true;
			break;
		default:
			return al_cli_usage_error(&al_cmd_exec, "unknown option");
		}
	}
	if (!profile)
		return al_cli_usage_error(&al_cmd_exec, "--profile is required");
	if (optind >= argc)
		return al_cli_usage_error(&al_cmd_exec, "no command given");
	/* an ordinary user without a delegated cgroup: a systemd scope, where a
	 * user manager runs (this process is then executed again in it) */
	(void)al_cgroup_scope_enter(al_cli_argv);

	struct al_spec spec;
	struct al_domain *d = NULL;
	int rc, ret = AL_EXIT_FAIL, sfd = -1;
	al_spec_init(&spec);
	if (al_profile_load(&spec, profile) < 0)
		goto out;
	for (size_t i = 0; i < n_ro; i++)
		if ((rc = al_spec_add_path(&spec, ro[i], false)) < 0) {
			fprintf(stderr, "airlock exec: --ro %s: %s\n", ro[i], strerror(-rc));
			goto out;
		}
	for (size_t i = 0; i < n_rw; i++)
		if ((rc = al_spec_add_path(&spec, rw[i], true)) < 0) {
			fprintf(stderr, "airlock exec: --rw %s: %s\n", rw[i], strerror(-rc));
			goto out;
		}
	for (size_t i = 0; i < n_fds; i++)
		if ((rc = al_spec_add_fd(&spec, fds[i], fds[i])) < 0 ||
		    fcntl(fds[i], F_GETFD) < 0) {
			fprintf(stderr, "airlock exec: --fd %d: not open or refused\n", fds[i]);
			goto out;
		}
	if (has_mem)
		spec.cg_memory = memory;
	if (has_pids)
		spec.cg_pids = pids;
	if (has_cpu)
		spec.rl_cpu = cpu_time;
	spec.accept_unenforced = unenforced;
	spec.outside_uid = (uid_t)uid;
	spec.outside_gid = (gid_t)uid;
	if (cpus) {
		if (al_cpu_parse_list(cpus, &spec.cpus) < 0) {
			ret = al_cli_usage_error(&al_cmd_exec, "bad --cpus '%s'", cpus);
			goto out;
		}
		spec.has_cpus = true;
	}
	if (mode) {
		if (!strcmp(mode, "kill"))
			spec.seccomp_mode = AL_SECCOMP_KILL;
		else if (!strcmp(mode, "errno"))
			spec.seccomp_mode = AL_SECCOMP_ERRNO;
		else if (!strcmp(mode, "notify"))
			spec.seccomp_mode = AL_SECCOMP_NOTIFY;
		else {
			ret = al_cli_usage_error(&al_cmd_exec, "bad --seccomp '%s'", mode);
			goto out;
		}
	}
	char where[4096];
	spec.exec_fd = al_command_open(argv[optind], where, sizeof where);
	if (spec.exec_fd < 0) {
		fprintf(stderr, "airlock exec: %s: %s%s\n", argv[optind], strerror(errno),
			strchr(argv[optind], '/') ? "" : " (looked up in PATH)");
		ret = 127;
		goto out;
	}
	spec.argv = argv + optind;
	if (al_seccomp_prepare(&spec) < 0)
		goto out;

	/* signals for the domain arrive on a signalfd; the child unblocks them */
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < AL_ARRAY_LEN(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		al_log_warn("exec: signalfd");
		goto out;
	}

	if ((rc = al_domain_spawn(&spec, &d)) < 0) {
		fprintf(stderr, "airlock exec: cannot build the domain: %s%s\n", strerror(-rc),
			rc == -EPERM && geteuid() != 0 && !unenforced
				? " (without a cgroup, --accept-unenforced runs it without the CPU limit)"
				: "");
		goto out;
	}
	json_t *report = NULL;
	const char *failed = NULL;
	rc = al_domain_attest(d, &spec, (void **)&report, &failed);
	if (attest && report)
		print_attestation(report, json);
	json_decref(report);
	if (rc < 0) {
		fprintf(stderr, "airlock exec: attestation failed: %s\n", failed ? failed : "?");
		goto out;
	}
	if ((rc = al_domain_start(d)) < 0) {
		fprintf(stderr, "airlock exec: %s: %s%s\n", where, strerror(-rc),
			rc == -ENOENT ? " (a script's interpreter, or a dynamic program's loader and "
					"libraries, must be in the domain: --ro them, or use a static "
					"program)"
				      : "");
		ret = 127;
		goto out;
	}
	rc = supervise(d, sfd);
	ret = rc < 0 ? AL_EXIT_FAIL : rc;
	if (ret == 128 + SIGSYS && spec.seccomp_mode == AL_SECCOMP_KILL)
		fprintf(stderr, "airlock exec: %s was killed for a system call outside the profile's "
				"allowlist (--seccomp notify names it)\n", where);
out:
	al_domain_free(d);
	if (sfd >= 0)
		close(sfd);
	if (spec.exec_fd >= 0)
		close(spec.exec_fd);
	al_spec_free(&spec);
	return ret;
}
