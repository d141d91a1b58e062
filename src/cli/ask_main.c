/*
 * airlock-ask: `airlock ask` (src/cli/cmd_ask.c has its usage), run by
 * `airlock` with the same arguments. A real MCP client of the running server
 * over Streamable HTTP (libcurl): it performs the 2025-11-25 handshake, calls
 * the `generate` tool with a progress token and prints the text as progress
 * notifications bring it, then the rest from the final result.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/ask.h"
#include "cli/cli.h"
#include "common/util.h"
#include "supervisor/config.h"

#define ASK_PROTOCOL "2025-11-25"
#define ASK_MAX_BODY (16u << 20)

struct ask {
	CURL *curl;
	const char *url;
	char *session;      /* Mcp-Session-Id from initialize */
	char *bearer;       /* "Authorization: Bearer ..." */
	/* response accumulation */
	char *body;
	size_t body_len;
	bool sse;
	size_t sse_pos;     /* bytes of body already split into events */
	size_t printed;     /* bytes of the generated text already printed */
	json_t *result;     /* the response to our request */
	json_t *error;
	long request_id;
	const char *prompt;  /* shown before the first text, as a completion */
	bool prompt_shown;
};

static void ask_print_text(struct ask *a, const char *text)
{
	if (!a->prompt_shown && a->prompt) {
		fputs(a->prompt, stdout);
		a->prompt_shown = true;
	}
	size_t len = strlen(text);
	if (len > a->printed) {
		fwrite(text + a->printed, 1, len - a->printed, stdout);
		fflush(stdout);
		a->printed = len;
	}
}

/* One JSON-RPC message from the server: a progress notification or our response. */
static void ask_message(struct ask *a, json_t *msg)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	if (method && strcmp(method, "notifications/progress") == 0) {
		const char *m = json_string_value(json_object_get(json_object_get(msg, "params"), "message"));
		if (m)
			ask_print_text(a, m);
		return;
	}
	json_t *id = json_object_get(msg, "id");
	if (!id || json_integer_value(id) != a->request_id)
		return;
	if (json_object_get(msg, "error")) {
		json_decref(a->error);
		a->error = json_incref(json_object_get(msg, "error"));
	} else if (json_object_get(msg, "result")) {
		json_decref(a->result);
		a->result = json_incref(json_object_get(msg, "result"));
	}
}

/* Splits complete SSE events ("data:" lines ended by a blank line) out of the body so far. */
static void ask_sse_events(struct ask *a)
{
	for (;;) {
		char *start = a->body + a->sse_pos;
		char *end = strstr(start, "\n\n");
		if (!end)
			return;
		*end = '\0';
		/* Concatenate the data: lines of this event. */
		size_t cap = (size_t)(end - start) + 1, dl = 0;
		char *payload = malloc(cap);
		if (!payload)
			return;
		for (char *line = start; line && line < end;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			if (strncmp(line, "data:", 5) == 0) {
				const char *v = line + 5 + (line[5] == ' ');
				size_t vl = strlen(v);
				memcpy(payload + dl, v, vl);
				dl += vl;
			}
			line = nl ? nl + 1 : NULL;
		}
		payload[dl] = '\0';
		if (dl) {
			json_t *msg = json_loads(payload, 0, NULL);
			if (msg)
				ask_message(a, msg);
			json_decref(msg);
		}
		free(payload);
		a->sse_pos = (size_t)(end - a->body) + 2;
	}
}

static size_t ask_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct ask *a = userdata;
	size_t n = size * nmemb, nl;
	if (!al_add_size(a->body_len, n, &nl) || nl > ASK_MAX_BODY)
		return 0; /* aborts the transfer */
	char *b = realloc(a->body, nl + 1);
	if (!b)
		return 0;
	memcpy(b + a->body_len, ptr, n);
	b[nl] = '\0';
	a->body = b;
	a->body_len = nl;
	if (a->sse) {
		/* Normalise CRLF so the event split sees "\n\n". */
		for (char *p = b; (p = strchr(p, '\r'));)
			*p = '\n' == p[1] ? ' ' : '\n';
		ask_sse_events(a);
	}
	return n;
}

static size_t ask_header(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct ask *a = userdata;
	size_t n = size * nitems;
	if (n > 15 && strncasecmp(buf, "Mcp-Session-Id:", 15) == 0) {
		const char *v = buf + 15;
		while (*v == ' ')
			v++;
		size_t vl = strcspn(v, "\r\n");
		free(a->session);
		a->session = strndup(v, vl);
	} else if (n > 13 && strncasecmp(buf, "Content-Type:", 13) == 0) {
		a->sse = strstr(buf, "text/event-stream") != NULL;
	}
	return n;
}

