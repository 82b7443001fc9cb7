#!/usr/bin/env python3
"""Thousands of idle and stalled sessions at once, and a fresh client meanwhile.

    capacity.py echo --listen 127.0.0.1:0 --ready-file F
    capacity.py sink --listen 127.0.0.1:0 --ready-file F
    capacity.py tls --connect H:P --idle N --stalled M --sample K \
                    --pid PID --threads T [--fresh-max S]
    capacity.py handoff --socket PATH --idle N --sample K --pid PID --threads T
    capacity.py starttls --connect H:P --idle N --pid PID --threads T \
                    --hold-file F
    capacity.py limit --connect H:P --source ADDR --count N

echo: a plaintext echo backend (asyncio: thousands of connections, one
thread). sink: a plaintext SMTP server that greets, answers EHLO and
NOOP and QUIT, for STARTTLS clients that stay in the command phase.
Both write "tcp HOST PORT" to the ready file.

tls: opens N TLS sessions to an implicit-TLS listener, each proving it
is established with one echoed line, and M connections that send half
a ClientHello and stop (stalled handshakes). With all of them held, a
fresh client must finish its handshake and a 4 KiB echo within S
seconds, and K of the idle sessions, picked at random, must still echo
4 KiB byte-exact. The daemon's thread count (/proc/PID/status) must be
T every time it is sampled. Then everything is closed.

handoff: the same for N handoff sessions as postscreen makes them:
request, status, the remote socket passed with SCM_RIGHTS, the TLS
handshake on it, one line each way; then idle. We play both the remote
TLS client and the local Postfix end (which echoes).

starttls: N clients that connect to a STARTTLS listener, read the
greeting, say EHLO and then say nothing; they are held until the hold
file exists (or the deadline), while the caller delivers mail through
another path; then each one must still get an answer to NOOP.

limit: N connections from SOURCE (a loopback address, so the client
address differs), each left open; prints "OPEN k CLOSED m": how many
stayed open and how many the daemon closed at once. With --echo each
then makes a TLS session and echoes 4 KiB. With --hold-file they stay
open until that file exists.

Every run is bounded by --deadline. Exit 0 when everything held; the
reason on stdout otherwise.
"""

import argparse
import asyncio
import os
import random
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from handoff_client import ANNOUNCE, STATUS_OK, attr_record  # noqa: E402


class Failure(Exception):
    pass


def say(msg):
    print("capacity: %s" % msg, flush=True)


