/*
 * Channel benchmark: airlock's channel and its peers side by side, in one run,
 * the two processes pinned to different CPUs.
 *
 *   round trip, 64 B each way: cache-line ping-pong (the core-to-core limit),
 *     channel spinning, channel sleeping (futex), pipe, Unix socketpair,
 *     eventfd + shared memory
 *   throughput: 64 B messages/s and 64 KiB GB/s, channel (framing only and
 *     fully validated messages; each record published on its own, and 64 B
 *     also batched: al_chan_set_batch(32)) vs Unix socketpair and
 *     single-core memcpy
 *
 * `bench_channel [runs]` repeats everything (default 3 times) and prints the
 * median of the runs' figures: the machine is shared and noisy.
 *
 * Round trips are timed in batches (clock reads cost ~20 ns, a spinning round
 * trip ~150 ns); each sample is one batch's time divided by its size.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "airlock/channel.h"
#include "channel/channel_int.h"
#include "common/log.h"
#include "common/util.h"

#define MSG 64
#define BIG 65536
#define SPIN_NS 2000000u /* spinning mode: 2 ms budget, far above a round trip */
#define RT_BUDGET_NS 400000000ull

static int cpu_parent = 0, cpu_child = 1;
static bool pinned;

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		pinned = false;
}

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static pid_t spawn(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	if (pid < 0)
		al_fatal(1, "fork");
	if (pid == 0) {
		pin(cpu_child);
		fn(arg);
		_exit(0);
	}
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct stat2 {
	double median, p99;
};

static struct stat2 summarise(uint64_t *s, size_t n, unsigned batch)
{
	qsort(s, n, sizeof *s, cmp_u64);
	struct stat2 r = { (double)s[n / 2] / batch, (double)s[n * 99 / 100] / batch };
	return r;
}

/* Runs one_batch(arg, batch) repeatedly for about RT_BUDGET_NS; ns per op. */
static struct stat2 time_rt(void (*one)(void *, unsigned), void *arg, unsigned batch)
{
	static uint64_t s[20000];
	size_t n = 0;
	for (unsigned i = 0; i < 50; i++) /* warm up */
		one(arg, 1);
	uint64_t end = al_now_ns() + RT_BUDGET_NS;
	while (n < AL_ARRAY_LEN(s) && (n < 200 || al_now_ns() < end)) {
		uint64_t t0 = al_now_ns();
		one(arg, batch);
		s[n++] = al_now_ns() - t0;
	}
	return summarise(s, n, batch);
}

static void row(const char *name, struct stat2 v, double ref, const char *refname)
{
	printf("  %-34s %10.0f ns %10.0f ns", name, v.median, v.p99);
	if (ref > 0)
		printf("   %6.2fx %s", v.median / ref, refname);
	printf("\n");
}

/* ---- core-to-core limit ---- */

static _Atomic uint64_t *line;

static void c2c_child(void *unused)
{
	uint64_t expect = 1;
	for (;;) {
		while (atomic_load_explicit(line, memory_order_acquire) != expect)
			relax();
		atomic_store_explicit(line, expect + 1, memory_order_release);
		expect += 2;
	}
}

static uint64_t c2c_v;
static void c2c_one(void *unused, unsigned batch)
{
	for (unsigned k = 0; k < batch; k++) {
		atomic_store_explicit(line, c2c_v + 1, memory_order_release);
		while (atomic_load_explicit(line, memory_order_acquire) != c2c_v + 2)
			relax();
		c2c_v += 2;
	}
}

/* ---- fd round trips: pipe, socketpair ---- */

struct fdpair {
	int to_child, from_parent, to_parent, from_child;
};

static void fd_child(void *arg)
{
	struct fdpair *f = arg;
	char b[MSG];
	for (;;) {
		size_t got = 0;
		while (got < MSG) {
			ssize_t n = read(f->from_parent, b + got, MSG - got);
			if (n <= 0)
				_exit(0);
			got += (size_t)n;
		}
		if (write(f->to_parent, b, MSG) != MSG)
			_exit(0);
	}
}

static void fd_one(void *arg, unsigned batch)
{
	struct fdpair *f = arg;
	char b[MSG] = { 1 };
	for (unsigned k = 0; k < batch; k++) {
		if (write(f->to_child, b, MSG) != MSG)
			al_fatal(1, "write");
		size_t got = 0;
		while (got < MSG) {
			ssize_t n = read(f->from_child, b + got, MSG - got);
			if (n <= 0)
				al_fatal(1, "read");
			got += (size_t)n;
		}
	}
}

/* ---- eventfd + shared memory ---- */

struct evshm {
	int to_child, to_parent;
	uint8_t *req, *resp;
};

static void ev_child(void *arg)
{
	struct evshm *e = arg;
	uint8_t local[MSG];
	uint64_t v;
	for (;;) {
		if (read(e->to_child, &v, 8) != 8)
			_exit(0);
		memcpy(local, e->req, MSG);
		memcpy(e->resp, local, MSG);
		v = 1;
		if (write(e->to_parent, &v, 8) != 8)
			_exit(0);
	}
}

static void ev_one(void *arg, unsigned batch)
{
	struct evshm *e = arg;
	uint8_t local[MSG] = { 1 };
	for (unsigned k = 0; k < batch; k++) {
		uint64_t v = 1;
		memcpy(e->req, local, MSG);
		if (write(e->to_child, &v, 8) != 8 || read(e->to_parent, &v, 8) != 8)
			al_fatal(1, "eventfd");
		memcpy(local, e->resp, MSG);
	}
}

/* ---- channel round trip: gen_request (64 B) answered by error (64 B) ---- */

struct chrt {
	int fd;
	uint32_t spin;
	struct al_chan *ch;
	uint64_t next_id;
};

static uint8_t small_src[MSG];
static const uint8_t *srcbuf_small(void)
{
	return small_src;
}

/* 28 bytes: with the request's 36 bytes of fields, a 64-byte payload. */
static const char prompt28[] = "Tell me a story about a cat!";
static const char text48[] = "The cat sat on the mat and looked out the window";

static void chan_rt_child(void *arg)
{
	struct chrt *c = arg;
	struct al_chan *ch;
	if (al_chan_attach(c->fd, AL_CHAN_SIDE_AI, &ch) < 0)
		_exit(1);
	al_chan_set_spin(ch, c->spin);
	al_chan_set_send_timeout(ch, -1);
	struct al_msg m;
	for (;;) {
		int rc = al_chan_recv(ch, &m, -1);
		if (rc < 0)
			_exit(rc == -EPIPE ? 0 : 1);
		if (m.type == AL_MSG_GEN_REQUEST)
			al_chan_send_error(ch, m.u.gen.req_id, 0, text48);
	}
}

static void chan_rt_one(void *arg, unsigned batch)
{
	struct chrt *c = arg;
	char p[29];
	memcpy(p, prompt28, 28);
	for (unsigned k = 0; k < batch; k++) {
		struct al_msg_gen_request req = { .req_id = ++c->next_id, .max_tokens = 16,
						  .temperature = 0.5f, .top_p = 0.9f,
						  .prompt = p, .prompt_len = 28 };
		if (al_chan_send_gen_request(c->ch, &req) < 0)
			al_fatalx(1, "send_gen_request");
		struct al_msg m;
		int rc = al_chan_recv(c->ch, &m, 5000);
		if (rc < 0 || m.type != AL_MSG_ERROR)
			al_fatalx(1, "chan rt recv: %s", al_chan_strerror(rc));
	}
}

static struct stat2 chan_rt(uint32_t spin, unsigned batch)
{
	struct chrt c = { .spin = spin };
	if (al_chan_create(NULL, &c.fd) < 0 || al_chan_attach(c.fd, AL_CHAN_SIDE_PROTO, &c.ch) < 0)
		al_fatalx(1, "channel setup");
	al_chan_set_spin(c.ch, spin);
	pid_t pid = spawn(chan_rt_child, &c);
	struct stat2 r = time_rt(chan_rt_one, &c, batch);
	al_chan_close(c.ch);
	waitpid(pid, NULL, 0);
	close(c.fd);
	return r;
}

/* ---- channel round trip, framing only: reserve/fill/commit, checked read ---- */

static void raw_echo(struct al_chan *ch, bool first)
{
	struct al_chan_rec_hdr h;
	void *p;
	if (first) {
		if (al_ring_reserve(ch, AL_MSG_STATS, MSG, &p) < 0)
			_exit(1);
		memcpy(p, srcbuf_small(), MSG);
		al_ring_commit(ch, MSG);
	}
	int rc;
	while ((rc = al_ring_read(ch, &h)) == -EAGAIN)
		relax();
	if (rc < 0)
		_exit(1);
}

static void raw_rt_child(void *arg)
{
	struct chrt *c = arg;
	struct al_chan *ch;
	if (al_chan_attach(c->fd, AL_CHAN_SIDE_AI, &ch) < 0)
		_exit(1);
	for (;;) {
		raw_echo(ch, false);
		void *p;
		if (al_ring_reserve(ch, AL_MSG_STATS, MSG, &p) < 0)
			_exit(1);
		memcpy(p, ch->rxbuf, MSG);
		al_ring_commit(ch, MSG);
	}
}

static void raw_rt_one(void *arg, unsigned batch)
{
	struct chrt *c = arg;
	for (unsigned k = 0; k < batch; k++)
		raw_echo(c->ch, true);
}

static struct stat2 raw_rt(void)
{
	struct chrt c = { 0 };
	if (al_chan_create(NULL, &c.fd) < 0 || al_chan_attach(c.fd, AL_CHAN_SIDE_PROTO, &c.ch) < 0)
		al_fatalx(1, "channel setup");
	pid_t pid = spawn(raw_rt_child, &c);
	struct stat2 r = time_rt(raw_rt_one, &c, 64);
	reap(pid);
	al_chan_close(c.ch);
	close(c.fd);
	return r;
}

/* ---- software cost: both ends in this thread, no cache line crosses cores ---- */

struct local {
	struct al_chan *p, *a;
	uint64_t next_id;
};

static void local_one(void *arg, unsigned batch)
{
	struct local *l = arg;
	char p[29];
	memcpy(p, prompt28, 28);
	for (unsigned k = 0; k < batch; k++) {
		struct al_msg_gen_request req = { .req_id = ++l->next_id, .max_tokens = 16,
						  .temperature = 0.5f, .top_p = 0.9f,
						  .prompt = p, .prompt_len = 28 };
		struct al_msg m;
		if (al_chan_send_gen_request(l->p, &req) < 0 || al_chan_recv(l->a, &m, 0) < 0 ||
		    al_chan_send_error(l->a, m.u.gen.req_id, 0, text48) < 0 ||
		    al_chan_recv(l->p, &m, 0) < 0)
			al_fatalx(1, "local round trip");
	}
}

static struct stat2 local_rt(void)
{
	struct local l = { 0 };
	int fd;
	if (al_chan_create(NULL, &fd) < 0 || al_chan_attach(fd, AL_CHAN_SIDE_PROTO, &l.p) < 0 ||
	    al_chan_attach(fd, AL_CHAN_SIDE_AI, &l.a) < 0)
		al_fatalx(1, "channel setup");
	struct stat2 r = time_rt(local_one, &l, 64);
	al_chan_close(l.p);
	al_chan_close(l.a);
	close(fd);
	return r;
}

/* ---- throughput ---- */

struct tput {
	int fd;
	unsigned msg;     /* payload bytes */
	uint32_t batch;   /* al_chan_set_batch on the producer: 1 = publish each */
	uint64_t count;
	int sock;
};

static uint8_t srcbuf[BIG];

/* Framing only: reserve / fill / commit against al_ring_read (one checked copy). */
static void ring_prod(void *arg)
{
	struct tput *t = arg;
	struct al_chan *ch;
	if (al_chan_attach(t->fd, AL_CHAN_SIDE_AI, &ch) < 0)
		_exit(1);
	al_chan_set_spin(ch, SPIN_NS);
	al_chan_set_send_timeout(ch, -1);
	al_chan_set_batch(ch, t->batch);
	for (uint64_t i = 0; i < t->count; i++) {
		void *p;
		if (al_ring_reserve(ch, AL_MSG_STATS, t->msg, &p) < 0)
			_exit(1);
		memcpy(p, srcbuf, t->msg);
		al_ring_commit(ch, t->msg);
	}
	al_chan_flush(ch);
	pause();
}

static double ring_tput(unsigned msg, uint64_t count, uint32_t ring, uint32_t batch)
{
	struct tput t = { .msg = msg, .count = count, .batch = batch };
	struct al_chan *ch;
	struct al_chan_params prm = { ring, AL_CHAN_DEFAULT_MAX_PAYLOAD };
	if (al_chan_create(&prm, &t.fd) < 0 || al_chan_attach(t.fd, AL_CHAN_SIDE_PROTO, &ch) < 0)
		al_fatalx(1, "channel setup");
	pid_t pid = spawn(ring_prod, &t);
	struct al_chan_rec_hdr h;
	uint64_t t0 = 0, got = 0;
	while (got < count) {
		int rc = al_ring_read(ch, &h);
		if (rc == 0) {
			if (got++ == 0)
				t0 = al_now_ns();
		} else if (rc == -EAGAIN) {
			relax();
		} else {
			al_fatalx(1, "ring read: %s", al_chan_strerror(rc));
		}
	}
	double secs = (double)(al_now_ns() - t0) / 1e9;
	reap(pid);
	al_chan_close(ch);
	close(t.fd);
	return (double)(count - 1) / secs;
}

/* Fully validated 64 B: tokens (16 B fields + 48 B text) under 65536-token requests. */
static void tok_prod(void *arg)
{
	struct tput *t = arg;
	struct al_chan *ch;
	if (al_chan_attach(t->fd, AL_CHAN_SIDE_AI, &ch) < 0)
		_exit(1);
	al_chan_set_spin(ch, SPIN_NS);
	al_chan_set_send_timeout(ch, -1);
	al_chan_set_batch(ch, t->batch);
	struct al_msg m;
	for (;;) {
		if (al_chan_recv(ch, &m, -1) < 0)
			_exit(0);
		uint64_t id = m.u.gen.req_id;
		for (uint32_t i = 0; i < m.u.gen.max_tokens; i++)
			if (al_chan_send_token(ch, id, 1, text48, 48) < 0)
				_exit(1);
		al_chan_send_done(ch, &(struct al_msg_done){ .req_id = id,
							     .gen_tokens = m.u.gen.max_tokens });
	}
}

static double tok_tput(uint64_t rounds, uint32_t batch)
{
	struct tput t = { .batch = batch };
	struct al_chan *ch;
	if (al_chan_create(NULL, &t.fd) < 0 || al_chan_attach(t.fd, AL_CHAN_SIDE_PROTO, &ch) < 0)
		al_fatalx(1, "channel setup");
	al_chan_set_spin(ch, SPIN_NS);
	pid_t pid = spawn(tok_prod, &t);
	uint64_t msgs = 0, t0 = al_now_ns();
	for (uint64_t r = 1; r <= rounds; r++) {
		struct al_msg_gen_request req = { .req_id = r, .max_tokens = AL_MSG_MAX_TOKENS,
						  .top_p = 1, .prompt = "go", .prompt_len = 2 };
		if (al_chan_send_gen_request(ch, &req) < 0)
			al_fatalx(1, "send");
		struct al_msg m;
		do {
			int rc = al_chan_recv(ch, &m, 5000);
			if (rc < 0)
				al_fatalx(1, "tok recv: %s", al_chan_strerror(rc));
			msgs++;
		} while (m.type != AL_MSG_DONE);
	}
	double secs = (double)(al_now_ns() - t0) / 1e9;
	al_chan_close(ch);
	waitpid(pid, NULL, 0);
	close(t.fd);
	return (double)msgs / secs;
}

/* Fully validated 64 KiB: generation requests with a 65504-byte prompt, at
 * most 16 in flight; the AI side answers each with a short error record. */
static void big_cons(void *arg)
{
	struct tput *t = arg;
	struct al_chan *ch;
	if (al_chan_attach(t->fd, AL_CHAN_SIDE_AI, &ch) < 0)
		_exit(1);
	al_chan_set_spin(ch, SPIN_NS);
	al_chan_set_send_timeout(ch, -1);
	struct al_msg m;
	for (;;) {
		if (al_chan_recv(ch, &m, -1) < 0)
			_exit(0);
		if (m.type == AL_MSG_GEN_REQUEST)
			al_chan_send_error(ch, m.u.gen.req_id, 0, NULL);
	}
}

static double big_tput(uint64_t count, uint32_t ring)
{
	struct tput t = { 0 };
	struct al_chan *ch;
	struct al_chan_params prm = { ring, AL_CHAN_DEFAULT_MAX_PAYLOAD };
	if (al_chan_create(&prm, &t.fd) < 0 || al_chan_attach(t.fd, AL_CHAN_SIDE_PROTO, &ch) < 0)
		al_fatalx(1, "channel setup");
	al_chan_set_spin(ch, SPIN_NS);
	al_chan_set_send_timeout(ch, -1);
	pid_t pid = spawn(big_cons, &t);
	uint64_t sent = 0, answered = 0, t0 = al_now_ns();
	struct al_msg m;
	while (answered < count) {
		if (sent < count) {
			struct al_msg_gen_request req = { .req_id = sent + 1, .max_tokens = 1, .top_p = 1,
							  .prompt = (const char *)srcbuf,
							  .prompt_len = BIG - 32 };
			int rc = al_chan_send_gen_request(ch, &req);
			if (rc == 0) {
				sent++;
				continue;
			}
			if (rc != -EBUSY)
				al_fatalx(1, "big send: %s", al_chan_strerror(rc));
		}
		int rc = al_chan_recv(ch, &m, 5000);
		if (rc < 0)
			al_fatalx(1, "big recv: %s", al_chan_strerror(rc));
		answered++;
	}
	double secs = (double)(al_now_ns() - t0) / 1e9;
	al_chan_close(ch);
	waitpid(pid, NULL, 0);
	close(t.fd);
	return (double)count * BIG / secs;
}

/* Both ends in one thread: the software ceiling, no cache line crosses cores. */
static void local_tput(double *framing, double *tokens)
{
	int fd;
	struct al_chan *p, *a;
	if (al_chan_create(NULL, &fd) < 0 || al_chan_attach(fd, AL_CHAN_SIDE_PROTO, &p) < 0 ||
	    al_chan_attach(fd, AL_CHAN_SIDE_AI, &a) < 0)
		al_fatalx(1, "channel setup");
	const uint64_t n = 2000000;
	struct al_chan_rec_hdr h;
	uint64_t t0 = al_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		void *d;
		if (al_ring_reserve(a, AL_MSG_STATS, MSG, &d) < 0)
			al_fatalx(1, "reserve");
		memcpy(d, srcbuf, MSG);
		al_ring_commit(a, MSG);
		if (al_ring_read(p, &h) < 0)
			al_fatalx(1, "read");
	}
	*framing = (double)n / ((double)(al_now_ns() - t0) / 1e9);
	struct al_msg_gen_request req = { .req_id = 1, .max_tokens = AL_MSG_MAX_TOKENS, .top_p = 1,
					  .prompt = "go", .prompt_len = 2 };
	struct al_msg m;
	if (al_chan_send_gen_request(p, &req) < 0 || al_chan_recv(a, &m, 0) < 0)
		al_fatalx(1, "request");
	t0 = al_now_ns();
	for (uint32_t i = 0; i < AL_MSG_MAX_TOKENS; i++)
		if (al_chan_send_token(a, 1, 1, text48, 48) < 0 || al_chan_recv(p, &m, 0) < 0)
			al_fatalx(1, "token");
	*tokens = (double)AL_MSG_MAX_TOKENS / ((double)(al_now_ns() - t0) / 1e9);
	al_chan_close(p);
	al_chan_close(a);
	close(fd);
}

