/*
 * What the measurements run against: the AI worker in and out of a domain,
 * the engine in this process, an MCP endpoint (a supervisor at a level, or
 * the same handlers in one unsandboxed process), the futex peer and the
 * spawn of a no-op. Each target has a start, its one operation, and a stop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "airlock/worker.h"
#include "al_config.h"
#include "bench_int.h"
#include "common/log.h"
#include "common/util.h"
#include "supervisor/config.h"
#include "supervisor/control.h"
#include "supervisor/supervisor.h"
#include "workers/ai/gguf.h"
#include "workers/ai/serve.h"
#include "workers/proto/proto.h"

#define MAX_TOKENS_LIMIT 256

void al_bench_log(const struct al_bench_env *e, const char *fmt, ...)
{
	if (!e->log)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("airlock bench: ", e->log);
	vfprintf(e->log, fmt, ap);
	fputc('\n', e->log);
	va_end(ap);
	fflush(e->log);
}

int al_bench_pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return sched_setaffinity(0, sizeof s, &s) < 0 ? -errno : 0;
}

void al_bench_unpin(const struct al_bench_env *e)
{
	sched_setaffinity(0, sizeof e->affinity, &e->affinity);
}

int al_bench_env_init(struct al_bench_env *e, FILE *log)
{
	memset(e, 0, sizeof *e);
	e->log = log;
	sched_getaffinity(0, sizeof e->affinity, &e->affinity);
	int rc = al_config_default(&e->cfg);
	if (rc < 0)
		return rc;
	e->dflt = (struct al_bench_model){ e->cfg->ai.model, e->cfg->ai.tokenizer, "the embedded model" };
	e->ai = e->dflt;
	snprintf(e->tmp, sizeof e->tmp, "/tmp/airlock-bench.XXXXXX");
	if (!mkdtemp(e->tmp))
		return -errno;
	const char *cands[] = { AL_BUILD_ROOT "/bench/lib/airlock-bench-peer", AL_LIBEXECDIR "/airlock-bench-peer" };
	for (size_t i = 0; i < AL_ARRAY_LEN(cands); i++)
		if (access(cands[i], X_OK) == 0) {
			al_strlcpy(e->peer_exe, cands[i], sizeof e->peer_exe);
			break;
		}
	return 0;
}

void al_bench_env_free(struct al_bench_env *e)
{
	if (e->tmp[0]) {
		/* state directories of the supervisors: audit logs, keys, manifests */
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->tmp);
		if (system(cmd) != 0)
			al_log_warnx("bench: could not remove %s", e->tmp);
	}
	al_config_free(e->cfg);
}

int al_bench_spec(struct al_spec *s, enum al_level level, int exec_fd, char *const *argv)
{
	int rc;
	al_spec_init(s);
	if ((rc = al_profile_load(s, "compute")) < 0)
		return rc;
	if ((rc = al_sandbox_apply_partition(s, &al_level_policy(level)->part, AL_SANDBOX_ROLE_AI)) < 0)
		return rc;
	s->exec_fd = exec_fd;
	s->argv = argv;
	return 0;
}

