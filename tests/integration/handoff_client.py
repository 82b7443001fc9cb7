#!/usr/bin/env python3
"""Test client for the tlsproxy daemon.

Handoff mode (--socket PATH) plays postscreen(8) of Postfix 3.7 against the
daemon's handoff socket:

    read R1 (byte-exact), send Q1, read R2, pass a connected loopback TCP
    socket with SCM_RIGHTS (one NUL data byte), close our copy, then act as
    the remote SMTP client: TLS handshake on the other end of that TCP
    connection with Python's ssl module, and move --bytes random bytes in
    each direction at the same time (UNIX socket -> TLS and TLS -> UNIX
    socket), checked by length and SHA-256.

TCP mode (--connect HOST:PORT) talks TLS directly to a TCP frontend
listener whose backend is an echo server: --bytes random bytes are sent and
must come back unchanged.

--mode selects a scenario (default "good"). Every mode prints what it saw
and exits 0 only when the daemon behaved as specified; on any deviation it
prints "FAIL: ..." and exits 1. Usage errors exit 2. The whole run is
bounded by --deadline seconds.

Handoff modes:
  good            full session (see above); --parallel N runs N at once
  garbage         random bytes instead of Q1: the socket must be closed
                  without a reply
  malformed       a well-framed Q1 with a non-numeric flags value: closed
                  without a reply
  eof             read R1 and close without sending Q1
  badflags        Q1 with flags=0: R2 must be status=0
  client-role     Q1 with flags=6 plus a client-role Q2 record
                  (--q2-file): R2 must be status=0
  expect-status0  a normal Q1: R2 must be status=0 (within --max-wait)
  nofd            status=1, then close instead of sending the descriptor
  nofd-byte       status=1, then the NUL byte without a descriptor
  nonsocket       status=1, then pass a pipe instead of a socket: the
                  daemon must close the UNIX socket without data
  vanish          pass the socket, then close the UNIX socket before the
                  ClientHello: the daemon must close the TCP connection
                  within --timeout1 (+ slack)
  nontls          the remote end sends plaintext instead of a ClientHello:
                  the UNIX socket must be closed with no data
  stall           the remote end sends nothing: the daemon must close both
                  sockets at the handshake deadline (--timeout1)
  handshake-fail  the TLS handshake must fail (e.g. --tls-min above what
                  the daemon allows); the UNIX socket must be closed with
                  no data
  idle            handshake, then silence: the daemon must end the session
                  after --timeout2 + 10 s
  hold            connect and send nothing for --hold seconds (occupies a
                  worker or a queue slot); fails if refused at once
TCP modes: good, hold, stall, idle (--timeout1/--timeout2 are then the
listener's handshake and idle timeouts), nontls, expect-close (the server
must close the connection without relaying anything).
"""

import argparse
import hashlib
import os
import select
import socket
import ssl
import sys
import threading
import time

ANNOUNCE = b"protocol\0tlsproxy_protocol\0\0"
STATUS_OK = b"status\0" b"1\0\0"
STATUS_UNAVAILABLE = b"status\0" b"0\0\0"
NOT_TLS = b"THIS IS NOT TLS\r\n"

PRINT_LOCK = threading.Lock()


class Failure(Exception):
    """The daemon did not behave as specified."""


def say(prefix, msg):
    with PRINT_LOCK:
        print("%s%s" % (prefix, msg), flush=True)


def attr_record(pairs):
    """Encode (name, value) pairs as one attr0 record."""
    out = bytearray()
    for name, value in pairs:
        out += name.encode() + b"\0" + str(value).encode() + b"\0"
    out += b"\0"
    return bytes(out)


def recv_exact(sock, n, timeout, what):
    """Read exactly n bytes before the timeout or raise Failure."""
    end = time.monotonic() + timeout
    buf = bytearray()
    while len(buf) < n:
        left = end - time.monotonic()
        if left <= 0:
            raise Failure("timeout after %.1fs waiting for %s (got %r so far)"
                          % (timeout, what, bytes(buf)))
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(buf))
        except socket.timeout:
            continue
        except ConnectionResetError:
            raise Failure("connection reset while reading %s (got %r)"
                          % (what, bytes(buf)))
        if not chunk:
            raise Failure("EOF while reading %s (got %r)" % (what, bytes(buf)))
        buf += chunk
    return bytes(buf)


