#!/usr/bin/env python3
"""Fault-injection peers for the tlsproxy daemon.

    fault_peer.py --scenario NAME [--socket PATH] [--connect HOST:PORT]
                  [--good-connect HOST:PORT] [--timeout1 N] [--slack N] ...

Each scenario plays one misbehaving party against a running daemon:
a local handoff client (--socket, the role of postscreen(8)) or a remote
TLS peer, either on the socket passed to the daemon (handoff scenarios)
or on a TCP frontend listener (--connect; "-tcp" scenarios). It prints
"endpoint=[ADDR]:PORT" when the daemon logs the session under a known
peer name, then what it saw. Afterwards (unless --no-good) one good,
byte-exact session of the same kind runs (handoff on --socket, TCP on
--good-connect), to show that the daemon keeps serving.

Exit status: 0 when the daemon behaved as specified, 1 on a deviation
(a line "FAIL: ..." says which), 2 on usage errors. Every wait is
bounded; the whole run is bounded by --deadline.

The scenario functions and the good sessions are also used by soak.py.
Run with --list for the scenarios.
"""

import argparse
import hashlib
import os
import random
import select
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

ANNOUNCE = b"protocol\0tlsproxy_protocol\0\0"
STATUS_OK = b"status\0" b"1\0\0"
STATUS_OFF = b"status\0" b"0\0\0"
NOT_TLS = b"EHLO client.example\r\nTHIS IS NOT TLS\r\n"
# A fatal handshake_failure alert in a TLS 1.0 record, sent instead of a
# ClientHello.
FATAL_ALERT = bytes([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28])
CHUNK = 16384

PRINT_LOCK = threading.Lock()


class Failure(Exception):
    """The daemon did not behave as specified."""


class Conf:
    """Where the daemon is and how long things may take."""

    def __init__(self, socket_path=None, connect=None, good_connect=None,
                 timeout1=2, slack=5.0, io_timeout=20.0, idle=3.0,
                 handshake=2.0, openssl="openssl", verbose=True, prefix=""):
        self.socket = socket_path
        self.connect = connect            # (host, port): faulty TCP listener
        self.good_connect = good_connect  # (host, port): listener for good sessions
        self.timeout1 = timeout1          # handoff handshake timeout (Q1)
        self.slack = slack
        self.io = io_timeout
        self.idle = idle                  # idle timeout of the --connect listener
        self.handshake = handshake        # handshake timeout of --connect
        self.openssl = openssl
        self.verbose = verbose
        self.prefix = prefix
        self.endpoint = None              # the last "endpoint=" reported

    def say(self, msg):
        if msg.startswith("endpoint="):
            self.endpoint = msg[len("endpoint="):]
        if self.verbose:
            with PRINT_LOCK:
                print("%s%s" % (self.prefix, msg), flush=True)


# ----------------------------------------------------------- small helpers

def attr_record(pairs):
    """(name, value) pairs as one attr0 record; values may be bytes."""
    out = bytearray()
    for name, value in pairs:
        name = name if isinstance(name, bytes) else str(name).encode()
        value = value if isinstance(value, bytes) else str(value).encode()
        out += name + b"\0" + value + b"\0"
    return bytes(out + b"\0")


def request(endpoint, flags=1, t1=300, t2=300, serverid="smtpd"):
    return attr_record([("remote_endpoint", endpoint), ("flags", flags),
                        ("timeout", t1), ("timeout", t2), ("serverid", serverid)])


def addr_of(spec):
    host, _, port = spec.rpartition(":")
    return host.strip("[]"), int(port)


def endpoint_of(sock):
    """The daemon's name for a loopback IPv4 peer socket."""
    host, port = sock.getsockname()[:2]
    return "[%s]:%d" % (host, port)


def loopback_pair(timeout=10.0):
    """A connected loopback TCP pair: (client end, server end)."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        ls.settimeout(timeout)
        client = socket.create_connection(ls.getsockname(), timeout=timeout)
        server, _ = ls.accept()
    finally:
        ls.close()
    server.settimeout(timeout)
    return client, server


def rst_close(sock):
    """Close with SO_LINGER 0: the kernel sends a TCP reset."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def recv_exact(sock, n, timeout, what):
    end = time.monotonic() + timeout
    buf = bytearray()
    while len(buf) < n:
        left = end - time.monotonic()
        if left <= 0:
            raise Failure("no %s within %.1fs (got %r)" % (what, timeout, bytes(buf)))
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(buf))
        except socket.timeout:
            continue
        except ConnectionResetError:
            raise Failure("connection reset while reading %s (got %r)" % (what, bytes(buf)))
        if not chunk:
            raise Failure("EOF while reading %s (got %r)" % (what, bytes(buf)))
        buf += chunk
    return bytes(buf)


def wait_eof(sock, timeout, what, limit=1 << 20):
    """Read until the peer closes; return (bytes read, seconds)."""
    start = time.monotonic()
    got = bytearray()
    while True:
        left = start + timeout - time.monotonic()
        if left <= 0:
            raise Failure("%s still open after %.1fs (%d bytes received)"
                          % (what, timeout, len(got)))
        sock.settimeout(min(left, 1.0))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return bytes(got), time.monotonic() - start
        if not chunk:
            return bytes(got), time.monotonic() - start
        got += chunk
        if len(got) > limit:
            raise Failure("%s keeps sending data (%d bytes)" % (what, len(got)))


def expect_closed_quiet(sock, timeout, what):
    """The peer must close sock without sending anything."""
    got, secs = wait_eof(sock, timeout, what)
    if got:
        raise Failure("%s got %d bytes before the close: %r" % (what, len(got), got[:48]))
    return secs


def wait_hangup(sock, timeout, what):
    """Wait for the peer's close without reading (poll for HUP/RDHUP/ERR)."""
    p = select.poll()
    p.register(sock.fileno(), select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    start = time.monotonic()
    while True:
        left = start + timeout - time.monotonic()
        if left <= 0:
            raise Failure("%s still open after %.1fs" % (what, timeout))
        for _, ev in p.poll(min(left, 1.0) * 1000):
            if ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR):
                return time.monotonic() - start


def send_tolerant(sock, data, timeout):
    """sendall that accepts the daemon closing on us; False if it did."""
    sock.settimeout(timeout)
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return False
    except socket.timeout:
        raise Failure("the daemon stopped reading but kept the socket open")
    return True


def fd_released(remote, timeout, what):
    """remote is the peer of a socket we passed and closed our copy of:
    it sees EOF only once nobody (the daemon included) holds the socket."""
    try:
        wait_eof(remote, timeout, what)
    except Failure:
        raise Failure("%s: the daemon still holds the passed descriptor" % what)
    finally:
        remote.close()


# ----------------------------------------------------------- TLS records

GROUPS = [0x001d, 0x0017, 0x0018]                     # x25519, P-256, P-384
SIGALGS = [0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0403, 0x0503]
CIPHERS = [0xc02f, 0xc030, 0xc02b, 0xc02c, 0x009e, 0x009f, 0x00ff]


def ext(etype, body):
    return struct.pack("!HH", etype, len(body)) + body


