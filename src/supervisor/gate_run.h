/*
 * `airlock gate`: the supervisor of one third-party stdio MCP server. It
 * builds two domains and stays between them and the user:
 *
 *   tool domain   CMD (node, python, ...) under the policy's profile, paths,
 *                 environment and secrets; no network; its stdin and stdout
 *                 are pipes to the gate domain, its stderr goes to our log;
 *   gate domain   airlock-gate, holding the client's stdin and stdout and the
 *                 two pipes, and nothing else (no filesystem, no network);
 *                 it checks every message (src/workers/gate/gate.h).
 *
 * The supervisor parses no protocol bytes. It reads the gate's fixed-size
 * decision records (include/airlock/worker.h), writes each to the audit
 * log, keeps the pins (DIR/NAME/pin: the SHA-256 of the approved tools/list)
 * and the pending changes, and answers the tool domain's refused system
 * calls (seccomp notify: refused, logged, audited).
 *
 * State directory (al_gate_state_dir): /var/lib/airlock/gate for root, else
 * $XDG_STATE_HOME/airlock/gate or ~/.local/state/airlock/gate; one directory
 * per policy name holding pin, tools.json, pending.pin, pending.json and the
 * audit log.
 */
#ifndef AL_SUPERVISOR_GATE_RUN_H
#define AL_SUPERVISOR_GATE_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "airlock/worker.h"
#include "supervisor/gate_policy.h"

/* The default state directory into buf; 0 or -ENAMETOOLONG / -ENOENT (no HOME). */
int al_gate_state_dir(char *buf, size_t len);

/* Runs CMD behind the gate until the client closes its stdin. worker: the
 * airlock-gate executable. Returns the process exit status to use. */
int al_gate_run(const struct al_gate_policy *p, char *const *cmd, const char *state_dir, const char *worker);

/* Shows the pending change of the policy's server and accepts it (after a
 * confirmation on a terminal, or at once with yes). Exit status. */
int al_gate_approve(const struct al_gate_policy *p, const char *state_dir, bool yes);

/* The gate's report bytes (hostile: the gate domain may be compromised):
 * calls fn for each whole, well-formed record (with its blob) and returns the
 * bytes used; *lied when a record is malformed (nothing after it is read). */
size_t al_gate_report_scan(const unsigned char *buf, size_t len, bool *lied,
			   void (*fn)(void *ctx, const struct al_gate_record *r, const unsigned char *blob), void *ctx);

#endif