static size_t ask_discard(char *buf, size_t size, size_t nitems, void *userdata)
{
	return size * nitems;
}

/* Ends the session (HTTP DELETE with its id), so it holds no place in the server's table. */
static void ask_delete_session(struct ask *a)
{
	if (!a->curl || !a->session)
		return;
	struct curl_slist *h = NULL;
	char sess[300];
	snprintf(sess, sizeof sess, "Mcp-Session-Id: %s", a->session);
	h = curl_slist_append(h, sess);
	h = curl_slist_append(h, "MCP-Protocol-Version: " ASK_PROTOCOL);
	if (a->bearer)
		h = curl_slist_append(h, a->bearer);
	curl_easy_reset(a->curl);
	curl_easy_setopt(a->curl, CURLOPT_URL, a->url);
	curl_easy_setopt(a->curl, CURLOPT_CUSTOMREQUEST, "DELETE");
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, ask_discard);
	curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT, 10L);
	/* Best effort: an unreachable server drops the session itself in time. */
	(void)curl_easy_perform(a->curl);
	curl_slist_free_all(h);
}

/* POSTs one JSON-RPC message; for a request, waits for its response. 0 or -1 (message printed). */
static int ask_post(struct ask *a, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return -1;
	struct curl_slist *h = NULL;
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: application/json, text/event-stream");
	h = curl_slist_append(h, "MCP-Protocol-Version: " ASK_PROTOCOL);
	char sess[300];
	if (a->session) {
		snprintf(sess, sizeof sess, "Mcp-Session-Id: %s", a->session);
		h = curl_slist_append(h, sess);
	}
	if (a->bearer)
		h = curl_slist_append(h, a->bearer);
	free(a->body);
	a->body = NULL;
	a->body_len = a->sse_pos = 0;
	a->sse = false;
	curl_easy_setopt(a->curl, CURLOPT_URL, a->url);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, ask_write);
	curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(a->curl, CURLOPT_HEADERFUNCTION, ask_header);
	curl_easy_setopt(a->curl, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT, 600L);
	CURLcode rc = curl_easy_perform(a->curl);
	curl_slist_free_all(h);
	free(text);
	if (rc != CURLE_OK) {
		fprintf(stderr, "airlock ask: %s: %s\n", a->url, curl_easy_strerror(rc));
		return -1;
	}
	long status = 0;
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status == 202)
		return 0; /* a notification, accepted */
	if (!a->sse && a->body) {
		json_t *resp = json_loads(a->body, 0, NULL);
		if (resp)
			ask_message(a, resp);
		json_decref(resp);
	}
	if (status != 200 && !a->error) {
		fprintf(stderr, "airlock ask: %s: HTTP %ld: %.300s\n", a->url, status, a->body ? a->body : "");
		return -1;
	}
	if (a->error) {
		fprintf(stderr, "airlock ask: server error %lld: %s\n",
			(long long)json_integer_value(json_object_get(a->error, "code")),
			json_string_value(json_object_get(a->error, "message")) ?: "(no message)");
		return -1;
	}
	return 0;
}

static int ask_parse_num(const struct al_cmd *cmd, const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi)
		return al_cli_usage_error(cmd, "%s: '%s' is not a number in [%g, %g]", opt, s, lo, hi);
	*out = v;
	return 0;
}