def wait_closed(sock, timeout, what):
    """Wait until the peer closes sock; return (bytes received, seconds)."""
    start = time.monotonic()
    end = start + timeout
    got = bytearray()
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise Failure("%s still open after %.1fs (received %d bytes)"
                          % (what, timeout, len(got)))
        sock.settimeout(min(left, 1.0))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return bytes(got), time.monotonic() - start
        if not chunk:
            return bytes(got), time.monotonic() - start
        got += chunk
        if len(got) > 1 << 20:
            raise Failure("%s keeps sending data" % what)


def tcp_pair():
    """A connected loopback TCP pair: (remote client end, server end)."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        ls.settimeout(10)
        client = socket.create_connection(ls.getsockname(), timeout=10)
        server, _ = ls.accept()
    finally:
        ls.close()
    return client, server


# ----------------------------------------------------------- certificates

def der_item(buf, pos):
    """One DER TLV at pos: (tag, content start, content end)."""
    tag = buf[pos]
    length = buf[pos + 1]
    head = 2
    if length & 0x80:
        nlen = length & 0x7F
        length = int.from_bytes(buf[pos + 2:pos + 2 + nlen], "big")
        head += nlen
    return tag, pos + head, pos + head + length


def der_seq(buf, start, end):
    """The items of a constructed DER value: list of (tag, pos, cstart, cend)."""
    items = []
    pos = start
    while pos < end:
        tag, cstart, cend = der_item(buf, pos)
        items.append((tag, pos, cstart, cend))
        pos = cend
    return items


OID_CN = bytes.fromhex("550403")
KEY_OIDS = {
    bytes.fromhex("2a864886f70d010101"): "RSA",
    bytes.fromhex("2a864886f70d01010a"): "RSA-PSS",
    bytes.fromhex("2a8648ce3d0201"): "EC",
    bytes.fromhex("2b6570"): "ED25519",
    bytes.fromhex("2b6571"): "ED448",
}


def cert_info(der):
    """(subject CN, public key type) of a DER certificate."""
    _, cstart, cend = der_item(der, 0)
    tbs = der_seq(der, cstart, cend)[0]
    fields = der_seq(der, tbs[2], tbs[3])
    if fields[0][0] == 0xA0:
        fields = fields[1:]
    subject, spki = fields[4], fields[5]
    cn = ""
    for _, _, rstart, rend in der_seq(der, subject[2], subject[3]):
        for _, _, astart, aend in der_seq(der, rstart, rend):
            parts = der_seq(der, astart, aend)
            if len(parts) >= 2 and der[parts[0][2]:parts[0][3]] == OID_CN:
                cn = der[parts[1][2]:parts[1][3]].decode("utf-8", "replace")
    alg = der_seq(der, spki[2], spki[3])[0]
    oid = der_seq(der, alg[2], alg[3])[0]
    keytype = KEY_OIDS.get(der[oid[2]:oid[3]], "unknown")
    return cn, keytype


# ----------------------------------------------------------- TLS helpers

TLS_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def client_context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if args.cafile:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=args.cafile)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if args.tls_min:
        ctx.minimum_version = TLS_VERSIONS[args.tls_min]
    if args.tls_max:
        ctx.maximum_version = TLS_VERSIONS[args.tls_max]
    return ctx


def tls_handshake(args, sock, timeout):
    """Client handshake on a connected TCP socket; returns the SSLSocket."""
    ctx = client_context(args)
    tls = ctx.wrap_socket(sock, server_hostname=args.servername or None,
                          do_handshake_on_connect=False,
                          suppress_ragged_eofs=False)
    tls.settimeout(timeout)
    try:
        tls.do_handshake()
    except socket.timeout:
        raise Failure("TLS handshake timed out after %ds" % timeout)
    except (ssl.SSLError, OSError) as e:
        raise Failure("TLS handshake failed: %s" % e)
    return tls


def check_tls(args, tls, pfx):
    """Print and check protocol, cipher, certificate."""
    proto = tls.version()
    cipher, _, bits = tls.cipher()
    der = tls.getpeercert(binary_form=True)
    if not der:
        raise Failure("no server certificate")
    cn, keytype = cert_info(der)
    say(pfx, "protocol=%s cipher=%s bits=%s cn=%s key=%s"
        % (proto, cipher, bits, cn, keytype))
    if args.expect_protocol and proto != args.expect_protocol:
        raise Failure("protocol %s, expected %s" % (proto, args.expect_protocol))
    if args.expect_cipher and cipher != args.expect_cipher:
        raise Failure("cipher %s, expected %s" % (cipher, args.expect_cipher))
    if args.expect_cn and cn != args.expect_cn:
        raise Failure("certificate CN %r, expected %r" % (cn, args.expect_cn))
    if args.expect_key and keytype != args.expect_key:
        raise Failure("certificate key %s, expected %s" % (keytype, args.expect_key))


def tls_pump(tls, tx, rx_len, rx_digest, timeout, what, read_delay=0.0):
    """Send tx over tls while reading rx_len bytes whose SHA-256 must be
    rx_digest. One thread drives the SSL object (non-blocking), so reads
    and writes proceed at the same time without sharing it across
    threads. Reading starts only after read_delay seconds (backpressure)."""
    tls.setblocking(False)
    read_from = time.monotonic() + read_delay
    view = memoryview(tx)
    sent = 0
    got = 0
    digest = hashlib.sha256()
    end = time.monotonic() + timeout
    while sent < len(tx) or got < rx_len:
        if time.monotonic() > end:
            raise Failure("%s: timeout after %ds: sent %d/%d, received %d/%d"
                          % (what, timeout, sent, len(tx), got, rx_len))
        want_read = got < rx_len and time.monotonic() >= read_from
        want_write = sent < len(tx)
        if not (want_read and tls.pending()):
            rlist = [tls] if want_read else []
            wlist = [tls] if want_write else []
            select.select(rlist, wlist, [], 0.1 if read_delay else 0.5)
        if want_read:
            try:
                data = tls.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                data = None
            except ssl.SSLEOFError:
                raise Failure("%s: TCP closed without close_notify after %d/%d bytes"
                              % (what, got, rx_len))
            except (ssl.SSLError, OSError) as e:
                raise Failure("%s: TLS read error after %d/%d bytes: %s"
                              % (what, got, rx_len, e))
            if data == b"":
                raise Failure("%s: close_notify after %d/%d bytes" % (what, got, rx_len))
            if data:
                if got + len(data) > rx_len:
                    raise Failure("%s: %d bytes more than expected"
                                  % (what, got + len(data) - rx_len))
                digest.update(data)
                got += len(data)
        if want_write:
            try:
                sent += tls.send(view[sent:sent + 16384])
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except (ssl.SSLError, OSError) as e:
                raise Failure("%s: TLS write error after %d/%d bytes: %s"
                              % (what, sent, len(tx), e))
    if digest.digest() != rx_digest:
        raise Failure("%s: %d bytes received but SHA-256 differs" % (what, got))
    tls.setblocking(True)


def tls_wait_close_notify(tls, timeout, what):
    """After our side ended the session: the server must send close_notify."""
    tls.settimeout(timeout)
    try:
        data = tls.recv(65536)
    except socket.timeout:
        raise Failure("%s: no close_notify within %ds" % (what, timeout))
    except ssl.SSLEOFError:
        raise Failure("%s: TCP closed without close_notify" % what)
    except (ssl.SSLError, OSError) as e:
        raise Failure("%s: error instead of close_notify: %s" % (what, e))
    if data:
        raise Failure("%s: %d unexpected bytes instead of close_notify" % (what, len(data)))


def tls_close(tls, timeout):
    """Send close_notify and close; the peer's reaction is not checked."""
    tls.settimeout(timeout)
    try:
        tls.unwrap()
    except (ssl.SSLError, OSError, ValueError):
        pass
    tls.close()


