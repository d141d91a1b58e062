/*
 * The supervisor: the trusted process of airlock run. It reads its own
 * configuration, probes the machine, opens and verifies every file a domain
 * needs, creates the channel, binds the listener, spawns and attests both
 * domains, then watches them in one epoll loop (pidfds, signalfd, control
 * socket, seccomp notifications, a timerfd tick). It never parses model
 * files or protocol bytes.
 *
 *   struct al_config *cfg;  al_config_load(path, 0, &cfg, &errors);
 *   return al_sup_run(cfg, verbose);   // returns when stopped
 */
#ifndef AL_SUPERVISOR_H
#define AL_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "supervisor/config.h"

/*
 * Runs until SIGTERM/SIGINT or `airlock stop`. 0 on a clean stop, 1 when the
 * start failed (the reason logged: a missing protection, a file that failed
 * verification, a domain that could not be started or attested).
 */
int al_sup_run(const struct al_config *cfg, bool verbose);

#endif
