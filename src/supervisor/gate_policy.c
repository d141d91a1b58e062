/*
 * Gate policies (gate_policy.h), read with inih. Every value is checked
 * here: the gate domain gets only numbers and names it can trust the shape of.
 */
#include "supervisor/gate_policy.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "supervisor/gate_tools.h"
#include "workers/egress/rule.h"

void al_gate_policy_init(struct al_gate_policy *p, const char *name)
{
	*p = (struct al_gate_policy){ .max_line = 1u << 20, .max_result = 4u << 20, .notify_rate = 50,
				      .all_tools = true };
	snprintf(p->name, sizeof p->name, "%s", name && *name ? name : "server");
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

void al_gate_policy_free(struct al_gate_policy *p)
{
	free(p->profile);
	free_list(p->ro, p->n_ro);
	free_list(p->rw, p->n_rw);
	free_list(p->env, p->n_env);
	free_list(p->secret_name, p->n_secrets);
	free_list(p->secret_file, p->n_secrets);
	free_list(p->tools, p->n_tools);
	free_list(p->egress, p->n_egress);
	al_gate_tools_free(p);
	free(p->file);
	free(p->npm);
	free(p->bin);
	free(p->registry);
	memset(p, 0, sizeof *p);
}

struct parse {
	struct al_gate_policy *p;
	const char *origin;
	bool failed;
	const char *text;   /* the reader's position */
	int line;           /* of the line last read, for messages */
	char section[200];  /* the last section's whole name (inih keeps 49 bytes of it) */
	int section_line;
};

/* inih's line reader (this inih passes no line numbers to the handler). */
static char *reader(char *str, int num, void *stream)
{
	struct parse *ps = stream;
	if (!*ps->text)
		return NULL;
	size_t n = strcspn(ps->text, "\n");
	ps->line++;
	if (n + 2 > (size_t)num) {
		al_log_warnx("%s:%d: line too long", ps->origin, ps->line);
		ps->failed = true;
		return NULL;
	}
	memcpy(str, ps->text, n);
	str[n] = '\n';
	str[n + 1] = '\0';
	/* a section line as inih reads it: '[' after blanks (and a BOM), up to the first ']' */
	const char *l = str + (ps->line == 1 && !strncmp(str, "\xef\xbb\xbf", 3) ? 3 : 0);
	l += strspn(l, " \t\r\f\v");
	if (*l == '[') {
		size_t k = strcspn(l + 1, "]\n");
		snprintf(ps->section, sizeof ps->section, "%.*s", (int)k, l + 1);
		ps->section_line = ps->line;
	}
	ps->text += n + (ps->text[n] == '\n');
	return str;
}

static int bad(struct parse *ps, int line, const char *sec, const char *key, const char *why)
{
	al_log_warnx("%s:%d: [%s] %s: %s", ps->origin, line, sec, key, why);
	ps->failed = true;
	return 0; /* inih: stop at the first error */
}

static bool env_name_ok(const char *s)
{
	if (!*s || strlen(s) > 64 || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* A tool or policy name: printable ASCII without spaces or slashes, not
 * starting with a dot (a policy name is a directory: never "..", and the
 * install cache's ".cache" is nobody's name). */
static bool token_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (!n || n > max || s[0] == '.')
		return false;
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f || *s == '/')
			return false;
	return true;
}

static int push(char **v, size_t *n, const char *val)
{
	if (*n == AL_GATE_POLICY_MAX)
		return -E2BIG;
	if (!(v[*n] = strdup(val)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int bool_value(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* Each word of a value (comma or space separated) through fn. */
static int each_word(struct parse *ps, int line, const char *sec, const char *key, const char *val,
		     int (*fn)(struct parse *, const char *))
{
	char buf[1024];
	if (strlen(val) >= sizeof buf)
		return bad(ps, line, sec, key, "value too long");
	snprintf(buf, sizeof buf, "%s", val);
	char *save = NULL;
	for (char *w = strtok_r(buf, ", \t", &save); w; w = strtok_r(NULL, ", \t", &save)) {
		int rc = fn(ps, w);
		if (rc == -E2BIG)
			return bad(ps, line, sec, key, "too many values");
		if (rc < 0)
			return bad(ps, line, sec, key, rc == -ENOMEM ? "out of memory" : "bad value");
	}
	return 1;
}

static int add_env(struct parse *ps, const char *w)
{
	return env_name_ok(w) ? push(ps->p->env, &ps->p->n_env, w) : -EINVAL;
}

static int add_tool(struct parse *ps, const char *w)
{
	if (!strcmp(w, "*")) {
		ps->p->all_tools = true;
		return 0;
	}
	ps->p->all_tools = false;
	return token_ok(w, 63) ? push(ps->p->tools, &ps->p->n_tools, w) : -EINVAL;
}

/* host:port, [v6]:port or *.suffix:port (workers/egress/rule.h), once each */
static int add_egress(struct parse *ps, const char *w)
{
	struct al_egress_rule r;
	if (al_egress_rule_parse(w, &r) < 0)
		return -EINVAL;
	for (size_t i = 0; i < ps->p->n_egress; i++)
		if (!strcmp(ps->p->egress[i], w))
			return 0;
	return push(ps->p->egress, &ps->p->n_egress, w);
}

static int gate_key(struct parse *ps, int line, const char *key, const char *val)
{
	struct al_gate_policy *p = ps->p;
	uint64_t v;
	if (!strcmp(key, "name")) {
		if (!token_ok(val, sizeof p->name - 1))
			return bad(ps, line, "gate", key, "a name of printable characters, no spaces or '/'");
		snprintf(p->name, sizeof p->name, "%s", val);
		p->named = true;
	} else if (!strcmp(key, "max_line") || !strcmp(key, "max_result")) {
		if (al_parse_size(val, &v) < 0 || v < 1024 || v > (64u << 20))
			return bad(ps, line, "gate", key, "a size from 1k to 64M");
		*(!strcmp(key, "max_line") ? &p->max_line : &p->max_result) = v;
	} else if (!strcmp(key, "notify_rate")) {
		if (al_parse_u64(val, &v) < 0 || v == 0 || v > 100000)
			return bad(ps, line, "gate", key, "notifications per second, 1 to 100000");
		p->notify_rate = (uint32_t)v;
	} else if (!strcmp(key, "learn")) {
		if (bool_value(val, &p->learn) < 0)
			return bad(ps, line, "gate", key, "true or false");
	} else
		return bad(ps, line, "gate", key, "unknown key");
	return 1;
}

static int tool_key(struct parse *ps, int line, const char *key, const char *val)
{
	struct al_gate_policy *p = ps->p;
	uint64_t v;
	if (!strcmp(key, "profile")) {
		if (!*val)
			return bad(ps, line, "tool", key, "a profile name or file");
		free(p->profile);
		if (!(p->profile = strdup(val)))
			return bad(ps, line, "tool", key, "out of memory");
	} else if (!strcmp(key, "ro") || !strcmp(key, "rw")) {
		if (val[0] != '/')
			return bad(ps, line, "tool", key, "an absolute path");
		int rc = !strcmp(key, "ro") ? push(p->ro, &p->n_ro, val) : push(p->rw, &p->n_rw, val);
		if (rc < 0)
			return bad(ps, line, "tool", key, "too many paths");
	} else if (!strcmp(key, "env")) {
		return each_word(ps, line, "tool", key, val, add_env);
	} else if (!strncmp(key, "secret.", 7)) {
		if (!env_name_ok(key + 7) || val[0] != '/')
			return bad(ps, line, "tool", key, "secret.NAME = /absolute/file");
		if (p->n_secrets == AL_GATE_POLICY_MAX)
			return bad(ps, line, "tool", key, "too many secrets");
		char *n = strdup(key + 7), *f = strdup(val);
		if (!n || !f) {
			free(n);
			free(f);
			return bad(ps, line, "tool", key, "out of memory");
		}
		p->secret_name[p->n_secrets] = n;
		p->secret_file[p->n_secrets++] = f;
	} else if (!strcmp(key, "memory")) {
		if (al_parse_size(val, &v) < 0 || v < (16u << 20))
			return bad(ps, line, "tool", key, "a size of at least 16M");
		p->memory = v;
	} else if (!strcmp(key, "pids")) {
		if (al_parse_u64(val, &v) < 0 || v == 0 || v > 65536)
			return bad(ps, line, "tool", key, "1 to 65536");
		p->pids = v;
	} else if (!strcmp(key, "unenforced")) {
		if (strcmp(val, "accept") != 0 && strcmp(val, "refuse") != 0)
			return bad(ps, line, "tool", key, "accept or refuse");
		p->accept_unenforced = !strcmp(val, "accept");
	} else if (!strcmp(key, "exec")) {
		if (bool_value(val, &p->exec) < 0)
			return bad(ps, line, "tool", key, "true or false");
	} else
		return bad(ps, line, "tool", key, "unknown key");
	return 1;
}

/* npm's package name rules: lower case, digits, '-', '.', '_', '~'; an
 * optional @scope/ of the same; at most 214 characters. */
static bool npm_name_ok(const char *s, size_t n)
{
	if (!n || n > 214 || s[0] == '.' || s[0] == '_')
		return false;
	size_t slash = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '/' && s[0] == '@' && !slash && i > 1 && i + 1 < n)
			slash = i;
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
			   c == '~' || (c == '@' && i == 0)))
			return false;
	}
	return s[0] != '@' || slash;
}

/* An exact version: MAJOR.MINOR.PATCH, an optional -pre.release and +build;
 * never a range or a tag, so what is installed is what the policy says. */
static bool npm_version_ok(const char *v)
{
	int dots = 0;
	const char *s = v;
	for (; *s && *s != '-' && *s != '+'; s++) {
		if (*s == '.') {
			if (s == v || s[-1] == '.' || ++dots > 2)
				return false;
		} else if (*s < '0' || *s > '9') {
			return false;
		}
	}
	if (dots != 2 || s[-1] == '.')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		      *s == '-' || *s == '+'))
			return false;
	return true;
}

