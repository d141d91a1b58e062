#!/usr/bin/env python3
"""Progress of hashing a large file, seen as a person sees it: `airlock
manifest create`, `manifest update` and `airlock run` (the supervisor's check
at start) hash a sparse 300 MiB model with stderr on a pseudo-terminal and
show "hashing ai.model ... 100 %"; with stderr on a pipe they print no
progress at all. Small files (tokenizer, executables) show none either way.

usage: progress_tty.py AIRLOCK
"""
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

AIRLOCK = sys.argv[1]
T0 = time.monotonic()
SIZE = 300 << 20


def on_pty(args, until=None, timeout=60):
    """Runs args with stderr (and stdout) on a new pty; returns (rc, bytes seen).
    With until, the process is ended with SIGTERM once until(bytes) is true."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = b""
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every holder of the slave is gone
                    break
                if not chunk:
                    break
                out += chunk
            if until and until(out):
                p.send_signal(signal.SIGTERM)
                until = None
            if p.poll() is not None and not r:
                break
        rc = p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return rc, out


def on_pipe(args):
    p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def check(cond, what, seen=b""):
    if not cond:
        sys.stderr.write(f"FAIL: {what}\n{seen[-2000:]!r}\n")
        sys.exit(1)
    print(f"ok: {what} ({time.monotonic() - T0:.1f} s)")


def progress_lines(seen):
    """The progress updates: text between carriage returns that names a file being hashed."""
    return [p for p in seen.replace(b"\n", b"\r").split(b"\r") if p.startswith(b"hashing ")]


def main():
    d = tempfile.mkdtemp(prefix="al-progress-")
    try:
        model = os.path.join(d, "model.bin")
        with open(model, "wb") as f:
            f.truncate(SIZE)  # sparse: no disk used, hashed as 300 MiB of zeros
        conf = os.path.join(d, "airlock.conf")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))  # a free port for `airlock run`
        port = s.getsockname()[1]
        s.close()
        with open(conf, "w") as f:
            f.write(f"[airlock]\nstate_dir = {d}/state\n[proto]\nlisten = 127.0.0.1:{port}\n[ai]\nmodel = {model}\n")

        rc, seen = on_pty([AIRLOCK, "manifest", "create", "--config", conf])
        check(rc == 0, "manifest create on a terminal exits 0", seen)
        lines = progress_lines(seen)
        check(any(l.startswith(b"hashing ai.model  ") and b"of 300.0 MiB" in l for l in lines),
              "manifest create shows hashing ai.model of 300.0 MiB", seen)
        check(any(b" 100 %" in l for l in lines), "the last update reaches 100 %", seen)
        check(b"\r" in seen and b"\033[K" in seen, "updates are redrawn in place", seen)
        check(all(l.startswith(b"hashing ai.model") for l in lines), "small files show no progress", seen)

        rc, out, err = on_pipe([AIRLOCK, "manifest", "verify", "--config", conf])
        check(rc == 0 and b"all files verified" in out, "manifest verify with stderr on a pipe exits 0", out + err)
        check(b"hashing" not in err and b"\r" not in err and b"\033" not in err,
              "no progress when stderr is not a terminal", err)

        with open(model, "r+b") as f:  # a changed model: update hashes it again
            f.seek(SIZE - 1)
            f.write(b"\1")
        rc, seen = on_pty([AIRLOCK, "manifest", "update", "--yes", "--config", conf])
        check(rc == 0 and b"new digest" in seen, "manifest update --yes on a terminal exits 0", seen)
        check(any(b"hashing ai.model" in l and b" 100 %" in l for l in progress_lines(seen)),
              "manifest update shows the hashing of ai.model", seen)
        rc, out, err = on_pipe([AIRLOCK, "manifest", "update", "--yes", "--config", conf])
        check(rc == 0 and b"no differences" in out and b"hashing" not in err,
              "manifest update with stderr on a pipe: no progress", out + err)

        # The supervisor verifies every file before it starts a domain. The
        # zero-filled model is no model: stopped as soon as the check is seen.
        rc, seen = on_pty([AIRLOCK, "run", "--config", conf],
                          until=lambda s: any(b" 100 %" in l for l in progress_lines(s)))
        check(any(b"hashing ai.model" in l and b" 100 %" in l for l in progress_lines(seen)),
              "airlock run shows the hashing of ai.model at start", seen)
    finally:
        shutil.rmtree(d, ignore_errors=True)


main()
