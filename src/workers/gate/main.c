/*
 * airlock-gate: the gate domain's worker. Holds the MCP client's stdio and
 * the pipes to the tool domain, and nothing else (include/airlock/worker.h).
 *
 *   1. options: the policy's limits, tools and server-request rules, the pin,
 *      the per-tool rules (rules.h: decoded and their patterns compiled here,
 *      before the lockdown; matching afterwards only allocates memory);
 *   2. lock down: a stage-2 filter allowing only I/O on the fds it holds;
 *   3. move lines: each complete line goes through the gate (gate.c) in its
 *      direction; a line over the cap is refused and skipped to its end; poll
 *      wakes for the next tools/call timeout too;
 *   4. the client's EOF closes the server's stdin; the server's EOF ends it.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "workers/gate/gate.h"
#include "workers/stage2/stage2.h"

static void usage(void)
{
	fputs("usage: airlock-gate [--max-line BYTES] [--max-result BYTES] [--notify-rate N]\n"
	      "                    [--tool NAME]... [--all-tools] [--sampling deny|pass]\n"
	      "                    [--elicitation deny|pass] [--roots deny|pass] [--pin HEX]\n"
	      "                    [--rules JSON]\n"
	      "Run by `airlock gate` in the gate domain, with the fds of include/airlock/worker.h.\n",
	      stderr);
}

struct io_ctx {
	bool client_broken, server_broken;
	bool report_broken;
};

static void put_line(int fd, bool *broken, const char *line, size_t len)
{
	if (*broken)
		return;
	if (al_write_all(fd, line, len) < 0 || al_write_all(fd, "\n", 1) < 0)
		*broken = true;
}

static void to_client(void *ctx, const char *line, size_t len)
{
	struct io_ctx *c = ctx;
	put_line(AL_GATE_FD_CLIENT_OUT, &c->client_broken, line, len);
}

static void to_server(void *ctx, const char *line, size_t len)
{
	struct io_ctx *c = ctx;
	put_line(AL_GATE_FD_TOOL_IN, &c->server_broken, line, len);
}

static void report(void *ctx, const struct al_gate_record *r, const void *blob, size_t len)
{
	struct io_ctx *c = ctx;
	if (c->report_broken)
		return;
	if (al_write_all(AL_WORKER_FD_REPORT, r, sizeof *r) < 0 ||
	    (len && al_write_all(AL_WORKER_FD_REPORT, blob, len) < 0))
		c->report_broken = true;
}

static uint64_t now_ms(void *ctx)
{
	(void)ctx;
	return al_now_ns() / 1000000u;
}

static int lockdown(void)
{
	static const char *const allowed[] = {
		"read", "write", "close", "poll", "ppoll", "mmap", "munmap", "mremap", "madvise", "brk",
		"rt_sigreturn", "rt_sigprocmask", "exit", "exit_group", "clock_gettime", "getrandom",
		"futex", "restart_syscall", "fstat", "newfstatat",
	};
	scmp_filter_ctx ctx = al_stage2_new(false); /* one thread */
	if (!ctx)
		return -ENOMEM;
	return al_stage2_load(ctx, al_stage2_allow(ctx, allowed, AL_ARRAY_LEN(allowed)), "gate");
}

/* One direction's line framing. */
struct framer {
	int fd;
	char *buf;
	size_t len, cap;  /* cap: the largest line + 1 */
	bool skipping;    /* inside a line over the cap: drop to its newline */
	bool eof;
};

