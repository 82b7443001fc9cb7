#!/bin/bash
# The TLS client role (smtp(8)/lmtp(8) with connection reuse).
#
# Part A, no Postfix needed: a scripted smtp(8) sends client-role requests
# made from the captured Postfix 3.7 ones (levels, match names, TLSA
# records, CA file, SNI, a 3.9-style request, a broken one) and hands over
# a TCP connection to a loopback TLS server with a certificate from a test
# CA. It checks status, the context record (names, order, level,
# peer_status) before any plaintext, SNI, and the relayed SMTP lines; a
# second daemon with the client role disabled answers status=0.
#
# Part B, real Postfix (a private instance under the test's temp dir,
# pflib.sh; the host's Postfix is never touched; needs root and the
# Postfix programs): mail submitted over SMTP is delivered by smtp(8) with
# smtp_tls_connection_reuse = yes through our daemon to a loopback TLS
# sink (smtpd of the same instance, one port per policy): three messages
# over one reused TLS connection (conn_use=2, 3, "TLS connection
# reused"), then the levels may, encrypt, fingerprint (right and wrong
# fingerprint), verify and secure (matching and non-matching names):
# delivered or deferred with "Server certificate not verified". Without
# root or Postfix (or with TLSPROXY_TEST_NO_POSTFIX=1), part A runs and
# the test is reported as skipped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pflib.sh"

tp_init
T=$TP_TMP
Q2DIR=$SHARED_DIR/vectors/records
[ -f "$Q2DIR/client-props-encrypt.bin" ] ||
	tp_hard_error "missing $Q2DIR/client-props-encrypt.bin (SHARED_DIR=$SHARED_DIR)"

step() { tp_say "=== $*"; }

# ---------------------------------------------------------------- certificates
SINK_NAME=$TP_SINK_NAME
tp_gen_pki "$T/pki"

# ================================================================ part A
step "A. scripted client-role requests"
cat >"$T/probe.py" <<'PYEOF'
import base64, hashlib, json, os, socket, ssl, subprocess, sys, threading

sock_path, records, pki, mode = sys.argv[1:5]
TIMEOUT = float(os.environ.get("PROBE_TIMEOUT", "20"))
R3_NAMES = ["peer_CN", "issuer_CN", "peer_fingerprint", "peer_pubkey_fingerprint",
            "level", "peer_status", "cipher_protocol", "cipher_name", "cipher_usebits",
            "cipher_algbits", "key_exchange", "key_exchange_curve", "key_exchange_bits",
            "clnt_signature", "clnt_signature_curve", "clnt_signature_bits",
            "clnt_signature_digest", "srvr_signature", "srvr_signature_curve",
            "srvr_signature_bits", "srvr_signature_digest", "namaddr"]
R3_NAMES_39 = R3_NAMES[:13] + ["ctos_rpk", "stoc_rpk"] + R3_NAMES[13:]


def record(pairs):
    return b"".join(n.encode() + b"\0" + str(v).encode() + b"\0" for n, v in pairs) + b"\0"


def parse(buf):
    """(pairs, used) for a complete record at the start of buf, else None."""
    pairs, pos = [], 0
    while True:
        end = buf.find(b"\0", pos)
        if end < 0:
            return None
        name = buf[pos:end].decode()
        pos = end + 1
        if name == "":
            return pairs, pos
        end = buf.find(b"\0", pos)
        if end < 0:
            return None
        pairs.append((name, buf[pos:end].decode()))
        pos = end + 1


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(TIMEOUT)
        self.s.connect(path)
        self.buf = b""

    def record(self):
        while True:
            r = parse(self.buf)
            if r is not None:
                self.buf = self.buf[r[1]:]
                return r[0]
            data = self.s.recv(65536)
            if not data:
                raise EOFError("EOF before a complete record (%d bytes)" % len(self.buf))
            self.buf += data

    def line(self):
        while b"\n" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                raise EOFError("EOF before a line")
            self.buf += data
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def at_eof(self):
        try:
            return self.s.recv(1) == b""
        except OSError:
            return True


