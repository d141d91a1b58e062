/*
 * Per-tool rules of a gate policy (gate_tools.h). Every value is checked
 * here, patterns compiled, prefixes normalised; the gate domain checks the
 * encoding again on its side (workers/gate/rules.c).
 */
#include "supervisor/gate_tools.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* Digits, then the rest as the unit ("10/min", "500ms"); 0 or -EINVAL. */
static int num_unit(const char *v, uint64_t *n, const char **unit)
{
	char digits[16];
	size_t k = strspn(v, "0123456789");
	if (!k || k >= sizeof digits)
		return -EINVAL;
	memcpy(digits, v, k);
	digits[k] = '\0';
	*unit = v + k;
	return al_parse_u64(digits, n);
}

/* "N", "N/s", "N/min", "N/h" (and the long names), or "none". */
static int rate_value(const char *v, struct al_gate_limits *l, char *why, size_t wl)
{
	static const struct {
		const char *unit;
		uint32_t ms;
	} units[] = { { "", 1000 },	    { "/s", 1000 },	    { "/sec", 1000 },	{ "/second", 1000 },
		      { "/m", 60000 },	    { "/min", 60000 },	    { "/minute", 60000 }, { "/h", 3600000 },
		      { "/hour", 3600000 } };
	l->has_rate = true;
	if (!strcmp(v, "none")) {
		l->rate = l->period_ms = 0;
		return 0;
	}
	uint64_t n;
	const char *unit;
	if (num_unit(v, &n, &unit) == 0 && n >= 1 && n <= AL_GATE_RATE_MAX)
		for (size_t i = 0; i < AL_ARRAY_LEN(units); i++)
			if (!strcmp(unit, units[i].unit)) {
				l->rate = (uint32_t)n;
				l->period_ms = units[i].ms;
				return 0;
			}
	snprintf(why, wl, "calls per second (N or N/s), minute (N/min) or hour (N/h), N from 1 to %u; or none",
		 AL_GATE_RATE_MAX);
	return -EINVAL;
}

/* "N" or "Ns" seconds, "Nms", "Nmin", "Nh": 10 ms to 24 h; or "none". */
static int timeout_value(const char *v, struct al_gate_limits *l, char *why, size_t wl)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = { { "", 1000 }, { "s", 1000 }, { "ms", 1 }, { "m", 60000 }, { "min", 60000 }, { "h", 3600000 } };
	l->has_timeout = true;
	if (!strcmp(v, "none")) {
		l->timeout_ms = 0;
		return 0;
	}
	uint64_t n;
	const char *unit;
	if (num_unit(v, &n, &unit) == 0)
		for (size_t i = 0; i < AL_ARRAY_LEN(units); i++)
			if (!strcmp(unit, units[i].unit) && n <= AL_GATE_TIMEOUT_MAX / units[i].ms &&
			    n * units[i].ms >= AL_GATE_TIMEOUT_MIN) {
				l->timeout_ms = (uint32_t)(n * units[i].ms);
				return 0;
			}
	snprintf(why, wl, "seconds (30, 30s), or 500ms, 5min, 1h: from 10ms to 24h; or none");
	return -EINVAL;
}

static int limits_key(struct al_gate_limits *l, const char *key, const char *val, char *why, size_t wl)
{
	if (!strcmp(key, "rate"))
		return rate_value(val, l, why, wl);
	if (!strcmp(key, "timeout"))
		return timeout_value(val, l, why, wl);
	if (!strcmp(key, "burst")) {
		uint64_t n;
		if (al_parse_u64(val, &n) < 0 || n < 1 || n > AL_GATE_RATE_MAX) {
			snprintf(why, wl, "calls at once, 1 to %u", AL_GATE_RATE_MAX);
			return -EINVAL;
		}
		l->has_burst = true;
		l->burst = (uint32_t)n;
		return 0;
	}
	return -ENOENT;
}

int al_gate_tools_default_key(struct al_gate_policy *p, const char *key, const char *val, char *why, size_t wl)
{
	return limits_key(&p->tools_limits, key, val, why, wl);
}

static struct al_gate_tool_policy *tool_get(struct al_gate_policy *p, const char *tool, int sec_line, char *why,
					    size_t wl)
{
	for (size_t i = 0; i < p->n_tool_rules; i++)
		if (!strcmp(p->tool_rules[i]->name, tool))
			return p->tool_rules[i];
	if (p->n_tool_rules == AL_GATE_RULES_TOOLS) {
		snprintf(why, wl, "more than %d [tools.NAME] sections", AL_GATE_RULES_TOOLS);
		return NULL;
	}
	struct al_gate_tool_policy *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(why, wl, "out of memory");
		return NULL;
	}
	snprintf(t->name, sizeof t->name, "%s", tool);
	t->line = sec_line;
	return p->tool_rules[p->n_tool_rules++] = t;
}

