/*
 * What the configuration's three files share (config_keys.c: the table;
 * config.c: parsing and loading; config_print.c: printing and reference).
 */
#ifndef AL_SUPERVISOR_CONFIG_INT_H
#define AL_SUPERVISOR_CONFIG_INT_H

#include <stddef.h>

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

#endif
