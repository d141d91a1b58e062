#!/usr/bin/env python3
"""Writes the seed and malformed corpora of fuzz_model and fuzz_tokenizer.

Run from anywhere; rewrites corpus_model/ and corpus_tokenizer/ beside this
script. Tiny models in the three llama2.c layouts (legacy, v1 fp32, v2 Q8_0)
from the same random weights, then truncated, oversized, negative,
overflowing and inconsistent variants of each.
"""
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC = 0x616b3432


def rnd(n, rng, center=0.0, spread=0.5):
    return [center + rng.uniform(-spread, spread) for _ in range(n)]


def f32(vals):
    return struct.pack(f"<{len(vals)}f", *vals)


def q80(vals, gs):
    out_q, out_s = bytearray(), []
    for g in range(0, len(vals), gs):
        grp = vals[g:g + gs]
        scale = max(abs(v) for v in grp) / 127.0
        out_s.append(scale)
        for v in grp:
            out_q += struct.pack("<b", 0 if scale == 0 else int(round(v / scale)))
    return bytes(out_q) + f32(out_s)


def weights(dim, hid, L, nh, nkv, vocab, seed):
    rng = random.Random(seed)
    kv = dim // nh * nkv
    return {
        "tok": rnd(vocab * dim, rng),
        "att": [rnd(dim, rng, 1.0, 0.1) for _ in range(L)],
        "wq": [rnd(dim * dim, rng) for _ in range(L)],
        "wk": [rnd(kv * dim, rng) for _ in range(L)],
        "wv": [rnd(kv * dim, rng) for _ in range(L)],
        "wo": [rnd(dim * dim, rng) for _ in range(L)],
        "ffn": [rnd(dim, rng, 1.0, 0.1) for _ in range(L)],
        "w1": [rnd(hid * dim, rng) for _ in range(L)],
        "w2": [rnd(dim * hid, rng) for _ in range(L)],
        "w3": [rnd(hid * dim, rng) for _ in range(L)],
        "final": rnd(dim, rng, 1.0, 0.1),
        "cls": rnd(vocab * dim, rng),
    }


