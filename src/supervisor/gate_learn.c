/*
 * `airlock gate --learn` (gate_egress.h): every denial of the session is
 * counted, and at its end the policy keys that would have allowed them are
 * proposed as a patch that appends them to the policy file (INI sections may
 * repeat; a list key adds to the list, a scalar's last value wins). What no
 * key allows is listed as a comment, so that every refusal is seen. The
 * patch is printed and saved; it is never applied.
 *
 * What is seen: the gate's refusals (tools, server requests, sizes, rates,
 * methods, per-tool rules and timeouts: these as comments), the tool
 * domain's refused system calls (seccomp notifications)
 * and the egress domain's refused host:port. Not seen: files the server
 * failed to open, which fail inside its own mount namespace and Landlock
 * without any notification (listing them would need every openat trapped).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "supervisor/gate_egress.h"

#define LEARN_MAX 128

/* One proposal: a key (section, key, value), or a comment when key is "". */
struct learned {
	char section[24];
	char key[16];
	char value[300];
	char why[400];
	unsigned count;
};

struct al_gate_learn {
	const struct al_gate_policy *p;
	struct learned e[LEARN_MAX];
	size_t n;
	bool overflow;
};

int al_gate_learn_new(struct al_gate_learn **out, const struct al_gate_policy *p)
{
	*out = NULL;
	if (!p->learn)
		return 0;
	struct al_gate_learn *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->p = p;
	*out = l;
	return 0;
}

void al_gate_learn_free(struct al_gate_learn *l)
{
	free(l);
}

/* Counts one more of (section, key, value); the first sighting says why. */
static void note(struct al_gate_learn *l, const char *section, const char *key, const char *value, const char *why)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		struct learned *e = &l->e[i];
		if (!strcmp(e->section, section) && !strcmp(e->key, key) && !strcmp(e->value, value)) {
			e->count++;
			return;
		}
	}
	if (l->n == LEARN_MAX) {
		l->overflow = true;
		return;
	}
	struct learned *e = &l->e[l->n++];
	snprintf(e->section, sizeof e->section, "%s", section);
	snprintf(e->key, sizeof e->key, "%s", key);
	snprintf(e->value, sizeof e->value, "%s", value);
	snprintf(e->why, sizeof e->why, "%s", why);
	e->count = 1;
}

void al_gate_learn_record(struct al_gate_learn *l, const struct al_gate_record *g)
{
	if (!l || (g->event != AL_GATE_EV_REFUSED && g->event != AL_GATE_EV_DROPPED && g->event != AL_GATE_EV_TIMEOUT))
		return;
	const struct al_gate_policy *p = l->p;
	char v[300], why[400];
	switch (g->reason) {
	case AL_GATE_WHY_TOOL:
		snprintf(why, sizeof why, "tools/call of %s refused: not in [tools] allow", g->name);
		note(l, "tools", "allow", g->name, why);
		break;
	case AL_GATE_WHY_SERVER_REQUEST: {
		const char *k = !strcmp(g->method, "sampling/createMessage") ? "sampling"
				: !strcmp(g->method, "elicitation/create")   ? "elicitation"
				: !strcmp(g->method, "roots/list")	      ? "roots"
									      : NULL;
		snprintf(why, sizeof why, "the server's %s was denied", g->method);
		if (k)
			note(l, "server_requests", k, "pass", why);
		else
			note(l, "server_requests", "", g->method, why);
		break;
	}
	case AL_GATE_WHY_OVERSIZED: {
		bool line = g->from_client;
		uint64_t cur = line ? p->max_line : p->max_result, want = cur * 2 > (64u << 20) ? (64u << 20) : cur * 2;
		snprintf(v, sizeof v, "%lluk", (unsigned long long)(want >> 10));
		snprintf(why, sizeof why, "a message %s over %lluk was refused",
			 line ? "from the client" : "from the server", (unsigned long long)(cur >> 10));
		note(l, "gate", line ? "max_line" : "max_result", v, why);
		break;
	}
	case AL_GATE_WHY_FLOOD:
		snprintf(v, sizeof v, "%u", p->notify_rate * 2 > 100000 ? 100000 : p->notify_rate * 2);
		snprintf(why, sizeof why, "server notifications over %u a second were dropped", p->notify_rate);
		note(l, "gate", "notify_rate", v, why);
		break;
	case AL_GATE_WHY_METHOD:
		snprintf(why, sizeof why, "method %s refused: outside MCP's methods, no key allows it",
			 g->method[0] ? g->method : "(none)");
		note(l, "gate", "", g->method, why);
		break;
	case AL_GATE_WHY_UNPINNED:
		snprintf(why, sizeof why, "tools/call of %s refused: not in the server's approved tools/list", g->name);
		note(l, "tools", "", g->name, why);
		break;
	case AL_GATE_WHY_QUARANTINE:
		note(l, "tools", "", "quarantine",
		     "the server's tools changed since approval: review with `airlock gate approve`");
		break;
	case AL_GATE_WHY_ARGUMENTS:
		snprintf(why, sizeof why, "arguments of %s refused by its pinned inputSchema", g->name);
		note(l, "tools", "", g->name, why);
		break;
	case AL_GATE_WHY_RATE:
		snprintf(v, sizeof v, "rate:%s", g->name);
		snprintf(why, sizeof why, "tools/call of %s over its %s was refused: raise rate or burst in [tools.%s]",
			 g->name, g->rule, g->name);
		note(l, "tools", "", v, why);
		break;
	case AL_GATE_WHY_TIMEOUT:
		snprintf(v, sizeof v, "timeout:%s", g->name);
		snprintf(why, sizeof why, "%s did not answer within its %s: raise timeout in [tools.%s]", g->name,
			 g->rule, g->name);
		note(l, "tools", "", v, why);
		break;
	case AL_GATE_WHY_CONSTRAINT:
		snprintf(v, sizeof v, "arg:%s:%s:%s", g->name, g->arg, g->rule);
		snprintf(why, sizeof why, "argument %s of %s refused by the %s rule of [tools.%s]", g->arg, g->name,
			 g->rule, g->name);
		note(l, "tools", "", v, why);
		break;
	default:
		break; /* malformed, unsolicited, late, busy: the peer's fault, not the policy's */
	}
}

