/*
 * MCP request cost with and without the transport: tools/list and generate
 * (max_tokens=1) over Streamable HTTP keep-alive to a real airlock-proto
 * (stage-2 seccomp on), at concurrency 1 and 32, next to the same messages
 * handed to al_mcp_handle() in-process. The ratio is the transport's cost.
 * Usage: bench_mcp [REQUESTS_PER_CLIENT]
 */
#include "al_config.h"
#include "common/util.h"
#include "mcp/mcp.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define META "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
	     "\"io.modelcontextprotocol/clientCapabilities\":{}}"
static const char list_body[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" META "}}";
static const char gen_body[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{"
			       "\"name\":\"generate\",\"arguments\":{\"prompt\":\"Once\",\"max_tokens\":1,"
			       "\"temperature\":0}," META "}}";

struct job {
	const char *url;
	const char *body;
	const char *method;
	const char *name;
	struct al_mcp_server *srv; /* in-process when set */
	unsigned n;
	uint64_t *lat;             /* n latencies, ns */
	int failed;
};

static size_t sink(char *p, size_t sz, size_t nm, void *ud)
{
	size_t *got = ud;
	*got += sz * nm;
	return sz * nm;
}

static void *http_client(void *arg)
{
	struct job *j = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char mh[64], nh[64];
	snprintf(mh, sizeof(mh), "Mcp-Method: %s", j->method);
	snprintf(nh, sizeof(nh), "Mcp-Name: %s", j->name ? j->name : "");
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: application/json, text/event-stream");
	h = curl_slist_append(h, "MCP-Protocol-Version: 2026-07-28");
	h = curl_slist_append(h, mh);
	if (j->name)
		h = curl_slist_append(h, nh);
	size_t got = 0;
	curl_easy_setopt(c, CURLOPT_URL, j->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	for (unsigned i = 0; i < j->n; i++) {
		uint64_t t0 = al_now_ns();
		long code = 0;
		if (curl_easy_perform(c) != CURLE_OK ||
		    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200)
			j->failed++;
		j->lat[i] = al_now_ns() - t0;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

static void drop_emit(void *ud, json_t *msg, bool final)
{
	/* Serialise as a transport would, so both sides pay for the JSON text. */
	char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	*(size_t *)ud += s ? strlen(s) : 0;
	free(s);
}

static void *inproc_client(void *arg)
{
	struct job *j = arg;
	size_t bytes = 0;
	struct al_mcp_output out = { .emit = drop_emit, .ud = &bytes };
	struct al_mcp_input in = { .body = j->body, .len = strlen(j->body), .transport = AL_MCP_STDIO };
	for (unsigned i = 0; i < j->n; i++) {
		struct al_mcp_result res;
		uint64_t t0 = al_now_ns();
		if (al_mcp_handle(j->srv, &in, &out, &res) < 0)
			j->failed++;
		if (res.call) {
			al_mcp_call_detach(res.call);
			al_mcp_call_put(res.call);
		}
		j->lat[i] = al_now_ns() - t0;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct figures {
	double rps, p50_us, p99_us;
	int failed;
};

static struct figures run(const char *url, struct al_mcp_server *srv, const char *body,
			  const char *method, const char *name, unsigned conc, unsigned per)
{
	struct job *jobs = calloc(conc, sizeof(*jobs));
	pthread_t *th = calloc(conc, sizeof(*th));
	uint64_t *all = calloc((size_t)conc * per, sizeof(*all));
	for (unsigned k = 0; k < conc; k++)
		jobs[k] = (struct job){ .url = url, .body = body, .method = method, .name = name,
					.srv = srv, .n = per, .lat = all + (size_t)k * per };
	uint64_t t0 = al_now_ns();
	for (unsigned k = 0; k < conc; k++)
		pthread_create(&th[k], NULL, srv ? inproc_client : http_client, &jobs[k]);
	struct figures f = { 0 };
	for (unsigned k = 0; k < conc; k++) {
		pthread_join(th[k], NULL);
		f.failed += jobs[k].failed;
	}
	uint64_t dt = al_now_ns() - t0;
	size_t n = (size_t)conc * per;
	qsort(all, n, sizeof(*all), cmp_u64);
	f.rps = (double)n / ((double)dt / 1e9);
	f.p50_us = (double)all[n / 2] / 1e3;
	f.p99_us = (double)all[n * 99 / 100] / 1e3;
	free(all);
	free(th);
	free(jobs);
	return f;
}

/* Starts airlock-proto on an ephemeral port; returns its pid and fills url. */
static pid_t start_proto(char *url, size_t urllen)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 2);
		close(pfd[0]);
		execl(AL_BUILD_ROOT "/src/workers/proto/airlock-proto", "airlock-proto", "--listen",
		      "127.0.0.1:0", "--max-inflight", "256", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	char buf[256];
	size_t len = 0;
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(pfd[0], buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		char *p = strstr(buf, "http://");
		char *e = p ? strstr(p, "/mcp") : NULL;
		if (e) {
			snprintf(url, urllen, "%.*s", (int)(e + 4 - p), p);
			close(pfd[0]);
			return pid;
		}
	}
	close(pfd[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

int main(int argc, char **argv)
{
	unsigned per = argc > 1 ? (unsigned)atoi(argv[1]) : 0;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	char url[128];
	pid_t pid = start_proto(url, sizeof(url));
	if (pid < 0) {
		fprintf(stderr, "bench_mcp: could not start airlock-proto\n");
		return 1;
	}
	struct al_mcp_config cfg;
	al_mcp_config_default(&cfg);
	struct al_mcp_server *srv;
	if (al_mcp_server_new(&cfg, &al_mcp_backend_none, &srv) < 0)
		return 1;

	printf("MCP request cost: HTTP keep-alive to airlock-proto vs in-process al_mcp_handle\n");
	printf("(2026-07-28 stateless requests; generate has no AI domain behind it, so it measures\n"
	       " validation and the tool-error path, not inference)\n\n");
	printf("%-22s %4s | %10s %9s %9s | %10s %9s %9s | %7s %7s\n", "request", "conc", "http req/s",
	       "p50 us", "p99 us", "inproc/s", "p50 us", "p99 us", "rps x", "p50 x");
	struct {
		const char *label, *body, *method, *name;
	} reqs[] = {
		{ "tools/list", list_body, "tools/list", NULL },
		{ "generate max_tokens=1", gen_body, "tools/call", "generate" },
	};
	unsigned concs[] = { 1, 32 };
	int failed = 0;
	for (size_t r = 0; r < 2; r++) {
		for (size_t k = 0; k < 2; k++) {
			unsigned c = concs[k];
			unsigned n = per ? per : (c == 1 ? 2000 : 150);
			/* warm-up */
			run(url, NULL, reqs[r].body, reqs[r].method, reqs[r].name, c, 20);
			struct figures h = run(url, NULL, reqs[r].body, reqs[r].method, reqs[r].name, c, n);
			struct figures i = run(NULL, srv, reqs[r].body, reqs[r].method, reqs[r].name, c,
					       n * 10);
			failed += h.failed + i.failed;
			printf("%-22s %4u | %10.0f %9.1f %9.1f | %10.0f %9.1f %9.1f | %7.1f %7.1f\n",
			       reqs[r].label, c, h.rps, h.p50_us, h.p99_us, i.rps, i.p50_us, i.p99_us,
			       i.rps / h.rps, h.p50_us / i.p50_us);
		}
	}
	printf("\nrps x = in-process throughput / HTTP throughput; p50 x = HTTP p50 / in-process p50\n");
	if (failed)
		printf("FAILED requests: %d\n", failed);
	kill(pid, SIGTERM);
	int st;
	waitpid(pid, &st, 0);
	al_mcp_server_free(srv);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
