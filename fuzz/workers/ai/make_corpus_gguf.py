#!/usr/bin/env python3
"""Writes the seed and malformed corpus of fuzz_gguf into corpus_gguf/.

A tiny llama2.c checkpoint (dim 32, 1 layer, vocabulary of 8) goes through
tools/gguf_export.py in each tensor type; then each seed is corrupted at the
fields the known GGUF loader flaws abused (string and array lengths, counts,
n_dims, dimensions, types, offsets, alignment), truncated, and byte-flipped.
"""
import os
import random
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
OUT = os.path.join(HERE, "corpus_gguf")
EXPORT = os.path.join(ROOT, "tools", "gguf_export.py")


def tiny_checkpoint(path, rng):
    dim, hid, L, nh, nkv, vocab, seq = 32, 64, 1, 4, 2, 8, 16
    kv = dim // nh * nkv
    n = vocab * dim + L * dim + L * dim * dim * 2 + L * kv * dim * 2 + L * dim + L * hid * dim * 3 + dim
    n += 2 * seq * (dim // nh // 2)
    vals = [rng.uniform(-0.5, 0.5) for _ in range(n)]
    with open(path, "wb") as f:
        f.write(struct.pack("<7i", dim, hid, L, nh, nkv, vocab, seq) + struct.pack(f"<{n}f", *vals))


def tiny_tokenizer(path):
    toks = [b"<unk>", b"\n<s>\n", b"\n</s>\n", b" a", b"b", b"c", b"<0x0A>", b" "]
    with open(path, "wb") as f:
        f.write(struct.pack("<i", 6))
        for i, t in enumerate(toks):
            f.write(struct.pack("<fi", -float(i), len(t)) + t)


def fields(data):
    """Offsets of the header, kv and tensor-info fields of a GGUF file."""
    off = 4
    out = {"version": off, "n_tensors": off + 4, "n_kv": off + 12}
    n_t, n_kv = struct.unpack_from("<QQ", data, off + 4)
    off += 20
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    kvs = []
    for _ in range(n_kv):
        klen = struct.unpack_from("<Q", data, off)[0]
        key = data[off + 8:off + 8 + klen].decode()
        rec = {"key": key, "key_len": off}
        off += 8 + klen
        rec["type_at"] = off
        t = struct.unpack_from("<I", data, off)[0]
        off += 4
        if t == 8:
            rec["len_at"] = off
            off += 8 + struct.unpack_from("<Q", data, off)[0]
        elif t == 9:
            et, n = struct.unpack_from("<IQ", data, off)
            rec["arr_type"], rec["arr_n"] = off, off + 4
            off += 12
            if et == 8:
                rec["first_str"] = off
                for _ in range(n):
                    off += 8 + struct.unpack_from("<Q", data, off)[0]
            else:
                off += n * sizes[et]
        else:
            rec["val_at"] = off
            off += sizes[t]
        kvs.append(rec)
    ts = []
    for _ in range(n_t):
        nlen = struct.unpack_from("<Q", data, off)[0]
        rec = {"name": data[off + 8:off + 8 + nlen].decode(), "name_len": off}
        off += 8 + nlen
        nd = struct.unpack_from("<I", data, off)[0]
        rec["n_dims"], rec["ne0"] = off, off + 4
        off += 4 + 8 * nd
        rec["type"], rec["off"] = off, off + 4
        off += 12
        ts.append(rec)
    return out, kvs, ts


def main():
    rng = random.Random(20261126)
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.unlink(os.path.join(OUT, f))
    seeds = {}
    with tempfile.TemporaryDirectory() as tmp:
        ck, tk = os.path.join(tmp, "tiny.bin"), os.path.join(tmp, "tok.bin")
        tiny_checkpoint(ck, rng)
        tiny_tokenizer(tk)
        for t in ("f32", "f16", "q8_0", "q4_0"):
            o = os.path.join(tmp, t + ".gguf")
            subprocess.run([sys.executable, EXPORT, ck, tk, o, "--type", t], check=True)
            seeds[t] = open(o, "rb").read()
        o = os.path.join(tmp, "v2.gguf")
        subprocess.run([sys.executable, EXPORT, ck, tk, o, "--type", "q4_0", "--version", "2"], check=True)
        seeds["v2_q4_0"] = open(o, "rb").read()

    def put(name, data):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)

    def patch(data, at, fmt, v):
        b = bytearray(data)
        struct.pack_into(fmt, b, at, v)
        return bytes(b)

    for name, data in seeds.items():
        put("seed_" + name, data)
    base = seeds["q8_0"]
    hdr, kvs, ts = fields(base)
    kv = {r["key"]: r for r in kvs}
    U64MAX = (1 << 64) - 1
    cases = {
        "version_1": (hdr["version"], "<I", 1),
        "version_big_endian": (hdr["version"], "<I", 0x03000000),
        "n_kv_max": (hdr["n_kv"], "<Q", U64MAX),
        "n_kv_plus_one": (hdr["n_kv"], "<Q", len(kvs) + 1),
        "n_tensors_max": (hdr["n_tensors"], "<Q", U64MAX),
        "n_tensors_plus_one": (hdr["n_tensors"], "<Q", len(ts) + 1),
        "key_len_max": (kvs[0]["key_len"], "<Q", U64MAX),
        "key_len_zero": (kvs[0]["key_len"], "<Q", 0),
        "arch_str_len_max": (kv["general.architecture"]["len_at"], "<Q", U64MAX),
        "arch_str_len_wrap": (kv["general.architecture"]["len_at"], "<Q", U64MAX - 7),
        "value_type_13": (kvs[0]["type_at"], "<I", 13),
        "tokens_count_max": (kv["tokenizer.ggml.tokens"]["arr_n"], "<Q", U64MAX),
        "tokens_count_minus_one": (kv["tokenizer.ggml.tokens"]["arr_n"], "<Q", 7),
        "tokens_elem_type_bad": (kv["tokenizer.ggml.tokens"]["arr_type"], "<I", 99),
        "token0_len_max": (kv["tokenizer.ggml.tokens"]["first_str"], "<Q", U64MAX),
        "scores_count_wrap": (kv["tokenizer.ggml.scores"]["arr_n"], "<Q", 1 << 62),
        "scores_count_minus_one": (kv["tokenizer.ggml.scores"]["arr_n"], "<Q", 7),
        "types_array_of_arrays": (kv["tokenizer.ggml.token_type"]["arr_type"], "<I", 9),
        "alignment_zero": (kv["general.alignment"]["val_at"], "<I", 0),
        "alignment_not_pow2": (kv["general.alignment"]["val_at"], "<I", 48),
        "alignment_one": (kv["general.alignment"]["val_at"], "<I", 1),
        "bos_out_of_range": (kv["tokenizer.ggml.bos_token_id"]["val_at"], "<I", 8),
        "block_count_huge": (kv["llama.block_count"]["val_at"], "<I", 1 << 30),
        "heads_not_dividing": (kv["llama.attention.head_count"]["val_at"], "<I", 3),
        "kv_heads_zero": (kv["llama.attention.head_count_kv"]["val_at"], "<I", 0),
        "context_huge": (kv["llama.context_length"]["val_at"], "<I", 0xFFFFFFFF),
        "n_dims_5": (ts[0]["n_dims"], "<I", 5),
        "n_dims_max": (ts[0]["n_dims"], "<I", 0xFFFFFFFF),
        "n_dims_zero": (ts[0]["n_dims"], "<I", 0),
        "ne0_max": (ts[0]["ne0"], "<Q", U64MAX),
        "ne0_wrap": (ts[0]["ne0"], "<Q", 1 << 40),
        "ne0_not_block": (ts[0]["ne0"], "<Q", 48),
        "type_out_of_range": (ts[1]["type"], "<I", 40),
        "type_max": (ts[1]["type"], "<I", 0xFFFFFFFF),
        "type_q4_1": (ts[2]["type"], "<I", 3),
        "type_f16_for_q8": (ts[2]["type"], "<I", 1),
        "offset_max": (ts[1]["off"], "<Q", U64MAX - 31),
        "offset_past_end": (ts[-1]["off"], "<Q", 1 << 40),
        "offset_misaligned": (ts[2]["off"], "<Q", struct.unpack_from("<Q", base, ts[2]["off"])[0] + 4),
        "offset_overlap": (ts[3]["off"], "<Q", struct.unpack_from("<Q", base, ts[2]["off"])[0]),
    }
    for name, (at, fmt, v) in cases.items():
        put("bad_" + name, patch(base, at, fmt, v))
    b = bytearray(base)
    b[ts[3]["name_len"] + 8 + len(ts[3]["name"]) - 8] = ord("q")  # a name twice
    put("bad_tensor_name_twice", bytes(b))
    b = bytearray(base)
    k = kv["llama.block_count"]
    b[k["key_len"] + 8:k["key_len"] + 8 + 17] = b"general.alignment"  # a key twice
    put("bad_key_twice", bytes(b))
    for frac in (0.01, 0.1, 0.3, 0.5, 0.9, 0.999):
        put(f"bad_truncated_{int(frac * 1000)}", base[:int(len(base) * frac)])
    put("bad_magic_only", b"GGUF")
    for i in range(12):
        b = bytearray(seeds["q4_0" if i % 2 else "f16"])
        for _ in range(4):
            b[rng.randrange(len(b))] = rng.randrange(256)
        put(f"bad_flip_{i}", bytes(b))


if __name__ == "__main__":
    main()
