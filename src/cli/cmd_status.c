/*
 * airlock status / airlock stop: clients of the supervisor's control socket.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/util.h"
#include "supervisor/config.h"
#include "supervisor/control.h"


static const char status_usage[] =
	"usage: airlock status [--json] [--config FILE | --control PATH]\n"
	"\n"
	"Shows the running supervisor's state: uptime, security level, and for each\n"
	"domain its pid, state, restarts, memory, CPU time and the protections read\n"
	"back from the kernel when it started. Instances that MCP clients started\n"
	"with `airlock run --stdio` (each its own, under STATE_DIR/stdio/) are\n"
	"listed after it, one line each.\n"
	"\n"
	"  --json          print the supervisor's answer as JSON (the stdio\n"
	"                  instances' under \"stdio_instances\")\n"
	"  --config FILE   find the control socket in FILE (default: the built-in\n"
	"                  configuration's, STATE_DIR/control.sock)\n"
	"  --control PATH  control socket\n";

static const char stop_usage[] =
	"usage: airlock stop [--config FILE | --control PATH]\n"
	"\n"
	"Asks the running supervisor to stop: domains end, nothing is left behind.\n"
	"\n"
	"  --config FILE   find the control socket in FILE\n"
	"  --control PATH  control socket\n";

/* The running stdio instances: each answers on STATE_DIR/stdio/PID/control.sock. */
static json_t *stdio_instances(const char *state_dir)
{
	json_t *out = json_array();
	char dir[512];
	snprintf(dir, sizeof dir, "%s/stdio", state_dir);
	DIR *d = state_dir[0] ? opendir(dir) : NULL;
	if (!d)
		return out;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char sock[800];
		snprintf(sock, sizeof sock, "%s/%s/control.sock", dir, e->d_name);
		json_t *r = NULL;
		if (al_control_call(sock, AL_CONTROL_STATUS, 0, &r) == 0 && json_is_true(json_object_get(r, "ok"))) {
			json_object_set_new(r, "instance", json_string(e->d_name));
			json_object_set_new(r, "control", json_string(sock));
			json_array_append_new(out, r);
		} else {
			json_decref(r);
		}
	}
	closedir(d);
	return out;
}

static void print_instance(json_t *r)
{
	printf("stdio instance %s  level %s  up %.0f s", json_string_value(json_object_get(r, "instance")),
	       json_string_value(json_object_get(r, "level")), json_real_value(json_object_get(r, "uptime_s")));
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(r, "domains"), i, d)
		printf("  %s %s (pid %lld)", json_string_value(json_object_get(d, "name")),
		       json_string_value(json_object_get(d, "state")), (long long)json_integer_value(json_object_get(d, "pid")));
	printf("\n");
}

static void print_value(const char *key, json_t *v, int indent)
{
	if (json_is_object(v)) {
		printf("%*s%s:\n", indent, "", key);
		const char *k;
		json_t *sub;
		json_object_foreach(v, k, sub)
			print_value(k, sub, indent + 2);
		return;
	}
	char *t = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	printf("%*s%-26s %s\n", indent, "", key, t ? t : json_string_value(v));
	free(t);
}

/* The scheduling read back now (the real-time class's I/O threads are set after start). */
static void print_sched(json_t *sc)
{
	if (!json_is_object(sc))
		return;
	printf("  scheduling, read back now: class %s\n", json_string_value(json_object_get(sc, "class")) ?: "?");
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(sc, "threads"), i, t) {
		const char *pol = json_string_value(json_object_get(t, "policy")) ?: "?";
		long long prio = json_integer_value(json_object_get(t, "priority"));
		printf("    thread %-7lld %-16s %s", (long long)json_integer_value(json_object_get(t, "tid")),
		       json_string_value(json_object_get(t, "name")) ?: "?", pol);
		if (strcmp(pol, "SCHED_RR") == 0 || strcmp(pol, "SCHED_FIFO") == 0)
			printf(" priority %lld", prio);
		else
			printf(" nice %lld", (long long)json_integer_value(json_object_get(t, "nice")));
		if (json_is_integer(json_object_get(t, "slice_us")))
			printf(", slice %lld us", (long long)json_integer_value(json_object_get(t, "slice_us")));
		printf(", CPUs %s\n", json_string_value(json_object_get(t, "cpus")) ?: "?");
	}
	json_t *io = json_object_get(sc, "io_threads");
	if (!io)
		return;
	const char *name = json_string_value(json_object_get(io, "name"));
	const char *want = json_string_value(json_object_get(io, "want"));
	const char *refused = json_string_value(json_object_get(io, "refused"));
	long long set = json_integer_value(json_object_get(io, "set"));
	long long found = json_integer_value(json_object_get(io, "found"));
	long long max = json_integer_value(json_object_get(io, "max"));
	if (json_object_get(io, "calm")) /* adaptive: real-time only while contended */
		printf("    I/O threads (%s): %lld found (at most %lld), %lld at %s now", name, found, max, set, want);
	else
		printf("    I/O threads (%s) at %s: %lld of %lld found (at most %lld)", name, want, set, found, max);
	printf("%s%s\n", refused ? "; refused: " : "", refused ? refused : "");
	json_t *pr = json_object_get(sc, "pressure");
	if (pr && json_is_string(json_object_get(pr, "error")))
		printf("    adaptive: CPU pressure unreadable (%s): real-time throughout\n",
		       json_string_value(json_object_get(pr, "error")));
	else if (pr)
		printf("    adaptive: real-time while tasks wait for a CPU; now %s (%.1f %% over the last 100 ms), %lld "
		       "switches\n",
		       json_is_true(json_object_get(io, "calm")) ? "calm, default class" : "contended, real-time",
		       json_number_value(json_object_get(pr, "pct")),
		       (long long)json_integer_value(json_object_get(pr, "switches")));
	printf("    I/O threads follow their clients' CPUs: %s\n",
	       json_is_true(json_object_get(sc, "follow_client")) ? "yes" : "no (the domain is pinned, or not real-time)");
	printf("    real-time budget: %s\n", json_string_value(json_object_get(sc, "rt_budget")) ?: "?");
	printf("    RLIMIT_RTTIME: %s us\n", json_string_value(json_object_get(sc, "rlimit_rttime_us")) ?: "?");
}

