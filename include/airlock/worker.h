/*
 * airlock worker contract: what the supervisor hands a domain's program, and
 * what the program may say back. Defined once here; the supervisor, the
 * workers, the benchmarks and the tests include it.
 *
 * Descriptors, at fixed numbers, placed by the sandbox (and nothing else: the
 * domain's fd table is attested to be exactly this):
 *
 *   fd  AI domain (airlock-ai)         protocol domain (airlock-proto)
 *   0   absent                         the client's stdin under --stdio, else absent
 *   1   log pipe to the supervisor     the client's stdout under --stdio, else log pipe
 *   2   log pipe to the supervisor     log pipe to the supervisor
 *   3   channel memfd                  listening TCP socket (absent under --stdio)
 *   4   model file, read-only          channel memfd (absent in lockdown)
 *   5   tokenizer, read-only (if any)  bearer token file, read-only (if any)
 *   6   report pipe (write end)        report pipe (write end)
 *   7   absent                         handoff socket: the next channel, after
 *                                      the AI domain was restarted alone
 *
 * The log pipes are drained by the supervisor into its own log, each line
 * prefixed with the domain's name, rate-limited and with control characters
 * escaped: a domain can neither reach the client's streams nor forge a line
 * of the supervisor's log.
 *
 * Recipe (a worker):
 *   1. set up from the fds above;
 *   2. al_chan_attach() on the channel fd (AL_AI_FD_CHANNEL or
 *      AL_PROTO_FD_CHANNEL), then
 *      al_chan_set_report_fd(ch, AL_WORKER_FD_REPORT): a peer that breaks a
 *      channel rule is reported there as one uint64 record (the violation
 *      code, enum al_chan_err); a channel already unusable at attach is
 *      reported as AL_WORKER_REPORT_ATTACH;
 *   3. lock down (stage-2 seccomp), serve;
 *   4. after reporting, exit with AL_WORKER_EXIT_PEER.
 *
 * Evidence: the supervisor knows which pipe a report came from, so a report
 * names its reporter for certain and its subject by the reporter's word. An
 * exit status is evidence about the domain that exited only, never about its
 * peer. Anything on a report pipe other than whole records of the codes
 * below is held against the domain that wrote it.
 */
#ifndef AIRLOCK_WORKER_H
#define AIRLOCK_WORKER_H

#include <stdint.h>

/* Both domains. */
#define AL_WORKER_FD_LOG_OUT 1
#define AL_WORKER_FD_LOG_ERR 2
#define AL_WORKER_FD_REPORT 6

/* The AI domain. */
#define AL_AI_FD_CHANNEL 3
#define AL_AI_FD_MODEL 4
#define AL_AI_FD_TOKENIZER 5

/* The protocol domain (also named on its command line: --listen-fd, ...). */
#define AL_PROTO_FD_LISTEN 3
#define AL_PROTO_FD_CHANNEL 4
#define AL_PROTO_FD_TOKEN 5
/* A SOCK_SEQPACKET socket: each message carries one channel memfd
 * (SCM_RIGHTS). When the AI domain dies, the protocol domain fails the calls
 * in flight, keeps its connections and sessions, and waits here for the
 * channel to the AI domain's next incarnation. EOF: the supervisor is gone. */
#define AL_PROTO_FD_HANDOFF 7

/* Threads of this name are a worker's I/O threads: the ones that read and
 * answer clients (libmicrohttpd's pool threads in the protocol domain). The
 * supervisor may give them a real-time class from outside (the "realtime"
 * scheduling class); the worker cannot ask for it. */
#define AL_WORKER_IO_THREAD "MHD-worker"

/* Exit codes of the built-in workers. */
enum al_worker_exit {
	AL_WORKER_EXIT_OK = 0,
	AL_WORKER_EXIT_FAIL = 1,     /* setup failed (listener, channel, memory) */
	AL_WORKER_EXIT_USAGE = 2,    /* bad options or descriptors */
	AL_WORKER_EXIT_MODEL = 3,    /* the model or tokenizer was refused */
	AL_WORKER_EXIT_LOCKDOWN = 4, /* the stage-2 filter could not be installed */
	AL_WORKER_EXIT_GENERATE = 5, /* standalone generation failed */
	AL_WORKER_EXIT_PEER = 6,     /* the peer broke the channel (reported first) */
};

/* Report codes besides the channel's violation codes (enum al_chan_err). */
#define AL_WORKER_REPORT_ATTACH 2001u /* the channel was unusable when this side attached */

/* One record on the report pipe. */
typedef uint64_t al_worker_report;

#endif
