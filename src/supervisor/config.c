/*
 * Configuration file (see config.h and etc/airlock.conf).
 *
 * Every key is one entry of keys[] below: its section, name, kind, the field
 * it sets (an offset into struct al_config, or into struct al_domain_config
 * for [domain.*]), range, default and help. The parser, the defaults
 * (config_new), the derived defaults, the file checks, al_config_print and
 * the reference all walk that table; there is no per-key code. A kind is
 * parsed, printed and described by one function each (parse_value,
 * al_config_print_value, describe_kind).
 *
 * The reference documentation is generated from the table:
 * `airlock config reference` prints it, docs/config.md is that output
 * committed, and tests/supervisor checks that the committed file matches the
 * generator and that etc/airlock.conf shows every key of the table.
 *
 * inih does the INI syntax; it reads the text through our own line reader so
 * that every handler call knows its line number (this inih is built without
 * INI_HANDLER_LINENO), and so that what inih would silently accept or mangle
 * is refused first: lines too long for its buffer, NUL bytes, indented
 * continuation lines, unknown section headers.
 */
#include "supervisor/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "al_config.h"
#include "common/util.h"
#include "sandbox/sandbox.h" /* al_profile_path */

#define MAX_ERRORS 50

static const char *const domain_names[] = { "ai", "proto" };
static const char *const feature_names[] = {
	"seccomp", "seccomp_notify", "landlock", "userns", "cgroups", "mdwe",
	"speculation_ctrl", "pidfd", "memfd_seal", "core_sched", "resctrl",
};
static const char *const worker_names[] = { "airlock-ai", "airlock-proto" };
static const char *const worker_build_dirs[] = { "src/workers/ai", "src/workers/proto" };
static const char *const profile_names[] = { "compute", "service" };

const char *al_config_profile(enum al_domain_id d)
{
	return d < AL_DOMAIN_COUNT ? profile_names[d] : "?";
}

_Static_assert(AL_ARRAY_LEN(feature_names) == AL_FEAT_COUNT, "feature table");
_Static_assert(AL_ARRAY_LEN(domain_names) == AL_DOMAIN_COUNT, "domain table");

const char *al_domain_name(enum al_domain_id d)
{
	return (unsigned)d < AL_DOMAIN_COUNT ? domain_names[d] : "?";
}

const char *al_feature_name(enum al_feature f)
{
	return (unsigned)f < AL_FEAT_COUNT ? feature_names[f] : "?";
}



/* ---- computed defaults ---- */

static char *first_existing(const char *a, const char *b)
{
	return strdup(access(a, F_OK) == 0 ? a : b);
}

/* Installed data if present, else the source tree's (running from a build directory). */
static char *default_data(const char *file)
{
	char inst[PATH_MAX], src[PATH_MAX];
	snprintf(inst, sizeof inst, "%s/models/%s", AL_DATADIR, file);
	snprintf(src, sizeof src, "%s/models/%s", AL_SOURCE_ROOT, file);
	return first_existing(inst, src);
}

static char *default_worker(enum al_domain_id d)
{
	char inst[PATH_MAX], build[PATH_MAX];
	snprintf(inst, sizeof inst, "%s/%s", AL_LIBEXECDIR, worker_names[d]);
	snprintf(build, sizeof build, "%s/%s/%s", AL_BUILD_ROOT, worker_build_dirs[d],
		 worker_names[d]);
	return first_existing(inst, build);
}

static char *join(const char *dir, const char *file)
{
	size_t n = strlen(dir) + strlen(file) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s/%s", dir, file);
	return s;
}

static int in_state_dir(const struct al_config *cfg, const char *file, char **out)
{
	return (*out = join(cfg->state_dir, file)) ? 0 : -ENOMEM;
}

static int derive_audit_log(const struct al_config *cfg, int d, char **out)
{
	(void)d;
	return in_state_dir(cfg, "audit.log", out);
}

static int derive_control_socket(const struct al_config *cfg, int d, char **out)
{
	(void)d;
	return in_state_dir(cfg, "control.sock", out);
}

static int derive_dump_dir(const struct al_config *cfg, int d, char **out)
{
	(void)d;
	return in_state_dir(cfg, "dumps", out);
}

static int derive_model(const struct al_config *cfg, int d, char **out)
{
	(void)cfg, (void)d;
	return (*out = default_data("stories260K.bin")) ? 0 : -ENOMEM;
}

static int derive_tokenizer(const struct al_config *cfg, int d, char **out)
{
	(void)cfg, (void)d;
	return (*out = default_data("tok512.bin")) ? 0 : -ENOMEM;
}

/* The built-in profile (etc/profiles/NAME.conf); none if it cannot be found. */
static int derive_profile(const struct al_config *cfg, int d, char **out)
{
	char prof[PATH_MAX];
	(void)cfg;
	*out = NULL;
	if (d < 0 || al_profile_path(profile_names[d], prof, sizeof prof) < 0)
		return 0;
	return (*out = strdup(prof)) ? 0 : -ENOMEM;
}

/* ---- the key table ---- */

static const struct al_config_enum level_enum[] = {
	{ "minimal", AL_LEVEL_MINIMAL }, { "standard", AL_LEVEL_STANDARD },
	{ "high", AL_LEVEL_HIGH },       { "maximum", AL_LEVEL_MAXIMUM },
	{ NULL, 0 },
};
static const struct al_config_enum seccomp_enum[] = {
	{ "kill", AL_SECCOMP_KILL },     { "errno", AL_SECCOMP_ERRNO },
	{ "notify", AL_SECCOMP_NOTIFY }, { "level", (int)AL_CONFIG_SECCOMP_LEVEL },
	{ NULL, 0 },
};
static const struct al_config_enum sched_enum[] = {
	{ "default", AL_SCHED_DEFAULT }, { "batch", AL_SCHED_BATCH },   { "idle", AL_SCHED_IDLE },
	{ "latency", AL_SCHED_LATENCY }, { "level", (int)AL_CONFIG_SCHED_LEVEL },
	{ NULL, 0 },
};
_Static_assert(sizeof(enum al_sched_class) == sizeof(int), "enum fields are int-sized");
_Static_assert(sizeof(enum al_level) == sizeof(int), "enum fields are int-sized");
_Static_assert(sizeof(enum al_seccomp_mode) == sizeof(int), "enum fields are int-sized");

#define CFG(field) offsetof(struct al_config, field)
#define DOM(field) offsetof(struct al_domain_config, field)