static int status_run(int argc, char **argv)
{
	bool json = false;
	char control[256], state_dir[256] = "";
	int rc = al_cli_control_opts(&al_cmd_status, argc, argv, &json, NULL, control, sizeof control);
	if (rc)
		return rc;
	/* The state directory is where the instance's socket is (STATE_DIR/control.sock). */
	const char *slash = strrchr(control, '/');
	if (slash && strcmp(slash, "/control.sock") == 0 && (size_t)(slash - control) < sizeof state_dir)
		snprintf(state_dir, sizeof state_dir, "%.*s", (int)(slash - control), control);
	json_t *inst = stdio_instances(state_dir), *r = NULL;
	size_t n;
	json_t *one;
	/* No instance on the configuration's socket, but stdio ones: those. */
	if (json_array_size(inst) && al_control_call(control, AL_CONTROL_STATUS, 0, &r) < 0) {
		if (json) {
			json_t *doc = json_pack("{s:b, s:O}", "ok", 1, "stdio_instances", inst);
			json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			putchar('\n');
			json_decref(doc);
		} else {
			json_array_foreach(inst, n, one)
				print_instance(one);
		}
		json_decref(inst);
		return AL_EXIT_OK;
	}
	json_decref(r);
	if ((rc = al_cli_control_call(control, AL_CONTROL_STATUS, 0, "supervisor", &r))) {
		json_decref(inst);
		return rc;
	}
	if (json_array_size(inst))
		json_object_set(r, "stdio_instances", inst);
	if (json) {
		json_dumpf(r, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		printf("airlock %s  level %s  up %.0f s  listening on %s  seccomp violations %lld\n",
		       json_string_value(json_object_get(r, "version")), json_string_value(json_object_get(r, "level")),
		       json_real_value(json_object_get(r, "uptime_s")), json_string_value(json_object_get(r, "listen")),
		       (long long)json_integer_value(json_object_get(r, "seccomp_violations")));
		size_t i;
		json_t *d;
		json_array_foreach(json_object_get(r, "domains"), i, d) {
			json_t *u = json_object_get(d, "usage");
			printf("\ndomain %-6s %-10s pid %-7lld restarts %lld", json_string_value(json_object_get(d, "name")),
			       json_string_value(json_object_get(d, "state")),
			       (long long)json_integer_value(json_object_get(d, "pid")),
			       (long long)json_integer_value(json_object_get(d, "restarts")));
			if (u)
				printf("  rss %lld KiB  cpu %.2f s", (long long)json_integer_value(json_object_get(u, "rss_kib")),
				       json_real_value(json_object_get(u, "cpu_seconds")));
			printf("\n");
			print_sched(json_object_get(d, "sched"));
			json_t *att = json_object_get(d, "attested");
			json_t *items = json_object_get(att, "items");
			if (json_is_array(items)) {
				printf("  protections read back from the kernel at start (%s):\n",
				       json_is_true(json_object_get(att, "ok")) ? "all as specified" : "MISMATCH");
				size_t k;
				json_t *it;
				json_array_foreach(items, k, it)
					printf("    %-4s %-32s %s\n", json_is_true(json_object_get(it, "ok")) ? "ok" : "BAD",
					       json_string_value(json_object_get(it, "item")) ?: "?",
					       json_string_value(json_object_get(it, "actual")) ?: "?");
			} else if (json_is_object(att)) {
				const char *k;
				json_t *v;
				json_object_foreach(att, k, v)
					print_value(k, v, 4);
			}
		}
		if (json_array_size(inst))
			printf("\n");
		json_array_foreach(inst, n, one)
			print_instance(one);
	}
	json_decref(inst);
	json_decref(r);
	return AL_EXIT_OK;
}

static int stop_run(int argc, char **argv)
{
	char control[256];
	int rc = al_cli_control_opts(&al_cmd_stop, argc, argv, NULL, NULL, control, sizeof control);
	if (rc)
		return rc;
	json_t *r;
	if ((rc = al_cli_control_call(control, AL_CONTROL_STOP, 0, "supervisor", &r)))
		return rc;
	printf("airlock: %s\n", json_string_value(json_object_get(r, "message")) ?: "stopping");
	json_decref(r);
	return AL_EXIT_OK;
}

const struct al_cmd al_cmd_status = {
	.name = "status",
	.summary = "show the running supervisor's domains and attested protections",
	.usage = status_usage,
	.run = status_run,
};

const struct al_cmd al_cmd_stop = {
	.name = "stop",
	.summary = "stop the running supervisor cleanly",
	.usage = stop_usage,
	.run = stop_run,
};