def client_hello_body(extra_ciphers=0, unknown_exts=0, unknown_size=0, padding=0):
    """A TLS 1.2 ClientHello body that any TLS 1.2 server can answer
    (ECDHE with RSA or ECDSA, GCM). It can be inflated with unknown
    cipher suites, unknown extensions and a padding extension."""
    suites = list(CIPHERS) + [0x7000 + (i % 0x0fff) for i in range(extra_ciphers)]
    exts = bytearray()
    exts += ext(0x000a, struct.pack("!H", 2 * len(GROUPS)) + b"".join(
        struct.pack("!H", g) for g in GROUPS))
    exts += ext(0x000b, b"\x01\x00")
    exts += ext(0x000d, struct.pack("!H", 2 * len(SIGALGS)) + b"".join(
        struct.pack("!H", s) for s in SIGALGS))
    exts += ext(0x0017, b"")                           # extended master secret
    for i in range(unknown_exts):
        exts += ext(0x6000 + i, bytes([i & 0xff]) * unknown_size)
    if padding:
        exts += ext(0x0015, b"\0" * padding)
    body = bytearray(b"\x03\x03" + os.urandom(32) + b"\x00")
    body += struct.pack("!H", 2 * len(suites)) + b"".join(struct.pack("!H", c) for c in suites)
    body += b"\x01\x00"
    body += struct.pack("!H", len(exts)) + exts
    return bytes(body)


def handshake_msg(mtype, body, declared=None):
    n = len(body) if declared is None else declared
    return bytes([mtype]) + n.to_bytes(3, "big") + body


def records(ctype, data, version=b"\x03\x01"):
    """Split data into TLS records of at most 2^14 bytes."""
    out = bytearray()
    for i in range(0, len(data), CHUNK):
        frag = data[i:i + CHUNK]
        out += bytes([ctype]) + version + struct.pack("!H", len(frag)) + frag
    return bytes(out)


def client_hello(**kw):
    return records(0x16, handshake_msg(1, client_hello_body(**kw)))


def read_record_header(sock, timeout, what):
    """(content type, first payload byte or None) of the first record."""
    hdr = recv_exact(sock, 5, timeout, what)
    first = recv_exact(sock, 1, timeout, what) if struct.unpack("!H", hdr[3:5])[0] else b""
    return hdr[0], (first[0] if first else None)


def client_context(tls_max=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if tls_max:
        ctx.maximum_version = tls_max
    return ctx


CLIENT_CTX = client_context()


def tls_handshake(sock, timeout, what="TLS handshake"):
    tls = CLIENT_CTX.wrap_socket(sock, do_handshake_on_connect=False,
                                 suppress_ragged_eofs=False)
    tls.settimeout(timeout)
    try:
        tls.do_handshake()
    except socket.timeout:
        tls.close()
        raise Failure("%s timed out after %.0fs" % (what, timeout))
    except (ssl.SSLError, OSError) as e:
        tls.close()
        raise Failure("%s failed: %s" % (what, e))
    return tls


# ----------------------------------------------------------- data pump

class End:
    """One socket of a transfer: bytes to send, and what must arrive."""

    def __init__(self, sock, name, tx=b"", rx_len=0, rx_digest=None):
        self.sock = sock
        self.name = name
        self.tx = memoryview(tx)
        self.sent = 0
        self.rx_len = rx_len
        self.rx_digest = rx_digest
        self.got = 0
        self.hash = hashlib.sha256()
        self.write_wants_read = False

    def done(self):
        return self.sent >= len(self.tx) and self.got >= self.rx_len


def pump(ends, timeout, limit_rx=None):
    """Move every End's tx while reading its rx, in one thread, until all
    is done (or, with limit_rx, until each End has received that much).
    Received data is checked by length and SHA-256."""
    for e in ends:
        e.sock.setblocking(False)
    end_time = time.monotonic() + timeout

    def finished():
        if limit_rx is not None:
            return all(e.got >= min(limit_rx, e.rx_len) for e in ends)
        return all(e.done() for e in ends)

    while not finished():
        progress = False
        for e in ends:
            if e.sent < len(e.tx):
                try:
                    n = e.sock.send(e.tx[e.sent:e.sent + CHUNK])
                    e.write_wants_read = False
                except (ssl.SSLWantWriteError, BlockingIOError, InterruptedError):
                    n = 0
                except ssl.SSLWantReadError:
                    n = 0
                    e.write_wants_read = True
                except (ssl.SSLError, OSError) as x:
                    raise Failure("%s: write error after %d/%d bytes: %s"
                                  % (e.name, e.sent, len(e.tx), x))
                if n:
                    e.sent += n
                    progress = True
            for _ in range(16):
                if e.got >= e.rx_len:
                    break
                try:
                    data = e.sock.recv(65536)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                        BlockingIOError, InterruptedError):
                    break
                except ssl.SSLEOFError:
                    raise Failure("%s: TCP closed without close_notify after %d/%d bytes"
                                  % (e.name, e.got, e.rx_len))
                except (ssl.SSLError, OSError) as x:
                    raise Failure("%s: read error after %d/%d bytes: %s"
                                  % (e.name, e.got, e.rx_len, x))
                if not data:
                    raise Failure("%s: EOF after %d/%d bytes" % (e.name, e.got, e.rx_len))
                if e.got + len(data) > e.rx_len:
                    raise Failure("%s: %d bytes more than expected"
                                  % (e.name, e.got + len(data) - e.rx_len))
                e.hash.update(data)
                e.got += len(data)
                progress = True
        if progress:
            continue
        left = end_time - time.monotonic()
        if left <= 0:
            raise Failure("transfer timed out after %.0fs: %s" % (timeout, ", ".join(
                "%s sent %d/%d got %d/%d" % (e.name, e.sent, len(e.tx), e.got, e.rx_len)
                for e in ends)))
        rl = [e.sock for e in ends if e.got < e.rx_len or e.write_wants_read]
        wl = [e.sock for e in ends if e.sent < len(e.tx)]
        select.select(rl, wl, [], min(left, 0.5))
    if limit_rx is None:
        for e in ends:
            if e.rx_len and e.hash.digest() != e.rx_digest:
                raise Failure("%s: %d bytes received but the SHA-256 differs" % (e.name, e.got))
    for e in ends:
        e.sock.setblocking(True)


def expect_close_notify(tls, timeout, what):
    """Our side ended the session: the daemon must send close_notify."""
    tls.settimeout(timeout)
    try:
        data = tls.recv(65536)
    except socket.timeout:
        raise Failure("%s: no close_notify within %.0fs" % (what, timeout))
    except ssl.SSLEOFError:
        raise Failure("%s: TCP closed without close_notify" % what)
    except (ssl.SSLError, OSError) as e:
        raise Failure("%s: error instead of close_notify: %s" % (what, e))
    if data:
        raise Failure("%s: %d unexpected bytes instead of close_notify" % (what, len(data)))


def tls_close(tls, timeout):
    tls.settimeout(timeout)
    try:
        tls.unwrap()
    except (ssl.SSLError, OSError, ValueError):
        pass
    tls.close()


def random_size(rng, lo=1, hi=256 * 1024):
    """Log-uniform in [lo, hi]: small and large sizes equally often."""
    return max(lo, min(hi, int(2 ** rng.uniform(0, hi.bit_length() - 1))))