#define DOMAIN_KEYS(SECTION, MEMORY, PIDS, PROFILE)                                                 \
	{ .section = SECTION, .key = "memory", .kind = AL_CONFIG_SIZE, .offset = DOM(memory),       \
	  .min = 16 << 20, .max = 1ULL << 40, .def = MEMORY,                                        \
	  .help = "cgroup memory limit." },                                                         \
	{ .section = SECTION, .key = "pids", .kind = AL_CONFIG_U64, .offset = DOM(pids),            \
	  .min = 1, .max = 1 << 20, .def = PIDS, .help = "cgroup task limit." },                    \
	{ .section = SECTION, .key = "cpu", .kind = AL_CONFIG_CPU, .offset = DOM(cpu_milli),       \
	  .def = "max",                                                                             \
	  .help = "CPU bandwidth: a share of CPUs such as 0.5 or 2, a percentage of one CPU "      \
		  "such as 50%, or max for no limit." },                                            \
	{ .section = SECTION, .key = "cpus", .kind = AL_CONFIG_CPUS, .offset = DOM(cpus),          \
	  .def = "", .help = "CPUs the domain may run on, such as 0-1 or 1,3. Empty: not pinned." }, \
	{ .section = SECTION, .key = "seccomp", .kind = AL_CONFIG_ENUM, .offset = DOM(seccomp),    \
	  .names = seccomp_enum, .def = "level",                                                    \
	  .help = "What a forbidden system call does: kill, errno, notify (reported to the "       \
		  "supervisor), or level: chosen by the security level (minimal: errno, "          \
		  "standard: notify, high and maximum: kill)." },                                   \
	{ .section = SECTION, .key = "sched", .kind = AL_CONFIG_ENUM, .offset = DOM(sched),        \
	  .names = sched_enum, .def = "level",                                                      \
	  .help = "Scheduling class, set by the supervisor from outside: default, batch "          \
		  "(SCHED_BATCH, nice 10), idle (SCHED_IDLE, an idle " \
		  "cgroup: runs only when nothing else wants the CPU), latency (nice -5, four "     \
		  "times the weight), or level: chosen by the security level (minimal: default; "  \
		  "standard and up: latency for proto, batch for ai)." },                           \
	{ .section = SECTION, .key = "command", .kind = AL_CONFIG_PATH, .offset = DOM(command),    \
	  .flags = AL_CONFIG_EMPTY_NONE | AL_CONFIG_EXEC, .def = "",                                \
	  .help = "Another program to run in this domain's place (it links libairlock). "         \
		  "Empty: the built-in worker." },                                                  \
	{ .section = SECTION, .key = "profile", .kind = AL_CONFIG_PATH, .offset = DOM(profile),    \
	  .flags = AL_CONFIG_REGULAR, .def = "the built-in " PROFILE, .derive = derive_profile,     \
	  .help = "The sandbox profile of this domain (system call allowlist, limits), in place "  \
		  "of the built-in one. Like the programs and the model, it is hashed into the "   \
		  "manifest and re-verified while running." }

#define REQUIRED(NAME, FEATURE, DEFAULT, WHAT)                                                     \
	{ .section = "required", .key = NAME, .kind = AL_CONFIG_BOOL,                              \
	  .offset = CFG(required[FEATURE]), .def = DEFAULT,                                         \
	  .help = "Refuse to start without " WHAT "." }

