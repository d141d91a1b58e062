/*
 * CPU pressure, and when the adaptive class's I/O threads are real-time.
 *
 * A real-time I/O thread wakes on the CPU it last ran on. On an idle machine
 * that costs every request two wake-ups across CPUs: the thread preempts its
 * client, the kernel moves the waiting client to the idle CPU, and from then
 * on the two sit apart (docs/levels.md). A default-class thread is woken on
 * its client's CPU and the client stays with it. Under contention the real-
 * time class is what keeps the tail short. So the adaptive class makes the
 * I/O threads real-time only while tasks wait for a CPU.
 *
 * The kernel says how long tasks waited: /proc/pressure/cpu (PSI), whose
 * "some" line's total is the microseconds during which at least one task was
 * runnable and not running. Over each look (the supervisor looks every
 * 100 ms), the share of that window is the pressure. Measured on the 2-vCPU
 * VM: 0 % idle, 0.3 % with two CPU-bound tasks and nothing else (nobody
 * waits), 42 % with two looping generations and their clients, 84 % with two
 * more CPU-bound tasks beside them, 100 % with six.
 *
 * Contended: one window at or above CONTENDED_PCT makes the threads real-time
 * at once. Calm: they return to the default class only after CALM_FOR_MS of
 * windows below CALM_PCT, so a burst does not flip them back and forth.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "sandbox/sandbox.h"

#define CONTENDED_PCT 25.0
#define CALM_PCT 10.0
#define CALM_FOR_MS 1000u
#define PSI_TEXT_MAX 512

int al_psi_parse_some(const char *text, size_t len, uint64_t *total_us)
{
	/* "some avg10=4.02 avg60=7.89 avg300=16.55 total=1486421078\nfull ..." */
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if ((size_t)(le - p) > 5 && !memcmp(p, "some ", 5)) {
			const char *t = memmem(p, (size_t)(le - p), " total=", 7);
			if (!t)
				return -EPROTO;
			t += 7;
			char num[24];
			const char *te = t;
			while (te < le && *te != ' ')
				te++;
			if (te == t || (size_t)(te - t) >= sizeof num)
				return -EPROTO;
			memcpy(num, t, (size_t)(te - t));
			num[te - t] = '\0';
			return al_parse_u64(num, total_us) < 0 ? -EPROTO : 0;
		}
		p = le + 1;
	}
	return -EPROTO;
}

static const char *psi_path = "/proc/pressure/cpu";
static int psi_fd = -1; /* kept open: the supervisor reads it ten times a second */

void al_psi_set_path(const char *path)
{
	if (psi_fd >= 0)
		close(psi_fd);
	psi_fd = -1;
	psi_path = path ? path : "/proc/pressure/cpu";
}

int al_psi_cpu_read(uint64_t *total_us)
{
	/* ENOENT without CONFIG_PSI, EOPNOTSUPP when it is off (psi=0) */
	if (psi_fd < 0 && (psi_fd = open(psi_path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	/* the kernel's text is about 100 bytes; a read at offset 0 makes it anew */
	char buf[PSI_TEXT_MAX];
	ssize_t n = pread(psi_fd, buf, sizeof buf, 0);
	if (n < 0) {
		int e = errno;
		close(psi_fd);
		psi_fd = -1;
		return -e;
	}
	return al_psi_parse_some(buf, (size_t)n, total_us);
}

bool al_contention_feed(struct al_contention *c, uint64_t total_us, uint64_t now_ns)
{
	if (!c->have || now_ns <= c->at_ns || total_us < c->total_us) {
		/* the first look, or one that cannot be compared: a new start */
		c->have = true;
		c->total_us = total_us;
		c->at_ns = now_ns;
		c->calm_since_ns = now_ns;
		return c->rt;
	}
	double pct = (double)(total_us - c->total_us) * 1e5 / (double)(now_ns - c->at_ns);
	c->total_us = total_us;
	c->at_ns = now_ns;
	c->last_pct = pct;
	bool was = c->rt;
	if (pct >= CONTENDED_PCT) {
		c->rt = true;
		c->calm_since_ns = 0;
	} else if (pct >= CALM_PCT) {
		c->calm_since_ns = 0;
	} else {
		if (!c->calm_since_ns)
			c->calm_since_ns = now_ns;
		if (now_ns - c->calm_since_ns >= CALM_FOR_MS * 1000000ull)
			c->rt = false;
	}
	c->switches += c->rt != was;
	return c->rt;
}
