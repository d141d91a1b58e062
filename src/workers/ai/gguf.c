/*
 * GGUF loader. The file is hostile: one reader walks it front to back, every
 * read is checked against the bytes left first, every length and count
 * against a limit, every size computed with overflow checks. Values are read
 * once (memcpy, no unaligned loads) into the parsed structs, which is all the
 * rest of the engine looks at; only tensor data and string bytes are used in
 * place, at offsets already checked.
 */
#include "workers/ai/gguf.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct reader {
	const uint8_t *p;
	size_t len, off;
	char *err;
	size_t errlen;
	size_t budget; /* array elements still allowed to be walked one by one */
};

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

#define RFAIL(r, ...) fail((r)->err, (r)->errlen, __VA_ARGS__)

static int rd(struct reader *r, void *dst, size_t n, const char *field)
{
	if (r->len - r->off < n) {
		RFAIL(r, "gguf: %s truncated at offset %zu (file of %zu bytes)", field, r->off, r->len);
		return -EINVAL; /* visibly non-zero: the caller's outputs are then unused */
	}
	memcpy(dst, r->p + r->off, n);
	r->off += n;
	return 0;
}

static int rd_u32(struct reader *r, uint32_t *v, const char *field)
{
	return rd(r, v, 4, field);
}

static int rd_u64(struct reader *r, uint64_t *v, const char *field)
{
	return rd(r, v, 8, field);
}

/* A string: uint64 length, then that many bytes, bounded by max and by the file. */
static int rd_str(struct reader *r, const uint8_t **s, uint64_t *n, uint64_t max, const char *field)
{
	*s = NULL;
	*n = 0;
	if (rd_u64(r, n, field))
		return -EINVAL;
	if (*n > max) {
		RFAIL(r, "gguf: %s length %llu exceeds the limit of %llu bytes", field, (unsigned long long)*n,
		      (unsigned long long)max);
		return -EINVAL;
	}
	if (*n > r->len - r->off) {
		RFAIL(r, "gguf: %s length %llu runs past the end of the file (offset %zu)", field,
		      (unsigned long long)*n, r->off);
		return -EINVAL;
	}
	*s = r->p + r->off;
	r->off += (size_t)*n;
	return 0;
}

static const uint8_t vsize[AL_GGUF_VTYPE_COUNT] = {
	[AL_GGUF_U8] = 1, [AL_GGUF_I8] = 1, [AL_GGUF_U16] = 2, [AL_GGUF_I16] = 2, [AL_GGUF_U32] = 4,
	[AL_GGUF_I32] = 4, [AL_GGUF_F32] = 4, [AL_GGUF_BOOL] = 1, [AL_GGUF_U64] = 8, [AL_GGUF_I64] = 8,
	[AL_GGUF_F64] = 8,
};

/* Skips an array's elements (the header already read), recursing at most AL_GGUF_MAX_DEPTH. */
static int skip_array(struct reader *r, uint32_t type, uint64_t n, int depth, const char *key)
{
	int rc;
	if (type >= AL_GGUF_VTYPE_COUNT)
		return RFAIL(r, "gguf: key %s: array element type %u out of range", key, type);
	if (n > AL_GGUF_MAX_ARRAY)
		return RFAIL(r, "gguf: key %s: array length %llu exceeds the limit of %u", key,
			     (unsigned long long)n, AL_GGUF_MAX_ARRAY);
	if (vsize[type]) {
		size_t bytes;
		if (!al_mul_size((size_t)n, vsize[type], &bytes) || bytes > r->len - r->off)
			return RFAIL(r, "gguf: key %s: array of %llu x %u bytes runs past the end of the file",
				     key, (unsigned long long)n, vsize[type]);
		if (type == AL_GGUF_BOOL)
			for (size_t i = 0; i < (size_t)n; i++)
				if (r->p[r->off + i] > 1)
					return RFAIL(r, "gguf: key %s: bool element %zu is %u", key, i, r->p[r->off + i]);
		r->off += bytes;
		return 0;
	}
	/* Variable-size elements: each needs at least 8 bytes, which bounds n by the file. */
	if (n > (r->len - r->off) / 8)
		return RFAIL(r, "gguf: key %s: array length %llu runs past the end of the file", key,
			     (unsigned long long)n);
	if (n > r->budget)
		return RFAIL(r, "gguf: key %s: too many nested array elements", key);
	r->budget -= (size_t)n;
	for (uint64_t i = 0; i < n; i++) {
		if (type == AL_GGUF_STRING) {
			const uint8_t *s;
			uint64_t l;
			if ((rc = rd_str(r, &s, &l, AL_GGUF_MAX_STRING, "array string")))
				return rc;
		} else {
			uint32_t t;
			uint64_t m;
			if (depth + 1 >= AL_GGUF_MAX_DEPTH)
				return RFAIL(r, "gguf: key %s: arrays nested deeper than %d", key, AL_GGUF_MAX_DEPTH);
			if ((rc = rd_u32(r, &t, "nested array type")) || (rc = rd_u64(r, &m, "nested array length")) ||
			    (rc = skip_array(r, t, m, depth + 1, key)))
				return rc;
		}
	}
	return 0;
}

