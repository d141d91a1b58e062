#!/usr/bin/env python3
"""A request flood for recording the protocol-abuse series: THREADS keep-alive
connections posting malformed JSON-RPC to the MCP endpoint as fast as the
server answers, for SECONDS.  usage: flood.py HOST PORT SECONDS [THREADS]"""
import http.client, sys, threading, time

host, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 6
end = time.monotonic() + secs
count = [0]

def run():
    c = http.client.HTTPConnection(host, port, timeout=5)
    while time.monotonic() < end:
        try:
            c.request("POST", "/mcp", body=b'{"jsonrpc":"2.0","id":1,"method":', headers={
                "Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
            c.getresponse().read()
            count[0] += 1
        except Exception:
            c.close()
            c = http.client.HTTPConnection(host, port, timeout=5)

ts = [threading.Thread(target=run) for _ in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print(f"{count[0]} requests in {secs} s", file=sys.stderr)
