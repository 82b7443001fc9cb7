#!/usr/bin/env python3
"""Load generator for the tlsproxy daemon: a mixed soak, or many
sessions held open half-way (for signal tests).

    soak.py --socket PATH --connect HOST:PORT --fault-connect HOST:PORT \\
            [--sessions N] [--concurrency C] [--fault-ratio F] [--pid PID]

Soak mode (default): N sessions, C at a time. A share F of them are
faulty peers (the fast faults of fault_peer.py: protocol errors,
descriptor errors, vanishing clients, non-TLS bytes, alerts, resets,
stalled and trickled handshakes, huge ClientHellos, peers that never
read, renegotiation); each must be handled as fault_peer.py specifies.
The others are good sessions, half on the handoff socket, half on the
TCP frontend (--connect, whose backend echoes), each with random sizes
from 1 byte to --max-bytes in each direction, checked by SHA-256 both
ways. With --pid, the daemon's resident memory is sampled. Prints the
figures; exits 0 only if every session behaved.

Paused mode (--paused N --go-file FILE): N good sessions (half handoff,
half TCP) each move half of their bytes, then wait until FILE exists,
then move the rest and close; prints "ALL PAUSED N" once all of them are
half-way. Exits 0 only if all N complete byte-exact.

Every wait is bounded; the whole run is bounded by --deadline.
"""

import argparse
import hashlib
import os
import queue
import random
import socket
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True    # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fault_peer as fp  # noqa: E402

# Faults for the soak: (name, weight). All are bounded by a few seconds.
SOAK_FAULTS = [
    ("trunc-record", 3), ("trunc-value", 2), ("missing-attrs", 2), ("long-name", 2),
    ("long-value", 2), ("many-attrs", 1), ("big-request", 1), ("fd-with-request", 3),
    ("fd-twice", 1), ("fd-two-in-one", 2), ("fd-many", 1), ("fd-file", 2), ("fd-pipe", 2), ("fd-udp", 2),
    ("vanish-connect", 3), ("vanish-r1", 3), ("vanish-mid-q1", 3), ("vanish-status", 3),
    ("vanish-fd", 3), ("vanish-handshake", 3), ("vanish-relay", 3), ("rst-relay", 3),
    ("rst-relay-tcp", 3),
    ("slowloris", 2), ("slowloris-tcp", 2), ("dribble", 1), ("dribble-tcp", 1),
    ("nontls", 3), ("nontls-tcp", 3), ("alert", 3), ("alert-tcp", 3), ("rst", 3),
    ("rst-tcp", 3), ("rst-handshake", 3), ("rst-handshake-tcp", 3),
    ("big-hello", 2), ("big-hello-tcp", 2), ("huge-hello", 2), ("huge-hello-tcp", 2),
    ("never-read-tcp", 1), ("reneg-tcp", 1), ("reneg", 1),
]


