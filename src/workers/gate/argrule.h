/*
 * Argument rules beyond the pinned schema (docs/gate.md, `[tools.NAME]`
 * `arg.PATH.prefix|max_length|pattern`): the pieces that need no JSON, shared
 * by the supervisor (which checks a policy with them) and the gate domain
 * (which checks arguments with them).
 *
 *   struct al_gate_argpath ap;
 *   al_gate_argpath_parse("edits[].path", &ap);     // 0 or -EINVAL
 *   al_gate_path_normalise("/srv//a/./b", 11, buf, sizeof buf);  // "/srv/a/b"
 *   al_gate_path_under("/srv/a/b", "/srv");          // true
 *   al_gate_pattern_compile("[a-z]+", &re, why, sizeof why);
 *
 * An argument path names a value inside tools/call's arguments: member names
 * joined by '.', each followed by any number of "[]" (every element of an
 * array). "path", "paths[]", "options.cwd", "edits[].path", "grid[][]".
 */
#ifndef AL_GATE_ARGRULE_H
#define AL_GATE_ARGRULE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#define AL_GATE_ARG_DEPTH 8       /* components of an argument path */
#define AL_GATE_ARG_NAME 64       /* one component's name, NUL included */
#define AL_GATE_ARG_PATH 128      /* a whole argument path, NUL included */
#define AL_GATE_ARG_ARRAYS 4      /* "[]" after one component */
#define AL_GATE_PATTERN_MAX 256   /* bytes of a pattern */
#define AL_GATE_PREFIX_MAX 1024   /* bytes of a path prefix */

/* Bounds of the per-tool rules, the policy's and the gate domain's (rules.h). */
#define AL_GATE_RULES_MAX (64u << 10) /* bytes of the encoded rules */
#define AL_GATE_RULES_TOOLS 64        /* tools with rules of their own */
#define AL_GATE_ARG_RULES 16          /* argument rules of one tool */
#define AL_GATE_ARG_PREFIXES 16       /* prefixes of one argument rule */
#define AL_GATE_RATE_MAX 100000u      /* calls a period, and burst */
#define AL_GATE_TIMEOUT_MIN 10u       /* ms */
#define AL_GATE_TIMEOUT_MAX 86400000u /* ms: a day */
#define AL_GATE_LENGTH_MAX (64u << 20) /* max_length, characters */

struct al_gate_argpath {
	size_t n;
	struct {
		char name[AL_GATE_ARG_NAME];
		unsigned arrays;  /* how many "[]" follow it */
	} c[AL_GATE_ARG_DEPTH];
};

/* Names of [A-Za-z0-9_-], 1 to 63 bytes; 0 or -EINVAL. */
int al_gate_argpath_parse(const char *s, struct al_gate_argpath *out);

enum al_gate_path_fault {
	AL_GATE_PATH_OK = 0,
	AL_GATE_PATH_NUL,       /* a NUL character */
	AL_GATE_PATH_RELATIVE,  /* does not start with '/' */
	AL_GATE_PATH_DOTDOT,    /* a ".." component */
};

/*
 * The lexical form of the path s (len bytes) into out (at least len + 1
 * bytes): repeated '/' and "." components removed, no trailing '/' ("/"
 * stays "/"). A ".." component is refused, not resolved: the kernel resolves
 * it after following the symbolic link before it, which a lexical rule
 * cannot see.
 */
enum al_gate_path_fault al_gate_path_normalise(const char *s, size_t len, char *out);

/* norm (normalised) is prefix (normalised) or below it. */
bool al_gate_path_under(const char *norm, const char *prefix);

/*
 * A policy's pattern: a POSIX extended regular expression of printable
 * ASCII, at most AL_GATE_PATTERN_MAX bytes, no back-references (their
 * matching cost grows exponentially), matched against the whole value, byte
 * by byte (the C locale). Compiled into re (al_gate_pattern_match, regfree);
 * 0, or -EINVAL with why.
 */
int al_gate_pattern_compile(const char *pattern, regex_t *re, char *why, size_t wl);
bool al_gate_pattern_match(const regex_t *re, const char *s);

#endif
