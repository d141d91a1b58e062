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
	free(t->scratch);
	t->blob = t->scratch = NULL;
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
	t->scratch = malloc(2 * (size_t)maxlen + 8);
	if (!t->blob || !t->vocab || !t->sorted || !t->scores || !t->scratch)
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
	return text_len + 3;
}

static void push(int *tokens, size_t *n, int id)
{
	tokens[(*n)++] = id;
}

/*
 * A candidate merge of two adjacent symbols. Stale once either side changed
 * since it was queued (its version moved on): skipped when it comes up.
 */
struct merge {
	float score;
	int left, right; /* positions in the symbol list */
	int id;          /* the merged token */
	uint32_t vl, vr; /* versions of left and right when queued */
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

/* Queues the merge of symbols l and r when the vocabulary has it. */
static void queue_pair(struct al_ai_tokenizer *t, const int *tokens, const uint32_t *ver, int l, int r,
		       struct merge *h, size_t *nh)
{
	if (l < 0 || r < 0 || tokens[l] >= t->vocab_size || tokens[r] >= t->vocab_size)
		return; /* an end of the list, or BOS in a vocabulary of one */
	const struct al_ai_token *a = &t->vocab[tokens[l]], *b = &t->vocab[tokens[r]];
	if (a->len + b->len > t->max_token_length)
		return; /* no token is that long */
	memcpy(t->scratch, a->str, a->len);
	memcpy(t->scratch + a->len, b->str, b->len);
	int id = al_ai_tokenizer_lookup(t, t->scratch, a->len + b->len);
	/* Scores at or below -1e10 (and NaN) never win, as in llama2.c's scan. */
	if (id < 0 || !(t->scores[id] > -1e10f))
		return;
	heap_push(h, nh, (struct merge){ .score = t->scores[id], .left = l, .right = r, .id = id,
					  .vl = ver[l], .vr = ver[r] });
}

/*
 * Greedy BPE: merges the best-scoring adjacent pair (the leftmost on a tie)
 * until no pair is in the vocabulary; the same result as rescanning every
 * pair after each merge, in O(n log n) rather than O(n^2), so a prompt of
 * tens of kilobytes is counted and cut in milliseconds.
 */
static int merge_all(struct al_ai_tokenizer *t, int *tokens, size_t *n_tokens)
{
	size_t n = *n_tokens, nh = 0;
	if (n < 2)
		return 0;
	/* Every merge queues at most two pairs: n - 1 at first, then 2 per merge. */
	struct merge *h = malloc(3 * n * sizeof(*h));
	int *prev = malloc(n * sizeof(int)), *next = malloc(n * sizeof(int));
	uint32_t *ver = calloc(n, sizeof(uint32_t));
	if (!h || !prev || !next || !ver) {
		free(h);
		free(prev);
		free(next);
		free(ver);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		prev[i] = (int)i - 1;
		next[i] = i + 1 < n ? (int)i + 1 : -1;
	}
	for (size_t i = 0; i + 1 < n; i++)
		queue_pair(t, tokens, ver, (int)i, (int)i + 1, h, &nh);
	while (nh) {
		struct merge m = heap_pop(h, &nh);
		if (ver[m.left] != m.vl || ver[m.right] != m.vr || next[m.left] != m.right)
			continue; /* a side was merged into something else since */
		tokens[m.left] = m.id;
		ver[m.left]++;
		ver[m.right]++;
		next[m.left] = next[m.right];
		if (next[m.right] >= 0)
			prev[next[m.right]] = m.left;
		queue_pair(t, tokens, ver, prev[m.left], m.left, h, &nh);
		queue_pair(t, tokens, ver, m.left, next[m.left], h, &nh);
	}
	size_t k = 0;
	for (int i = 0; i >= 0; i = next[i])
		tokens[k++] = tokens[i];
	*n_tokens = k;
	free(h);
	free(prev);
	free(next);
	free(ver);
	return 0;
}

int al_ai_tokenizer_encode(struct al_ai_tokenizer *t, const char *text, bool bos, bool eos,
			   int *tokens, size_t cap, size_t *n_tokens)
{
	size_t tlen = strlen(text), n = 0, cp_len = 0;
	char cp[8];
	int rc;

	if (cap < al_ai_tokenizer_max_tokens(tlen))
		return -EINVAL;
	if (bos)
		push(tokens, &n, t->bos);
	/* SentencePiece's add_dummy_prefix: a space before non-empty text. */
	if (tlen) {
		int sp = al_ai_tokenizer_lookup(t, " ", 1);
		if (sp >= 0)
			push(tokens, &n, sp);
	}
	/* One token per UTF-8 code point when the vocabulary has it, else one
	 * byte-fallback token (<0xHH>, ids 3..258 in llama vocabularies) per byte. */
	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)text[i];
		if ((c & 0xC0) != 0x80)
			cp_len = 0;
		cp[cp_len++] = (char)c;
		if (i + 1 < tlen && ((unsigned char)text[i + 1] & 0xC0) == 0x80 && cp_len < 4)
			continue;
		int id = al_ai_tokenizer_lookup(t, cp, cp_len);
		if (id >= 0) {
			push(tokens, &n, id);
		} else {
			for (size_t k = 0; k < cp_len; k++)
				push(tokens, &n, t->byte_id[(unsigned char)cp[k]]);
		}
		cp_len = 0;
	}
	if ((rc = merge_all(t, tokens, &n)))
		return rc;
	if (eos)
		push(tokens, &n, t->eos);
	*n_tokens = n;
	return 0;
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