def der_digest(path, what):
    out = subprocess.run(["openssl", "x509", "-in", path, "-outform", "DER"],
                         capture_output=True, check=True).stdout
    if what == "cert":
        return hashlib.sha256(out).digest()
    spki = subprocess.run(["openssl", "x509", "-in", path, "-pubkey", "-noout"],
                          capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=spki,
                         capture_output=True, check=True).stdout
    return hashlib.sha256(der).digest()


LEAF = der_digest(pki + "/sink.pem", "cert")
SPKI = der_digest(pki + "/sink.pem", "spki")
CA = der_digest(pki + "/ca.pem", "cert")
JUNK = b"\x5a" * 32


def q2(level, cafile="", match=(), tlsa=None, domain="", sni="", extra_after=None,
       drop=(), helo="vm", keyfile=""):
    """The captured encrypt request with the start properties replaced."""
    with open(records + "/client-props-encrypt.bin", "rb") as f:
        pairs, _ = parse(f.read())
    out = []
    for n, v in pairs:
        if n in drop:
            continue
        if n == "CAfile":
            v = cafile
        elif n == "tls_level":
            v = level
        elif n == "sni":
            v = sni
        elif n == "helo":
            v = helo
        elif n in ("key_file", "cert_file"):
            v = keyfile
        out.append((n, v))
        if extra_after and n == extra_after[0]:
            out.extend(extra_after[1])
        if n == "cipher_exclusions":
            break
    out.append(("argv_size", len(match)))
    out.extend(("argv_value", m) for m in match)
    out.append(("mdalg", "sha256"))
    if tlsa is None:
        out.append(("dane", 0))
    else:
        out += [("dane", 1), ("domain", domain), ("count", len(tlsa))]
        for u, s, m, d in tlsa:
            out += [("usage", u), ("selector", s), ("mtype", m),
                    ("data", base64.b64encode(d).decode())]
    return record(out)


def q1():
    return record([("remote_endpoint", "[127.0.0.1]:2526"), ("flags", 6),
                   ("timeout", 30), ("timeout", 60), ("serverid", "smtp")])


SINK_CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)   # one: its tickets stay valid
SINK_CTX.load_cert_chain(pki + "/sink-chain.pem", pki + "/sink.key")


def sink(lsock, result):
    """A TLS SMTP server: banner after the handshake, 221 to QUIT."""
    SINK_CTX.sni_callback = lambda s, name, c: result.__setitem__("sni", name)
    try:
        raw, _ = lsock.accept()
        raw.settimeout(TIMEOUT)
        tls = SINK_CTX.wrap_socket(raw, server_side=True)
        result["resumed"] = tls.session_reused
        tls.sendall(b"220 sink ESMTP\r\n")
        line = b""
        while not line.endswith(b"\n"):
            data = tls.recv(100)
            if not data:
                break
            line += data
        result["got"] = line.decode(errors="replace")
        if line == b"QUIT\r\n":
            tls.sendall(b"221 bye\r\n")
        tls.close()
    except (OSError, ssl.SSLError) as e:
        result["error"] = str(e)


def session(req):
    """One session; returns a dict of what was seen."""
    res = {}
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    t = threading.Thread(target=sink, args=(lsock, res), daemon=True)
    t.start()
    tcp = socket.create_connection(lsock.getsockname())
    c = Conn(sock_path)
    try:
        r1 = c.record()
        assert r1 == [("protocol", "tlsproxy_protocol")], r1
        c.s.sendall(q1() + req)
        try:
            r2 = c.record()
        except EOFError:
            res["status"] = "eof"
            return res
        res["status"] = dict(r2).get("status")
        if res["status"] != "1":
            c.s.close()
            return res
        socket.send_fds(c.s, [b"\0"], [tcp.fileno()])
        tcp.close()
        r3 = c.record()
        res["names"] = [n for n, _ in r3]
        res["r3"] = dict(r3)
        res["banner"] = c.line().decode()
        c.s.sendall(b"QUIT\r\n")
        res["reply"] = c.line().decode()
        res["eof"] = c.at_eof()
    finally:
        c.s.close()
        tcp.close()
        t.join(TIMEOUT)
        lsock.close()
    return res


