/*
 * The AI engine against its peers, all run here side by side on the same
 * files, prompt and steps, in interleaved rounds (medians, min-max, ratios):
 *
 *  1. the machine's memory read bandwidth, one core and all cores, over a
 *     buffer larger than the last-level cache: the yardstick for decode;
 *  2. llama2.c's run.c, built as its authors build it for speed (runfast
 *     -Ofast -march=native; runomp -Ofast -fopenmp -march=native with
 *     OMP_NUM_THREADS for two threads), greedy decode on stories260K and a
 *     random-weights model of the stories15M shape (dim 288, 6 layers, 6
 *     heads, vocab 32000) with a generated tokenizer;
 *  3. prefill (al_ai_prefill) against the same engine one position at a
 *     time; the kernels alone (GB/s of weights);
 *  4. GGUF F32 / Q8_0 / Q4_0 exports of both models, and Q8_0 against
 *     llama2.c's runq.c (built the same way) on a version-2 checkpoint;
 *  5. llama.cpp (bench/ai/get-llama-cpp: the npm package's prebuilt CPU
 *     libraries, driven by llama_peer.c through their own llama.h), with
 *     its defaults and with flash attention off, on GGUF exports of the
 *     15M shape in F32, F16, Q8_0 and Q4_0, one and two threads: decode
 *     and 128-token prefill tok/s against the faster of the two, decode
 *     bytes/s against the bandwidth, and the greedy ids compared (the first
 *     difference and how close the two choices were there);
 *  6. the TinyLlama 1.1B shape (22 layers, dim 2048, hidden 5632, 32 heads,
 *     4 KV heads, vocab 32000), random weights written to a scratch
 *     directory as an fp32 checkpoint (run.c, and the source of the rest),
 *     GGUF Q4_0, Q8_0 and F16 (llama.cpp) and a version-2 checkpoint
 *     (runq.c), as far as the disk allows; the same tables.
 *
 * The peers are compiled at run time into the build directory; every
 * compiler command is printed. Without the shared folder (llama2.c, from
 * --peer-dir or <source root>/../shared/peers/llama2.c) or llama.cpp
 * (--llama-cpp DIR), their columns say so. Decode is timed as run.c times
 * itself, from the end of the first forward pass.
 *
 * Usage: bench_ai [--peer-dir DIR] [--llama-cpp DIR] [--scratch DIR] [--no-1b] [--only gguf]
 *                 [--types LIST] [RUNS] [STEPS]
 * (--only gguf: section 5 alone, the quick loop for the GGUF kernels; --types q4_0,q8_0: those
 * types alone in the llama.cpp tables)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "al_config.h"
#include "bench_util.h"
#include "common/util.h"
#include "model_writer.h"
#include "peak_rss.h"
#include "workers/ai/generate.h"
#include "workers/ai/gguf.h"
#include "workers/ai/quant.h"
#include "workers/ai/sampler.h"

#define DEFAULT_PEER_DIR AL_SOURCE_ROOT "/../shared/peers/llama2.c"
#ifndef AL_BENCH_AI_BUILD_DIR
#define AL_BENCH_AI_BUILD_DIR "."
#endif
#define PREFILL 128     /* prompt tokens of every prefill */
#define STEPS_1B 64     /* decode steps on the 1.1B shape */
#define MAX_STEPS 2048

/* A peer's run is killed after this many seconds (OpenMP and llama.cpp
 * threads spin while they wait: on a busy machine two of them can take
 * minutes for what one does in seconds); such runs are counted, not timed. */
static int peer_timeout = 120;
static int timeouts;

/* The machine: read bandwidth, GB/s, one core and all. */
static double bw1, bwall;
static int ncpu;

/* ---- airlock ---- */

/* One model loaded into an engine with a thread count; kept at one address. */
struct ours {
	struct al_ai_model m;
	struct al_ai_tokenizer t;
	struct al_ai_engine e;
};

static struct ours *ours_load(const char *model, const char *tok, int threads)
{
	struct ours *o = calloc(1, sizeof(*o));
	int fd = open(model, O_RDONLY | O_CLOEXEC);
	if (!o || fd < 0 || al_ai_model_build_fd(&o->m, fd)) {
		fprintf(stderr, "bench_ai: %s: %s\n", model, fd < 0 ? strerror(errno) : o ? o->m.err : "no memory");
		if (fd >= 0)
			close(fd);
		free(o);
		return NULL;
	}
	close(fd);
	int rc;
	if (!tok) {
		rc = al_ai_tokenizer_build_gguf(&o->t, &o->m);
	} else {
		fd = open(tok, O_RDONLY | O_CLOEXEC);
		rc = fd < 0 ? -errno : al_ai_tokenizer_build_fd(&o->t, fd, o->m.cfg.vocab_size);
		if (fd >= 0)
			close(fd);
	}
	if (rc || al_ai_engine_build(&o->e, &o->m, &o->t) || al_ai_engine_set_threads(&o->e, threads)) {
		fprintf(stderr, "bench_ai: %s: %s\n", tok ? tok : model, rc ? o->t.err : "engine not built");
		al_ai_model_free(&o->m);
		free(o);
		return NULL;
	}
	return o;
}

static void ours_free(struct ours *o)
{
	if (!o)
		return;
	al_ai_engine_free(&o->e);
	al_ai_tokenizer_free(&o->t);
	al_ai_model_free(&o->m);
	free(o);
}

static int argmax(const float *v, int n)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

/* Greedy from BOS for steps positions: tok/s over positions 1.., the ids after BOS in ids. */
static double ours_decode(struct ours *o, int steps, int *ids)
{
	int token = AL_AI_TOK_BOS;
	uint64_t t0 = 0;
	for (int pos = 0; pos < steps; pos++) {
		float *logits = al_ai_forward(&o->m, &o->e.state, token, pos);
		token = argmax(logits, o->m.cfg.vocab_size);
		if (ids && pos + 1 < steps)
			ids[pos] = token;
		if (pos == 0)
			t0 = al_now_ns();
	}
	return (double)(steps - 1) * 1e9 / (double)(al_now_ns() - t0);
}

/* The prompt every prefill runs: BOS, then ids (i * 7919) % vocab (as llama_peer.c). */
static void prompt_ids(int *t, int n, int vocab)
{
	for (int i = 0; i < n; i++)
		t[i] = i ? (int)((unsigned)i * 7919u % (unsigned)vocab) : AL_AI_TOK_BOS;
}