static void sock_prod(void *arg)
{
	struct tput *t = arg;
	for (uint64_t i = 0; i < t->count; i++)
		if (al_write_all(t->sock, srcbuf, t->msg) < 0)
			_exit(1);
	pause();
}

static double sock_tput(unsigned msg, uint64_t count)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		al_fatal(1, "socketpair");
	struct tput t = { .msg = msg, .count = count, .sock = sv[1] };
	pid_t pid = spawn(sock_prod, &t);
	static uint8_t buf[BIG];
	uint64_t total = (uint64_t)msg * count, got = 0, t0 = 0;
	while (got < total) {
		ssize_t n = read(sv[0], buf, sizeof buf);
		if (n <= 0)
			al_fatal(1, "read");
		if (got == 0)
			t0 = al_now_ns();
		got += (uint64_t)n;
	}
	double secs = (double)(al_now_ns() - t0) / 1e9;
	reap(pid);
	close(sv[0]);
	close(sv[1]);
	return (double)total / secs; /* bytes/s */
}

static double memcpy_bw(void)
{
	static uint8_t dst[BIG];
	uint64_t reps = 100000, t0 = al_now_ns();
	for (uint64_t i = 0; i < reps; i++) {
		memcpy(dst, srcbuf, BIG);
		__asm__ __volatile__("" : : "r"(dst) : "memory");
	}
	return (double)reps * BIG / ((double)(al_now_ns() - t0) / 1e9);
}