static int parse_kv(struct reader *r, struct al_gguf_kv *kv, size_t idx)
{
	const uint8_t *key;
	uint64_t klen;
	char kname[AL_GGUF_MAX_KEY + 1];
	int rc;

	if ((rc = rd_str(r, &key, &klen, AL_GGUF_MAX_KEY, "key")))
		return rc;
	if (klen == 0)
		return RFAIL(r, "gguf: key %zu is empty", idx);
	for (size_t i = 0; i < klen; i++)
		if (key[i] <= 0x20 || key[i] >= 0x7f)
			return RFAIL(r, "gguf: key %zu has byte 0x%02x at %zu (printable ASCII only)", idx, key[i], i);
	memcpy(kname, key, (size_t)klen);
	kname[klen] = '\0';
	kv->key = key;
	kv->key_len = (uint32_t)klen;
	if ((rc = rd_u32(r, &kv->type, "value type")))
		return rc;
	if (kv->type >= AL_GGUF_VTYPE_COUNT)
		return RFAIL(r, "gguf: key %s: value type %u out of range", kname, kv->type);
	if (kv->type == AL_GGUF_STRING) {
		const uint8_t *s;
		if ((rc = rd_str(r, &s, &kv->n, AL_GGUF_MAX_STRING, kname)))
			return rc;
		kv->val_off = (size_t)(s - r->p);
		return 0;
	}
	if (kv->type == AL_GGUF_ARRAY) {
		if ((rc = rd_u32(r, &kv->arr_type, "array type")) || (rc = rd_u64(r, &kv->n, "array length")))
			return rc;
		kv->val_off = r->off;
		return skip_array(r, kv->arr_type, kv->n, 0, kname);
	}
	uint8_t b[8];
	if ((rc = rd(r, b, vsize[kv->type], kname)))
		return rc;
	switch (kv->type) {
	case AL_GGUF_U8: kv->num.u = b[0]; break;
	case AL_GGUF_I8: kv->num.i = (int8_t)b[0]; break;
	case AL_GGUF_U16: { uint16_t v; memcpy(&v, b, 2); kv->num.u = v; break; }
	case AL_GGUF_I16: { int16_t v; memcpy(&v, b, 2); kv->num.i = v; break; }
	case AL_GGUF_U32: { uint32_t v; memcpy(&v, b, 4); kv->num.u = v; break; }
	case AL_GGUF_I32: { int32_t v; memcpy(&v, b, 4); kv->num.i = v; break; }
	case AL_GGUF_F32: { float v; memcpy(&v, b, 4); kv->num.f = v; break; }
	case AL_GGUF_BOOL:
		if (b[0] > 1)
			return RFAIL(r, "gguf: key %s: bool value %u is not 0 or 1", kname, b[0]);
		kv->num.u = b[0];
		break;
	case AL_GGUF_U64: memcpy(&kv->num.u, b, 8); break;
	case AL_GGUF_I64: memcpy(&kv->num.i, b, 8); break;
	case AL_GGUF_F64: memcpy(&kv->num.f, b, 8); break;
	}
	return 0;
}

float al_gguf_half(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
	float f;
	if (exp == 0x1f) {
		bits = sign | 0x7f800000u | (man << 13); /* inf, NaN */
	} else if (exp == 0) {
		/* Zero and subnormals: man * 2^-24, exact in float. */
		f = ldexpf((float)man, -24);
		return sign ? -f : f;
	} else {
		bits = sign | ((exp + 112) << 23) | (man << 13);
	}
	memcpy(&f, &bits, 4);
	return f;
}

const char *al_gguf_type_name(uint32_t type)
{
	switch (type) {
	case AL_GGML_F32: return "F32";
	case AL_GGML_F16: return "F16";
	case AL_GGML_Q4_0: return "Q4_0";
	case AL_GGML_Q8_0: return "Q8_0";
	}
	return "unsupported";
}

size_t al_gguf_type_size(uint32_t type, uint64_t n, bool *ok)
{
	size_t bytes = 0;
	*ok = false;
	if (n > SIZE_MAX / 4)
		return 0;
	switch (type) {
	case AL_GGML_F32:
		bytes = (size_t)n * 4;
		break;
	case AL_GGML_F16:
		bytes = (size_t)n * 2;
		break;
	case AL_GGML_Q8_0:
		if (n % AL_GGUF_QK)
			return 0;
		bytes = (size_t)(n / AL_GGUF_QK) * 34;
		break;
	case AL_GGML_Q4_0:
		if (n % AL_GGUF_QK)
			return 0;
		bytes = (size_t)(n / AL_GGUF_QK) * 18;
		break;
	default:
		return 0;
	}
	*ok = true;
	return bytes;
}