static double ours_prefill(struct ours *o, int plen)
{
	int t[MAX_STEPS];
	prompt_ids(t, plen, o->m.cfg.vocab_size);
	uint64_t t0 = al_now_ns();
	al_ai_prefill(&o->m, &o->e.state, t, plen, 0);
	return (double)plen * 1e9 / (double)(al_now_ns() - t0);
}

/* The same prompt one position at a time. */
static double ours_one_by_one(struct ours *o, int plen)
{
	int t[MAX_STEPS];
	prompt_ids(t, plen, o->m.cfg.vocab_size);
	uint64_t t0 = al_now_ns();
	for (int pos = 0; pos < plen; pos++)
		al_ai_forward(&o->m, &o->e.state, t[pos], pos);
	return (double)plen * 1e9 / (double)(al_now_ns() - t0);
}

/* Logits at position k of the greedy sequence: BOS, then ids[0..k). */
static const float *ours_logits_at(struct ours *o, const int *ids, int k)
{
	int token = AL_AI_TOK_BOS;
	const float *l = NULL;
	for (int pos = 0; pos <= k; pos++) {
		l = al_ai_forward(&o->m, &o->e.state, token, pos);
		if (pos < k)
			token = ids[pos];
	}
	return l;
}

/*
 * Start-up and memory are measured in a process of their own (this program
 * again, with --footprint): load to a ready engine, to the logits of the
 * first prompt (PREFILL tokens), then steps greedy positions, and the peak
 * RSS over all of it, as llama_peer.c does for llama.cpp.
 */
static int footprint_main(const char *model, int steps)
{
	uint64_t t0 = al_now_ns();
	struct ours *o = ours_load(model, NULL, 1);
	if (!o)
		return 1;
	uint64_t t1 = al_now_ns();
	int plen = o->m.cfg.seq_len < PREFILL ? o->m.cfg.seq_len : PREFILL;
	ours_prefill(o, plen);
	uint64_t t2 = al_now_ns();
	ours_decode(o, steps, NULL);
	printf("start %.2f %.2f %ld\n", (double)(t1 - t0) / 1e6, (double)(t2 - t0) / 1e6, vm_hwm_kib());
	ours_free(o);
	return 0;
}

static int ours_footprint(const char *model, int steps, const char *dir, double v[3])
{
	char outf[800], errf[800], st[16], *txt = NULL, *q, *e;
	size_t len = 0;
	snprintf(outf, sizeof(outf), "%s/footprint.out", dir);
	snprintf(errf, sizeof(errf), "%s/footprint.err", dir);
	snprintf(st, sizeof(st), "%d", steps);
	char *argv[] = { "/proc/self/exe", "--footprint", (char *)model, st, NULL };
	int rc = run_cmd(argv, NULL, outf, errf, 0);
	if (rc || al_read_file_at(AT_FDCWD, outf, 4096, &txt, &len) || !(q = strstr(txt, "start "))) {
		free(txt);
		return -1;
	}
	v[0] = strtod(q + 6, &e);
	v[1] = strtod(e, &e);
	v[2] = strtod(e, &e);
	free(txt);
	unlink(outf);
	unlink(errf);
	return 0;
}

/* Weight bytes a decode step reads: every matrix of every layer and the classifier. */
static double bytes_per_token(const struct al_ai_model *m)
{
	const struct al_ai_config *c = &m->cfg;
	double total = 0.0;
	const struct {
		int n, d;
	} shapes[] = { { c->dim, c->dim }, { c->dim, c->kv_dim }, { c->dim, c->kv_dim }, { c->dim, c->dim },
		       { c->dim, c->hidden_dim }, { c->hidden_dim, c->dim }, { c->dim, c->hidden_dim } };
	for (int l = 0; l < c->n_layers; l++) {
		const struct al_ai_layer *L = &m->w.layers[l];
		const struct al_ai_mat *mats[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w1, &L->w2, &L->w3 };
		for (size_t i = 0; i < AL_ARRAY_LEN(mats); i++) {
			size_t rb = mats[i]->type == AL_AI_W_Q8G ? (size_t)shapes[i].n + (size_t)shapes[i].n / (size_t)c->group_size * 4
								 : al_ai_row_bytes(mats[i]->type, shapes[i].n);
			total += (double)rb * shapes[i].d;
		}
	}
	const struct al_ai_mat *w = &m->w.wcls;
	size_t rb = w->type == AL_AI_W_Q8G ? (size_t)c->dim + (size_t)c->dim / (size_t)c->group_size * 4
					   : al_ai_row_bytes(w->type, c->dim);
	return total + (double)rb * c->vocab_size;
}

/* ---- llama2.c's run.c and runq.c ---- */

/* One greedy run of a llama2.c binary: its own "achieved tok/s" (from after its first token). */
static double llama2c_once(const char *bin, const char *model, const char *tok, int steps, int threads,
			   const char *dir)
{
	char steps_s[16], errfile[800], nt[32], *txt = NULL;
	size_t len;
	snprintf(steps_s, sizeof(steps_s), "%d", steps);
	snprintf(errfile, sizeof(errfile), "%s/peer.err", dir);
	snprintf(nt, sizeof(nt), "OMP_NUM_THREADS=%d", threads);
	const char *env[] = { nt, NULL };
	char *argv[] = { (char *)bin, (char *)model, "-z", (char *)tok, "-t", "0", "-n", steps_s, NULL };
	int rc = run_cmd(argv, env, NULL, errfile, peer_timeout);
	timeouts += rc == -ETIMEDOUT;
	if (rc || al_read_file_at(AT_FDCWD, errfile, 1 << 16, &txt, &len))
		return 0.0;
	char *p = strstr(txt, "achieved tok/s:");
	double v = p ? strtod(p + 15, NULL) : 0.0;
	free(txt);
	return v;
}

/* The llama2.c peers built here: run.c and runq.c, one thread and OpenMP. */
struct l2c {
	char run1[800], runomp[800], runq1[800], runqomp[800];
	bool have_run1, have_runomp, have_runq1, have_runqomp;
};

