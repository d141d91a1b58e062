/*
 * The configuration file (INI, read with inih). etc/airlock.conf documents
 * every key; every key has a default, so an empty file is a valid config.
 *
 *   struct al_config *cfg;
 *   char *errors = NULL;
 *   if (al_config_load(path, 0, &cfg, &errors) < 0) {
 *           fputs(errors, stderr);   // "FILE:LINE: [section] key: reason", one a line
 *           free(errors);
 *   }
 *   ... cfg->proto.port, cfg->domain[AL_DOMAIN_AI].memory ...
 *   al_config_free(cfg);
 *
 * Unknown sections or keys, bad values, duplicate keys and missing files are
 * errors naming the file and line. Relative paths are resolved against the
 * directory of the config file; results are absolute.
 */
#ifndef AL_SUPERVISOR_CONFIG_H
#define AL_SUPERVISOR_CONFIG_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "respond/level.h"   /* enum al_level */
#include "sandbox/sandbox.h" /* enum al_seccomp_mode */

/* [domain.X] seccomp = level, as the file holds it in the seccomp field. */
#define AL_CONFIG_SECCOMP_LEVEL ((enum al_seccomp_mode)AL_SECCOMP_MODE_COUNT)
/* [domain.X] sched = level, in the sched field. */
#define AL_CONFIG_SCHED_LEVEL ((enum al_sched_class)AL_SCHED_COUNT)

enum al_domain_id {
	AL_DOMAIN_AI,
	AL_DOMAIN_PROTO,
	AL_DOMAIN_COUNT,
};

/* Protection features a [required] section can demand (names as in the file). */
enum al_feature {
	AL_FEAT_SECCOMP,
	AL_FEAT_SECCOMP_NOTIFY,
	AL_FEAT_LANDLOCK,
	AL_FEAT_USERNS,
	AL_FEAT_CGROUPS,
	AL_FEAT_MDWE,
	AL_FEAT_SPECULATION_CTRL,
	AL_FEAT_PIDFD,
	AL_FEAT_MEMFD_SEAL,
	AL_FEAT_CORE_SCHED,
	AL_FEAT_RESCTRL,
	AL_FEAT_COUNT,
};

#define AL_CONFIG_MAX_ORIGINS 16
#define AL_CONFIG_MAX_FILE (1 << 20)
/* Skip the existence checks of the files keys name (fuzzing, tests). */
#define AL_CONFIG_NO_FILE_CHECKS 1u

struct al_domain_config {
	uint64_t memory;      /* bytes */
	uint64_t pids;        /* max tasks */
	uint32_t cpu_milli;   /* CPU bandwidth, 1000 = one whole CPU; 0 = unlimited */
	bool cpus_set;        /* false: not pinned */
	cpu_set_t cpus;
	bool seccomp_from_level; /* seccomp = level (the default): the level's policy decides */
	enum al_seccomp_mode seccomp; /* otherwise this (AL_CONFIG_SECCOMP_LEVEL when from the level) */
	enum al_sched_class sched; /* scheduling class, AL_CONFIG_SCHED_LEVEL: the level's */
	char *command;        /* replacement program, NULL for the built-in worker */
	char *exe;            /* what is executed: command, or the built-in worker's path */
	char *profile;        /* its sandbox profile file: [domain.X] profile, else the
			       * built-in one (al_config_profile); NULL if not found */
};

struct al_config {
	char *path;           /* absolute path of the file, NULL for built-in defaults */
	char *dir;            /* its directory: base of relative paths */
	enum al_level level;
	char *state_dir;
	char *audit_log;
	char *control_socket;
	struct {
		bool stdio;       /* listen = stdio */
		bool systemd;     /* listen = systemd: the socket passed as LISTEN_FDS (fd 3) */
		char host[64];    /* IP literal */
		uint16_t port;
		char *allowed_origins[AL_CONFIG_MAX_ORIGINS];
		size_t n_allowed_origins;
		char *allowed_hosts[AL_CONFIG_MAX_ORIGINS]; /* Host names beside loopback ones */
		size_t n_allowed_hosts;
		char *token_file; /* NULL: no bearer token required */
		uint64_t body_limit;
		uint32_t concurrency;
		uint32_t max_connections;
	} proto;
	struct {
		char *model;
		char *tokenizer;
		uint32_t threads;
		uint32_t max_tokens;
		uint32_t slots; /* requests generated together; 0: from the memory left after the model */
	} ai;
	struct al_domain_config domain[AL_DOMAIN_COUNT];
	bool required[AL_FEAT_COUNT];
	struct {
		char *alert_command;          /* run with each incident's JSON on stdin; NULL none */
		char *dump_dir;               /* forensic dumps (default STATE_DIR/dumps) */
		uint32_t quiet_period_s;      /* incident-free time before the level steps down */
		uint32_t integrity_interval_s; /* 0: the security level's interval */
		uint32_t integrity_budget_pct; /* CPU share of one core for checks, 1..100 */
	} respond;
};