/* Spawns, attests and starts a domain; the spec can go once this returns. */
static int domain_run(struct al_spec *s, struct al_domain **out)
{
	int rc;
	if ((rc = al_seccomp_prepare(s)) < 0)
		return rc;
	if ((rc = al_domain_spawn(s, out)) < 0)
		return rc;
	if ((rc = al_domain_attest(*out, s, NULL, NULL)) < 0 || (rc = al_domain_start(*out)) < 0) {
		al_domain_free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- the AI worker ----------------------------------------------------- */

int al_bench_ai_start(struct al_bench_env *e, const struct al_bench_model *files, int level, struct al_bench_ai *a)
{
	memset(a, 0, sizeof *a);
	a->pid = -1;
	int chan = -1, rc;
	/* own descriptions per worker: they read the files at their own offsets */
	int model = open(files->model, O_RDONLY | O_CLOEXEC);
	/* a GGUF model carries its vocabulary: no tokenizer file, no fd */
	int tok = files->tokenizer ? open(files->tokenizer, O_RDONLY | O_CLOEXEC) : -1;
	int exe = open(e->cfg->domain[AL_DOMAIN_AI].exe, O_RDONLY | O_CLOEXEC);
	if (model < 0 || (files->tokenizer && tok < 0) || exe < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = al_chan_create(NULL, &chan)) < 0)
		goto out;
	static char *argv[] = { "airlock-ai", "--threads", "1", NULL };
	static char *envp[] = { "PATH=/nonexistent", NULL };
	if (level >= 0) {
		struct al_spec s;
		if ((rc = al_bench_spec(&s, level, exe, argv)) == 0 &&
		    (rc = al_spec_add_fd(&s, chan, AL_AI_FD_CHANNEL)) == 0 &&
		    (rc = al_spec_add_fd(&s, model, AL_AI_FD_MODEL)) == 0 &&
		    (tok < 0 || (rc = al_spec_add_fd(&s, tok, AL_AI_FD_TOKENIZER)) == 0)) {
			s.envp = envp;
			rc = domain_run(&s, &a->d);
		}
		al_spec_free(&s);
		if (rc < 0)
			goto out;
	} else {
		pid_t pid = fork();
		if (pid < 0) {
			rc = -errno;
			goto out;
		}
		if (pid == 0) {
			/* through high numbers, so no source is overwritten */
			int src[4] = { chan, model, tok, exe };
			for (int i = 0; i < 4; i++)
				if (src[i] >= 0 && dup3(src[i], 900 + i, O_CLOEXEC) < 0)
					_exit(126);
			for (int i = 0; i < 3; i++)
				if (src[i] < 0 ? close(3 + i) < 0 && errno != EBADF : dup2(900 + i, 3 + i) < 0)
					_exit(126);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			syscall(SYS_execveat, 903, "", argv, envp, AT_EMPTY_PATH);
			_exit(127);
		}
		a->pid = pid;
	}
	if ((rc = al_chan_attach(chan, AL_CHAN_SIDE_PROTO, &a->ch)) < 0)
		goto out;
	struct al_msg m;
	if ((rc = al_chan_recv(a->ch, &m, 20000)) < 0 || m.type != AL_MSG_HELLO) {
		al_log_warnx("bench: the AI worker sent no hello: %s", rc < 0 ? al_chan_strerror(rc) : "wrong type");
		rc = rc < 0 ? rc : -EPROTO;
	}
out:
	if (chan >= 0)
		close(chan);
	if (model >= 0)
		close(model);
	if (tok >= 0)
		close(tok);
	if (exe >= 0)
		close(exe);
	if (rc < 0)
		al_bench_ai_stop(a);
	return rc;
}

void al_bench_ai_stop(struct al_bench_ai *a)
{
	if (a->ch) {
		al_chan_close(a->ch);
		a->ch = NULL;
	}
	if (a->d) {
		al_domain_kill(a->d, SIGKILL);
		al_domain_free(a->d);
		a->d = NULL;
	}
	if (a->pid > 0) {
		kill(a->pid, SIGKILL);
		waitpid(a->pid, NULL, 0);
		a->pid = -1;
	}
}

int al_bench_ai_request(struct al_bench_ai *a, uint32_t max_tokens, uint64_t *ns, uint32_t *tokens)
{
	struct al_msg_gen_request req = { .req_id = ++a->next_id, .seed = 1, .max_tokens = max_tokens,
					  .temperature = 0.0f, .top_p = 0.9f, .prompt = AL_BENCH_PROMPT,
					  .prompt_len = strlen(AL_BENCH_PROMPT) };
	uint64_t t0 = al_now_ns();
	int rc = al_chan_send_gen_request(a->ch, &req);
	if (rc < 0)
		return rc;
	for (;;) {
		struct al_msg m;
		if ((rc = al_chan_recv(a->ch, &m, 10000)) < 0)
			return rc;
		if (m.type == AL_MSG_DONE) {
			*ns = al_now_ns() - t0;
			*tokens = m.u.done.gen_tokens;
			return 0;
		}
		if (m.type == AL_MSG_ERROR)
			return -EIO;
	}
}

int al_bench_ai_ping(struct al_bench_ai *a, unsigned n, double *ns)
{
	uint64_t t0 = al_now_ns();
	for (unsigned i = 0; i < n; i++) {
		int rc = al_chan_send_ping(a->ch, ++a->next_id);
		struct al_msg m;
		if (rc < 0 || (rc = al_chan_recv(a->ch, &m, 5000)) < 0)
			return rc;
		if (m.type != AL_MSG_PONG)
			return -EPROTO;
	}
	*ns = (double)(al_now_ns() - t0) / n;
	return 0;
}

/* ---- the engine in this process ---------------------------------------- */

int al_bench_engine_build(const struct al_bench_model *m, struct al_bench_engine *g)
{
	memset(g, 0, sizeof *g);
	int fd = open(m->model, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = al_ai_model_build_fd(&g->model, fd);
	close(fd);
	if (rc)
		return -EINVAL;
	if (!m->tokenizer) {
		rc = al_ai_tokenizer_build_gguf(&g->tok, &g->model);
	} else if ((fd = open(m->tokenizer, O_RDONLY | O_CLOEXEC)) < 0) {
		al_ai_model_free(&g->model);
		return -errno;
	} else {
		rc = al_ai_tokenizer_build_fd(&g->tok, fd, g->model.cfg.vocab_size);
		close(fd);
	}
	if (rc) {
		al_ai_model_free(&g->model);
		return -EINVAL;
	}
	if (al_ai_engine_build(&g->engine, &g->model, &g->tok) ||
	    al_ai_sampler_build(&g->smp, g->model.cfg.vocab_size, 0.0f, 0.9f, 1)) {
		al_ai_tokenizer_free(&g->tok);
		al_ai_model_free(&g->model);
		return -ENOMEM;
	}
	g->built = true;
	return 0;
}

void al_bench_engine_free(struct al_bench_engine *g)
{
	if (!g->built)
		return;
	al_ai_sampler_free(&g->smp);
	al_ai_engine_free(&g->engine);
	al_ai_tokenizer_free(&g->tok);
	al_ai_model_free(&g->model);
	g->built = false;
}

/* Delivers nothing: the request's tokens are counted by the engine. */
static int no_piece(void *ctx, const char *piece, size_t len, int token)
{
	(void)ctx, (void)piece, (void)len, (void)token;
	return 0;
}

/* One request as the worker's service loop runs it: the same sequence
 * stepping, stopped by the same max_tokens. */
int al_bench_engine_request(struct al_bench_engine *g, uint32_t max_tokens, uint64_t *ns, uint32_t *tokens)
{
	struct al_ai_seq q = { .slot = 0, .smp = &g->smp, .fn = no_piece, .max_tokens = max_tokens };
	uint64_t t0 = al_now_ns();
	int rc = al_ai_seq_begin(&g->engine, &q, AL_BENCH_PROMPT, 0);
	if (rc == 0) {
		struct al_ai_seq *one = &q;
		while (!q.done)
			al_ai_step(&g->engine, &one, 1);
		rc = q.rc;
	}
	*ns = al_now_ns() - t0;
	*tokens = q.stats.tokens;
	return rc < 0 ? rc : 0;
}

/* ---- MCP endpoints over HTTP -------------------------------------------- */

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int listen_on(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

struct peer_ai {
	struct al_ai_server *srv;
};

static void *peer_ai_thread(void *arg)
{
	al_ai_serve(((struct peer_ai *)arg)->srv);
	return NULL;
}

/*
 * The unsandboxed peer: the protocol worker's HTTP handlers and the AI
 * worker's engine and service loop as two threads of one process, joined by
 * a channel in private memory. No namespaces, no seccomp, no pinning.
 */
static _Noreturn void peer_main(struct al_bench_env *e, int lfd)
{
	struct al_bench_engine g;
	int chan;
	struct al_chan *aich;
	struct peer_ai pa;
	if (al_bench_engine_build(&e->dflt, &g) < 0 || al_chan_create(NULL, &chan) < 0 ||
	    al_chan_attach(chan, AL_CHAN_SIDE_AI, &aich) < 0 || al_ai_server_new(&g.engine, aich, &pa.srv) < 0)
		_exit(3);
	char name[AL_MSG_MAX_NAME];
	int nl = snprintf(name, sizeof name, "llama2.c %s, dim %d", al_ai_format_name(g.model.cfg.format),
			  g.model.cfg.dim);
	struct al_msg_hello hello = {
		.vocab_size = (uint32_t)g.model.cfg.vocab_size, .context_length = (uint32_t)g.model.cfg.seq_len,
		.n_layers = (uint32_t)g.model.cfg.n_layers, .dim = (uint32_t)g.model.cfg.dim,
		.n_heads = (uint32_t)g.model.cfg.n_heads, .n_kv_heads = (uint32_t)g.model.cfg.n_kv_heads,
		.name = name, .name_len = nl > 0 ? (size_t)nl : 0,
	};
	g.engine.max_ns = 120ULL * 1000000000ULL;
	if (al_chan_send_hello(aich, &hello) < 0)
		_exit(3);
	struct al_proto_opts o;
	struct al_mcp_config cfg;
	al_proto_opts_default(&o);
	al_mcp_config_default(&cfg);
	o.seccomp = false;
	o.max_inflight = AL_BENCH_CONCURRENCY;
	cfg.max_tokens_limit = MAX_TOKENS_LIMIT;
	struct al_mcp_backend be;
	struct al_mcp_server *srv;
	pthread_t th;
	if (al_proto_backend_chan_new(chan, cfg.max_tokens_limit, &be) < 0 || al_mcp_server_new(&cfg, &be, &srv) < 0 ||
	    al_proto_backend_chan_run(&be) < 0 || pthread_create(&th, NULL, peer_ai_thread, &pa) != 0)
		_exit(3);
	_exit(al_proto_http_run(lfd, &o, srv) < 0 ? 1 : 0);
}

static const char meta[] = "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
			   "\"io.modelcontextprotocol/clientCapabilities\":{}}";

static struct curl_slist *headers(const char *method, const char *name)
{
	char mh[64], nh[64];
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: application/json, text/event-stream");
	h = curl_slist_append(h, "MCP-Protocol-Version: 2026-07-28");
	snprintf(mh, sizeof mh, "Mcp-Method: %s", method);
	h = curl_slist_append(h, mh);
	if (name) {
		snprintf(nh, sizeof nh, "Mcp-Name: %s", name);
		h = curl_slist_append(h, nh);
	}
	return h;
}

struct body {
	char buf[16384];
	size_t len;
};

static size_t sink(char *p, size_t sz, size_t nm, void *ud)
{
	struct body *b = ud;
	size_t n = sz * nm;
	size_t room = sizeof b->buf - 1 - b->len;
	memcpy(b->buf + b->len, p, n < room ? n : room);
	b->len += n < room ? n : room;
	b->buf[b->len] = '\0';
	return n;
}

int al_bench_http_request(struct al_bench_http *h, unsigned max_tokens, uint64_t *ns)
{
	char req[512];
	if (max_tokens)
		snprintf(req, sizeof req,
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"generate\","
			 "\"arguments\":{\"prompt\":\"%s\",\"max_tokens\":%u,\"temperature\":0},%s}}",
			 AL_BENCH_PROMPT, max_tokens, meta);
	else
		snprintf(req, sizeof req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{%s}}",
			 meta);
	struct body b = { .len = 0 };
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, max_tokens ? h->hdr_gen : h->hdr_list);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, req);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &b);
	long code = 0;
	uint64_t t0 = al_now_ns();
	CURLcode cc = curl_easy_perform(h->curl);
	*ns = al_now_ns() - t0;
	if (cc != CURLE_OK)
		return -EIO;
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code);
	/* a tool error (no AI domain, say) would time the error path: refuse it */
	if (code != 200 || !strstr(b.buf, "\"result\"") || strstr(b.buf, "\"isError\":true"))
		return -EPROTO;
	return 0;
}