static int ask_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"url", required_argument, NULL, 'u'},
		{"max-tokens", required_argument, NULL, 'n'},
		{"temperature", required_argument, NULL, 't'},
		{"top-p", required_argument, NULL, 'p'},
		{"seed", required_argument, NULL, 's'},
		{"token-file", required_argument, NULL, 'k'},
		{"config", required_argument, NULL, 'c'},
		{0, 0, 0, 0},
	};
	const char *url = AL_ASK_DEFAULT_URL, *token_file = NULL, *config = NULL;
	char url_buf[128], token_buf[512];
	bool url_given = false;
	double max_tokens = 256, temperature = 0, top_p = 0.9, seed = 0;
	int c, rc;
	opterr = 0;
	/* Options may follow the prompt (GNU argument permutation). */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': url = optarg; url_given = true; break;
		case 'n': if ((rc = ask_parse_num(&al_cmd_ask, "--max-tokens", optarg, 1, 1e6, &max_tokens))) return rc; break;
		case 't': if ((rc = ask_parse_num(&al_cmd_ask, "--temperature", optarg, 0, 2, &temperature))) return rc; break;
		case 'p': if ((rc = ask_parse_num(&al_cmd_ask, "--top-p", optarg, 0, 1, &top_p))) return rc; break;
		case 's': if ((rc = ask_parse_num(&al_cmd_ask, "--seed", optarg, 0, 9007199254740991.0, &seed))) return rc; break;
		case 'k': token_file = optarg; break;
		case 'c': config = optarg; break;
		default:
			return al_cli_usage_error(&al_cmd_ask, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return al_cli_usage_error(&al_cmd_ask, optind >= argc ? "a PROMPT is needed" : "only one PROMPT, quote it");
	const char *prompt = argv[optind];
	if (config) {
		struct al_config *cfg = NULL;
		char *errors = NULL;
		if (al_config_load(config, AL_CONFIG_NO_FILE_CHECKS, &cfg, &errors) < 0) {
			fputs(errors ? errors : "airlock ask: the configuration could not be loaded\n", stderr);
			free(errors);
			return AL_EXIT_FAIL;
		}
		if (cfg->proto.stdio) {
			fprintf(stderr, "airlock ask: %s serves MCP on stdio, not HTTP\n", config);
			al_config_free(cfg);
			return AL_EXIT_FAIL;
		}
		if (!url_given) {
			snprintf(url_buf, sizeof url_buf, "http://%s:%u/mcp", cfg->proto.host, cfg->proto.port);
			url = url_buf;
		}
		if (!token_file && cfg->proto.token_file) {
			al_strlcpy(token_buf, cfg->proto.token_file, sizeof token_buf);
			token_file = token_buf;
		}
		al_config_free(cfg);
	}

	struct ask a = {.url = url};
	if (token_file) {
		char *tok = NULL;
		int trc = al_read_file_at(AT_FDCWD, token_file, 4096, &tok, NULL);
		if (trc < 0) {
			fprintf(stderr, "airlock ask: --token-file %s: %s\n", token_file, strerror(-trc));
			return AL_EXIT_FAIL;
		}
		tok[strcspn(tok, "\r\n")] = '\0';
		size_t bl = strlen(tok) + 32;
		a.bearer = malloc(bl);
		if (a.bearer)
			snprintf(a.bearer, bl, "Authorization: Bearer %s", tok);
		free(tok);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	a.curl = curl_easy_init();
	int status = AL_EXIT_FAIL;
	if (!a.curl)
		goto out;

	a.request_id = 1;
	json_t *init = json_pack("{s:s, s:i, s:s, s:{s:s, s:{}, s:{s:s, s:s}}}",
		"jsonrpc", "2.0", "id", 1, "method", "initialize", "params",
		"protocolVersion", ASK_PROTOCOL, "capabilities",
		"clientInfo", "name", "airlock-ask", "version", "1");
	rc = ask_post(&a, init);
	json_decref(init);
	if (rc < 0 || !a.result)
		goto out;
	json_decref(a.result);
	a.result = NULL;

	json_t *inited = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", "notifications/initialized");
	rc = ask_post(&a, inited);
	json_decref(inited);
	if (rc < 0)
		goto out;

	/* The server returns the continuation; it is shown after the prompt. */
	a.prompt = prompt;
	a.request_id = 2;
	json_t *call = json_pack("{s:s, s:i, s:s, s:{s:s, s:{s:s, s:I, s:f, s:f, s:I}, s:{s:s}}}",
		"jsonrpc", "2.0", "id", 2, "method", "tools/call", "params",
		"name", "generate", "arguments",
		"prompt", prompt, "max_tokens", (json_int_t)max_tokens, "temperature", temperature,
		"top_p", top_p, "seed", (json_int_t)seed,
		"_meta", "progressToken", "ask");
	rc = ask_post(&a, call);
	json_decref(call);
	if (rc < 0 || !a.result) {
		if (rc == 0)
			fprintf(stderr, "airlock ask: the server sent no result\n");
		goto out;
	}
	json_t *content = json_object_get(a.result, "content");
	const char *text = json_string_value(json_object_get(json_array_get(content, 0), "text"));
	bool is_error = json_is_true(json_object_get(a.result, "isError"));
	if (is_error) {
		fprintf(stderr, "\nairlock ask: the tool failed: %s\n", text ? text : "(no message)");
		goto out;
	}
	ask_print_text(&a, text ? text : "");
	printf("\n");
	status = AL_EXIT_OK;
out:
	ask_delete_session(&a);
	json_decref(a.result);
	json_decref(a.error);
	free(a.body);
	free(a.session);
	free(a.bearer);
	if (a.curl)
		curl_easy_cleanup(a.curl);
	curl_global_cleanup();
	return status;
}

int main(int argc, char **argv)
{
	return al_cli_helper_main(&al_cmd_ask, ask_run, argc, argv);
}