CA_FILE = pki + "/ca.pem"
CASES = [
    # name, request, level, peer_status
    ("encrypt", q2(2), 2, 1),
    ("encrypt with CA", q2(2, CA_FILE), 2, 5),
    ("may", q2(1), 1, 1),
    ("fingerprint", q2(3, tlsa=[(3, 1, 255, LEAF), (3, 0, 255, LEAF)]), 3, 29),
    ("fingerprint wrong", q2(3, tlsa=[(3, 1, 255, JUNK), (3, 0, 255, JUNK)]), 3, 1),
    ("verify", q2(7, CA_FILE, ["sink.tlsproxy.test"]), 7, 29),
    ("verify wrong name", q2(7, CA_FILE, ["wrong.tlsproxy.test"]), 7, 1),
    ("verify no CA", q2(7, "", ["sink.tlsproxy.test"]), 7, 1),
    ("secure", q2(8, CA_FILE, [".tlsproxy.test"]), 8, 29),
    ("secure nexthop", q2(8, CA_FILE, ["nexthop", "dot-nexthop"]), 8, 1),
    ("dane-only EE", q2(6, match=["hostname"], tlsa=[(3, 1, 1, SPKI)],
                        domain="sink.tlsproxy.test"), 6, 29),
    ("dane TA", q2(5, match=["sink.tlsproxy.test"], tlsa=[(2, 0, 1, CA)],
                   domain="sink.tlsproxy.test"), 5, 29),
    ("dane-only wrong", q2(6, match=["hostname"], tlsa=[(3, 1, 1, JUNK)],
                           domain="sink.tlsproxy.test"), 6, 1),
    ("dane unusable", q2(5, match=["hostname"], tlsa=[(3, 1, 7, JUNK)],
                         domain="sink.tlsproxy.test"), 2, 1),
]


