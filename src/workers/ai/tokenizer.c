/*
 * BPE tokenizer. The file is hostile: it is copied once into private memory
 * (so a later change to the file cannot change a validated record), every
 * length is checked against the bytes left, and the record count must be the
 * model's vocab_size with nothing after the last record.
 */
#include "workers/ai/tokenizer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

static int tok_fail(struct al_ai_tokenizer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int tok_fail(struct al_ai_tokenizer *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int cmp_token(const void *a, const void *b)
{
	const struct al_ai_token *x = a, *y = b;
	return cmp_bytes(x->str, x->len, y->str, y->len);
}

int al_ai_tokenizer_lookup(const struct al_ai_tokenizer *t, const char *s, size_t len)
{
	size_t lo = 0, hi = (size_t)t->vocab_size;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_bytes(s, len, t->sorted[mid].str, t->sorted[mid].len);
		if (c == 0)
			return t->sorted[mid].id;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

void al_ai_tokenizer_free(struct al_ai_tokenizer *t)
{
	free(t->blob);
	free(t->vocab);
	free(t->sorted);
	free(t->scores);
	t->blob = NULL;
	t->vocab = t->sorted = NULL;
	t->scores = NULL;
}

static int32_t rd_i32(const uint8_t *p)
{
	int32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

int al_ai_tokenizer_build_mem(struct al_ai_tokenizer *t, const void *buf, size_t len, int vocab_size)
{
	const uint8_t *p = buf;
	size_t off = 4, blob_len = 0;
	int32_t maxlen;
	int rc = -ENOMEM;

	memset(t, 0, sizeof(*t));
	if (vocab_size < 1 || vocab_size > (1 << 20))
		return tok_fail(t, "tokenizer: vocab_size %d out of range", vocab_size);
	if (len > AL_AI_TOK_MAX_FILE)
		return tok_fail(t, "tokenizer: file of %zu bytes exceeds the %u-byte limit", len, AL_AI_TOK_MAX_FILE);
	if (len < 4)
		return tok_fail(t, "tokenizer: file of %zu bytes too short for max_token_length", len);
	maxlen = rd_i32(p);
	if (maxlen < 1 || maxlen > AL_AI_TOK_MAX_LEN)
		return tok_fail(t, "tokenizer: max_token_length %d out of range [1, %d]", maxlen, AL_AI_TOK_MAX_LEN);
	t->max_token_length = (uint32_t)maxlen;
	t->vocab_size = vocab_size;

	/* First pass: bounds only, so the allocation below is exact. */
	for (int i = 0; i < vocab_size; i++) {
		int32_t l;
		if (len - off < 8)
			return tok_fail(t, "tokenizer: record %d header truncated at offset %zu (%d records expected)",
					i, off, vocab_size);
		l = rd_i32(p + off + 4);
		if (l < 0 || l > maxlen)
			return tok_fail(t, "tokenizer: record %d length %d out of range [0, max_token_length %d]",
					i, l, maxlen);
		off += 8;
		if (len - off < (size_t)l)
			return tok_fail(t, "tokenizer: record %d bytes truncated at offset %zu", i, off);
		off += (size_t)l;
		blob_len += (size_t)l + 1;
	}
	if (off != len)
		return tok_fail(t, "tokenizer: %zu trailing bytes after record %d (count must equal vocab_size)",
				len - off, vocab_size - 1);

	t->blob = malloc(blob_len);
	t->vocab = calloc((size_t)vocab_size, sizeof(*t->vocab));
	t->sorted = calloc((size_t)vocab_size, sizeof(*t->sorted));
	t->scores = calloc((size_t)vocab_size, sizeof(*t->scores));
	if (!t->blob || !t->vocab || !t->sorted || !t->scores)
		goto fail;
	off = 4;
	char *dst = t->blob;
	for (int i = 0; i < vocab_size; i++) {
		uint32_t l = (uint32_t)rd_i32(p + off + 4);
		memcpy(&t->scores[i], p + off, sizeof(float));
		off += 8;
		memcpy(dst, p + off, l);
		dst[l] = '\0';
		t->vocab[i] = (struct al_ai_token){ .str = dst, .len = l, .id = i };
		dst += l + 1;
		off += l;
	}
	memcpy(t->sorted, t->vocab, (size_t)vocab_size * sizeof(*t->sorted));
	qsort(t->sorted, (size_t)vocab_size, sizeof(*t->sorted), cmp_token);
	for (int i = 0; i < 256; i++) {
		char hex[7];
		t->byte_pieces[i * 2] = (unsigned char)i;
		t->byte_pieces[i * 2 + 1] = '\0';
		snprintf(hex, sizeof(hex), "<0x%02X>", i);
		int id = al_ai_tokenizer_lookup(t, hex, 6);
		t->byte_id[i] = id >= 0 ? id : 0;
	}
	t->bos = AL_AI_TOK_BOS;
	t->eos = AL_AI_TOK_EOS;
	return 0;
fail:
	al_ai_tokenizer_free(t);
	snprintf(t->err, sizeof(t->err), "tokenizer: out of memory");
	return rc;
}

int al_ai_tokenizer_build_fd(struct al_ai_tokenizer *t, int fd, int vocab_size)
{
	struct stat st;
	AL_AUTOFREE uint8_t *buf = NULL;
	size_t got = 0, len;
	int rc;

	memset(t, 0, sizeof(*t));
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(t->err, sizeof(t->err), "tokenizer: fstat: %s", strerror(errno));
		return rc;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size > AL_AI_TOK_MAX_FILE)
		return tok_fail(t, "tokenizer: not a regular file of at most %u bytes", AL_AI_TOK_MAX_FILE);
	len = (size_t)st.st_size;
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	/* pread: the fd's offset is shared with whoever passed it in. */
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return tok_fail(t, "tokenizer: short read at %zu of %zu bytes", got, len);
		got += (size_t)n;
	}
	return al_ai_tokenizer_build_mem(t, buf, len, vocab_size);
}

size_t al_ai_tokenizer_max_tokens(size_t text_len)
{
	/* BOS, EOS, and each byte of the dummy prefix and the text as one
	 * byte token, a space as the three of U+2581. */
	return 3 * (text_len + 1) + 2;
}

/* Bytes in the UTF-8 sequence a byte starts (SentencePiece's and llama.cpp's split). */
static size_t utf8_len(unsigned char c)
{
	static const uint8_t len[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
	return len[c >> 4];
}

/*
 * A candidate merge of two adjacent symbols (by their first index): the
 * piece's score. Stale once either side changed since it was queued (its
 * version moved on): skipped when it comes up.
 */
struct merge {
	float score;
	uint32_t left, right; /* symbols */
	uint32_t vl, vr;      /* their versions when queued */
};

/* Heap order: the best score first; on a tie, the leftmost pair. That is the
 * pair a left-to-right scan for a strictly greater score would pick. */
static bool merge_before(const struct merge *a, const struct merge *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	return a->left < b->left;
}

static void heap_push(struct merge *h, size_t *n, struct merge m)
{
	size_t i = (*n)++;
	while (i > 0 && merge_before(&m, &h[(i - 1) / 2])) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = m;
}

static struct merge heap_pop(struct merge *h, size_t *n)
{
	struct merge top = h[0], last = h[--*n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && merge_before(&h[c + 1], &h[c]))
			c++;
		if (!merge_before(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
	return top;
}

/* The symbols of the text being merged: a list over their first bytes. */
struct symbols {
	const char *s;
	size_t slen;
	size_t *off;        /* start of symbol i (i < n) */
	uint32_t *next, *prev, *ver; /* next[i] == n: the last */
	size_t n;
	struct merge *heap;
	size_t nheap;
};

static size_t sym_end(const struct symbols *y, uint32_t i)
{
	return y->next[i] < y->n ? y->off[y->next[i]] : y->slen;
}

/* Queues the merge of symbols l and r when their joined bytes are a piece. */
static void queue_pair(const struct al_ai_tokenizer *t, struct symbols *y, uint32_t l, uint32_t r)
{
	if (l >= y->n || r >= y->n)
		return;
	size_t from = y->off[l], to = sym_end(y, r);
	int id;
	if (to - from > t->max_token_length || (id = al_ai_tokenizer_lookup(t, y->s + from, to - from)) < 0)
		return;
	heap_push(y->heap, &y->nheap, (struct merge){ .score = t->scores[id], .left = l, .right = r,
						      .vl = y->ver[l], .vr = y->ver[r] });
}

/*
 * Greedy BPE: merges the best-scoring adjacent pair (the leftmost on a tie)
 * until no pair is a piece; the same result as rescanning every pair after
 * each merge, in O(n log n) rather than O(n^2), so a prompt of tens of
 * kilobytes is encoded in milliseconds.
 */
static void merge_all(const struct al_ai_tokenizer *t, struct symbols *y)
{
	for (uint32_t k = 0; k + 1 < y->n; k++)
		queue_pair(t, y, k, k + 1);
	while (y->nheap) {
		struct merge m = heap_pop(y->heap, &y->nheap);
		if (m.vl != y->ver[m.left] || m.vr != y->ver[m.right])
			continue; /* a side changed since: a newer entry stands for it */
		uint32_t l = m.left, r = m.right;
		y->next[l] = y->next[r];
		if (y->next[r] < y->n)
			y->prev[y->next[r]] = l;
		y->ver[l]++;
		y->ver[r]++; /* gone: every entry naming it is stale */
		if (y->prev[l] < y->n)
			queue_pair(t, y, y->prev[l], l);
		queue_pair(t, y, l, y->next[l]);
	}
}

/*
 * SentencePiece BPE as llama.cpp runs it: the text with a space before it
 * (add_dummy_prefix) is split into UTF-8 sequences; the adjacent pair whose
 * joined bytes are the best-scoring piece is merged (the leftmost on a
 * tie) until no pair is a piece; each symbol is then its piece, or its
 * bytes as <0xHH> tokens. The vocabulary's pieces use ' ' for U+2581, so
 * U+2581 in the text reads as a space, and a space that is no piece falls
 * back to the bytes of U+2581 (e2 96 81), as SentencePiece's escaped text
 * has them.
 */
int al_ai_tokenizer_encode(struct al_ai_tokenizer *t, const char *text, bool bos, bool eos,
			   int *tokens, size_t cap, size_t *n_tokens)
{
	size_t tlen = strlen(text), slen = 0, n = 0, out = 0;
	int rc = 0;

	*n_tokens = 0;
	/* Text plus prefix: the symbols' starts (n + 1) and the merges of their pairs. */
	AL_AUTOFREE char *s = malloc(tlen + 1);
	AL_AUTOFREE size_t *off = malloc((tlen + 2) * sizeof(*off));
	AL_AUTOFREE uint32_t *links = malloc(3 * (tlen + 2) * sizeof(*links));
	/* each merge queues at most two entries: 3 n in all */
	AL_AUTOFREE struct merge *heap = malloc(3 * (tlen + 2) * sizeof(*heap));
	if (!s || !off || !links || !heap || tlen > UINT32_MAX / 4)
		return -ENOMEM;
	if (tlen)
		s[slen++] = ' ';
	for (size_t i = 0; i < tlen; i++) {
		if (i + 2 < tlen && memcmp(text + i, "\xe2\x96\x81", 3) == 0) {
			s[slen++] = ' ';
			i += 2;
		} else {
			s[slen++] = text[i];
		}
	}
	for (size_t i = 0; i < slen; n++) {
		size_t l = utf8_len((unsigned char)s[i]);
		off[n] = i;
		i += l < slen - i ? l : slen - i;
	}
	off[n] = slen;
	struct symbols y = { .s = s, .slen = slen, .off = off, .next = links, .prev = links + tlen + 2,
			     .ver = links + 2 * (tlen + 2), .n = n, .heap = heap };
	for (size_t k = 0; k < n; k++) {
		y.next[k] = (uint32_t)(k + 1);
		y.prev[k] = k ? (uint32_t)(k - 1) : (uint32_t)n;
		y.ver[k] = 0;
	}
	merge_all(t, &y);
#define PUSH(id)                             \
	do {                                 \
		if (out == cap) {            \
			rc = -EINVAL;        \
			goto done;           \
		}                            \
		tokens[out++] = (id);        \
	} while (0)
	if (bos)
		PUSH(t->bos);
	for (uint32_t k = 0; n && k < n; k = y.next[k]) {
		size_t end = sym_end(&y, k);
		int id = al_ai_tokenizer_lookup(t, s + off[k], end - off[k]);
		if (id >= 0) {
			PUSH(id);
			continue;
		}
		for (size_t i = off[k]; i < end; i++) {
			if (s[i] == ' ') {
				PUSH(t->byte_id[0xe2]);
				PUSH(t->byte_id[0x96]);
				PUSH(t->byte_id[0x81]);
			} else {
				PUSH(t->byte_id[(unsigned char)s[i]]);
			}
		}
	}
	if (eos)
		PUSH(t->eos);
#undef PUSH
	*n_tokens = out;
done:
	return rc;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void al_ai_tokenizer_decode(const struct al_ai_tokenizer *t, int prev, int token,
			    const char **piece, size_t *len)
{
	if (token < 0 || token >= t->vocab_size) {
		*piece = "";
		*len = 0;
		return;
	}
	const char *s = t->vocab[token].str;
	size_t l = t->vocab[token].len;
	/* SentencePiece drops the dummy-prefix space of the first word after BOS. */
	if (prev == t->bos && l && s[0] == ' ') {
		s++;
		l--;
	}
	if (l == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>' && hexval(s[3]) >= 0 && hexval(s[4]) >= 0) {
		int b = hexval(s[3]) * 16 + hexval(s[4]);
		s = (const char *)t->byte_pieces + b * 2;
		l = 1;
	}
	*piece = s;
	*len = l;
}
