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

/*
 * The gate domain (airlock-gate), between an MCP client's stdio and a
 * third-party server's (the tool domain):
 *
 *   0  the client's stdin            3  the tool domain's stdin (write end)
 *   1  the client's stdout           4  the tool domain's stdout (read end)
 *   2  log pipe to the supervisor    6  report pipe: struct al_gate_record
 *
 * Each decision is one record, followed by blob_len bytes when the event
 * carries text (AL_GATE_EV_TOOLS: the canonical tools/list the hash covers,
 * for `airlock gate approve` to show). The supervisor copies names and blobs
 * as bytes; it parses no JSON-RPC.
 */
#define AL_GATE_FD_CLIENT_IN 0
#define AL_GATE_FD_CLIENT_OUT 1
#define AL_GATE_FD_TOOL_IN 3
#define AL_GATE_FD_TOOL_OUT 4

#define AL_GATE_RECORD_MAGIC 0x61677431u /* "agt1" */
#define AL_GATE_MAX_BLOB (1u << 20)

enum al_gate_event {
	AL_GATE_EV_FORWARDED = 1, /* a tools/call passed (name, arguments' hash) */
	AL_GATE_EV_REFUSED,       /* a message refused with an error answer */
	AL_GATE_EV_DROPPED,       /* a message dropped without an answer */
	AL_GATE_EV_REDACTED,      /* secret-looking text removed from a result */
	AL_GATE_EV_PIN_NEW,       /* first tools/list of this server: hash to pin */
	AL_GATE_EV_QUARANTINED,   /* tools/list differs from the pin: hash of the new one */
	AL_GATE_EV_TOOLS,         /* the canonical tools/list text (blob) of the last hash */
	AL_GATE_EV_TIMEOUT,       /* a tools/call unanswered in its time: the client answered, the server cancelled */
	AL_GATE_EV_CANCELLED,     /* a cancellation of an outstanding request, forwarded */
	AL_GATE_EV_MAX
};

enum al_gate_reason {
	AL_GATE_WHY_NONE = 0,
	AL_GATE_WHY_MALFORMED,     /* not JSON-RPC 2.0 */
	AL_GATE_WHY_OVERSIZED,     /* over the line or result cap */
	AL_GATE_WHY_METHOD,        /* method not allowed */
	AL_GATE_WHY_TOOL,          /* tool not allowed by the policy */
	AL_GATE_WHY_UNPINNED,      /* tool not in the approved tools/list */
	AL_GATE_WHY_ARGUMENTS,     /* arguments against the pinned inputSchema */
	AL_GATE_WHY_QUARANTINE,    /* the server's tools changed since approval */
	AL_GATE_WHY_UNSOLICITED,   /* a response nobody asked for */
	AL_GATE_WHY_SERVER_REQUEST,/* sampling, elicitation or roots denied by policy */
	AL_GATE_WHY_FLOOD,         /* notifications over the rate */
	AL_GATE_WHY_OUTPUT,        /* structuredContent against the pinned outputSchema */
	AL_GATE_WHY_BUSY,          /* too many requests in flight */
	AL_GATE_WHY_RATE,          /* a tools/call over its tool's rate limit */
	AL_GATE_WHY_CONSTRAINT,    /* an argument against the policy's argument rules */
	AL_GATE_WHY_TIMEOUT,       /* no answer within the tool's timeout */
	AL_GATE_WHY_LATE,          /* an answer to a request timed out or cancelled */
	AL_GATE_WHY_UNKNOWN_ID,    /* a cancellation of no outstanding request */
	AL_GATE_WHY_MAX
};

struct al_gate_record {
	uint32_t magic;
	uint16_t event;      /* enum al_gate_event */
	uint16_t reason;     /* enum al_gate_reason */
	uint32_t blob_len;   /* bytes following the record (AL_GATE_EV_TOOLS only) */
	uint32_t from_client;/* 1: the message came from the client, 0: from the server */
	uint8_t hash[32];    /* SHA-256: arguments (tools/call) or tools/list */
	char method[48];     /* NUL-terminated, printable ASCII */
	char name[64];       /* tool name, NUL-terminated, printable ASCII */
	char arg[64];        /* AL_GATE_WHY_CONSTRAINT: the argument ("paths[1]"); else "" */
	char rule[48];       /* the rule applied ("prefix", "rate 2 calls a second (burst 2)", "timeout 1000 ms"); or "" */
};

/*
 * The egress domain (airlock-egress): the tool domain's only way out, when
 * the gate's policy has an [egress] allowlist.
 *
 *   2  log pipe to the supervisor    6  report pipe: struct al_egress_record
 *   10.. listeners made in the tool domain's network namespace (--listen FD:PORT:KIND,
 *        KIND proxy, direct or dns: a UDP socket on port 53)
 *
 * One record per connection, when it ends (or is refused): the host and port
 * asked for, the verdict, and the bytes each way. The supervisor checks the
 * shape (magic, ranges, NUL-terminated printable text) and audits it; it
 * parses nothing else.
 */
#define AL_EGRESS_FD_LISTEN0 10
#define AL_EGRESS_RECORD_MAGIC 0x61657431u /* "aet1" */

enum al_egress_verdict { AL_EGRESS_ALLOWED = 1, AL_EGRESS_REFUSED, AL_EGRESS_VERDICT_MAX };

enum al_egress_reason {
	AL_EGRESS_WHY_NONE = 0,
	AL_EGRESS_WHY_NOT_ALLOWED,  /* host:port not in the allowlist */
	AL_EGRESS_WHY_MALFORMED,    /* not a well-formed CONNECT request */
	AL_EGRESS_WHY_METHOD,       /* a request other than CONNECT */
	AL_EGRESS_WHY_UNRESOLVED,   /* the name did not resolve */
	AL_EGRESS_WHY_UNREACHABLE,  /* no address of it accepted the connection */
	AL_EGRESS_WHY_BUSY,         /* too many connections at once */
	AL_EGRESS_WHY_TIMEOUT,      /* no request, or no connection, in time */
	AL_EGRESS_WHY_MAX
};

/* proxy: CONNECT; direct: a connection to an address; dns: a name looked up
 * (recorded when refused, once a name; port 53) */
enum al_egress_via { AL_EGRESS_VIA_PROXY = 1, AL_EGRESS_VIA_DIRECT, AL_EGRESS_VIA_DNS, AL_EGRESS_VIA_MAX };

struct al_egress_record {
	uint32_t magic;
	uint16_t verdict;     /* enum al_egress_verdict */
	uint16_t reason;      /* enum al_egress_reason */
	uint16_t port;        /* asked for */
	uint16_t via;         /* enum al_egress_via: CONNECT through the proxy, or a direct connection */
	uint32_t duration_ms;
	uint64_t bytes_out;   /* from the tool domain to the host */
	uint64_t bytes_in;    /* from the host to the tool domain */
	char host[256];       /* asked for: a name or an address; NUL-terminated, printable ASCII */
	char addr[48];        /* the address connected to, "" if none */
};

#endif