def main():
    fails = 0
    if mode in ("disabled", "one"):
        want = "0" if mode == "disabled" else "1"
        r = session(q2(2))
        ok = r.get("status") == want
        print("%s: %s: status=%s" % ("ok" if ok else "FAIL", mode, r.get("status")))
        sys.exit(0 if ok else 1)
    if mode == "foreignkey":
        # A key file our configuration does not name: refused.
        r = session(q2(2, keyfile="/etc/ssl/private/ssl-cert-snakeoil.key"))
        ok = r.get("status") == "0"
        print("%s: foreignkey: status=%s" % ("ok" if ok else "FAIL", r.get("status")))
        sys.exit(0 if ok else 1)
    if mode == "foreignca":
        # A CA file our configuration does not name: refused the same way.
        r = session(q2(7, "/etc/passwd", ["sink.tlsproxy.test"]))
        ok = r.get("status") == "0"
        print("%s: foreignca: status=%s" % ("ok" if ok else "FAIL", r.get("status")))
        sys.exit(0 if ok else 1)
    if mode == "noresume":
        # No smtp_tls_session_cache_database: nothing is saved or reused.
        a = session(q2(7, CA_FILE, ["sink.tlsproxy.test"], helo="resume.test"))
        b = session(q2(7, CA_FILE, ["sink.tlsproxy.test"], helo="resume.test"))
        ok = (a.get("status") == "1" and b.get("status") == "1" and
              a.get("resumed") is False and b.get("resumed") is False)
        print("%s: noresume: first %s, same policy %s" % ("ok" if ok else "FAIL",
              a.get("resumed"), b.get("resumed")))
        sys.exit(0 if ok else 1)
    for name, req, level, status in CASES:
        r = session(req)
        r3 = r.get("r3", {})
        bad = []
        if r.get("status") != "1":
            bad.append("status=%s" % r.get("status"))
        else:
            if r.get("names") != R3_NAMES:
                bad.append("context names %s" % r.get("names"))
            if r3.get("level") != str(level) or r3.get("peer_status") != str(status):
                bad.append("level=%s peer_status=%s" % (r3.get("level"), r3.get("peer_status")))
            if r3.get("namaddr") != "127.0.0.1[127.0.0.1]:2526":
                bad.append("namaddr=%s" % r3.get("namaddr"))
            if r3.get("peer_CN") != "sink.tlsproxy.test" or r3.get("issuer_CN") != "tlsproxy test CA":
                bad.append("CN %s / %s" % (r3.get("peer_CN"), r3.get("issuer_CN")))
            if r.get("banner") != "220 sink ESMTP\r\n" or r.get("reply") != "221 bye\r\n":
                bad.append("relay: %r %r" % (r.get("banner"), r.get("reply")))
            if not r.get("eof"):
                bad.append("no EOF after the server closed")
        print("%s: %-18s level=%s peer_status=%s %s" % ("FAIL" if bad else "ok", name,
              r3.get("level"), r3.get("peer_status"), "; ".join(bad)))
        fails += bool(bad)

    # SNI: sent when asked for, the TLSA base domain with DANE, else none.
    r = session(q2(7, CA_FILE, ["sink.tlsproxy.test"], sni="sink.tlsproxy.test"))
    ok = r.get("r3", {}).get("peer_status") == "29" and r.get("sni") == "sink.tlsproxy.test"
    print("%s: SNI as requested: %s" % ("ok" if ok else "FAIL", r.get("sni")))
    fails += not ok
    r = session(q2(2))
    ok = r.get("status") == "1" and r.get("sni") is None
    print("%s: no SNI when the request has none: %s" % ("ok" if ok else "FAIL", r.get("sni")))
    fails += not ok

    # The same policy again: the TLS session is resumed; another EHLO name
    # (part of the session key) is not.
    a = session(q2(7, CA_FILE, ["sink.tlsproxy.test"], helo="resume.test"))
    b = session(q2(7, CA_FILE, ["sink.tlsproxy.test"], helo="resume.test"))
    c = session(q2(7, CA_FILE, ["sink.tlsproxy.test"], helo="other.test"))
    ok = (a.get("resumed") is False and b.get("resumed") is True and
          c.get("resumed") is False and b.get("r3", {}).get("peer_status") == "29")
    print("%s: resumption: first %s, same policy %s (peer_status %s), other EHLO %s"
          % ("ok" if ok else "FAIL", a.get("resumed"), b.get("resumed"),
             b.get("r3", {}).get("peer_status"), c.get("resumed")))
    fails += not ok

    # A 3.9-style request (enable_rpk): the 24-attribute context.
    r = session(q2(2, extra_after=("timeout", [("enable_rpk", 0)])))
    ok = r.get("names") == R3_NAMES_39
    print("%s: 3.9 request gets the 3.9 context: %s" % ("ok" if ok else "FAIL",
          len(r.get("names", []))))
    fails += not ok

    # A request without tls_level: closed without a status.
    r = session(q2(2, drop=("tls_level",)))
    ok = r.get("status") == "eof"
    print("%s: broken request closed without a status: %s" % ("ok" if ok else "FAIL",
          r.get("status")))
    fails += not ok
    sys.exit(1 if fails else 0)


main()
PYEOF

SA=$T/client.sock
write_conf_a() {
	cat >"$1" <<EOF
smtp_tls_security_level = "$2";
smtp_tls_CAfile = "$T/pki/ca.pem";
tlsproxy_pid_file = "$T/$3.pid";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$4"; mode = "0666"; }
);
EOF
}
write_conf_a "$T/a.conf" encrypt a "$SA"
# client-side session caching as in Postfix: only with a cache database
printf 'smtp_tls_session_cache_database = "btree:%s/smtp_scache";\n' "$T" >>"$T/a.conf"
LOGA=$T/daemon-a.log
tp_start_daemon "$LOGA" "$T/a.conf" "unix:$SA"
DA=$TP_DAEMON_PID
tp_add_log "$T/probe.out"
PROBE_TIMEOUT=$(tp_secs 20) timeout -k 5 "$(tp_secs 120)" \
    python3 "$T/probe.py" "$SA" "$Q2DIR" "$T/pki" cases >"$T/probe.out" 2>&1