# ----------------------------------------------------------- handoff client

class Handoff:
    """A local client, step by step as postscreen(8) does it."""

    def __init__(self, c, tcp=True):
        self.c = c
        self.local = None
        self.remote = None   # our remote-client end of the TCP connection
        self.passed = None   # the end handed to the daemon
        if tcp:
            self.remote, self.passed = loopback_pair()
            self.endpoint = endpoint_of(self.remote)
        else:
            self.endpoint = "[127.0.0.1]:%d" % random.randint(1024, 65535)

    def connect(self):
        self.local = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.local.settimeout(self.c.io)
        try:
            self.local.connect(self.c.socket)
        except OSError as e:
            raise Failure("connect to %s: %s" % (self.c.socket, e))
        return self

    def announce(self):
        r1 = recv_exact(self.local, len(ANNOUNCE), self.c.io, "R1")
        if r1 != ANNOUNCE:
            raise Failure("R1 is %r" % r1)
        return self

    def send_request(self, t1=None, t2=300):
        self.local.settimeout(self.c.io)
        self.local.sendall(request(self.endpoint, 1,
                                   self.c.timeout1 if t1 is None else t1, t2))
        return self

    def status(self, expected=STATUS_OK):
        r2 = recv_exact(self.local, len(STATUS_OK), self.c.io, "R2")
        if r2 != expected:
            raise Failure("R2 is %r, expected %r" % (r2, expected))
        return self

    def pass_fd(self, fd=None, data=b"\0"):
        fd = self.passed.fileno() if fd is None else fd
        socket.send_fds(self.local, [data], [fd])
        return self

    def drop_passed(self):
        if self.passed is not None:
            self.passed.close()
            self.passed = None

    def ready(self, t1=None, t2=300):
        """R1, Q1, R2 status=1, descriptor passed: the daemon now owns it."""
        self.connect().announce().send_request(t1, t2).status()
        self.pass_fd()
        self.drop_passed()
        return self

    def close(self):
        for s in (self.local, self.remote, self.passed):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self.local = self.remote = self.passed = None


# ----------------------------------------------------------- good sessions

def good_handoff(c, up=65536, down=65536, close_first="local", t2=300):
    """A complete handoff session; up bytes remote->local and down bytes
    local->remote at the same time, both checked by SHA-256."""
    h = Handoff(c)
    try:
        h.ready(t1=max(c.timeout1, 30), t2=t2)
        tls = tls_handshake(h.remote, c.io)
        h.remote = tls
        to_local, to_remote = os.urandom(up), os.urandom(down)
        pump([End(h.local, "local", tx=to_remote, rx_len=up,
                  rx_digest=hashlib.sha256(to_local).digest()),
              End(tls, "remote", tx=to_local, rx_len=down,
                  rx_digest=hashlib.sha256(to_remote).digest())], c.io)
        if close_first == "local":
            h.local.close()
            h.local = None
            expect_close_notify(tls, c.io, "remote after local close")
        else:
            tls_close(tls, c.io)
            h.remote = None
            got, _ = wait_eof(h.local, c.io, "local socket after remote close")
            if got:
                raise Failure("local socket got %d bytes after the remote close" % len(got))
        return h.endpoint
    finally:
        h.close()


def good_tcp(c, nbytes=65536, addr=None):
    """A complete TCP frontend session: nbytes echoed, checked by SHA-256."""
    sock = socket.create_connection(addr or c.good_connect, timeout=c.io)
    ep = endpoint_of(sock)
    tls = tls_handshake(sock, c.io)
    try:
        data = os.urandom(nbytes)
        pump([End(tls, "echo", tx=data, rx_len=nbytes,
                  rx_digest=hashlib.sha256(data).digest())], c.io)
    finally:
        tls_close(tls, c.io)
    return ep


# ----------------------------------------------------------- handoff faults:
# the request phase. The daemon must close the local socket without
# replying (after R1).

def h_protocol_error(c, payload, shut=False):
    h = Handoff(c, tcp=False)
    try:
        h.connect().announce()
        send_tolerant(h.local, payload, c.io)
        if shut:
            h.local.shutdown(socket.SHUT_WR)
        secs = expect_closed_quiet(h.local, c.io, "local socket")
        return "closed without a reply after %.2fs" % secs
    finally:
        h.close()


def sc_trunc_record(c):
    """Q1 without its terminating NUL, then end of input."""
    return h_protocol_error(c, request("[127.0.0.1]:25")[:-1], shut=True)


def sc_trunc_value(c):
    """Q1 cut in the middle of a value, then end of input."""
    return h_protocol_error(c, request("[127.0.0.1]:25")[:22], shut=True)


def sc_missing_attrs(c):
    """A complete record that lacks the timeouts and serverid."""
    return h_protocol_error(c, attr_record([("remote_endpoint", "[127.0.0.1]:25"),
                                            ("flags", 1)]))


def sc_long_name(c):
    """An attribute name of 70 KiB."""
    return h_protocol_error(c, b"n" * (70 * 1024) + b"\0v\0\0")


def sc_long_value(c):
    """remote_endpoint with a 70 KiB value."""
    return h_protocol_error(c, attr_record([("remote_endpoint", b"1" * (70 * 1024))]))


def sc_many_attrs(c):
    """2000 attributes in one record."""
    return h_protocol_error(c, attr_record([("x%d" % i, "y") for i in range(2000)]))


def sc_big_request(c):
    """Five 60 KiB attributes (each within the value limit): 300 KiB."""
    return h_protocol_error(c, attr_record([("x%d" % i, b"v" * 60000) for i in range(5)]))


def sc_fd_with_request(c):
    """Q1 and a descriptor in the same message."""
    h = Handoff(c)
    try:
        h.connect().announce()
        socket.send_fds(h.local, [request(h.endpoint)], [h.passed.fileno()])
        h.drop_passed()
        secs = expect_closed_quiet(h.local, c.io, "local socket")
        fd_released(h.remote, c.io, "passed socket")
        h.remote = None
        return "closed without a reply after %.2fs; the descriptor was closed" % secs
    finally:
        h.close()


# ----------------------------------------------------------- handoff faults:
# the descriptor phase (after status=1).

def h_after_status(c, t1=None, t2=300):
    h = Handoff(c)
    h.connect().announce().send_request(t1=t1, t2=t2).status()
    c.say("endpoint=%s" % h.endpoint)
    return h


def sc_fd_file(c):
    """A regular file instead of the socket."""
    h = h_after_status(c)
    try:
        with tempfile.TemporaryFile() as f:
            h.pass_fd(f.fileno())
        secs = expect_closed_quiet(h.local, c.io, "local socket")
        return "local socket closed without data after %.2fs" % secs
    finally:
        h.close()


def sc_fd_pipe(c):
    """A pipe instead of the socket."""
    h = h_after_status(c)
    try:
        rfd, wfd = os.pipe()
        try:
            h.pass_fd(rfd)
        finally:
            os.close(rfd)
            os.close(wfd)
        secs = expect_closed_quiet(h.local, c.io, "local socket")
        return "local socket closed without data after %.2fs" % secs
    finally:
        h.close()


