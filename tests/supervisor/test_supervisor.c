#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "al_config.h"
#include "common/util.h"
#include "supervisor/config.h"
#include "testdir.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	if (t_mkdtemp(dir, sizeof dir, "al_conf") < 0)
		return -1;
	if (t_put(dir, "model.bin", "m", 0644) < 0 || t_put(dir, "worker", "#!/bin/sh\n", 0755) < 0 ||
	    t_put(dir, "noexec", "", 0644) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return t_rmtree(dir) == 0 ? 0 : -1;
}

static int load(const char *text, struct al_config **cfg, char **errors)
{
	char path[128];
	snprintf(path, sizeof path, "%s/airlock.conf", dir);
	return al_config_load_buf(text, strlen(text), path, 0, cfg, errors);
}

static void test_defaults(void **state)
{
	(void)state;
	struct al_config *cfg;
	char *errors;
	assert_int_equal(load("", &cfg, &errors), 0);
	assert_int_equal(cfg->level, AL_LEVEL_STANDARD);
	assert_true(cfg->domain[AL_DOMAIN_AI].seccomp_from_level);
	assert_true(cfg->domain[AL_DOMAIN_PROTO].seccomp_from_level);
	assert_int_equal(cfg->domain[AL_DOMAIN_AI].sched, AL_CONFIG_SCHED_LEVEL);
	assert_int_equal(cfg->domain[AL_DOMAIN_PROTO].sched, AL_CONFIG_SCHED_LEVEL);
	assert_string_equal(cfg->state_dir, "/var/lib/airlock");
	assert_string_equal(cfg->audit_log, "/var/lib/airlock/audit.log");
	assert_string_equal(cfg->control_socket, "/var/lib/airlock/control.sock");
	assert_false(cfg->proto.stdio);
	assert_string_equal(cfg->proto.host, "127.0.0.1");
	assert_int_equal(cfg->proto.port, 8377);
	assert_null(cfg->proto.token_file);
	assert_int_equal(cfg->proto.body_limit, 1 << 20);
	assert_int_equal(cfg->proto.n_allowed_origins, 2);
	/* The embedded model is found without any configuration. */
	assert_int_equal(access(cfg->ai.model, R_OK), 0);
	assert_int_equal(access(cfg->ai.tokenizer, R_OK), 0);
	assert_non_null(strstr(cfg->ai.model, "models/stories260K.bin"));
	assert_null(cfg->domain[AL_DOMAIN_AI].command);
	assert_non_null(strstr(cfg->domain[AL_DOMAIN_AI].exe, "airlock-ai"));
	assert_non_null(strstr(cfg->domain[AL_DOMAIN_PROTO].exe, "airlock-proto"));
	assert_true(cfg->required[AL_FEAT_SECCOMP]);
	assert_false(cfg->required[AL_FEAT_RESCTRL]);
	assert_string_equal(cfg->dir, dir);
	al_config_free(cfg);
	/* An empty tokenizer (a GGUF model embeds its own): no file, none passed. */
	assert_int_equal(load("[ai]\ntokenizer =\n", &cfg, &errors), 0);
	assert_null(cfg->ai.tokenizer);
	struct al_config_file files[AL_CONFIG_MAX_FILES];
	size_t nf = al_config_files(cfg, files);
	for (size_t i = 0; i < nf; i++)
		assert_string_not_equal(files[i].name, "ai.tokenizer");
	al_config_free(cfg);
}

static void test_shipped_config_loads(void **state)
{
	(void)state;
	struct al_config *cfg, *def;
	char *errors = NULL;
	int rc = al_config_load(AL_SOURCE_ROOT "/etc/airlock.conf", 0, &cfg, &errors);
	if (rc)
		fail_msg("%s", errors);
	/* Its documented values are the defaults. */
	assert_int_equal(al_config_default(&def), 0);
	char *a = NULL, *b = NULL;
	size_t al = 0, bl = 0;
	FILE *fa = open_memstream(&a, &al), *fb = open_memstream(&b, &bl);
	free(cfg->path);
	cfg->path = NULL;
	al_config_print(cfg, fa);
	al_config_print(def, fb);
	fclose(fa);
	fclose(fb);
	assert_string_equal(a, b);
	free(a);
	free(b);
	al_config_free(cfg);
	al_config_free(def);
}