rc=$?
sed 's/^/    | /' "$T/probe.out"
[ "$rc" = 0 ] || tp_fail "scripted client-role requests (exit $rc)"
tp_ok "every level gave the expected context"
tp_expect_log "$LOGA" "CONNECT to [127.0.0.1]:2526"
tp_expect_log "$LOGA" "Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:2526: TLSv1.3 with cipher"
tp_expect_log "$LOGA" "Trusted TLS connection established to 127.0.0.1[127.0.0.1]:2526: "
tp_expect_log "$LOGA" "Verified TLS connection established to 127.0.0.1[127.0.0.1]:2526: "
tp_expect_log "$LOGA" "server-signature RSA-PSS (2048 bits) server-digest SHA256"
tp_expect_log "$LOGA" "certificate verification failed for 127.0.0.1[127.0.0.1]:2526: untrusted issuer /CN=tlsproxy test CA"
tp_expect_log "$LOGA" "server certificate verification failed for 127.0.0.1[127.0.0.1]:2526: num=62:hostname mismatch"
tp_expect_log "$LOGA" "warning: 127.0.0.1[127.0.0.1]:2526: all TLSA records unusable, fallback to unauthenticated TLS"
tp_expect_log "$LOGA" "warning: handoff: receive client TLS settings: missing attribute tls_level"
tp_expect_log "$LOGA" "DISCONNECT [127.0.0.1]:2526"
# Requests without the CA file our settings name: one warning for that.
tp_expect_msg "$LOGA" "warning: client settings that differ from this daemon's: CAfile = \"\" (ours: \"$T/pki/ca.pem\")"
n=$(tp_log_count "$LOGA" "request from tlsproxy client with unexpected settings")
[ "$n" = 1 ] || tp_fail "the settings warning was logged $n times, not once"
tp_check_log_format "$LOGA" "$DA" postfix
tp_stop_daemon "$DA" "$LOGA"

# probe_mode SOCKET MODE OUT: one session in MODE (one, disabled).
probe_mode() {
	PROBE_TIMEOUT=$(tp_secs 20) timeout -k 5 "$(tp_secs 60)" \
	    python3 "$T/probe.py" "$1" "$Q2DIR" "$T/pki" "$2" >"$3" 2>&1 ||
		{ cat "$3"; tp_fail "probe $2 failed"; }
	sed 's/^/    | /' "$3"
}

step "A. global TLS settings that differ from the client's: warned once"
SB=$T/client-diff.sock
write_conf_a "$T/b.conf" encrypt b "$SB"
printf 'tls_high_cipherlist = "HIGH:!aNULL";\n' >>"$T/b.conf"
LOGB=$T/daemon-b.log
tp_start_daemon "$LOGB" "$T/b.conf" "unix:$SB"
DB=$TP_DAEMON_PID
probe_mode "$SB" one "$T/probe-diff1.out"
probe_mode "$SB" one "$T/probe-diff2.out"
tp_expect_msg "$LOGB" "warning: request from tlsproxy client with unexpected settings"
tp_expect_msg "$LOGB" "warning: client settings that differ from this daemon's: tls_high_cipherlist = \"aNULL:-aNULL:HIGH:@STRENGTH\" (ours: \"HIGH:!aNULL\"), CAfile = \"\" (ours: \"$T/pki/ca.pem\")"
n=$(tp_log_count "$LOGB" "request from tlsproxy client with unexpected settings")
[ "$n" = 1 ] || tp_fail "the settings warning was logged $n times, not once"
tp_ok "warned once for two requests"
tp_check "no client session reuse without smtp_tls_session_cache_database; foreign key files refused"
probe_mode "$SB" noresume "$T/probe-noresume.out"
probe_mode "$SB" foreignkey "$T/probe-foreignkey.out"
tp_expect_msg "$LOGB" "request refused: cert_file = \"/etc/ssl/private/ssl-cert-snakeoil.key\" is not a file this daemon's configuration names (tlsproxy_client_cert_file = \"\")"
probe_mode "$SB" foreignca "$T/probe-foreignca.out"
tp_expect_msg "$LOGB" "request refused: CAfile = \"/etc/passwd\" is not a file this daemon's configuration names (tlsproxy_client_CAfile = \"$T/pki/ca.pem\")"
tp_ok "not resumed without a cache database; a request naming another key or CA file gets status 0"
tp_stop_daemon "$DB" "$LOGB"