static const struct al_config_key keys[] = {
	{ .section = "airlock", .key = "level", .kind = AL_CONFIG_ENUM, .offset = CFG(level),
	  .names = level_enum, .def = "standard",
	  .help = "Security level at start. Each level is a set of mechanisms (seccomp action, "
		  "speculation controls, partitioning, integrity interval, audit verbosity); the "
		  "threat level can raise it later." },
	{ .section = "airlock", .key = "state_dir", .kind = AL_CONFIG_PATH, .offset = CFG(state_dir),
	  .def = "/var/lib/airlock",
	  .help = "Where airlock keeps its state: manifest and its key, audit log, control socket." },
	{ .section = "airlock", .key = "audit_log", .kind = AL_CONFIG_PATH, .offset = CFG(audit_log),
	  .def = "STATE_DIR/audit.log", .derive = derive_audit_log,
	  .help = "Tamper-evident audit log. Its initial key is written beside it as "
		  "audit.log.key: move that file off the machine." },
	{ .section = "airlock", .key = "control_socket", .kind = AL_CONFIG_SOCKET,
	  .offset = CFG(control_socket), .max = 107 /* sockaddr_un.sun_path holds 108 bytes */,
	  .def = "STATE_DIR/control.sock", .derive = derive_control_socket,
	  .help = "Unix socket for `airlock status` and `airlock stop`, mode 0600." },

	{ .section = "proto", .key = "listen", .kind = AL_CONFIG_LISTEN, .offset = CFG(proto.stdio),
	  .def = "127.0.0.1:8377",
	  .help = "Where MCP clients connect: IPV4:PORT, [IPV6]:PORT (IP literals only: the "
		  "supervisor resolves no names), stdio for clients that start airlock as a "
		  "command, or systemd to serve the listening TCP socket systemd passes "
		  "(airlock.socket: LISTEN_FDS, fd 3), exactly as one airlock binds itself." },
	{ .section = "proto", .key = "allowed_origins", .kind = AL_CONFIG_ORIGINS,
	  .offset = CFG(proto.allowed_origins), .def = "http://127.0.0.1:8377, http://localhost:8377",
	  .help = "Origin header values accepted from browsers, comma separated "
		  "(scheme://host[:port]). Requests without an Origin header (non-browser "
		  "clients) are not affected. Empty: no browser origin is accepted." },
	{ .section = "proto", .key = "token_file", .kind = AL_CONFIG_PATH,
	  .offset = CFG(proto.token_file), .flags = AL_CONFIG_EMPTY_NONE | AL_CONFIG_REGULAR,
	  .def = "",
	  .help = "File holding the bearer token clients must present. Empty: no token (only "
		  "sensible on a loopback address). The supervisor opens it and hands the "
		  "protocol domain the open file, so it can stay private to root (mode 0600)." },
	{ .section = "proto", .key = "body_limit", .kind = AL_CONFIG_SIZE,
	  .offset = CFG(proto.body_limit), .min = 1 << 10, .max = 64 << 20, .def = "1M",
	  .help = "Largest request body accepted." },
	{ .section = "proto", .key = "concurrency", .kind = AL_CONFIG_U32,
	  .offset = CFG(proto.concurrency), .min = 1, .max = 256, .def = "4",
	  .help = "Requests served at once." },
	{ .section = "proto", .key = "max_connections", .kind = AL_CONFIG_U32,
	  .offset = CFG(proto.max_connections), .min = 8, .max = 65536, .def = "4096",
	  .help = "Open client connections at most (an idle connection costs memory, not a thread); "
		  "one over the limit is answered 503 with Retry-After. The protocol domain's open-files "
		  "limit (its profile's nofile) bounds it too." },

	{ .section = "ai", .key = "model", .kind = AL_CONFIG_PATH, .offset = CFG(ai.model),
	  .flags = AL_CONFIG_REGULAR, .derive = derive_model,
	  .def = "the embedded model, DATADIR/models/stories260K.bin (else the source tree's)",
	  .help = "The model: a llama2.c checkpoint, or a GGUF file of the llama architecture in "
		  "F32, F16, Q8_0 or Q4_0." },
	{ .section = "ai", .key = "tokenizer", .kind = AL_CONFIG_PATH, .offset = CFG(ai.tokenizer),
	  .flags = AL_CONFIG_EMPTY_NONE | AL_CONFIG_REGULAR, .derive = derive_tokenizer,
	  .def = "the embedded model's, DATADIR/models/tok512.bin (else the source tree's)",
	  .help = "The model's tokenizer. A GGUF model carries its own vocabulary: empty passes "
		  "no tokenizer file (one that is set is not read for GGUF)." },
	{ .section = "ai", .key = "threads", .kind = AL_CONFIG_U32, .offset = CFG(ai.threads),
	  .min = 1, .max = 256, .def = "1", .help = "Inference threads." },
	{ .section = "ai", .key = "max_tokens", .kind = AL_CONFIG_U32, .offset = CFG(ai.max_tokens),
	  .min = 1, .max = 65536, .def = "256",
	  .help = "Upper bound on tokens generated per request." },

	DOMAIN_KEYS("domain.ai", "1G", "16", "etc/profiles/compute.conf"),
	DOMAIN_KEYS("domain.proto", "256M", "32", "etc/profiles/service.conf"),

	/* Fail closed on what every supported kernel has; opt in to the rest. */
	REQUIRED("seccomp", AL_FEAT_SECCOMP, "yes", "seccomp filters"),
	REQUIRED("seccomp_notify", AL_FEAT_SECCOMP_NOTIFY, "no", "seccomp user notification"),
	REQUIRED("landlock", AL_FEAT_LANDLOCK, "no", "Landlock"),
	REQUIRED("userns", AL_FEAT_USERNS, "yes", "unprivileged user namespaces"),
	REQUIRED("cgroups", AL_FEAT_CGROUPS, "yes", "cgroups (v2, or v1 memory/cpu/pids)"),
	REQUIRED("mdwe", AL_FEAT_MDWE, "no", "PR_SET_MDWE"),
	REQUIRED("speculation_ctrl", AL_FEAT_SPECULATION_CTRL, "no", "PR_SET_SPECULATION_CTRL"),
	REQUIRED("pidfd", AL_FEAT_PIDFD, "yes", "pidfd"),
	REQUIRED("memfd_seal", AL_FEAT_MEMFD_SEAL, "yes", "sealed memfd"),
	REQUIRED("core_sched", AL_FEAT_CORE_SCHED, "no", "core scheduling"),
	REQUIRED("resctrl", AL_FEAT_RESCTRL, "no", "resctrl"),

	{ .section = "respond", .key = "alert_command", .kind = AL_CONFIG_PATH,
	  .offset = CFG(respond.alert_command), .flags = AL_CONFIG_EMPTY_NONE | AL_CONFIG_EXEC,
	  .def = "",
	  .help = "Program run for every incident, given the incident as one JSON document on "
		  "stdin (empty: none). It runs unsandboxed as the supervisor's user, with a 10 s "
		  "limit: keep it a small trusted script." },
	{ .section = "respond", .key = "dump_dir", .kind = AL_CONFIG_PATH,
	  .offset = CFG(respond.dump_dir), .def = "STATE_DIR/dumps", .derive = derive_dump_dir,
	  .help = "Where memory-corruption incidents leave their forensic dump (the domain's "
		  "maps, status and last metrics)." },
	{ .section = "respond", .key = "quiet_period", .kind = AL_CONFIG_U32,
	  .offset = CFG(respond.quiet_period_s), .min = 1, .max = 86400, .def = "300",
	  .help = "Seconds without an incident before a raised security level steps down one "
		  "level (then the same again for each further step)." },
	{ .section = "respond", .key = "integrity_interval", .kind = AL_CONFIG_U32,
	  .offset = CFG(respond.integrity_interval_s), .min = 0, .max = 86400, .def = "0",
	  .help = "Seconds between two full re-verifications of the files and of the running "
		  "domains; 0: the security level's own interval (minimal 60, standard 30, high "
		  "10, maximum 5)." },
	{ .section = "respond", .key = "integrity_budget", .kind = AL_CONFIG_U32,
	  .offset = CFG(respond.integrity_budget_pct), .min = 1, .max = 100, .def = "1",
	  .help = "CPU the periodic checks may use, in percent of one core. Hashing is spread "
		  "over ticks to stay within it." },
};
#define NKEYS AL_ARRAY_LEN(keys)

const struct al_config_key *al_config_keys(size_t *n)
{
	*n = NKEYS;
	return keys;
}

/* The domain of a [domain.NAME] section, -1 for the others. */
static int section_domain(const char *section)
{
	if (strncmp(section, "domain.", 7) != 0)
		return -1;
	for (int d = 0; d < AL_DOMAIN_COUNT; d++)
		if (strcmp(section + 7, domain_names[d]) == 0)
			return d;
	return -1;
}

static void *field_of(struct al_config *cfg, const struct al_config_key *k)
{
	int d = section_domain(k->section);
	char *base = d >= 0 ? (char *)&cfg->domain[d] : (char *)cfg;
	return base + k->offset;
}

const void *al_config_field(const struct al_config *cfg, const struct al_config_key *k)
{
	return field_of((struct al_config *)cfg, k);
}

/* The struct a field belongs to, for the kinds that set companion fields. */
#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ---- parse context ---- */

struct ctx {
	const char *name; /* as given, for messages */
	const char *buf;
	size_t len, pos;
	unsigned line;
	const char *sec; /* the current section's name; NULL before any or after an unknown one */
	struct al_config *cfg;
	unsigned seen[NKEYS]; /* line where each key was set, for duplicates; 0: not set */
	char *errs;
	size_t errlen;
	unsigned nerr;
};

