#!/usr/bin/env python3
"""Writes a GGUF file (llama architecture) from a llama2.c checkpoint and its
tokenizer.bin, with the matrices in F32, F16, Q8_0 or Q4_0.

    tools/gguf_export.py models/stories260K.bin models/tok512.bin out.gguf --type q8_0

Standard library only. Reads the legacy (7 int32 header) and v1 ("ak42",
fp32) checkpoint layouts. The weights are written as they are: llama2.c
rotates adjacent pairs in RoPE, as llama.cpp does for "llama" GGUF tensors,
so wq and wk need no permutation (the Hugging Face converter's permutation
only undoes HF's rotate-half layout).

Quantised types apply to matrices whose rows are a multiple of 32 values
(the block size); others (and the norms) stay F32, as in llama.cpp when a
row does not divide into blocks. The blocks follow ggml: Q8_0 is
{half d = amax / 127; int8 q[32] = round(x / d)}, Q4_0 is {half d = max / -8;
uint8 q[16]}, value j in the low nibble of byte j, value j + 16 in the high
nibble, both offset by 8.
"""
import argparse
import math
import struct
import sys

GGUF_MAGIC = b"GGUF"
ALIGN = 32
# metadata value types
U32, I32, F32, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9
# ggml tensor types and general.file_type values
TYPES = {"f32": (0, 0), "f16": (1, 1), "q4_0": (2, 2), "q8_0": (8, 7)}
QK = 32


