/*
 * Configuration file (see config.h and etc/airlock.conf).
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
#define MAX_SECTION_LEN 32

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

/* ---- parse context ---- */

enum section {
	SEC_NONE = -1, /* before any header, or an unknown one (already reported) */
	SEC_AIRLOCK,
	SEC_PROTO,
	SEC_AI,
	SEC_DOMAIN_AI,
	SEC_DOMAIN_PROTO,
	SEC_REQUIRED,
	SEC_RESPOND,
	SEC_COUNT,
};
static const char *const section_names[] = { "airlock", "proto", "ai", "domain.ai",
					     "domain.proto", "required", "respond" };
#define MAX_KEYS 16

/* A path key whose file must exist, checked once all values are known. */
struct file_check {
	char **value;
	const char *key; /* "[ai] model" */
	unsigned line;   /* 0: default */
	bool exec;
};

struct ctx {
	const char *name; /* as given, for messages */
	const char *buf;
	size_t len, pos;
	unsigned line;
	enum section sec;
	struct al_config *cfg;
	unsigned seen[SEC_COUNT][MAX_KEYS]; /* line where a key was set, for duplicates */
	char *errs;
	size_t errlen;
	unsigned nerr;
	struct file_check checks[8];
	size_t nchecks;
	bool set_audit_log, set_control_socket, set_dump_dir, set_exe[AL_DOMAIN_COUNT];
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
	size_t n;
	if (!al_add_size(strlen(c->cfg->dir), strlen(v), &n) || !al_add_size(n, 2, &n))
		return NULL;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s/%s", c->cfg->dir, v);
	return s;
}

