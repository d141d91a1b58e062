/*
 * What the supervisor may conclude from what it sees of a domain: its exit
 * status, and the records on its report pipe (include/airlock/worker.h).
 *
 * An exit status is evidence about the domain that exited, and about no other:
 * a compromised domain chooses its own exit code, so a code can only ever
 * incriminate the domain that chose it. A report names its reporter for
 * certain (the supervisor knows whose pipe it read) and its subject, the
 * peer, by the reporter's word only.
 */
#ifndef AL_SUPERVISOR_EVIDENCE_H
#define AL_SUPERVISOR_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect/detect.h"

/*
 * The incident a waitpid()-style status of a domain's init shows about that
 * domain (the init exits with the program's code, or 128 + the signal that
 * killed it): 1 with *inc filled (the caller clears it), or 0.
 */
size_t al_evidence_exit(int status, struct al_incident *inc);

enum al_report_kind {
	AL_REPORT_NONE = 0,   /* nothing (complete) to read */
	AL_REPORT_PEER,       /* the reporter says its peer broke the channel */
	AL_REPORT_MALFORMED,  /* bytes no honest worker writes: held against the reporter */
};

/*
 * Classifies what was read from a report pipe (n bytes at buf): the first
 * record decides; *code gets its value, *why a static description.
 */
enum al_report_kind al_evidence_report(const void *buf, size_t n, uint64_t *code, const char **why);

#endif