static void test_values(void **state)
{
	(void)state;
	struct al_config *cfg;
	char *errors = NULL;
	const char *text =
		"# comment\n"
		"[airlock]\n"
		"level = maximum ; inline comment\n"
		"state_dir = state\n"
		"[proto]\n"
		"listen = [::1]:9000\n"
		"allowed_origins = https://a.example, http://b:1\n"
		"allowed_hosts = airlock.example, 10.0.0.5:8377 ,[fd00::5]:1,AI-1.svc.cluster.local\n"
		"token_file = model.bin\n"
		"body_limit = 64k\n"
		"concurrency = 9\n"
		"[ai]\n"
		"model = model.bin\n"
		"tokenizer = ./model.bin\n"
		"threads = 2\n"
		"max_tokens = 99\n"
		"[domain.ai]\n"
		"memory = 512M\n"
		"pids = 7\n"
		"cpu = 150%\n"
		"cpus = 0-2,5\n"
		"seccomp = notify\n"
		"command = worker\n"
		"[domain.proto]\n"
		"cpu = 0.25\n"
		"seccomp = errno\n"
		"[required]\n"
		"landlock = yes\n"
		"seccomp = no\n";
	int rc = load(text, &cfg, &errors);
	if (rc)
		fail_msg("%s", errors);
	char p[160];
	assert_int_equal(cfg->level, AL_LEVEL_MAXIMUM);
	snprintf(p, sizeof p, "%s/state", dir);
	assert_string_equal(cfg->state_dir, p);
	snprintf(p, sizeof p, "%s/state/audit.log", dir);
	assert_string_equal(cfg->audit_log, p);
	assert_string_equal(cfg->proto.host, "::1");
	assert_int_equal(cfg->proto.port, 9000);
	assert_int_equal(cfg->proto.n_allowed_origins, 2);
	assert_string_equal(cfg->proto.allowed_origins[1], "http://b:1");
	assert_int_equal(cfg->proto.n_allowed_hosts, 4);
	assert_string_equal(cfg->proto.allowed_hosts[0], "airlock.example");
	assert_string_equal(cfg->proto.allowed_hosts[1], "10.0.0.5:8377");
	assert_string_equal(cfg->proto.allowed_hosts[2], "[fd00::5]:1");
	assert_string_equal(cfg->proto.allowed_hosts[3], "AI-1.svc.cluster.local");
	assert_int_equal(cfg->proto.body_limit, 65536);
	assert_int_equal(cfg->proto.concurrency, 9);
	snprintf(p, sizeof p, "%s/./model.bin", dir);
	assert_string_equal(cfg->ai.tokenizer, p);
	assert_int_equal(cfg->ai.threads, 2);
	assert_int_equal(cfg->ai.max_tokens, 99);
	const struct al_domain_config *ai = &cfg->domain[AL_DOMAIN_AI];
	assert_int_equal(ai->memory, 512ULL << 20);
	assert_int_equal(ai->pids, 7);
	assert_int_equal(ai->cpu_milli, 1500);
	assert_true(ai->cpus_set);
	assert_int_equal(CPU_COUNT(&ai->cpus), 4);
	assert_true(CPU_ISSET(5, &ai->cpus));
	assert_false(CPU_ISSET(3, &ai->cpus));
	assert_false(ai->seccomp_from_level);
	assert_int_equal(ai->seccomp, AL_SECCOMP_NOTIFY);
	snprintf(p, sizeof p, "%s/worker", dir);
	assert_string_equal(ai->command, p);
	assert_string_equal(ai->exe, p);
	assert_int_equal(cfg->domain[AL_DOMAIN_PROTO].cpu_milli, 250);
	assert_int_equal(cfg->domain[AL_DOMAIN_PROTO].seccomp, AL_SECCOMP_ERRNO);
	assert_false(cfg->domain[AL_DOMAIN_PROTO].cpus_set);
	assert_true(cfg->required[AL_FEAT_LANDLOCK]);
	assert_false(cfg->required[AL_FEAT_SECCOMP]);

	/* The printed configuration loads back to itself. */
	char *a = NULL;
	size_t al = 0;
	FILE *fa = open_memstream(&a, &al);
	al_config_print(cfg, fa);
	fclose(fa);
	struct al_config *again;
	rc = load(a, &again, &errors);
	if (rc)
		fail_msg("%s\n%s", a, errors);
	char *b = NULL;
	size_t bl = 0;
	FILE *fb = open_memstream(&b, &bl);
	al_config_print(again, fb);
	fclose(fb);
	assert_string_equal(a, b);
	free(a);
	free(b);
	al_config_free(again);
	al_config_free(cfg);

	assert_int_equal(load("[proto]\nlisten = stdio\n", &cfg, &errors), 0);
	assert_true(cfg->proto.stdio);
	al_config_free(cfg);
}

