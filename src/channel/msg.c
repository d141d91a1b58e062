/*
 * Message registry: for each type its size bounds, who may send it, a
 * validator (decodes the private copy, refuses anything off) and a sanitiser
 * (brings an outgoing message into range so an honest sender never trips the
 * peer's validator). Binary framing: fixed little-endian fields, then at most
 * one length-prefixed text that must end the payload exactly.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "channel/channel_int.h"

#define SIDE(s) (1u << (s))
#define FROM_PROTO SIDE(AL_CHAN_SIDE_PROTO)
#define FROM_AI SIDE(AL_CHAN_SIDE_AI)

/* ---- strict UTF-8 and control characters ---- */

/* Length of the valid sequence at s[0..len), 0 if invalid or incomplete;
 * *cp gets the code point. No overlongs, no surrogates, nothing above U+10FFFF. */
static inline __attribute__((always_inline)) size_t utf8_seq(const uint8_t *s, size_t len, uint32_t *cp)
{
	uint8_t c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t n;
	uint32_t v, min;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2, v = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3, v = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

static inline bool is_control(uint32_t cp)
{
	return (cp < 0x20 && cp != '\n' && cp != '\t') || (cp >= 0x7f && cp <= 0x9f);
}

/* True if 8 ASCII bytes hold no byte < 0x20 and no 0x7f (SWAR). */
static inline __attribute__((always_inline)) bool ascii8_plain(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	if (x & highs)
		return false;
	uint64_t below = (x - 0x20 * ones) & ~x & highs;
	uint64_t y = x ^ (0x7f * ones);
	uint64_t del = (y - ones) & ~y & highs;
	return !(below | del);
}

static inline uint64_t load8(const uint8_t *s)
{
	uint64_t x;
	memcpy(&x, s, 8);
	return x;
}

#ifdef __SSE2__
/* 0xff in each byte of s[0..16) that is not plain printable ASCII. Signed
 * compare: bytes >= 0x80 are negative, so they count as below 0x20 too. */
static inline __m128i not_plain16(const uint8_t *s)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
	return _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
			    _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f)));
}
#endif

/* Length of the prefix of s made of plain printable ASCII (no byte < 0x20, no
 * 0x7f, nothing >= 0x80; \n and \t are left to the byte loop), found 16 or 8
 * bytes at a time; it may stop short of the first byte that is not plain. */
static size_t plain_run(const uint8_t *s, size_t len)
{
	size_t i = 0;
#ifdef __SSE2__
	/* 64 bytes per test while nothing is found, then 16 to locate it. */
	while (len - i >= 64) {
		__m128i bad = _mm_or_si128(_mm_or_si128(not_plain16(s + i), not_plain16(s + i + 16)),
					   _mm_or_si128(not_plain16(s + i + 32), not_plain16(s + i + 48)));
		if (_mm_movemask_epi8(bad))
			break;
		i += 64;
	}
	while (len - i >= 16) {
		unsigned mask = (unsigned)_mm_movemask_epi8(not_plain16(s + i));
		if (mask)
			return i + (size_t)__builtin_ctz(mask);
		i += 16;
	}
#else
	/* Four words at a time: the common case for prompts and tokens. */
	while (len - i >= 32 && ascii8_plain(load8(s + i)) && ascii8_plain(load8(s + i + 8)) &&
	       ascii8_plain(load8(s + i + 16)) && ascii8_plain(load8(s + i + 24)))
		i += 32;
#endif
	while (len - i >= 8 && ascii8_plain(load8(s + i)))
		i += 8;
	return i;
}

/* plain_run that also copies the run to dst (dst <= s, or not overlapping):
 * one pass over the text instead of a scan and then a copy. */
