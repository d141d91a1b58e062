/*
 * The per-tool rules (rules.h): decoded strictly (the gate domain takes
 * nothing on trust, not even from the supervisor), and the argument walk.
 */
#include "workers/gate/rules.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *why, size_t wl, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t wl, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, wl, fmt, ap);
	va_end(ap);
	return rc;
}

static void argrule_free(struct al_gate_argrule *a)
{
	for (size_t i = 0; i < a->n_prefix; i++)
		free(a->prefix[i]);
	if (a->pattern) {
		free(a->pattern);
		regfree(&a->re);
	}
}

static void toolrule_free(struct al_gate_toolrule *t)
{
	for (size_t i = 0; i < t->n_args; i++)
		argrule_free(&t->args[i]);
	free(t->args);
}

void al_gate_rules_free(struct al_gate_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_tools; i++)
		toolrule_free(&r->tools[i]);
	free(r->tools);
	free(r);
}

static int limits(json_t *v, struct al_gate_toolrule *t, const char *name, json_t **args, char *why, size_t wl)
{
	json_int_t rate, period, burst, timeout;
	const char *nm = NULL;
	json_error_t e;
	int rc = name ? json_unpack_ex(v, &e, JSON_STRICT, "{s:s, s:I, s:I, s:I, s:I, s?o}", "name", &nm, "rate", &rate,
				       "period_ms", &period, "burst", &burst, "timeout_ms", &timeout, "args", args)
		      : json_unpack_ex(v, &e, JSON_STRICT, "{s:I, s:I, s:I, s:I}", "rate", &rate, "period_ms", &period,
				       "burst", &burst, "timeout_ms", &timeout);
	if (rc < 0)
		return fail(why, wl, -EINVAL, "rules: %s", e.text);
	if (nm) {
		size_t n = strlen(nm);
		if (!n || n >= sizeof t->name)
			return fail(why, wl, -EINVAL, "rules: a tool name of 1 to 63 bytes");
		for (size_t i = 0; i < n; i++)
			if (nm[i] <= 0x20 || nm[i] >= 0x7f)
				return fail(why, wl, -EINVAL, "rules: tool name %.64s: not printable ASCII", nm);
		memcpy(t->name, nm, n + 1);
	}
	if (rate < 0 || rate > AL_GATE_RATE_MAX ||
	    (rate && ((period != 1000 && period != 60000 && period != 3600000) || burst < 1 || burst > AL_GATE_RATE_MAX)) ||
	    (!rate && (period || burst)))
		return fail(why, wl, -EINVAL, "rules: %.64s: rate, period_ms, burst out of range", name ? nm : "default");
	if (timeout && (timeout < AL_GATE_TIMEOUT_MIN || timeout > AL_GATE_TIMEOUT_MAX))
		return fail(why, wl, -EINVAL, "rules: %.64s: timeout_ms out of range", name ? nm : "default");
	t->rate = (uint32_t)rate;
	t->period_ms = (uint32_t)period;
	t->burst = (uint32_t)burst;
	t->timeout_ms = (uint32_t)timeout;
	return 0;
}

static int argrule(json_t *v, struct al_gate_argrule *a, char *why, size_t wl)
{
	const char *path = NULL, *pattern = NULL;
	json_t *prefix = NULL;
	json_int_t max = 0;
	json_error_t e;
	if (json_unpack_ex(v, &e, JSON_STRICT, "{s:s, s?o, s?I, s?s}", "path", &path, "prefix", &prefix, "max_length",
			   &max, "pattern", &pattern) < 0)
		return fail(why, wl, -EINVAL, "rules: argument: %s", e.text);
	if (al_gate_argpath_parse(path, &a->path) < 0)
		return fail(why, wl, -EINVAL, "rules: argument path %.128s: malformed", path);
	snprintf(a->text, sizeof a->text, "%s", path);
	if (max < 0 || max > AL_GATE_LENGTH_MAX)
		return fail(why, wl, -EINVAL, "rules: argument %.128s: max_length out of range", path);
	a->max_length = (uint32_t)max;
	if (prefix && (!json_is_array(prefix) || !json_array_size(prefix) ||
		       json_array_size(prefix) > AL_GATE_ARG_PREFIXES))
		return fail(why, wl, -EINVAL, "rules: argument %.128s: prefix: 1 to 16 paths", path);
	size_t i;
	json_t *x;
	json_array_foreach(prefix, i, x) {
		const char *s = json_string_value(x);
		size_t n = s ? json_string_length(x) : 0;
		if (!s || n > AL_GATE_PREFIX_MAX)
			return fail(why, wl, -EINVAL, "rules: argument %.128s: prefix: a path of at most 1024 bytes", path);
		char *norm = malloc(n + 2);
		if (!norm)
			return fail(why, wl, -ENOMEM, "rules: out of memory");
		a->prefix[a->n_prefix++] = norm;
		if (al_gate_path_normalise(s, n, norm) != AL_GATE_PATH_OK)
			return fail(why, wl, -EINVAL, "rules: argument %.128s: prefix: an absolute path, no '..'", path);
	}
	if (pattern) {
		char detail[200];
		if (al_gate_pattern_compile(pattern, &a->re, detail, sizeof detail) < 0)
			return fail(why, wl, -EINVAL, "rules: pattern: %s", detail);
		if (!(a->pattern = strdup(pattern))) {
			regfree(&a->re);
			return fail(why, wl, -ENOMEM, "rules: out of memory");
		}
	}
	if (!a->n_prefix && !a->max_length && !a->pattern)
		return fail(why, wl, -EINVAL, "rules: argument %.128s: no rule", path);
	return 0;
}

