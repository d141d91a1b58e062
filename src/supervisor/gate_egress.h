/*
 * `airlock gate`'s optional egress and its learn mode, beside the run
 * (gate_run.c calls these at fixed points and nothing else).
 *
 * Egress (gate_egress.c), only with an [egress] allowlist in the policy:
 *
 *   al_gate_egress_new(&e, p, audit, learn);   e stays NULL without [egress]
 *   al_gate_egress_tool_spec(e, &spec);        the tool domain: loopback network,
 *                                              listeners, inet sockets, connect ports
 *   al_gate_egress_env(e, env, room);          HTTPS_PROXY and the like
 *   ... spawn the tool domain ...
 *   al_gate_egress_spawn(e, tool, gate_worker); the egress domain, holding the listeners
 *   ... poll al_gate_egress_poll()'s fds; al_gate_egress_handle() ...
 *   al_gate_egress_free(e);                    stops the domain, reads its last records
 *
 * The egress domain (airlock-egress) writes one struct al_egress_record per
 * connection; each is checked for shape (al_gate_egress_scan) and becomes an
 * `egress.connection` audit record. The supervisor parses no protocol bytes.
 *
 * Learn mode (gate_learn.c): denials are counted as they happen, and at the
 * end of the session the policy keys that would have allowed them are
 * printed (stderr) and saved as DIR/NAME/learned.diff, a patch against the
 * policy file. Nothing is ever applied.
 */
#ifndef AL_SUPERVISOR_GATE_EGRESS_H
#define AL_SUPERVISOR_GATE_EGRESS_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "airlock/worker.h"
#include "sandbox/sandbox.h"
#include "supervisor/gate_int.h"
#include "supervisor/gate_policy.h"

struct al_audit;
struct al_gate_egress;
struct al_gate_learn;

#define AL_GATE_EGRESS_NPOLL 3
/* The explicit proxy's port in the tool domain: the first from here that
 * no rule uses. */
#define AL_GATE_EGRESS_PROXY_PORT 3128
/* Distinct ports in [egress] allow: each is a listener the egress domain holds. */
#define AL_GATE_EGRESS_MAX_PORTS 24

int al_gate_egress_new(struct al_gate_egress **out, const struct al_gate_policy *p, struct al_audit *audit,
		       struct al_gate_learn *learn);
int al_gate_egress_tool_spec(const struct al_gate_egress *e, struct al_spec *s);
/* Appends the proxy variables to env (room free slots); how many. */
size_t al_gate_egress_env(const struct al_gate_egress *e, char **env, size_t room);
int al_gate_egress_spawn(struct al_gate_egress *e, struct al_domain *tool, const char *gate_worker);
/* Fills p[0..AL_GATE_EGRESS_NPOLL) (fd -1 where nothing is to be watched). */
void al_gate_egress_poll(const struct al_gate_egress *e, struct pollfd *p);
void al_gate_egress_handle(struct al_gate_egress *e, const struct pollfd *p);
/* Whether the egress domain has ended (and every way out with it). */
bool al_gate_egress_ended(const struct al_gate_egress *e);
void al_gate_egress_free(struct al_gate_egress *e);

/* The egress domain's report bytes (hostile): fn for each whole, well-formed
 * record; the bytes used; *lied at a malformed one (nothing after it is read). */
size_t al_gate_egress_scan(const unsigned char *buf, size_t len, bool *lied,
			   void (*fn)(void *ctx, const struct al_egress_record *r), void *ctx);

int al_gate_learn_new(struct al_gate_learn **out, const struct al_gate_policy *p);
void al_gate_learn_record(struct al_gate_learn *l, const struct al_gate_record *g);
void al_gate_learn_syscall(struct al_gate_learn *l, const char *name);
/* A refused connection to host:port, or (port 0) a refused lookup of host. */
void al_gate_learn_egress(struct al_gate_learn *l, const char *host, uint16_t port);
/* Prints the proposal to out and saves it in the state directory. */
void al_gate_learn_finish(struct al_gate_learn *l, const struct al_gate_state *st, FILE *out);
void al_gate_learn_free(struct al_gate_learn *l);

#endif