static void build_llama2c(const char *peer_dir, const char *dir, struct l2c *p)
{
	/* Their Makefile: runfast is -Ofast, runomp -Ofast -fopenmp -march=native. */
	static const char *const fast[] = { "-Ofast", "-march=native", NULL };
	static const char *const omp[] = { "-Ofast", "-fopenmp", "-march=native", NULL };
	static const char *const lm[] = { "-lm", NULL };
	char src[800];
	memset(p, 0, sizeof(*p));
	if (!peer_dir)
		return;
	snprintf(src, sizeof(src), "%s/run.c", peer_dir);
	p->have_run1 = build_peer("run.c 1T", src, "run-fast", fast, lm, dir, p->run1, sizeof(p->run1)) == 0;
	p->have_runomp = build_peer("run.c OpenMP", src, "run-omp", omp, lm, dir, p->runomp, sizeof(p->runomp)) == 0;
	snprintf(src, sizeof(src), "%s/runq.c", peer_dir);
	p->have_runq1 = build_peer("runq.c 1T", src, "runq-fast", fast, lm, dir, p->runq1, sizeof(p->runq1)) == 0;
	p->have_runqomp =
		build_peer("runq.c OpenMP", src, "runq-omp", omp, lm, dir, p->runqomp, sizeof(p->runqomp)) == 0;
}

static const char *l2c_bin(const struct l2c *p, bool q, int threads)
{
	if (q)
		return threads == 1 ? (p->have_runq1 ? p->runq1 : NULL) : (p->have_runqomp ? p->runqomp : NULL);
	return threads == 1 ? (p->have_run1 ? p->run1 : NULL) : (p->have_runomp ? p->runomp : NULL);
}

/*
 * airlock (ours_model, optionally a different file than the peer's) against
 * a llama2.c binary, interleaved rounds, 1 and 2 threads: one table row per
 * thread count.
 */
static int l2c_rows(const char *label, const char *ours_model, const char *tok, bool ours_gguf,
		    const struct l2c *p, bool q, const char *peer_model, int steps, int runs, const char *dir)
{
	char a[64], b[64], name[96];
	for (int threads = 1; threads <= 2; threads++) {
		struct ours *o = ours_load(ours_model, ours_gguf ? NULL : tok, threads);
		if (!o)
			return 1;
		const char *bin = l2c_bin(p, q, threads);
		struct series so = { 0 }, sp = { 0 };
		for (int r = 0; r < runs; r++) {
			series_add(&so, ours_decode(o, steps, NULL));
			double v = bin ? llama2c_once(bin, peer_model, tok, steps, threads, dir) : 0.0;
			if (v > 0.0)
				series_add(&sp, v);
		}
		ours_free(o);
		snprintf(name, sizeof(name), "%s, %dT", label, threads);
		printf("%-34s %22s %22s", name, series_fmt(&so, a, sizeof(a)), series_fmt(&sp, b, sizeof(b)));
		if (sp.n)
			printf(" %7.2fx\n", series_median(&so) / series_median(&sp));
		else
			printf(" %8s\n", bin ? "failed" : "absent");
	}
	return 0;
}

/* ---- llama.cpp ---- */

struct llama_peer {
	char bin[800], lib[800], version[200], system[400];
	bool ok;
};

struct llama_run {
	double pre, dec;
	int ids[MAX_STEPS], nids;
	bool probed, started;
	double la, lb, mx, mn;
	double ready_ms, first_ms, rss_kib; /* start-up and peak memory (llama_peer's "start" line) */
};

static int llama_once(const struct llama_peer *lp, const char *model, int plen, int steps, int threads,
		      bool fa_off, int probe, int pa, int pb, const char *dir, struct llama_run *r)
{
	char outf[800], errf[800], pl[16], st[16], th[16], pr[16], ia[16], ib[16], *txt = NULL;
	size_t len = 0;
	snprintf(outf, sizeof(outf), "%s/llama.out", dir);
	snprintf(errf, sizeof(errf), "%s/llama.err", dir);
	snprintf(pl, sizeof(pl), "%d", plen);
	snprintf(st, sizeof(st), "%d", steps);
	snprintf(th, sizeof(th), "%d", threads);
	snprintf(pr, sizeof(pr), "%d", probe);
	snprintf(ia, sizeof(ia), "%d", pa);
	snprintf(ib, sizeof(ib), "%d", pb);
	char *argv[] = { (char *)lp->bin, (char *)lp->lib, (char *)model, pl, st, th, "1", fa_off ? "off" : "auto",
			 probe >= 0 ? pr : NULL, ia, ib, NULL };
	memset(r, 0, sizeof(*r));
	int rc = run_cmd(argv, NULL, outf, errf, peer_timeout);
	timeouts += rc == -ETIMEDOUT;
	if (rc || al_read_file_at(AT_FDCWD, outf, 1 << 20, &txt, &len))
		return -1;
	char *q = strstr(txt, "run "), *e;
	if (!q) {
		free(txt);
		return -1;
	}
	r->pre = strtod(q + 4, &e);
	r->dec = strtod(e, &e);
	if ((q = strstr(txt, "tokens")))
		for (q += 6; r->nids < MAX_STEPS; q = e) {
			long v = strtol(q, &e, 10);
			if (e == q)
				break;
			r->ids[r->nids++] = (int)v;
		}
	if ((q = strstr(txt, "start "))) {
		r->ready_ms = strtod(q + 6, &e);
		r->first_ms = strtod(e, &e);
		r->rss_kib = strtod(e, &e);
		r->started = true;
	}
	if ((q = strstr(txt, "probe "))) {
		r->la = strtod(q + 6, &e);
		r->lb = strtod(e, &e);
		r->mx = strtod(e, &e);
		r->mn = strtod(e, &e);
		r->probed = true;
	}
	free(txt);
	return r->pre > 0.0 && r->dec > 0.0 ? 0 : -1;
}

static void llama_setup(const char *lldir, const char *dir, struct llama_peer *lp)
{
	char verf[800], inc[800], src[800], *ver = NULL;
	size_t vlen = 0;
	memset(lp, 0, sizeof(*lp));
	snprintf(verf, sizeof(verf), "%s/VERSION", lldir);
	if (al_read_file_at(AT_FDCWD, verf, 4096, &ver, &vlen)) {
		printf("peer llama.cpp: %s is missing; bench/ai/get-llama-cpp %s fetches it (npm); not compared\n",
		       verf, lldir);
		return;
	}
	snprintf(lp->version, sizeof(lp->version), "%.*s", (int)strcspn(ver, "\n"), ver);
	free(ver);
	printf("peer llama.cpp: %s\n", lp->version);
	snprintf(inc, sizeof(inc), "-I%s/include", lldir);
	snprintf(lp->lib, sizeof(lp->lib), "%s/lib", lldir);
	snprintf(src, sizeof(src), "%s/bench/ai/llama_peer.c", AL_SOURCE_ROOT);
	const char *flags[] = { "-O2", inc, NULL };
	static const char *const dl[] = { "-ldl", NULL };
	lp->ok = build_peer("llama.cpp driver", src, "llama-peer", flags, dl, dir, lp->bin, sizeof(lp->bin)) == 0;
}