class Pipe(threading.Thread):
    """A thread that sends or receives on a plain socket."""

    def __init__(self, sock, send=None, rx_len=0, rx_digest=None, timeout=60, what="",
                 delay=0.0):
        super().__init__(daemon=True)
        self.delay = delay
        self.sock = sock
        self.send = send
        self.rx_len = rx_len
        self.rx_digest = rx_digest
        self.timeout = timeout
        self.what = what
        self.error = None

    def run(self):
        try:
            if self.send is not None:
                self.sock.sendall(self.send)
            else:
                time.sleep(self.delay)
                digest = hashlib.sha256()
                got = 0
                while got < self.rx_len:
                    chunk = self.sock.recv(min(65536, self.rx_len - got))
                    if not chunk:
                        raise Failure("%s: EOF after %d/%d bytes" % (self.what, got, self.rx_len))
                    digest.update(chunk)
                    got += len(chunk)
                if digest.digest() != self.rx_digest:
                    raise Failure("%s: %d bytes received but SHA-256 differs" % (self.what, got))
        except socket.timeout:
            self.error = "%s: timeout" % self.what
        except (Failure, OSError) as e:
            self.error = "%s: %s" % (self.what, e)


def exchange_handoff(local, tls, nbytes, timeout, pfx, read_delay=0.0):
    """nbytes random bytes local -> TLS and TLS -> local, concurrently;
    both readers start read_delay seconds after the writers."""
    to_remote = os.urandom(nbytes)
    to_local = os.urandom(nbytes)
    local.settimeout(timeout)
    writer = Pipe(local, send=to_remote, timeout=timeout, what="local write")
    reader = Pipe(local, rx_len=nbytes, rx_digest=hashlib.sha256(to_local).digest(),
                  timeout=timeout, what="TLS->local", delay=read_delay)
    writer.start()
    reader.start()
    pump_error = None
    try:
        tls_pump(tls, to_local, nbytes, hashlib.sha256(to_remote).digest(),
                 timeout, "local->TLS", read_delay)
    except Failure as e:
        pump_error = str(e)
    writer.join(timeout)
    reader.join(timeout)
    for err in (pump_error, writer.error, reader.error):
        if err:
            raise Failure(err)
    for t in (writer, reader):
        if t.is_alive():
            raise Failure("%s: did not finish within %ds" % (t.what, timeout))
    say(pfx, "%d bytes each way, SHA-256 ok" % nbytes)