step "A. client role disabled (tlsproxy_client_security_level = none)"
SC=$T/client-off.sock
write_conf_a "$T/c.conf" none c "$SC"
LOGC=$T/daemon-c.log
tp_start_daemon "$LOGC" "$T/c.conf" "unix:$SC"
DC=$TP_DAEMON_PID
probe_mode "$SC" disabled "$T/probe-off.out"
tp_expect_msg "$LOGC" "warning: TLS client role is disabled by configuration"
tp_stop_daemon "$DC" "$LOGC"

# ================================================================ part B
if [ "$(id -u)" != 0 ] || [ ! -x "$PF_DAEMON_DIR/master" ] ||
    ! getent passwd postfix >/dev/null || ! getent group postdrop >/dev/null ||
    ! command -v swaks >/dev/null 2>&1 ||
    [ "${TLSPROXY_TEST_NO_POSTFIX:-0}" = 1 ]; then
	tp_skip "part A passed; part B (real Postfix) needs root, the Postfix programs and swaks"
fi

step "B. real Postfix $("$PF_COMMAND_DIR/postconf" -d -h mail_version), a private instance"
CERTDIR=$T/pki
FP=$(openssl x509 -in "$CERTDIR/sink.pem" -noout -fingerprint -sha256 | sed 's/^.*=//')
WRONG_FP=$(echo "$FP" | tr '0-9A-F' '1-9A-F0')

# One sink port per policy; the nexthop [127.0.0.1]:PORT selects it.
P_IN=$(tp_free_port)	# where the test submits mail
P_REUSE=$(tp_free_port) P_MAY=$(tp_free_port) P_FP=$(tp_free_port) P_FPBAD=$(tp_free_port)
P_VER=$(tp_free_port) P_VERBAD=$(tp_free_port) P_SEC=$(tp_free_port) P_SECBAD=$(tp_free_port)
ALLPORTS="$P_REUSE $P_MAY $P_FP $P_FPBAD $P_VER $P_VERBAD $P_SEC $P_SECBAD"
transport="reuse.test=smtp:[127.0.0.1]:$P_REUSE"
for d in may:$P_MAY fp:$P_FP fpbad:$P_FPBAD verify:$P_VER verifybad:$P_VERBAD \
    secure:$P_SEC securebad:$P_SECBAD; do
	transport="$transport, ${d%%:*}.test=smtp:[127.0.0.1]:${d##*:}"
done
# inline: values with spaces go inside { key = value }.
policy="[127.0.0.1]:$P_MAY=may"
policy="$policy, { [127.0.0.1]:$P_FP = fingerprint match=$FP }"
policy="$policy, { [127.0.0.1]:$P_FPBAD = fingerprint match=$WRONG_FP }"
policy="$policy, { [127.0.0.1]:$P_VER = verify match=$SINK_NAME }"
policy="$policy, { [127.0.0.1]:$P_VERBAD = verify match=wrong.tlsproxy.test }"
policy="$policy, { [127.0.0.1]:$P_SEC = secure match=.tlsproxy.test }"
policy="$policy, [127.0.0.1]:$P_SECBAD=secure"

