#!/usr/bin/env python3
"""`airlock bench --svg` draws noise as noise: for a fixed result (a saved
JSON, drawn again with --from) the picture is read back with xml.etree and
every element checked against the figures on its own axis: each level's bar
runs from the zero line to its cost (below zero for a gain), its error bar
spans the middle half of its paired rounds (25th to 75th percentile), and
each budget is a line at its value across the level's column.

usage: svg_check.py AIRLOCK
"""
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

AIRLOCK = sys.argv[1]
NS = {"s": "http://www.w3.org/2000/svg"}

# level: (cost, (p25, p75) of the paired rounds or None, our budget, the seed's)
FIGURES = {
    "minimal": (0.5, (-1.0, 2.0), None, None),
    "standard": (-41.0, (-60.0, 20.0), 1.0, 3.0),  # a gain well within the noise
    "high": (21.0, (5.0, 30.0), 3.0, 8.0),
    "maximum": (3.0, None, 8.0, 15.0),  # no paired rounds: no error bar
}


def result():
    budgets, cost = [], {}
    for level, (v, q, goal, seed) in FIGURES.items():
        b = {"level": level, "overhead_pct": v, "spread_pct": (q[1] - q[0]) if q else 1.0,
             "noisy": bool(q and q[0] <= 0 <= q[1]), "seed_total_pass": v < 5}
        if goal is not None:
            b.update(budget_pct=goal, pass_=v <= goal, seed_budget_pct=seed, seed_pass=v <= seed)
            b["pass"] = b.pop("pass_")
        budgets.append(b)
        c = {"value": v, "spread": b["spread_pct"], "noisy": b["noisy"],
             "method": "median of paired rounds" if q else "difference of medians"}
        if q:
            c["paired"] = {"median": v, "p25": q[0], "p75": q[1], "p99": q[1], "min": q[0], "max": q[1], "n": 9}
        cost[level] = c
    row = {"id": "generate", "label": "generate 128 tokens", "unit": "ms", "stat": "median", "better": "lower",
           "cost_unit": "% added", "values": {}, "cost": cost, "claims": [], "verdict": {}}
    return {"schema": 1, "version": "test", "quick": True, "duration_s": 1.0,
            "machine": {"cpus": 2, "kernel": "test", "machine": "x86_64", "clocksource": "tsc", "loadavg": [0, 0, 0]},
            "levels": list(FIGURES), "partitioning": {},
            "sections": [{"id": "total", "title": "total", "method": "fixed figures", "baseline": "none", "rows": [row]}],
            "budgets": budgets, "warnings": []}


def fail(msg):
    sys.stderr.write(f"FAIL: {msg}\n")
    sys.exit(1)


def close(a, b, what, tol=0.05):
    if abs(a - b) > tol:
        fail(f"{what}: {a} != {b}")