/* arg.PATH.RULE = value */
static int arg_key(struct al_gate_tool_policy *t, const char *key, const char *val, char *why, size_t wl)
{
	const char *rule = strrchr(key, '.');
	char path[AL_GATE_ARG_PATH];
	struct al_gate_argpath ap;
	if (!rule || rule - key <= 4 || (size_t)(rule - key) - 4 >= sizeof path) {
		snprintf(why, wl, "arg.PATH.prefix, arg.PATH.max_length or arg.PATH.pattern");
		return -EINVAL;
	}
	size_t n = (size_t)(rule - key) - 4;
	memcpy(path, key + 4, n);
	path[n] = '\0';
	rule++;
	if (al_gate_argpath_parse(path, &ap) < 0) {
		snprintf(why, wl, "an argument path of names ([A-Za-z0-9_-]) joined by '.', each followed by any "
			 "'[]' (paths[], options.cwd, edits[].path)");
		return -EINVAL;
	}
	if (strcmp(rule, "prefix") && strcmp(rule, "max_length") && strcmp(rule, "pattern")) {
		snprintf(why, wl, "unknown rule '%.32s' (prefix, max_length or pattern)", rule);
		return -EINVAL;
	}
	struct al_gate_arg_policy *a = NULL;
	for (size_t i = 0; !a && i < t->n_args; i++)
		if (!strcmp(t->args[i].path, path))
			a = &t->args[i];
	if (!a) {
		if (t->n_args == AL_GATE_ARG_RULES) {
			snprintf(why, wl, "rules for more than %d arguments", AL_GATE_ARG_RULES);
			return -E2BIG;
		}
		a = &t->args[t->n_args++];
		snprintf(a->path, sizeof a->path, "%s", path);
	}
	if (!strcmp(rule, "prefix")) {
		size_t len = strlen(val);
		char *norm = len <= AL_GATE_PREFIX_MAX ? malloc(len + 2) : NULL;
		json_t *utf8 = json_string(val); /* arguments are JSON strings: a prefix of other bytes matches none */
		json_decref(utf8);
		if (!norm || !utf8 || al_gate_path_normalise(val, len, norm) != AL_GATE_PATH_OK ||
		    a->n_prefix == AL_GATE_ARG_PREFIXES) {
			free(norm);
			snprintf(why, wl, "an absolute path without '..', UTF-8, of at most %d bytes (one a line, at most %d)",
				 AL_GATE_PREFIX_MAX, AL_GATE_ARG_PREFIXES);
			return -EINVAL;
		}
		a->prefix[a->n_prefix++] = norm;
	} else if (!strcmp(rule, "max_length")) {
		uint64_t v;
		if (al_parse_u64(val, &v) < 0 || v < 1 || v > AL_GATE_LENGTH_MAX) {
			snprintf(why, wl, "characters, 1 to %u", AL_GATE_LENGTH_MAX);
			return -EINVAL;
		}
		a->max_length = (uint32_t)v;
	} else {
		regex_t re;
		char detail[200];
		if (al_gate_pattern_compile(val, &re, detail, sizeof detail) < 0) {
			snprintf(why, wl, "%s", detail);
			return -EINVAL;
		}
		regfree(&re);
		free(a->pattern);
		if (!(a->pattern = strdup(val))) {
			snprintf(why, wl, "out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

int al_gate_tools_section_key(struct al_gate_policy *p, const char *tool, int sec_line, const char *key,
			      const char *val, char *why, size_t wl)
{
	size_t n = strlen(tool);
	bool ok = n && n < 64 && tool[0] != '.';
	for (size_t i = 0; ok && i < n; i++)
		ok = tool[i] > 0x20 && tool[i] < 0x7f && tool[i] != '/';
	if (!ok) {
		snprintf(why, wl, "[tools.NAME]: a tool name of printable characters, no spaces or '/'");
		return -EINVAL;
	}
	struct al_gate_tool_policy *t = tool_get(p, tool, sec_line, why, wl);
	if (!t)
		return -E2BIG;
	if (!strncmp(key, "arg.", 4))
		return arg_key(t, key, val, why, wl);
	int rc = limits_key(&t->lim, key, val, why, wl);
	if (rc == -ENOENT)
		snprintf(why, wl, "unknown key (rate, burst, timeout, arg.PATH.prefix|max_length|pattern)");
	return rc;
}

static bool tool_allowed(const struct al_gate_policy *p, const char *name)
{
	if (p->all_tools)
		return true;
	for (size_t i = 0; i < p->n_tools; i++)
		if (!strcmp(p->tools[i], name))
			return true;
	return false;
}

/* The limits that apply: the section's, else [tools]'s; burst with its rate. */
static struct al_gate_limits resolve(const struct al_gate_limits *def, const struct al_gate_limits *own)
{
	struct al_gate_limits r = *def;
	if (!r.has_burst)
		r.burst = r.rate;
	if (own && own->has_rate) {
		r.rate = own->rate;
		r.period_ms = own->period_ms;
		r.burst = own->rate;
	}
	if (own && own->has_burst)
		r.burst = own->burst;
	if (own && own->has_timeout)
		r.timeout_ms = own->timeout_ms;
	if (!r.rate)
		r.burst = r.period_ms = 0;
	return r;
}

static json_t *limits_json(const struct al_gate_limits *l)
{
	return json_pack("{s:I, s:I, s:I, s:I}", "rate", (json_int_t)l->rate, "period_ms", (json_int_t)l->period_ms,
			 "burst", (json_int_t)l->burst, "timeout_ms", (json_int_t)l->timeout_ms);
}

/* One argument's rules; NULL when out of memory (never a rule left out). */
static json_t *arg_json(const struct al_gate_arg_policy *a)
{
	json_t *pre = a->n_prefix ? json_array() : NULL;
	bool whole = !a->n_prefix || pre;
	for (size_t j = 0; whole && j < a->n_prefix; j++)
		whole = json_array_append_new(pre, json_string(a->prefix[j])) == 0;
	json_t *ml = a->max_length ? json_integer(a->max_length) : NULL;
	json_t *pt = a->pattern ? json_string(a->pattern) : NULL;
	if (!whole || (a->max_length && !ml) || (a->pattern && !pt)) {
		json_decref(pre);
		json_decref(ml);
		json_decref(pt);
		return NULL;
	}
	/* "o*" takes each value (on failure too) and leaves out the NULL ones: none set */
	return json_pack("{s:s, s:o*, s:o*, s:o*}", "path", a->path, "prefix", pre, "max_length", ml, "pattern", pt);
}

char *al_gate_tools_encode(const struct al_gate_policy *p)
{
	struct al_gate_limits def = resolve(&p->tools_limits, NULL);
	json_t *tools = json_array();
	json_t *root = json_pack("{s:o, s:o}", "default", limits_json(&def), "tools", tools);
	if (!root)
		return NULL;
	for (size_t i = 0; i < p->n_tool_rules; i++) {
		const struct al_gate_tool_policy *t = p->tool_rules[i];
		struct al_gate_limits l = resolve(&p->tools_limits, &t->lim);
		json_t *args = json_array();
		for (size_t k = 0; args && k < t->n_args; k++)
			if (json_array_append_new(args, arg_json(&t->args[k])) < 0) {
				json_decref(args);
				args = NULL;
			}
		/* json_pack's "o" and json_*_new take their values, on failure too */
		json_t *o = args ? json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}", "name", t->name, "rate", (json_int_t)l.rate,
					     "period_ms", (json_int_t)l.period_ms, "burst", (json_int_t)l.burst,
					     "timeout_ms", (json_int_t)l.timeout_ms, "args", args)
				 : NULL;
		if (!o || json_array_append_new(tools, o) < 0) {
			json_decref(root);
			return NULL;
		}
	}
	char *s = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(root);
	return s;
}

int al_gate_tools_check(const struct al_gate_policy *p, int *line, char *why, size_t wl)
{
	*line = 0;
	const struct al_gate_limits *d = &p->tools_limits;
	if (d->has_burst && !d->rate) {
		snprintf(why, wl, "[tools] burst without a rate");
		return -EINVAL;
	}
	for (size_t i = 0; i < p->n_tool_rules; i++) {
		const struct al_gate_tool_policy *t = p->tool_rules[i];
		*line = t->line;
		if (!tool_allowed(p, t->name)) {
			snprintf(why, wl, "[tools.%s]: not a tool that [tools] allow names", t->name);
			return -EINVAL;
		}
		if (t->lim.has_burst && !(t->lim.has_rate ? t->lim.rate : d->rate)) {
			snprintf(why, wl, "[tools.%s]: burst without a rate", t->name);
			return -EINVAL;
		}
	}
	*line = 0;
	char *s = al_gate_tools_encode(p);
	bool encoded = s != NULL;
	size_t n = s ? strlen(s) : 0;
	free(s);
	if (!encoded) {
		snprintf(why, wl, "out of memory");
		return -ENOMEM;
	}
	if (n > AL_GATE_RULES_MAX) {
		snprintf(why, wl, "[tools.*]: the rules take %zu bytes, over the gate's %u", n, AL_GATE_RULES_MAX);
		return -EINVAL;
	}
	return 0;
}

void al_gate_tools_free(struct al_gate_policy *p)
{
	for (size_t i = 0; i < p->n_tool_rules; i++) {
		struct al_gate_tool_policy *t = p->tool_rules[i];
		for (size_t k = 0; k < t->n_args; k++) {
			for (size_t j = 0; j < t->args[k].n_prefix; j++)
				free(t->args[k].prefix[j]);
			free(t->args[k].pattern);
		}
		free(t);
	}
	p->n_tool_rules = 0;
}