# ----------------------------------------------------------- handoff steps

class Handoff:
    """One handoff connection, step by step as postscreen does it."""

    def __init__(self, args, pfx):
        self.args = args
        self.pfx = pfx
        self.remote = None   # our TLS client end of the TCP connection
        self.passed = None   # the end we hand to the daemon
        self.local = None    # the UNIX socket to the daemon
        self.endpoint = None

    def connect(self, with_tcp=True):
        if with_tcp:
            self.remote, self.passed = tcp_pair()
            port = self.remote.getsockname()[1]
            self.endpoint = self.args.endpoint or "[127.0.0.1]:%d" % port
        else:
            self.endpoint = self.args.endpoint or "[127.0.0.1]:1"
        say(self.pfx, "endpoint=%s" % self.endpoint)
        self.local = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.local.settimeout(self.args.io_timeout)
        try:
            self.local.connect(self.args.socket)
        except OSError as e:
            raise Failure("connect to %s: %s" % (self.args.socket, e))

    def read_announce(self):
        r1 = recv_exact(self.local, len(ANNOUNCE), self.args.io_timeout, "R1")
        if r1 != ANNOUNCE:
            raise Failure("R1 is %r, expected %r" % (r1, ANNOUNCE))
        say(self.pfx, "R1 ok")

    def request(self, flags=None):
        a = self.args
        q1 = attr_record([("remote_endpoint", self.endpoint),
                          ("flags", a.flags if flags is None else flags),
                          ("timeout", a.timeout1), ("timeout", a.timeout2),
                          ("serverid", a.serverid)])
        if a.server_props is None or (flags is not None and flags & 2):
            return q1
        return q1 + server_props(self.endpoint, a.server_props, a.server_prop)

    def send(self, data, tolerate_closed=False):
        try:
            self.local.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            if not tolerate_closed:
                raise Failure("sending request: %s" % e)
            say(self.pfx, "request not sent completely (%s)" % e.strerror)

    def read_status(self, expected, timeout=None):
        r2 = recv_exact(self.local, len(STATUS_OK),
                        timeout or self.args.io_timeout, "R2")
        if r2 != expected:
            raise Failure("R2 is %r, expected %r" % (r2, expected))
        say(self.pfx, "R2 status=%s" % ("1" if expected == STATUS_OK else "0"))

    def pass_fd(self, fd=None):
        fd = self.passed.fileno() if fd is None else fd
        socket.send_fds(self.local, [b"\0"], [fd])
        if self.passed is not None:
            self.passed.close()
            self.passed = None

    def expect_local_closed(self, timeout):
        got, secs = wait_closed(self.local, timeout, "UNIX socket")
        if got:
            raise Failure("UNIX socket got %d bytes before close: %r" % (len(got), got[:64]))
        say(self.pfx, "UNIX socket closed without data after %.1fs" % secs)
        return secs

    def close(self):
        for s in (self.remote, self.passed, self.local):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass


def handoff_until_fd(args, pfx):
    h = Handoff(args, pfx)
    h.connect()
    h.read_announce()
    h.send(h.request())
    h.read_status(STATUS_OK)
    h.pass_fd()
    return h


