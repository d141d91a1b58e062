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
	void *field = al_config_field_rw(c->cfg, k);
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