static int cmp_bytes(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c ? c : (al > bl) - (al < bl);
}

static int cmp_kv(const void *x, const void *y)
{
	const struct al_gguf_kv *a = x, *b = y;
	return cmp_bytes(a->key, a->key_len, b->key, b->key_len);
}

static int cmp_tname(const void *x, const void *y)
{
	const struct al_gguf_tensor *a = *(struct al_gguf_tensor *const *)x, *b = *(struct al_gguf_tensor *const *)y;
	return cmp_bytes(a->name, a->name_len, b->name, b->name_len);
}

static int cmp_toff(const void *x, const void *y)
{
	const struct al_gguf_tensor *a = *(struct al_gguf_tensor *const *)x, *b = *(struct al_gguf_tensor *const *)y;
	return (a->off > b->off) - (a->off < b->off);
}

static int parse_tensor(struct reader *r, struct al_gguf *g, struct al_gguf_tensor *t, size_t idx)
{
	const uint8_t *name;
	uint64_t nlen, numel = 1;
	char tname[AL_GGUF_MAX_NAME + 1];
	bool ok;
	int rc;

	if ((rc = rd_str(r, &name, &nlen, AL_GGUF_MAX_NAME, "tensor name")))
		return rc;
	if (nlen == 0)
		return RFAIL(r, "gguf: tensor %zu has an empty name", idx);
	for (size_t i = 0; i < nlen; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f)
			return RFAIL(r, "gguf: tensor %zu name has byte 0x%02x (printable ASCII only)", idx, name[i]);
	memcpy(tname, name, (size_t)nlen);
	tname[nlen] = '\0';
	t->name = name;
	t->name_len = (uint32_t)nlen;
	if ((rc = rd_u32(r, &t->n_dims, "tensor n_dims")))
		return rc;
	if (t->n_dims < 1 || t->n_dims > AL_GGUF_MAX_DIMS)
		return RFAIL(r, "gguf: tensor %s: n_dims %u out of range [1, %d]", tname, t->n_dims, AL_GGUF_MAX_DIMS);
	for (int d = 0; d < AL_GGUF_MAX_DIMS; d++)
		t->ne[d] = 1;
	for (uint32_t d = 0; d < t->n_dims; d++) {
		if ((rc = rd_u64(r, &t->ne[d], "tensor dimension")))
			return rc;
		/* Each dimension and the element count stay below 2^40: no product overflows. */
		if (t->ne[d] < 1 || t->ne[d] > (1ull << 40))
			return RFAIL(r, "gguf: tensor %s: dimension %u is %llu, out of range [1, 2^40]", tname, d,
				     (unsigned long long)t->ne[d]);
		numel *= t->ne[d];
		if (numel > (1ull << 40))
			return RFAIL(r, "gguf: tensor %s: element count overflows (over 2^40)", tname);
	}
	if ((rc = rd_u32(r, &t->type, "tensor type")))
		return rc;
	if (t->type >= AL_GGML_TYPE_COUNT)
		return RFAIL(r, "gguf: tensor %s: type %u out of range", tname, t->type);
	t->size = al_gguf_type_size(t->type, numel, &ok);
	if (!ok) {
		if (t->type == AL_GGML_Q8_0 || t->type == AL_GGML_Q4_0)
			return RFAIL(r, "gguf: tensor %s: %s needs a multiple of %d values per row, ne[0] is %llu",
				     tname, al_gguf_type_name(t->type), AL_GGUF_QK, (unsigned long long)t->ne[0]);
		return RFAIL(r, "gguf: tensor %s: type %u unsupported (F32, F16, Q8_0, Q4_0)", tname, t->type);
	}
	/* Blocks never straddle rows. */
	if ((t->type == AL_GGML_Q8_0 || t->type == AL_GGML_Q4_0) && t->ne[0] % AL_GGUF_QK)
		return RFAIL(r, "gguf: tensor %s: %s needs a multiple of %d values per row, ne[0] is %llu", tname,
			     al_gguf_type_name(t->type), AL_GGUF_QK, (unsigned long long)t->ne[0]);
	if ((rc = rd_u64(r, &t->off, "tensor offset")))
		return rc;
	if (t->off % g->alignment)
		return RFAIL(r, "gguf: tensor %s: offset %llu is not a multiple of the alignment %u", tname,
			     (unsigned long long)t->off, g->alignment);
	return 0;
}

void al_gguf_free(struct al_gguf *g)
{
	free(g->kv);
	free(g->t);
	free(g->by_name);
	memset(g, 0, sizeof(*g));
}

const struct al_gguf_kv *al_gguf_find(const struct al_gguf *g, const char *key)
{
	struct al_gguf_kv k = { .key = (const uint8_t *)key, .key_len = (uint32_t)strlen(key) };
	return g->kv ? bsearch(&k, g->kv, g->n_kv, sizeof(*g->kv), cmp_kv) : NULL;
}