def rss_kib(pid, key="VmRSS"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith(key + ":"):
                    return int(ln.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class Sampler(threading.Thread):
    """Samples the daemon's VmRSS every 0.2 s."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.first = rss_kib(pid)
        self.peak = self.first
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.2):
            self.peak = max(self.peak, rss_kib(self.pid))


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.good_ok = self.good_fail = self.fault_ok = self.fault_fail = 0
        self.bytes = 0
        self.by_kind = {}
        self.failures = []

    def add(self, kind, name, ok, nbytes=0, err=None):
        with self.lock:
            if kind == "good":
                if ok:
                    self.good_ok += 1
                else:
                    self.good_fail += 1
            elif ok:
                self.fault_ok += 1
            else:
                self.fault_fail += 1
            self.bytes += nbytes
            key = "%s %s" % (kind, name)
            ok_n, fail_n = self.by_kind.get(key, (0, 0))
            self.by_kind[key] = (ok_n + (1 if ok else 0), fail_n + (0 if ok else 1))
            if not ok:
                self.failures.append("%s %s: %s" % (kind, name, err))


def one_session(c, spec, stats):
    kind, name, args = spec
    try:
        if kind == "good" and name == "handoff":
            up, down, close_first = args
            fp.good_handoff(c, up, down, close_first)
            stats.add(kind, name, True, up + down)
        elif kind == "good":
            fp.good_tcp(c, args[0])
            stats.add(kind, name, True, 2 * args[0])
        else:
            _, fn = fp.SCENARIOS[name]
            if name.startswith("never-read"):
                fp.r_never_read(c, fp.TCP if name.endswith("-tcp") else fp.HANDOFF,
                                parallel_good=False)
            else:
                fn(c)
            stats.add(kind, name, True)
    except (fp.Failure, OSError, ssl.SSLError, ValueError) as e:
        stats.add(kind, name, False, err=e)


def soak(c, args):
    rng = random.Random(args.seed)
    names = [n for n, w in SOAK_FAULTS for _ in range(w)]
    specs = []
    for _ in range(args.sessions):
        if rng.random() < args.fault_ratio:
            specs.append(("fault", rng.choice(names), None))
        elif rng.random() < 0.5:
            specs.append(("good", "handoff", (fp.random_size(rng, 1, args.max_bytes),
                                              fp.random_size(rng, 1, args.max_bytes),
                                              rng.choice(("local", "remote")))))
        else:
            specs.append(("good", "tcp", (fp.random_size(rng, 1, args.max_bytes),)))
    work = queue.Queue()
    for s in specs:
        work.put(s)
    stats = Stats()
    sampler = Sampler(args.pid) if args.pid else None
    if sampler:
        sampler.start()
    done = threading.Event()

    def worker():
        while not done.is_set():
            try:
                spec = work.get_nowait()
            except queue.Empty:
                return
            one_session(c, spec, stats)

    def progress():
        last = 0
        while not done.wait(10):
            with stats.lock:
                n = stats.good_ok + stats.good_fail + stats.fault_ok + stats.fault_fail
            print("soak: %d/%d sessions after %.0fs (%d failed)" % (
                n, args.sessions, time.monotonic() - start,
                stats.good_fail + stats.fault_fail), flush=True)
            if n == last:
                print("soak: no progress in 10s", flush=True)
            last = n

    start = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    threading.Thread(target=progress, daemon=True).start()
    for t in threads:
        t.join(max(1.0, start + args.deadline - 30 - time.monotonic()))
    done.set()
    elapsed = time.monotonic() - start
    if sampler:
        sampler.stop.set()
    stuck = sum(1 for t in threads if t.is_alive())
    n = stats.good_ok + stats.good_fail + stats.fault_ok + stats.fault_fail
    print("soak: %d sessions in %.1fs (%.1f sessions/s), concurrency %d" % (
        n, elapsed, n / elapsed, args.concurrency))
    print("soak: good: %d ok, %d failed; faulty peers: %d handled as specified, %d not" % (
        stats.good_ok, stats.good_fail, stats.fault_ok, stats.fault_fail))
    print("soak: %.1f MiB of plaintext moved by good sessions (%.2f MiB/s)" % (
        stats.bytes / 1048576.0, stats.bytes / 1048576.0 / elapsed))
    kinds = sorted(stats.by_kind.items())
    print("soak: by kind: " + ", ".join(
        "%s %d%s" % (k, ok, "" if not bad else "/%d FAILED" % bad) for k, (ok, bad) in kinds))
    if sampler:
        print("soak: daemon RSS: %.1f MiB at the start, peak %.1f MiB (sampled), VmHWM %.1f MiB"
              % (sampler.first / 1024.0, sampler.peak / 1024.0,
                 rss_kib(args.pid, "VmHWM") / 1024.0))
        print("SOAK_RSS_PEAK_KIB=%d" % sampler.peak)
    for f in stats.failures[:30]:
        print("soak: FAIL: %s" % f)
    if stuck:
        print("soak: FAIL: %d client threads still running at the deadline" % stuck)
    ok = not stats.failures and not stuck and n == args.sessions
    print("soak: %s" % ("PASS" if ok else "FAIL"), flush=True)
    return 0 if ok else 1


def paused(c, args):
    """args.paused sessions move half their bytes, wait for the go file,
    then finish."""
    n = args.paused
    go = threading.Event()
    count_lock = threading.Lock()
    at_half = [0]
    results = [None] * n

    def half_way():
        with count_lock:
            at_half[0] += 1
            if at_half[0] == n:
                print("ALL PAUSED %d" % n, flush=True)

    def wait_go():
        if not go.wait(args.deadline):
            raise fp.Failure("no go signal")

    def session(i):
        try:
            size = args.bytes
            h1 = size // 2
            if i % 2 == 0:
                h = fp.Handoff(c)
                try:
                    h.ready(t1=60, t2=300)
                    tls = fp.tls_handshake(h.remote, c.io)
                    h.remote = tls
                    a, b = os.urandom(size), os.urandom(size)     # to local, to remote
                    for lo, hi in ((0, h1), (h1, size)):
                        if lo:
                            wait_go()
                        fp.pump([fp.End(h.local, "local", tx=b[lo:hi], rx_len=hi - lo,
                                        rx_digest=hashlib.sha256(a[lo:hi]).digest()),
                                 fp.End(tls, "remote", tx=a[lo:hi], rx_len=hi - lo,
                                        rx_digest=hashlib.sha256(b[lo:hi]).digest())],
                                c.io + args.deadline)
                        if not lo:
                            half_way()
                    h.local.close()
                    h.local = None
                    fp.expect_close_notify(tls, c.io, "remote after local close")
                finally:
                    h.close()
            else:
                sock = socket.create_connection(c.good_connect, timeout=c.io)
                tls = fp.tls_handshake(sock, c.io)
                try:
                    data = os.urandom(size)
                    for lo, hi in ((0, h1), (h1, size)):
                        if lo:
                            wait_go()
                        fp.pump([fp.End(tls, "echo", tx=data[lo:hi], rx_len=hi - lo,
                                        rx_digest=hashlib.sha256(data[lo:hi]).digest())],
                                c.io + args.deadline)
                        if not lo:
                            half_way()
                finally:
                    fp.tls_close(tls, c.io)
            results[i] = True
        except (fp.Failure, OSError, ssl.SSLError) as e:
            results[i] = "%s session %d: %s" % ("handoff" if i % 2 == 0 else "TCP", i, e)
            half_way()

    start = time.monotonic()
    threads = []
    for i in range(n):
        t = threading.Thread(target=session, args=(i,), daemon=True)
        t.start()
        threads.append(t)
        if i % 16 == 15:
            time.sleep(0.05)   # do not flood the listen backlogs
    end = start + args.deadline
    while time.monotonic() < end and not os.path.exists(args.go_file):
        time.sleep(0.05)
    go.set()
    print("go after %.1fs" % (time.monotonic() - start), flush=True)
    t0 = time.monotonic()
    for t in threads:
        t.join(max(0.1, end - time.monotonic()))
    bad = [r for r in results if r is not True]
    print("%d of %d sessions complete and byte-exact (%d KiB each way each); second half took %.2fs"
          % (n - len(bad), n, args.bytes // 1024, time.monotonic() - t0))
    for r in bad[:20]:
        print("FAIL: %s" % (r or "did not finish"))
    print("PASS" if not bad else "FAIL", flush=True)
    return 0 if not bad else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", required=True, help="handoff socket")
    ap.add_argument("--connect", required=True, help="TCP frontend HOST:PORT (echo backend)")
    ap.add_argument("--fault-connect", help="TCP frontend with short handshake/idle timeouts "
                    "(--handshake, --idle) for the faulty TCP peers (default: --connect)")
    ap.add_argument("--handshake", type=float, default=2)
    ap.add_argument("--idle", type=float, default=3)
    ap.add_argument("--timeout1", type=int, default=1, help="Q1 handshake timeout of faulty "
                    "handoff peers that stall")
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=48)
    ap.add_argument("--fault-ratio", type=float, default=0.2)
    ap.add_argument("--max-bytes", type=int, default=256 * 1024)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--pid", type=int, default=0, help="the daemon, for RSS samples")
    ap.add_argument("--paused", type=int, default=0, metavar="N")
    ap.add_argument("--go-file")
    ap.add_argument("--bytes", type=int, default=65536, help="paused: bytes each way")
    ap.add_argument("--slack", type=float, default=5)
    ap.add_argument("--io-timeout", type=float, default=60)
    ap.add_argument("--openssl", default="openssl")
    ap.add_argument("--deadline", type=float, default=600)
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    if args.paused and not args.go_file:
        ap.error("--paused needs --go-file")
    if not 1 <= args.concurrency <= 1000 or not 0 <= args.sessions <= 1000000:
        ap.error("bad --concurrency or --sessions")

    c = fp.Conf(socket_path=args.socket, connect=fp.addr_of(args.fault_connect or args.connect),
                good_connect=fp.addr_of(args.connect), timeout1=args.timeout1,
                slack=args.slack, io_timeout=args.io_timeout, idle=args.idle,
                handshake=args.handshake, openssl=args.openssl, verbose=False)

    def overall_timeout():
        print("FAIL: the run exceeded --deadline %ss" % args.deadline, flush=True)
        os._exit(1)
    watchdog = threading.Timer(args.deadline, overall_timeout)
    watchdog.daemon = True
    watchdog.start()
    if args.paused:
        return paused(c, args)
    print("soak: %d sessions, concurrency %d, %.0f%% faulty, sizes 1..%d bytes, seed %d"
          % (args.sessions, args.concurrency, 100 * args.fault_ratio, args.max_bytes, args.seed),
          flush=True)
    return soak(c, args)


if __name__ == "__main__":
    sys.exit(main())