/* https://HOST[:PORT][/PATH] with a plain host name or address. */
static bool registry_ok(const char *v)
{
	if (strncmp(v, "https://", 8) != 0 || strlen(v) > 512)
		return false;
	const char *h = v + 8;
	size_t hn = strcspn(h, ":/");
	if (!hn)
		return false;
	for (size_t i = 0; i < hn; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') || (h[i] >= '0' && h[i] <= '9') ||
		      h[i] == '-' || h[i] == '.'))
			return false;
	if (h[hn] == ':') {
		char *end;
		unsigned long port = strtoul(h + hn + 1, &end, 10);
		if (end == h + hn + 1 || port == 0 || port > 65535 || (*end && *end != '/'))
			return false;
		h = end;
		hn = 0;
	}
	for (const char *s = h + hn; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return false;
	return true;
}

static int install_key(struct parse *ps, int line, const char *key, const char *val)
{
	struct al_gate_policy *p = ps->p;
	char **slot;
	if (!strcmp(key, "npm")) {
		const char *at = strrchr(val, '@');
		if (!at || at == val || !npm_name_ok(val, (size_t)(at - val)) || !npm_version_ok(at + 1))
			return bad(ps, line, "install", key, "an npm package at an exact version (name@1.2.3, @scope/name@1.2.3)");
		slot = &p->npm;
	} else if (!strcmp(key, "bin")) {
		if (!token_ok(val, 214))
			return bad(ps, line, "install", key, "a program name of the package (node_modules/.bin)");
		slot = &p->bin;
	} else if (!strcmp(key, "registry")) {
		if (!registry_ok(val))
			return bad(ps, line, "install", key, "https://host[:port][/path]");
		slot = &p->registry;
	} else {
		return bad(ps, line, "install", key, "unknown key");
	}
	free(*slot);
	if (!(*slot = strdup(val)))
		return bad(ps, line, "install", key, "out of memory");
	return 1;
}

