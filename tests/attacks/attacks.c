/* Multi-call attack binary: `attacks NAME [ARGS]`, or `attack_NAME [ARGS]`
 * through a link of that name. `attacks list` names every probe, `attacks
 * victim` is the outside process the cross-process probes aim at. */
#include "probe.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

const char *atk_name = "?";
char atk_victim_secret[32] = "not-the-victim";

static const struct atk_probe probes[] = {
#define ATK_ENTRY(n) { #n, atk_##n },
	ATK_PROBES(ATK_ENTRY)
#undef ATK_ENTRY
};

static int report(int code, const char *verdict, const char *err, const char *fmt, va_list ap)
{
	char detail[512];

	vsnprintf(detail, sizeof(detail), fmt, ap);
	for (char *p = detail; *p; p++)
		if (*p == '\n')
			*p = ' ';
	printf("AL-ATTACK name=%s verdict=%s errno=%s detail=%s\n", atk_name, verdict, err, detail);
	fflush(stdout);
	return code;
}

static const char *errname(int err)
{
	const char *n = err ? strerrorname_np(err) : NULL;
	return n ? n : "-";
}

int atk_escaped(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = report(ATK_ESCAPED, "ESCAPED", "-", fmt, ap);
	va_end(ap);
	return rc;
}

int atk_blocked(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = report(ATK_BLOCKED, "BLOCKED", errname(err), fmt, ap);
	va_end(ap);
	return rc;
}

int atk_blocked_as(const char *why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = report(ATK_BLOCKED, "BLOCKED", why, fmt, ap);
	va_end(ap);
	return rc;
}

int atk_unexpected(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = report(ATK_UNEXPECTED, "UNEXPECTED", errname(err), fmt, ap);
	va_end(ap);
	return rc;
}

int atk_unavailable(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = report(ATK_UNAVAILABLE, "UNAVAILABLE", errname(err), fmt, ap);
	va_end(ap);
	return rc;
}

int atk_failed(int err, const char *what)
{
	switch (err) {
	case EPERM: case EACCES: case ENOSYS: case EROFS: case ENOENT:
	case ESRCH: case ENETUNREACH: case EHOSTUNREACH: case EAFNOSUPPORT:
	case EPROTONOSUPPORT: case ECONNREFUSED: case ENOSPC: case EUSERS:
	case EAGAIN: case ENOMEM: case EMFILE: case ENFILE: case ETXTBSY:
		return atk_blocked(err, "%s: %s", what, strerror(err));
	default:
		return atk_unexpected(err, "%s: %s", what, strerror(err));
	}
}

void atk_reached(const char *call)
{
	char line[160];
	int n = snprintf(line, sizeof(line), "AL-REACHED name=%s call=%s\n", atk_name, call);

	if (n > 0 && (size_t)n < sizeof(line))
		(void)!write(2, line, (size_t)n);
}

void atk_note(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", atk_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

long atk_arg_long(int argc, char **argv, int idx, long dflt)
{
	char *end;
	long v;

	if (idx >= argc)
		return dflt;
	errno = 0;
	v = strtol(argv[idx], &end, 10);
	if (errno || end == argv[idx] || *end || v <= 0)
		return 0;
	return v;
}

/* The target of ptrace / process_vm_readv / kill / kcmp / setns probes:
 * it marks its memory, says "ready" and waits to be killed (at most 5 min,
 * and at once when its parent dies). */
static noreturn void victim(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(atk_victim_secret, sizeof(atk_victim_secret), "%s", ATK_VICTIM_SECRET);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	alarm(300);
	for (;;)
		pause();
}

static int usage(void)
{
	fprintf(stderr, "usage: attacks NAME [ARGS...] | attacks list | attacks victim\n");
	return ATK_USAGE;
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	const char *name;

	base = base ? base + 1 : argv[0];
	if (strncmp(base, "attack_", 7) == 0) {
		name = base + 7;
	} else {
		if (argc < 2)
			return usage();
		name = argv[1];
		argv++;
		argc--;
	}
	if (strcmp(name, "list") == 0) {
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
			printf("%s\n", probes[i].name);
		return 0;
	}
	if (strcmp(name, "victim") == 0)
		victim();
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (strcmp(name, probes[i].name) == 0) {
			atk_name = probes[i].name;
			setvbuf(stdout, NULL, _IOLBF, 0);
			return probes[i].run(argc, argv);
		}
	}
	fprintf(stderr, "attacks: unknown probe '%s' (try 'attacks list')\n", name);
	return ATK_USAGE;
}