/* Each bad config and the exact first error line it must give (FILE is the config path). */
static const struct {
	const char *text;
	const char *error;
} bad[] = {
	{ "[nope]\n", "1: unknown section [nope]" },
	{ "[domain.db]\nmemory = 1G\n", "1: unknown section [domain.db]" },
	{ "level = high\n", "1: level: key outside any section" },
	{ "[airlock]\nlevels = high\n", "2: [airlock] levels: unknown key" },
	{ "[airlock]\nlevel = extreme\n",
	  "2: [airlock] level: 'extreme' is not minimal, standard, high or maximum" },
	{ "[airlock]\nlevel = high\nlevel = high\n",
	  "3: [airlock] level: duplicate key (first set on line 2)" },
	{ "[ai]\nthreads = 1\n[ai]\nthreads = 2\n",
	  "4: [ai] threads: duplicate key (first set on line 2)" },
	{ "[airlock]\nstate_dir =\n", "2: [airlock] state_dir: empty path" },
	{ "[airlock]\ncontrol_socket = /" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	  "2: [airlock] control_socket: socket path longer than 107 bytes" },
	{ "[proto]\nlisten = 127.0.0.1\n",
	  "2: [proto] listen: '127.0.0.1' is not IPV4:PORT, [IPV6]:PORT, stdio or systemd" },
	{ "[proto]\nlisten = localhost:80\n",
	  "2: [proto] listen: 'localhost:80' is not IPV4:PORT, [IPV6]:PORT, stdio or systemd" },
	{ "[proto]\nlisten = 127.0.0.1:65536\n",
	  "2: [proto] listen: '127.0.0.1:65536' is not IPV4:PORT, [IPV6]:PORT, stdio or systemd" },
	{ "[proto]\nlisten = ::1:80\n",
	  "2: [proto] listen: '::1:80' is not IPV4:PORT, [IPV6]:PORT, stdio or systemd" },
	{ "[proto]\nallowed_origins = ftp://x\n",
	  "2: [proto] allowed_origins: 'ftp://x' is not an origin such as http://127.0.0.1:8377" },
	{ "[proto]\nallowed_origins = http://x/path\n",
	  "2: [proto] allowed_origins: 'http://x/path' is not an origin such as http://127.0.0.1:8377" },
	{ "[proto]\nallowed_origins = *\n",
	  "2: [proto] allowed_origins: '*' is not an origin such as http://127.0.0.1:8377" },
	{ "[proto]\nallowed_hosts = *\n",
	  "2: [proto] allowed_hosts: '*' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = *.example\n",
	  "2: [proto] allowed_hosts: '*.example' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = http://a.example\n",
	  "2: [proto] allowed_hosts: 'http://a.example' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = a.example/mcp\n",
	  "2: [proto] allowed_hosts: 'a.example/mcp' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = a_b.example\n",
	  "2: [proto] allowed_hosts: 'a_b.example' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = a..example\n",
	  "2: [proto] allowed_hosts: 'a..example' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = .a.example\n",
	  "2: [proto] allowed_hosts: '.a.example' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = a.example.\n",
	  "2: [proto] allowed_hosts: 'a.example.' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = -a.example\n",
	  "2: [proto] allowed_hosts: '-a.example' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = a-.example\n",
	  "2: [proto] allowed_hosts: 'a-.example' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = a.example:\n",
	  "2: [proto] allowed_hosts: 'a.example:' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = a.example:0\n",
	  "2: [proto] allowed_hosts: 'a.example:0' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = a.example:65536\n",
	  "2: [proto] allowed_hosts: 'a.example:65536' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = a.example:80x\n",
	  "2: [proto] allowed_hosts: 'a.example:80x' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = a.example:+80\n",
	  "2: [proto] allowed_hosts: 'a.example:+80' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = 10.0.0\n",
	  "2: [proto] allowed_hosts: '10.0.0' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = 10.0.0.256\n",
	  "2: [proto] allowed_hosts: '10.0.0.256' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = ::1\n",
	  "2: [proto] allowed_hosts: '::1' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = [::1\n",
	  "2: [proto] allowed_hosts: '[::1' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = []:80\n",
	  "2: [proto] allowed_hosts: '[]:80' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = [fd00::g]\n",
	  "2: [proto] allowed_hosts: '[fd00::g]' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = [::1]80\n",
	  "2: [proto] allowed_hosts: '[::1]80' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = user@a.example\n",
	  "2: [proto] allowed_hosts: 'user@a.example' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example\n",
	  "2: [proto] allowed_hosts: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = ok.example, bad!.example\n",
	  "2: [proto] allowed_hosts: 'bad!.example' is not a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]" },
	{ "[proto]\nallowed_hosts = h0,h1,h2,h3,h4,h5,h6,h7,h8,h9,h10,h11,h12,h13,h14,h15,h16\n",
	  "2: [proto] allowed_hosts: more than 16 host names" },
	{ "[proto]\nbody_limit = 1T\n",
	  "2: [proto] body_limit: '1T' is not a size in 1K..64M (units K, M, G)" },
	{ "[proto]\nbody_limit = -5\n",
	  "2: [proto] body_limit: '-5' is not a size in 1K..64M (units K, M, G)" },
	{ "[proto]\nconcurrency = 0\n",
	  "2: [proto] concurrency: '0' is not an integer in 1..256" },
	{ "[proto]\nconcurrency = 4x\n",
	  "2: [proto] concurrency: '4x' is not an integer in 1..256" },
	{ "[proto]\ntoken_file = missing-token\n",
	  "2: [proto] token_file: DIR/missing-token: No such file or directory" },
	{ "[ai]\nmodel = nope.bin\n", "2: [ai] model: DIR/nope.bin: No such file or directory" },
	{ "[ai]\ntokenizer = .\n", "2: [ai] tokenizer: DIR/.: not a regular file" },
	{ "[ai]\nmax_tokens = 99999999999999999999999\n",
	  "2: [ai] max_tokens: '99999999999999999999999' is not an integer in 1..65536" },
	{ "[domain.ai]\nmemory = 1k\n",
	  "2: [domain.ai] memory: '1k' is not a size in 16384K..1048576M (units K, M, G)" },
	{ "[domain.ai]\ncpu = 0\n",
	  "2: [domain.ai] cpu: '0' is not a CPU share such as 0.5, 150% or max (0 < share <= 1024)" },
	{ "[domain.ai]\ncpu = 0.0001\n",
	  "2: [domain.ai] cpu: '0.0001' is not a CPU share such as 0.5, 150% or max (0 < share <= 1024)" },
	{ "[domain.ai]\ncpu = 5000\n",
	  "2: [domain.ai] cpu: '5000' is not a CPU share such as 0.5, 150% or max (0 < share <= 1024)" },
	{ "[domain.ai]\ncpu = 50 %\n",
	  "2: [domain.ai] cpu: '50 %' is not a CPU share such as 0.5, 150% or max (0 < share <= 1024)" },
	{ "[domain.proto]\ncpus = 3-1\n",
	  "2: [domain.proto] cpus: '3-1' is not a CPU list such as 0-3,6 (CPUs below 1024)" },
	{ "[domain.proto]\ncpus = 0,,1\n",
	  "2: [domain.proto] cpus: '0,,1' is not a CPU list such as 0-3,6 (CPUs below 1024)" },
	{ "[domain.proto]\ncpus = 1024\n",
	  "2: [domain.proto] cpus: '1024' is not a CPU list such as 0-3,6 (CPUs below 1024)" },
	{ "[domain.proto]\nseccomp = trap\n",
	  "2: [domain.proto] seccomp: 'trap' is not kill, errno, notify or level" },
	{ "[domain.proto]\ncommand = noexec\n", "2: [domain.proto] command: DIR/noexec: not executable" },
	{ "[domain.ai]\ncommand = /nonexistent/x\n",
	  "2: [domain.ai] command: /nonexistent/x: No such file or directory" },
	{ "[domain.ai]\nprofile = missing.conf\n",
	  "2: [domain.ai] profile: DIR/missing.conf: No such file or directory" },
	{ "[domain.proto]\nprofile = .\n", "2: [domain.proto] profile: DIR/.: not a regular file" },
	{ "[domain.ai]\nprofile =\n", "2: [domain.ai] profile: empty path" },
	{ "[domain.proto]\nprofile = model.bin\nprofile = model.bin\n",
	  "3: [domain.proto] profile: duplicate key (first set on line 2)" },
	{ "[required]\nlandlock = maybe\n", "2: [required] landlock: 'maybe' is not yes or no" },
	{ "[required]\nsgx = yes\n", "2: [required] sgx: unknown key" },
	{ "[airlock]\njust words\n", "2: expected 'key = value' or '[section]'" },
	{ "[airlock\n", "1: section header without ']'" },
	{ "[airlock] level = high\n", "1: text after section header" },
	{ "[airlock]\n= high\n", "2: empty key" },
	{ "[airlock]\nlevel: high\n", "2: ':' in key (use 'key = value')" },
	{ "[airlock]\nlevel = high\n  standard\n",
	  "3: indented line (continuation lines are not supported)" },
	{ "[airlock]\nlevel = high\0\n", "2: NUL byte in line" },
	{ "[airlock]\nstate_dir = /xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
	  "2: line longer than 198 characters" },
};

