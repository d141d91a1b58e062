/*
 * Configuration file: the parser (inih, through our own line reader), the
 * defaults and the loading. The keys are the table in config_keys.c.
 *
 * inih does the INI syntax; it reads the text through our own line reader so
 * that every handler call knows its line number (this inih is built without
 * INI_HANDLER_LINENO), and so that what inih would silently accept or mangle
 * is refused first: lines too long for its buffer, NUL bytes, indented
 * continuation lines, unknown section headers.
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

#define MAX_ERRORS 50


/* ---- parse context ---- */

struct ctx {
	const char *name; /* as given, for messages */
	const char *buf;
	size_t len, pos;
	unsigned line;
	const char *sec; /* the current section's name; NULL before any or after an unknown one */
	struct al_config *cfg;
	unsigned seen[AL_CONFIG_MAX_KEYS]; /* line where each key was set, for duplicates; 0: not set */
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
	void *field = al_config_field_rw(c->cfg, k);
	uint64_t x;
	switch (k->kind) {
	case AL_CONFIG_BOOL:
		return al_config_parse_bool(v, field, why, wl);
	case AL_CONFIG_U32:
		if (al_config_parse_uint(v, k->min, k->max, &x, why, wl) < 0)
			return -1;
		*(uint32_t *)field = (uint32_t)x;
		return 0;
	case AL_CONFIG_U64:
		return al_config_parse_uint(v, k->min, k->max, field, why, wl);
	case AL_CONFIG_SIZE:
		return al_config_parse_size(v, k->min, k->max, field, why, wl);
	case AL_CONFIG_ENUM:
		return al_config_parse_enum(k->names, v, field, why, wl);
	case AL_CONFIG_PATH:
	case AL_CONFIG_SOCKET:
		return parse_path(c, k, field, v, why, wl);
	case AL_CONFIG_CPU:
		return al_config_parse_cpu(v, field, why, wl);
	case AL_CONFIG_CPUS: {
		struct al_domain_config *dc = CONTAINER(field, struct al_domain_config, cpus);
		if (!*v) { /* empty: not pinned */
			CPU_ZERO(&dc->cpus);
			dc->cpus_set = false;
			return 0;
		}
		if (al_config_parse_cpus(v, &dc->cpus, why, wl) < 0)
			return -1;
		dc->cpus_set = true;
		return 0;
	}
	case AL_CONFIG_LISTEN:
		return al_config_parse_listen(CONTAINER(field, struct al_config, proto.stdio), v, why, wl);
	case AL_CONFIG_ORIGINS:
		return al_config_parse_origins(CONTAINER(field, struct al_config, proto.allowed_origins), v, why,
				     wl);
	case AL_CONFIG_HOSTS:
		return al_config_parse_hosts(CONTAINER(field, struct al_config, proto.allowed_hosts), v, why, wl);
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
	while (i < al_config_nkeys && (strcmp(al_config_table[i].section, c->sec) != 0 || strcmp(al_config_table[i].key, name) != 0))
		i++;
	if (i == al_config_nkeys) {
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
	if (parse_value(c, &al_config_table[i], value, why, sizeof why) < 0)
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
		for (size_t i = 0; i < al_config_nkeys && !c->sec; i++)
			if (strlen(al_config_table[i].section) == nl2 && memcmp(t + 1, al_config_table[i].section, nl2) == 0)
				c->sec = al_config_table[i].section;
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
	for (size_t i = 0; i < al_config_nkeys; i++)
		if (!al_config_table[i].derive && parse_value(&c, &al_config_table[i], al_config_table[i].def, why, sizeof why) < 0) {
			al_config_free(cfg);
			return NULL;
		}
	return cfg;
}

/* The computed defaults of the keys the file did not set (seen NULL: none set). */
static int derive_defaults(struct al_config *cfg, const unsigned *seen)
{
	for (size_t i = 0; i < al_config_nkeys; i++) {
		const struct al_config_key *k = &al_config_table[i];
		if (!k->derive || (seen && seen[i]))
			continue;
		char **field = al_config_field_rw(cfg, k), *v;
		int rc = k->derive(cfg, al_config_section_domain(k->section), &v);
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
							    : al_config_default_worker((enum al_domain_id)d);
		if (!cfg->domain[d].exe)
			return -ENOMEM;
		cfg->domain[d].seccomp_from_level = cfg->domain[d].seccomp == AL_CONFIG_SECCOMP_LEVEL;
	}
	return 0;
}

/* Files the keys name must exist (defaults too: a missing model fails at load, not at start). */
static void check_files(struct ctx *c)
{
	for (size_t i = 0; i < al_config_nkeys; i++) {
		const struct al_config_key *k = &al_config_table[i];
		if (k->kind != AL_CONFIG_PATH || !(k->flags & (AL_CONFIG_REGULAR | AL_CONFIG_EXEC)))
			continue;
		const char *p = *(char **)al_config_field_rw(c->cfg, k);
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
	for (size_t i = 0; i < al_config_nkeys; i++) {
		const struct al_config_key *k = &al_config_table[i];
		if (k->kind == AL_CONFIG_PATH || k->kind == AL_CONFIG_SOCKET)
			free(*(char **)al_config_field_rw(cfg, k));
	}
	al_config_free_origins(cfg);
	al_config_free_hosts(cfg);
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
		*abs_path = al_config_join(cwd, path);
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