def addr_of(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def threads_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return -1


def rss_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


class Watch:
    """The daemon's thread count, sampled at every step."""

    def __init__(self, pid, want):
        self.pid, self.want, self.seen = pid, want, set()

    def check(self, when):
        if not self.pid:
            return
        n = threads_of(self.pid)
        self.seen.add(n)
        if n != self.want:
            raise Failure("%s: the daemon has %d threads, expected %d"
                          % (when, n, self.want))


def client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def half_client_hello(ctx):
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_side=False)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    return hello[:len(hello) // 2]


async def bounded(coros, limit):
    sem = asyncio.Semaphore(limit)

    async def one(c):
        async with sem:
            return await c
    # Every one runs to its end (each is bounded), then the first error.
    res = await asyncio.gather(*(one(c) for c in coros), return_exceptions=True)
    for r in res:
        if isinstance(r, BaseException):
            raise r
    return res


async def echo_check(r, w, nbytes, timeout, what):
    data = os.urandom(nbytes)
    w.write(data)
    await w.drain()
    got = await asyncio.wait_for(r.readexactly(nbytes), timeout)
    if got != data:
        raise Failure("%s: echoed bytes differ" % what)


# ------------------------------------------------------------ servers

async def serve_echo(r, w):
    try:
        while True:
            d = await r.read(65536)
            if not d:
                break
            w.write(d)
            await w.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        w.close()


async def serve_sink(r, w):
    try:
        w.write(b"220 sink.test ESMTP\r\n")
        await w.drain()
        while True:
            line = await r.readline()
            if not line:
                break
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                w.write(b"250-sink.test\r\n250 PIPELINING\r\n")
            elif verb == b"QUIT":
                w.write(b"221 2.0.0 Bye\r\n")
                await w.drain()
                break
            elif verb in (b"NOOP", b"RSET"):
                w.write(b"250 2.0.0 Ok\r\n")
            else:
                w.write(b"502 5.5.2 Error: command not recognized\r\n")
            await w.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        w.close()


async def run_server(args, handler):
    host, port = addr_of(args.listen)
    srv = await asyncio.start_server(handler, host, port, backlog=4096)
    h, p = srv.sockets[0].getsockname()[:2]
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("tcp %s %d\n" % (h, p))
    os.rename(tmp, args.ready_file)
    async with srv:
        await asyncio.sleep(args.deadline)


# ------------------------------------------------------------ tls

async def tls_idle_one(host, port, ctx, i):
    r, w = await asyncio.wait_for(asyncio.open_connection(
        host, port, ssl=ctx, server_hostname=None), 30)
    line = b"idle %d\n" % i
    w.write(line)
    await w.drain()
    if await asyncio.wait_for(r.readexactly(len(line)), 30) != line:
        raise Failure("idle session %d: bad echo" % i)
    return r, w


async def stalled_one(host, port, prefix):
    r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
    w.write(prefix)
    await w.drain()
    return r, w


async def fresh(host, port, ctx, limit, what):
    t0 = time.monotonic()
    r, w = await asyncio.wait_for(asyncio.open_connection(
        host, port, ssl=ctx, server_hostname=None), 30)
    t1 = time.monotonic()
    await echo_check(r, w, 4096, 30, what)
    t2 = time.monotonic()
    w.close()
    say("%s: handshake %.1f ms, handshake + 4 KiB echo %.1f ms"
        % (what, (t1 - t0) * 1000, (t2 - t0) * 1000))
    if t2 - t0 > limit:
        raise Failure("%s took %.2f s (limit %.2f s)" % (what, t2 - t0, limit))


async def run_tls(args):
    host, port = addr_of(args.connect)
    ctx = client_ctx()
    watch = Watch(args.pid, args.threads)
    rss0 = rss_of(args.pid) if args.pid else 0
    watch.check("before")
    t0 = time.monotonic()
    idle = await bounded([tls_idle_one(host, port, ctx, i)
                          for i in range(args.idle)], 64)
    say("%d idle TLS sessions open (%.1f s)" % (len(idle), time.monotonic() - t0))
    watch.check("with %d idle sessions" % len(idle))
    rss1 = rss_of(args.pid) if args.pid else 0
    prefix = half_client_hello(ctx)
    stalled = await bounded([stalled_one(host, port, prefix)
                             for _ in range(args.stalled)], 128)
    say("%d stalled handshakes open (half a ClientHello each, %d bytes)"
        % (len(stalled), len(prefix)))
    await asyncio.sleep(1)
    watch.check("with %d idle and %d stalled" % (len(idle), len(stalled)))
    for k in range(3):
        await fresh(host, port, ctx, args.fresh_max, "fresh client %d" % (k + 1))
        watch.check("after fresh client %d" % (k + 1))
    picks = random.sample(range(len(idle)), min(args.sample, len(idle)))
    for i in picks:
        r, w = idle[i]
        await echo_check(r, w, 4096, 30, "idle session %d" % i)
    say("%d idle sessions picked at random echo 4 KiB byte-exact" % len(picks))
    # No stalled handshake may have been answered or closed meanwhile.
    closed = 0
    for r, w in stalled:
        try:
            d = await asyncio.wait_for(r.read(1), 0.001)
            closed += 1 if not d else 0
        except asyncio.TimeoutError:
            pass
    if closed:
        raise Failure("%d stalled handshakes were closed before their deadline"
                      % closed)
    watch.check("at the end")
    if args.pid and idle:
        say("daemon RSS: %d KiB before, %d KiB with %d idle sessions "
            "(%.1f KiB each), %d KiB with the stalled ones too"
            % (rss0, rss1, len(idle), (rss1 - rss0) / len(idle), rss_of(args.pid)))
    say("daemon threads: always %s" % sorted(watch.seen))
    for r, w in idle + stalled:
        w.close()
    await asyncio.sleep(0.5)


# ------------------------------------------------------------ handoff

def handoff_start(path, lsock, i):
    """Postscreen's side up to the passed socket: (unix socket, our TLS end)."""
    remote = socket.create_connection(lsock.getsockname(), timeout=10)
    passed, _ = lsock.accept()
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.settimeout(10)
    u.connect(path)
    got = b""
    while len(got) < len(ANNOUNCE):
        d = u.recv(len(ANNOUNCE) - len(got))
        if not d:
            raise Failure("handoff %d: closed before R1" % i)
        got += d
    if got != ANNOUNCE:
        raise Failure("handoff %d: R1 is %r" % (i, got))
    u.sendall(attr_record([("remote_endpoint", "[127.0.0.1]:%d"
                            % remote.getsockname()[1]),
                           ("flags", 1), ("timeout", 300), ("timeout", 300),
                           ("serverid", "smtpd")]))
    got = b""
    while len(got) < len(STATUS_OK):
        d = u.recv(len(STATUS_OK) - len(got))
        if not d:
            raise Failure("handoff %d: closed before R2" % i)
        got += d
    if got != STATUS_OK:
        raise Failure("handoff %d: R2 is %r" % (i, got))
    socket.send_fds(u, [b"\0"], [passed.fileno()])
    passed.close()
    remote.setblocking(False)
    u.setblocking(False)
    return u, remote


async def handoff_echo(lr, lw, tr, tw, nbytes, what):
    """Remote TLS client -> daemon -> local end (which echoes) -> back."""
    data = os.urandom(nbytes)
    tw.write(data)
    await tw.drain()
    got = await asyncio.wait_for(lr.readexactly(nbytes), 30)
    lw.write(got)
    await lw.drain()
    back = await asyncio.wait_for(tr.readexactly(nbytes), 30)
    if got != data or back != data:
        raise Failure("%s: bytes differ" % what)


async def handoff_one(path, lsock, ctx, i):
    u, remote = handoff_start(path, lsock, i)
    lr, lw = await asyncio.open_unix_connection(sock=u)
    tr, tw = await asyncio.wait_for(asyncio.open_connection(
        sock=remote, ssl=ctx, server_hostname=""), 30)
    await handoff_echo(lr, lw, tr, tw, 16, "handoff session %d" % i)
    return lr, lw, tr, tw


async def run_handoff(args):
    ctx = client_ctx()
    watch = Watch(args.pid, args.threads)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(256)
    rss0 = rss_of(args.pid) if args.pid else 0
    watch.check("before")
    t0 = time.monotonic()
    sess = await bounded([handoff_one(args.socket, lsock, ctx, i)
                          for i in range(args.idle)], 32)
    say("%d idle handoff sessions open (%.1f s)" % (len(sess), time.monotonic() - t0))
    await asyncio.sleep(1)
    watch.check("with %d idle handoff sessions" % len(sess))
    rss1 = rss_of(args.pid) if args.pid else 0
    t0 = time.monotonic()
    lr, lw, tr, tw = await handoff_one(args.socket, lsock, ctx, -1)
    await handoff_echo(lr, lw, tr, tw, 4096, "fresh handoff session")
    took = time.monotonic() - t0
    say("fresh handoff session: request to 4 KiB echo in %.1f ms" % (took * 1000))
    if took > args.fresh_max:
        raise Failure("the fresh handoff session took %.2f s (limit %.2f s)"
                      % (took, args.fresh_max))
    tw.close()
    lw.close()
    picks = random.sample(range(len(sess)), min(args.sample, len(sess)))
    for i in picks:
        await handoff_echo(*sess[i], 4096, "idle handoff session %d" % i)
    say("%d idle handoff sessions picked at random echo 4 KiB byte-exact" % len(picks))
    watch.check("at the end")
    if args.pid and sess:
        say("daemon RSS: %d KiB before, %d KiB with %d idle handoff sessions "
            "(%.1f KiB each)" % (rss0, rss1, len(sess), (rss1 - rss0) / len(sess)))
    say("daemon threads: always %s" % sorted(watch.seen))
    for lr, lw, tr, tw in sess:
        tw.close()
        lw.close()
    lsock.close()
    await asyncio.sleep(0.5)


# ------------------------------------------------------------ starttls

async def read_reply(r, what):
    lines = []
    while True:
        line = await asyncio.wait_for(r.readline(), 30)
        if not line:
            raise Failure("%s: closed" % what)
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return lines


async def starttls_one(host, port, i):
    r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
    g = await read_reply(r, "client %d greeting" % i)
    if not g[0].startswith(b"220"):
        raise Failure("client %d: greeting %r" % (i, g[0]))
    w.write(b"EHLO idle%d.test\r\n" % i)
    await w.drain()
    e = await read_reply(r, "client %d EHLO" % i)
    if not any(b"STARTTLS" in x for x in e):
        raise Failure("client %d: EHLO reply offers no STARTTLS: %r" % (i, e))
    return r, w


async def run_starttls(args):
    host, port = addr_of(args.connect)
    watch = Watch(args.pid, args.threads)
    watch.check("before")
    t0 = time.monotonic()
    cl = await bounded([starttls_one(host, port, i) for i in range(args.idle)], 64)
    say("HOLDING %d STARTTLS clients in the command phase (%.1f s)"
        % (len(cl), time.monotonic() - t0))
    end = time.monotonic() + args.deadline
    while time.monotonic() < end and not os.path.exists(args.hold_file):
        watch.check("while holding")
        await asyncio.sleep(0.2)
    watch.check("at the end")
    picks = random.sample(range(len(cl)), min(args.sample, len(cl)))
    for i in picks:
        r, w = cl[i]
        w.write(b"NOOP\r\n")
        await w.drain()
        rep = await read_reply(r, "client %d NOOP" % i)
        if not rep[0].startswith(b"250"):
            raise Failure("client %d: NOOP got %r" % (i, rep[0]))
    say("%d held clients picked at random still get 250 to NOOP" % len(picks))
    say("daemon threads: always %s" % sorted(watch.seen))
    for r, w in cl:
        w.close()
    await asyncio.sleep(0.5)


# ------------------------------------------------------------ limit

async def run_limit(args):
    host, port = addr_of(args.connect)
    socks, ws = [], []
    for _ in range(args.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((args.source, 0))
        s.connect((host, port))
        socks.append(s)
        await asyncio.sleep(0.005)
    await asyncio.sleep(1)
    closed = 0
    if args.echo:
        # Served means a TLS session that works, not just an open socket.
        for i, s in enumerate(socks):
            s.setblocking(False)
            r, w = await asyncio.wait_for(asyncio.open_connection(
                sock=s, ssl=client_ctx(), server_hostname=""), 30)
            await echo_check(r, w, 4096, 30, "connection %d from %s" % (i, args.source))
            ws.append(w)
        say("%d TLS sessions from %s echo 4 KiB" % (len(socks), args.source))
    else:
        for s in socks:
            s.setblocking(False)
            try:
                closed += 1 if s.recv(1, socket.MSG_PEEK) == b"" else 0
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
    say("OPEN %d CLOSED %d" % (len(socks) - closed, closed))
    if args.hold_file:
        end = time.monotonic() + args.deadline
        while time.monotonic() < end and not os.path.exists(args.hold_file):
            await asyncio.sleep(0.1)
    for w in ws:
        w.close()
    for s in socks:
        s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=("echo", "sink", "tls", "handoff", "starttls", "limit"))
    ap.add_argument("--listen")
    ap.add_argument("--ready-file")
    ap.add_argument("--connect")
    ap.add_argument("--socket")
    ap.add_argument("--source", default="127.0.0.2")
    ap.add_argument("--count", type=int, default=51)
    ap.add_argument("--echo", action="store_true", help="limit: a TLS echo on each")
    ap.add_argument("--idle", type=int, default=100)
    ap.add_argument("--stalled", type=int, default=0)
    ap.add_argument("--sample", type=int, default=20)
    ap.add_argument("--pid", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--fresh-max", type=float, default=1.0)
    ap.add_argument("--hold-file")
    ap.add_argument("--deadline", type=float, default=300)
    args = ap.parse_args()
    run = {"echo": lambda: run_server(args, serve_echo),
           "sink": lambda: run_server(args, serve_sink),
           "tls": lambda: run_tls(args), "handoff": lambda: run_handoff(args),
           "starttls": lambda: run_starttls(args), "limit": lambda: run_limit(args)}
    try:
        if args.mode in ("echo", "sink"):
            asyncio.run(run[args.mode]())
            return 0
        asyncio.run(asyncio.wait_for(run[args.mode](), args.deadline))
    except (Failure, asyncio.TimeoutError, OSError, ssl.SSLError,
            asyncio.IncompleteReadError, ValueError) as e:
        say("FAIL: %s" % (str(e) or type(e).__name__))
        return 1
    say("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
