/*
 * The airlock-ai worker: its inherited file descriptors and its lockdown.
 *
 * Started by the supervisor, the worker finds at fixed numbers
 * (include/airlock/worker.h):
 *   fd 3  AL_AI_FD_CHANNEL    the shared-memory channel to the protocol domain
 *   fd 4  AL_AI_FD_MODEL      the verified model checkpoint, read-only
 *   fd 5  AL_AI_FD_TOKENIZER  the verified tokenizer, read-only; absent (and
 *                             unread) for a GGUF model, which embeds its own
 *   fd 6  AL_WORKER_FD_REPORT where a peer's channel violation is reported
 * and fds 1 and 2, pipes the supervisor drains into its log. Standalone
 * (--model/--tokenizer) it opens the two files itself and prints the
 * generated text on stdout.
 *
 * Order, as every worker: set up (map the model, load the tokenizer, build
 * the state) -> al_ai_lockdown() -> loop. Nothing untrusted is read before
 * the lockdown, and afterwards the process cannot open, exec, connect or make
 * memory executable.
 */
#ifndef AL_AI_WORKER_H
#define AL_AI_WORKER_H

#include "airlock/worker.h" /* the fd numbers and exit codes */

/* Installs the stage-2 seccomp filter: only what generation needs, any other
 * system call kills the process. channel_fd < 0 when there is no channel
 * (standalone); report_fd < 0 when there is nothing to report to. The
 * channel is used through its mapping only: neither read nor write may touch
 * it. 0 or -errno. */
int al_ai_lockdown(int channel_fd, int report_fd);

#endif
