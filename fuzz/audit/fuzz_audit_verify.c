/*
 * Audit log verifier over hostile bytes. Input: 32 key bytes, then the log,
 * then optionally a NUL byte and a state file's text.
 */
#include <stdint.h>
#include <string.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_audit_result res;
	if (size < AL_AUDIT_KEY_LEN)
		return 0;
	const char *log = (const char *)data + AL_AUDIT_KEY_LEN;
	size_t len = size - AL_AUDIT_KEY_LEN;
	const char *nul = memchr(log, '\0', len);
	const char *state = NULL;
	size_t statelen = 0;
	if (nul) {
		state = nul + 1;
		statelen = len - (size_t)(nul + 1 - log);
		len = (size_t)(nul - log);
	}
	int rc = al_audit_verify_buf(data, log, len, state, statelen, &res);
	/* The result must be self-consistent whatever the input. */
	if (rc == 0 && res.verdict != AL_AUDIT_OK)
		__builtin_trap();
	return 0;
}