def legacy(shape, w, shared):
    dim, hid, L, nh, nkv, vocab, seq = shape
    b = struct.pack("<7i", dim, hid, L, nh, nkv, vocab if shared else -vocab, seq)
    b += f32(w["tok"])
    for k in ("att", "wq", "wk", "wv", "wo", "ffn", "w1", "w2", "w3"):
        b += b"".join(f32(t) for t in w[k])
    b += f32(w["final"])
    b += bytes(2 * seq * (dim // nh // 2) * 4)
    if not shared:
        b += f32(w["cls"])
    return b


def versioned(shape, w, shared, gs=0):
    dim, hid, L, nh, nkv, vocab, seq = shape
    b = struct.pack("<Ii7iB", MAGIC, 2 if gs else 1, dim, hid, L, nh, nkv, vocab, seq, int(shared))
    if gs:
        b += struct.pack("<i", gs)
    b += bytes(256 - len(b))
    b += b"".join(f32(t) for t in w["att"]) + b"".join(f32(t) for t in w["ffn"]) + f32(w["final"])
    mat = (lambda v: q80(v, gs)) if gs else f32
    b += mat(w["tok"])
    for k in ("wq", "wk", "wv", "wo", "w1", "w2", "w3"):
        b += b"".join(mat(t) for t in w[k])
    if not shared:
        b += mat(w["cls"])
    return b


def put(b, off, fmt, val):
    b = bytearray(b)
    struct.pack_into(fmt, b, off, val)
    return bytes(b)


def write(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def model_corpus():
    d = os.path.join(HERE, "corpus_model")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    shape = (8, 16, 2, 2, 1, 16, 4)
    w = weights(*shape[:6], seed=1)
    seeds = {
        "legacy_shared": legacy(shape, w, True),
        "legacy_unshared": legacy(shape, w, False),
        "v1_shared": versioned(shape, w, True),
        "v1_unshared": versioned(shape, w, False),
        "v2_gs8": versioned(shape, w, True, 8),
        "v2_gs4_unshared": versioned(shape, w, False, 4),
    }
    for name, b in seeds.items():
        write(d, "ok_" + name, b)
    fields = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"]
    bad_values = {"zero": 0, "neg": -1, "intmin": -2**31, "huge": 2**31 - 1}
    for name, b in (("legacy", seeds["legacy_shared"]), ("v1", seeds["v1_shared"]), ("v2", seeds["v2_gs8"])):
        hdr = 0 if name == "legacy" else 8
        for i, field in enumerate(fields):
            for vname, v in bad_values.items():
                # A bad field is refused before the body: a short body is enough.
                write(d, f"bad_{name}_{field}_{vname}", put(b, hdr + 4 * i, "<i", v)[:hdr + 28 + 64])
        write(d, f"bad_{name}_heads_not_dividing", put(b, hdr + 12, "<i", 3))  # dim 8
        write(d, f"bad_{name}_kv_not_dividing", put(put(b, hdr + 12, "<i", 4), hdr + 16, "<i", 3))
        write(d, f"bad_{name}_kv_above_heads", put(b, hdr + 16, "<i", 4))
        write(d, f"bad_{name}_odd_head_size", put(b, hdr + 12, "<i", 8))
        write(d, f"bad_{name}_more_layers", put(b, hdr + 8, "<i", 3))
        write(d, f"bad_{name}_fewer_layers", put(b, hdr + 8, "<i", 1))
        write(d, f"bad_{name}_max_everything", b[:hdr] + struct.pack("<7i", 16384, 65536, 256, 256, 256, 262144, 32768) + b[hdr + 28:])
        for cut in (1, 4, 27, 29, len(b) // 2, len(b) - 1):
            write(d, f"bad_{name}_truncated_{cut}", b[:cut])
        write(d, f"bad_{name}_trailing", b + b"\0\0\0\0")
    v2 = seeds["v2_gs8"]
    for vname, v in (("zero", 0), ("neg", -8), ("not_dividing", 6), ("huge", 1 << 30), ("odd", 3), ("two", 2)):
        write(d, f"bad_v2_group_size_{vname}", put(v2, 37, "<i", v))
    write(d, "bad_v1_version_3", put(seeds["v1_shared"], 4, "<i", 3))
    write(d, "bad_v1_shared_flag_7", put(seeds["v1_shared"], 36, "<B", 7))
    write(d, "bad_v1_vocab_negative", put(seeds["v1_shared"], 28, "<i", -24))
    write(d, "bad_legacy_vocab_negative_no_wcls", put(seeds["legacy_shared"], 20, "<i", -24))
    write(d, "bad_empty", b"")
    write(d, "bad_magic_only", struct.pack("<I", MAGIC))


def tok_file(tokens, maxlen):
    b = struct.pack("<i", maxlen)
    for score, s in tokens:
        b += struct.pack("<fi", score, len(s)) + s
    return b


def tokenizer_corpus():
    d = os.path.join(HERE, "corpus_tokenizer")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    toks = [(0.0, b"<unk>"), (0.0, b"\n<s>\n"), (0.0, b"\n</s>\n")]
    toks += [(0.0, b"<0x%02X>" % i) for i in range(256)]
    for i, s in enumerate([b" ", b"e", b" t", b"he", b" the", b"O", b"n", b"c", b"On", b"Onc", b" u", b"p", b"o",
                           b" a", b"t", b"i", b"m", b" time", b"\xd0\xb6", b"\xe2\x82\xac"]):
        toks.append((-float(i), s))
    v = len(toks)
    good = tok_file(toks, 8)

    def w(name, vocab, data):
        write(d, name, struct.pack("<i", vocab) + data)

    w("ok_small", v, good)
    w("ok_prefix_only", 3, tok_file(toks[:3], 8))
    w("bad_vocab_more", v + 1, good)
    w("bad_vocab_less", v - 1, good)
    w("bad_vocab_zero", 0, good)
    w("bad_vocab_negative", -5, good)
    w("bad_vocab_huge", 2**31 - 1, good)
    for cut in (0, 3, 5, 11, len(good) - 1):
        w(f"bad_truncated_{cut}", v, good[:cut])
    w("bad_trailing", v, good + b"x")
    w("bad_maxlen_zero", v, struct.pack("<i", 0) + good[4:])
    w("bad_maxlen_negative", v, struct.pack("<i", -1) + good[4:])
    w("bad_maxlen_huge", v, struct.pack("<i", 2**31 - 1) + good[4:])
    w("bad_overlong_token", v, tok_file(toks[:-1] + [(0.0, b"x" * 9)], 8))
    bad = bytearray(good)
    struct.pack_into("<i", bad, 8, -1)
    w("bad_negative_length", v, bytes(bad))
    struct.pack_into("<i", bad, 8, 2**31 - 1)
    w("bad_huge_length", v, bytes(bad))
    w("ok_nul_in_token", v, tok_file(toks[:-1] + [(0.0, b"a\0b")], 8))
    w("ok_duplicate_tokens", v, tok_file(toks[:-1] + [(5.0, b" the")], 8))
    w("ok_nan_scores", v, tok_file([(float("nan"), s) for _, s in toks], 8))


if __name__ == "__main__":
    model_corpus()
    tokenizer_corpus()
