/* Progress lines on a terminal (progress.h). */
#include "integrity/progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

#define MIB (1024.0 * 1024.0)

size_t al_progress_format(char *buf, size_t len, const char *label, uint64_t done, uint64_t total,
			  uint64_t elapsed_ns)
{
	if (!len)
		return 0;
	if (done > total)
		done = total;
	unsigned pct = total ? (unsigned)(done * 100 / total) : 100;
	int n = snprintf(buf, len, "%s  %.1f of %.1f MiB  %u %%", label, (double)done / MIB, (double)total / MIB, pct);
	if (n >= 0 && (size_t)n < len && elapsed_ns > 0)
		n += snprintf(buf + n, len - (size_t)n, "  %.0f MiB/s", (double)done / MIB / ((double)elapsed_ns / 1e9));
	if (n < 0) {
		buf[0] = '\0';
		return 0;
	}
	return (size_t)n < len ? (size_t)n : len - 1;
}

static void draw(struct al_progress *p, uint64_t now)
{
	char line[200];
	size_t n = al_progress_format(line + 1, sizeof line - 4, p->label, p->done, p->total, now - p->t0_ns);
	/* \r, the line, then clear what a longer earlier line left (ESC [ K) */
	line[0] = '\r';
	memcpy(line + 1 + n, "\033[K", 3);
	(void)!write(p->fd, line, n + 4);
	p->drawn = true;
	p->last_ns = now;
}

void al_progress_begin(struct al_progress *p, const char *label, uint64_t total)
{
	memset(p, 0, sizeof *p);
	p->fd = total >= AL_PROGRESS_MIN_BYTES && isatty(STDERR_FILENO) ? STDERR_FILENO : -1;
	snprintf(p->label, sizeof p->label, "%s", label);
	p->total = total;
	p->t0_ns = al_now_ns();
}

void al_progress_update(struct al_progress *p, uint64_t done)
{
	p->done = done;
	if (p->fd < 0)
		return;
	uint64_t now = al_now_ns();
	if (!p->drawn || now - p->last_ns >= AL_PROGRESS_REDRAW_MS * 1000000ull)
		draw(p, now);
}

void al_progress_end(struct al_progress *p, bool ok)
{
	if (p->fd < 0 || !p->drawn)
		return;
	draw(p, al_now_ns());
	if (ok)
		(void)!write(p->fd, "\n", 1);
	else
		(void)!write(p->fd, "  failed\n", 9);
}
