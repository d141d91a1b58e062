/*
 * Configuration file (see config.h and etc/airlock.conf): the key table.
 * config.c parses a file against it, config_print.c prints a configuration
 * and the reference from it.
 *
 * Every key is one entry of al_config_table[] below: its section, name, kind, the field
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

 */
#include "supervisor/config.h"
#include "supervisor/config_int.h"

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

char *al_config_default_worker(enum al_domain_id d)
{
	char inst[PATH_MAX], build[PATH_MAX];
	snprintf(inst, sizeof inst, "%s/%s", AL_LIBEXECDIR, worker_names[d]);
	snprintf(build, sizeof build, "%s/%s/%s", AL_BUILD_ROOT, worker_build_dirs[d],
		 worker_names[d]);
	return first_existing(inst, build);
}

char *al_config_join(const char *dir, const char *file)
{
	size_t n = strlen(dir) + strlen(file) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s/%s", dir, file);
	return s;
}

static int in_state_dir(const struct al_config *cfg, const char *file, char **out)
{
	return (*out = al_config_join(cfg->state_dir, file)) ? 0 : -ENOMEM;
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
	{ "latency", AL_SCHED_LATENCY }, { "realtime", AL_SCHED_REALTIME }, { "adaptive", AL_SCHED_ADAPTIVE },
	{ "level", (int)AL_CONFIG_SCHED_LEVEL },
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
		  "(SCHED_BATCH, nice 10), idle (SCHED_IDLE, an idle cgroup: runs only when "      \
		  "nothing else wants the CPU), latency (nice -5, four times the weight, a 100 us " \
		  "slice), realtime (the domain's I/O threads at SCHED_RR 1, bounded by "           \
		  "RLIMIT_RTTIME and a cpu cgroup of their own with a real-time budget), "          \
		  "adaptive (as realtime while tasks wait for a CPU, the I/O threads in the "       \
		  "default class while the CPUs are calm), or level: chosen by the security level " \
		  "(standard: adaptive, high and maximum: realtime for the protocol domain; "       \
		  "default for the AI domain; docs/levels.md)." },                                  \
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

const struct al_config_key al_config_table[] = {
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
	{ .section = "proto", .key = "allowed_hosts", .kind = AL_CONFIG_HOSTS,
	  .offset = CFG(proto.allowed_hosts), .def = "",
	  .help = "Host header values accepted beside the loopback ones (127.0.0.1, localhost, "
		  "[::1]), comma separated: the names clients reach airlock by behind a load "
		  "balancer or a Kubernetes Service. A name without a port matches any port; "
		  "with one, that port only. Other names get 403 (the guard against DNS "
		  "rebinding). Origins are separate: list browsers' in allowed_origins. Empty: "
		  "loopback names only." },
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
	  .offset = CFG(proto.concurrency), .min = 1, .max = 256, .def = "256",
	  .help = "Requests served at once (POSTs in flight). generate calls among them wait in "
		  "the AI domain's queue, which holds 256, for a slot (see [ai] slots); one more is "
		  "answered 503 with Retry-After." },
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
	{ .section = "ai", .key = "slots", .kind = AL_CONFIG_U32, .offset = CFG(ai.slots),
	  .min = 0, .max = 256, .def = "0",
	  .help = "Requests generated together, one token each per step of the model (each holds a "
		  "key/value cache for the model's whole context). Others wait their turn, round robin "
		  "between clients. 0: chosen at start, as many as fit in half of [domain.ai] memory "
		  "left after the model file, at most 64 (stories260K: 64; a 1.1B model with a "
		  "2048-token context: a few)." },

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
const size_t al_config_nkeys = AL_ARRAY_LEN(al_config_table);
_Static_assert(AL_ARRAY_LEN(al_config_table) <= AL_CONFIG_MAX_KEYS, "the parser's per-key state");

const struct al_config_key *al_config_keys(size_t *n)
{
	*n = al_config_nkeys;
	return al_config_table;
}

/* The domain of a [domain.NAME] section, -1 for the others. */
int al_config_section_domain(const char *section)
{
	if (strncmp(section, "domain.", 7) != 0)
		return -1;
	for (int d = 0; d < AL_DOMAIN_COUNT; d++)
		if (strcmp(section + 7, domain_names[d]) == 0)
			return d;
	return -1;
}

void *al_config_field_rw(struct al_config *cfg, const struct al_config_key *k)
{
	int d = al_config_section_domain(k->section);
	char *base = d >= 0 ? (char *)&cfg->domain[d] : (char *)cfg;
	return base + k->offset;
}

const void *al_config_field(const struct al_config *cfg, const struct al_config_key *k)
{
	return al_config_field_rw((struct al_config *)cfg, k);
}

