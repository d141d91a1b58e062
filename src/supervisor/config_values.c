/*
 * Configuration values: one parser per kind of value, each 0 or -1 with why
 * filled (the parser in config.c adds the file and line).
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


int al_config_parse_uint(const char *v, uint64_t min, uint64_t max, uint64_t *out, char *why,
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

int al_config_parse_size(const char *v, uint64_t min, uint64_t max, uint64_t *out, char *why,
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

int al_config_parse_bool(const char *v, bool *out, char *why, size_t wl)
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
int al_config_parse_listen(struct al_config *cfg, const char *v, char *why, size_t wl)
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

void al_config_free_origins(struct al_config *cfg)
{
	for (size_t i = 0; i < cfg->proto.n_allowed_origins; i++)
		free(cfg->proto.allowed_origins[i]);
	cfg->proto.n_allowed_origins = 0;
}

/*
 * A comma- or space-separated list into out[0..*n): at most
 * AL_CONFIG_MAX_ORIGINS words, each one valid() accepts; what names one
 * ("an origin such as ...") and plural the lot, for the errors.
 */
static int parse_words(const char *v, char **out, size_t *n, bool (*valid)(const char *, size_t), const char *what,
		       const char *plural, char *why, size_t wl)
{
	for (const char *p = v; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *e = p;
		while (*e && *e != ',' && *e != ' ')
			e++;
		size_t len = (size_t)(e - p);
		if (!valid(p, len)) {
			snprintf(why, wl, "'%.*s' is not %s", (int)(len > 100 ? 100 : len), p, what);
			return -1;
		}
		if (*n >= AL_CONFIG_MAX_ORIGINS) {
			snprintf(why, wl, "more than %d %s", AL_CONFIG_MAX_ORIGINS, plural);
			return -1;
		}
		if (!(out[*n] = strndup(p, len))) {
			snprintf(why, wl, "out of memory");
			return -1;
		}
		(*n)++;
		p = e;
	}
	return 0;
}

/* An http(s) origin: scheme://host[:port], no path. */
static bool origin_valid(const char *p, size_t n)
{
	bool http = n > 7 && strncmp(p, "http://", 7) == 0;
	bool https = n > 8 && strncmp(p, "https://", 8) == 0;
	const char *rest = p + (http ? 7 : 8), *e = p + n;
	bool ok = (http || https) && n <= 256 && !memchr(rest, '/', (size_t)(e - rest));
	for (const char *q = p; ok && q < e; q++)
		if (!isgraph((unsigned char)*q))
			ok = false;
	return ok;
}

int al_config_parse_origins(struct al_config *cfg, const char *v, char *why, size_t wl)
{
	al_config_free_origins(cfg);
	return parse_words(v, cfg->proto.allowed_origins, &cfg->proto.n_allowed_origins, origin_valid,
			   "an origin such as http://127.0.0.1:8377", "origins", why, wl);
}

void al_config_free_hosts(struct al_config *cfg)
{
	for (size_t i = 0; i < cfg->proto.n_allowed_hosts; i++)
		free(cfg->proto.allowed_hosts[i]);
	cfg->proto.n_allowed_hosts = 0;
}

/*
 * One Host value: a DNS name (labels of 1..63 letters, digits and '-', not
 * starting or ending with '-'), an IPv4 literal or a bracketed IPv6 one, then
 * an optional :PORT. Nothing else: the protocol domain compares the Host
 * header with it, so a pattern or a stray character would only match nothing
 * or, worse, more than meant.
 */
static bool host_valid(const char *p, size_t n)
{
	const char *colon = NULL, *e = p + n;
	if (n > 0 && p[0] == '[') {
		const char *close = memchr(p, ']', n);
		char a[INET6_ADDRSTRLEN];
		unsigned char addr[16];
		size_t al = close ? (size_t)(close - p - 1) : 0;
		if (!close || al == 0 || al >= sizeof a)
			return false;
		memcpy(a, p + 1, al);
		a[al] = '\0';
		if (inet_pton(AF_INET6, a, addr) != 1)
			return false;
		if (close + 1 < e && close[1] != ':')
			return false;
		colon = close + 1 < e ? close + 1 : NULL;
	} else {
		colon = memchr(p, ':', n);
		const char *he = colon ? colon : e;
		size_t label = 0;
		bool digits_dots = true;
		if (he == p || he - p > 253)
			return false;
		for (const char *q = p; q < he; q++) {
			if (*q == '.') {
				if (label == 0 || q[-1] == '-')
					return false;
				label = 0;
				continue;
			}
			if (!isalnum((unsigned char)*q) && (*q != '-' || label == 0))
				return false;
			if (++label > 63)
				return false;
			digits_dots &= isdigit((unsigned char)*q) != 0;
		}
		if (label == 0 || he[-1] == '-')
			return false;
		/* All digits and dots: an IPv4 literal, or a mistake ("10.0.0"). */
		if (digits_dots) {
			char a[INET_ADDRSTRLEN];
			unsigned char addr[4];
			size_t al = (size_t)(he - p);
			if (al >= sizeof a)
				return false;
			memcpy(a, p, al);
			a[al] = '\0';
			if (inet_pton(AF_INET, a, addr) != 1)
				return false;
		}
	}
	if (colon) {
		uint64_t port = 0;
		size_t pl = (size_t)(e - colon - 1);
		if (pl == 0 || pl > 5)
			return false;
		for (const char *q = colon + 1; q < e; q++) {
			if (!isdigit((unsigned char)*q))
				return false;
			port = port * 10 + (uint64_t)(*q - '0');
		}
		if (port == 0 || port > 65535)
			return false;
	}
	return true;
}

/* Comma-separated Host values the protocol domain accepts beside the loopback ones. */
int al_config_parse_hosts(struct al_config *cfg, const char *v, char *why, size_t wl)
{
	al_config_free_hosts(cfg);
	return parse_words(v, cfg->proto.allowed_hosts, &cfg->proto.n_allowed_hosts, host_valid,
			   "a host name such as airlock.example, 10.0.0.5:8377 or [fd00::5]", "host names", why, wl);
}

/* "0.5" (CPUs, up to 3 decimals), "50%" (percent of one CPU), or "max". */
int al_config_parse_cpu(const char *v, uint32_t *out, char *why, size_t wl)
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
int al_config_parse_cpus(const char *v, cpu_set_t *set, char *why, size_t wl)
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

int al_config_parse_enum(const struct al_config_enum *names, const char *v, int *out, char *why,
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