static int client_init(struct al_bench_http *h);

int al_bench_http_start(struct al_bench_env *e, int level, struct al_bench_http *h)
{
	memset(h, 0, sizeof *h);
	h->pid = -1;
	int port = free_port();
	if (port < 0)
		return -EADDRNOTAVAIL;
	h->port = port;
	snprintf(h->url, sizeof h->url, "http://127.0.0.1:%d/mcp", port);
	snprintf(h->log, sizeof h->log, "%s/%s.log", e->tmp,
		 level >= 0 ? al_level_name(level) : "peer");
	struct al_config *cfg = NULL;
	int lfd = -1;
	if (level >= 0) {
		char text[4096], path[128], *errors = NULL;
		snprintf(path, sizeof path, "%s/%s.conf", e->tmp, al_level_name(level));
		int n = snprintf(text, sizeof text,
				 "[airlock]\nlevel = %s\nstate_dir = %s/state-%s\n[proto]\nlisten = 127.0.0.1:%d\n"
				 "allowed_origins =\nconcurrency = %d\n[ai]\nmax_tokens = %d\n%s",
				 al_level_name(level), e->tmp,
				 al_level_name(level), port, AL_BENCH_CONCURRENCY, MAX_TOKENS_LIMIT, e->conf_extra);
		if (n >= (int)sizeof text)
			return -E2BIG;
		/* the supervisor hashes its configuration file into the manifest: it must exist */
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int rc = fd < 0 ? -errno : al_write_all(fd, text, (size_t)n);
		if (fd >= 0)
			close(fd);
		if (rc == 0)
			rc = al_config_load(path, 0, &cfg, &errors);
		if (rc == 0)
			snprintf(h->control, sizeof h->control, "%s", cfg->control_socket);
		if (rc < 0) {
			al_log_warnx("bench: supervisor config: %s", errors ? errors : strerror(-rc));
			free(errors);
			return rc;
		}
	} else if ((lfd = listen_on(port)) < 0) {
		return -EADDRINUSE;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		al_config_free(cfg);
		if (lfd >= 0)
			close(lfd);
		return -errno;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open(h->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		al_bench_unpin(e);
		if (level >= 0)
			_exit(al_sup_run(cfg, false));
		peer_main(e, lfd);
	}
	h->pid = pid;
	al_config_free(cfg);
	if (lfd >= 0)
		close(lfd);
	if (client_init(h) < 0) {
		al_bench_http_stop(h);
		return -ENOMEM;
	}
	/* ready when a generation gets through: both domains up and attested */
	uint64_t deadline = al_now_ns() + 30ULL * 1000000000ULL, ns;
	while (al_now_ns() < deadline) {
		if (al_bench_http_request(h, 1, &ns) == 0)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			h->pid = -1;
			break;
		}
		usleep(50000);
	}
	al_log_warnx("bench: the %s endpoint did not come up (log: %s)",
		     level >= 0 ? al_level_name(level) : "unsandboxed", h->log);
	al_bench_http_stop(h);
	return -ETIMEDOUT;
}

