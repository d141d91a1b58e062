/*
 * Argument rules (argrule.h): argument paths, the lexical path check and
 * the policy's patterns. No JSON and no I/O: regcomp and regexec only
 * allocate memory, so the gate domain runs them under its stage-2 filter.
 */
#include "workers/gate/argrule.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int al_gate_argpath_parse(const char *s, struct al_gate_argpath *out)
{
	memset(out, 0, sizeof *out);
	if (strlen(s) >= AL_GATE_ARG_PATH)
		return -EINVAL;
	for (;;) {
		if (out->n == AL_GATE_ARG_DEPTH)
			return -EINVAL;
		size_t n = 0;
		while (name_char(s[n]))
			n++;
		if (n == 0 || n >= AL_GATE_ARG_NAME)
			return -EINVAL;
		memcpy(out->c[out->n].name, s, n);
		s += n;
		while (!strncmp(s, "[]", 2)) {
			if (++out->c[out->n].arrays > AL_GATE_ARG_ARRAYS)
				return -EINVAL;
			s += 2;
		}
		out->n++;
		if (!*s)
			return 0;
		if (*s++ != '.')
			return -EINVAL;
	}
}

enum al_gate_path_fault al_gate_path_normalise(const char *s, size_t len, char *out)
{
	if (memchr(s, '\0', len))
		return AL_GATE_PATH_NUL;
	if (!len || s[0] != '/')
		return AL_GATE_PATH_RELATIVE;
	size_t o = 0, i = 0;
	while (i < len) {
		while (i < len && s[i] == '/')
			i++;
		size_t start = i;
		while (i < len && s[i] != '/')
			i++;
		size_t n = i - start;
		if (n == 0 || (n == 1 && s[start] == '.'))
			continue;
		if (n == 2 && s[start] == '.' && s[start + 1] == '.')
			return AL_GATE_PATH_DOTDOT;
		out[o++] = '/';
		memcpy(out + o, s + start, n);
		o += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return AL_GATE_PATH_OK;
}

bool al_gate_path_under(const char *norm, const char *prefix)
{
	size_t n = strlen(prefix);
	if (n == 1 && prefix[0] == '/')
		return norm[0] == '/';
	return !strncmp(norm, prefix, n) && (norm[n] == '\0' || norm[n] == '/');
}

int al_gate_pattern_compile(const char *pattern, regex_t *re, char *why, size_t wl)
{
	size_t n = strlen(pattern);
	if (!n || n > AL_GATE_PATTERN_MAX) {
		snprintf(why, wl, "a pattern of 1 to %d bytes", AL_GATE_PATTERN_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (pattern[i] < 0x20 || pattern[i] >= 0x7f) {
			snprintf(why, wl, "a pattern of printable ASCII");
			return -EINVAL;
		}
		if (pattern[i] == '\\' && pattern[i + 1] >= '1' && pattern[i + 1] <= '9') {
			snprintf(why, wl, "back-references (\\%c) are not allowed", pattern[i + 1]);
			return -EINVAL;
		}
	}
	/* valid on its own first: wrapping could balance a stray parenthesis */
	int rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
	if (rc == 0) {
		regfree(re);
		char whole[AL_GATE_PATTERN_MAX + 8];
		snprintf(whole, sizeof whole, "^(%s)$", pattern);
		rc = regcomp(re, whole, REG_EXTENDED | REG_NOSUB);
	}
	if (rc != 0) {
		char msg[128];
		regerror(rc, re, msg, sizeof msg);
		snprintf(why, wl, "not a POSIX extended regular expression: %s", msg);
		return -EINVAL;
	}
	return 0;
}

bool al_gate_pattern_match(const regex_t *re, const char *s)
{
	return regexec(re, s, 0, NULL, 0) == 0;
}