static size_t plain_copy(uint8_t *dst, const uint8_t *s, size_t len)
{
	size_t i = 0;
#ifdef __SSE2__
	/* Each 64-byte block is loaded once, tested, then stored. */
	while (len - i >= 64) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
		__m128i c = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 32));
		__m128i d = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 48));
		const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
		__m128i bad = _mm_or_si128(
			_mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(a, space), _mm_cmpeq_epi8(a, del)),
				     _mm_or_si128(_mm_cmplt_epi8(b, space), _mm_cmpeq_epi8(b, del))),
			_mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(c, space), _mm_cmpeq_epi8(c, del)),
				     _mm_or_si128(_mm_cmplt_epi8(d, space), _mm_cmpeq_epi8(d, del))));
		if (_mm_movemask_epi8(bad))
			break;
		_mm_storeu_si128((__m128i *)(void *)(dst + i), a);
		_mm_storeu_si128((__m128i *)(void *)(dst + i + 16), b);
		_mm_storeu_si128((__m128i *)(void *)(dst + i + 32), c);
		_mm_storeu_si128((__m128i *)(void *)(dst + i + 48), d);
		i += 64;
	}
	while (len - i >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		unsigned mask = (unsigned)_mm_movemask_epi8(not_plain16(s + i));
		if (mask) {
			size_t n = (size_t)__builtin_ctz(mask);
			memmove(dst + i, s + i, n);
			return i + n;
		}
		_mm_storeu_si128((__m128i *)(void *)(dst + i), x);
		i += 16;
	}
#endif
	size_t n = plain_run(s + i, len - i);
	memmove(dst + i, s + i, n);
	return i + n;
}

bool al_utf8_check(const uint8_t *s, size_t len, int *err)
{
	size_t i = 0;
	while (i < len) {
		size_t run = plain_run(s + i, len - i);
		if (run) {
			i += run;
			continue;
		}
		uint32_t cp;
		size_t n = utf8_seq(s + i, len - i, &cp);
		if (n == 0) {
			*err = AL_CHAN_E_UTF8;
			return false;
		}
		if (is_control(cp)) {
			*err = AL_CHAN_E_CONTROL;
			return false;
		}
		i += n;
	}
	return true;
}

size_t al_chan_sanitise_text(char *dst, const char *src, size_t len)
{
	const uint8_t *s = (const uint8_t *)src;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		/* Runs of plain ASCII move as one block. */
		size_t run = plain_copy((uint8_t *)dst + o, s + i, len - i);
		if (run) {
			o += run;
			i += run;
			continue;
		}
		uint32_t cp;
		size_t n = utf8_seq(s + i, len - i, &cp);
		if (n == 0) {
			i++;
			continue;
		}
		if (!is_control(cp)) {
			memmove(dst + o, src + i, n);
			o += n;
		}
		i += n;
	}
	return o;
}

size_t al_chan_utf8_complete(const char *s, size_t len)
{
	/* Look back at most 3 bytes for a lead byte whose sequence is cut short. */
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		uint8_t c = (uint8_t)s[len - back];
		if ((c & 0xc0) == 0x80)
			continue;
		size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return need > back ? len - back : len;
	}
	return len;
}