static int tool(json_t *v, struct al_gate_toolrule *t, char *why, size_t wl)
{
	json_t *args = NULL;
	int rc = limits(v, t, "tool", &args, why, wl);
	if (rc < 0)
		return rc;
	if (!args)
		return 0;
	if (!json_is_array(args) || json_array_size(args) > AL_GATE_ARG_RULES)
		return fail(why, wl, -EINVAL, "rules: %.64s: args: at most 16 argument rules", t->name);
	if (!json_array_size(args))
		return 0;
	if (!(t->args = calloc(json_array_size(args), sizeof *t->args)))
		return fail(why, wl, -ENOMEM, "rules: out of memory");
	size_t i;
	json_t *a;
	json_array_foreach(args, i, a) {
		rc = argrule(a, &t->args[t->n_args], why, wl);
		t->n_args++; /* freed whole, or as far as it got */
		if (rc < 0)
			return rc;
	}
	return 0;
}

int al_gate_rules_parse(const char *json, size_t len, struct al_gate_rules **out, char *why, size_t wl)
{
	*out = NULL;
	if (len > AL_GATE_RULES_MAX)
		return fail(why, wl, -EINVAL, "rules: over 64 KiB");
	json_error_t e;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
	if (!root)
		return fail(why, wl, -EINVAL, "rules: not JSON: %s", e.text);
	struct al_gate_rules *r = calloc(1, sizeof *r);
	json_t *def = NULL, *tools = NULL;
	int rc = -ENOMEM;
	if (!r)
		goto out;
	rc = -EINVAL;
	if (json_unpack_ex(root, &e, JSON_STRICT, "{s:o, s:o}", "default", &def, "tools", &tools) < 0) {
		fail(why, wl, rc, "rules: %s", e.text);
		goto out;
	}
	if ((rc = limits(def, &r->def, NULL, NULL, why, wl)) < 0)
		goto out;
	rc = -EINVAL;
	if (!json_is_array(tools) || json_array_size(tools) > AL_GATE_RULES_TOOLS) {
		fail(why, wl, rc, "rules: tools: at most 64");
		goto out;
	}
	rc = -ENOMEM;
	if (json_array_size(tools) && !(r->tools = calloc(json_array_size(tools), sizeof *r->tools)))
		goto out;
	size_t i;
	json_t *t;
	json_array_foreach(tools, i, t) {
		rc = tool(t, &r->tools[r->n_tools], why, wl);
		r->n_tools++;
		if (rc < 0)
			goto out;
		for (size_t k = 0; k + 1 < r->n_tools; k++)
			if (!strcmp(r->tools[k].name, r->tools[i].name)) {
				rc = fail(why, wl, -EINVAL, "rules: tool %.64s twice", r->tools[i].name);
				goto out;
			}
	}
	rc = 0;
out:
	if (rc == -ENOMEM)
		fail(why, wl, rc, "rules: out of memory");
	json_decref(root);
	if (rc < 0)
		al_gate_rules_free(r);
	else
		*out = r;
	return rc;
}

const struct al_gate_toolrule *al_gate_rules_find(const struct al_gate_rules *r, const char *tool)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n_tools; i++)
		if (!strcmp(r->tools[i].name, tool))
			return &r->tools[i];
	return &r->def;
}