def read_checkpoint(path):
    data = open(path, "rb").read()
    if data[:4] == b"42ka":  # "ak42" as a little-endian uint32
        version = struct.unpack_from("<i", data, 4)[0]
        if version != 1:
            sys.exit(f"gguf_export: {path}: checkpoint version {version} unsupported (legacy or v1 fp32)")
        dim, hid, L, nh, nkv, vocab, seq = struct.unpack_from("<7i", data, 8)
        shared = data[36] == 1
        off = 256
        layout = "v1"
    else:
        dim, hid, L, nh, nkv, vocab, seq = struct.unpack_from("<7i", data, 0)
        shared = vocab > 0
        vocab = abs(vocab)
        off = 28
        layout = "legacy"
    hs = dim // nh
    kv = nkv * hs
    cfg = dict(dim=dim, hid=hid, L=L, nh=nh, nkv=nkv, vocab=vocab, seq=seq, hs=hs, kv=kv, shared=shared)

    def take(n):
        nonlocal off
        vals = struct.unpack_from(f"<{n}f", data, off)
        off += 4 * n
        return list(vals)

    def layers(n):
        flat = take(L * n)
        return [flat[i * n:(i + 1) * n] for i in range(L)]

    w = {}
    if layout == "legacy":
        w["tok"] = take(vocab * dim)
        w["att"] = layers(dim)
        w["wq"], w["wk"], w["wv"], w["wo"] = layers(dim * dim), layers(kv * dim), layers(kv * dim), layers(dim * dim)
        w["ffn"] = layers(dim)
        w["w1"], w["w2"], w["w3"] = layers(hid * dim), layers(dim * hid), layers(hid * dim)
        w["final"] = take(dim)
        off += 2 * seq * (hs // 2) * 4  # RoPE tables, recomputed by every engine
    else:
        w["att"], w["ffn"], w["final"] = layers(dim), layers(dim), take(dim)
        w["tok"] = take(vocab * dim)
        w["wq"], w["wk"], w["wv"], w["wo"] = layers(dim * dim), layers(kv * dim), layers(kv * dim), layers(dim * dim)
        w["w1"], w["w2"], w["w3"] = layers(hid * dim), layers(dim * hid), layers(hid * dim)
    w["cls"] = None if shared else take(vocab * dim)
    if off != len(data):
        sys.exit(f"gguf_export: {path}: {len(data) - off} bytes left after the weights")
    return cfg, w


def read_tokenizer(path, vocab):
    data = open(path, "rb").read()
    off = 4
    toks = []
    for _ in range(vocab):
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        toks.append((data[off:off + n], score))
        off += n
    if off != len(data):
        sys.exit(f"gguf_export: {path}: does not hold exactly {vocab} tokens")
    return toks


def sp_piece(i, raw):
    """The SentencePiece form of a llama2.c token, and its token type."""
    if i == 0:
        return b"<unk>", 2
    if raw.strip() in (b"<s>", b"</s>"):
        return raw.strip(), 3  # llama2.c wraps BOS/EOS in newlines for printing
    if len(raw) == 6 and raw.startswith(b"<0x") and raw.endswith(b">"):
        return raw, 6
    return raw.replace(b" ", "\u2581".encode()), 1


def roundf(v):
    """C roundf: halves away from zero (Python's round() goes to even)."""
    return math.copysign(math.floor(abs(v) + 0.5), v)


def q8_0(vals):
    out = bytearray()
    for b in range(0, len(vals), QK):
        blk = vals[b:b + QK]
        amax = max(abs(v) for v in blk)
        d = amax / 127.0
        inv = 1.0 / d if d else 0.0
        out += struct.pack("<e", d)
        out += struct.pack("<32b", *(max(-127, min(127, int(roundf(v * inv)))) for v in blk))
    return bytes(out)


def q4_0(vals):
    out = bytearray()
    for b in range(0, len(vals), QK):
        blk = vals[b:b + QK]
        mx = max(blk, key=abs)
        d = mx / -8.0
        inv = 1.0 / d if d else 0.0
        q = [min(15, max(0, int(v * inv + 8.5))) for v in blk]
        out += struct.pack("<e", d)
        out += bytes(q[j] | (q[j + 16] << 4) for j in range(16))
    return bytes(out)


def encode(vals, ne0, ttype):
    if ttype == 0:
        return struct.pack(f"<{len(vals)}f", *vals)
    if ttype == 1:
        return struct.pack(f"<{len(vals)}e", *vals)
    return q8_0(vals) if ttype == 8 else q4_0(vals)


def s(b):
    return struct.pack("<Q", len(b)) + b


def kv_u32(k, v):
    return s(k.encode()) + struct.pack("<II", U32, v)


def kv_f32(k, v):
    return s(k.encode()) + struct.pack("<If", F32, v)


def kv_str(k, v):
    return s(k.encode()) + struct.pack("<I", STRING) + s(v.encode())


def kv_arr(k, etype, items):
    out = s(k.encode()) + struct.pack("<IIQ", ARRAY, etype, len(items))
    if etype == STRING:
        return out + b"".join(s(x) for x in items)
    fmt = {F32: "f", I32: "i"}[etype]
    return out + struct.pack(f"<{len(items)}{fmt}", *items)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("tokenizer")
    ap.add_argument("output")
    ap.add_argument("--type", choices=sorted(TYPES), default="f32")
    ap.add_argument("--version", type=int, choices=(2, 3), default=3)
    ap.add_argument("--name", default="llama2.c model")
    a = ap.parse_args()

    cfg, w = read_checkpoint(a.checkpoint)
    toks = read_tokenizer(a.tokenizer, cfg["vocab"])
    mtype, file_type = TYPES[a.type]
    dim, hid, kv, vocab = cfg["dim"], cfg["hid"], cfg["kv"], cfg["vocab"]

    tensors = []  # (name, ne, ggml type, values)

    def mat(name, vals, ne0, ne1):
        t = mtype if (mtype in (0, 1) or ne0 % QK == 0) else 0
        tensors.append((name, (ne0, ne1), t, vals))

    mat("token_embd.weight", w["tok"], dim, vocab)
    for l in range(cfg["L"]):
        p = f"blk.{l}."
        tensors.append((p + "attn_norm.weight", (dim,), 0, w["att"][l]))
        mat(p + "attn_q.weight", w["wq"][l], dim, dim)
        mat(p + "attn_k.weight", w["wk"][l], dim, kv)
        mat(p + "attn_v.weight", w["wv"][l], dim, kv)
        mat(p + "attn_output.weight", w["wo"][l], dim, dim)
        tensors.append((p + "ffn_norm.weight", (dim,), 0, w["ffn"][l]))
        mat(p + "ffn_gate.weight", w["w1"][l], dim, hid)
        mat(p + "ffn_down.weight", w["w2"][l], hid, dim)
        mat(p + "ffn_up.weight", w["w3"][l], dim, hid)
    tensors.append(("output_norm.weight", (dim,), 0, w["final"]))
    if w["cls"] is not None:
        mat("output.weight", w["cls"], dim, vocab)

    pieces = [sp_piece(i, raw) for i, (raw, _) in enumerate(toks)]
    meta = [
        kv_str("general.architecture", "llama"),
        kv_str("general.name", a.name),
        kv_u32("general.alignment", ALIGN),
        kv_u32("general.file_type", file_type),
        kv_u32("llama.context_length", cfg["seq"]),
        kv_u32("llama.embedding_length", dim),
        kv_u32("llama.block_count", cfg["L"]),
        kv_u32("llama.feed_forward_length", hid),
        kv_u32("llama.rope.dimension_count", cfg["hs"]),
        kv_u32("llama.attention.head_count", cfg["nh"]),
        kv_u32("llama.attention.head_count_kv", cfg["nkv"]),
        kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5),
        kv_f32("llama.rope.freq_base", 10000.0),
        kv_str("tokenizer.ggml.model", "llama"),
        kv_arr("tokenizer.ggml.tokens", STRING, [p for p, _ in pieces]),
        kv_arr("tokenizer.ggml.scores", F32, [sc for _, sc in toks]),
        kv_arr("tokenizer.ggml.token_type", I32, [t for _, t in pieces]),
        kv_u32("tokenizer.ggml.bos_token_id", 1),
        kv_u32("tokenizer.ggml.eos_token_id", 2),
        kv_u32("tokenizer.ggml.unknown_token_id", 0),
    ]
    blobs, infos, off = [], [], 0
    for name, ne, t, vals in tensors:
        blob = encode(vals, ne[0], t)
        infos.append(s(name.encode()) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne) +
                     struct.pack("<IQ", t, off))
        pad = (-len(blob)) % ALIGN
        blobs.append(blob + b"\0" * pad)
        off += len(blob) + pad
    head = GGUF_MAGIC + struct.pack("<IQQ", a.version, len(tensors), len(meta)) + b"".join(meta) + b"".join(infos)
    head += b"\0" * ((-len(head)) % ALIGN)
    with open(a.output, "wb") as f:
        f.write(head)
        f.write(b"".join(blobs))


if __name__ == "__main__":
    main()