/*
 * Reads and checks a config file. 0 on success; -EINVAL with *errors set (a
 * malloc'd text, one "FILE:LINE: ..." per line, caller frees) when the file has
 * errors; -errno (and *errors) when it cannot be read.
 */
int al_config_load(const char *path, unsigned flags, struct al_config **out, char **errors);

/* Same over text already in memory; path names it and anchors relative paths. */
int al_config_load_buf(const char *text, size_t len, const char *path, unsigned flags,
		       struct al_config **out, char **errors);

/* The built-in defaults (what an empty file gives), relative to no file. */
int al_config_default(struct al_config **out);

void al_config_free(struct al_config *cfg);

/* Writes the effective configuration as an INI file that loads back to the same values. */
void al_config_print(const struct al_config *cfg, FILE *fp);

/* A file the domains need, under its manifest name ("config", "ai.model", "ai.exe", ...). */
struct al_config_file {
	const char *name;
	const char *path; /* points into cfg */
};
#define AL_CONFIG_MAX_FILES 8

/* Lists the files to hash and verify: the config itself, model, tokenizer, each domain's exe. */
size_t al_config_files(const struct al_config *cfg, struct al_config_file out[AL_CONFIG_MAX_FILES]);

/*
 * The `airlock check` item ids behind the [required] features (cgroups, for
 * instance, needs both the memory and the pids controller). Returns how many
 * were written to out.
 */
size_t al_config_required_items(const struct al_config *cfg, const char **out, size_t max);

/*
 * The key table behind the parser, the defaults, al_config_print and the
 * reference (al_config_reference, docs/config.md): one entry per key.
 */
enum al_config_kind {
	AL_CONFIG_BOOL,    /* bool: yes | no (also true/false, on/off, 1/0) */
	AL_CONFIG_U32,     /* uint32_t in min..max */
	AL_CONFIG_U64,     /* uint64_t in min..max */
	AL_CONFIG_SIZE,    /* uint64_t bytes in min..max, units K, M, G */
	AL_CONFIG_ENUM,    /* an enum (int-sized), one of names */
	AL_CONFIG_PATH,    /* char *, absolute once loaded (relative: to the file's directory) */
	AL_CONFIG_SOCKET,  /* a path of at most max bytes (sockaddr_un) */
	AL_CONFIG_CPU,     /* uint32_t milli-CPUs: 0.5, 150% or max (0) */
	AL_CONFIG_CPUS,    /* cpu_set_t; also sets struct al_domain_config.cpus_set */
	AL_CONFIG_LISTEN,  /* proto.stdio; also sets proto.host and proto.port */
	AL_CONFIG_ORIGINS, /* proto.allowed_origins; also sets proto.n_allowed_origins */
	AL_CONFIG_HOSTS,   /* proto.allowed_hosts; also sets proto.n_allowed_hosts */
};

/* AL_CONFIG_PATH flags. */
#define AL_CONFIG_EMPTY_NONE 1u /* an empty value means none (NULL), not an error */
#define AL_CONFIG_REGULAR 2u    /* must name an existing regular file */
#define AL_CONFIG_EXEC 4u       /* must name an existing executable regular file */

struct al_config_enum {
	const char *name;
	int value;
};

struct al_config_key {
	const char *section;  /* "airlock", "proto", "ai", "domain.ai", ... */
	const char *key;
	enum al_config_kind kind;
	size_t offset;        /* into struct al_config; struct al_domain_config for [domain.*] */
	uint64_t min, max;    /* integers and sizes; max length for sockets */
	unsigned flags;
	const struct al_config_enum *names; /* AL_CONFIG_ENUM, NULL-terminated */
	/* The default as written in the file, or, with derive, a description of it. */
	const char *def;
	/* A default computed once the file is read (when the key is not set);
	 * domain is the [domain.*] section's domain, -1 elsewhere. */
	int (*derive)(const struct al_config *cfg, int domain, char **out);
	const char *help;
};

/* The table, in the order of etc/airlock.conf; *n is its length. */
const struct al_config_key *al_config_keys(size_t *n);

/* The field a key sets in cfg. */
const void *al_config_field(const struct al_config *cfg, const struct al_config_key *k);

/* Writes one key's value as the file would spell it ("" for none). */
void al_config_print_value(const struct al_config *cfg, const struct al_config_key *k, FILE *fp);

/* Writes the reference of every key (Markdown: docs/config.md is its output). */
void al_config_reference(FILE *fp);

const char *al_domain_name(enum al_domain_id d);
/* The sandbox profile each domain runs under: "compute" for the AI domain,
 * "service" for the protocol domain (etc/profiles/NAME.conf). */
const char *al_config_profile(enum al_domain_id d);
const char *al_feature_name(enum al_feature f);

#endif