/* Reads what is there; calls fn for each complete line; false at EOF or error. */
static bool pump(struct framer *f, struct al_gate *g, void (*fn)(struct al_gate *, const char *, size_t))
{
	ssize_t n = read(f->fd, f->buf + f->len, f->cap - f->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	f->len += (size_t)n;
	size_t start = 0;
	for (size_t i = f->len - (size_t)n; i < f->len; i++) {
		if (f->buf[i] != '\n')
			continue;
		size_t l = i - start;
		if (l && f->buf[start + l - 1] == '\r')
			l--;
		if (!f->skipping && l)
			fn(g, f->buf + start, l);
		f->skipping = false;
		start = i + 1;
	}
	memmove(f->buf, f->buf + start, f->len - start);
	f->len -= start;
	if (f->len == f->cap) {
		/* a line over the cap: the gate refuses it by size, then skips it */
		if (!f->skipping)
			fn(g, f->buf, f->len);
		f->skipping = true;
		f->len = 0;
	}
	return true;
}

static int parse_policy(int argc, char **argv, struct al_gate_config *cfg, size_t *line_cap,
			struct al_gate_rules **rules)
{
	enum { O_LINE = 1, O_RESULT, O_RATE, O_TOOL, O_ALL, O_SAMP, O_ELIC, O_ROOTS, O_PIN, O_RULES };
	static const struct option opts[] = {
		{ "max-line", required_argument, NULL, O_LINE },
		{ "max-result", required_argument, NULL, O_RESULT },
		{ "notify-rate", required_argument, NULL, O_RATE },
		{ "tool", required_argument, NULL, O_TOOL },
		{ "all-tools", no_argument, NULL, O_ALL },
		{ "sampling", required_argument, NULL, O_SAMP },
		{ "elicitation", required_argument, NULL, O_ELIC },
		{ "roots", required_argument, NULL, O_ROOTS },
		{ "pin", required_argument, NULL, O_PIN },
		{ "rules", required_argument, NULL, O_RULES },
		{ NULL, 0, NULL, 0 },
	};
	*cfg = (struct al_gate_config){ .max_line = 1u << 20, .max_result = 4u << 20, .notify_rate = 50 };
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		uint64_t v = 0;
		enum al_gate_server_req *rq = c == O_SAMP ? &cfg->sampling : c == O_ELIC ? &cfg->elicitation
							    : &cfg->roots;
		switch (c) {
		case O_LINE:
		case O_RESULT:
		case O_RATE:
			if (al_parse_u64(optarg, &v) < 0 || v == 0 || v > (64u << 20))
				return -EINVAL;
			if (c == O_LINE)
				cfg->max_line = v;
			else if (c == O_RESULT)
				cfg->max_result = v;
			else
				cfg->notify_rate = (unsigned)v;
			break;
		case O_TOOL:
			if (cfg->n_tools == AL_GATE_MAX_TOOLS)
				return -E2BIG;
			cfg->tools[cfg->n_tools++] = optarg;
			break;
		case O_ALL:
			cfg->all_tools = true;
			break;
		case O_SAMP:
		case O_ELIC:
		case O_ROOTS:
			if (!strcmp(optarg, "deny"))
				*rq = AL_GATE_DENY;
			else if (!strcmp(optarg, "pass"))
				*rq = AL_GATE_PASS;
			else
				return -EINVAL;
			break;
		case O_PIN:
			if (strlen(optarg) != 64)
				return -EINVAL;
			for (int i = 0; i < 32; i++)
				if (sscanf(optarg + 2 * i, "%2hhx", &cfg->pin[i]) != 1)
					return -EINVAL;
			cfg->has_pin = true;
			break;
		case O_RULES: {
			char why[256];
			al_gate_rules_free(*rules);
			if (al_gate_rules_parse(optarg, strlen(optarg), rules, why, sizeof why) < 0) {
				al_log_warnx("gate: %s", why);
				return -EINVAL;
			}
			cfg->rules = *rules;
			break;
		}
		default:
			return -EINVAL;
		}
	}
	if (optind != argc)
		return -EINVAL;
	size_t big = cfg->max_result > cfg->max_line ? cfg->max_result : cfg->max_line;
	*line_cap = big + 1;
	return 0;
}

int main(int argc, char **argv)
{
	al_log_init("airlock-gate", AL_LOG_WARN);
	struct al_gate_config cfg;
	struct al_gate_rules *rules = NULL;
	size_t cap;
	if (parse_policy(argc, argv, &cfg, &cap, &rules) < 0) {
		usage();
		return AL_WORKER_EXIT_USAGE;
	}
	struct io_ctx ioc = { 0 };
	struct al_gate_io io = { .to_client = to_client, .to_server = to_server, .report = report,
				 .now_ms = now_ms, .ctx = &ioc };
	struct al_gate *g = NULL;
	struct framer fc = { .fd = AL_GATE_FD_CLIENT_IN, .cap = cfg.max_line + 1 };
	struct framer fs = { .fd = AL_GATE_FD_TOOL_OUT, .cap = cap };
	fc.buf = malloc(fc.cap);
	fs.buf = malloc(fs.cap);
	if (!fc.buf || !fs.buf || al_gate_new(&cfg, &io, &g) < 0)
		return AL_WORKER_EXIT_FAIL;
	if (lockdown() < 0) {
		al_log_warnx("gate: the stage-2 filter could not be installed");
		return AL_WORKER_EXIT_LOCKDOWN;
	}
	while (!fs.eof) {
		struct pollfd p[2] = {
			{ .fd = fc.eof ? -1 : fc.fd, .events = POLLIN },
			{ .fd = fs.fd, .events = POLLIN },
		};
		int n = poll(p, 2, al_gate_timeout(g));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		al_gate_tick(g);
		if (p[0].revents && !pump(&fc, g, al_gate_from_client)) {
			fc.eof = true;
			close(AL_GATE_FD_TOOL_IN); /* the server sees its stdin end */
		}
		if (p[1].revents && !pump(&fs, g, al_gate_from_server))
			fs.eof = true;
		if (ioc.client_broken)
			break;
	}
	al_gate_free(g);
	al_gate_rules_free(rules);
	free(fc.buf);
	free(fs.buf);
	return AL_WORKER_EXIT_OK;
}
