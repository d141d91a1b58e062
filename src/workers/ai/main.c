/*
 * airlock-ai: the AI domain's worker. Set up, lock down, then serve.
 *
 *   airlock-ai --model FILE [--tokenizer FILE] [--prompt P] [--steps N]
 *              [--temperature T] [--topp P] [--seed S] [--threads N]
 *   airlock-ai [--slots N] [--state-budget BYTES]
 *                         (under the supervisor: fds 3, 4, 5, see worker.h)
 *
 * Standalone, it generates once and prints the text on stdout, as llama2.c's
 * run does, so the two can be compared byte for byte.
 *
 * The model is a llama2.c checkpoint or a GGUF file (recognised by its magic).
 * A GGUF model carries its vocabulary: the tokenizer file (--tokenizer, fd 5)
 * is then optional and not read.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <malloc.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "workers/ai/generate.h"
#include "workers/ai/gguf.h"
#include "workers/ai/serve.h"
#include "workers/ai/worker.h"

/* The run state's budget when nothing says otherwise (the supervisor does). */
#define DEFAULT_STATE_BUDGET (256ull << 20)

struct ai_opts {
	const char *model;
	const char *tokenizer;
	const char *prompt;
	int steps;
	float temperature;
	float topp;
	uint64_t seed;
	int threads;
	int slots;             /* sequences generated together; 0: chosen from the budget */
	uint64_t state_budget; /* bytes the run state may take when slots is 0 */
	const char *probe;
	const char *name; /* what the model is called, for the hello message */
};

static void usage(void)
{
	fprintf(stderr,
		"usage: airlock-ai --model FILE [--tokenizer FILE] [--prompt TEXT] [--steps N]\n"
		"                  [--temperature T] [--topp P] [--seed S] [--threads N]\n"
		"  --steps N        positions to run, 0 = the model's seq_len (default 256)\n"
		"  --temperature T  0 = greedy (default 1.0)\n"
		"  --topp P         nucleus sampling mass in [0, 1] (default 0.9)\n"
		"  --seed S         random seed > 0 (default: from the clock)\n"
		"  --threads N      threads for the matrix products (default 1)\n"
		"  --name NAME      what to call the model when describing it to the protocol domain\n"
		"  --slots N        requests generated together when serving (default 0: as many as\n"
		"                   the state budget holds, at most %d)\n"
		"  --state-budget B bytes of run state (key/value caches) for --slots 0 (default %llu)\n"
		"--tokenizer is needed for a llama2.c checkpoint, not for a GGUF model.\n"
		"Without --model, the model, tokenizer and channel are fds %d, %d and %d.\n",
		AL_AI_AUTO_SLOTS, (unsigned long long)DEFAULT_STATE_BUDGET, AL_AI_FD_MODEL, AL_AI_FD_TOKENIZER,
		AL_AI_FD_CHANNEL);
}