static void add_error(struct ctx *c, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add_error(struct ctx *c, unsigned line, const char *fmt, ...)
{
	char msg[512], full[700];
	va_list ap;
	if (c->nerr++ >= MAX_ERRORS) {
		if (c->nerr == MAX_ERRORS + 1)
			add_error(c, line, "too many errors, giving up");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	int n = line ? snprintf(full, sizeof full, "%s:%u: %s\n", c->name, line, msg)
		     : snprintf(full, sizeof full, "%s: %s\n", c->name, msg);
	if (n < 0)
		return;
	size_t add = strlen(full);
	char *e = realloc(c->errs, c->errlen + add + 1);
	if (!e)
		return;
	memcpy(e + c->errlen, full, add + 1);
	c->errs = e;
	c->errlen += add;
}

/* ---- value parsers: 0 or -1 with why filled ---- */

static char *resolve_path(const struct ctx *c, const char *v)
{
	if (v[0] == '/')
		return strdup(v);
	const char *dir = c->cfg->dir ? c->cfg->dir : "";
	size_t n;
	if (!al_add_size(strlen(dir), strlen(v), &n) || !al_add_size(n, 2, &n))
		return NULL;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s/%s", dir, v);
	return s;
}

static int set_path(struct ctx *c, char **field, const char *v, char *why, size_t wl)
{
	if (!*v) {
		snprintf(why, wl, "empty path");
		return -1;
	}
	if (strlen(v) >= PATH_MAX - 1 - (c->cfg->dir ? strlen(c->cfg->dir) : 0)) {
		snprintf(why, wl, "path too long");
		return -1;
	}
	char *p = resolve_path(c, v);
	if (!p) {
		snprintf(why, wl, "out of memory");
		return -1;
	}
	free(*field);
	*field = p;
	return 0;
}

static int parse_uint(const char *v, uint64_t min, uint64_t max, uint64_t *out, char *why,
		      size_t wl)
{
	uint64_t x;
	if (al_parse_u64(v, &x) < 0 || x < min || x > max) {
		snprintf(why, wl, "'%s' is not an integer in %llu..%llu", v,
			 (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = x;
	return 0;
}

static int parse_size(const char *v, uint64_t min, uint64_t max, uint64_t *out, char *why,
		      size_t wl)
{
	uint64_t x;
	if (al_parse_size(v, &x) < 0 || x < min || x > max) {
		snprintf(why, wl, "'%s' is not a size in %lluK..%lluM (units K, M, G)", v,
			 (unsigned long long)(min >> 10), (unsigned long long)(max >> 20));
		return -1;
	}
	*out = x;
	return 0;
}

static int parse_bool(const char *v, bool *out, char *why, size_t wl)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < AL_ARRAY_LEN(yes); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	snprintf(why, wl, "'%s' is not yes or no", v);
	return -1;
}

/* "127.0.0.1:8377", "[::1]:8377", "stdio" or "systemd". */
static int parse_listen(struct al_config *cfg, const char *v, char *why, size_t wl)
{
	if (strcmp(v, "stdio") == 0 || strcmp(v, "systemd") == 0) {
		cfg->proto.stdio = v[1] == 't';
		cfg->proto.systemd = !cfg->proto.stdio;
		cfg->proto.host[0] = '\0';
		cfg->proto.port = 0;
		return 0;
	}
	char host[64];
	const char *colon = strrchr(v, ':');
	const char *h = v;
	size_t hl = colon ? (size_t)(colon - v) : 0;
	bool v6 = hl >= 2 && v[0] == '[' && v[hl - 1] == ']';
	if (v6) {
		h++;
		hl -= 2;
	}
	uint64_t port;
	unsigned char addr[16];
	if (!colon || hl == 0 || hl >= sizeof host || al_parse_u64(colon + 1, &port) < 0 ||
	    port == 0 || port > 65535)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1)
		goto bad;
	cfg->proto.stdio = cfg->proto.systemd = false;
	memcpy(cfg->proto.host, host, hl + 1);
	cfg->proto.port = (uint16_t)port;
	return 0;
bad:
	snprintf(why, wl, "'%s' is not IPV4:PORT, [IPV6]:PORT, stdio or systemd", v);
	return -1;
}

static void free_origins(struct al_config *cfg)
{
	for (size_t i = 0; i < cfg->proto.n_allowed_origins; i++)
		free(cfg->proto.allowed_origins[i]);
	cfg->proto.n_allowed_origins = 0;
}

/* Comma-separated http(s) origins: scheme://host[:port], no path. */
static int parse_origins(struct al_config *cfg, const char *v, char *why, size_t wl)
{
	free_origins(cfg);
	const char *p = v;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *e = p;
		while (*e && *e != ',' && *e != ' ')
			e++;
		size_t n = (size_t)(e - p);
		bool http = n > 7 && strncmp(p, "http://", 7) == 0;
		bool https = n > 8 && strncmp(p, "https://", 8) == 0;
		const char *rest = p + (http ? 7 : 8);
		bool ok = (http || https) && n <= 256 && !memchr(rest, '/', (size_t)(e - rest));
		for (const char *q = p; ok && q < e; q++)
			if (!isgraph((unsigned char)*q))
				ok = false;
		if (!ok) {
			snprintf(why, wl, "'%.*s' is not an origin such as http://127.0.0.1:8377",
				 (int)(n > 100 ? 100 : n), p);
			return -1;
		}
		if (cfg->proto.n_allowed_origins >= AL_CONFIG_MAX_ORIGINS) {
			snprintf(why, wl, "more than %d origins", AL_CONFIG_MAX_ORIGINS);
			return -1;
		}
		char *o = strndup(p, n);
		if (!o) {
			snprintf(why, wl, "out of memory");
			return -1;
		}
		cfg->proto.allowed_origins[cfg->proto.n_allowed_origins++] = o;
		p = e;
	}
	return 0;
}

/* "0.5" (CPUs, up to 3 decimals), "50%" (percent of one CPU), or "max". */
static int parse_cpu(const char *v, uint32_t *out, char *why, size_t wl)
{
	if (strcmp(v, "max") == 0) {
		*out = 0;
		return 0;
	}
	size_t n = strlen(v);
	bool pct = n > 0 && v[n - 1] == '%';
	uint64_t whole = 0, frac = 0, scale = 1;
	const char *p = v;
	if (!isdigit((unsigned char)*p))
		goto bad;
	for (; isdigit((unsigned char)*p); p++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > 1024 * 100)
			goto bad;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		for (; isdigit((unsigned char)*p); p++) {
			if (scale >= 1000)
				goto bad;
			frac = frac * 10 + (uint64_t)(*p - '0');
			scale *= 10;
		}
	}
	if (pct ? strcmp(p, "%") != 0 : *p != '\0')
		goto bad;
	/* milli-CPUs: fraction * 1000, or percent * 10 */
	uint64_t milli = pct ? whole * 10 + frac * 10 / scale : whole * 1000 + frac * 1000 / scale;
	if (milli == 0 || milli > 1024 * 1000 || (pct && frac * 10 % scale))
		goto bad;
	*out = (uint32_t)milli;
	return 0;
bad:
	snprintf(why, wl, "'%s' is not a CPU share such as 0.5, 150%% or max (0 < share <= 1024)", v);
	return -1;
}

/* "0-3,6": CPU numbers below CPU_SETSIZE, ranges ascending. */
static int parse_cpus(const char *v, cpu_set_t *set, char *why, size_t wl)
{
	CPU_ZERO(set);
	const char *p = v;
	unsigned count = 0;
	for (;;) {
		uint64_t a = 0, b;
		if (!isdigit((unsigned char)*p))
			goto bad;
		for (; isdigit((unsigned char)*p); p++)
			if ((a = a * 10 + (uint64_t)(*p - '0')) >= CPU_SETSIZE)
				goto bad;
		b = a;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			for (b = 0; isdigit((unsigned char)*p); p++)
				if ((b = b * 10 + (uint64_t)(*p - '0')) >= CPU_SETSIZE)
					goto bad;
			if (b < a)
				goto bad;
		}
		for (uint64_t i = a; i <= b; i++, count++)
			CPU_SET((size_t)i, set);
		if (*p == '\0')
			break;
		if (*p != ',')
			goto bad;
		p++;
	}
	return count ? 0 : -1;
bad:
	snprintf(why, wl, "'%s' is not a CPU list such as 0-3,6 (CPUs below %d)", v, CPU_SETSIZE);
	return -1;
}

