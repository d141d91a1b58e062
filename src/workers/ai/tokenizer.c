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

/* The best merge of two adjacent symbols: the piece's id and score, id -1 if none. */
struct merge {
	float score;
	int id;
};

static struct merge pair_at(const struct al_ai_tokenizer *t, const char *s, size_t from, size_t to)
{
	struct merge m = { 0.0f, -1 };
	if (to - from <= t->max_token_length && (m.id = al_ai_tokenizer_lookup(t, s + from, to - from)) >= 0)
		m.score = t->scores[m.id];
	return m;
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
	AL_AUTOFREE struct merge *pr = malloc((tlen + 1) * sizeof(*pr));
	if (!s || !off || !pr)
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
	for (size_t k = 0; k + 1 < n; k++)
		pr[k] = pair_at(t, s, off[k], off[k + 2]);
	while (n > 1) {
		size_t best = n;
		for (size_t k = 0; k + 1 < n; k++)
			if (pr[k].id >= 0 && (best == n || pr[k].score > pr[best].score))
				best = k;
		if (best == n)
			break;
		/* Symbols best and best + 1 become one: drop the start between them. */
		memmove(off + best + 1, off + best + 2, (n - best - 1) * sizeof(*off));
		memmove(pr + best, pr + best + 1, (n - best - 2) * sizeof(*pr));
		n--;
		if (best + 1 < n)
			pr[best] = pair_at(t, s, off[best], off[best + 2]);
		if (best > 0)
			pr[best - 1] = pair_at(t, s, off[best - 1], off[best + 1]);
	}
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
	for (size_t k = 0; k < n; k++) {
		int id = al_ai_tokenizer_lookup(t, s + off[k], off[k + 1] - off[k]);
		if (id >= 0) {
			PUSH(id);
			continue;
		}
		for (size_t i = off[k]; i < off[k + 1]; i++) {
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