static void test_bad_configs(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof path, "%s/airlock.conf", dir);
	for (size_t i = 0; i < AL_ARRAY_LEN(bad); i++) {
		struct al_config *cfg = NULL;
		char *errors = NULL;
		/* The NUL case needs its real length. */
		size_t len = strlen(bad[i].text);
		if (strstr(bad[i].error, "NUL"))
			len += 1 + strlen(bad[i].text + len + 1);
		int rc = al_config_load_buf(bad[i].text, len, path, 0, &cfg, &errors);
		assert_null(cfg);
		if (rc != -EINVAL || !errors)
			fail_msg("case %zu: rc %d", i, rc);
		/* Expected: "PATH:LINE: message" with DIR standing for the config's directory. */
		char want[1400], exp[600];
		al_strlcpy(exp, bad[i].error, sizeof exp);
		char *d = strstr(exp, "DIR");
		if (d)
			snprintf(want, sizeof want, "%s:%.*s%s%s\n", path, (int)(d - exp), exp, dir,
				 d + 3);
		else
			snprintf(want, sizeof want, "%s:%s\n", path, exp);
		char *nl = strchr(errors, '\n');
		assert_non_null(nl);
		if (strncmp(errors, want, strlen(want)) != 0)
			fail_msg("case %zu:\n got: %s want: %s", i, errors, want);
		free(errors);
	}
}

