#!/usr/bin/env python3
"""Plaintext echo backend for the TCP frontend tests.

    echo_server.py --listen tcp:127.0.0.1:0 --listen unix:/path/echo.sock \
                   --ready-file FILE [--max-seconds N] [--idle N]

Each --listen is "tcp:HOST:PORT" (port 0: the kernel picks one) or
"unix:PATH". Once every listener is bound, FILE is written (atomically)
with one line per listener in order: "tcp HOST PORT" or "unix PATH".
Every connection gets its own thread and gets back exactly the bytes it
sends; when the client ends its side, the rest is sent back and the
connection is closed. A connection idle for --idle seconds is closed. The
server exits after --max-seconds. One line per event goes to stdout.
"""

import argparse
import os
import socket
import sys
import threading
import time

LOCK = threading.Lock()


def log(msg):
    with LOCK:
        print("echo_server: %s" % msg, flush=True)


def serve(conn, peer, idle):
    total = 0
    conn.settimeout(idle)
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
            total += len(data)
    except socket.timeout:
        log("%s: idle for %ss" % (peer, idle))
    except OSError as e:
        log("%s: %s" % (peer, e))
    finally:
        conn.close()
    log("%s: closed after %d bytes" % (peer, total))


def accept_loop(ls, name, idle):
    while True:
        try:
            conn, addr = ls.accept()
        except OSError:
            return
        peer = "%s[%s]:%s" % (name, addr[0], addr[1]) if isinstance(addr, tuple) else name
        log("accepted %s" % peer)
        threading.Thread(target=serve, args=(conn, peer, idle), daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", action="append", required=True)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--max-seconds", type=float, default=900)
    ap.add_argument("--idle", type=float, default=120)
    args = ap.parse_args()

    lines = []
    for spec in args.listen:
        kind, _, rest = spec.partition(":")
        if kind == "tcp":
            host, _, port = rest.rpartition(":")
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((host, int(port)))
            lines.append("tcp %s %d" % ls.getsockname())
            name = "tcp:%s:%d" % ls.getsockname()
        elif kind == "unix":
            try:
                os.unlink(rest)
            except FileNotFoundError:
                pass
            ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            ls.bind(rest)
            lines.append("unix %s" % rest)
            name = "unix:%s" % rest
        else:
            ap.error("bad --listen %r" % spec)
        ls.listen(128)
        threading.Thread(target=accept_loop, args=(ls, name, args.idle), daemon=True).start()
        log("listening on %s" % name)

    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(tmp, args.ready_file)

    end = time.monotonic() + args.max_seconds
    while time.monotonic() < end:
        time.sleep(0.5)
    log("exiting after %ss" % args.max_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
