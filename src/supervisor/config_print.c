/*
 * Configuration printing: a configuration as a file would spell it, the
 * reference of every key (docs/config.md), and the protections it requires.
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
#include "sandbox/sandbox.h" /* al_cpu_format_list */

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
		char list[4096]; /* every CPU of a cpu_set_t, one by one */
		if (dc->cpus_set) {
			al_cpu_format_list(&dc->cpus, list, sizeof list);
			fputs(list, fp);
		}
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
	case AL_CONFIG_HOSTS: {
		const struct al_config *c = CONTAINER(field, const struct al_config, proto.allowed_hosts);
		for (size_t i = 0; i < c->proto.n_allowed_hosts; i++)
			fprintf(fp, "%s%s", i ? ", " : "", c->proto.allowed_hosts[i]);
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
	for (size_t i = 0; i < al_config_nkeys; i++) {
		const struct al_config_key *k = &al_config_table[i];
		if (i == 0 || strcmp(k->section, al_config_table[i - 1].section) != 0)
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
		int d = al_config_section_domain(k->section);
		if (d >= 0 && (i + 1 == al_config_nkeys || strcmp(k->section, al_config_table[i + 1].section) != 0))
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
	case AL_CONFIG_HOSTS:
		fprintf(fp, "comma-separated host names or IP literals, each with an optional :port "
			    "(name[:port], [IPV6][:port]), at most %d, or empty", AL_CONFIG_MAX_ORIGINS);
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
	for (size_t i = 0; i < al_config_nkeys; i++) {
		const struct al_config_key *k = &al_config_table[i];
		if (i == 0 || strcmp(k->section, al_config_table[i - 1].section) != 0)
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
