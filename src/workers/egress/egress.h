/*
 * The egress proxy: the tool domain's connections arrive on listeners made
 * in its network namespace (src/sandbox/net.c), and leave from this domain,
 * which is in the runner's, only to what the allowlist names.
 *
 *   proxy listener   the HTTPS_PROXY the tool domain is given: an HTTP
 *                    CONNECT head (connect.h) names host:port; the answer is
 *                    200 and a tunnel, or an error status and the end;
 *   direct listener  one per allowed port: a program that ignores proxy
 *                    variables connects to an address, which every address
 *                    of the tool's namespace is (AnyIP); the address it meant
 *                    is the accepted socket's own (getsockname);
 *   dns              UDP port 53 of the tool's namespace: an allowed name is
 *                    answered with an address of 198.18.0.0/15 that the
 *                    direct listeners map back to it (dns.h); any other
 *                    name with NXDOMAIN.
 *
 * A name is resolved here, never in the tool domain. A direct connection to
 * an address is allowed when it is the address dns gave an allowed name, or
 * a rule names that address, or names a host (not a wildcard) that resolves
 * to it, on that port. Each connection ends
 * in one struct al_egress_record on the report fd.
 */
#ifndef AL_EGRESS_EGRESS_H
#define AL_EGRESS_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlock/worker.h"
#include "workers/egress/rule.h"

#define AL_EGRESS_MAX_RULES 64
#define AL_EGRESS_MAX_LISTEN 64
#define AL_EGRESS_MAX_CONNS 64

enum al_egress_kind { AL_EGRESS_PROXY, AL_EGRESS_DIRECT, AL_EGRESS_DNS };

struct al_egress_listener {
	int fd;
	uint16_t port;
	enum al_egress_kind kind; /* CONNECT; a direct (transparent) listener; DNS (dns.h, UDP) */
};

struct al_egress_config {
	struct al_egress_rule rules[AL_EGRESS_MAX_RULES];
	size_t n_rules;
	struct al_egress_listener listen[AL_EGRESS_MAX_LISTEN];
	size_t n_listen;
	int report_fd;
	unsigned head_timeout_ms;    /* for the CONNECT head */
	unsigned connect_timeout_ms; /* for each address tried */
};

/* Starts the resolver thread (before the stage-2 filter, which is then
 * synchronised to it) and takes SIGTERM and SIGINT to mean: stop. */
int al_egress_init(void);

/* Serves until stopped (0: each open connection was reported) or the report
 * fd is gone (exits); -errno when it cannot go on. */
int al_egress_serve(const struct al_egress_config *cfg);

#endif