static int handler(void *user, const char *sec, const char *key, const char *val)
{
	struct parse *ps = user;
	int line = ps->line;
	if (!key)
		return 1; /* a section line: checked with its first key */
	/* [tools.NAME] may be longer than what inih keeps of a section's name */
	if (!strncmp(sec, "tools.", 6) && !strncmp(ps->section, sec, strlen(sec))) {
		char why[300];
		int rc = al_gate_tools_section_key(ps->p, ps->section + 6, ps->section_line, key, val, why, sizeof why);
		return rc < 0 ? bad(ps, line, ps->section, key, why) : 1;
	}
	if (!strcmp(sec, "gate"))
		return gate_key(ps, line, key, val);
	if (!strcmp(sec, "tool"))
		return tool_key(ps, line, key, val);
	if (!strcmp(sec, "install"))
		return install_key(ps, line, key, val);
	if (!strcmp(sec, "tools")) {
		char why[300];
		int rc = al_gate_tools_default_key(ps->p, key, val, why, sizeof why);
		if (rc == -ENOENT && strcmp(key, "allow") != 0)
			return bad(ps, line, sec, key, "unknown key (allow, rate, burst, timeout)");
		if (rc == -ENOENT)
			return each_word(ps, line, sec, key, val, add_tool);
		return rc < 0 ? bad(ps, line, sec, key, why) : 1;
	}
	if (!strcmp(sec, "egress")) {
		if (strcmp(key, "allow") != 0)
			return bad(ps, line, sec, key, "unknown key");
		return each_word(ps, line, sec, key, val, add_egress);
	}
	if (!strcmp(sec, "server_requests")) {
		bool *b = !strcmp(key, "sampling") ? &ps->p->sampling : !strcmp(key, "elicitation") ? &ps->p->elicitation
			  : !strcmp(key, "roots") ? &ps->p->roots : NULL;
		if (!b)
			return bad(ps, line, sec, key, "unknown key");
		if (!strcmp(val, "deny"))
			*b = false;
		else if (!strcmp(val, "pass"))
			*b = true;
		else
			return bad(ps, line, sec, key, "deny or pass");
		return 1;
	}
	return bad(ps, line, sec, key, "unknown section");
}