step "B1. main.cf and master.cf"
tp_pf_init client
MAILLOG=$PF_LOG
tp_pf_conf \
    'tlsproxy_service_name = tlsproxy' \
    'relay_domains = reuse.test may.test fp.test fpbad.test verify.test verifybad.test secure.test securebad.test' \
    'smtp_tls_security_level = encrypt' \
    'smtp_tls_loglevel = 1' \
    "smtp_tls_CAfile = $CERTDIR/ca.pem" \
    'smtp_tls_fingerprint_digest = sha256' \
    'smtp_tls_connection_reuse = yes' \
    'smtp_connection_cache_destinations = 127.0.0.1' \
    'smtp_connection_cache_time_limit = 10s' \
    'smtp_destination_concurrency_limit = 1' \
    "transport_maps = inline:{$transport}" \
    "smtp_tls_policy_maps = inline:{$policy}"
tp_pf_service "127.0.0.1:$P_IN inet n - n - - smtpd -o syslog_name=postfix/submit"
for p in $ALLPORTS; do
	tp_pf_service "127.0.0.1:$p inet n - n - - smtpd -o content_filter=discard: -o syslog_name=postfix/sink -o smtpd_tls_security_level=may -o smtpd_tls_chain_files=$CERTDIR/sink.key,$CERTDIR/sink-chain.pem -o smtpd_tls_loglevel=1"
done
if grep -q -E '^tlsproxy[[:space:]]+unix' "$PF_CONF/master.cf"; then
	tp_hard_error "master.cf has a tlsproxy entry"
fi

step "B2. start Postfix and our daemon"
tp_pf_start
for p in $P_IN $ALLPORTS; do
	tp_wait_for 20 tp_port_listening "$p" || tp_hard_error "Postfix does not listen on 127.0.0.1:$p"
done
SOCK=$PF_SOCKDIR/tlsproxy
cat >"$T/tlsproxy.conf" <<EOF
smtp_tls_security_level = "encrypt";
smtp_tls_CAfile = "$CERTDIR/ca.pem";
tlsproxy_pid_file = "$T/tlsproxy.pid";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$SOCK"; owner = "postfix"; group = "postfix"; mode = "0666"; }
);
EOF
LOG=$T/tlsproxy.log
tp_start_daemon "$LOG" "$T/tlsproxy.conf" "unix:$SOCK"
D=$TP_DAEMON_PID