void al_gate_rate_text(const struct al_gate_toolrule *t, char *buf, size_t len)
{
	const char *per = t->period_ms == 1000 ? "second" : t->period_ms == 60000 ? "minute" : "hour";
	snprintf(buf, len, "%u call%s a %s (burst %u)", t->rate, t->rate == 1 ? "" : "s", per, t->burst);
}

/* ---- the argument walk ---- */

struct walk {
	const struct al_gate_argrule *r;
	struct al_gate_arg_fault *f;
	char at[160];  /* the path as met, indices included (cut when longer) */
};

static int fault(struct walk *w, const char *rule, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fault(struct walk *w, const char *rule, const char *fmt, ...)
{
	snprintf(w->f->arg, sizeof w->f->arg, "%s", w->at);
	w->f->rule = rule;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->f->why, sizeof w->f->why, fmt, ap);
	va_end(ap);
	return -1;
}

/* Characters (code points) of valid UTF-8, as JSON Schema's maxLength counts. */
static size_t utf8_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static int leaf(struct walk *w, json_t *v)
{
	const struct al_gate_argrule *r = w->r;
	if (!json_is_string(v))
		return fault(w, "type", "must be a string");
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (memchr(s, '\0', len))
		return fault(w, "nul", "contains a NUL character");
	if (r->max_length && utf8_chars(s, len) > r->max_length)
		return fault(w, "max_length", "longer than %u characters", r->max_length);
	if (r->n_prefix) {
		char *norm = malloc(len + 2);
		if (!norm)
			return fault(w, "prefix", "out of memory");
		enum al_gate_path_fault pf = al_gate_path_normalise(s, len, norm);
		bool under = false;
		for (size_t i = 0; pf == AL_GATE_PATH_OK && !under && i < r->n_prefix; i++)
			under = al_gate_path_under(norm, r->prefix[i]);
		free(norm);
		if (pf == AL_GATE_PATH_RELATIVE)
			return fault(w, "prefix", "not an absolute path");
		if (pf == AL_GATE_PATH_DOTDOT)
			return fault(w, "prefix", "a '..' component is not allowed");
		if (!under) {
			char list[200] = "";
			for (size_t i = 0; i < r->n_prefix; i++) {
				size_t n = strlen(list);
				snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", r->prefix[i]);
			}
			return fault(w, "prefix", "not under an allowed path (%s)", list);
		}
	}
	if (r->pattern && !al_gate_pattern_match(&r->re, s))
		return fault(w, "pattern", "does not match the pattern %.200s", r->pattern);
	return 0;
}

/* ".name" or, without a name, "[index]" */
static void at_append(struct walk *w, const char *name, size_t index)
{
	size_t n = strlen(w->at);
	if (name)
		snprintf(w->at + n, sizeof w->at - n, ".%s", name);
	else
		snprintf(w->at + n, sizeof w->at - n, "[%zu]", index);
}

/* v: the value at component comp, depth of its "[]" applied. */
static int visit(struct walk *w, json_t *v, size_t comp, unsigned depth)
{
	const struct al_gate_argpath *p = &w->r->path;
	size_t mark = strlen(w->at);
	if (depth < p->c[comp].arrays) {
		if (!json_is_array(v))
			return fault(w, "type", "must be an array");
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) {
			at_append(w, NULL, i);
			if (visit(w, x, comp, depth + 1) < 0)
				return -1;
			w->at[mark] = '\0';
		}
		return 0;
	}
	if (comp + 1 == p->n)
		return leaf(w, v);
	if (!json_is_object(v))
		return fault(w, "type", "must be an object");
	json_t *x = json_object_get(v, p->c[comp + 1].name);
	if (!x)
		return 0; /* absent: whether it is required is the schema's business */
	at_append(w, p->c[comp + 1].name, 0);
	return visit(w, x, comp + 1, 0);
}

int al_gate_rules_check(const struct al_gate_toolrule *t, json_t *args, struct al_gate_arg_fault *f)
{
	for (size_t i = 0; t && i < t->n_args; i++) {
		struct walk w = { .r = &t->args[i], .f = f };
		if (!json_is_object(args)) {
			snprintf(w.at, sizeof w.at, "arguments");
			return fault(&w, "type", "must be an object");
		}
		json_t *x = json_object_get(args, w.r->path.c[0].name);
		if (!x)
			continue;
		snprintf(w.at, sizeof w.at, "%s", w.r->path.c[0].name);
		if (visit(&w, x, 0, 0) < 0)
			return -1;
	}
	return 0;
}
