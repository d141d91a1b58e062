#!/usr/bin/env python3
"""Records a domain's metrics once a second, as the supervisor samples them,
into the TSV the detector tests replay.

usage: record.py CONTROL_SOCKET_CONFIG DOMAIN SECONDS > series.tsv
(run `airlock run` first; the domain's init and its children are summed)
Columns: cumulative cpu_ns, rss_kib (gauge), minflt, majflt, vcsw, nvcsw.
"""
import json, os, subprocess, sys, time

conf, dom, secs = sys.argv[1], sys.argv[2], int(sys.argv[3])
airlock = os.environ.get("AIRLOCK", "build/src/cli/airlock")
clk = os.sysconf("SC_CLK_TCK")

def pids_of(init):
    out = [init]
    for t in os.listdir(f"/proc/{init}/task"):
        with open(f"/proc/{init}/task/{t}/children") as f:
            out += [int(x) for x in f.read().split()]
    return out

def sample(init):
    m = [0] * 6
    for p in pids_of(init):
        st = open(f"/proc/{p}/stat").read()
        f = st[st.rindex(")") + 2:].split()
        m[0] += (int(f[11]) + int(f[12])) * 1000000000 // clk
        m[2] += int(f[7]); m[3] += int(f[9])
        for line in open(f"/proc/{p}/status"):
            k, _, v = line.partition(":")
            if k == "VmRSS": m[1] += int(v.split()[0])
        for t in os.listdir(f"/proc/{p}/task"):  # context switches are per thread
            try:
                lines = open(f"/proc/{p}/task/{t}/status").readlines()
            except FileNotFoundError:
                continue  # the thread ended meanwhile
            for line in lines:
                k, _, v = line.partition(":")
                if k == "voluntary_ctxt_switches": m[4] += int(v.split()[0])
                elif k == "nonvoluntary_ctxt_switches": m[5] += int(v.split()[0])
    return m

st = json.loads(subprocess.check_output([airlock, "status", "--json", "--config", conf]))
init = next(d["pid"] for d in st["domains"] if d["name"] == dom)
print("# cpu_ns\trss_kib\tminflt\tmajflt\tvcsw\tnvcsw")
t0 = time.monotonic()
for i in range(secs):
    print("\t".join(str(x) for x in sample(init)), flush=True)
    time.sleep(max(0, t0 + i + 1 - time.monotonic()))