const struct al_gguf_tensor *al_gguf_tensor(const struct al_gguf *g, const char *name)
{
	struct al_gguf_tensor k = { .name = (const uint8_t *)name, .name_len = (uint32_t)strlen(name) };
	struct al_gguf_tensor *kp = &k, **hit;
	if (!g->by_name)
		return NULL;
	hit = bsearch(&kp, g->by_name, g->n_tensors, sizeof(*g->by_name), cmp_tname);
	return hit ? *hit : NULL;
}

static int parse_body(struct al_gguf *g, struct reader *r)
{
	uint32_t magic;
	uint64_t n_t, n_kv;
	int rc;

	if ((rc = rd_u32(r, &magic, "magic")))
		return rc;
	if (magic != AL_GGUF_MAGIC)
		return RFAIL(r, "gguf: magic 0x%08x is not \"GGUF\"", magic);
	if ((rc = rd_u32(r, &g->version, "version")))
		return rc;
	if (g->version == 1)
		return RFAIL(r, "gguf: version 1 (32-bit counts) unsupported (2 or 3)");
	if (g->version != 2 && g->version != 3)
		return RFAIL(r, "gguf: version %u unsupported (2 or 3%s)", g->version,
			     (g->version & 0xffff) == 0 ? "; big-endian files are not read" : "");
	if ((rc = rd_u64(r, &n_t, "tensor_count")) || (rc = rd_u64(r, &n_kv, "kv_count")))
		return rc;
	/* Each kv takes at least 8 + 1 + 4 + 1 bytes, each tensor info 8 + 1 + 4 + 8 + 4 + 8. */
	if (n_kv > AL_GGUF_MAX_KV || n_kv > (r->len - r->off) / 14)
		return RFAIL(r, "gguf: kv_count %llu exceeds the limit (%u) or the file", (unsigned long long)n_kv,
			     AL_GGUF_MAX_KV);
	if (n_t > AL_GGUF_MAX_TENSORS || n_t > (r->len - r->off) / 33)
		return RFAIL(r, "gguf: tensor_count %llu exceeds the limit (%u) or the file", (unsigned long long)n_t,
			     AL_GGUF_MAX_TENSORS);
	g->n_kv = (size_t)n_kv;
	g->n_tensors = (size_t)n_t;
	g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof(*g->kv));
	g->t = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(*g->t));
	g->by_name = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(*g->by_name));
	if (!g->kv || !g->t || !g->by_name)
		return -ENOMEM;

	for (size_t i = 0; i < g->n_kv; i++)
		if ((rc = parse_kv(r, &g->kv[i], i)))
			return rc;
	qsort(g->kv, g->n_kv, sizeof(*g->kv), cmp_kv);
	for (size_t i = 1; i < g->n_kv; i++)
		if (!cmp_kv(&g->kv[i - 1], &g->kv[i]))
			return RFAIL(r, "gguf: key %.*s appears twice", (int)g->kv[i].key_len, (const char *)g->kv[i].key);

	g->alignment = AL_GGUF_DEFAULT_ALIGN;
	const struct al_gguf_kv *al = al_gguf_find(g, "general.alignment");
	if (al) {
		if (al->type != AL_GGUF_U32)
			return RFAIL(r, "gguf: general.alignment has type %u, not uint32", al->type);
		if (al->num.u == 0 || al->num.u > AL_GGUF_MAX_ALIGN || (al->num.u & (al->num.u - 1)))
			return RFAIL(r, "gguf: general.alignment %llu is not a power of two in [1, %d]",
				     (unsigned long long)al->num.u, AL_GGUF_MAX_ALIGN);
		g->alignment = (uint32_t)al->num.u;
	}

	for (size_t i = 0; i < g->n_tensors; i++) {
		if ((rc = parse_tensor(r, g, &g->t[i], i)))
			return rc;
		g->by_name[i] = &g->t[i];
	}
	qsort(g->by_name, g->n_tensors, sizeof(*g->by_name), cmp_tname);
	for (size_t i = 1; i < g->n_tensors; i++)
		if (!cmp_tname(&g->by_name[i - 1], &g->by_name[i]))
			return RFAIL(r, "gguf: tensor %.*s appears twice", (int)g->by_name[i]->name_len,
				     (const char *)g->by_name[i]->name);

	/* The data section starts at the next multiple of the alignment. */
	size_t pad = (g->alignment - r->off % g->alignment) % g->alignment;
	if (pad > r->len - r->off)
		return RFAIL(r, "gguf: data section (padded to %u) starts past the end of the file", g->alignment);
	g->data_off = r->off + pad;
	size_t data_len = r->len - g->data_off;
	struct al_gguf_tensor **by_off = malloc((g->n_tensors ? g->n_tensors : 1) * sizeof(*by_off));
	if (!by_off)
		return -ENOMEM;
	for (size_t i = 0; i < g->n_tensors; i++) {
		struct al_gguf_tensor *t = &g->t[i];
		if (t->off > data_len || t->size > data_len - (size_t)t->off) {
			rc = RFAIL(r, "gguf: tensor %.*s (%zu bytes at data offset %llu) runs past the end of the %zu-byte data section",
				   (int)t->name_len, (const char *)t->name, t->size, (unsigned long long)t->off, data_len);
			goto out;
		}
		t->data = r->p + g->data_off + (size_t)t->off;
		/* The kernels load F32 and F16 values directly. */
		size_t nat = t->type == AL_GGML_F32 ? 4 : t->type == AL_GGML_F16 ? 2 : 1;
		if ((uintptr_t)t->data % nat) {
			rc = RFAIL(r, "gguf: tensor %.*s data at file offset %zu is not %zu-byte aligned",
				   (int)t->name_len, (const char *)t->name, g->data_off + (size_t)t->off, nat);
			goto out;
		}
		by_off[i] = t;
	}
	qsort(by_off, g->n_tensors, sizeof(*by_off), cmp_toff);
	for (size_t i = 1; i < g->n_tensors; i++)
		if (by_off[i - 1]->off + by_off[i - 1]->size > by_off[i]->off) {
			rc = RFAIL(r, "gguf: tensors %.*s and %.*s overlap", (int)by_off[i - 1]->name_len,
				   (const char *)by_off[i - 1]->name, (int)by_off[i]->name_len,
				   (const char *)by_off[i]->name);
			goto out;
		}
	rc = 0;