/* ---- one run of everything, then medians across runs ---- */

#define BATCH 32u /* records per publication in the batched rows */

enum rt_row { RT_C2C, RT_SPIN, RT_RAW, RT_LOCAL, RT_PIPE, RT_SOCK, RT_EVFD, RT_SLEEP, RT_N };
enum tp_row { TP_RAW64, TP_RAW64B, TP_TOK, TP_TOKB, TP_SOCK64, TP_LOCALF, TP_LOCALT,
	      TP_MEMCPY, TP_RAWBIG, TP_GENBIG, TP_SOCKBIG, TP_N };

struct run {
	struct stat2 rt[RT_N];
	double tp[TP_N];
};

static void run_once(struct run *r)
{
	line = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid = spawn(c2c_child, NULL);
	r->rt[RT_C2C] = time_rt(c2c_one, NULL, 64);
	reap(pid);
	munmap((void *)line, 4096);
	c2c_v = 0;

	r->rt[RT_SPIN] = chan_rt(SPIN_NS, 64);
	r->rt[RT_RAW] = raw_rt();
	r->rt[RT_LOCAL] = local_rt();

	int p1[2], p2[2];
	if (pipe2(p1, O_CLOEXEC) < 0 || pipe2(p2, O_CLOEXEC) < 0)
		al_fatal(1, "pipe");
	struct fdpair fp = { p1[1], p1[0], p2[1], p2[0] };
	pid = spawn(fd_child, &fp);
	r->rt[RT_PIPE] = time_rt(fd_one, &fp, 1);
	reap(pid);
	for (int i = 0; i < 2; i++)
		close(p1[i]), close(p2[i]);

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		al_fatal(1, "socketpair");
	struct fdpair fs = { sv[0], sv[1], sv[1], sv[0] };
	pid = spawn(fd_child, &fs);
	r->rt[RT_SOCK] = time_rt(fd_one, &fs, 1);
	reap(pid);
	close(sv[0]), close(sv[1]);

	uint8_t *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct evshm ev = { eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC), shm, shm + 128 };
	pid = spawn(ev_child, &ev);
	r->rt[RT_EVFD] = time_rt(ev_one, &ev, 1);
	reap(pid);
	close(ev.to_child), close(ev.to_parent);
	munmap(shm, 4096);

	r->rt[RT_SLEEP] = chan_rt(0, 1);

	r->tp[TP_RAW64] = ring_tput(MSG, 4000000, AL_CHAN_DEFAULT_RING, 1);
	r->tp[TP_RAW64B] = ring_tput(MSG, 8000000, AL_CHAN_DEFAULT_RING, BATCH);
	r->tp[TP_TOK] = tok_tput(16, 1);
	r->tp[TP_TOKB] = tok_tput(32, BATCH);
	r->tp[TP_SOCK64] = sock_tput(MSG, 1000000) / MSG;
	local_tput(&r->tp[TP_LOCALF], &r->tp[TP_LOCALT]);
	r->tp[TP_MEMCPY] = memcpy_bw();
	r->tp[TP_RAWBIG] = ring_tput(BIG, 50000, AL_CHAN_DEFAULT_RING, 1) * BIG;
	r->tp[TP_GENBIG] = big_tput(20000, AL_CHAN_DEFAULT_RING);
	r->tp[TP_SOCKBIG] = sock_tput(BIG, 50000);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median_of(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_RUNS 15

int main(int argc, char **argv)
{
	al_log_init("bench_channel", AL_LOG_ERROR);
	signal(SIGPIPE, SIG_IGN);
	int runs = argc > 1 ? atoi(argv[1]) : 3;
	if (runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: bench_channel [runs 1..%d, default 3]\n", MAX_RUNS);
		return 2;
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pinned = ncpu >= 2;
	if (pinned)
		pin(cpu_parent);
	memset(srcbuf, 'a', sizeof srcbuf);
	printf("bench_channel: %ld CPUs, parent on CPU %d, child on CPU %d%s; %d runs, medians of runs\n",
	       ncpu, cpu_parent, cpu_child, pinned ? "" : " (NOT pinned: fewer than 2 CPUs)", runs);

	static struct run all[MAX_RUNS];
	for (int i = 0; i < runs; i++) {
		run_once(&all[i]);
		fprintf(stderr, "run %d/%d: spinning %.0f ns (limit %.0f), 64 B batched %.1f M/s\n", i + 1,
			runs, all[i].rt[RT_SPIN].median, all[i].rt[RT_C2C].median,
			all[i].tp[TP_RAW64B] / 1e6);
	}
	struct stat2 rt[RT_N];
	double tp[TP_N], v[MAX_RUNS], w[MAX_RUNS];
	for (int k = 0; k < RT_N; k++) {
		for (int i = 0; i < runs; i++)
			v[i] = all[i].rt[k].median, w[i] = all[i].rt[k].p99;
		rt[k].median = median_of(v, (size_t)runs);
		rt[k].p99 = median_of(w, (size_t)runs);
	}
	for (int k = 0; k < TP_N; k++) {
		for (int i = 0; i < runs; i++)
			v[i] = all[i].tp[k];
		tp[k] = median_of(v, (size_t)runs);
	}

	printf("\n64-byte round trip (each way 64 B)      median         p99      ratio\n");
	row("cache-line ping-pong (limit)", rt[RT_C2C], 0, "");
	row("channel, spinning", rt[RT_SPIN], rt[RT_C2C].median, "of limit");
	row("  framing only (no message layer)", rt[RT_RAW], rt[RT_C2C].median, "of limit");
	row("  software only (one thread)", rt[RT_LOCAL], 0, "");
	row("pipe", rt[RT_PIPE], rt[RT_SPIN].median, "of channel spinning");
	row("unix socketpair", rt[RT_SOCK], rt[RT_SPIN].median, "of channel spinning");
	row("eventfd + shared memory", rt[RT_EVFD], 0, "");
	row("channel, sleeping (futex)", rt[RT_SLEEP], rt[RT_EVFD].median, "of eventfd+shm");

	double s64 = tp[TP_SOCK64], mc = tp[TP_MEMCPY], sb = tp[TP_SOCKBIG];
	printf("\nthroughput                                 value      ratio\n");
	printf("  %-34s %8.2f M/s   %6.2fx socketpair\n", "channel 64 B, framing + copy",
	       tp[TP_RAW64] / 1e6, tp[TP_RAW64] / s64);
	printf("  %-34s %8.2f M/s   %6.2fx socketpair\n", "  framing + copy, batched by 32",
	       tp[TP_RAW64B] / 1e6, tp[TP_RAW64B] / s64);
	printf("  %-34s %8.2f M/s   %6.2fx socketpair\n", "channel 64 B, validated tokens",
	       tp[TP_TOK] / 1e6, tp[TP_TOK] / s64);
	printf("  %-34s %8.2f M/s   %6.2fx socketpair\n", "  validated tokens, batched by 32",
	       tp[TP_TOKB] / 1e6, tp[TP_TOKB] / s64);
	printf("  %-34s %8.2f M/s\n", "unix socketpair 64 B", s64 / 1e6);
	printf("  %-34s %8.2f M/s\n", "  software only, framing (1 thread)", tp[TP_LOCALF] / 1e6);
	printf("  %-34s %8.2f M/s\n", "  software only, tokens (1 thread)", tp[TP_LOCALT] / 1e6);
	printf("  %-34s %8.2f GB/s  %5.0f%% of memcpy  %6.2fx socketpair\n",
	       "channel 64 KiB, framing + copy", tp[TP_RAWBIG] / 1e9, 100 * tp[TP_RAWBIG] / mc,
	       tp[TP_RAWBIG] / sb);
	printf("  %-34s %8.2f GB/s  %5.0f%% of memcpy  %6.2fx socketpair\n",
	       "channel 64 KiB, validated prompts", tp[TP_GENBIG] / 1e9, 100 * tp[TP_GENBIG] / mc,
	       tp[TP_GENBIG] / sb);
	printf("  %-34s %8.2f GB/s\n", "unix socketpair 64 KiB", sb / 1e9);
	printf("  %-34s %8.2f GB/s\n", "memcpy 64 KiB, one core", mc / 1e9);

	double spin = rt[RT_SPIN].median, c2c = rt[RT_C2C].median;
	double best64 = tp[TP_RAW64B] > tp[TP_RAW64] ? tp[TP_RAW64B] : tp[TP_RAW64];
	printf("\ngoals (medians of %d runs)                  goal      measured\n", runs);
	printf("  spinning round trip / core-to-core        <= 1.5x   %6.2fx  %s\n", spin / c2c,
	       spin <= 1.5 * c2c ? "met" : "MISSED");
	printf("  Unix socket round trip / spinning         >= 10x    %6.1fx  %s\n",
	       rt[RT_SOCK].median / spin, rt[RT_SOCK].median >= 10 * spin ? "met" : "MISSED");
	printf("  sleeping round trip / eventfd+shm         <= 1.0x   %6.2fx  %s\n",
	       rt[RT_SLEEP].median / rt[RT_EVFD].median,
	       rt[RT_SLEEP].median <= rt[RT_EVFD].median ? "met" : "MISSED");
	printf("  64 B messages/s (best framing row)        >= 20 M   %6.1f M  %s\n", best64 / 1e6,
	       best64 >= 20e6 ? "met" : "MISSED");
	printf("  64 KiB framing + copy / memcpy            >= 50%%    %5.0f%%   %s\n",
	       100 * tp[TP_RAWBIG] / mc, tp[TP_RAWBIG] >= 0.5 * mc ? "met" : "MISSED");
	return 0;
}
