/* W^X on a kernel without MDWE (Debian 12's 6.1): every built-in profile that
 * asks for W^X (mdwe = true) is built as if the kernel had neither MDWE nor
 * vm.memfd_noexec (the spec's test knob, test_kernel_lacks: the child sets
 * neither, the filter and the attestation take them for absent), and the
 * attack probes on executable memory run in it. Each must reach its call and
 * be refused by the filter alone: EACCES (MDWE's errno) in the profile's own
 * mode, and in notify mode a notification naming the call, answered EACCES.
 * mdwe_clear shows the path taken: it finds MDWE off in the domain. Each
 * probe first runs unsandboxed and must escape. A W^X domain with no filter
 * must not start there: nothing would carry W^X.
 *
 * The sandbox library is used directly (no `airlock exec` option can set the
 * knob). AL_ATTACK_BIN is the probe binary; the profiles are the source
 * tree's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>

#include "al_config.h"
#include "run.h"
#include "sandbox/sandbox.h"

static const char *bin;

/* The probes on executable memory, and the call each is refused at. */
static const struct {
	const char *probe, *call;
} probes[] = {
	{ "mprotect_exec", "mprotect" },
	{ "mmap_exec", "mmap" },
	{ "shared_alias_exec", "mmap" },
	{ "memfd_mmap_exec", "memfd_create" },
	{ "memfd_exec", "memfd_create" },
};

struct result {
	int status;        /* 0-255, 128 + signal when killed */
	char out[4096];    /* stdout and stderr */
	char notified[32]; /* the first call notify mode named */
};

/* Everything until EOF (the writers have all exited), cut to len. */
/* Weakenings for test_fail_closed: no filter, and one protection only. */
static void filter(struct al_spec *s) { (void)s; }
static void wx_only(struct al_spec *s)
{
	s->seccomp = false;
	s->memfd_noexec = false;
}
static void memfd_only(struct al_spec *s)
{
	s->seccomp = false;
	s->mdwe = false;
}

static void run(const char *profile, const char *probe, enum al_seccomp_mode mode, unsigned lacks,
		void (*weaken)(struct al_spec *), struct result *res, char *mdwe_item, size_t item_len)
{
	char *argv[] = { "attacks", (char *)probe, NULL };
	struct al_spec s;
	int p[2];
	memset(res, 0, sizeof *res);
	al_spec_init(&s);
	assert_int_equal(al_profile_load(&s, profile), 0);
	s.exec_fd = open(bin, O_RDONLY | O_CLOEXEC);
	assert_true(s.exec_fd >= 0);
	s.argv = argv;
	s.keep_stdio = false;
	s.accept_unenforced = true; /* an ordinary user without a cgroup: only the CPU share is lost */
	s.seccomp_mode = mode;
	s.test_kernel_lacks = lacks;
	weaken(&s);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(al_spec_add_fd(&s, p[1], 1), 0);
	assert_int_equal(al_spec_add_fd(&s, p[1], 2), 0);
	if (s.seccomp)
		assert_int_equal(al_seccomp_prepare(&s), 0);
	struct al_domain *d = NULL;
	int rc = al_domain_spawn(&s, &d);
	if (rc < 0) {
		close(p[1]);
		close(p[0]);
		close(s.exec_fd);
		al_spec_free(&s);
		res->status = -1000 - al_sandbox_last_step();
		return;
	}
	json_t *r = NULL;
	/* while the passed end is still the runner's to compare */
	assert_int_equal(al_domain_attest(d, &s, (void **)&r, NULL), 0);
	close(p[1]);
	for (size_t i = 0; mdwe_item && i < json_array_size(json_object_get(r, "items")); i++) {
		json_t *it = json_array_get(json_object_get(r, "items"), i);
		const char *name = json_string_value(json_object_get(it, "item"));
		if (!strcmp(name, "mdwe") || !strcmp(name, "memfd_noexec"))
			snprintf(mdwe_item + strlen(mdwe_item), item_len - strlen(mdwe_item), "%s%s: %s",
				 *mdwe_item ? "; " : "", name, json_string_value(json_object_get(it, "actual")));
	}
	json_decref(r);
	assert_int_equal(al_domain_start(d), 0);
	for (bool alive = true; alive;) {
		struct pollfd pf[2] = { { .fd = al_domain_pidfd(d), .events = POLLIN },
					{ .fd = al_domain_notify_fd(d), .events = POLLIN } };
		assert_true(poll(pf, pf[1].fd >= 0 ? 2 : 1, 30000) > 0);
		struct al_violation v;
		if (pf[1].fd >= 0 && (pf[1].revents & POLLIN) && al_domain_notify_handle(d, &v) == 0 &&
		    !res->notified[0])
			snprintf(res->notified, sizeof res->notified, "%s", v.name);
		alive = !(pf[0].revents & POLLIN);
	}
	t_read_all(p[0], res->out, sizeof res->out);
	int st;
	assert_int_equal(al_domain_wait(d, &st), 0);
	res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	al_domain_free(d);
	close(s.exec_fd);
	al_spec_free(&s);
}

/* The probe unsandboxed: its verdict line. */
static void baseline(const char *probe, char *line, size_t len)
{
	char *const argv[] = { "attacks", (char *)probe, NULL };
	assert_true(t_run(bin, argv, true, line, len) >= 0);
}