static void test_all_errors_reported(void **state)
{
	(void)state;
	struct al_config *cfg = NULL;
	char *errors = NULL;
	assert_int_equal(load("[x]\n[airlock]\nlevel = 1\nfoo = 2\n[proto]\nconcurrency = 0\n",
			      &cfg, &errors), -EINVAL);
	int lines = 0;
	for (char *p = errors; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 4);
	assert_non_null(strstr(errors, ":1: unknown section [x]"));
	assert_non_null(strstr(errors, ":3: [airlock] level"));
	assert_non_null(strstr(errors, ":4: [airlock] foo: unknown key"));
	assert_non_null(strstr(errors, ":6: [proto] concurrency"));
	free(errors);
}

static const char *manifest_file(const struct al_config *cfg, const char *name)
{
	struct al_config_file files[AL_CONFIG_MAX_FILES];
	size_t n = al_config_files(cfg, files);
	for (size_t i = 0; i < n; i++)
		if (strcmp(files[i].name, name) == 0)
			return files[i].path;
	return NULL;
}

/* [domain.X] profile replaces that domain's built-in sandbox profile. */
static void test_profile(void **state)
{
	(void)state;
	struct al_config *cfg;
	char *errors = NULL;
	/* Default: the built-in profiles, listed for the manifest. */
	assert_int_equal(load("", &cfg, &errors), 0);
	assert_non_null(cfg->domain[AL_DOMAIN_AI].profile);
	assert_non_null(strstr(cfg->domain[AL_DOMAIN_AI].profile, "profiles/compute.conf"));
	assert_non_null(strstr(cfg->domain[AL_DOMAIN_PROTO].profile, "profiles/service.conf"));
	assert_string_equal(manifest_file(cfg, "ai.profile"), cfg->domain[AL_DOMAIN_AI].profile);
	assert_string_equal(manifest_file(cfg, "proto.profile"),
			    cfg->domain[AL_DOMAIN_PROTO].profile);
	al_config_free(cfg);

	/* Set for one domain: a path relative to the config's directory; the other keeps its own. */
	int rc = load("[domain.ai]\nprofile = model.bin\n", &cfg, &errors);
	if (rc)
		fail_msg("%s", errors);
	char p[160];
	snprintf(p, sizeof p, "%s/model.bin", dir);
	assert_string_equal(cfg->domain[AL_DOMAIN_AI].profile, p);
	assert_string_equal(manifest_file(cfg, "ai.profile"), p);
	assert_non_null(strstr(cfg->domain[AL_DOMAIN_PROTO].profile, "profiles/service.conf"));
	assert_string_equal(manifest_file(cfg, "proto.profile"),
			    cfg->domain[AL_DOMAIN_PROTO].profile);
	/* Printed, and the print loads back to the same. */
	char *a = NULL;
	size_t al = 0;
	FILE *fa = open_memstream(&a, &al);
	al_config_print(cfg, fa);
	fclose(fa);
	char line[200];
	snprintf(line, sizeof line, "[domain.ai]\n");
	char *sec = strstr(a, line);
	assert_non_null(sec);
	snprintf(line, sizeof line, "\nprofile = %s\n", p);
	assert_non_null(strstr(sec, line));
	struct al_config *again;
	rc = load(a, &again, &errors);
	if (rc)
		fail_msg("%s\n%s", a, errors);
	assert_string_equal(again->domain[AL_DOMAIN_AI].profile, p);
	al_config_free(again);
	free(a);
	al_config_free(cfg);

	/* An absolute path, for the protocol domain. */
	snprintf(line, sizeof line, "[domain.proto]\nprofile = %s/model.bin\n", dir);
	assert_int_equal(load(line, &cfg, &errors), 0);
	assert_string_equal(cfg->domain[AL_DOMAIN_PROTO].profile, p);
	assert_string_equal(manifest_file(cfg, "proto.profile"), p);
	al_config_free(cfg);
}