def sc_fd_udp(c):
    """A connected UDP socket instead of the TCP one."""
    h = h_after_status(c)
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.connect(("127.0.0.1", 9))
        try:
            h.pass_fd(u.fileno())
        finally:
            u.close()
        secs = expect_closed_quiet(h.local, c.io, "local socket")
        return "local socket closed without data after %.2fs" % secs
    finally:
        h.close()


def sc_fd_listen(c):
    """A listening TCP socket (a stream socket, but not a connection):
    refused at once, not kept until the handshake deadline."""
    h = h_after_status(c, t1=60)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        ls.bind(("127.0.0.1", 0))
        ls.listen(4)
        port = ls.getsockname()[1]
        h.pass_fd(ls.fileno())
        ls.close()
        ls = None
        secs = expect_closed_quiet(h.local, c.slack, "local socket")
        # Once the daemon let go of it, nobody listens on the port.
        end = time.monotonic() + c.slack
        while True:
            try:
                probe = socket.create_connection(("127.0.0.1", port), timeout=1)
                probe.close()
            except ConnectionRefusedError:
                break
            if time.monotonic() > end:
                raise Failure("the passed listening socket is still open in the daemon")
            time.sleep(0.1)
        return "local socket closed without data after %.2fs; the listener was closed" % secs
    finally:
        if ls is not None:
            ls.close()
        h.close()


def sc_fd_unconnected(c):
    """A TCP socket that was never connected: refused at once."""
    h = h_after_status(c, t1=60)
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            h.pass_fd(s.fileno())
        finally:
            s.close()
        secs = expect_closed_quiet(h.local, c.slack, "local socket")
        return "local socket closed without data after %.2fs" % secs
    finally:
        h.close()


def sc_fd_two_in_one(c):
    """Two descriptors in one SCM_RIGHTS message."""
    h = h_after_status(c)
    r2, p2 = loopback_pair()
    try:
        socket.send_fds(h.local, [b"\0"], [h.passed.fileno(), p2.fileno()])
        h.drop_passed()
        p2.close()
        secs = expect_closed_quiet(h.local, c.io, "local socket")
        fd_released(h.remote, c.io, "first passed socket")
        h.remote = None
        fd_released(r2, c.io, "second passed socket")
        return "closed without data after %.2fs; both descriptors closed" % secs
    finally:
        h.close()


def sc_fd_many(c):
    """Twelve descriptors in one message (more than any control buffer
    for one descriptor holds)."""
    h = h_after_status(c)
    pairs = [loopback_pair() for _ in range(11)]
    try:
        socket.send_fds(h.local, [b"\0"], [h.passed.fileno()] + [p.fileno() for _, p in pairs])
        h.drop_passed()
        for _, p in pairs:
            p.close()
        secs = expect_closed_quiet(h.local, c.io, "local socket")
        fd_released(h.remote, c.io, "passed socket 0")
        h.remote = None
        for i, (r, _) in enumerate(pairs):
            fd_released(r, c.io, "passed socket %d" % (i + 1))
        return "closed without data after %.2fs; all 12 descriptors closed" % secs
    finally:
        h.close()


def sc_fd_twice(c):
    """The descriptor, then a second descriptor message right after it.
    The second one must not be kept open by the daemon."""
    h = h_after_status(c, t1=30)
    r2, p2 = loopback_pair()
    try:
        h.pass_fd()
        h.drop_passed()
        socket.send_fds(h.local, [b"\0"], [p2.fileno()])
        p2.close()
        tls = tls_handshake(h.remote, c.io)
        h.remote = tls
        h.local.sendall(b"hello\r\n")
        got = bytearray()
        tls.settimeout(2)
        try:
            while len(got) < 8:
                d = tls.recv(64)
                if not d:
                    break
                got += d
        except (socket.timeout, ssl.SSLError, OSError):
            pass
        note = "the remote received %r" % bytes(got)
        h.local.close()
        h.local = None
        try:
            expect_close_notify(tls, c.io, "remote")
        except Failure as e:
            note += "; %s" % e
        fd_released(r2, c.io, "second passed socket")
        return note + "; the second descriptor was not kept"
    finally:
        h.close()


# ----------------------------------------------------------- handoff faults:
# the local client vanishes at each step.

def sc_vanish_connect(c):
    """Connect and close at once."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(c.io)
    s.connect(c.socket)
    s.close()
    return "closed right after connect"


def sc_vanish_r1(c):
    """Close after R1."""
    h = Handoff(c, tcp=False)
    h.connect().announce()
    h.close()
    return "closed after R1"


def sc_vanish_mid_q1(c):
    """Close in the middle of Q1."""
    h = Handoff(c, tcp=False)
    h.connect().announce()
    h.local.sendall(request("[127.0.0.1]:25")[:30])
    h.close()
    return "closed in the middle of Q1"


def sc_vanish_status(c):
    """Close after status=1, without the descriptor."""
    h = h_after_status(c)
    h.close()
    return "closed after R2"


def sc_vanish_fd(c):
    """Close right after passing the descriptor, before the ClientHello;
    the handshake timeout is long, so the close must be noticed."""
    h = h_after_status(c, t1=60)
    try:
        h.pass_fd()
        h.drop_passed()
        h.local.close()
        h.local = None
        got, secs = wait_eof(h.remote, c.slack, "TCP connection")
        if got:
            raise Failure("TCP connection got %d bytes" % len(got))
        return "TCP connection closed %.2fs after the local close" % secs
    finally:
        h.close()


def sc_vanish_handshake(c):
    """Close the local socket after the server's first handshake flight."""
    h = h_after_status(c, t1=60)
    try:
        h.pass_fd()
        h.drop_passed()
        h.remote.sendall(client_hello())
        ctype, first = read_record_header(h.remote, c.io, "ServerHello")
        if (ctype, first) != (0x16, 2):
            raise Failure("expected a ServerHello, got record type %d/%r" % (ctype, first))
        h.local.close()
        h.local = None
        _, secs = wait_eof(h.remote, c.slack, "TCP connection")
        return "mid-handshake local close: TCP connection closed after %.2fs" % secs
    finally:
        h.close()


def relay_until(h, tls, nbytes):
    """Stream data both ways until each side has received nbytes."""
    big_l, big_r = os.urandom(4 << 20), os.urandom(4 << 20)
    pump([End(h.local, "local", tx=big_l, rx_len=len(big_r)),
          End(tls, "remote", tx=big_r, rx_len=len(big_l))], h.c.io, limit_rx=nbytes)


def sc_vanish_relay(c):
    """The local client closes in the middle of a bulk transfer."""
    h = h_after_status(c, t1=30)
    try:
        h.pass_fd()
        h.drop_passed()
        tls = tls_handshake(h.remote, c.io)
        h.remote = tls
        relay_until(h, tls, 256 * 1024)
        h.local.close()
        h.local = None
        tls.setblocking(True)
        start = time.monotonic()
        n = 0
        how = None
        while how is None:
            if time.monotonic() - start > c.io:
                raise Failure("remote still open %.0fs after the local close" % c.io)
            tls.settimeout(1)
            try:
                d = tls.recv(65536)
            except socket.timeout:
                continue
            except ssl.SSLEOFError:
                how = "TCP close"
                continue
            except (ssl.SSLError, OSError) as e:
                how = "error %s" % e
                continue
            if not d:
                how = "close_notify"
            n += len(d)
        return "remote ended by %s after %.2fs (%d bytes drained)" % (
            how, time.monotonic() - start, n)
    finally:
        h.close()