out:
	free(by_off);
	return rc;
}

int al_gguf_parse(struct al_gguf *g, const void *buf, size_t len, char *err, size_t errlen)
{
	struct reader r = { .p = buf, .len = len, .err = err, .errlen = errlen, .budget = 1u << 24 };
	int rc;
	memset(g, 0, sizeof(*g));
	g->map = buf;
	g->len = len;
	if ((rc = parse_body(g, &r))) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "gguf: out of memory");
		al_gguf_free(g);
	}
	return rc;
}

/* ---- the llama architecture ---- */

static int gfail(struct al_ai_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int gfail(struct al_ai_model *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->err, sizeof(m->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool str_is(const struct al_gguf *g, const struct al_gguf_kv *kv, const char *s)
{
	size_t n = strlen(s);
	return kv && kv->type == AL_GGUF_STRING && kv->n == n && memcmp(g->map + kv->val_off, s, n) == 0;
}

/* An integer key of any integer type, in [lo, hi]; absent: def, or an error when def < 0. */
static int get_int(struct al_ai_model *m, const char *key, int64_t lo, int64_t hi, int64_t def, int64_t *out)
{
	const struct al_gguf_kv *kv = al_gguf_find(m->gguf, key);
	int64_t v;
	if (!kv) {
		if (def < 0)
			return gfail(m, "gguf: key %s missing", key);
		*out = def;
		return 0;
	}
	switch (kv->type) {
	case AL_GGUF_U8: case AL_GGUF_U16: case AL_GGUF_U32: case AL_GGUF_U64:
		if (kv->num.u > INT64_MAX)
			return gfail(m, "gguf: %s %llu out of range [%lld, %lld]", key, (unsigned long long)kv->num.u,
				     (long long)lo, (long long)hi);
		v = (int64_t)kv->num.u;
		break;
	case AL_GGUF_I8: case AL_GGUF_I16: case AL_GGUF_I32: case AL_GGUF_I64:
		v = kv->num.i;
		break;
	default:
		return gfail(m, "gguf: %s has type %u, not an integer", key, kv->type);
	}
	if (v < lo || v > hi)
		return gfail(m, "gguf: %s %lld out of range [%lld, %lld]", key, (long long)v, (long long)lo, (long long)hi);
	*out = v;
	return 0;
}

static int get_float(struct al_ai_model *m, const char *key, double lo, double hi, float def, float *out)
{
	const struct al_gguf_kv *kv = al_gguf_find(m->gguf, key);
	if (!kv) {
		*out = def;
		return 0;
	}
	if (kv->type != AL_GGUF_F32 && kv->type != AL_GGUF_F64)
		return gfail(m, "gguf: %s has type %u, not a float", key, kv->type);
	if (!(kv->num.f >= lo && kv->num.f <= hi))
		return gfail(m, "gguf: %s %g out of range [%g, %g]", key, kv->num.f, lo, hi);
	*out = (float)kv->num.f;
	return 0;
}

/* A tensor of exactly this shape ({ne0} or {ne0, ne1}) into mat; norms must be F32. */
static int take(struct al_ai_model *m, struct al_ai_mat *mat, const float **vec, const char *name,
		uint64_t ne0, uint64_t ne1, bool optional)
{
	const struct al_gguf_tensor *t = al_gguf_tensor(m->gguf, name);
	uint32_t want_dims = vec ? 1 : 2;
	if (!t) {
		if (optional)
			return 1;
		return gfail(m, "gguf: tensor %s missing", name);
	}
	if (t->n_dims != want_dims || t->ne[0] != ne0 || t->ne[1] != ne1)
		return gfail(m, "gguf: tensor %s has shape [%llu, %llu, %llu, %llu] (%u dims), llama needs [%llu, %llu]",
			     name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
			     (unsigned long long)t->ne[2], (unsigned long long)t->ne[3], t->n_dims,
			     (unsigned long long)ne0, (unsigned long long)ne1);
	if (vec) {
		if (t->type != AL_GGML_F32)
			return gfail(m, "gguf: tensor %s has type %s, norms must be F32", name, al_gguf_type_name(t->type));
		*vec = (const float *)(const void *)t->data;
		return 0;
	}
	memset(mat, 0, sizeof(*mat));
	switch (t->type) {
	case AL_GGML_F32:
		mat->type = AL_AI_W_F32;
		mat->f = (const float *)(const void *)t->data;
		break;
	case AL_GGML_F16:
		mat->type = AL_AI_W_F16;
		mat->b = t->data;
		break;
	case AL_GGML_Q8_0:
		mat->type = AL_AI_W_Q8_0;
		mat->b = t->data;
		m->cfg.group_size = AL_GGUF_QK;
		break;
	case AL_GGML_Q4_0:
		mat->type = AL_AI_W_Q4_0;
		mat->b = t->data;
		m->cfg.group_size = AL_GGUF_QK;
		break;
	}
	return 0;
}

static int llama_config(struct al_ai_model *m)
{
	struct al_ai_config *c = &m->cfg;
	const struct al_gguf *g = m->gguf;
	const struct al_gguf_kv *arch = al_gguf_find(g, "general.architecture");
	int64_t dim, hid, L, nh, nkv, ctx, rdim, vocab;
	int rc;

	if (!arch)
		return gfail(m, "gguf: key general.architecture missing");
	if (!str_is(g, arch, "llama"))
		return gfail(m, "gguf: general.architecture is not \"llama\" (the only one supported)");
	if ((rc = get_int(m, "llama.embedding_length", 1, AL_AI_MAX_DIM, -1, &dim)) ||
	    (rc = get_int(m, "llama.feed_forward_length", 1, AL_AI_MAX_HIDDEN, -1, &hid)) ||
	    (rc = get_int(m, "llama.block_count", 1, AL_AI_MAX_LAYERS, -1, &L)) ||
	    (rc = get_int(m, "llama.attention.head_count", 1, AL_AI_MAX_HEADS, -1, &nh)) ||
	    (rc = get_int(m, "llama.attention.head_count_kv", 1, AL_AI_MAX_HEADS, nh, &nkv)) ||
	    (rc = get_int(m, "llama.context_length", 1, INT32_MAX, -1, &ctx)) ||
	    (rc = get_float(m, "llama.attention.layer_norm_rms_epsilon", 1e-12, 1e-1, 1e-5f, &c->rms_eps)) ||
	    (rc = get_float(m, "llama.rope.freq_base", 1.0, 1e9, 10000.0f, &c->rope_base)))
		return rc;
	if (dim % nh)
		return gfail(m, "gguf: llama.embedding_length %lld not divisible by llama.attention.head_count %lld",
			     (long long)dim, (long long)nh);
	if (nkv > nh || nh % nkv)
		return gfail(m, "gguf: llama.attention.head_count_kv %lld does not divide llama.attention.head_count %lld",
			     (long long)nkv, (long long)nh);
	c->dim = (int)dim;
	c->hidden_dim = (int)hid;
	c->n_layers = (int)L;
	c->n_heads = (int)nh;
	c->n_kv_heads = (int)nkv;
	c->head_size = c->dim / c->n_heads;
	if (c->head_size % 2)
		return gfail(m, "gguf: head size %d (embedding_length / head_count) is odd", c->head_size);
	if ((rc = get_int(m, "llama.rope.dimension_count", 1, AL_AI_MAX_DIM, c->head_size, &rdim)))
		return rc;
	if (rdim != c->head_size)
		return gfail(m, "gguf: llama.rope.dimension_count %lld is not the head size %d (partial RoPE unsupported)",
			     (long long)rdim, c->head_size);
	c->kv_dim = c->n_kv_heads * c->head_size;
	/* Long-context models: the kv cache is sized for at most AL_AI_MAX_SEQ positions. */
	c->seq_len = ctx > AL_AI_MAX_SEQ ? AL_AI_MAX_SEQ : (int)ctx;
	const struct al_gguf_tensor *emb = al_gguf_tensor(g, "token_embd.weight");
	if (!emb)
		return gfail(m, "gguf: tensor token_embd.weight missing");
	if (emb->n_dims != 2 || emb->ne[1] < 1 || emb->ne[1] > AL_AI_MAX_VOCAB)
		return gfail(m, "gguf: tensor token_embd.weight: vocabulary of %llu out of range [1, %d]",
			     (unsigned long long)emb->ne[1], AL_AI_MAX_VOCAB);
	c->vocab_size = (int)emb->ne[1];
	if ((rc = get_int(m, "llama.vocab_size", c->vocab_size, c->vocab_size, c->vocab_size, &vocab)))
		return gfail(m, "gguf: llama.vocab_size does not match token_embd.weight's %d rows", c->vocab_size);
	c->format = AL_AI_FORMAT_GGUF;
	c->group_size = 0; /* set by take() when a matrix is quantised */
	return 0;
}

static int llama_weights(struct al_ai_model *m)
{
	const struct al_ai_config *c = &m->cfg;
	struct al_ai_weights *w = &m->w;
	uint64_t dim = (uint64_t)c->dim, hid = (uint64_t)c->hidden_dim, kv = (uint64_t)c->kv_dim;
	uint64_t vocab = (uint64_t)c->vocab_size;
	char n[AL_GGUF_MAX_NAME + 1];
	int rc;

	if ((rc = take(m, &w->tokens, NULL, "token_embd.weight", dim, vocab, false)) ||
	    (rc = take(m, NULL, &w->rms_final, "output_norm.weight", dim, 1, false)))
		return rc;
	rc = take(m, &w->wcls, NULL, "output.weight", dim, vocab, true);
	if (rc < 0)
		return rc;
	m->cfg.shared_classifier = rc == 1;
	if (rc == 1)
		w->wcls = w->tokens;
	for (int l = 0; l < c->n_layers; l++) {
		struct al_ai_layer *L = &w->layers[l];
		const struct {
			const char *suffix;
			struct al_ai_mat *mat;
			const float **vec;
			uint64_t ne0, ne1;
		} parts[] = {
			{ "attn_norm", NULL, &L->rms_att, dim, 1 }, { "attn_q", &L->wq, NULL, dim, dim },
			{ "attn_k", &L->wk, NULL, dim, kv },        { "attn_v", &L->wv, NULL, dim, kv },
			{ "attn_output", &L->wo, NULL, dim, dim },  { "ffn_norm", NULL, &L->rms_ffn, dim, 1 },
			{ "ffn_gate", &L->w1, NULL, dim, hid },     { "ffn_down", &L->w2, NULL, hid, dim },
			{ "ffn_up", &L->w3, NULL, dim, hid },
		};
		for (size_t i = 0; i < AL_ARRAY_LEN(parts); i++) {
			snprintf(n, sizeof(n), "blk.%d.%s.weight", l, parts[i].suffix);
			if ((rc = take(m, parts[i].mat, parts[i].vec, n, parts[i].ne0, parts[i].ne1, false)))
				return rc;
		}
	}
	return 0;
}

int al_ai_model_build_gguf(struct al_ai_model *m, const void *buf, size_t len)
{
	int rc;
	memset(m, 0, sizeof(*m));
	m->map = buf;
	m->map_len = len;
	m->gguf = calloc(1, sizeof(*m->gguf));
	if (!m->gguf) {
		snprintf(m->err, sizeof(m->err), "model: out of memory");
		return -ENOMEM;
	}
	if ((rc = al_gguf_parse(m->gguf, buf, len, m->err, sizeof(m->err))))
		goto fail;
	if ((rc = llama_config(m)))
		goto fail;
	m->w.layers = calloc((size_t)m->cfg.n_layers, sizeof(*m->w.layers));
	if (!m->w.layers) {
		snprintf(m->err, sizeof(m->err), "model: out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = llama_weights(m)))
		goto fail;
	return 0;
fail:
	free(m->w.layers);
	m->w.layers = NULL;
	al_gguf_free(m->gguf);
	free(m->gguf);
	m->gguf = NULL;
	return rc;
}

/* ---- the embedded tokenizer ---- */

static int tfail(struct al_ai_tokenizer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int tfail(struct al_ai_tokenizer *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const struct al_gguf_kv *tok_array(struct al_ai_tokenizer *t, const struct al_gguf *g, const char *key,
					  uint32_t type, int vocab, bool optional, int *rc)
{
	const struct al_gguf_kv *kv = al_gguf_find(g, key);
	*rc = 0;
	if (!kv) {
		if (!optional)
			*rc = tfail(t, "tokenizer: key %s missing", key);
		return NULL;
	}
	if (kv->type != AL_GGUF_ARRAY || kv->arr_type != type)
		*rc = tfail(t, "tokenizer: %s is not an array of type %u", key, type);
	else if (kv->n != (uint64_t)vocab)
		*rc = tfail(t, "tokenizer: %s has %llu entries, vocab_size (token_embd.weight) is %d", key,
			    (unsigned long long)kv->n, vocab);
	return *rc ? NULL : kv;
}

/* SentencePiece marks a space with U+2581 (e2 96 81); the engine's pieces use ' '. */
static size_t sp_to_text(uint8_t *dst, const uint8_t *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (i + 2 < n && s[i] == 0xe2 && s[i + 1] == 0x96 && s[i + 2] == 0x81) {
			dst[o++] = ' ';
			i += 2;
		} else {
			dst[o++] = s[i];
		}
	}
	return o;
}

int al_ai_tokenizer_build_gguf(struct al_ai_tokenizer *t, const struct al_ai_model *m)
{
	const struct al_gguf *g = m->gguf;
	int vocab = m->cfg.vocab_size, rc;
	const struct al_gguf_kv *toks, *scores, *types, *kv;

	memset(t, 0, sizeof(*t));
	if (!g)
		return tfail(t, "tokenizer: the model is not GGUF; a tokenizer file is needed");
	kv = al_gguf_find(g, "tokenizer.ggml.model");
	if (!kv)
		return tfail(t, "tokenizer: key tokenizer.ggml.model missing");
	if (!str_is(g, kv, "llama"))
		return tfail(t, "tokenizer: tokenizer.ggml.model is not \"llama\" (SentencePiece)");
	if (!(toks = tok_array(t, g, "tokenizer.ggml.tokens", AL_GGUF_STRING, vocab, false, &rc)))
		return rc;
	if (!(scores = tok_array(t, g, "tokenizer.ggml.scores", AL_GGUF_F32, vocab, false, &rc)))
		return rc;
	types = tok_array(t, g, "tokenizer.ggml.token_type", AL_GGUF_I32, vocab, true, &rc);
	if (rc)
		return rc;
	int64_t ids[2];
	const char *id_keys[2] = { "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id" };
	for (int i = 0; i < 2; i++) {
		kv = al_gguf_find(g, id_keys[i]);
		ids[i] = AL_AI_TOK_BOS + i;
		if (kv) {
			if (kv->type != AL_GGUF_U32 && kv->type != AL_GGUF_I32)
				return tfail(t, "tokenizer: %s has type %u, not a 32-bit integer", id_keys[i], kv->type);
			ids[i] = kv->type == AL_GGUF_U32 ? (int64_t)kv->num.u : kv->num.i;
		}
		if (ids[i] < 0 || ids[i] >= vocab)
			return tfail(t, "tokenizer: %s %lld out of range [0, %d)", id_keys[i], (long long)ids[i], vocab);
	}

	/* Rebuild the records as tokenizer.bin ({score, len, bytes}) and let
	 * that validated builder own them: one parser for both sources. The
	 * string array was walked by the container parser; re-read bounded. */
	size_t off = toks->val_off, cap = 4, maxlen = 1;
	for (int i = 0; i < vocab; i++) {
		uint64_t l;
		if (g->len - off < 8)
			return tfail(t, "tokenizer: token %d truncated", i);
		memcpy(&l, g->map + off, 8);
		if (l > g->len - off - 8)
			return tfail(t, "tokenizer: token %d truncated", i);
		if (l > AL_AI_TOK_MAX_LEN * 3)
			return tfail(t, "tokenizer: token %d length %llu exceeds %d bytes", i, (unsigned long long)l,
				     AL_AI_TOK_MAX_LEN);
		off += 8 + (size_t)l;
		cap += 8 + (size_t)l;
	}
	AL_AUTOFREE uint8_t *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	size_t o = 4;
	off = toks->val_off;
	for (int i = 0; i < vocab; i++) {
		uint64_t l;
		float score;
		int32_t type = 1;
		memcpy(&l, g->map + off, 8);
		/* Bounds again: the mapping is read twice, the first pass decides nothing here. */
		if (g->len - off < 8 || l > g->len - off - 8 || l > AL_AI_TOK_MAX_LEN * 3 || 8 + l > cap - o)
			return tfail(t, "tokenizer: token %d changed while read", i);
		memcpy(&score, g->map + scores->val_off + (size_t)i * 4, 4);
		if (types)
			memcpy(&type, g->map + types->val_off + (size_t)i * 4, 4);
		if (type < 0 || type > 6)
			return tfail(t, "tokenizer: token %d type %d out of range [0, 6]", i, type);
		if (!isfinite(score))
			return tfail(t, "tokenizer: token %d score is not finite", i);
		int32_t n = (int32_t)sp_to_text(buf + o + 8, g->map + off + 8, (size_t)l);
		if (n > AL_AI_TOK_MAX_LEN)
			return tfail(t, "tokenizer: token %d length %d exceeds %d bytes", i, n, AL_AI_TOK_MAX_LEN);
		memcpy(buf + o, &score, 4);
		memcpy(buf + o + 4, &n, 4);
		if ((size_t)n > maxlen)
			maxlen = (size_t)n;
		o += 8 + (size_t)n;
		off += 8 + (size_t)l;
	}
	int32_t ml = (int32_t)maxlen;
	memcpy(buf, &ml, 4);
	if ((rc = al_ai_tokenizer_build_mem(t, buf, o, vocab)))
		return rc;
	t->bos = (int)ids[0];
	t->eos = (int)ids[1];
	return 0;
}

bool al_gguf_is(const void *buf, size_t len)
{
	return len >= 4 && memcmp(buf, "GGUF", 4) == 0;
}