/* [proto] allowed_hosts: the forms it takes, each kept as written; none by default. */
static void test_allowed_hosts(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"a", "airlock", "1.2.3.4", "1.2.3.4:65535", "[::1]", "[fd00::1:2]:8377",
		"xn--bcher-kva.example", "a-b.example:1", "123abc.example", "airlock.default.svc",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
	};
	struct al_config *cfg;
	char *errors = NULL;
	assert_int_equal(load("", &cfg, &errors), 0);
	assert_int_equal(cfg->proto.n_allowed_hosts, 0);
	al_config_free(cfg);
	for (size_t i = 0; i < AL_ARRAY_LEN(ok); i++) {
		char text[200];
		snprintf(text, sizeof text, "[proto]\nallowed_hosts = %s\n", ok[i]);
		if (load(text, &cfg, &errors))
			fail_msg("%s: %s", ok[i], errors);
		assert_int_equal(cfg->proto.n_allowed_hosts, 1);
		assert_string_equal(cfg->proto.allowed_hosts[0], ok[i]);
		al_config_free(cfg);
	}
	/* Sixteen, the most the protocol domain takes; an empty value is none. */
	assert_int_equal(load("[proto]\nallowed_hosts = h0,h1,h2,h3,h4,h5,h6,h7,h8,h9,h10,h11,h12,h13,h14,h15\n",
			      &cfg, &errors), 0);
	assert_int_equal(cfg->proto.n_allowed_hosts, AL_CONFIG_MAX_ORIGINS);
	assert_string_equal(cfg->proto.allowed_hosts[15], "h15");
	al_config_free(cfg);
	assert_int_equal(load("[proto]\nallowed_hosts =\n", &cfg, &errors), 0);
	assert_int_equal(cfg->proto.n_allowed_hosts, 0);
	al_config_free(cfg);
}

static void test_cpus_empty(void **state)
{
	(void)state;
	struct al_config *cfg;
	char *errors = NULL;
	assert_int_equal(load("[domain.ai]\ncpus =\n", &cfg, &errors), 0);
	assert_false(cfg->domain[AL_DOMAIN_AI].cpus_set);
	al_config_free(cfg);
}

static void test_missing_file(void **state)
{
	(void)state;
	struct al_config *cfg = NULL;
	char *errors = NULL;
	char path[128];
	snprintf(path, sizeof path, "%s/absent.conf", dir);
	assert_int_equal(al_config_load(path, 0, &cfg, &errors), -ENOENT);
	assert_non_null(strstr(errors, "absent.conf: No such file or directory"));
	free(errors);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_shipped_config_loads),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_profile),
		cmocka_unit_test(test_cpus_empty),
		cmocka_unit_test(test_allowed_hosts),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