static int set_path(struct ctx *c, char **field, const char *v, char *why, size_t wl)
{
	if (!*v) {
		snprintf(why, wl, "empty path");
		return -1;
	}
	if (strlen(v) >= PATH_MAX - 1 - strlen(c->cfg->dir)) {
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

/* "127.0.0.1:8377", "[::1]:8377" or "stdio". */
static int parse_listen(struct al_config *cfg, const char *v, char *why, size_t wl)
{
	if (strcmp(v, "stdio") == 0) {
		cfg->proto.stdio = true;
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
	cfg->proto.stdio = false;
	memcpy(cfg->proto.host, host, hl + 1);
	cfg->proto.port = (uint16_t)port;
	return 0;
bad:
	snprintf(why, wl, "'%s' is not IPV4:PORT, [IPV6]:PORT or stdio", v);
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

static int parse_seccomp(const char *v, struct al_domain_config *dc, char *why, size_t wl)
{
	dc->seccomp_from_level = strcmp(v, "level") == 0;
	if (dc->seccomp_from_level || al_seccomp_mode_parse(v, &dc->seccomp) == 0)
		return 0;
	snprintf(why, wl, "'%s' is not kill, errno, notify or level", v);
	return -1;
}

/* ---- keys ---- */

static const char *const keys_airlock[] = { "level", "state_dir", "audit_log",
					    "control_socket", NULL };
static const char *const keys_proto[] = { "listen", "allowed_origins", "token_file",
					  "body_limit", "concurrency", NULL };
static const char *const keys_ai[] = { "model", "tokenizer", "threads", "max_tokens", NULL };
static const char *const keys_respond[] = { "alert_command", "dump_dir", "quiet_period",
					    "integrity_interval", "integrity_budget", NULL };
static const char *const keys_domain[] = { "memory", "pids", "cpu", "cpus", "seccomp",
					   "command", NULL };

static const char *const *section_keys(enum section s)
{
	switch (s) {
	case SEC_AIRLOCK: return keys_airlock;
	case SEC_PROTO: return keys_proto;
	case SEC_AI: return keys_ai;
	case SEC_DOMAIN_AI:
	case SEC_DOMAIN_PROTO: return keys_domain;
	case SEC_REQUIRED: return feature_names;
	case SEC_RESPOND: return keys_respond;
	default: return NULL;
	}
}

static int key_index(enum section s, const char *key)
{
	const char *const *k = section_keys(s);
	size_t n = s == SEC_REQUIRED ? AL_FEAT_COUNT : MAX_KEYS;
	for (size_t i = 0; k && i < n && k[i]; i++)
		if (strcmp(k[i], key) == 0)
			return (int)i;
	return -1;
}

static void add_check(struct ctx *c, char **value, const char *key, bool exec)
{
	for (size_t i = 0; i < c->nchecks; i++)
		if (c->checks[i].value == value) {
			c->checks[i].line = c->line;
			return;
		}
	if (c->nchecks < AL_ARRAY_LEN(c->checks))
		c->checks[c->nchecks++] = (struct file_check){ value, key, c->line, exec };
}

static int set_value(struct ctx *c, enum section s, int k, const char *v, char *why, size_t wl)
{
	struct al_config *cfg = c->cfg;
	uint64_t x;
	switch (s) {
	case SEC_AIRLOCK:
		switch (k) {
		case 0:
			if (al_level_parse(v, &cfg->level) < 0) {
				snprintf(why, wl, "'%s' is not minimal, standard, high or maximum", v);
				return -1;
			}
			return 0;
		case 1: return set_path(c, &cfg->state_dir, v, why, wl);
		case 2: c->set_audit_log = true; return set_path(c, &cfg->audit_log, v, why, wl);
		case 3:
			c->set_control_socket = true;
			if (set_path(c, &cfg->control_socket, v, why, wl) < 0)
				return -1;
			/* sockaddr_un.sun_path holds 108 bytes */
			if (strlen(cfg->control_socket) >= 108) {
				snprintf(why, wl, "socket path longer than 107 bytes");
				return -1;
			}
			return 0;
		}
		break;
	case SEC_PROTO:
		switch (k) {
		case 0: return parse_listen(cfg, v, why, wl);
		case 1: return parse_origins(cfg, v, why, wl);
		case 2:
			if (!*v) { /* empty: no token */
				free(cfg->proto.token_file);
				cfg->proto.token_file = NULL;
				return 0;
			}
			add_check(c, &cfg->proto.token_file, "[proto] token_file", false);
			return set_path(c, &cfg->proto.token_file, v, why, wl);
		case 3: return parse_size(v, 1 << 10, 64 << 20, &cfg->proto.body_limit, why, wl);
		case 4:
			if (parse_uint(v, 1, 256, &x, why, wl) < 0)
				return -1;
			cfg->proto.concurrency = (uint32_t)x;
			return 0;
		}
		break;
	case SEC_AI:
		switch (k) {
		case 0:
			add_check(c, &cfg->ai.model, "[ai] model", false);
			return set_path(c, &cfg->ai.model, v, why, wl);
		case 1:
			/* Empty: no tokenizer file, for a GGUF model, which embeds its own. */
			if (!*v) {
				free(cfg->ai.tokenizer);
				cfg->ai.tokenizer = NULL;
				return 0;
			}
			add_check(c, &cfg->ai.tokenizer, "[ai] tokenizer", false);
			return set_path(c, &cfg->ai.tokenizer, v, why, wl);
		case 2:
			if (parse_uint(v, 1, 256, &x, why, wl) < 0)
				return -1;
			cfg->ai.threads = (uint32_t)x;
			return 0;
		case 3:
			if (parse_uint(v, 1, 65536, &x, why, wl) < 0)
				return -1;
			cfg->ai.max_tokens = (uint32_t)x;
			return 0;
		}
		break;
	case SEC_DOMAIN_AI:
	case SEC_DOMAIN_PROTO: {
		enum al_domain_id d = s == SEC_DOMAIN_AI ? AL_DOMAIN_AI : AL_DOMAIN_PROTO;
		struct al_domain_config *dc = &cfg->domain[d];
		switch (k) {
		case 0: return parse_size(v, 16 << 20, 1ULL << 40, &dc->memory, why, wl);
		case 1: return parse_uint(v, 1, 1 << 20, &dc->pids, why, wl);
		case 2: return parse_cpu(v, &dc->cpu_milli, why, wl);
		case 3:
			if (parse_cpus(v, &dc->cpus, why, wl) < 0)
				return -1;
			dc->cpus_set = true;
			return 0;
		case 4: return parse_seccomp(v, dc, why, wl);
		case 5:
			if (!*v) { /* empty: the built-in worker */
				free(dc->command);
				dc->command = NULL;
				return 0;
			}
			add_check(c, &dc->command,
				  d == AL_DOMAIN_AI ? "[domain.ai] command" : "[domain.proto] command",
				  true);
			return set_path(c, &dc->command, v, why, wl);
		}
		break;
	}
	case SEC_REQUIRED:
		return parse_bool(v, &cfg->required[k], why, wl);
	case SEC_RESPOND:
		switch (k) {
		case 0:
			if (!*v) { /* empty: no alert hook */
				free(cfg->respond.alert_command);
				cfg->respond.alert_command = NULL;
				return 0;
			}
			add_check(c, &cfg->respond.alert_command, "[respond] alert_command", true);
			return set_path(c, &cfg->respond.alert_command, v, why, wl);
		case 1: c->set_dump_dir = true; return set_path(c, &cfg->respond.dump_dir, v, why, wl);
		case 2:
			if (parse_uint(v, 1, 86400, &x, why, wl) < 0)
				return -1;
			cfg->respond.quiet_period_s = (uint32_t)x;
			return 0;
		case 3:
			if (parse_uint(v, 0, 86400, &x, why, wl) < 0)
				return -1;
			cfg->respond.integrity_interval_s = (uint32_t)x;
			return 0;
		case 4:
			if (parse_uint(v, 1, 100, &x, why, wl) < 0)
				return -1;
			cfg->respond.integrity_budget_pct = (uint32_t)x;
			return 0;
		}
		break;
	default:
		break;
	}
	snprintf(why, wl, "internal: unhandled key");
	return -1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct ctx *c = user;
	(void)section; /* the reader tracked and checked the section already */
	if (c->sec == SEC_NONE) {
		if (!section[0])
			add_error(c, c->line, "%s: key outside any section", name);
		return 1; /* an unknown section was reported at its header */
	}
	int k = key_index(c->sec, name);
	if (k < 0) {
		add_error(c, c->line, "[%s] %s: unknown key", section_names[c->sec], name);
		return 1;
	}
	if (c->seen[c->sec][k]) {
		add_error(c, c->line, "[%s] %s: duplicate key (first set on line %u)",
			  section_names[c->sec], name, c->seen[c->sec][k]);
		return 1;
	}
	c->seen[c->sec][k] = c->line;
	char why[300];
	if (set_value(c, c->sec, k, value, why, sizeof why) < 0)
		add_error(c, c->line, "[%s] %s: %s", section_names[c->sec], name, why);
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
		c->sec = SEC_NONE;
		for (int i = 0; i < SEC_COUNT; i++)
			if (strlen(section_names[i]) == nl2 && memcmp(t + 1, section_names[i], nl2) == 0)
				c->sec = (enum section)i;
		if (c->sec == SEC_NONE)
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

static struct al_config *config_new(void)
{
	struct al_config *cfg = calloc(1, sizeof *cfg);
	if (!cfg)
		return NULL;
	cfg->level = AL_LEVEL_STANDARD;
	cfg->state_dir = strdup("/var/lib/airlock");
	al_strlcpy(cfg->proto.host, "127.0.0.1", sizeof cfg->proto.host);
	cfg->proto.port = 8377;
	cfg->proto.allowed_origins[0] = strdup("http://127.0.0.1:8377");
	cfg->proto.allowed_origins[1] = strdup("http://localhost:8377");
	cfg->proto.n_allowed_origins = 2;
	cfg->proto.body_limit = 1 << 20;
	cfg->proto.concurrency = 4;
	cfg->ai.model = default_data("stories260K.bin");
	cfg->ai.tokenizer = default_data("tok512.bin");
	cfg->ai.threads = 1;
	cfg->ai.max_tokens = 256;
	cfg->domain[AL_DOMAIN_AI].memory = 1ULL << 30;
	cfg->domain[AL_DOMAIN_AI].pids = 16;
	cfg->domain[AL_DOMAIN_PROTO].memory = 256ULL << 20;
	cfg->domain[AL_DOMAIN_PROTO].pids = 32;
	cfg->domain[AL_DOMAIN_AI].seccomp_from_level = true;
	cfg->domain[AL_DOMAIN_PROTO].seccomp_from_level = true;
	/* Fail closed on what every supported kernel has; opt in to the rest. */
	cfg->required[AL_FEAT_SECCOMP] = true;
	cfg->required[AL_FEAT_USERNS] = true;
	cfg->required[AL_FEAT_CGROUPS] = true;
	cfg->required[AL_FEAT_PIDFD] = true;
	cfg->required[AL_FEAT_MEMFD_SEAL] = true;
	cfg->respond.quiet_period_s = 300;
	cfg->respond.integrity_budget_pct = 1;
	if (!cfg->state_dir || !cfg->proto.allowed_origins[0] || !cfg->proto.allowed_origins[1] ||
	    !cfg->ai.model || !cfg->ai.tokenizer) {
		al_config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* Values derived from others once the whole file is read. */
static int config_finish(struct al_config *cfg, bool audit_set, bool sock_set, bool dump_set)
{
	if (!dump_set) {
		free(cfg->respond.dump_dir);
		if (!(cfg->respond.dump_dir = join(cfg->state_dir, "dumps")))
			return -ENOMEM;
	}
	if (!audit_set) {
		free(cfg->audit_log);
		if (!(cfg->audit_log = join(cfg->state_dir, "audit.log")))
			return -ENOMEM;
	}
	if (!sock_set) {
		free(cfg->control_socket);
		if (!(cfg->control_socket = join(cfg->state_dir, "control.sock")))
			return -ENOMEM;
	}
	for (int d = 0; d < AL_DOMAIN_COUNT; d++) {
		free(cfg->domain[d].exe);
		cfg->domain[d].exe = cfg->domain[d].command ? strdup(cfg->domain[d].command)
							    : default_worker((enum al_domain_id)d);
		if (!cfg->domain[d].exe)
			return -ENOMEM;
		/* The profile is one of the verified files: found here, once. */
		char prof[PATH_MAX];
		free(cfg->domain[d].profile);
		cfg->domain[d].profile = NULL;
		if (al_profile_path(profile_names[d], prof, sizeof prof) == 0 &&
		    !(cfg->domain[d].profile = strdup(prof)))
			return -ENOMEM;
	}
	return 0;
}

void al_config_free(struct al_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->dir);
	free(cfg->state_dir);
	free(cfg->audit_log);
	free(cfg->control_socket);
	free_origins(cfg);
	free(cfg->proto.token_file);
	free(cfg->ai.model);
	free(cfg->ai.tokenizer);
	free(cfg->respond.alert_command);
	free(cfg->respond.dump_dir);
	for (int d = 0; d < AL_DOMAIN_COUNT; d++) {
		free(cfg->domain[d].command);
		free(cfg->domain[d].exe);
		free(cfg->domain[d].profile);
	}
	free(cfg);
}

int al_config_default(struct al_config **out)
{
	struct al_config *cfg = config_new();
	if (!cfg)
		return -ENOMEM;
	if (config_finish(cfg, false, false, false) < 0) {
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
	struct ctx c = { .name = path, .buf = text, .len = len, .sec = SEC_NONE };
	int rc;
	*errors = NULL;
	c.cfg = config_new();
	if (!c.cfg)
		return -ENOMEM;
	if ((rc = absolute_dir(path, &c.cfg->path, &c.cfg->dir)) < 0)
		goto fail;
	/* Defaults that name files are checked too: a missing model fails at load, not at start. */
	c.checks[c.nchecks++] = (struct file_check){ &c.cfg->ai.model, "[ai] model", 0, false };
	c.checks[c.nchecks++] = (struct file_check){ &c.cfg->ai.tokenizer, "[ai] tokenizer", 0,
						     false };
	if (len > AL_CONFIG_MAX_FILE) {
		add_error(&c, 0, "larger than %d bytes", AL_CONFIG_MAX_FILE);
	} else {
		rc = ini_parse_stream(reader, &c, handler, &c);
		/* Our reader and handler report every error inih could see; belt and braces. */
		if (rc != 0 && c.nerr == 0)
			add_error(&c, rc > 0 ? (unsigned)rc : 0, "syntax error");
	}
	if (!(flags & AL_CONFIG_NO_FILE_CHECKS)) {
		for (size_t i = 0; i < c.nchecks; i++) {
			const struct file_check *fc = &c.checks[i];
			struct stat st;
			const char *p = *fc->value;
			if (!p)
				continue;
			if (stat(p, &st) < 0)
				add_error(&c, fc->line, "%s%s: %s: %s", fc->key,
					  fc->line ? "" : " (default)", p, strerror(errno));
			else if (!S_ISREG(st.st_mode))
				add_error(&c, fc->line, "%s: %s: not a regular file", fc->key, p);
			else if (fc->exec && access(p, X_OK) < 0)
				add_error(&c, fc->line, "%s: %s: not executable", fc->key, p);
		}
	}
	if (c.nerr) {
		rc = -EINVAL;
		goto fail;
	}
	if ((rc = config_finish(c.cfg, c.set_audit_log, c.set_control_socket, c.set_dump_dir)) < 0)
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

void al_config_print(const struct al_config *cfg, FILE *fp)
{
	fprintf(fp, "# effective configuration%s%s\n", cfg->path ? " of " : " (built-in defaults)",
		cfg->path ? cfg->path : "");
	fprintf(fp, "[airlock]\nlevel = %s\nstate_dir = %s\naudit_log = %s\ncontrol_socket = %s\n\n",
		al_level_name(cfg->level), cfg->state_dir, cfg->audit_log, cfg->control_socket);
	fprintf(fp, "[proto]\n");
	if (cfg->proto.stdio)
		fprintf(fp, "listen = stdio\n");
	else if (strchr(cfg->proto.host, ':'))
		fprintf(fp, "listen = [%s]:%u\n", cfg->proto.host, cfg->proto.port);
	else
		fprintf(fp, "listen = %s:%u\n", cfg->proto.host, cfg->proto.port);
	fprintf(fp, "allowed_origins =");
	for (size_t i = 0; i < cfg->proto.n_allowed_origins; i++)
		fprintf(fp, "%s%s", i ? ", " : " ", cfg->proto.allowed_origins[i]);
	fprintf(fp, "\ntoken_file =%s%s\nbody_limit = %llu\nconcurrency = %u\n\n",
		cfg->proto.token_file ? " " : "", cfg->proto.token_file ? cfg->proto.token_file : "",
		(unsigned long long)cfg->proto.body_limit, cfg->proto.concurrency);
	fprintf(fp, "[ai]\nmodel = %s\ntokenizer =%s%s\nthreads = %u\nmax_tokens = %u\n", cfg->ai.model,
		cfg->ai.tokenizer ? " " : "", cfg->ai.tokenizer ? cfg->ai.tokenizer : "", cfg->ai.threads,
		cfg->ai.max_tokens);
	for (int d = 0; d < AL_DOMAIN_COUNT; d++) {
		const struct al_domain_config *dc = &cfg->domain[d];
		fprintf(fp, "\n[domain.%s]\nmemory = %llu\npids = %llu\n", domain_names[d],
			(unsigned long long)dc->memory, (unsigned long long)dc->pids);
		if (dc->cpu_milli)
			fprintf(fp, "cpu = %u.%03u\n", dc->cpu_milli / 1000, dc->cpu_milli % 1000);
		else
			fprintf(fp, "cpu = max\n");
		if (dc->cpus_set) {
			fprintf(fp, "cpus = ");
			print_cpus(&dc->cpus, fp);
			fprintf(fp, "\n");
		} else {
			fprintf(fp, "; cpus not pinned\n");
		}
		fprintf(fp, "seccomp = %s", dc->seccomp_from_level ? "level" : al_seccomp_mode_name(dc->seccomp));
		if (dc->seccomp_from_level)
			fprintf(fp, " ; %s at level %s", al_seccomp_mode_name(al_level_policy(cfg->level)->seccomp),
				al_level_name(cfg->level));
		fprintf(fp, "\ncommand =%s%s ; runs %s\n", dc->command ? " " : "",
			dc->command ? dc->command : "", dc->exe);
	}
	fprintf(fp, "\n[respond]\nalert_command =%s%s\ndump_dir = %s\nquiet_period = %u\n"
		"integrity_interval = %u\nintegrity_budget = %u\n",
		cfg->respond.alert_command ? " " : "", cfg->respond.alert_command ? cfg->respond.alert_command : "",
		cfg->respond.dump_dir, cfg->respond.quiet_period_s, cfg->respond.integrity_interval_s,
		cfg->respond.integrity_budget_pct);
	fprintf(fp, "\n[required]\n");
	for (int f = 0; f < AL_FEAT_COUNT; f++)
		fprintf(fp, "%s = %s\n", feature_names[f], cfg->required[f] ? "yes" : "no");
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