static inline uint32_t le32(const uint8_t *b)
{
	uint32_t v;
	memcpy(&v, b, 4); /* one load; the byte order is fixed below */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

/* ---- little-endian reader over the private copy (m_get_* / m_end) ---- */

struct rd {
	const uint8_t *p;
	size_t len, off;
	int err;
	const char *what;
};

static inline __attribute__((always_inline)) uint32_t rd_u32(struct rd *r, const char *field)
{
	if (r->err)
		return 0;
	if (r->len - r->off < 4) {
		r->err = AL_CHAN_E_TRUNCATED, r->what = field;
		return 0;
	}
	const uint8_t *b = r->p + r->off;
	r->off += 4;
	return le32(b);
}

static inline __attribute__((always_inline)) uint64_t rd_u64(struct rd *r, const char *field)
{
	uint64_t lo = rd_u32(r, field);
	uint64_t hi = rd_u32(r, field);
	return lo | hi << 32;
}

static inline __attribute__((always_inline)) float rd_f32(struct rd *r, const char *field)
{
	uint32_t bits = rd_u32(r, field);
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

/* A u32 length, then exactly that many bytes of checked text ending the payload. */
static const char *rd_text(struct rd *r, const char *field, size_t max, size_t *len_out)
{
	uint32_t n = rd_u32(r, field);
	if (r->err)
		return NULL;
	if (n > r->len - r->off) {
		r->err = AL_CHAN_E_TRUNCATED, r->what = field;
		return NULL;
	}
	if (n > max) {
		r->err = AL_CHAN_E_SIZE, r->what = field;
		return NULL;
	}
	const uint8_t *t = r->p + r->off;
	int e = 0;
	if (!al_utf8_check(t, n, &e)) {
		r->err = e, r->what = field;
		return NULL;
	}
	r->off += n;
	*len_out = n;
	return (const char *)t;
}

static int rd_end(struct rd *r, const char **what)
{
	if (!r->err && r->off != r->len)
		r->err = AL_CHAN_E_TRAILING, r->what = "payload end";
	if (r->err)
		*what = r->what;
	return r->err ? -r->err : 0;
}

static inline __attribute__((always_inline)) int range(struct rd *r, bool ok, const char *field)
{
	if (!r->err && !ok)
		r->err = AL_CHAN_E_RANGE, r->what = field;
	return 0;
}

/* ---- writer into the reserved ring space ---- */

static inline __attribute__((always_inline)) uint8_t *wr_u32(uint8_t *d, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	memcpy(d, &v, 4);
	return d + 4;
}

static inline __attribute__((always_inline)) uint8_t *wr_u64(uint8_t *d, uint64_t v)
{
	return wr_u32(wr_u32(d, (uint32_t)v), (uint32_t)(v >> 32));
}

static inline __attribute__((always_inline)) uint8_t *wr_f32(uint8_t *d, float f)
{
	uint32_t bits;
	memcpy(&bits, &f, sizeof bits);
	return wr_u32(d, bits);
}

/* Length prefix, then the sanitised text copied straight in; fixes the prefix. */
static uint8_t *wr_text(uint8_t *d, const char *s, size_t len, size_t max)
{
	if (len > max)
		len = max;
	size_t n = len ? al_chan_sanitise_text((char *)d + 4, s, len) : 0;
	/* Dropping bytes at a cut may leave nothing invalid: sanitise never grows. */
	wr_u32(d, (uint32_t)n);
	return d + 4 + n;
}

/* ---- per type ---- */

static int v_gen(const uint8_t *p, size_t len, struct al_msg *m, const char **what)
{
	struct rd r = { .p = p, .len = len };
	struct al_msg_gen_request *g = &m->u.gen;
	g->req_id = rd_u64(&r, "req_id");
	g->seed = rd_u64(&r, "seed");
	g->max_tokens = rd_u32(&r, "max_tokens");
	g->temperature = rd_f32(&r, "temperature");
	g->top_p = rd_f32(&r, "top_p");
	g->truncate = rd_u32(&r, "truncate");
	g->client = rd_u64(&r, "client");
	range(&r, g->req_id != 0, "req_id");
	range(&r, g->max_tokens >= 1 && g->max_tokens <= AL_MSG_MAX_TOKENS, "max_tokens");
	range(&r, isfinite(g->temperature) && g->temperature >= 0.0f &&
		  g->temperature <= AL_MSG_MAX_TEMPERATURE, "temperature");
	range(&r, isfinite(g->top_p) && g->top_p > 0.0f && g->top_p <= 1.0f, "top_p");
	range(&r, g->truncate < AL_TRUNCATE_END, "truncate");
	g->prompt = rd_text(&r, "prompt", AL_MSG_MAX_PROMPT, &g->prompt_len);
	return rd_end(&r, what);
}

static void s_gen(struct al_msg *m)
{
	struct al_msg_gen_request *g = &m->u.gen;
	if (g->max_tokens < 1)
		g->max_tokens = 1;
	if (g->max_tokens > AL_MSG_MAX_TOKENS)
		g->max_tokens = AL_MSG_MAX_TOKENS;
	if (!isfinite(g->temperature) || g->temperature < 0.0f)
		g->temperature = 0.0f;
	if (g->temperature > AL_MSG_MAX_TEMPERATURE)
		g->temperature = AL_MSG_MAX_TEMPERATURE;
	if (!isfinite(g->top_p) || g->top_p <= 0.0f || g->top_p > 1.0f)
		g->top_p = 1.0f;
	if (g->truncate >= AL_TRUNCATE_END)
		g->truncate = AL_TRUNCATE_NONE;
	if (g->prompt_len > AL_MSG_MAX_PROMPT)
		g->prompt_len = AL_MSG_MAX_PROMPT;
}

static int v_token(const uint8_t *p, size_t len, struct al_msg *m, const char **what)
{
	struct rd r = { .p = p, .len = len };
	struct al_msg_token *t = &m->u.token;
	t->req_id = rd_u64(&r, "req_id");
	t->n_tokens = rd_u32(&r, "n_tokens");
	range(&r, t->req_id != 0, "req_id");
	range(&r, t->n_tokens >= 1 && t->n_tokens <= AL_MSG_MAX_TOKENS, "n_tokens");
	t->text = rd_text(&r, "text", AL_MSG_MAX_TEXT, &t->text_len);
	return rd_end(&r, what);
}

static void s_token(struct al_msg *m)
{
	if (m->u.token.text_len > AL_MSG_MAX_TEXT)
		m->u.token.text_len = AL_MSG_MAX_TEXT;
}

static int v_done(const uint8_t *p, size_t len, struct al_msg *m, const char **what)
{
	struct rd r = { .p = p, .len = len };
	struct al_msg_done *d = &m->u.done;
	d->req_id = rd_u64(&r, "req_id");
	d->prompt_tokens = rd_u32(&r, "prompt_tokens");
	d->gen_tokens = rd_u32(&r, "gen_tokens");
	d->finish = rd_u32(&r, "finish");
	d->prompt_dropped = rd_u32(&r, "prompt_dropped");
	d->prefill_ns = rd_u64(&r, "prefill_ns");
	d->decode_ns = rd_u64(&r, "decode_ns");
	range(&r, d->req_id != 0, "req_id");
	range(&r, d->finish < AL_FINISH_END, "finish");
	range(&r, d->prompt_tokens <= AL_MSG_MAX_PROMPT_TOKENS, "prompt_tokens");
	range(&r, d->prompt_dropped <= AL_MSG_MAX_PROMPT_TOKENS - d->prompt_tokens, "prompt_dropped");
	range(&r, d->gen_tokens <= AL_MSG_MAX_TOKENS, "gen_tokens");
	return rd_end(&r, what);
}

static void s_done(struct al_msg *m)
{
	struct al_msg_done *d = &m->u.done;
	if (d->finish >= AL_FINISH_END)
		d->finish = AL_FINISH_STOP;
	if (d->prompt_tokens > AL_MSG_MAX_PROMPT_TOKENS)
		d->prompt_tokens = AL_MSG_MAX_PROMPT_TOKENS;
	if (d->prompt_dropped > AL_MSG_MAX_PROMPT_TOKENS - d->prompt_tokens)
		d->prompt_dropped = AL_MSG_MAX_PROMPT_TOKENS - d->prompt_tokens;
}

static int v_error(const uint8_t *p, size_t len, struct al_msg *m, const char **what)
{
	struct rd r = { .p = p, .len = len };
	struct al_msg_error *e = &m->u.error;
	e->req_id = rd_u64(&r, "req_id");
	e->code = rd_u32(&r, "code");
	e->text = rd_text(&r, "text", AL_MSG_MAX_ERROR, &e->text_len);
	return rd_end(&r, what);
}

static void s_error(struct al_msg *m)
{
	if (m->u.error.text_len > AL_MSG_MAX_ERROR)
		m->u.error.text_len = AL_MSG_MAX_ERROR;
}

static int v_id(const uint8_t *p, size_t len, struct al_msg *m, const char **what)
{
	struct rd r = { .p = p, .len = len };
	m->u.nonce = rd_u64(&r, "id"); /* cancel_id and nonce share the slot */
	range(&r, m->u.nonce != 0, "id");
	return rd_end(&r, what);
}

static int v_stats(const uint8_t *p, size_t len, struct al_msg *m, const char **what)
{
	struct rd r = { .p = p, .len = len };
	m->u.stats.uptime_ns = rd_u64(&r, "uptime_ns");
	m->u.stats.requests = rd_u64(&r, "requests");
	m->u.stats.tokens = rd_u64(&r, "tokens");
	m->u.stats.violations = rd_u64(&r, "violations");
	return rd_end(&r, what);
}

static void s_none(struct al_msg *m)
{
	(void)m;
}

static int v_hello(const uint8_t *p, size_t len, struct al_msg *m, const char **what)
{
	struct rd r = { .p = p, .len = len };
	struct al_msg_hello *h = &m->u.hello;
	h->vocab_size = rd_u32(&r, "vocab_size");
	h->context_length = rd_u32(&r, "context_length");
	h->n_layers = rd_u32(&r, "n_layers");
	h->dim = rd_u32(&r, "dim");
	h->n_heads = rd_u32(&r, "n_heads");
	h->n_kv_heads = rd_u32(&r, "n_kv_heads");
	h->max_prompt_tokens = rd_u32(&r, "max_prompt_tokens");
	h->name = rd_text(&r, "name", AL_MSG_MAX_NAME, &h->name_len);
	range(&r, h->vocab_size >= 1 && h->vocab_size <= (1u << 20), "vocab_size");
	range(&r, h->context_length >= 1 && h->context_length <= (1u << 20), "context_length");
	range(&r, h->n_layers >= 1 && h->n_layers <= 1024, "n_layers");
	range(&r, h->dim >= 1 && h->dim <= (1u << 16), "dim");
	range(&r, h->n_heads >= 1 && h->n_heads <= h->dim, "n_heads");
	range(&r, h->n_kv_heads >= 1 && h->n_kv_heads <= h->n_heads, "n_kv_heads");
	range(&r, h->max_prompt_tokens < h->context_length, "max_prompt_tokens");
	return rd_end(&r, what);
}

static void s_hello(struct al_msg *m)
{
	if (m->u.hello.name_len > AL_MSG_MAX_NAME)
		m->u.hello.name_len = AL_MSG_MAX_NAME;
	if (m->u.hello.context_length && m->u.hello.max_prompt_tokens >= m->u.hello.context_length)
		m->u.hello.max_prompt_tokens = m->u.hello.context_length - 1;
}

#define GEN_FIXED (8 + 8 + 4 + 4 + 4 + 4 + 8 + 4)
#define TOKEN_FIXED (8 + 4 + 4)
#define DONE_FIXED (8 + 4 + 4 + 4 + 4 + 8 + 8)
#define ERROR_FIXED (8 + 4 + 4)
#define HELLO_FIXED (7 * 4 + 4)

static const struct al_msg_desc registry[AL_MSG_TYPE_END] = {
	[AL_MSG_GEN_REQUEST] = { "gen_request", GEN_FIXED, GEN_FIXED + AL_MSG_MAX_PROMPT,
				 FROM_PROTO, v_gen, s_gen },
	[AL_MSG_TOKEN] = { "token", TOKEN_FIXED, TOKEN_FIXED + AL_MSG_MAX_TEXT, FROM_AI,
			   v_token, s_token },
	[AL_MSG_DONE] = { "done", DONE_FIXED, DONE_FIXED, FROM_AI, v_done, s_done },
	[AL_MSG_ERROR] = { "error", ERROR_FIXED, ERROR_FIXED + AL_MSG_MAX_ERROR, FROM_AI,
			   v_error, s_error },
	[AL_MSG_CANCEL] = { "cancel", 8, 8, FROM_PROTO, v_id, s_none },
	[AL_MSG_PING] = { "ping", 8, 8, FROM_PROTO | FROM_AI, v_id, s_none },
	[AL_MSG_PONG] = { "pong", 8, 8, FROM_PROTO | FROM_AI, v_id, s_none },
	[AL_MSG_STATS] = { "stats", 32, 32, FROM_PROTO | FROM_AI, v_stats, s_none },
	[AL_MSG_HELLO] = { "hello", HELLO_FIXED, HELLO_FIXED + AL_MSG_MAX_NAME, FROM_AI,
			   v_hello, s_hello },
};

const struct al_msg_desc *al_msg_desc(uint32_t type)
{
	if (type >= AL_MSG_TYPE_END || !registry[type].validate)
		return NULL;
	return &registry[type];
}

const char *al_msg_type_name(uint32_t type)
{
	if (type == AL_MSG_PAD)
		return "pad";
	const struct al_msg_desc *d = al_msg_desc(type);
	return d ? d->name : "unknown";
}

int al_msg_decode(uint32_t type, enum al_chan_side sender, const uint8_t *p, size_t len,
		  struct al_msg *out, const char **what)
{
	const struct al_msg_desc *d = al_msg_desc(type);
	memset(out, 0, sizeof *out);
	if (!d) {
		*what = "type";
		return -AL_CHAN_E_TYPE;
	}
	if (!(d->senders & SIDE(sender))) {
		*what = d->name;
		return -AL_CHAN_E_DIRECTION;
	}
	if (len < d->min_len || len > d->max_len) {
		*what = d->name;
		return -AL_CHAN_E_SIZE;
	}
	out->type = (enum al_msg_type)type;
	return d->validate(p, len, out, what);
}

static size_t clamp(size_t v, size_t max)
{
	return v > max ? max : v;
}

size_t al_msg_encoded_max(const struct al_msg *m)
{
	switch (m->type) {
	case AL_MSG_GEN_REQUEST: return GEN_FIXED + clamp(m->u.gen.prompt_len, AL_MSG_MAX_PROMPT);
	case AL_MSG_TOKEN: return TOKEN_FIXED + clamp(m->u.token.text_len, AL_MSG_MAX_TEXT);
	case AL_MSG_ERROR: return ERROR_FIXED + clamp(m->u.error.text_len, AL_MSG_MAX_ERROR);
	case AL_MSG_HELLO: return HELLO_FIXED + clamp(m->u.hello.name_len, AL_MSG_MAX_NAME);
	default: {
		const struct al_msg_desc *d = al_msg_desc(m->type);
		return d ? d->max_len : 0;
	}
	}
}

size_t al_msg_encode(const struct al_msg *m, uint8_t *dst, size_t room)
{
	uint8_t *d = dst;
	if (room < al_msg_encoded_max(m))
		return 0;
	const struct al_msg_desc *desc = al_msg_desc(m->type);
	struct al_msg copy = *m;
	desc->sanitise(&copy);
	switch (copy.type) {
	case AL_MSG_GEN_REQUEST:
		d = wr_u64(d, copy.u.gen.req_id);
		d = wr_u64(d, copy.u.gen.seed);
		d = wr_u32(d, copy.u.gen.max_tokens);
		d = wr_f32(d, copy.u.gen.temperature);
		d = wr_f32(d, copy.u.gen.top_p);
		d = wr_u32(d, copy.u.gen.truncate);
		d = wr_u64(d, copy.u.gen.client);
		d = wr_text(d, copy.u.gen.prompt, copy.u.gen.prompt_len, AL_MSG_MAX_PROMPT);
		break;
	case AL_MSG_TOKEN:
		d = wr_u64(d, copy.u.token.req_id);
		d = wr_u32(d, copy.u.token.n_tokens);
		d = wr_text(d, copy.u.token.text, copy.u.token.text_len, AL_MSG_MAX_TEXT);
		break;
	case AL_MSG_DONE:
		d = wr_u64(d, copy.u.done.req_id);
		d = wr_u32(d, copy.u.done.prompt_tokens);
		d = wr_u32(d, copy.u.done.gen_tokens);
		d = wr_u32(d, copy.u.done.finish);
		d = wr_u32(d, copy.u.done.prompt_dropped);
		d = wr_u64(d, copy.u.done.prefill_ns);
		d = wr_u64(d, copy.u.done.decode_ns);
		break;
	case AL_MSG_ERROR:
		d = wr_u64(d, copy.u.error.req_id);
		d = wr_u32(d, copy.u.error.code);
		d = wr_text(d, copy.u.error.text, copy.u.error.text_len, AL_MSG_MAX_ERROR);
		break;
	case AL_MSG_CANCEL:
	case AL_MSG_PING:
	case AL_MSG_PONG:
		d = wr_u64(d, copy.u.nonce);
		break;
	case AL_MSG_STATS:
		d = wr_u64(d, copy.u.stats.uptime_ns);
		d = wr_u64(d, copy.u.stats.requests);
		d = wr_u64(d, copy.u.stats.tokens);
		d = wr_u64(d, copy.u.stats.violations);
		break;
	case AL_MSG_HELLO:
		d = wr_u32(d, copy.u.hello.vocab_size);
		d = wr_u32(d, copy.u.hello.context_length);
		d = wr_u32(d, copy.u.hello.n_layers);
		d = wr_u32(d, copy.u.hello.dim);
		d = wr_u32(d, copy.u.hello.n_heads);
		d = wr_u32(d, copy.u.hello.n_kv_heads);
		d = wr_u32(d, copy.u.hello.max_prompt_tokens);
		d = wr_text(d, copy.u.hello.name, copy.u.hello.name_len, AL_MSG_MAX_NAME);
		break;
	default:
		return 0;
	}
	return (size_t)(d - dst);
}