static int parse_float(const char *s, float lo, float hi, float *out)
{
	char *end;
	errno = 0;
	float v = strtof(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct ai_opts *o)
{
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "tokenizer", required_argument, NULL, 'z' },
		{ "prompt", required_argument, NULL, 'i' },
		{ "steps", required_argument, NULL, 'n' },
		{ "temperature", required_argument, NULL, 't' },
		{ "topp", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 'T' },
		{ "name", required_argument, NULL, 'N' },
		{ "slots", required_argument, NULL, 'S' },
		{ "state-budget", required_argument, NULL, 'B' },
		/* Test hook: after the lockdown, attempt WHAT; the filter must kill us. */
		{ "probe-sandbox", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t u;
	int c;

	*o = (struct ai_opts){ .prompt = "", .steps = 256, .temperature = 1.0f, .topp = 0.9f, .threads = 1,
			       .state_budget = DEFAULT_STATE_BUDGET };
	while ((c = getopt_long(argc, argv, "m:z:i:n:t:p:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->model = optarg;
			break;
		case 'z':
			o->tokenizer = optarg;
			break;
		case 'i':
			o->prompt = optarg;
			break;
		case 'n':
			if (al_parse_u64(optarg, &u) || u > AL_AI_MAX_SEQ)
				return -EINVAL;
			o->steps = (int)u;
			break;
		case 't':
			if (parse_float(optarg, 0.0f, 100.0f, &o->temperature))
				return -EINVAL;
			break;
		case 'p':
			if (parse_float(optarg, 0.0f, 1.0f, &o->topp))
				return -EINVAL;
			break;
		case 's':
			if (al_parse_u64(optarg, &u) || u == 0)
				return -EINVAL;
			o->seed = u;
			break;
		case 'T':
			if (al_parse_u64(optarg, &u) || u < 1 || u > AL_AI_MAX_THREADS)
				return -EINVAL;
			o->threads = (int)u;
			break;
		case 'P':
			o->probe = optarg;
			break;
		case 'N':
			o->name = optarg;
			break;
		case 'S':
			if (al_parse_u64(optarg, &u) || u > AL_AI_MAX_SLOTS)
				return -EINVAL;
			o->slots = (int)u;
			break;
		case 'B':
			if (al_parse_u64(optarg, &u))
				return -EINVAL;
			o->state_budget = u;
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind != argc || (o->tokenizer && !o->model))
		return -EINVAL;
	if (!o->seed)
		o->seed = al_now_ns() | 1;
	return 0;
}

/*
 * What a compromised engine would try next. Each must end in SIGSYS; if a
 * call returns instead, the process exits with AL_WORKER_EXIT_LOCKDOWN and the test
 * that asked for it fails.
 */
static _Noreturn void probe_sandbox(const char *what)
{
	long r = -1;
	if (strcmp(what, "open") == 0)
		r = open("/etc/passwd", O_RDONLY);
	else if (strcmp(what, "socket") == 0)
		r = socket(AF_INET, SOCK_STREAM, 0);
	else if (strcmp(what, "exec") == 0)
		r = execve("/bin/sh", (char *[]){ "sh", NULL }, (char *[]){ NULL });
	else if (strcmp(what, "execmem") == 0)
		r = (long)mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else if (strcmp(what, "mprotect-exec") == 0) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		r = mprotect(p, 4096, PROT_READ | PROT_EXEC);
	} else if (strcmp(what, "write-fd") == 0)
		r = write(AL_AI_FD_TOKENIZER, "x", 1); /* any fd but stdout/stderr/report */
	else if (strcmp(what, "read-stdin") == 0) {
		char c;
		r = read(STDIN_FILENO, &c, 1);
	}
	al_fatalx(AL_WORKER_EXIT_LOCKDOWN, "ai: probe %s after lockdown returned %ld", what, r);
}

static int write_piece(void *ctx, const char *piece, size_t len, int token)
{
	/* Each piece goes out as it is produced (streaming); a failed write ends the run. */
	return al_write_all(STDOUT_FILENO, piece, len);
}

int main(int argc, char **argv)
{
	struct ai_opts o;
	struct al_ai_model model;
	struct al_ai_tokenizer tok;
	struct al_ai_engine engine;
	struct al_ai_sampler smp;
	struct al_ai_gen_stats st;
	int model_fd = AL_AI_FD_MODEL, tok_fd = AL_AI_FD_TOKENIZER, channel_fd = AL_AI_FD_CHANNEL, report_fd = -1;
	int rc;

	al_log_init("airlock-ai", AL_LOG_WARN);
	if (parse_opts(argc, argv, &o)) {
		usage();
		return AL_WORKER_EXIT_USAGE;
	}

	/* 1. Set up: everything that needs a file or an allocation of size. */
	if (o.model) {
		channel_fd = -1;
		model_fd = open(o.model, O_RDONLY | O_CLOEXEC);
		if (model_fd < 0)
			al_fatal(AL_WORKER_EXIT_MODEL, "%s", o.model);
		tok_fd = -1;
		if (o.tokenizer && (tok_fd = open(o.tokenizer, O_RDONLY | O_CLOEXEC)) < 0)
			al_fatal(AL_WORKER_EXIT_MODEL, "%s", o.tokenizer);
	}
	/* Under the supervisor fd 5 is absent when [ai] tokenizer is empty. */
	if (tok_fd >= 0 && fcntl(tok_fd, F_GETFD) < 0)
		tok_fd = -1;
	if ((rc = al_ai_model_build_fd(&model, model_fd)))
		al_fatalx(AL_WORKER_EXIT_MODEL, "%s", model.err);
	/* A GGUF model's own vocabulary is the one it was trained with: any
	 * tokenizer file is left unread. A checkpoint needs the file. */
	if (model.cfg.format == AL_AI_FORMAT_GGUF)
		rc = al_ai_tokenizer_build_gguf(&tok, &model);
	else if (tok_fd < 0)
		al_fatalx(AL_WORKER_EXIT_USAGE, "ai: a llama2.c checkpoint needs a tokenizer (--tokenizer, or [ai] tokenizer)");
	else
		rc = al_ai_tokenizer_build_fd(&tok, tok_fd, model.cfg.vocab_size);
	if (rc)
		al_fatalx(AL_WORKER_EXIT_MODEL, "%s", tok.err);
	/* The mapping and the private copy outlive the fds. */
	close(model_fd);
	if (tok_fd >= 0)
		close(tok_fd);
	/* Serving, the slots generate together: as many as asked, else as many
	 * as the budget holds (the supervisor derives it from the domain's
	 * memory and the model's size), at most AL_AI_AUTO_SLOTS, at least one.
	 * One generation to stdout needs one. */
	int slots = o.model ? (o.slots ? o.slots : 1) : o.slots;
	if (!slots) {
		size_t budget = o.state_budget < SIZE_MAX ? (size_t)o.state_budget : SIZE_MAX;
		slots = al_ai_slots_fit(&model.cfg, budget, AL_AI_AUTO_SLOTS);
		if (!slots) {
			al_log_warnx("ai: one slot needs %zu bytes of run state, more than the budget of %llu",
				     al_ai_state_bytes(&model.cfg, 1), (unsigned long long)o.state_budget);
			slots = 1;
		}
	}
	/* The caches take memory as they fill: slots asked for beyond the budget
	 * work until the sequences grow long enough to need it. */
	if (o.slots && !o.model && al_ai_state_bytes(&model.cfg, slots) > o.state_budget)
		al_log_warnx("ai: %d slots take up to %zu bytes of run state, more than the budget of %llu (half of "
			     "[domain.ai] memory left after the model): long generations may run out of memory",
			     slots, al_ai_state_bytes(&model.cfg, slots), (unsigned long long)o.state_budget);
	if ((rc = al_ai_engine_build_slots(&engine, &model, &tok, slots))) {
		size_t need = al_ai_state_bytes(&model.cfg, slots);
		if (rc == -EINVAL && need == SIZE_MAX && slots > 1)
			al_fatalx(AL_WORKER_EXIT_MODEL, "ai: run state: %d slots of this model need more than the "
				  "%llu-byte limit; ask for fewer ([ai] slots)", slots, (unsigned long long)AL_AI_MAX_STATE);
		if (rc == -EINVAL && need == SIZE_MAX)
			al_fatalx(AL_WORKER_EXIT_MODEL, "ai: run state: this model's needs more than the %llu-byte limit",
				  (unsigned long long)AL_AI_MAX_STATE);
		al_fatalx(AL_WORKER_EXIT_MODEL, "ai: run state (%d slots, %zu bytes): %s", slots, need, strerror(-rc));
	}
	/* Threads start here, during setup; the filter below covers them (TSYNC). */
	if ((rc = al_ai_engine_set_threads(&engine, o.threads)))
		al_fatalx(AL_WORKER_EXIT_MODEL, "ai: threads: %s", strerror(-rc));
	if ((rc = al_ai_sampler_build(&smp, model.cfg.vocab_size, o.temperature, o.topp, o.seed)))
		al_fatalx(AL_WORKER_EXIT_USAGE, "ai: sampler: %s", strerror(-rc));
	al_log_info("ai: %s model, dim %d, %d layers, vocab %d; %d slots, %zu bytes of run state",
		    al_ai_format_name(model.cfg.format), model.cfg.dim, model.cfg.n_layers, model.cfg.vocab_size,
		    slots, al_ai_state_bytes(&model.cfg, slots));

	/* Under the supervisor: attach the channel (checks its seals and size) and
	 * allocate the service loop's memory while calls are still allowed. */
	struct al_chan *ch = NULL;
	struct al_ai_server *srv = NULL;
	if (channel_fd >= 0) {
		/* Where a peer's violation is reported: the supervisor's pipe, if given. */
		report_fd = fcntl(AL_WORKER_FD_REPORT, F_GETFD) >= 0 ? AL_WORKER_FD_REPORT : -1;
		if ((rc = al_chan_attach(channel_fd, AL_CHAN_SIDE_AI, &ch)) < 0) {
			/* Only the supervisor and the peer ever held the channel. */
			if (report_fd >= 0 && rc == -EPROTO) {
				al_worker_report r = AL_WORKER_REPORT_ATTACH;
				(void)!write(report_fd, &r, sizeof r);
				al_fatalx(AL_WORKER_EXIT_PEER, "ai: channel on fd %d: %s", channel_fd, al_chan_strerror(rc));
			}
			al_fatalx(AL_WORKER_EXIT_USAGE, "ai: channel on fd %d: %s", channel_fd, al_chan_strerror(rc));
		}
		if (report_fd >= 0)
			al_chan_set_report_fd(ch, report_fd);
		if ((rc = al_ai_server_new(&engine, ch, &srv)) < 0)
			al_fatalx(AL_WORKER_EXIT_MODEL, "ai: service loop: %s", strerror(-rc));
		/* The protocol domain learns what is loaded from us, never from the file. */
		char name[AL_MSG_MAX_NAME];
		const char *family = model.cfg.format == AL_AI_FORMAT_GGUF ? "llama" : "llama2.c";
		int nl = o.name ? snprintf(name, sizeof name, "%s (%s %s)", o.name, family,
					   al_ai_format_name(model.cfg.format))
				: snprintf(name, sizeof name, "%s %s, dim %d", family,
					   al_ai_format_name(model.cfg.format), model.cfg.dim);
		struct al_msg_hello hello = {
			.vocab_size = (uint32_t)model.cfg.vocab_size, .context_length = (uint32_t)model.cfg.seq_len,
			.n_layers = (uint32_t)model.cfg.n_layers, .dim = (uint32_t)model.cfg.dim,
			.n_heads = (uint32_t)model.cfg.n_heads, .n_kv_heads = (uint32_t)model.cfg.n_kv_heads,
			.max_prompt_tokens = al_ai_max_prompt_tokens(&model.cfg),
			.name = name, .name_len = nl > 0 ? (size_t)nl : 0,
		};
		if ((rc = al_chan_send_hello(ch, &hello)) < 0)
			al_fatalx(AL_WORKER_EXIT_PEER, "ai: channel hello: %s", al_chan_strerror(rc));
		/* The hello goes out now; the loop publishes its records step by step. */
		al_chan_flush(ch);
	}
	/* One malloc arena: glibc shrinks a thread arena's heap only after reading
	 * /proc/sys/vm/overcommit_memory, an open the filter forbids. */
	mallopt(M_ARENA_MAX, 1);
	/* execve reset it; a dumpable worker could be read by a peer with ptrace rights. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	/* 2. Lock down: from here on no open, socket, exec or executable memory. */
	if ((rc = al_ai_lockdown(channel_fd, report_fd)))
		al_fatalx(AL_WORKER_EXIT_LOCKDOWN, "ai: lockdown failed: %s", strerror(-rc));
	if (o.probe)
		probe_sandbox(o.probe);

	/* 3. Serve: the channel under a supervisor, else one generation to stdout. */
	if (srv) {
		rc = al_ai_serve(srv);
		al_ai_server_free(srv);
		al_chan_close(ch);
		if (rc < 0)
			al_fatalx(AL_WORKER_EXIT_PEER, "ai: the protocol domain broke the channel: %s", al_chan_strerror(rc));
		return AL_WORKER_EXIT_OK;
	}
	rc = al_ai_generate(&engine, &smp, o.prompt, o.steps, write_piece, NULL, &st);
	if (rc == 0)
		rc = al_write_all(STDOUT_FILENO, "\n", 1);
	if (rc == -E2BIG) {
		char why[128];
		al_ai_prompt_fit_message(&st.fit, why, sizeof why);
		al_fatalx(AL_WORKER_EXIT_GENERATE, "ai: %s", why);
	}
	if (rc)
		al_fatalx(AL_WORKER_EXIT_GENERATE, "ai: generation failed: %s", strerror(rc < 0 ? -rc : rc));
	if (st.elapsed_ns && st.tokens + st.prompt_tokens > 1) {
		char line[128];
		int n = snprintf(line, sizeof(line), "achieved tok/s: %.1f (%u prompt, %u generated)\n",
				 (double)(st.prompt_tokens + st.tokens) * 1e9 / (double)st.elapsed_ns,
				 st.prompt_tokens, st.tokens);
		if (n > 0)
			(void)al_write_all(STDERR_FILENO, line, (size_t)n);
	}
	al_ai_sampler_free(&smp);
	al_ai_engine_free(&engine);
	al_ai_tokenizer_free(&tok);
	al_ai_model_free(&model);
	return AL_WORKER_EXIT_OK;
}
