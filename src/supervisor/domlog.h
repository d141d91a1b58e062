/*
 * A domain's stdout and stderr, as the supervisor sees them: one pipe per
 * domain, drained into the supervisor's own log.
 *
 *   struct al_domlog l;
 *   al_domlog_init(&l, "ai", stderr);
 *   al_domlog_open(&l);                 pipe; l.wfd goes to the domain as fds 1 and 2
 *   ... epoll on l.rfd: al_domlog_drain(&l, al_now_ns());
 *   al_domlog_flush(&l);                at the domain's exit: the unfinished line
 *   al_domlog_close(&l);
 *
 * What a domain writes is hostile. Each line comes out as
 * "airlock: NAME: TEXT", with every byte outside printable ASCII escaped as
 * \xNN (no terminal escapes, no carriage return, no line of the supervisor's
 * own), cut at AL_DOMLOG_LINE_MAX bytes, and at most AL_DOMLOG_RATE lines a
 * second (burst AL_DOMLOG_BURST); what is over the limit is dropped and
 * counted in one line once lines flow again. The read end never blocks, so a
 * flooding domain costs the supervisor a bounded read per wakeup, nothing more.
 */
#ifndef AL_SUPERVISOR_DOMLOG_H
#define AL_SUPERVISOR_DOMLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define AL_DOMLOG_LINE_MAX 512
#define AL_DOMLOG_RATE 50
#define AL_DOMLOG_BURST 200

struct al_domlog {
	const char *name;
	FILE *out;
	int rfd, wfd;          /* -1 when closed */
	char line[AL_DOMLOG_LINE_MAX];
	size_t len;
	bool cut;              /* the current line was cut: skip to its end */
	double tokens;         /* lines that may still be written now */
	uint64_t refill_ns;    /* when tokens were last topped up */
	uint64_t dropped;      /* lines dropped since the last one written */
	uint64_t lines, dropped_total;
};

void al_domlog_init(struct al_domlog *l, const char *name, FILE *out);
/* 0 or -errno. The read end is non-blocking and close-on-exec. */
int al_domlog_open(struct al_domlog *l);
/* Reads what is there (at most 64 KiB a call) and writes its whole lines. */
void al_domlog_drain(struct al_domlog *l, uint64_t now_ns);
/* Ends the current unfinished line, if any, and reports what was dropped. */
void al_domlog_flush(struct al_domlog *l);
void al_domlog_close(struct al_domlog *l);

#endif