static bool has(const char *text, const char *fmt, ...)
{
	char want[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(want, sizeof want, fmt, ap);
	va_end(ap);
	return strstr(text, want) != NULL;
}

static bool lists(const struct al_spec *s, const char *call)
{
	for (size_t i = 0; i < s->n_allow; i++)
		if (!strcmp(s->allow[i], call))
			return true;
	return false;
}

/* One W^X profile: each probe in the profile's mode and in notify mode. */
static void profile_holds(const char *profile, const struct al_spec *spec)
{
	const unsigned lacks = AL_TEST_NO_MDWE | AL_TEST_NO_MEMFD_NOEXEC;
	struct result r;
	char items[512] = "";
	run(profile, "mdwe_clear", spec->seccomp_mode, lacks, filter, &r, items, sizeof items);
	printf("%s: %s\n", profile, items);
	if (!has(items, "mdwe: on: the filter's W^X rules (PR_SET_MDWE left unset for a test)"))
		fail_msg("%s: the attestation does not name the filter as W^X's carrier", profile);
	/* MDWE off in the domain: cleared (or absent from this kernel), not sticky */
	if (!has(r.out, "verdict=ESCAPED") && !has(r.out, "verdict=UNAVAILABLE"))
		fail_msg("%s/mdwe_clear: MDWE looks set in the domain: %s", profile, r.out);
	printf("%s/mdwe_clear: %s", profile, strstr(r.out, "AL-ATTACK") ? strstr(r.out, "AL-ATTACK") : r.out);
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
		const char *probe = probes[i].probe, *call = probes[i].call;
		/* a call the profile does not list meets the allowlist, not the W^X rules */
		bool listed = lists(spec, call);
		run(profile, probe, spec->seccomp_mode, lacks, filter, &r, NULL, 0);
		if (!has(r.out, "AL-REACHED name=%s call=%s", probe, call))
			fail_msg("%s/%s: never reached %s: %s", profile, probe, call, r.out);
		if (listed && !has(r.out, "name=%s verdict=BLOCKED errno=EACCES", probe))
			fail_msg("%s/%s: %s not refused with EACCES: status %d, %s", profile, probe, call,
				 r.status, r.out);
		if (!listed && r.status != 128 + SIGSYS && !has(r.out, "verdict=BLOCKED errno=EPERM"))
			fail_msg("%s/%s: unlisted %s not refused: status %d, %s", profile, probe, call, r.status,
				 r.out);
		const char *kill_mode = listed ? "EACCES" : r.status == 128 + SIGSYS ? "SIGSYS" : "EPERM";
		run(profile, probe, AL_SECCOMP_NOTIFY, lacks, filter, &r, NULL, 0);
		const char *want = listed ? "EACCES" : "EPERM";
		if (strcmp(r.notified, call) || !has(r.out, "name=%s verdict=BLOCKED errno=%s", probe, want))
			fail_msg("%s/%s: notify mode named '%s', expected %s answered %s: %s", profile, probe,
				 r.notified, call, want, r.out);
		printf("%s/%s: reached %s, refused by the filter's %s: %s; notify mode named %s(), answered %s\n",
		       profile, probe, call, listed ? "W^X rules" : "allowlist", kill_mode, call, want);
	}
}

static int by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_filter_alone(void **state)
{
	char dir[] = AL_SOURCE_ROOT "/etc/profiles";
	DIR *dp = opendir(dir);
	assert_non_null(dp);
	char names[16][64];
	size_t n = 0;
	for (struct dirent *e; (e = readdir(dp)) && n < 16;) {
		size_t l = strlen(e->d_name);
		if (l > 5 && l < 64 && !strcmp(e->d_name + l - 5, ".conf"))
			snprintf(names[n++], sizeof names[0], "%.*s", (int)(l - 5), e->d_name);
	}
	closedir(dp);
	qsort(names, n, sizeof names[0], by_name);
	printf("path: MDWE and vm.memfd_noexec taken for absent (test knob); the filter alone carries W^X\n");
	char line[512];
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
		baseline(probes[i].probe, line, sizeof line);
		if (!has(line, "verdict=ESCAPED"))
			fail_msg("unsandboxed %s does not escape: %s", probes[i].probe, line);
	}
	unsigned wx = 0;
	for (size_t i = 0; i < n; i++) {
		struct al_spec s;
		al_spec_init(&s);
		assert_int_equal(al_profile_load(&s, names[i]), 0);
		if (!s.mdwe) {
			printf("%s: not a W^X profile (mdwe = false): skipped\n", names[i]);
		} else {
			profile_holds(names[i], &s);
			wx++;
		}
		al_spec_free(&s);
	}
	assert_true(wx >= 5); /* compute, egress, gate, service, tool */
}

/* Without a filter nothing carries W^X or the memfd rule there: no start. */
static void test_fail_closed(void **state)
{
	struct result r;
	run("tool", "mmap_exec", AL_SECCOMP_KILL, AL_TEST_NO_MDWE, wx_only, &r, NULL, 0);
	if (r.status != -1000 - AL_SANDBOX_ERR_MDWE)
		fail_msg("W^X without MDWE or filter: status %d, expected no start at the MDWE step", r.status);
	run("tool", "memfd_exec", AL_SECCOMP_KILL, AL_TEST_NO_MEMFD_NOEXEC, memfd_only, &r, NULL, 0);
	if (r.status != -1000 - AL_SANDBOX_ERR_MEMFD)
		fail_msg("no executable memfd without vm.memfd_noexec or filter: status %d, expected no start",
			 r.status);
	printf("no filter, MDWE or vm.memfd_noexec taken for absent: the domain does not start\n");
}

int main(void)
{
	bin = getenv("AL_ATTACK_BIN");
	if (!bin) {
		fprintf(stderr, "AL_ATTACK_BIN is not set (meson sets it)\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_alone),
		cmocka_unit_test(test_fail_closed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