static int parse_enum(const struct al_config_enum *names, const char *v, int *out, char *why,
		      size_t wl)
{
	for (const struct al_config_enum *e = names; e->name; e++)
		if (strcmp(v, e->name) == 0) {
			*out = e->value;
			return 0;
		}
	/* "'x' is not a, b or c" */
	int n = snprintf(why, wl, "'%s' is not ", v);
	for (const struct al_config_enum *e = names; e->name && n >= 0 && (size_t)n < wl; e++)
		n += snprintf(why + n, wl - (size_t)n, "%s%s", e == names ? "" : e[1].name ? ", " : " or ",
			      e->name);
	return -1;
}

static int parse_path(struct ctx *c, const struct al_config_key *k, char **field, const char *v,
		      char *why, size_t wl)
{
	if (!*v && (k->flags & AL_CONFIG_EMPTY_NONE)) {
		free(*field);
		*field = NULL;
		return 0;
	}
	if (set_path(c, field, v, why, wl) < 0)
		return -1;
	if (k->kind == AL_CONFIG_SOCKET && strlen(*field) > k->max) {
		snprintf(why, wl, "socket path longer than %llu bytes", (unsigned long long)k->max);
		return -1;
	}
	return 0;
}

/* Sets the field of key k from the text v: 0, or -1 with why filled. */
static int parse_value(struct ctx *c, const struct al_config_key *k, const char *v, char *why,
		       size_t wl)
{
	void *field = field_of(c->cfg, k);
	uint64_t x;
	switch (k->kind) {
	case AL_CONFIG_BOOL:
		return parse_bool(v, field, why, wl);
	case AL_CONFIG_U32:
		if (parse_uint(v, k->min, k->max, &x, why, wl) < 0)
			return -1;
		*(uint32_t *)field = (uint32_t)x;
		return 0;
	case AL_CONFIG_U64:
		return parse_uint(v, k->min, k->max, field, why, wl);
	case AL_CONFIG_SIZE:
		return parse_size(v, k->min, k->max, field, why, wl);
	case AL_CONFIG_ENUM:
		return parse_enum(k->names, v, field, why, wl);
	case AL_CONFIG_PATH:
	case AL_CONFIG_SOCKET:
		return parse_path(c, k, field, v, why, wl);
	case AL_CONFIG_CPU:
		return parse_cpu(v, field, why, wl);
	case AL_CONFIG_CPUS: {
		struct al_domain_config *dc = CONTAINER(field, struct al_domain_config, cpus);
		if (!*v) { /* empty: not pinned */
			CPU_ZERO(&dc->cpus);
			dc->cpus_set = false;
			return 0;
		}
		if (parse_cpus(v, &dc->cpus, why, wl) < 0)
			return -1;
		dc->cpus_set = true;
		return 0;
	}
	case AL_CONFIG_LISTEN:
		return parse_listen(CONTAINER(field, struct al_config, proto.stdio), v, why, wl);
	case AL_CONFIG_ORIGINS:
		return parse_origins(CONTAINER(field, struct al_config, proto.allowed_origins), v, why,
				     wl);
	}
	snprintf(why, wl, "internal: unknown kind");
	return -1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct ctx *c = user;
	/* The reader tracked and checked the section already. */
	if (!c->sec) {
		if (!section[0])
			add_error(c, c->line, "%s: key outside any section", name);
		return 1; /* an unknown section was reported at its header */
	}
	size_t i = 0;
	while (i < NKEYS && (strcmp(keys[i].section, c->sec) != 0 || strcmp(keys[i].key, name) != 0))
		i++;
	if (i == NKEYS) {
		add_error(c, c->line, "[%s] %s: unknown key", c->sec, name);
		return 1;
	}
	if (c->seen[i]) {
		add_error(c, c->line, "[%s] %s: duplicate key (first set on line %u)", c->sec, name,
			  c->seen[i]);
		return 1;
	}
	c->seen[i] = c->line;
	char why[300];
	if (parse_value(c, &keys[i], value, why, sizeof why) < 0)
		add_error(c, c->line, "[%s] %s: %s", c->sec, name, why);
	return 1;
}

/*
 * Hands inih one line at a time, counting lines and refusing what inih would
 * misread. A refused line is passed on as an empty line.
 */