int al_gate_policy_load_mem(struct al_gate_policy *p, const char *buf, size_t len, const char *origin)
{
	char *s = malloc(len + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, buf, len);
	s[len] = '\0';
	if (strlen(s) != len) {
		free(s);
		al_log_warnx("%s: a NUL byte in the policy", origin);
		return -EINVAL;
	}
	struct parse ps = { .p = p, .origin = origin, .text = s };
	int rc = ini_parse_stream(reader, &ps, handler, &ps);
	free(s);
	if (rc > 0 && !ps.failed)
		al_log_warnx("%s:%d: not an INI line", origin, rc);
	if (rc != 0 || ps.failed)
		return -EINVAL;
	char why[300];
	int line;
	if ((rc = al_gate_tools_check(p, &line, why, sizeof why)) < 0) {
		if (line)
			al_log_warnx("%s:%d: %s", origin, line, why);
		else
			al_log_warnx("%s: %s", origin, why);
	}
	return rc;
}

int al_gate_policy_load(struct al_gate_policy *p, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = al_read_file_at(AT_FDCWD, path, 1u << 20, &buf, &len);
	if (rc < 0) {
		al_log_warnx("%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = al_gate_policy_load_mem(p, buf, len, path);
	free(buf);
	free(p->file);
	if (rc == 0 && !(p->file = strdup(path)))
		rc = -ENOMEM;
	return rc;
}