# delivered N PATTERN / deferred N PATTERN: count of matching smtp(8) lines
delivered() { [ "$(grep -c -E "postfix/smtp\[.*to=<$2>.*status=sent" "$MAILLOG")" -ge "$1" ]; }
deferred() { [ "$(grep -c -E "postfix/smtp\[.*to=<$2>.*status=deferred" "$MAILLOG")" -ge "$1" ]; }
send() {
	timeout -k 5 "$(tp_secs 30)" swaks --server 127.0.0.1 --port "$P_IN" \
	    --from sender@test.localdomain --to "$1" --header "Subject: $1" \
	    --body "body of $1" >"$T/send-$1.out" 2>&1 ||
		{ cat "$T/send-$1.out"; tp_fail "submitting $1 failed"; }
}
show_smtp() {
	grep -E 'postfix/smtp\[' "$MAILLOG" | grep -E "$1" | sed 's/^/    maillog | /'
}

step "B3. three messages over one reused TLS connection (level encrypt)"
for i in 1 2 3; do
	send "rcpt$i@reuse.test"
done
tp_wait_for 60 delivered 3 'rcpt[123]@reuse\.test' || {
	show_smtp 'reuse\.test|TLS'; tp_fail "the three messages were not delivered"; }
show_smtp 'reuse\.test|TLS connection'
tp_ok "3 messages delivered through our daemon"
grep -q -E 'to=<rcpt[23]@reuse\.test>.*conn_use=[23]' "$MAILLOG" ||
	tp_fail "no connection reuse (conn_use=2 or 3) in the maillog"
tp_ok "maillog: conn_use=2 or higher"
tp_expect_log "$MAILLOG" "Trusted TLS connection reused to 127.0.0.1[127.0.0.1]:$P_REUSE: TLSv1.3 with cipher"
tp_expect_log "$MAILLOG" "Trusted TLS connection established to 127.0.0.1[127.0.0.1]:$P_REUSE: TLSv1.3 with cipher"
tp_expect_log "$LOG" "CONNECT to [127.0.0.1]:$P_REUSE"
tp_expect_log "$LOG" "Trusted TLS connection established to 127.0.0.1[127.0.0.1]:$P_REUSE: TLSv1.3 with cipher"
n=$(tp_log_count "$LOG" "CONNECT to [127.0.0.1]:$P_REUSE")
[ "$n" = 1 ] || tp_fail "the three deliveries used $n proxied sessions, not 1"
tp_ok "one proxied TLS session carried all three deliveries"
# scache drops the idle plaintext socket (after 10 s here, not Postfix's
# 2 s, so that a loaded machine's slow deliveries still reuse it).
tp_expect_log "$LOG" "DISCONNECT [127.0.0.1]:$P_REUSE" 30

step "B4. levels: may, fingerprint, verify, secure (right and wrong)"
for r in may fp fpbad verify verifybad secure securebad; do
	send "u@$r.test"
done
tp_wait_for 60 delivered 1 'u@may\.test' || { show_smtp 'may\.test'; tp_fail "may: not delivered"; }
tp_ok "may: delivered"
tp_wait_for 60 delivered 1 'u@fp\.test' || { show_smtp "@fp\\.test|:$P_FP"; tp_fail "fingerprint: not delivered"; }
tp_expect_log "$MAILLOG" "Verified TLS connection established to 127.0.0.1[127.0.0.1]:$P_FP"
tp_ok "fingerprint (right): delivered, Verified"
tp_wait_for 60 delivered 1 'u@verify\.test' || { show_smtp "verify\\.test|:$P_VER"; tp_fail "verify: not delivered"; }
tp_expect_log "$MAILLOG" "Verified TLS connection established to 127.0.0.1[127.0.0.1]:$P_VER"
tp_ok "verify (matching name): delivered, Verified"
tp_wait_for 60 delivered 1 'u@secure\.test' || { show_smtp "secure\\.test|:$P_SEC"; tp_fail "secure: not delivered"; }
tp_expect_log "$MAILLOG" "Verified TLS connection established to 127.0.0.1[127.0.0.1]:$P_SEC"
tp_ok "secure (.tlsproxy.test): delivered, Verified"
for r in fpbad verifybad securebad; do
	tp_wait_for 60 deferred 1 "u@$r\\.test" || { show_smtp "$r\\.test"; tp_fail "$r: not deferred"; }
	grep -E "postfix/smtp\[.*to=<u@$r\.test>.*status=deferred \(Server certificate not verified\)" "$MAILLOG" >/dev/null ||
		{ show_smtp "$r\\.test"; tp_fail "$r: deferred for another reason"; }
	tp_ok "$r: deferred (Server certificate not verified)"
done
tp_expect_log "$LOG" "certificate verification failed for 127.0.0.1[127.0.0.1]:$P_FPBAD: num=65:no matching DANE TLSA records"
tp_expect_log "$LOG" "certificate verification failed for 127.0.0.1[127.0.0.1]:$P_VERBAD: num=62:hostname mismatch"
# An IP-literal next hop: the name check is an IP address check.
tp_expect_log "$LOG" "certificate verification failed for 127.0.0.1[127.0.0.1]:$P_SECBAD: num=64:IP address mismatch"
show_smtp 'TLS connection|status='

step "B5. no warnings"
if grep 'warning:' "$MAILLOG" | grep -q -E 'tlsproxy|private/tlsproxy'; then
	grep 'warning:' "$MAILLOG" | sed 's/^/    maillog | /'
	tp_fail "maillog has warnings about tlsproxy"
fi
tp_expect_no_log "$MAILLOG" "postfix/tlsproxy["
tp_expect_no_log "$LOG" "request from tlsproxy client with unexpected settings"
tp_expect_no_log "$LOG" "TLS handshake failed"
tp_ok "no tlsproxy warnings; master(8) ran no tlsproxy of its own"
tp_check_log_format "$LOG" "$D" postfix

step "stop"
tp_pf_stop
tp_stop_daemon "$D" "$LOG"
tp_say "PASS"
exit 0
