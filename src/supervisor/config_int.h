/*
 * What the configuration's three files share (config_keys.c: the table;
 * config.c: parsing and loading; config_print.c: printing and reference).
 */
#ifndef AL_SUPERVISOR_CONFIG_INT_H
#define AL_SUPERVISOR_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "supervisor/config.h"

/* The struct a field belongs to, for the kinds that set companion fields. */
#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* The parser keeps a line number per key. */
#define AL_CONFIG_MAX_KEYS 96

extern const struct al_config_key al_config_table[];
extern const size_t al_config_nkeys;

/* The field a key sets, writable. */
void *al_config_field_rw(struct al_config *cfg, const struct al_config_key *k);
/* The domain of a [domain.NAME] section, -1 for the others. */
int al_config_section_domain(const char *section);
/* The built-in worker's path: installed, else the build tree's. */
char *al_config_default_worker(enum al_domain_id d);
/* DIR/FILE, malloc'd; NULL without memory. */
char *al_config_join(const char *dir, const char *file);

/* The value parsers (config_values.c): 0, or -1 with why filled. */
int al_config_parse_uint(const char *v, uint64_t min, uint64_t max, uint64_t *out, char *why,
		      size_t wl);
int al_config_parse_size(const char *v, uint64_t min, uint64_t max, uint64_t *out, char *why,
		      size_t wl);
int al_config_parse_bool(const char *v, bool *out, char *why, size_t wl);
int al_config_parse_listen(struct al_config *cfg, const char *v, char *why, size_t wl);
void al_config_free_origins(struct al_config *cfg);
int al_config_parse_origins(struct al_config *cfg, const char *v, char *why, size_t wl);
void al_config_free_hosts(struct al_config *cfg);
int al_config_parse_hosts(struct al_config *cfg, const char *v, char *why, size_t wl);
int al_config_parse_cpu(const char *v, uint32_t *out, char *why, size_t wl);
int al_config_parse_cpus(const char *v, cpu_set_t *set, char *why, size_t wl);
int al_config_parse_enum(const struct al_config_enum *names, const char *v, int *out, char *why,
		      size_t wl);

#endif
