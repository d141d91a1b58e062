/*
 * `airlock gate` internals shared by gate_run.c (the run), gate_state.c
 * (the state directory and approval) and the install (gate_install.c,
 * gate_npm.c).
 */
#ifndef AL_SUPERVISOR_GATE_INT_H
#define AL_SUPERVISOR_GATE_INT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct al_audit;

struct al_gate_state {
	char dir[PATH_MAX]; /* state_dir/NAME */
	char pin[65];       /* approved hash, hex; "" when none */
	char pending[65];   /* a changed hash waiting for approval */
};

/* Creates state_dir/name (0700) and reads the pin and pending hash. */
int al_gate_state_open(struct al_gate_state *s, const char *name, const char *state_dir);
int al_gate_file(const struct al_gate_state *s, const char *name, char *buf, size_t len);
/* Replaces DIR/name with data, atomically. */
int al_gate_put(const struct al_gate_state *s, const char *name, const void *data, size_t len);
int al_gate_audit_open(const struct al_gate_state *s, struct al_audit **out);
void al_gate_hex(const uint8_t h[32], char out[65]);

struct al_gate_policy;
/* gate_npm.c: `npm install` of p->npm into staging from registry, in its
 * domain, the egress domain beside it (records to audit). 0 or -errno. */
int al_gate_npm_install(const struct al_gate_policy *p, const char *staging, const char *registry,
			struct al_audit *audit, const char *gate_worker);

#endif