def session_good(args, pfx):
    h = handoff_until_fd(args, pfx)
    try:
        tls = tls_handshake(args, h.remote, args.timeout1 + args.slack)
        h.remote = tls
        # Nothing may have been written to the UNIX socket so far.
        r, _, _ = select.select([h.local], [], [], 0)
        if r:
            peek = h.local.recv(4096, socket.MSG_PEEK)
            raise Failure("UNIX socket has %d bytes before any data was sent: %r"
                          % (len(peek), peek[:64]))
        check_tls(args, tls, pfx)
        if args.pause_file:
            half = args.bytes // 2
            exchange_handoff(h.local, tls, half, args.io_timeout, pfx)
            say(pfx, "PAUSED waiting for %s" % args.pause_file)
            end = time.monotonic() + args.deadline
            while not os.path.exists(args.pause_file):
                if time.monotonic() > end:
                    raise Failure("pause file never appeared")
                time.sleep(0.05)
            say(pfx, "RESUMED")
            exchange_handoff(h.local, tls, args.bytes - half, args.io_timeout, pfx)
        else:
            exchange_handoff(h.local, tls, args.bytes, args.io_timeout, pfx, args.read_delay)
        if args.close_first == "local":
            # postscreen closes first: the daemon must send close_notify.
            h.local.close()
            h.local = None
            tls_wait_close_notify(tls, args.io_timeout, "after local close")
            say(pfx, "local close -> close_notify received")
        else:
            # The remote client closes first, right after a last burst:
            # the daemon must deliver it all, then close the UNIX socket.
            last = os.urandom(65536)
            tls.sendall(last)
            # Our close_notify must be answered with the daemon's.
            tls.settimeout(args.io_timeout)
            try:
                tls.unwrap()
            except (ssl.SSLError, OSError, ValueError) as e:
                raise Failure("our close_notify was not answered: %s" % e)
            say(pfx, "remote close_notify answered")
            tls.close()
            h.remote = None
            got, secs = wait_closed(h.local, args.io_timeout, "UNIX socket")
            if got != last:
                raise Failure("after remote close the UNIX socket got %d bytes, expected %d"
                              % (len(got), len(last)))
            say(pfx, "remote close -> last %d bytes flushed, UNIX socket closed" % len(last))
    finally:
        h.close()


def session_hold(args, pfx):
    """Connect and send nothing; report R1 if it comes. Refusal is a failure."""
    h = Handoff(args, pfx)
    h.connect(with_tcp=False)
    say(pfx, "connected")
    try:
        h.local.settimeout(1.0)
        try:
            data = h.local.recv(64)
        except socket.timeout:
            data = None
        if data is not None:
            if data == b"":
                raise Failure("closed at once")
            rest = b""
            if data == ANNOUNCE:
                h.local.settimeout(0.5)
                try:
                    rest = h.local.recv(64)
                except socket.timeout:
                    rest = None
            if data.startswith(ANNOUNCE + STATUS_UNAVAILABLE) or rest == STATUS_UNAVAILABLE:
                raise Failure("refused with status=0 at once")
            if data != ANNOUNCE or rest == b"":
                raise Failure("unexpected %r %r" % (data, rest))
            say(pfx, "R1 ok")
        else:
            say(pfx, "no R1 within 1s (queued)")
        say(pfx, "HOLDING")
        end = time.monotonic() + args.hold
        while time.monotonic() < end:
            time.sleep(0.2)
    finally:
        h.close()


def server_props(endpoint, size, sets=()):
    """Postfix 3.12 postscreen's second record: its server TLS settings
    (params, init and start props, 52 attributes), about SIZE bytes long
    (a long CApath makes up the difference); SETS: "name=value" for init
    props (its files)."""
    params = [("config_file", "default"), ("config_name", ""),
              ("tls_high_cipherlist", "aNULL:-aNULL:HIGH:!SEED:!IDEA:!3DES:!RC2:!RC4:!RC5:!kDH:!kECDH:!aDSS:!MD5:@STRENGTH"),
              ("tls_medium_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:!SEED:!IDEA:!3DES:!RC2:!RC4:!RC5:!kDH:!kECDH:!aDSS:!MD5:+RC4:@STRENGTH"),
              ("tls_null_cipherlist", "eNULL:!kDH:!kECDH:!aDSS:!MD5:!aNULL"),
              ("tls_eecdh_auto_curves", "X25519 X448 prime256v1 secp384r1 secp521r1"),
              ("tls_eecdh_strong_curve", "prime256v1"), ("tls_eecdh_ultra_curve", "secp384r1"),
              ("tls_ffdhe_auto_groups", "ffdhe2048 ffdhe3072"), ("tls_disable_workarounds", ""),
              ("tls_ssl_options", ""), ("tlsmgr_service_name", "tlsmgr"),
              ("tls_session_ticket_cipher", "aes-256-cbc"), ("tls_daemon_random_bytes", 32),
              ("tls_append_default_CA", 0), ("tls_preempt_cipherlist", 0),
              ("tls_wildcard_matches_multiple_labels", 1), ("tls_server_sni_maps", ""),
              ("tls_fast_shutdown_enable", 1), ("tls_trust_server_ccerts", 0)]
    init = [("log_param", "postscreen_tls_loglevel"), ("log_level", "1"),
            ("verifydepth", 9), ("cache_type", "smtpd"), ("set_sessid", 1),
            ("chain_files", ""), ("cert_file", ""), ("key_file", ""),
            ("dcert_file", ""), ("dkey_file", ""), ("eccert_file", ""),
            ("eckey_file", ""), ("CAfile", ""), ("CApath", ""),
            ("protocols", ">=TLSv1"), ("eecdh_grade", "auto"),
            ("dh1024_param_file", ""), ("dh512_param_file", ""),
            ("ask_ccert", 0), ("mdalg", "sha256")]
    for nv in sets or ():
        n, v = nv.split("=", 1)
        init = [(k, v if k == n else old) for k, old in init]
    start = [("log_param", "postscreen_tls_loglevel"), ("log_level", "1"),
             ("timeout", 300), ("enable_rpk", 0), ("requirecert", 0),
             ("serverid", "smtp"), ("namaddr", endpoint), ("cipher_grade", "medium"),
             ("cipher_exclusions", ""), ("mdalg", "sha256"),
             ("trace_size_limit", 102400), ("trace_peer", endpoint.strip("[]").split("]")[0])]
    rec = attr_record(params + init + start)
    pad = max(0, size - len(rec))
    if pad:
        init = [(n, "/nonexistent/" + "x" * pad if n == "CApath" else v) for n, v in init]
        rec = attr_record(params + init + start)
    return rec