/* One GGUF file of a shape: its rows of the decode, prefill and ids tables. */
struct type_result {
	const char *type;
	struct series od[2], op[2], ld[2][2], lpre[2][2]; /* [threads - 1][fa off] */
	struct series start[2][3]; /* one thread: [airlock, llama.cpp][ready ms, first ms, peak RSS KiB] */
	double bytes;
	char ids[300];
};

static double faster(const struct series s[2])
{
	double a = series_median(&s[0]), b = series_median(&s[1]);
	return a > b ? a : b;
}

/* How close airlock's and llama.cpp's choices were at the first step where they differ. */
static void compare_ids(struct ours *o, const struct llama_peer *lp, const char *path, const int *ids, int n,
			const struct llama_run *lr, const char *dir, char *out, size_t len)
{
	int k = 0, m = n < lr->nids ? n : lr->nids;
	while (k < m && ids[k] == lr->ids[k])
		k++;
	if (k == m) {
		snprintf(out, len, "all %d identical", m);
		return;
	}
	/* Position k chose ids[k] here and lr->ids[k] there, from the same context. */
	const float *l = ours_logits_at(o, ids, k);
	int V = o->m.cfg.vocab_size;
	float mx = l[0], mn = l[0];
	for (int i = 1; i < V; i++) {
		mx = l[i] > mx ? l[i] : mx;
		mn = l[i] < mn ? l[i] : mn;
	}
	double ours_gap = (double)l[ids[k]] - l[lr->ids[k]];
	struct llama_run pr;
	int ok = llama_once(lp, path, PREFILL, n + 1, 1, false, k, lr->ids[k], ids[k], dir, &pr) == 0 &&
		 pr.probed;
	snprintf(out, len, "%d of %d identical; at step %d airlock %d by %.3g (%.2f%% of its logit range), "
		 "llama.cpp %d by %.3g%s",
		 k, m, k + 1, ids[k], ours_gap, 100.0 * ours_gap / ((double)mx - mn), lr->ids[k],
		 ok ? pr.la - pr.lb : 0.0, ok ? "" : " (not probed)");
	if (ok)
		snprintf(out + strlen(out), len - strlen(out), " (%.2f%%)", 100.0 * (pr.la - pr.lb) / (pr.mx - pr.mn));
}

static int shape_type(const struct llama_peer *lp, const char *path, struct type_result *tr, int steps, int runs,
		      const char *dir)
{
	static int ids[MAX_STEPS];
	struct llama_run lr, first = { 0 };
	bool have_first = false;
	for (int threads = 1; threads <= 2; threads++) {
		struct ours *o = ours_load(path, NULL, threads);
		if (!o)
			return 1;
		tr->bytes = bytes_per_token(&o->m);
		for (int r = 0; r < runs; r++) {
			series_add(&tr->od[threads - 1], ours_decode(o, steps, threads == 1 && r == 0 ? ids : NULL));
			series_add(&tr->op[threads - 1], ours_prefill(o, PREFILL));
			double fp[3];
			if (threads == 1 && ours_footprint(path, steps, dir, fp) == 0)
				for (int k = 0; k < 3; k++)
					series_add(&tr->start[0][k], fp[k]);
			for (int fa = 0; lp->ok && fa < 2; fa++) {
				if (llama_once(lp, path, PREFILL, steps, threads, fa, -1, 0, 0, dir, &lr))
					continue;
				series_add(&tr->ld[threads - 1][fa], lr.dec);
				series_add(&tr->lpre[threads - 1][fa], lr.pre);
				if (threads == 1 && fa == 0 && lr.started) {
					series_add(&tr->start[1][0], lr.ready_ms);
					series_add(&tr->start[1][1], lr.first_ms);
					series_add(&tr->start[1][2], lr.rss_kib);
				}
				if (threads == 1 && fa == 0 && !have_first) {
					first = lr;
					have_first = true;
				}
			}
		}
		if (threads == 1) {
			if (have_first)
				compare_ids(o, lp, path, ids, steps - 1, &first, dir, tr->ids, sizeof(tr->ids));
			else
				snprintf(tr->ids, sizeof(tr->ids), "llama.cpp %s", lp->ok ? "did not run" : "absent");
		}
		ours_free(o);
	}
	return 0;
}