/* The client half of an endpoint: a keep-alive connection with its headers. */
static int client_init(struct al_bench_http *h)
{
	h->curl = curl_easy_init();
	h->hdr_list = headers("tools/list", NULL);
	h->hdr_gen = headers("tools/call", "generate");
	if (!h->curl || !h->hdr_list || !h->hdr_gen)
		return -ENOMEM;
	curl_easy_setopt(h->curl, CURLOPT_URL, h->url);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h->curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	return 0;
}

int al_bench_http_client(const struct al_bench_http *h, struct al_bench_http *c)
{
	memset(c, 0, sizeof *c);
	c->pid = -1;
	c->port = h->port;
	memcpy(c->url, h->url, sizeof c->url);
	memcpy(c->control, h->control, sizeof c->control);
	int rc = client_init(c);
	if (rc < 0)
		al_bench_http_stop(c);
	return rc;
}

json_t *al_bench_http_status(const struct al_bench_http *h)
{
	json_t *r = NULL;
	if (!h->control[0] || al_control_call(h->control, AL_CONTROL_STATUS, 0, &r) < 0)
		return NULL;
	return r;
}

void al_bench_http_stop(struct al_bench_http *h)
{
	if (h->curl)
		curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->hdr_list);
	curl_slist_free_all(h->hdr_gen);
	h->curl = NULL;
	h->hdr_list = h->hdr_gen = NULL;
	if (h->pid > 0) {
		/* a supervisor stops its domains and seals its audit log on SIGTERM */
		kill(h->pid, SIGTERM);
		for (int i = 0; i < 100; i++) {
			if (waitpid(h->pid, NULL, WNOHANG) == h->pid) {
				h->pid = -1;
				return;
			}
			usleep(50000);
		}
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
		h->pid = -1;
	}
}