def session_bad(args, pfx):
    mode = args.mode
    slack = args.slack
    h = Handoff(args, pfx)
    try:
        if mode in ("garbage", "malformed", "eof"):
            h.connect(with_tcp=False)
            h.read_announce()
            if mode == "garbage":
                data = os.urandom(4096) + b"\0\0"
                say(pfx, "sending %d random bytes" % len(data))
                h.send(data, tolerate_closed=True)
            elif mode == "malformed":
                data = attr_record([("remote_endpoint", h.endpoint), ("flags", "one"),
                                    ("timeout", 300), ("timeout", 300), ("serverid", "smtpd")])
                h.send(data, tolerate_closed=True)
            else:
                h.local.close()
                h.local = None
                say(pfx, "closed before the request")
                return
            h.expect_local_closed(args.io_timeout)
            return

        if mode in ("badflags", "client-role", "expect-status0"):
            h.connect(with_tcp=(mode == "expect-status0"))
            start = time.monotonic()
            h.read_announce()
            if mode == "badflags":
                h.send(h.request(flags=0), tolerate_closed=True)
            elif mode == "client-role":
                with open(args.q2_file, "rb") as f:
                    q2 = f.read()
                # Q1 and Q2 in one write, as smtp(8) does it.
                h.send(h.request(flags=6) + q2, tolerate_closed=True)
            else:
                h.send(h.request(), tolerate_closed=True)
            h.read_status(STATUS_UNAVAILABLE, timeout=args.max_wait or None)
            secs = time.monotonic() - start
            say(pfx, "R1 and status=0 after %.2fs" % secs)
            if args.max_wait and secs > args.max_wait:
                raise Failure("status=0 took %.2fs (limit %ss)" % (secs, args.max_wait))
            return

        h.connect()
        h.read_announce()
        h.send(h.request())
        h.read_status(STATUS_OK)
        if mode == "nofd":
            h.local.close()
            h.local = None
            say(pfx, "closed instead of sending the descriptor")
            return
        if mode == "nofd-byte":
            h.local.sendall(b"\0")
            say(pfx, "sent the NUL byte without a descriptor")
            h.expect_local_closed(args.io_timeout)
            return
        if mode == "nonsocket":
            rfd, wfd = os.pipe()
            try:
                h.pass_fd(rfd)
            finally:
                os.close(rfd)
                os.close(wfd)
            say(pfx, "passed a pipe")
            h.expect_local_closed(args.io_timeout)
            return
        h.pass_fd()
        if mode == "vanish":
            h.local.close()
            h.local = None
            say(pfx, "closed the UNIX socket before the ClientHello")
            got, secs = wait_closed(h.remote, args.timeout1 + slack, "TCP connection")
            say(pfx, "TCP connection closed after %.1fs (%d bytes)" % (secs, len(got)))
            return
        if mode == "handshake-fail":
            try:
                tls = tls_handshake(args, h.remote, args.timeout1 + slack)
            except Failure as e:
                say(pfx, "as expected: %s" % e)
            else:
                h.remote = tls
                raise Failure("handshake succeeded with %s" % tls.version())
            h.expect_local_closed(args.io_timeout)
            return
        if mode == "nontls":
            h.remote.sendall(NOT_TLS)
            say(pfx, "sent plaintext instead of a ClientHello")
            h.expect_local_closed(args.io_timeout)
            got, _ = wait_closed(h.remote, args.io_timeout, "TCP connection")
            say(pfx, "TCP connection closed (%d bytes, e.g. an alert)" % len(got))
            return
        if mode == "stall":
            secs = h.expect_local_closed(args.timeout1 + slack)
            if secs < args.timeout1 - 0.5:
                raise Failure("closed after %.1fs, before the %ds handshake deadline"
                              % (secs, args.timeout1))
            got, _ = wait_closed(h.remote, slack, "TCP connection")
            if got:
                raise Failure("TCP connection got %d bytes" % len(got))
            say(pfx, "TCP connection closed")
            return
        if mode == "idle":
            tls = tls_handshake(args, h.remote, args.timeout1 + slack)
            h.remote = tls
            check_tls(args, tls, pfx)
            limit = args.timeout2 + 10
            secs = h.expect_local_closed(limit + slack)
            if secs < limit - 1:
                raise Failure("idle session closed after %.1fs, limit is %ds" % (secs, limit))
            return
        raise Failure("unknown mode %s" % mode)
    finally:
        h.close()