def sc_rst_relay(c):
    """The remote peer resets the connection in a bulk transfer."""
    h = h_after_status(c, t1=30)
    try:
        h.pass_fd()
        h.drop_passed()
        tls = tls_handshake(h.remote, c.io)
        h.remote = tls
        relay_until(h, tls, 256 * 1024)
        rst_close(tls)
        h.remote = None
        h.local.setblocking(True)
        got, secs = wait_eof(h.local, c.io, "local socket", limit=64 << 20)
        return "local socket closed %.2fs after the reset (%d bytes drained)" % (secs, len(got))
    finally:
        h.close()


# ----------------------------------------------------------- remote peers.
# Each runs either on a handed-off socket or on the TCP frontend.

class Remote:
    """A raw remote peer socket, with the handoff around it if any."""

    def __init__(self, c, target, t1=None, t2=300):
        self.c = c
        self.h = None
        if target == "handoff":
            self.h = h_after_status(c, t1=t1, t2=t2)
            self.h.pass_fd()
            self.h.drop_passed()
            self.sock = self.h.remote
            self.h.remote = None
        else:
            self.sock = socket.create_connection(c.connect, timeout=c.io)
            c.say("endpoint=%s" % endpoint_of(self.sock))

    def local_closed_quiet(self, timeout):
        """Handoff: the local socket is closed with no data."""
        if self.h is not None:
            expect_closed_quiet(self.h.local, timeout, "local socket")

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.h is not None:
            self.h.close()


def deadline_of(c, target):
    return c.timeout1 if target == "handoff" else c.handshake


def check_deadline(c, target, secs):
    lim = deadline_of(c, target)
    if secs < lim - 0.5:
        raise Failure("closed after %.2fs, before the %ss handshake deadline" % (secs, lim))
    if secs > lim + c.slack:
        raise Failure("closed after %.2fs, the handshake deadline is %ss" % (secs, lim))


def r_slowloris(c, target):
    """A partial ClientHello, then nothing: closed at the handshake deadline."""
    r = Remote(c, target)
    try:
        r.sock.sendall(client_hello()[:40])
        got, secs = wait_eof(r.sock, deadline_of(c, target) + c.slack, "TCP connection")
        check_deadline(c, target, secs)
        r.local_closed_quiet(c.slack)
        return "partial ClientHello: closed after %.2fs (%d bytes, e.g. an alert)" % (secs, len(got))
    finally:
        r.close()


