/*
 * Stage 2 of a domain's seccomp: the filter a worker installs on itself once
 * its setup is done, on top of the supervisor's stage 1. One recipe for every
 * worker:
 *
 *   scmp_filter_ctx ctx = al_stage2_new(true);      // anything unlisted kills
 *   rc = al_stage2_allow(ctx, names, n);            // plain allows, by name
 *   ... seccomp_rule_add(ctx, ...) for argument-filtered rules ...
 *   rc = al_stage2_load(ctx, rc, "proto");          // loads and releases
 *
 * Errors are negative errnos (libseccomp's); al_stage2_load() releases the
 * context whatever rc it is given, and logs a failure under the worker's name.
 */
#ifndef AL_WORKERS_STAGE2_H
#define AL_WORKERS_STAGE2_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * A filter whose default kills the whole process: an errno default would hide
 * the call from the supervisor (the kernel ranks ERRNO above stage 1's
 * USER_NOTIF), where a death by SIGSYS is seen, audited and answered. Another
 * architecture's entry points (i386's int 0x80, AArch32) are killed too. tsync:
 * the worker has threads already (its own or a library's), and every one must
 * get the filter at once. NULL when out of memory or the attributes fail.
 */
scmp_filter_ctx al_stage2_new(bool tsync);

/* Allows each named call outright; names this architecture lacks are skipped. */
int al_stage2_allow(scmp_filter_ctx ctx, const char *const *names, size_t n);

/* Loads the filter if rc is 0, releases ctx; returns the first error. */
int al_stage2_load(scmp_filter_ctx ctx, int rc, const char *who);

#endif