static void print_shape(const char *label, struct type_result *tr, int nt, int steps, int runs)
{
	char a[48], b[48], c[48];
	printf("\n%s, decode: greedy %d steps from BOS, tok/s median (min-max) of %d interleaved rounds; "
	       "llama.cpp with its defaults (flash attention auto) and with flash attention off; "
	       "ratio: airlock / the faster llama.cpp; GB/s: weights read per token x tok/s, against the "
	       "read bandwidth of one core (1T) or all %d (2T)\n",
	       label, steps, runs, ncpu);
	printf("%-6s %3s %20s %20s %20s %7s %7s %6s\n", "type", "thr", "airlock", "llama.cpp auto", "llama.cpp off",
	       "ratio", "GB/s", "of bw");
	for (int i = 0; i < nt; i++)
		for (int t = 0; t < 2; t++) {
			double best = faster(tr[i].ld[t]), gbs = series_median(&tr[i].od[t]) * tr[i].bytes / 1e9;
			double bw = t ? bwall : bw1;
			printf("%-6s %3d %20s %20s %20s", tr[i].type, t + 1, series_fmt(&tr[i].od[t], a, sizeof(a)),
			       series_fmt(&tr[i].ld[t][0], b, sizeof(b)), series_fmt(&tr[i].ld[t][1], c, sizeof(c)));
			if (best > 0.0)
				printf(" %6.2fx", series_median(&tr[i].od[t]) / best);
			else
				printf(" %7s", "-");
			if (bw > 0.0)
				printf(" %7.1f %5.0f%%\n", gbs, 100.0 * gbs / bw);
			else
				printf(" %7.1f %6s\n", gbs, "-");
		}
	printf("\n%s, prefill: %d tokens in one call, tok/s median (min-max) of %d rounds\n", label, PREFILL, runs);
	printf("%-6s %3s %20s %20s %20s %7s\n", "type", "thr", "airlock", "llama.cpp auto", "llama.cpp off", "ratio");
	for (int i = 0; i < nt; i++)
		for (int t = 0; t < 2; t++) {
			double best = faster(tr[i].lpre[t]);
			printf("%-6s %3d %20s %20s %20s", tr[i].type, t + 1, series_fmt(&tr[i].op[t], a, sizeof(a)),
			       series_fmt(&tr[i].lpre[t][0], b, sizeof(b)), series_fmt(&tr[i].lpre[t][1], c, sizeof(c)));
			if (best > 0.0)
				printf(" %6.2fx\n", series_median(&tr[i].op[t]) / best);
			else
				printf(" %7s\n", "-");
		}
	printf("\n%s, start-up and memory, one thread, each in a process of its own: load to a ready engine, "
	       "to the logits of a %d-token prompt (ms), and the peak RSS (MiB) after it and %d greedy steps; "
	       "median (min-max) of %d; ratio airlock / llama.cpp (defaults), lower is better\n",
	       label, PREFILL, steps, runs);
	printf("%-6s %-9s %20s %20s %7s\n", "type", "figure", "airlock", "llama.cpp", "ratio");
	static const char *const fig[3] = { "ready ms", "first ms", "RSS MiB" };
	for (int i = 0; i < nt; i++)
		for (int k = 0; k < 3; k++) {
			struct series sa = tr[i].start[0][k], sb = tr[i].start[1][k];
			if (k == 2)
				for (int j = 0; j < sa.n || j < sb.n; j++) {
					if (j < sa.n)
						sa.v[j] /= 1024.0;
					if (j < sb.n)
						sb.v[j] /= 1024.0;
				}
			double mb = series_median(&sb);
			printf("%-6s %-9s %20s %20s", tr[i].type, fig[k], series_fmt(&sa, a, sizeof(a)),
			       series_fmt(&sb, b, sizeof(b)));
			if (mb > 0.0)
				printf(" %6.2fx\n", series_median(&sa) / mb);
			else
				printf(" %7s\n", "-");
		}
	printf("\n%s, greedy ids, one thread, airlock against llama.cpp (defaults), %d steps after BOS\n", label,
	       steps - 1);
	for (int i = 0; i < nt; i++)
		printf("%-6s %s\n", tr[i].type, tr[i].ids);
}

/* ---- the sections ---- */

/* A loaded model as GGUF of one type, streamed to path. */
static int export_gguf(const struct al_ai_model *m, const struct al_ai_tokenizer *t, uint32_t type,
		       const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	struct mw_buf b = { .fd = fd };
	mw_export_gguf(&b, m, t, type);
	int rc = mw_flush(&b);
	mw_free(&b);
	close(fd);
	if (rc)
		unlink(path);
	return rc;
}

static int export_v2(const struct al_ai_model *m, int gs, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	struct mw_buf b = { .fd = fd };
	mw_export(&b, m, AL_AI_FORMAT_Q8, m->cfg.shared_classifier, gs);
	int rc = mw_flush(&b);
	mw_free(&b);
	close(fd);
	if (rc)
		unlink(path);
	return rc;
}

static int load_plain(const char *model, const char *tok, struct al_ai_model *m, struct al_ai_tokenizer *t)
{
	int fd = open(model, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || al_ai_model_build_fd(m, fd)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	fd = open(tok, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || al_ai_tokenizer_build_fd(t, fd, m->cfg.vocab_size)) {
		if (fd >= 0)
			close(fd);
		al_ai_model_free(m);
		return -1;
	}
	close(fd);
	return 0;
}

static const struct {
	const char *name;
	uint32_t type;
} gguf_types[] = { { "f32", AL_GGML_F32 }, { "f16", AL_GGML_F16 }, { "q8_0", AL_GGML_Q8_0 }, { "q4_0", AL_GGML_Q4_0 } };

/* The GGUF types compared with llama.cpp (--types): all, or a comma-separated list. */
static const char *types_wanted;

static bool type_wanted(const char *name)
{
	size_t len = strlen(name);
	for (const char *p = types_wanted; p && *p; p += strcspn(p, ","), p += *p == ',')
		if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == '\0'))
			return true;
	return !types_wanted;
}

/* llama.cpp on one shape: the GGUF files in files[i] (NULL: skipped). */
static int llama_shape(const char *label, const struct llama_peer *lp, const char *const files[4], int steps,
		       int runs, const char *dir)
{
	static struct type_result tr[4];
	int nt = 0, rc = 0;
	memset(tr, 0, sizeof(tr));
	for (int i = 0; i < 4; i++) {
		if (!files[i] || !type_wanted(gguf_types[i].name))
			continue;
		tr[nt].type = gguf_types[i].name;
		rc |= shape_type(lp, files[i], &tr[nt], steps, runs, dir);
		nt++;
	}
	print_shape(label, tr, nt, steps, runs);
	return rc;
}

/*
 * Random weights leave near-ties among the logits (the 15M shape's differ at
 * the 1e-5 level), where two correct engines summing in different orders may
 * pick different ids. stories260K's trained weights have real margins: its
 * F32 and F16 exports (Q8_0 and Q4_0 need rows of 32: its hidden_dim is 172)
 * show whether the two engines compute the same model.
 */
static int trained_vs_llama(const char *model, const char *tok, const struct llama_peer *lp, int steps, int runs,
			    const char *dir)
{
	struct al_ai_model m;
	struct al_ai_tokenizer t;
	char paths[2][700];
	const char *files[4] = { NULL, NULL, NULL, NULL };
	if (load_plain(model, tok, &m, &t))
		return 1;
	for (int i = 0; i < 2; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/t_%s.gguf", dir, gguf_types[i].name);
		files[i] = export_gguf(&m, &t, gguf_types[i].type, paths[i]) == 0 ? paths[i] : NULL;
	}
	al_ai_tokenizer_free(&t);
	al_ai_model_free(&m);
	int rc = llama_shape("stories260K (trained weights) as GGUF", lp, files, steps, runs, dir);
	for (int i = 0; i < 2; i++)
		if (files[i])
			unlink(files[i]);
	return rc;
}