static char *reader(char *str, int num, void *stream)
{
	struct ctx *c = stream;
	if (c->pos >= c->len || num < 2)
		return NULL;
	const char *line = c->buf + c->pos;
	const char *nl = memchr(line, '\n', c->len - c->pos);
	size_t len = nl ? (size_t)(nl - line) : c->len - c->pos;
	c->pos += len + (nl ? 1 : 0);
	c->line++;
	if (len && line[len - 1] == '\r')
		len--;
	size_t s = 0;
	if (c->line == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
		s = 3; /* UTF-8 BOM */
	while (s < len && (line[s] == ' ' || line[s] == '\t'))
		s++;
	const char *t = line + s;
	size_t tl = len - s;
	bool blank = tl == 0 || t[0] == '#' || t[0] == ';';

	if (memchr(line, '\0', len)) {
		add_error(c, c->line, "NUL byte in line");
		goto skip;
	}
	if (len + 2 > (size_t)num) {
		add_error(c, c->line, "line longer than %d characters", num - 2);
		goto skip;
	}
	if (blank)
		goto pass;
	if (s > 0) {
		add_error(c, c->line, "indented line (continuation lines are not supported)");
		goto skip;
	}
	if (t[0] == '[') {
		const char *close = memchr(t, ']', tl);
		if (!close) {
			add_error(c, c->line, "section header without ']'");
			goto skip;
		}
		/* Only a comment may follow the header. */
		for (const char *q = close + 1; q < t + tl; q++) {
			if (*q == ';' || *q == '#')
				break;
			if (*q != ' ' && *q != '\t') {
				add_error(c, c->line, "text after section header");
				goto skip;
			}
		}
		size_t nl2 = (size_t)(close - t - 1);
		c->sec = NULL;
		for (size_t i = 0; i < NKEYS && !c->sec; i++)
			if (strlen(keys[i].section) == nl2 && memcmp(t + 1, keys[i].section, nl2) == 0)
				c->sec = keys[i].section;
		if (!c->sec)
			add_error(c, c->line, "unknown section [%.*s]", (int)(nl2 > 64 ? 64 : nl2),
				  t + 1);
		goto pass;
	}
	size_t sep = 0; /* inih splits at the first '=' or ':' */
	while (sep < tl && t[sep] != '=' && t[sep] != ':')
		sep++;
	if (sep >= tl) {
		add_error(c, c->line, "expected 'key = value' or '[section]'");
		goto skip;
	}
	if (t[sep] == ':') {
		add_error(c, c->line, "':' in key (use 'key = value')");
		goto skip;
	}
	if (sep == 0) {
		add_error(c, c->line, "empty key");
		goto skip;
	}
pass:
	memcpy(str, line, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
skip:
	str[0] = '\n';
	str[1] = '\0';
	return str;
}

/* ---- defaults ---- */

/* The built-in configuration: every key's default that is not computed. */
static struct al_config *config_new(void)
{
	struct al_config *cfg = calloc(1, sizeof *cfg);
	if (!cfg)
		return NULL;
	struct ctx c = { .name = "built-in defaults", .cfg = cfg };
	char why[300];
	for (size_t i = 0; i < NKEYS; i++)
		if (!keys[i].derive && parse_value(&c, &keys[i], keys[i].def, why, sizeof why) < 0) {
			al_config_free(cfg);
			return NULL;
		}
	return cfg;
}

/* The computed defaults of the keys the file did not set (seen NULL: none set). */
static int derive_defaults(struct al_config *cfg, const unsigned *seen)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct al_config_key *k = &keys[i];
		if (!k->derive || (seen && seen[i]))
			continue;
		char **field = field_of(cfg, k), *v;
		int rc = k->derive(cfg, section_domain(k->section), &v);
		if (rc < 0)
			return rc;
		free(*field);
		*field = v;
	}
	return 0;
}

/* Values derived from others once the whole file is read. */
static int config_finish(struct al_config *cfg)
{
	for (int d = 0; d < AL_DOMAIN_COUNT; d++) {
		free(cfg->domain[d].exe);
		cfg->domain[d].exe = cfg->domain[d].command ? strdup(cfg->domain[d].command)
							    : default_worker((enum al_domain_id)d);
		if (!cfg->domain[d].exe)
			return -ENOMEM;
		cfg->domain[d].seccomp_from_level = cfg->domain[d].seccomp == AL_CONFIG_SECCOMP_LEVEL;
	}
	return 0;
}

/* Files the keys name must exist (defaults too: a missing model fails at load, not at start). */
static void check_files(struct ctx *c)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct al_config_key *k = &keys[i];
		if (k->kind != AL_CONFIG_PATH || !(k->flags & (AL_CONFIG_REGULAR | AL_CONFIG_EXEC)))
			continue;
		const char *p = *(char **)field_of(c->cfg, k);
		unsigned line = c->seen[i];
		struct stat st;
		if (!p)
			continue;
		if (stat(p, &st) < 0)
			add_error(c, line, "[%s] %s%s: %s: %s", k->section, k->key,
				  line ? "" : " (default)", p, strerror(errno));
		else if (!S_ISREG(st.st_mode))
			add_error(c, line, "[%s] %s: %s: not a regular file", k->section, k->key, p);
		else if ((k->flags & AL_CONFIG_EXEC) && access(p, X_OK) < 0)
			add_error(c, line, "[%s] %s: %s: not executable", k->section, k->key, p);
	}
}

void al_config_free(struct al_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct al_config_key *k = &keys[i];
		if (k->kind == AL_CONFIG_PATH || k->kind == AL_CONFIG_SOCKET)
			free(*(char **)field_of(cfg, k));
	}
	free_origins(cfg);
	for (int d = 0; d < AL_DOMAIN_COUNT; d++)
		free(cfg->domain[d].exe);
	free(cfg->path);
	free(cfg->dir);
	free(cfg);
}

int al_config_default(struct al_config **out)
{
	struct al_config *cfg = config_new();
	if (!cfg)
		return -ENOMEM;
	if (derive_defaults(cfg, NULL) < 0 || config_finish(cfg) < 0) {
		al_config_free(cfg);
		return -ENOMEM;
	}
	*out = cfg;
	return 0;
}

/* Absolute form of the config file's path and its directory (the file need not exist). */
static int absolute_dir(const char *path, char **abs_path, char **dir)
{
	char cwd[PATH_MAX];
	if (path[0] == '/') {
		*abs_path = strdup(path);
	} else {
		if (!getcwd(cwd, sizeof cwd))
			return -errno;
		*abs_path = join(cwd, path);
	}
	if (!*abs_path)
		return -ENOMEM;
	char *slash = strrchr(*abs_path, '/');
	*dir = slash == *abs_path ? strdup("/") : strndup(*abs_path, (size_t)(slash - *abs_path));
	return *dir ? 0 : -ENOMEM;
}