/* ---- futex peer and spawn ------------------------------------------------ */

int al_bench_futex_start(struct al_bench_env *e, int level, int cpu, struct al_bench_futex *f)
{
	memset(f, 0, sizeof *f);
	f->pid = -1;
	if (!e->peer_exe[0])
		return -ENOENT;
	int rc, exe = -1;
	f->memfd = memfd_create("airlock-bench", MFD_CLOEXEC);
	if (f->memfd < 0 || ftruncate(f->memfd, 4096) < 0)
		return -errno;
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	if (p == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	f->turn = p;
	f->stop = (_Atomic uint32_t *)p + 16;
	static char *argv[] = { "airlock-bench-peer", "futex", NULL };
	if ((exe = open(e->peer_exe, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		goto fail;
	}
	if (level >= 0) {
		struct al_spec s;
		if ((rc = al_bench_spec(&s, level, exe, argv)) == 0 && (rc = al_spec_add_fd(&s, f->memfd, 3)) == 0) {
			/* the point is switching on one CPU: the level's own placement is set aside */
			CPU_ZERO(&s.cpus);
			CPU_SET(cpu, &s.cpus);
			s.has_cpus = true;
			rc = domain_run(&s, &f->d);
		}
		al_spec_free(&s);
		if (rc < 0)
			goto fail;
	} else {
		pid_t pid = fork();
		if (pid < 0) {
			rc = -errno;
			goto fail;
		}
		if (pid == 0) {
			/* dup2 onto itself would keep close-on-exec */
			if (dup3(f->memfd, 900, O_CLOEXEC) < 0 || dup2(900, 3) < 0)
				_exit(126);
			al_bench_pin(cpu);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			syscall(SYS_execveat, exe, "", argv, (char *[]){ NULL }, AT_EMPTY_PATH);
			_exit(127);
		}
		f->pid = pid;
	}
	close(exe);
	return 0;
fail:
	if (exe >= 0)
		close(exe);
	al_bench_futex_stop(f);
	return rc;
}

void al_bench_futex_stop(struct al_bench_futex *f)
{
	if (f->stop) {
		atomic_store(f->stop, 1);
		atomic_fetch_add(f->turn, 2); /* never the value it waits for */
		syscall(SYS_futex, f->turn, FUTEX_WAKE, 1, NULL, NULL, 0);
	}
	if (f->d) {
		int st;
		al_domain_kill(f->d, SIGKILL);
		al_domain_wait(f->d, &st);
		al_domain_free(f->d);
		f->d = NULL;
	}
	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		waitpid(f->pid, NULL, 0);
		f->pid = -1;
	}
	if (f->turn)
		munmap((void *)f->turn, 4096);
	f->turn = f->stop = NULL;
	if (f->memfd > 0)
		close(f->memfd);
	f->memfd = -1;
}

int al_bench_futex_rt(struct al_bench_futex *f, unsigned n, double *ns)
{
	uint64_t t0 = al_now_ns();
	for (unsigned i = 0; i < n; i++) {
		uint32_t want = f->seq + 2;
		atomic_store(f->turn, f->seq + 1);
		syscall(SYS_futex, f->turn, FUTEX_WAKE, 1, NULL, NULL, 0);
		uint32_t v;
		uint64_t deadline = al_now_ns() + 5000000000ULL;
		/* bounded: a peer that died never answers */
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 100000000 };
		while ((v = atomic_load(f->turn)) != want) {
			syscall(SYS_futex, f->turn, FUTEX_WAIT, v, &ts, NULL, 0);
			if (al_now_ns() > deadline)
				return -ETIMEDOUT;
		}
		f->seq = want;
	}
	*ns = (double)(al_now_ns() - t0) / n;
	return 0;
}

int al_bench_spawn_once(struct al_bench_env *e, int level, uint64_t *ns)
{
	static char *argv[] = { "airlock-bench-peer", "exit", NULL };
	if (!e->peer_exe[0])
		return -ENOENT;
	int exe = open(e->peer_exe, O_RDONLY | O_CLOEXEC), rc = 0, st = 0;
	if (exe < 0)
		return -errno;
	if (level >= 0) {
		struct al_spec s;
		if ((rc = al_bench_spec(&s, level, exe, argv)) == 0 && (rc = al_seccomp_prepare(&s)) == 0) {
			/* the filter is compiled once per profile by a supervisor: not timed */
			struct al_domain *d;
			uint64_t t0 = al_now_ns();
			if ((rc = al_domain_spawn(&s, &d)) == 0) {
				if ((rc = al_domain_attest(d, &s, NULL, NULL)) == 0 && (rc = al_domain_start(d)) == 0)
					rc = al_domain_wait(d, &st);
				al_domain_free(d);
			}
			*ns = al_now_ns() - t0;
		}
		al_spec_free(&s);
	} else {
		uint64_t t0 = al_now_ns();
		pid_t pid = fork();
		if (pid == 0) {
			syscall(SYS_execveat, exe, "", argv, (char *[]){ NULL }, AT_EMPTY_PATH);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &st, 0) < 0)
			rc = -errno;
		*ns = al_now_ns() - t0;
	}
	close(exe);
	if (rc == 0 && st != 0)
		rc = -ECHILD;
	return rc;
}
