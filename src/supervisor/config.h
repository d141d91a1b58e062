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
/* Skip the existence checks of model, tokenizer, token_file and command (fuzzing, tests). */
#define AL_CONFIG_NO_FILE_CHECKS 1u

struct al_domain_config {
	uint64_t memory;      /* bytes */
	uint64_t pids;        /* max tasks */
	uint32_t cpu_milli;   /* CPU bandwidth, 1000 = one whole CPU; 0 = unlimited */
	bool cpus_set;        /* false: not pinned */
	cpu_set_t cpus;
	bool seccomp_from_level; /* seccomp = level (the default): the level's policy decides */
	enum al_seccomp_mode seccomp; /* otherwise this */
	char *command;        /* replacement program, NULL for the built-in worker */
	char *exe;            /* what is executed: command, or the built-in worker's path */
	char *profile;        /* its sandbox profile file (al_config_profile), NULL if not found */
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
		char host[64];    /* IP literal */
		uint16_t port;
		char *allowed_origins[AL_CONFIG_MAX_ORIGINS];
		size_t n_allowed_origins;
		char *token_file; /* NULL: no bearer token required */
		uint64_t body_limit;
		uint32_t concurrency;
	} proto;
	struct {
		char *model;
		char *tokenizer;
		uint32_t threads;
		uint32_t max_tokens;
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

const char *al_domain_name(enum al_domain_id d);
/* The sandbox profile each domain runs under: "compute" for the AI domain,
 * "service" for the protocol domain (etc/profiles/NAME.conf). */
const char *al_config_profile(enum al_domain_id d);
const char *al_feature_name(enum al_feature f);

#endif