static void kernels_section(int reps)
{
	enum { N = 288, D = 32000 };
	size_t nw = (size_t)N * D;
	float *w = aligned_alloc(64, nw * 4), *x = aligned_alloc(64, N * 4), *o = aligned_alloc(64, D * 4);
	uint8_t *b = aligned_alloc(64, nw * 2);
	int8_t xq[N];
	float xs[N / 32];
	struct series s = { 0 };
	if (!w || !x || !o || !b)
		return;
	for (size_t i = 0; i < nw; i++)
		w[i] = (float)(int)(i * 7919u % 2001u - 1000u) / 1000.0f;
	for (size_t i = 0; i < nw * 2; i++)
		b[i] = (uint8_t)(i * 31u % 251u) & 0x3b; /* finite halves; blocks' scales too */
	for (int i = 0; i < N; i++) {
		x[i] = (float)i / N - 0.5f;
		xq[i] = (int8_t)(i % 255 - 127);
	}
	for (int i = 0; i < N / 32; i++)
		xs[i] = 0.01f;
	al_ai_quant_init(false);
	printf("\nkernels alone, one thread (%s), W %d x %d (in the last-level cache): weight GB/s, median "
	       "(min-max) of %d; one core reads memory at %.1f GB/s\n",
	       al_ai_quant_kernels(), D, N, reps, bw1);
	for (size_t i = 0; i < AL_ARRAY_LEN(gguf_types); i++) {
		uint32_t t = gguf_types[i].type;
		enum al_ai_wtype wt = t == AL_GGML_F32 ? AL_AI_W_F32 : t == AL_GGML_F16 ? AL_AI_W_F16
				       : t == AL_GGML_Q8_0 ? AL_AI_W_Q8_0 : AL_AI_W_Q4_0;
		size_t bytes = wt == AL_AI_W_F32 ? nw * 4 : al_ai_row_bytes(wt, N) * D;
		char a[48];
		s.n = 0;
		for (int r = 0; r < reps; r++) {
			uint64_t t0 = al_now_ns();
			if (wt == AL_AI_W_F32)
				al_ai_matmul_f32(o, x, w, N, D);
			else if (wt == AL_AI_W_F16)
				al_ai_matmul_f16(o, x, b, N, D);
			else if (wt == AL_AI_W_Q8_0)
				al_ai_matmul_q8_0(o, xq, xs, b, N, D);
			else
				al_ai_matmul_q4_0(o, xq, xs, b, N, D);
			series_add(&s, (double)bytes / (double)(al_now_ns() - t0));
		}
		printf("  matmul %-5s %s GB/s\n", gguf_types[i].name, series_fmt(&s, a, sizeof(a)));
	}
	free(w);
	free(x);
	free(o);
	free(b);
}

/* GGUF F32 / Q8_0 / Q4_0 of one model (airlock, 1 thread) against its F32, and Q8_0 against runq.c. */
static int gguf_section(const char *label, const char *model, const char *tok, int gs, const char *dir,
			const struct l2c *p, int steps, int runs)
{
	struct al_ai_model m;
	struct al_ai_tokenizer t;
	char path[800], q8[800], v2[800], a[48], name[96];
	double base = 0.0;
	if (load_plain(model, tok, &m, &t))
		return 1;
	for (size_t i = 0; i < AL_ARRAY_LEN(gguf_types); i++) {
		if (gguf_types[i].type == AL_GGML_F16)
			continue;
		snprintf(path, sizeof(path), "%s/g_%s.gguf", dir, gguf_types[i].name);
		if (export_gguf(&m, &t, gguf_types[i].type, path))
			return 1;
		struct ours *o = ours_load(path, NULL, 1);
		struct series s = { 0 };
		for (int r = 0; o && r < runs; r++)
			series_add(&s, ours_decode(o, steps, NULL));
		ours_free(o);
		if (i == 0)
			base = series_median(&s);
		if (gguf_types[i].type == AL_GGML_Q8_0)
			snprintf(q8, sizeof(q8), "%s", path);
		else
			unlink(path);
		snprintf(name, sizeof(name), "%s GGUF %s", label, gguf_types[i].name);
		printf("%-34s %22s %7.2fx\n", name, series_fmt(&s, a, sizeof(a)), series_median(&s) / base);
	}
	snprintf(v2, sizeof(v2), "%s/v2.bin", dir);
	int rc = export_v2(&m, gs, v2);
	al_ai_tokenizer_free(&t);
	al_ai_model_free(&m);
	if (rc)
		return 1;
	snprintf(name, sizeof(name), "%s Q8_0 vs runq.c gs %d", label, gs);
	rc = l2c_rows(name, q8, tok, true, p, true, v2, steps, runs, dir);
	unlink(q8);
	unlink(v2);
	return rc;
}

/* Free bytes where path lives. */
static double disk_free(const char *path)
{
	struct statvfs v;
	return statvfs(path, &v) == 0 ? (double)v.f_bavail * (double)v.f_frsize : 0.0;
}

