/*
 * What the supervisor concludes from an exit status or a report record
 * (src/supervisor/evidence.h): every exit code and every signal, and every
 * shape of report.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "airlock/channel.h"
#include "airlock/worker.h"
#include "supervisor/evidence.h"

#define EXITED(code) (((code) & 0xff) << 8)

/* Every exit code: only the domain's own crash or seccomp death is an incident. */
static void test_exit_codes(void **state)
{
	for (int code = 0; code < 256; code++) {
		struct al_incident inc = {0};
		size_t n = al_evidence_exit(EXITED(code), &inc);
		if (code == 128 + SIGSYS) {
			assert_int_equal(n, 1);
			assert_int_equal(inc.type, AL_INC_PRIV_ESCALATION);
			assert_string_equal(inc.rule, "killed-by-seccomp");
		} else if (code == 128 + SIGSEGV || code == 128 + SIGBUS || code == 128 + SIGILL ||
			   code == 128 + SIGABRT) {
			assert_int_equal(n, 1);
			assert_int_equal(inc.type, AL_INC_MEMORY_CORRUPTION);
		} else {
			/* The workers' own codes, the peer code among them, say nothing. */
			assert_int_equal(n, 0);
		}
		al_incident_clear(&inc);
	}
}

/* The init itself killed by a signal (from outside): no incident either way. */
static void test_exit_signals(void **state)
{
	for (int sig = 1; sig < 65; sig++) {
		struct al_incident inc = {0};
		assert_int_equal(al_evidence_exit(sig, &inc), 0);
	}
}

static enum al_report_kind classify(uint64_t v, size_t n, uint64_t *code)
{
	const char *why;
	unsigned char buf[16];
	memcpy(buf, &v, sizeof v);
	enum al_report_kind k = al_evidence_report(buf, n, code, &why);
	assert_non_null(why);
	return k;
}

static void test_reports(void **state)
{
	uint64_t code;
	assert_int_equal(classify(0, 0, &code), AL_REPORT_NONE);
	/* Every channel violation code is a report about the peer. */
	for (uint64_t c = AL_CHAN_E_BASE + 1; c < AL_CHAN_E_END; c++) {
		assert_int_equal(classify(c, sizeof c, &code), AL_REPORT_PEER);
		assert_int_equal(code, c);
	}
	assert_int_equal(classify(AL_WORKER_REPORT_ATTACH, 8, &code), AL_REPORT_PEER);
	/* Anything else is held against the writer. */
	assert_int_equal(classify(AL_CHAN_E_BASE, 8, &code), AL_REPORT_MALFORMED);
	assert_int_equal(classify(AL_CHAN_E_END, 8, &code), AL_REPORT_MALFORMED);
	assert_int_equal(classify(0, 8, &code), AL_REPORT_MALFORMED);
	assert_int_equal(classify(UINT64_MAX, 8, &code), AL_REPORT_MALFORMED);
	for (size_t n = 1; n < 8; n++)
		assert_int_equal(classify(AL_CHAN_E_INDEX, n, &code), AL_REPORT_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_exit_signals),
		cmocka_unit_test(test_reports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