int al_config_load_buf(const char *text, size_t len, const char *path, unsigned flags,
		       struct al_config **out, char **errors)
{
	struct ctx c = { .name = path, .buf = text, .len = len };
	int rc;
	*errors = NULL;
	c.cfg = config_new();
	if (!c.cfg)
		return -ENOMEM;
	if ((rc = absolute_dir(path, &c.cfg->path, &c.cfg->dir)) < 0)
		goto fail;
	if (len > AL_CONFIG_MAX_FILE) {
		add_error(&c, 0, "larger than %d bytes", AL_CONFIG_MAX_FILE);
	} else {
		rc = ini_parse_stream(reader, &c, handler, &c);
		/* Our reader and handler report every error inih could see; belt and braces. */
		if (rc != 0 && c.nerr == 0)
			add_error(&c, rc > 0 ? (unsigned)rc : 0, "syntax error");
	}
	if ((rc = derive_defaults(c.cfg, c.seen)) < 0)
		goto fail;
	if (!(flags & AL_CONFIG_NO_FILE_CHECKS))
		check_files(&c);
	if (c.nerr) {
		rc = -EINVAL;
		goto fail;
	}
	if ((rc = config_finish(c.cfg)) < 0)
		goto fail;
	*out = c.cfg;
	return 0;
fail:
	if (!c.errs)
		add_error(&c, 0, "%s", strerror(-rc));
	*errors = c.errs;
	al_config_free(c.cfg);
	return rc;
}

int al_config_load(const char *path, unsigned flags, struct al_config **out, char **errors)
{
	char *text = NULL;
	size_t len = 0;
	*errors = NULL;
	int rc = al_read_file_at(AT_FDCWD, path, AL_CONFIG_MAX_FILE, &text, &len);
	if (rc < 0) {
		size_t n = strlen(path) + 128;
		*errors = malloc(n);
		if (*errors)
			snprintf(*errors, n, "%s: %s\n", path,
				 rc == -EFBIG ? "file too large" : strerror(-rc));
		return rc;
	}
	rc = al_config_load_buf(text, len, path, flags, out, errors);
	free(text);
	return rc;
}

size_t al_config_files(const struct al_config *cfg, struct al_config_file out[AL_CONFIG_MAX_FILES])
{
	size_t n = 0;
	if (cfg->path)
		out[n++] = (struct al_config_file){ "config", cfg->path };
	out[n++] = (struct al_config_file){ "ai.model", cfg->ai.model };
	if (cfg->ai.tokenizer)
		out[n++] = (struct al_config_file){ "ai.tokenizer", cfg->ai.tokenizer };
	out[n++] = (struct al_config_file){ "ai.exe", cfg->domain[AL_DOMAIN_AI].exe };
	out[n++] = (struct al_config_file){ "proto.exe", cfg->domain[AL_DOMAIN_PROTO].exe };
	/* The seccomp allowlists and limits: read once, verified, watched. */
	if (cfg->domain[AL_DOMAIN_AI].profile)
		out[n++] = (struct al_config_file){ "ai.profile", cfg->domain[AL_DOMAIN_AI].profile };
	if (cfg->domain[AL_DOMAIN_PROTO].profile)
		out[n++] = (struct al_config_file){ "proto.profile", cfg->domain[AL_DOMAIN_PROTO].profile };
	return n;
}

/* ---- printing ---- */

/* ---- printing ---- */

static void print_cpus(const cpu_set_t *set, FILE *fp)
{
	bool first = true;
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, set))
			continue;
		int j = i;
		while (j + 1 < CPU_SETSIZE && CPU_ISSET(j + 1, set))
			j++;
		fprintf(fp, first ? "%d" : ",%d", i);
		if (j > i)
			fprintf(fp, "-%d", j);
		first = false;
		i = j;
	}
}

void al_config_print_value(const struct al_config *cfg, const struct al_config_key *k, FILE *fp)
{
	const void *field = al_config_field(cfg, k);
	switch (k->kind) {
	case AL_CONFIG_BOOL:
		fputs(*(const bool *)field ? "yes" : "no", fp);
		break;
	case AL_CONFIG_U32:
		fprintf(fp, "%u", *(const uint32_t *)field);
		break;
	case AL_CONFIG_U64:
	case AL_CONFIG_SIZE:
		fprintf(fp, "%llu", (unsigned long long)*(const uint64_t *)field);
		break;
	case AL_CONFIG_ENUM: {
		const struct al_config_enum *e = k->names;
		while (e->name && e->value != *(const int *)field)
			e++;
		fputs(e->name ? e->name : "?", fp);
		break;
	}
	case AL_CONFIG_PATH:
	case AL_CONFIG_SOCKET:
		if (*(char *const *)field)
			fputs(*(char *const *)field, fp);
		break;
	case AL_CONFIG_CPU: {
		uint32_t milli = *(const uint32_t *)field;
		if (milli)
			fprintf(fp, "%u.%03u", milli / 1000, milli % 1000);
		else
			fputs("max", fp);
		break;
	}
	case AL_CONFIG_CPUS: {
		const struct al_domain_config *dc = CONTAINER(field, const struct al_domain_config, cpus);
		if (dc->cpus_set)
			print_cpus(&dc->cpus, fp);
		break;
	}
	case AL_CONFIG_LISTEN: {
		const struct al_config *c = CONTAINER(field, const struct al_config, proto.stdio);
		if (c->proto.stdio)
			fputs("stdio", fp);
		else if (c->proto.systemd)
			fputs("systemd", fp);
		else if (strchr(c->proto.host, ':'))
			fprintf(fp, "[%s]:%u", c->proto.host, c->proto.port);
		else
			fprintf(fp, "%s:%u", c->proto.host, c->proto.port);
		break;
	}
	case AL_CONFIG_ORIGINS: {
		const struct al_config *c = CONTAINER(field, const struct al_config, proto.allowed_origins);
		for (size_t i = 0; i < c->proto.n_allowed_origins; i++)
			fprintf(fp, "%s%s", i ? ", " : "", c->proto.allowed_origins[i]);
		break;
	}
	}
}

/* What a [domain.*] section's values come to, as comments. */
static void print_domain_notes(const struct al_config *cfg, int d, FILE *fp)
{
	const struct al_domain_config *dc = &cfg->domain[d];
	fprintf(fp, "; runs %s\n", dc->exe ? dc->exe : "?");
	if (dc->seccomp_from_level)
		fprintf(fp, "; seccomp: %s at level %s\n", al_seccomp_mode_name(al_level_policy(cfg->level)->seccomp),
			al_level_name(cfg->level));
	if (dc->sched == AL_CONFIG_SCHED_LEVEL)
		fprintf(fp, "; sched: %s at level %s\n",
			al_sched_class_name(d == AL_DOMAIN_AI ? al_level_policy(cfg->level)->sched_ai
							      : al_level_policy(cfg->level)->sched_proto),
			al_level_name(cfg->level));
}