/* The TinyLlama 1.1B shape: random weights, written as far as the disk allows. */
static int tiny_section(const char *dir, const char *t15, const struct l2c *p, const struct llama_peer *lp,
			int runs)
{
	struct mw_shape s = { .dim = 2048, .hidden_dim = 5632, .n_layers = 22, .n_heads = 32, .n_kv_heads = 4,
			      .vocab_size = 32000, .seq_len = 2048 };
	char f32[800], v2[800], gg[4][800];
	const char *files[4] = { NULL, NULL, NULL, NULL };
	/* fp32 4.4 GB, F16 2.2, Q8_0 1.2, v2 1.2, Q4_0 0.6; the fp32 file is the source of the others. */
	double need = 4.4e9 + 1.2e9 + 0.6e9 + 1.2e9, have = disk_free(dir);
	printf("\nTinyLlama 1.1B shape (22 layers, dim 2048, hidden 5632, 32 heads, 4 KV heads, vocab 32000), "
	       "random weights; %.1f GB free in %s\n",
	       have / 1e9, dir);
	if (have < need + 1e9) {
		printf("1.1B shape: %.1f GB needed; skipped\n", (need + 1e9) / 1e9);
		return 0;
	}
	bool with_f16 = have >= need + 2.2e9 + 1e9;
	snprintf(f32, sizeof(f32), "%s/tiny_f32.bin", dir);
	uint64_t t0 = al_now_ns();
	int fd = open(f32, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 1;
	struct mw_buf b = { .fd = fd };
	mw_random_legacy(&b, &s, false, 11);
	int rc = mw_flush(&b);
	mw_free(&b);
	close(fd);
	struct al_ai_model m;
	struct al_ai_tokenizer t;
	if (rc || load_plain(f32, t15, &m, &t)) {
		unlink(f32);
		return 1;
	}
	for (int i = 1; i < 4; i++) {
		if (gguf_types[i].type == AL_GGML_F16 && !with_f16)
			continue;
		snprintf(gg[i], sizeof(gg[i]), "%s/tiny_%s.gguf", dir, gguf_types[i].name);
		if (export_gguf(&m, &t, gguf_types[i].type, gg[i]) == 0)
			files[i] = gg[i];
	}
	snprintf(v2, sizeof(v2), "%s/tiny_v2.bin", dir);
	bool have_v2 = export_v2(&m, 32, v2) == 0;
	al_ai_tokenizer_free(&t);
	al_ai_model_free(&m);
	printf("1.1B shape: files written in %.0f s%s\n", (double)(al_now_ns() - t0) / 1e9,
	       with_f16 ? "" : "; F16 skipped (disk)");

	printf("\n1.1B shape against llama2.c, greedy %d steps, tok/s median (min-max) of %d rounds\n", STEPS_1B,
	       runs);
	printf("%-34s %22s %22s %8s\n", "model", "airlock", "run.c / runq.c", "ratio");
	rc = l2c_rows("fp32 checkpoint vs run.c", f32, t15, false, p, false, f32, STEPS_1B, runs, dir);
	unlink(f32);
	if (have_v2 && files[2])
		rc |= l2c_rows("GGUF Q8_0 vs runq.c (v2, gs 32)", files[2], t15, true, p, true, v2, STEPS_1B, runs, dir);
	unlink(v2);
	rc |= llama_shape("1.1B shape", lp, files, STEPS_1B, runs, dir);
	for (int i = 0; i < 4; i++)
		if (files[i])
			unlink(files[i]);
	return rc;
}

/* Sections 2 to 4: run.c, prefill and the kernels alone, the GGUF types against runq.c. */
static int engine_sections(const struct l2c *p, const char *m15, const char *t15, const char *dir, int steps,
			   int runs)
{
	int rc = 0;
	const struct {
		const char *name, *model, *tok;
	} cases[] = {
		{ "stories260K", AL_SOURCE_ROOT "/models/stories260K.bin", AL_SOURCE_ROOT "/models/tok512.bin" },
		{ "random 15M shape", m15, t15 },
	};
	/* 2. run.c */
	printf("\ngreedy, %d steps, tok/s median (min-max) of %d interleaved rounds; airlock nT against run.c nT "
	       "(1T: run-fast; 2T: run-omp with OMP_NUM_THREADS=2)\n",
	       steps, runs);
	printf("%-34s %22s %22s %8s\n", "model", "airlock", "run.c", "ratio");
	for (size_t i = 0; i < AL_ARRAY_LEN(cases); i++)
		rc |= l2c_rows(cases[i].name, cases[i].model, cases[i].tok, false, p, false, cases[i].model, steps,
			       runs, dir);

	/* 3. prefill against one position at a time; the kernels alone */
	printf("\nprefill: a %d-token prompt run together (al_ai_prefill) against one position at a time; "
	       "tok/s median (min-max) of %d\n",
	       PREFILL, runs);
	printf("%-34s %22s %22s %8s\n", "model", "prefill", "one at a time", "ratio");
	for (size_t i = 0; i < AL_ARRAY_LEN(cases); i++)
		for (int threads = 1; threads <= 2; threads++) {
			struct ours *o = ours_load(cases[i].model, cases[i].tok, threads);
			struct series a = { 0 }, c = { 0 };
			char sa[48], sc[48], name[96];
			int plen = o && o->m.cfg.seq_len < PREFILL ? o->m.cfg.seq_len : PREFILL;
			for (int r = 0; o && r < runs; r++) {
				series_add(&a, ours_prefill(o, plen));
				series_add(&c, ours_one_by_one(o, plen));
			}
			ours_free(o);
			snprintf(name, sizeof(name), "%s, %dT", cases[i].name, threads);
			printf("%-34s %22s %22s %7.2fx\n", name, series_fmt(&a, sa, sizeof(sa)),
			       series_fmt(&c, sc, sizeof(sc)), series_median(&a) / series_median(&c));
		}
	kernels_section(runs * 5);

	/* 4. GGUF types; Q8_0 against runq.c */
	printf("\nGGUF tensor types, airlock 1 thread against its own F32 GGUF; then Q8_0 against llama2.c's runq.c "
	       "(1T: runq-fast, 2T: runq-omp) on a version-2 checkpoint of the same weights\n");
	printf("%-34s %22s %8s\n", "model", "tok/s", "vs f32");
	rc |= gguf_section("stories260K", cases[0].model, cases[0].tok, 4, dir, p, steps, runs);
	rc |= gguf_section("random 15M shape", m15, t15, 32, dir, p, steps, runs);
	return rc;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_ai [--peer-dir DIR] [--llama-cpp DIR] [--scratch DIR] [--no-1b] [--only gguf] "
		"[--types LIST] [RUNS] [STEPS]   (defaults 7 and 256)\n"
		"  --peer-dir DIR   llama2.c's run.c and runq.c (default %s)\n"
		"  --llama-cpp DIR  llama.cpp as bench/ai/get-llama-cpp lays it out (default %s)\n"
		"  --scratch DIR    where the models are written (default /tmp; the 1.1B shape takes 10 GB)\n"
		"  --no-1b          without the 1.1B shape\n"
		"  --only gguf      only llama.cpp against airlock on the 15M shape as GGUF (section 5)\n"
		"  --types LIST     the GGUF types in the llama.cpp tables, e.g. q4_0,q8_0 (default: f32,f16,q8_0,q4_0)\n",
		DEFAULT_PEER_DIR, AL_BENCH_AI_BUILD_DIR "/peers/llama.cpp");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "peer-dir", required_argument, NULL, 'p' },
					       { "llama-cpp", required_argument, NULL, 'l' },
					       { "scratch", required_argument, NULL, 's' },
					       { "no-1b", no_argument, NULL, 'n' },
					       { "only", required_argument, NULL, 'o' },
					       { "types", required_argument, NULL, 't' },
					       { "help", no_argument, NULL, 'h' },
					       { NULL, 0, NULL, 0 } };
	const char *peer_dir = DEFAULT_PEER_DIR, *lldir = AL_BENCH_AI_BUILD_DIR "/peers/llama.cpp", *scratch = "/tmp";
	bool tiny = true, all = true;
	setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows as it goes, also into a file */
	if (argc == 4 && strcmp(argv[1], "--footprint") == 0) /* the child of ours_footprint() */
		return footprint_main(argv[2], atoi(argv[3]));
	for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
		if (c == 'p') {
			peer_dir = optarg;
		} else if (c == 'l') {
			lldir = optarg;
		} else if (c == 's') {
			scratch = optarg;
		} else if (c == 'n') {
			tiny = false;
		} else if (c == 'o' && strcmp(optarg, "gguf") == 0) {
			all = false;
		} else if (c == 't') {
			types_wanted = optarg;
		} else {
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	int runs = optind < argc ? atoi(argv[optind]) : 7, steps = optind + 1 < argc ? atoi(argv[optind + 1]) : 256;
	char dir[600], m15[700], t15[700], la[64];
	if (runs < 1 || runs > SERIES_MAX || steps < 2 || steps > 256 || optind + 2 < argc) {
		usage();
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/bench_ai.XXXXXX", scratch);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "bench_ai: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	al_ai_quant_init(false);
	printf("bench_ai: load average %s at the start; kernels %s; %d CPUs\n", load_average(la, sizeof(la)),
	       al_ai_quant_kernels(), ncpu);

	/* 1. The yardstick: reads from memory, 2 GiB (beyond any last-level cache here). */
	if (all) {
		bw1 = read_bandwidth((size_t)2 << 30, 1, 3);
		bwall = read_bandwidth((size_t)2 << 30, ncpu, 3);
		printf("memory read bandwidth (2 GiB, best of 3): one core %.1f GB/s, all %d cores %.1f GB/s\n", bw1,
		       ncpu, bwall);
	} else {
		printf("--only gguf: sections 1-4 and 6 left out (no bandwidth: the \"of bw\" column is empty)\n");
	}

	struct stat st;
	errno = 0;
	if (!all) {
		peer_dir = NULL;
	} else if (stat(peer_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		printf("peer: the shared folder of llama2.c is missing: tried %s (%s); its columns are empty "
		       "(--peer-dir DIR names another)\n",
		       peer_dir, errno ? strerror(errno) : "not a directory");
		peer_dir = NULL;
	} else {
		char verf[700], errf[700], *ver = NULL;
		size_t vlen = 0;
		char *vargv[] = { "cc", "--version", NULL };
		snprintf(verf, sizeof(verf), "%s/cc.out", dir);
		snprintf(errf, sizeof(errf), "%s/cc.err", dir);
		if (run_cmd(vargv, NULL, verf, errf, 0) == 0 && al_read_file_at(AT_FDCWD, verf, 4096, &ver, &vlen) == 0)
			printf("peer compiler: %.*s\n", (int)strcspn(ver, "\n"), ver);
		free(ver);
	}
	struct l2c p;
	build_llama2c(peer_dir, dir, &p);
	struct llama_peer lp;
	llama_setup(lldir, dir, &lp);

	/* stories15M shape, random weights, generated 32000-token vocabulary. */
	snprintf(m15, sizeof(m15), "%s/random15M.bin", dir);
	snprintf(t15, sizeof(t15), "%s/tok32000.bin", dir);
	struct mw_shape s15 = { .dim = 288, .hidden_dim = 768, .n_layers = 6, .n_heads = 6,
				.n_kv_heads = 6, .vocab_size = 32000, .seq_len = 256 };
	struct mw_buf b = { 0 };
	mw_random_legacy(&b, &s15, false, 15);
	write_file(m15, b.p, b.len);
	mw_free(&b);
	mw_tokenizer(&b, 32000);
	write_file(t15, b.p, b.len);
	mw_free(&b);

	/* 2. to 4. */
	int rc = all ? engine_sections(&p, m15, t15, dir, steps, runs) : 0;

	/* 5. llama.cpp, 15M shape */
	if (lp.ok) {
		struct al_ai_model m;
		struct al_ai_tokenizer t;
		char paths[4][700];
		const char *files[4];
		if (load_plain(m15, t15, &m, &t) == 0) {
			for (int i = 0; i < 4; i++) {
				snprintf(paths[i], sizeof(paths[i]), "%s/l_%s.gguf", dir, gguf_types[i].name);
				files[i] = export_gguf(&m, &t, gguf_types[i].type, paths[i]) == 0 ? paths[i] : NULL;
			}
			al_ai_tokenizer_free(&t);
			al_ai_model_free(&m);
			rc |= llama_shape("random 15M shape as GGUF", &lp, files, steps, runs, dir);
			for (int i = 0; i < 4; i++)
				if (files[i])
					unlink(files[i]);
		}
		rc |= trained_vs_llama(AL_SOURCE_ROOT "/models/stories260K.bin", AL_SOURCE_ROOT "/models/tok512.bin", &lp, steps,
					runs, dir);
		char sys[700], *txt = NULL;
		size_t len = 0;
		snprintf(sys, sizeof(sys), "%s/llama.out", dir);
		if (al_read_file_at(AT_FDCWD, sys, 1 << 20, &txt, &len) == 0 && strstr(txt, "system "))
			printf("llama.cpp: %.*s\n", (int)strcspn(strstr(txt, "system ") + 7, "\n"), strstr(txt, "system ") + 7);
		free(txt);
	}

	/* 6. The 1.1B shape */
	peer_timeout = 300;
	if (all && tiny)
		rc |= tiny_section(dir, t15, &p, &lp, runs > 3 ? 3 : runs);
	else if (all)
		printf("\n1.1B shape: skipped (--no-1b)\n");

	if (timeouts)
		printf("\npeer runs killed at the time limit (120 s a run; 300 s on the 1.1B shape), left out of "
		       "the medians: %d\n",
		       timeouts);
	printf("\nbench_ai: load average %s at the end\n", load_average(la, sizeof(la)));
	const char *left[] = { "random15M.bin", "tok32000.bin", "peer.err", "cc.err", "cc.out", "llama.out", "llama.err" };
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; dfd >= 0 && i < AL_ARRAY_LEN(left); i++)
		unlinkat(dfd, left[i], 0);
	if (dfd >= 0)
		close(dfd);
	if (rmdir(dir) < 0) {
		fprintf(stderr, "bench_ai: %s: %s\n", dir, strerror(errno));
		rc = 1;
	}
	return rc;
}
