/*
 * A JSON Schema subset validator: exactly the keywords our tools' input
 * schemas use (type, properties, required, additionalProperties: false,
 * minimum, maximum, minLength, maxLength, enum). The schema published in
 * tools/list is the one enforced here, so the two cannot drift. A keyword
 * this validator does not know makes validation fail closed.
 */
#include "mcp/mcp.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t utf8_chars(const char *s, size_t len)
{
	/* jansson has already checked the encoding: count non-continuation bytes. */
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

static bool type_matches(const char *type, const json_t *v)
{
	if (!strcmp(type, "object"))
		return json_is_object(v);
	if (!strcmp(type, "string"))
		return json_is_string(v);
	if (!strcmp(type, "integer"))
		return json_is_integer(v);
	if (!strcmp(type, "number"))
		return json_is_number(v);
	if (!strcmp(type, "boolean"))
		return json_is_boolean(v);
	/* a third-party server's schema (the gate's check) takes lists and nulls */
	if (!strcmp(type, "array"))
		return json_is_array(v);
	if (!strcmp(type, "null"))
		return json_is_null(v);
	return false;
}

static const char *const known_keywords[] = {
	"type", "properties", "required", "additionalProperties", "minimum", "maximum",
	"minLength", "maxLength", "enum", "description", "title", "default", "$schema",
};

static bool keyword_known(const char *k)
{
	for (size_t i = 0; i < sizeof(known_keywords) / sizeof(known_keywords[0]); i++)
		if (!strcmp(k, known_keywords[i]))
			return true;
	return false;
}

static int validate(const json_t *schema, const json_t *v, const char *path, char *why, size_t wl, bool strict)
{
	const char *k;
	json_t *kv;
	json_object_foreach((json_t *)schema, k, kv) {
		if (strict && !keyword_known(k)) {
			snprintf(why, wl, "%s: schema keyword %s unsupported", path, k);
			return -EINVAL;
		}
	}
	const char *type = json_string_value(json_object_get(schema, "type"));
	if (type && !type_matches(type, v)) {
		snprintf(why, wl, "%s: must be of type %s", path, type);
		return -EINVAL;
	}
	json_t *en = json_object_get(schema, "enum");
	if (en) {
		bool listed = false;
		size_t i;
		json_t *x;
		json_array_foreach(en, i, x)
			listed |= json_equal(x, v);
		if (!listed) {
			/* The listed values are the schema's own: safe to quote back. */
			char *list = json_is_array(en) ? json_dumps(en, JSON_COMPACT) : NULL;
			snprintf(why, wl, "%s: must be one of %s", path, list ? list : "(none)");
			free(list);
			return -EINVAL;
		}
	}
	if (json_is_number(v)) {
		double d = json_number_value(v);
		json_t *mn = json_object_get(schema, "minimum"), *mx = json_object_get(schema, "maximum");
		if (!isfinite(d)) {
			snprintf(why, wl, "%s: must be finite", path);
			return -EINVAL;
		}
		if (json_is_integer(v) && json_is_integer(mn) && json_integer_value(v) < json_integer_value(mn)) {
			snprintf(why, wl, "%s: must be >= %" JSON_INTEGER_FORMAT, path, json_integer_value(mn));
			return -EINVAL;
		}
		if (json_is_integer(v) && json_is_integer(mx) && json_integer_value(v) > json_integer_value(mx)) {
			snprintf(why, wl, "%s: must be <= %" JSON_INTEGER_FORMAT, path, json_integer_value(mx));
			return -EINVAL;
		}
		if (mn && d < json_number_value(mn)) {
			snprintf(why, wl, "%s: must be >= %g", path, json_number_value(mn));
			return -EINVAL;
		}
		if (mx && d > json_number_value(mx)) {
			snprintf(why, wl, "%s: must be <= %g", path, json_number_value(mx));
			return -EINVAL;
		}
	}
	if (json_is_string(v)) {
		size_t n = utf8_chars(json_string_value(v), json_string_length(v));
		json_t *mn = json_object_get(schema, "minLength"), *mx = json_object_get(schema, "maxLength");
		if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn)) {
			snprintf(why, wl, "%s: shorter than %" JSON_INTEGER_FORMAT " characters", path,
				 json_integer_value(mn));
			return -EINVAL;
		}
		if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx)) {
			snprintf(why, wl, "%s: longer than %" JSON_INTEGER_FORMAT " characters", path,
				 json_integer_value(mx));
			return -EINVAL;
		}
	}
	if (json_is_object(v)) {
		json_t *props = json_object_get(schema, "properties");
		json_t *req = json_object_get(schema, "required");
		size_t i;
		json_t *r;
		json_array_foreach(req, i, r) {
			if (json_is_string(r) && !json_object_get(v, json_string_value(r))) {
				snprintf(why, wl, "%s.%s: required", path, json_string_value(r));
				return -EINVAL;
			}
		}
		bool closed = json_is_false(json_object_get(schema, "additionalProperties"));
		json_object_foreach((json_t *)v, k, kv) {
			json_t *ps = json_object_get(props, k);
			char sub[160];
			snprintf(sub, sizeof(sub), "%s.%.64s", path, k);
			if (!ps) {
				if (closed) {
					snprintf(why, wl, "%s: unknown property", sub);
					return -EINVAL;
				}
				continue;
			}
			int rc = json_is_object(ps) ? validate(ps, kv, sub, why, wl, strict) : 0;
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int al_mcp_schema_validate(const json_t *schema, const json_t *value, char *why, size_t whylen)
{
	if (!json_is_object(schema) || !value) {
		snprintf(why, whylen, "arguments: missing");
		return -EINVAL;
	}
	return validate(schema, value, "arguments", why, whylen, true);
}

int al_mcp_schema_check(const json_t *schema, const json_t *value, char *why, size_t whylen)
{
	if (!json_is_object(schema) || !value) {
		snprintf(why, whylen, "arguments: missing");
		return -EINVAL;
	}
	return validate(schema, value, "arguments", why, whylen, false);
}