void al_gate_learn_syscall(struct al_gate_learn *l, const char *name)
{
	if (!l)
		return;
	char why[400];
	if (!strcmp(name, "execve") || !strcmp(name, "execveat")) {
		snprintf(why, sizeof why, "the server called %s: refused (it starts programs)", name);
		note(l, "tool", "exec", "true", why);
	} else if (!strcmp(name, "socket") && !l->p->n_egress) {
		note(l, "egress", "", "socket",
		     "the server opened a network socket: name the hosts it needs as allow = HOST:PORT");
	} else {
		snprintf(why, sizeof why, "the server called %s: refused (a profile file allowing it: [tool] profile)",
			 name);
		note(l, "tool", "", name, why);
	}
}

void al_gate_learn_egress(struct al_gate_learn *l, const char *host, uint16_t port)
{
	if (!l)
		return;
	char v[300], why[400];
	if (!port) {
		/* a name looked up: its port is not known until a connection */
		snprintf(why, sizeof why, "the name %s was looked up: allow it as %s:PORT for the port it needs", host,
			 host);
		note(l, "egress", "", host, why);
		return;
	}
	bool v6 = strchr(host, ':') != NULL;
	snprintf(v, sizeof v, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", port);
	snprintf(why, sizeof why, "a connection to %s was refused", v);
	note(l, "egress", "allow", v, why);
}

/* The proposal: a unified diff appending the keys to the policy file. */
static char *proposal(const struct al_gate_learn *l, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (!f)
		return NULL;
	const char *file = l->p->file;
	size_t lines = 0;
	char *text = NULL;
	size_t tl = 0;
	if (file && al_read_file_at(AT_FDCWD, file, 1u << 20, &text, &tl) == 0) {
		for (size_t i = 0; i < tl; i++)
			lines += text[i] == '\n';
		if (tl && text[tl - 1] != '\n')
			lines++;
	}
	free(text);
	/* the body first, to count its lines */
	char *body = NULL;
	size_t bsize = 0;
	FILE *b = open_memstream(&body, &bsize);
	if (!b) {
		fclose(f);
		free(buf);
		return NULL;
	}
	time_t now = time(NULL);
	char date[32];
	strftime(date, sizeof date, "%Y-%m-%d %H:%M", localtime(&now));
	unsigned blines = 0;
	fprintf(b, "+\n+; proposed by `airlock gate --learn` for %s on %s: what the session was refused\n", l->p->name,
		date);
	blines += 2;
	static const char *const order[] = { "gate", "tool", "tools", "server_requests", "egress" };
	for (size_t s = 0; s < AL_ARRAY_LEN(order); s++) {
		bool header = false;
		for (size_t i = 0; i < l->n; i++) {
			const struct learned *e = &l->e[i];
			if (strcmp(e->section, order[s]) != 0)
				continue;
			if (!header) {
				fprintf(b, "+[%s]\n", order[s]);
				blines++;
				header = true;
			}
			fprintf(b, "+; %s (%u time%s)\n", e->why, e->count, e->count == 1 ? "" : "s");
			blines++;
			if (e->key[0]) {
				fprintf(b, "+%s = %s\n", e->key, e->value);
				blines++;
			}
		}
	}
	if (l->overflow) {
		fprintf(b, "+; (more denials than this list holds: the rest are in the audit log)\n");
		blines++;
	}
	fclose(b);
	if (file)
		fprintf(f, "--- %s\n+++ %s (proposed)\n", file, file);
	else
		fprintf(f, "--- /dev/null\n+++ %s.ini (proposed)\n", l->p->name);
	fprintf(f, "@@ -%zu,0 +%zu,%u @@\n", lines, lines + 1, blines);
	fwrite(body, 1, bsize, f);
	free(body);
	fclose(f);
	*len = size;
	return buf;
}

void al_gate_learn_finish(struct al_gate_learn *l, const struct al_gate_state *st, FILE *out)
{
	if (!l)
		return;
	if (!l->n) {
		fprintf(out, "airlock gate: learn: %s: nothing was refused; no change to propose\n", l->p->name);
		return;
	}
	size_t len = 0;
	char *text = proposal(l, &len);
	if (!text) {
		al_log_warnx("gate: learn: out of memory");
		return;
	}
	char path[PATH_MAX] = "";
	bool saved = al_gate_put(st, "learned.diff", text, len) == 0 &&
		     al_gate_file(st, "learned.diff", path, sizeof path) == 0;
	fprintf(out,
		"airlock gate: learn: %s: %zu denial%s; the policy keys that would allow them (not applied%s%s):\n%s",
		l->p->name, l->n, l->n == 1 ? "" : "s", saved ? "; saved as " : "", saved ? path : "", text);
	fflush(out);
	free(text);
}
