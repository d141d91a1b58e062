/*
 * A domain's output drained into the supervisor's log (domlog.h).
 */
#include "supervisor/domlog.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void al_domlog_init(struct al_domlog *l, const char *name, FILE *out)
{
	memset(l, 0, sizeof *l);
	l->name = name;
	l->out = out;
	l->rfd = l->wfd = -1;
	l->tokens = AL_DOMLOG_BURST;
}

int al_domlog_open(struct al_domlog *l)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		int e = -errno;
		close(p[0]);
		close(p[1]);
		return e;
	}
	l->rfd = p[0];
	l->wfd = p[1];
	return 0;
}

static void report_dropped(struct al_domlog *l)
{
	if (!l->dropped)
		return;
	fprintf(l->out, "airlock: %s: (%llu lines dropped: more than %d a second)\n", l->name,
		(unsigned long long)l->dropped, AL_DOMLOG_RATE);
	l->dropped = 0;
}

static void refill(struct al_domlog *l, uint64_t now_ns)
{
	if (l->refill_ns && now_ns > l->refill_ns) {
		l->tokens += (double)(now_ns - l->refill_ns) * AL_DOMLOG_RATE / 1e9;
		if (l->tokens > AL_DOMLOG_BURST)
			l->tokens = AL_DOMLOG_BURST;
	}
	l->refill_ns = now_ns;
}

/* One finished line: written if the rate allows, else counted. */
static void emit(struct al_domlog *l)
{
	if (l->tokens < 1) {
		l->dropped++;
		l->dropped_total++;
	} else {
		l->tokens -= 1;
		report_dropped(l);
		fprintf(l->out, "airlock: %s: %.*s%s\n", l->name, (int)l->len, l->line, l->cut ? " (cut)" : "");
		l->lines++;
	}
	l->len = 0;
	l->cut = false;
}

/* Appends one byte of the domain's text, escaped; false once the line is full. */
static bool put(struct al_domlog *l, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	bool plain = (c >= 0x20 && c < 0x7f) || c == '\t';
	size_t need = plain ? 1 : 4;
	if (l->len + need > sizeof l->line)
		return false;
	if (plain) {
		l->line[l->len++] = c == '\t' ? ' ' : (char)c;
	} else {
		l->line[l->len++] = '\\';
		l->line[l->len++] = 'x';
		l->line[l->len++] = hex[c >> 4];
		l->line[l->len++] = hex[c & 15];
	}
	return true;
}

void al_domlog_drain(struct al_domlog *l, uint64_t now_ns)
{
	if (l->rfd < 0)
		return;
	refill(l, now_ns);
	unsigned char buf[4096];
	for (int round = 0; round < 16; round++) {
		ssize_t n = read(l->rfd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				emit(l);
				continue;
			}
			if (l->cut)
				continue;
			if (!put(l, buf[i]))
				l->cut = true;
		}
	}
	fflush(l->out);
}

void al_domlog_flush(struct al_domlog *l)
{
	if (l->len || l->cut)
		emit(l);
	report_dropped(l);
	fflush(l->out);
}

void al_domlog_close(struct al_domlog *l)
{
	al_domlog_flush(l);
	if (l->rfd >= 0)
		close(l->rfd);
	if (l->wfd >= 0)
		close(l->wfd);
	l->rfd = l->wfd = -1;
}