def main():
    with tempfile.TemporaryDirectory(prefix="al-svg-") as d:
        src, svg = os.path.join(d, "r.json"), os.path.join(d, "r.svg")
        with open(src, "w") as f:
            json.dump(result(), f)
        p = subprocess.run([AIRLOCK, "bench", "--from", src, "--svg", svg], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            fail(f"airlock bench --from: {p.returncode}: {p.stderr}")
        if "standard" not in p.stdout:
            fail(f"the table was not printed: {p.stdout}")
        root = ET.parse(svg).getroot()
        # A file that is not a result is refused with a clear error, and no picture is drawn.
        bad, badsvg = os.path.join(d, "bad.json"), os.path.join(d, "bad.svg")
        for text in ("{}", "[1]", "not json"):
            with open(bad, "w") as f:
                f.write(text)
            p = subprocess.run([AIRLOCK, "bench", "--from", bad, "--svg", badsvg], capture_output=True, text=True, timeout=60)
            if p.returncode != 1 or "bad.json" not in p.stderr or os.path.exists(badsvg):
                fail(f"--from {text!r}: exit {p.returncode}, {p.stderr!r}")

    def elems(tag, cls):
        return [e for e in root.iter(f"{{{NS['s']}}}{tag}") if cls in e.get("class", "").split()]

    def f(e, a):
        return float(e.get(a))

    # The axis as drawn: tick value -> y, which must be linear and label itself.
    ticks = {float(t.get("data-value")): f(t, "y1") for t in elems("line", "tick")}
    labels = [t.text for t in elems("text", "tick-label")]
    if len(ticks) < 3:
        fail(f"only {len(ticks)} ticks")
    for v in ticks:
        if f"{v:g} %" not in labels:
            fail(f"tick {v:g} has no label ({labels})")
    (v0, y0), (v1, y1) = sorted(ticks.items())[:2]
    per = (y1 - y0) / (v1 - v0)  # pixels per percent (negative: up is more)
    if per >= 0:
        fail("higher costs are not drawn higher")
    for v, y in ticks.items():
        close(y, y0 + (v - v0) * per, f"tick {v:g}")
    Y = lambda v: y0 + (v - v0) * per
    lo, hi = min(ticks), max(ticks)
    every = [x for (v, q, g, s) in FIGURES.values() for x in [v, *(q or ()), *(x for x in (g, s) if x is not None)]]
    if lo > min(every) or hi < max(every):
        fail(f"the axis {lo}..{hi} does not span the figures {min(every)}..{max(every)}")

    zero = elems("line", "zero")
    if len(zero) != 1:
        fail(f"{len(zero)} zero lines")
    close(f(zero[0], "y1"), Y(0), "the zero line")

    bars = {b.get("data-level"): b for b in elems("rect", "bar")}
    spreads = {s.get("data-level"): s for s in elems("line", "spread")}
    budgets = {}
    for b in elems("line", "budget"):
        budgets.setdefault(b.get("data-level"), {})["goal" if "budget-goal" in b.get("class") else "seed"] = b
    for level, (v, q, goal, seed) in FIGURES.items():
        b = bars.get(level)
        if b is None:
            fail(f"{level}: no bar")
        top, bottom = f(b, "y"), f(b, "y") + f(b, "height")
        if v >= 0:
            close(top, Y(v), f"{level}: top of the bar")
            close(bottom, Y(0), f"{level}: the bar stands on zero")
        else:
            close(top, Y(0), f"{level}: the bar hangs from zero")
            close(bottom, Y(v), f"{level}: a gain is drawn below zero")
            if top < f(zero[0], "y1") - 0.05:
                fail(f"{level}: a negative cost drawn above the zero line")
        cx = f(b, "x") + f(b, "width") / 2
        s = spreads.get(level)
        if q is None:
            if s is not None:
                fail(f"{level}: an error bar without paired rounds")
        else:
            if s is None:
                fail(f"{level}: no error bar")
            close(f(s, "x1"), cx, f"{level}: error bar centred on its bar")
            close(f(s, "x2"), cx, f"{level}: error bar vertical")
            close(max(f(s, "y1"), f(s, "y2")), Y(q[0]), f"{level}: error bar bottom at p25")
            close(min(f(s, "y1"), f(s, "y2")), Y(q[1]), f"{level}: error bar top at p75")
            caps = [c for c in elems("line", "spread-cap") if c.get("data-level") == level]
            if sorted(round(f(c, "y1"), 1) for c in caps) != sorted(round(Y(x), 1) for x in q):
                fail(f"{level}: error bar caps not at p25 and p75")
        for kind, want in (("goal", goal), ("seed", seed)):
            line = budgets.get(level, {}).get(kind)
            if want is None:
                if line is not None:
                    fail(f"{level}: a {kind} budget line where there is no budget")
                continue
            if line is None:
                fail(f"{level}: no {kind} budget line")
            close(f(line, "y1"), Y(want), f"{level}: {kind} budget line at {want} %")
            close(f(line, "y2"), Y(want), f"{level}: {kind} budget line horizontal")
            if not (f(line, "x1") <= f(b, "x") and f(line, "x2") >= f(b, "x") + f(b, "width")):
                fail(f"{level}: the {kind} budget line does not cross its column")
        if seed is not None and budgets[level]["seed"].get("stroke-dasharray") in (None, "", "none"):
            fail(f"{level}: the seed's budget is not dashed")
    print(f"svg: {len(bars)} bars, {len(spreads)} error bars, {sum(len(x) for x in budgets.values())} budget lines, "
          f"axis {lo:g}..{hi:g} %: all at their figures")


main()
