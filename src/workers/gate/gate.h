/*
 * The gate: checks every JSON-RPC message between an MCP client and a
 * third-party stdio MCP server, in both directions, with no I/O of its own
 * (main.c frames lines and moves bytes; tests and the fuzzer feed it lines).
 *
 *   struct al_gate *g;
 *   al_gate_new(&cfg, &out, &g);
 *   al_gate_from_client(g, line, len);   // forwards, answers or drops
 *   al_gate_from_server(g, line, len);
 *   poll(..., al_gate_timeout(g));         // then al_gate_tick(g): timeouts due
 *   al_gate_free(g);
 *
 * Client to server: well-formed JSON-RPC only; requests by method allowlist;
 * tools/call only for a tool that is allowed by the policy and pinned (seen
 * in an approved tools/list), its arguments checked against the pinned
 * inputSchema and the policy's argument rules (rules.h), within the tool's
 * rate limit; a call unanswered within its tool's timeout is answered with an
 * error and cancelled at the server; cancellations only of outstanding
 * requests; responses only to requests the server made.
 * Server to client: responses only to an outstanding request of the client,
 * under a size cap; tools/list canonicalised (sorted keys, compact) and
 * hashed (SHA-256) over the whole result; a hash other than the pinned one
 * quarantines the server (every later tools/call is refused) until the user
 * approves the change; secret-looking strings in results are redacted;
 * server-initiated requests (sampling, elicitation, roots) as the policy
 * says; notifications rate-limited.
 *
 * Every decision is one record to the supervisor (out->report): the gate
 * decides, the supervisor audits and keeps the pins.
 */
#ifndef AL_GATE_GATE_H
#define AL_GATE_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlock/worker.h"
#include "workers/gate/rules.h"

#define AL_GATE_MAX_TOOLS 64
#define AL_GATE_MAX_INFLIGHT 64

enum al_gate_server_req { AL_GATE_DENY = 0, AL_GATE_PASS = 1 };

struct al_gate_config {
	size_t max_line;        /* bytes of one message, either direction */
	size_t max_result;      /* bytes of one response to the client */
	unsigned notify_rate;   /* server notifications per second (burst: 4x) */
	bool all_tools;         /* every pinned tool may be called */
	const char *tools[AL_GATE_MAX_TOOLS]; /* else these */
	size_t n_tools;
	enum al_gate_server_req sampling, elicitation, roots;
	bool has_pin;
	uint8_t pin[32];        /* SHA-256 of the approved tools/list */
	const struct al_gate_rules *rules; /* per-tool rate, timeout, argument rules; NULL: none */
};

struct al_gate_io {
	void (*to_client)(void *ctx, const char *line, size_t len); /* one message, no newline */
	void (*to_server)(void *ctx, const char *line, size_t len);
	/* One decision; blob (tools text) may be NULL. */
	void (*report)(void *ctx, const struct al_gate_record *r, const void *blob, size_t len);
	uint64_t (*now_ms)(void *ctx);
	void *ctx;
};

struct al_gate;

/* 0 or -ENOMEM. cfg and io are copied (tool names and rules are borrowed). */
int al_gate_new(const struct al_gate_config *cfg, const struct al_gate_io *io, struct al_gate **out);
void al_gate_free(struct al_gate *g);

void al_gate_from_client(struct al_gate *g, const char *line, size_t len);
void al_gate_from_server(struct al_gate *g, const char *line, size_t len);

/* Milliseconds until the next timeout is due (poll's timeout), -1 if none. */
int al_gate_timeout(struct al_gate *g);
/* Answers and cancels the tools/calls whose timeout is due. */
void al_gate_tick(struct al_gate *g);

/* Whether tools/call is refused because the tools changed since approval. */
bool al_gate_quarantined(const struct al_gate *g);

/* Redacts secret-looking runs in s in place ('*'); returns how many. */
unsigned al_gate_redact(char *s, size_t len);

#endif