# ----------------------------------------------------------- TCP frontend

def tcp_connect(args, pfx):
    host, _, port = args.connect.rpartition(":")
    sock = socket.create_connection((host.strip("[]"), int(port)), timeout=args.io_timeout)
    say(pfx, "local=[127.0.0.1]:%d" % sock.getsockname()[1])
    return sock


def tcp_session(args, pfx):
    mode = args.mode
    slack = args.slack
    sock = tcp_connect(args, pfx)
    try:
        if mode == "good":
            tls = tls_handshake(args, sock, args.timeout1 + slack)
            sock = tls
            check_tls(args, tls, pfx)
            payload = os.urandom(args.bytes)
            tls_pump(tls, payload, len(payload), hashlib.sha256(payload).digest(),
                     args.io_timeout, "echo", args.read_delay)
            say(pfx, "%d bytes echoed, SHA-256 ok" % len(payload))
            tls_close(tls, args.io_timeout)
            sock = None
            return
        if mode == "hold":
            say(pfx, "HOLDING")
            end = time.monotonic() + args.hold
            while time.monotonic() < end:
                time.sleep(0.2)
            return
        if mode == "expect-close":
            start = time.monotonic()
            try:
                tls = tls_handshake(args, sock, args.io_timeout)
            except Failure as e:
                say(pfx, "handshake ended: %s (%.1fs)" % (e, time.monotonic() - start))
                if "timed out" in str(e):
                    raise
                return
            sock = tls
            say(pfx, "handshake completed; expecting the connection to end")
            try:
                tls.sendall(b"hello\r\n")
            except (ssl.SSLError, OSError):
                pass
            tls.settimeout(args.io_timeout)
            try:
                data = tls.recv(4096)
            except socket.timeout:
                raise Failure("connection still open after %ds" % args.io_timeout)
            except (ssl.SSLError, OSError) as e:
                data = b""
                say(pfx, "read ended: %s" % e)
            if data:
                raise Failure("got %r, expected the connection to end" % data[:64])
            say(pfx, "connection closed after %.1fs" % (time.monotonic() - start))
            return
        if mode == "nontls":
            sock.sendall(NOT_TLS)
            got, secs = wait_closed(sock, args.io_timeout, "TCP connection")
            say(pfx, "TCP connection closed after %.1fs (%d bytes)" % (secs, len(got)))
            return
        if mode == "stall":
            got, secs = wait_closed(sock, args.timeout1 + slack, "TCP connection")
            if got:
                raise Failure("got %d bytes" % len(got))
            if secs < args.timeout1 - 0.5:
                raise Failure("closed after %.1fs, before the %ds handshake deadline"
                              % (secs, args.timeout1))
            say(pfx, "TCP connection closed after %.1fs" % secs)
            return
        if mode == "idle":
            tls = tls_handshake(args, sock, args.timeout1 + slack)
            sock = tls
            check_tls(args, tls, pfx)
            start = time.monotonic()
            tls.settimeout(args.timeout2 + slack)
            try:
                data = tls.recv(4096)
            except socket.timeout:
                raise Failure("idle connection still open after %ds" % (args.timeout2 + slack))
            except (ssl.SSLError, OSError):
                data = b""
            secs = time.monotonic() - start
            if data:
                raise Failure("got %r while idle" % data[:64])
            if secs < args.timeout2 - 1:
                raise Failure("idle connection closed after %.1fs, limit %ds"
                              % (secs, args.timeout2))
            say(pfx, "idle connection closed after %.1fs" % secs)
            return
        raise Failure("mode %s is not available with --connect" % mode)
    finally:
        if sock is not None:
            sock.close()


