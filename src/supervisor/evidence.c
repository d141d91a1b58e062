/*
 * Exit statuses and reports as evidence (evidence.h).
 */
#include "supervisor/evidence.h"

#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "airlock/channel.h"
#include "airlock/worker.h"

size_t al_evidence_exit(int status, struct al_incident *inc)
{
	if (!WIFEXITED(status))
		return 0; /* the init itself killed from outside: by us, or the OOM killer */
	int code = WEXITSTATUS(status);
	if (code == 128 + SIGSYS) {
		*inc = (struct al_incident){AL_INC_PRIV_ESCALATION, AL_SEV_HIGH, "killed-by-seccomp",
					    json_pack("{s:i}", "exit_code", code)};
		return 1;
	}
	if (code == 128 + SIGSEGV || code == 128 + SIGBUS || code == 128 + SIGILL || code == 128 + SIGABRT) {
		*inc = (struct al_incident){AL_INC_MEMORY_CORRUPTION, AL_SEV_MEDIUM, "fatal-signal",
					    json_pack("{s:i, s:i}", "exit_code", code, "signal", code - 128)};
		return 1;
	}
	return 0;
}

enum al_report_kind al_evidence_report(const void *buf, size_t n, uint64_t *code, const char **why)
{
	*code = 0;
	*why = "";
	if (n == 0)
		return AL_REPORT_NONE;
	if (n < sizeof(al_worker_report)) {
		*why = "partial report record";
		return AL_REPORT_MALFORMED;
	}
	al_worker_report r;
	memcpy(&r, buf, sizeof r);
	*code = r;
	if (r == AL_WORKER_REPORT_ATTACH) {
		*why = "the channel was unusable at attach";
		return AL_REPORT_PEER;
	}
	if (r > AL_CHAN_E_BASE && r < AL_CHAN_E_END) {
		*why = al_chan_strerror(-(int)r);
		return AL_REPORT_PEER;
	}
	*why = "unknown report code";
	return AL_REPORT_MALFORMED;
}