void al_config_print(const struct al_config *cfg, FILE *fp)
{
	fprintf(fp, "# effective configuration%s%s\n", cfg->path ? " of " : " (built-in defaults)",
		cfg->path ? cfg->path : "");
	for (size_t i = 0; i < NKEYS; i++) {
		const struct al_config_key *k = &keys[i];
		if (i == 0 || strcmp(k->section, keys[i - 1].section) != 0)
			fprintf(fp, "%s[%s]\n", i ? "\n" : "", k->section);
		fprintf(fp, "%s =", k->key);
		char *v = NULL;
		size_t vl = 0;
		FILE *m = open_memstream(&v, &vl);
		if (m) {
			al_config_print_value(cfg, k, m);
			fclose(m);
			fprintf(fp, "%s%s", vl ? " " : "", v);
			free(v);
		}
		fputc('\n', fp);
		int d = section_domain(k->section);
		if (d >= 0 && (i + 1 == NKEYS || strcmp(k->section, keys[i + 1].section) != 0))
			print_domain_notes(cfg, d, fp);
	}
}

/* ---- reference ---- */

/* 65536 as 64K: the largest binary unit that divides it. */
static void print_size(uint64_t n, FILE *fp)
{
	static const char units[] = "KMG";
	int u = -1;
	while (u < 2 && n && n % 1024 == 0) {
		n /= 1024;
		u++;
	}
	fprintf(fp, "%llu%s", (unsigned long long)n, u < 0 ? "" : (char[]){ units[u], 0 });
}

static void describe_kind(const struct al_config_key *k, FILE *fp)
{
	switch (k->kind) {
	case AL_CONFIG_BOOL:
		fputs("yes or no", fp);
		break;
	case AL_CONFIG_U32:
	case AL_CONFIG_U64:
		fprintf(fp, "an integer, %llu..%llu", (unsigned long long)k->min,
			(unsigned long long)k->max);
		break;
	case AL_CONFIG_SIZE:
		fputs("a size in bytes (units K, M, G), ", fp);
		print_size(k->min, fp);
		fputs("..", fp);
		print_size(k->max, fp);
		break;
	case AL_CONFIG_ENUM:
		for (const struct al_config_enum *e = k->names; e->name; e++)
			fprintf(fp, "%s`%s`", e == k->names ? "" : e[1].name ? ", " : " or ", e->name);
		break;
	case AL_CONFIG_PATH:
		fprintf(fp, "a path%s, relative to the file's directory",
			k->flags & AL_CONFIG_EXEC      ? " of an executable file"
			: k->flags & AL_CONFIG_REGULAR ? " of an existing file"
						       : "");
		if (k->flags & AL_CONFIG_EMPTY_NONE)
			fputs(", or empty", fp);
		break;
	case AL_CONFIG_SOCKET:
		fprintf(fp, "a path of at most %llu bytes, relative to the file's directory",
			(unsigned long long)k->max);
		break;
	case AL_CONFIG_CPU:
		fputs("CPUs such as 0.5 or 2, a percentage of one CPU such as 50%, or `max`", fp);
		break;
	case AL_CONFIG_CPUS:
		fprintf(fp, "a CPU list such as 0-3,6 (CPUs below %d), or empty", CPU_SETSIZE);
		break;
	case AL_CONFIG_LISTEN:
		fputs("IPV4:PORT, [IPV6]:PORT, `stdio` or `systemd`", fp);
		break;
	case AL_CONFIG_ORIGINS:
		fprintf(fp, "comma-separated http(s) origins scheme://host[:port], at most %d, "
			    "or empty", AL_CONFIG_MAX_ORIGINS);
		break;
	}
}

void al_config_reference(FILE *fp)
{
	fputs("# Configuration reference\n"
	      "\n"
	      "<!-- Generated by `airlock config reference` from the key table in\n"
	      "     src/supervisor/config.c; tests/supervisor checks that it is current. -->\n"
	      "\n"
	      "The file is INI: `[section]` headers and `key = value` lines (at most 198\n"
	      "characters); a line starting with `#` or `;` is a comment, and so is what\n"
	      "follows ` ;` after a value. Every key is optional. Unknown sections or keys,\n"
	      "bad values, a key given twice and files that do not exist are errors naming\n"
	      "the file and the line. Relative paths are relative to the directory of the\n"
	      "file. `airlock config check FILE` prints the effective configuration or the\n"
	      "errors; etc/airlock.conf is a commented example.\n",
	      fp);
	for (size_t i = 0; i < NKEYS; i++) {
		const struct al_config_key *k = &keys[i];
		if (i == 0 || strcmp(k->section, keys[i - 1].section) != 0)
			fprintf(fp, "\n## [%s]\n", k->section);
		fprintf(fp, "\n### %s\n\nValue: ", k->key);
		describe_kind(k, fp);
		if (k->derive)
			fprintf(fp, ". Default: %s.\n\n", k->def);
		else if (*k->def)
			fprintf(fp, ". Default: `%s`.\n\n", k->def);
		else
			fputs(". Default: empty.\n\n", fp);
		fprintf(fp, "%s\n", k->help);
	}
}

/* [required] features in the configuration, as the probe's item ids. */
static const char *const feature_items[AL_FEAT_COUNT][3] = {
	[AL_FEAT_SECCOMP] = {"kernel.seccomp_filter"},
	[AL_FEAT_SECCOMP_NOTIFY] = {"kernel.seccomp_notify"},
	[AL_FEAT_LANDLOCK] = {"kernel.landlock"},
	[AL_FEAT_USERNS] = {"kernel.userns"},
	[AL_FEAT_CGROUPS] = {"kernel.cgroup_memory", "kernel.cgroup_pids"},
	[AL_FEAT_MDWE] = {"kernel.mdwe"},
	[AL_FEAT_SPECULATION_CTRL] = {"kernel.spec_store_bypass", "kernel.spec_indirect_branch"},
	[AL_FEAT_PIDFD] = {"kernel.clone3_pidfd"},
	[AL_FEAT_MEMFD_SEAL] = {"kernel.memfd_seal"},
	[AL_FEAT_CORE_SCHED] = {"kernel.sched_core"},
	[AL_FEAT_RESCTRL] = {"kernel.resctrl"},
};

size_t al_config_required_items(const struct al_config *cfg, const char **out, size_t max)
{
	size_t n = 0;
	for (int f = 0; f < AL_FEAT_COUNT; f++)
		if (cfg->required[f])
			for (int k = 0; k < 3 && feature_items[f][k] && n < max; k++)
				out[n++] = feature_items[f][k];
	return n;
}