def r_dribble(c, target):
    """A ClientHello one byte every 0.3 s: the deadline is not extended
    by the trickle."""
    r = Remote(c, target)
    try:
        hello = client_hello(padding=512)
        start = time.monotonic()
        lim = deadline_of(c, target) + c.slack
        sent = 0
        closed_at = None
        while sent < len(hello) and time.monotonic() - start < lim:
            try:
                r.sock.sendall(hello[sent:sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic() - start
                break
            sent += 1
            rl, _, _ = select.select([r.sock], [], [], 0.3)
            if rl:
                try:
                    if not r.sock.recv(4096):
                        closed_at = time.monotonic() - start
                        break
                except ConnectionResetError:
                    closed_at = time.monotonic() - start
                    break
        if closed_at is None:
            wait_eof(r.sock, max(0.5, lim - (time.monotonic() - start)), "TCP connection")
            closed_at = time.monotonic() - start
        check_deadline(c, target, closed_at)
        r.local_closed_quiet(c.slack)
        return "trickled %d bytes, closed after %.2fs" % (sent, closed_at)
    finally:
        r.close()


def r_nontls(c, target):
    """Plaintext instead of a ClientHello."""
    r = Remote(c, target, t1=30)
    try:
        r.sock.sendall(NOT_TLS)
        got, secs = wait_eof(r.sock, c.slack, "TCP connection")
        r.local_closed_quiet(c.slack)
        return "closed after %.2fs (%d bytes back)" % (secs, len(got))
    finally:
        r.close()


def r_alert(c, target):
    """A fatal alert instead of a ClientHello."""
    r = Remote(c, target, t1=30)
    try:
        r.sock.sendall(FATAL_ALERT)
        got, secs = wait_eof(r.sock, c.slack, "TCP connection")
        r.local_closed_quiet(c.slack)
        return "closed after %.2fs (%d bytes back)" % (secs, len(got))
    finally:
        r.close()


def r_rst(c, target):
    """A TCP reset right away."""
    r = Remote(c, target, t1=30)
    try:
        rst_close(r.sock)
        r.sock = None
        r.local_closed_quiet(c.slack)
        return "reset sent"
    finally:
        r.close()


def r_rst_handshake(c, target):
    """A ClientHello, the server's first flight, then a TCP reset."""
    r = Remote(c, target, t1=30)
    try:
        r.sock.sendall(client_hello())
        ctype, first = read_record_header(r.sock, c.io, "ServerHello")
        if (ctype, first) != (0x16, 2):
            raise Failure("expected a ServerHello, got record type %d/%r" % (ctype, first))
        rst_close(r.sock)
        r.sock = None
        r.local_closed_quiet(c.slack)
        return "reset after the ServerHello"
    finally:
        r.close()


def r_big_hello(c, target):
    """A ClientHello of about 120 KiB (thousands of cipher suites, 500
    unknown extensions, padding), in 2^14-byte records: a ServerHello
    must come back."""
    r = Remote(c, target, t1=30)
    try:
        hello = client_hello(extra_ciphers=28000, unknown_exts=500, unknown_size=100,
                             padding=9000)
        r.sock.settimeout(c.io)
        r.sock.sendall(hello)
        ctype, first = read_record_header(r.sock, c.io, "answer to the big ClientHello")
        if (ctype, first) != (0x16, 2):
            raise Failure("expected a ServerHello, got record type %d/%r" % (ctype, first))
        r.sock.close()
        r.sock = None
        r.local_closed_quiet(c.slack)
        return "%d-byte ClientHello answered with a ServerHello" % len(hello)
    finally:
        r.close()


def r_huge_hello(c, target):
    """A ClientHello header that announces 192 KiB, more than a server
    accepts: refused at once (alert and close)."""
    r = Remote(c, target, t1=30)
    try:
        body = client_hello_body(padding=16000)
        r.sock.sendall(records(0x16, handshake_msg(1, body, declared=3 << 16)))
        got, secs = wait_eof(r.sock, c.slack, "TCP connection")
        if got and got[0] != 0x15:
            raise Failure("expected an alert, got record type %d" % got[0])
        r.local_closed_quiet(c.slack)
        return "closed after %.2fs with %s" % (
            secs, "alert %d" % got[6] if len(got) >= 7 else "no alert (%d bytes)" % len(got))
    finally:
        r.close()


def r_never_read(c, target, parallel_good=True):
    """After the handshake the peer sends and never reads, so every
    buffer on the way fills up. Other sessions must go on meanwhile; the
    stuck one is ended by the idle timeout."""
    # Handoff: Q1 says timeout2=0, so the idle limit is 0 + 10 s.
    r = Remote(c, target, t1=30, t2=0)
    plain = r.h.local if r.h is not None else None
    try:
        tls = tls_handshake(r.sock, c.io)
        r.sock = tls
        tls.setblocking(False)
        blob = os.urandom(CHUNK)
        if plain is not None:
            plain.setblocking(False)
        sent = [0, 0]
        start = time.monotonic()
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 1.0:
            if time.monotonic() - start > 20 or sum(sent) > (128 << 20):
                raise Failure("the daemon kept reading %d bytes from a peer that never reads"
                              % sum(sent))
            moved = False
            try:
                sent[0] += tls.send(blob)
                moved = True
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                pass
            if plain is not None:
                try:
                    sent[1] += plain.send(blob)
                    moved = True
                except BlockingIOError:
                    pass
            if moved:
                quiet_since = time.monotonic()
            else:
                time.sleep(0.02)
        stuck_at = quiet_since
        c.say("buffers full: %d bytes in from the remote, %d from the local side" % tuple(sent))
        note = ""
        if parallel_good:
            t0 = time.monotonic()
            if target == "handoff":
                good_handoff(c, 262144, 262144)
            else:
                good_tcp(c, 262144)
            note = "; a parallel good session (256 KiB) completed meanwhile in %.2fs" % (
                time.monotonic() - t0)
        limit = 10.0 if target == "handoff" else c.idle
        wait_hangup(tls, limit + c.slack, "stuck session")
        secs = time.monotonic() - stuck_at
        if plain is not None:
            wait_hangup(plain, c.slack, "local socket of the stuck session")
        if secs < limit - 1.5:
            raise Failure("stuck session closed after %.2fs, the idle limit is %.0fs" % (secs, limit))
        return "stuck session closed %.2fs after the buffers filled (idle limit %.0fs)%s" % (
            secs, limit, note)
    finally:
        r.close()


class TcpRelay(threading.Thread):
    """Forwards one accepted connection to an address (bounded)."""

    def __init__(self, a, b, limit):
        super().__init__(daemon=True)
        self.a, self.b, self.limit = a, b, limit

    def run(self):
        end = time.monotonic() + self.limit
        socks = [self.a, self.b]
        try:
            while time.monotonic() < end:
                rl, _, _ = select.select(socks, [], [], 0.5)
                for s in rl:
                    d = s.recv(65536)
                    if not d:
                        return
                    (self.b if s is self.a else self.a).sendall(d)
        except OSError:
            pass
        finally:
            for s in socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class LocalEcho(threading.Thread):
    """The local side of a handoff session that echoes what it gets."""

    def __init__(self, sock, limit):
        super().__init__(daemon=True)
        self.sock, self.limit = sock, limit
        self.closed = threading.Event()

    def run(self):
        end = time.monotonic() + self.limit
        self.sock.settimeout(0.5)
        try:
            while time.monotonic() < end:
                try:
                    d = self.sock.recv(65536)
                except socket.timeout:
                    continue
                if not d:
                    break
                self.sock.sendall(d)
        except OSError:
            pass
        self.closed.set()


def r_reneg(c, target):
    """TLS 1.2 client-initiated renegotiation (openssl s_client, command
    "R"). The daemon refuses renegotiation: the session ends, or the
    request is turned down and the session goes on; it must not hang."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(c.io)
    proc = None
    h = None
    echo = None
    out = bytearray()
    try:
        proc = subprocess.Popen([c.openssl, "s_client", "-connect", "127.0.0.1:%d" % ls.getsockname()[1],
                                 "-tls1_2", "-no_ticket"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        acc, _ = ls.accept()
        if target == "handoff":
            h = Handoff(c, tcp=False)
            h.endpoint = "[%s]:%d" % acc.getpeername()[:2]
            h.connect().announce().send_request(t1=30).status()
            h.pass_fd(acc.fileno())
            acc.close()
            echo = LocalEcho(h.local, c.io + c.slack)
            echo.start()
            c.say("endpoint=%s" % h.endpoint)
        else:
            up = socket.create_connection(c.good_connect, timeout=c.io)
            c.say("endpoint=%s" % endpoint_of(up))
            TcpRelay(acc, up, c.io + c.slack).start()

        reader_done = threading.Event()

        def reader():
            try:
                while True:
                    d = proc.stdout.read1(4096)
                    if not d:
                        break
                    out.extend(d)
            except (OSError, ValueError):
                pass
            reader_done.set()
        threading.Thread(target=reader, daemon=True).start()

        def wait_out(text, timeout):
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if text in out:
                    return True
                if reader_done.is_set():
                    return text in out
                time.sleep(0.05)
            return False

        if not wait_out(b"SSL-Session:", c.io):
            raise Failure("s_client did not complete the handshake: %r" % bytes(out[-300:]))
        proc.stdin.write(b"ping-before\n")
        proc.stdin.flush()
        if not wait_out(b"ping-before\n", c.io) or out.count(b"ping-before") < 1:
            raise Failure("no echo before the renegotiation")
        before = len(out)
        proc.stdin.write(b"R\n")
        proc.stdin.flush()
        if not wait_out(b"RENEGOTIATING", c.slack):
            raise Failure("s_client did not try to renegotiate")
        # Either s_client exits (the session ended) or the session survives
        # the refused renegotiation and still echoes.
        try:
            rc = proc.wait(timeout=c.slack)
            outcome = "session ended (s_client exit %d)" % rc
        except subprocess.TimeoutExpired:
            try:
                proc.stdin.write(b"ping-after\n")
                proc.stdin.flush()
            except OSError:
                pass
            if wait_out(b"ping-after\n", c.slack):
                outcome = "renegotiation refused, the session goes on"
                proc.stdin.close()
                try:
                    proc.wait(timeout=c.slack)
                except subprocess.TimeoutExpired:
                    raise Failure("s_client still running after closing its input")
            else:
                raise Failure("the session hangs after the renegotiation request: %r"
                              % bytes(out[before:])[-300:])
        tail = bytes(out[before:]).decode("latin-1")
        why = [ln.strip() for ln in tail.splitlines()
               if "error" in ln.lower() or "alert" in ln.lower() or "renegotiat" in ln.lower()]
        if echo is not None:
            if not echo.closed.wait(c.slack):
                raise Failure("the local socket is still open after the session ended")
        return "%s; s_client: %s" % (outcome, " | ".join(why[:3]) or "-")
    finally:
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for f in (proc.stdin, proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
        ls.close()
        if h is not None:
            h.close()


def r_vanish_relay_tcp(c, target):
    """The TCP client resets in the middle of an echo transfer."""
    sock = socket.create_connection(c.connect, timeout=c.io)
    c.say("endpoint=%s" % endpoint_of(sock))
    tls = tls_handshake(sock, c.io)
    data = os.urandom(2 << 20)
    try:
        pump([End(tls, "echo", tx=data, rx_len=len(data))], c.io, limit_rx=256 * 1024)
    finally:
        rst_close(tls)
    return "reset after 256 KiB echoed"


# ----------------------------------------------------------- many peers

def hold_many(c, count, hold_file, hold_max, target="tcp"):
    """Open count silent connections, hold them until hold_file exists
    (at most hold_max seconds), then close them all."""
    socks = []
    failed = 0
    try:
        for _ in range(count):
            try:
                if target == "tcp":
                    s = socket.create_connection(c.connect, timeout=5)
                else:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.settimeout(5)
                    s.connect(c.socket)
                socks.append(s)
            except OSError:
                failed += 1
        c.say("HOLDING %d connections (%d connects failed)" % (len(socks), failed))
        end = time.monotonic() + hold_max
        while time.monotonic() < end and not os.path.exists(hold_file):
            time.sleep(0.1)
        closed = sum(1 for s in socks if s.fileno() >= 0 and peer_closed(s))
        return "held %d connections; %d were closed by the daemon meanwhile" % (len(socks), closed)
    finally:
        for s in socks:
            s.close()


def peer_closed(s):
    rl, _, _ = select.select([s], [], [], 0)
    if not rl:
        return False
    try:
        s.setblocking(False)
        return s.recv(4096, socket.MSG_PEEK) == b""
    except (BlockingIOError, OSError):
        return True


def session_flood(c, n_handoff, n_tcp, max_sessions):
    """Silent clients beyond tlsproxy_max_sessions: the first ones are
    served (R1, then they wait without a worker), the extra ones are
    refused at once (handoff: R1 and status=0; TCP: closed). A good
    client is refused too while it is full; after the flood goes away,
    good sessions work again."""
    held = []
    served = ref_h = ref_t = 0
    try:
        for i in range(n_handoff):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(c.socket)
            held.append(s)
            got = bytearray()
            end = time.monotonic() + 0.5
            while time.monotonic() < end and len(got) < len(ANNOUNCE + STATUS_OFF):
                s.settimeout(max(0.01, end - time.monotonic()))
                try:
                    d = s.recv(64)
                except socket.timeout:
                    break
                if not d:
                    break
                got += d
            if got == ANNOUNCE + STATUS_OFF:
                ref_h += 1
            elif got == ANNOUNCE:
                served += 1
            else:
                raise Failure("handoff client %d got %r" % (i, bytes(got)))
        for i in range(n_tcp):
            s = socket.create_connection(c.connect, timeout=5)
            held.append(s)
            s.settimeout(0.5)
            try:
                d = s.recv(64)
                closed = d == b""
                if d:
                    raise Failure("TCP client %d got %r" % (i, d))
            except socket.timeout:
                closed = False
            except ConnectionResetError:
                closed = True
            if closed:
                ref_t += 1
        c.say("served %d, refused %d handoff and %d TCP clients"
              % (served, ref_h, ref_t))
        if served != max_sessions:
            raise Failure("expected %d served, got %d" % (max_sessions, served))
        if ref_h != n_handoff - max_sessions or ref_t != n_tcp:
            raise Failure("expected %d + %d refusals, got %d + %d"
                          % (n_handoff - max_sessions, n_tcp, ref_h, ref_t))
        # A well-behaved client is refused at once while it is full.
        h = Handoff(c)
        start = time.monotonic()
        try:
            h.connect()
            got = recv_exact(h.local, len(ANNOUNCE + STATUS_OFF), 3, "R1 + status=0")
            if got != ANNOUNCE + STATUS_OFF:
                raise Failure("a good client while full got %r" % got)
        finally:
            h.close()
        c.say("a good client while full: status=0 after %.2fs" % (time.monotonic() - start))
    finally:
        for s in held:
            s.close()
    time.sleep(0.2)
    ep1 = good_handoff(c)
    ep2 = good_tcp(c, addr=c.connect)
    return "after the flood: good handoff (%s) and TCP (%s) sessions ok" % (ep1, ep2)


# ----------------------------------------------------------- the table

HANDOFF = "handoff"
TCP = "tcp"


def on(fn, target):
    """fn(c, target) as a scenario function of c alone."""
    def run(c):
        return fn(c, target)
    run.__doc__ = fn.__doc__
    return run


SCENARIOS = {
    # name: (kind of good session afterwards, function)
    "trunc-record": (HANDOFF, sc_trunc_record),
    "trunc-value": (HANDOFF, sc_trunc_value),
    "missing-attrs": (HANDOFF, sc_missing_attrs),
    "long-name": (HANDOFF, sc_long_name),
    "long-value": (HANDOFF, sc_long_value),
    "many-attrs": (HANDOFF, sc_many_attrs),
    "big-request": (HANDOFF, sc_big_request),
    "fd-with-request": (HANDOFF, sc_fd_with_request),
    "fd-twice": (HANDOFF, sc_fd_twice),
    "fd-two-in-one": (HANDOFF, sc_fd_two_in_one),
    "fd-many": (HANDOFF, sc_fd_many),
    "fd-file": (HANDOFF, sc_fd_file),
    "fd-pipe": (HANDOFF, sc_fd_pipe),
    "fd-udp": (HANDOFF, sc_fd_udp),
    "fd-listen": (HANDOFF, sc_fd_listen),
    "fd-unconnected": (HANDOFF, sc_fd_unconnected),
    "vanish-connect": (HANDOFF, sc_vanish_connect),
    "vanish-r1": (HANDOFF, sc_vanish_r1),
    "vanish-mid-q1": (HANDOFF, sc_vanish_mid_q1),
    "vanish-status": (HANDOFF, sc_vanish_status),
    "vanish-fd": (HANDOFF, sc_vanish_fd),
    "vanish-handshake": (HANDOFF, sc_vanish_handshake),
    "vanish-relay": (HANDOFF, sc_vanish_relay),
    "rst-relay": (HANDOFF, sc_rst_relay),
    "rst-relay-tcp": (TCP, on(r_vanish_relay_tcp, TCP)),
}
for _name, _fn in (("slowloris", r_slowloris), ("dribble", r_dribble), ("nontls", r_nontls),
                   ("alert", r_alert), ("rst", r_rst), ("rst-handshake", r_rst_handshake),
                   ("big-hello", r_big_hello), ("huge-hello", r_huge_hello),
                   ("never-read", r_never_read), ("reneg", r_reneg)):
    SCENARIOS[_name] = (HANDOFF, on(_fn, HANDOFF))
    SCENARIOS[_name + "-tcp"] = (TCP, on(_fn, TCP))


def run_scenario(c, name):
    kind, fn = SCENARIOS[name]
    return kind, fn(c)


# ----------------------------------------------------------- batch mode

def daemon_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def log_after(path, offset):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def read_table(path):
    """Lines "scenario<TAB>expect ;; expect ..." where an expect may list
    alternatives with " || "; "#" starts a comment line."""
    rows = []
    with open(path) as f:
        for ln in f:
            ln = ln.rstrip("\n")
            if not ln.strip() or ln.lstrip().startswith("#"):
                continue
            name, _, exp = ln.partition("\t")
            name = name.strip()
            if name not in SCENARIOS:
                raise SystemExit("fault table: unknown scenario %r" % name)
            expects = [[a.strip() for a in e.split(" || ")] for e in exp.split(" ;; ") if e.strip()]
            rows.append((name, expects))
    return rows


def run_batch(c, table, logfile, pid, good=True):
    """Run every scenario of the table; after each, its log lines must
    show up (after the log's size before it ran), a good session of its
    kind must work and the daemon must be alive. Prints one result
    block per fault and a summary; returns the number of failures."""
    rows = read_table(table)
    failures = []
    summary = []
    for name, expects in rows:
        kind, fn = SCENARIOS[name]
        c.endpoint = None
        offset = log_size(logfile)
        c.say("---- fault %s: %s" % (name, (fn.__doc__ or "").strip().split("\n")[0]))
        problems = []
        observed = "-"
        t0 = time.monotonic()
        try:
            observed = fn(c)
        except Failure as e:
            problems.append(str(e))
        except (OSError, ssl.SSLError) as e:
            problems.append("unexpected error: %r" % e)
        secs = time.monotonic() - t0
        c.say("  observed: %s (%.2fs)" % (observed if not problems else problems[0], secs))
        wanted = []
        for alts in expects:
            alts = [a.replace("@EP@", c.endpoint or "@EP@") for a in alts]
            wanted.append(alts)
        end = time.monotonic() + c.slack
        while True:
            text = log_after(logfile, offset)
            missing = [alts for alts in wanted if not any(a in text for a in alts)]
            if not missing or time.monotonic() > end:
                break
            time.sleep(0.1)
        for alts in wanted:
            if alts in missing:
                c.say("  log MISSING: %s" % " || ".join(alts))
                problems.append("no log line: %s" % " || ".join(alts))
            else:
                hit = next(ln for ln in text.splitlines() if any(a in ln for a in alts))
                c.say("  log: %s" % hit.split("]: ", 1)[-1])
        if pid and not daemon_alive(pid):
            problems.append("the daemon died")
            c.say("  the daemon DIED")
        elif good:
            try:
                if kind == HANDOFF:
                    ep = good_handoff(c, 65536, 65536)
                else:
                    ep = good_tcp(c, 65536)
                c.say("  good %s session right after: %s, 64 KiB each way, SHA-256 ok" % (kind, ep))
            except (Failure, OSError, ssl.SSLError) as e:
                problems.append("good session afterwards failed: %s" % e)
                c.say("  good session afterwards FAILED: %s" % e)
        verdict = "ok" if not problems else "FAIL"
        c.say("  => %s" % verdict)
        summary.append((name, verdict, problems[0] if problems else observed))
        if problems:
            failures.append((name, problems))
    c.say("---- summary")
    for name, verdict, what in summary:
        c.say("  %-18s %-4s %s" % (name, verdict, what))
    for name, problems in failures:
        for p in problems:
            c.say("FAIL: %s: %s" % (name, p))
    return len(failures)


# ----------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", help="see --list")
    ap.add_argument("--batch", metavar="TABLE",
                    help="run the faults of TABLE, checking the log (--log) after each")
    ap.add_argument("--log", help="batch: the daemon's log file")
    ap.add_argument("--pid", type=int, default=0, help="batch: the daemon's pid")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--socket", help="handoff socket")
    ap.add_argument("--connect", help="TCP frontend HOST:PORT for the faulty peers")
    ap.add_argument("--good-connect", help="TCP frontend HOST:PORT for good sessions "
                    "(default: --connect)")
    ap.add_argument("--timeout1", type=int, default=2, help="handoff handshake timeout")
    ap.add_argument("--handshake", type=float, default=2,
                    help="handshake_timeout of the --connect listener")
    ap.add_argument("--idle", type=float, default=3, help="idle_timeout of the --connect listener")
    ap.add_argument("--slack", type=float, default=5)
    ap.add_argument("--io-timeout", type=float, default=20)
    ap.add_argument("--no-good", action="store_true", help="no good session afterwards")
    ap.add_argument("--count", type=int, default=100, help="hold-many: connections")
    ap.add_argument("--target", choices=("tcp", "handoff"), default="tcp", help="hold-many")
    ap.add_argument("--hold-file", help="hold-many: hold until this file exists")
    ap.add_argument("--hold", type=float, default=60, help="hold-many: at most this long")
    ap.add_argument("--handoff-clients", type=int, default=8, help="session-flood")
    ap.add_argument("--tcp-clients", type=int, default=4, help="session-flood")
    ap.add_argument("--max-sessions", type=int, default=4,
                    help="session-flood: the daemon's tlsproxy_max_sessions")
    ap.add_argument("--openssl", default="openssl")
    ap.add_argument("--deadline", type=float, default=120, help="bound for the whole run")
    args = ap.parse_args()

    extra = ("hold-many", "session-flood", "good", "good-tcp")
    if args.list:
        for name in sorted(SCENARIOS):
            doc = (SCENARIOS[name][1].__doc__ or "").strip().split("\n")[0]
            print("%-18s %s" % (name, doc))
        print("%-18s %s" % ("hold-many", "silent connections until --hold-file exists"))
        print("%-18s %s" % ("session-flood", "more sessions than tlsproxy_max_sessions"))
        print("%-18s %s" % ("good, good-tcp", "one good session"))
        return 0
    if args.batch and not args.log:
        ap.error("--batch needs --log")
    if not args.batch and args.scenario not in SCENARIOS and args.scenario not in extra:
        ap.error("unknown scenario %r (see --list)" % args.scenario)

    c = Conf(socket_path=args.socket,
             connect=addr_of(args.connect) if args.connect else None,
             timeout1=args.timeout1, slack=args.slack, io_timeout=args.io_timeout,
             idle=args.idle, handshake=args.handshake, openssl=args.openssl)
    c.good_connect = addr_of(args.good_connect) if args.good_connect else c.connect

    def overall_timeout():
        c.say("FAIL: the run exceeded --deadline %ss" % args.deadline)
        os._exit(1)
    watchdog = threading.Timer(args.deadline, overall_timeout)
    watchdog.daemon = True
    watchdog.start()

    start = time.monotonic()
    if args.batch:
        nfail = run_batch(c, args.batch, args.log, args.pid, not args.no_good)
        c.say("%s (%.2fs)" % ("PASS" if not nfail else "FAILED: %d faults" % nfail,
                              time.monotonic() - start))
        return 1 if nfail else 0
    try:
        if args.scenario == "hold-many":
            c.say(hold_many(c, args.count, args.hold_file or "/nonexistent", args.hold, args.target))
            kind = None
        elif args.scenario == "session-flood":
            c.say(session_flood(c, args.handoff_clients, args.tcp_clients, args.max_sessions))
            kind = None
        elif args.scenario in ("good", "good-tcp"):
            kind = HANDOFF if args.scenario == "good" else TCP
            args.no_good = False
        else:
            kind, note = run_scenario(c, args.scenario)
            c.say("observed: %s" % note)
        if kind is not None and not args.no_good:
            if kind == HANDOFF:
                if not c.socket:
                    ap.error("--socket is needed for the good session")
                ep = good_handoff(c, 65536, 65536)
            else:
                if not c.good_connect:
                    ap.error("--connect is needed for the good session")
                ep = good_tcp(c, 65536)
            c.say("good %s session %s: 64 KiB each way, SHA-256 ok" % (kind, ep))
    except Failure as e:
        c.say("FAIL: %s" % e)
        return 1
    except (OSError, ssl.SSLError) as e:
        c.say("FAIL: unexpected error: %r" % e)
        return 1
    c.say("PASS (%.2fs)" % (time.monotonic() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