# ----------------------------------------------------------- main

def run_one(args, index):
    pfx = "session %d: " % index if args.parallel > 1 else ""
    try:
        if args.connect:
            tcp_session(args, pfx)
        elif args.mode == "good":
            session_good(args, pfx)
        elif args.mode == "hold":
            session_hold(args, pfx)
        else:
            session_bad(args, pfx)
    except Failure as e:
        say(pfx, "FAIL: %s" % e)
        return False
    except (OSError, ssl.SSLError) as e:
        say(pfx, "FAIL: unexpected error: %s" % e)
        return False
    say(pfx, "ok")
    return True


MODES = ("good", "garbage", "malformed", "eof", "badflags", "client-role", "expect-status0",
         "nofd", "nofd-byte", "nonsocket", "vanish", "handshake-fail", "nontls", "stall",
         "idle", "hold", "expect-close")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--socket", help="handoff socket path")
    where.add_argument("--connect", help="TCP frontend HOST:PORT")
    ap.add_argument("--mode", default="good", choices=MODES)
    ap.add_argument("--endpoint", help="remote_endpoint (default: the real TCP peer)")
    ap.add_argument("--flags", type=int, default=1)
    ap.add_argument("--timeout1", type=int, default=300, help="handshake timeout")
    ap.add_argument("--timeout2", type=int, default=300, help="session timeout")
    ap.add_argument("--serverid", default="smtpd")
    ap.add_argument("--q2-file", help="client-role Q2 record (client-role mode)")
    ap.add_argument("--server-prop", action="append", default=[], metavar="NAME=VALUE",
                    help="a file setting of the --server-props record (repeatable)")
    ap.add_argument("--server-props", type=int, metavar="BYTES",
                    help="send a Postfix 3.12 server TLS settings record of about "
                    "BYTES after the server-role request, in the same write")
    ap.add_argument("--tls-min", choices=sorted(TLS_VERSIONS))
    ap.add_argument("--tls-max", choices=sorted(TLS_VERSIONS))
    ap.add_argument("--servername", help="SNI to send (default: none)")
    ap.add_argument("--cafile", help="verify the server certificate against this file")
    ap.add_argument("--expect-protocol")
    ap.add_argument("--expect-cipher")
    ap.add_argument("--expect-cn")
    ap.add_argument("--expect-key", help="RSA or EC")
    ap.add_argument("--bytes", type=int, default=1 << 20)
    ap.add_argument("--read-delay", type=float, default=0,
                    help="start reading this many seconds after writing (backpressure)")
    ap.add_argument("--close-first", choices=("local", "remote"), default="local")
    ap.add_argument("--pause-file", help="after half the bytes, wait for this file")
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--hold", type=float, default=60, help="hold mode: seconds")
    ap.add_argument("--max-wait", type=float, default=0,
                    help="status=0 modes: seconds within which R1 and R2 must arrive")
    ap.add_argument("--slack", type=float, default=5,
                    help="extra seconds allowed past a daemon deadline")
    ap.add_argument("--io-timeout", type=float, default=60)
    ap.add_argument("--deadline", type=float, default=300, help="bound for the whole run")
    args = ap.parse_args()
    if args.mode == "client-role" and not args.q2_file:
        ap.error("client-role needs --q2-file")
    if args.parallel < 1 or args.parallel > 1000:
        ap.error("--parallel must be 1..1000")

    def overall_timeout():
        say("", "FAIL: the run exceeded --deadline %ss" % args.deadline)
        os._exit(1)
    watchdog = threading.Timer(args.deadline, overall_timeout)
    watchdog.daemon = True
    watchdog.start()

    if args.parallel == 1:
        ok = run_one(args, 0)
    else:
        results = [None] * args.parallel

        def worker(i):
            results[i] = run_one(args, i)
        threads = [threading.Thread(target=worker, args=(i,), daemon=True)
                   for i in range(args.parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(args.deadline)
        failed = [i for i, r in enumerate(results) if r is not True]
        ok = not failed
        say("", "%d of %d sessions ok" % (args.parallel - len(failed), args.parallel))
    watchdog.cancel()
    if ok:
        say("", "PASS")
        return 0
    say("", "FAIL")
    return 1


if __name__ == "__main__":
    sys.exit(main())
