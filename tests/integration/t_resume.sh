#!/bin/bash
# TLS session resumption: the shared session cache (TLS 1.2 session ids,
# TLS 1.3 stateful tickets when tickets are off) and the ticket key ring
# (TLS 1.2 and 1.3 tickets), through a TCP frontend with openssl s_client
# and through the handoff socket with Python ssl; the counters move; no
# resumption across listeners; tickets survive SIGHUP and expire; two
# daemons sharing a ticket key file resume each other's tickets.
. "$(dirname "$0")/lib.sh"
tp_init
tp_gen_certs
T=$TP_TMP

tp_start_echo --listen tcp:127.0.0.1:0
ECHO_PORT=$(awk '$1 == "tcp" { print $3 }' "$T/echo.ready")
[ -n "$ECHO_PORT" ] || tp_hard_error "echo server port unknown"

P1=$(tp_free_port)	# tickets on (default)
P2=$(tp_free_port)	# same certificate, another listener
P3=$(tp_free_port)	# tickets off: cache only
P4=$(tp_free_port)	# cache timeout 0: no resumption at all
P5=$(tp_free_port)	# short timeout: expiry
P6=$(tp_free_port)	# no session cache database: tickets only
SOCK=$T/tlsproxy.sock

cat >"$T/tlsproxy.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_loglevel = "1";
smtpd_tls_session_cache_database = "btree:$T/smtpd_scache";
tlsproxy_worker_threads = 8;
tlsproxy_pid_file = "$T/tlsproxy.pid";
tlsproxy_listeners = (
  { handoff = "$SOCK"; },
  { listen = "127.0.0.1:$P1"; backend = "127.0.0.1:$ECHO_PORT"; },
  { listen = "127.0.0.1:$P2"; backend = "127.0.0.1:$ECHO_PORT"; },
  { listen = "127.0.0.1:$P3"; backend = "127.0.0.1:$ECHO_PORT"; tls_session_ticket_cipher = ""; },
  { listen = "127.0.0.1:$P4"; backend = "127.0.0.1:$ECHO_PORT"; tlsproxy_tls_session_cache_timeout = "0"; },
  { listen = "127.0.0.1:$P5"; backend = "127.0.0.1:$ECHO_PORT"; tlsproxy_tls_session_cache_timeout = "2s"; tls_session_ticket_cipher = ""; },
  { listen = "127.0.0.1:$P6"; backend = "127.0.0.1:$ECHO_PORT"; smtpd_tls_session_cache_database = ""; }
);
EOF
LOG=$T/daemon.log
tp_start_daemon "$LOG" "$T/tlsproxy.conf" "unix:$SOCK" "tcp:$P1" "tcp:$P5"
PID=$TP_DAEMON_PID
[ "$(stat -c %a "$SOCK")" = 600 ] ||
	tp_fail "a handoff socket without mode has mode $(stat -c %a "$SOCK"), not 600 (closed by default)"

# counter NAME: the counter from a fresh SIGUSR1 statistics line.
counter() {
	local before
	before=$(grep -c 'statistics: sessions_' "$LOG")
	kill -USR1 "$PID"
	tp_wait_for 5 test "$(grep -c 'statistics: sessions_' "$LOG")" -gt "$before" ||
		tp_fail "no statistics line after SIGUSR1"
	grep 'statistics: sessions_' "$LOG" | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# sclient PORT SESSFILE in|out EXTRA...: one s_client session; prints its output.
sclient() {
	local port=$1 sess=$2 dir=$3
	shift 3
	(sleep 0.3; printf 'ping\n'; sleep 0.3) | timeout "$(tp_secs 10)" \
	    openssl s_client -connect "127.0.0.1:$port" -CAfile "$T/rsa.pem" \
	    -"sess_$dir" "$sess" "$@" 2>&1
}

# resumed PORT PROTO EXTRA...: full handshake, then resumption attempt; 0 if reused.
resumed() {
	local port=$1 proto=$2 out
	shift 2
	rm -f "$T/sess.pem"
	out=$(sclient "$port" "$T/sess.pem" out "-$proto" "$@")
	echo "$out" | grep -q '^New, ' || { echo "$out"; tp_fail "first handshake on $port did not complete"; }
	[ -s "$T/sess.pem" ] || tp_fail "s_client saved no session ($proto, port $port)"
	out=$(sclient "$port" "$T/sess.pem" in "-$proto" "$@")
	echo "$out" | grep -q 'ping' || { echo "$out"; tp_fail "no echo on the resumption attempt"; }
	echo "$out" | grep -q '^Reused, '
}

tp_check "TLS 1.2 session id (no ticket) resumes from the shared cache"
b=$(counter handshakes_resumed_id)
resumed "$P1" tls1_2 -no_ticket || tp_fail "TLS 1.2 session id not reused"
[ "$(counter handshakes_resumed_id)" -gt "$b" ] || tp_fail "handshakes_resumed_id did not move"
[ "$(counter cache_hits)" -ge 1 ] || tp_fail "cache_hits did not move"
tp_ok "TLS 1.2 session id reused; handshakes_resumed_id and cache_hits moved"

tp_check "TLS 1.2 ticket resumes"
b=$(counter handshakes_resumed_ticket)
resumed "$P1" tls1_2 || tp_fail "TLS 1.2 ticket not reused"
[ "$(counter handshakes_resumed_ticket)" -gt "$b" ] || tp_fail "handshakes_resumed_ticket did not move"
tp_ok "TLS 1.2 ticket reused; handshakes_resumed_ticket moved"

tp_check "TLS 1.3 ticket resumes"
b=$(counter handshakes_resumed_ticket)
resumed "$P1" tls1_3 || tp_fail "TLS 1.3 ticket not reused"
[ "$(counter handshakes_resumed_ticket)" -gt "$b" ] || tp_fail "handshakes_resumed_ticket did not move (TLS 1.3)"
tp_ok "TLS 1.3 ticket reused"

tp_check "sessions live twice the cache timeout (3600s), as in Postfix"
for proto in tls1_2 tls1_3; do
	rm -f "$T/sess.pem"
	sclient "$P1" "$T/sess.pem" out "-$proto" >/dev/null
	openssl sess_id -in "$T/sess.pem" -noout -text >"$T/hint.out" 2>&1
	grep -q 'lifetime hint: 7200 (seconds)' "$T/hint.out" ||
		tp_fail "$proto ticket lifetime hint: $(grep 'lifetime hint' "$T/hint.out" | head -1), expected 7200"
done
tp_ok "TLS 1.2 and 1.3 ticket lifetime hint 7200 s"

tp_check "smtpd_tls_session_cache_database empty (Postfix's default): tickets only"
resumed "$P6" tls1_2 -no_ticket && tp_fail "TLS 1.2 session id resumed without a session cache database"
resumed "$P6" tls1_2 || tp_fail "TLS 1.2 ticket not reused without a session cache database"
resumed "$P6" tls1_3 || tp_fail "TLS 1.3 ticket not reused without a session cache database"
tp_ok "no session-ID resumption; TLS 1.2 and 1.3 tickets resume"

tp_check "tickets off (tls_session_ticket_cipher empty): TLS 1.3 resumes statefully from the cache"
b=$(counter handshakes_resumed_id)
resumed "$P3" tls1_3 || tp_fail "TLS 1.3 stateful resumption failed"
[ "$(counter handshakes_resumed_id)" -gt "$b" ] || tp_fail "TLS 1.3 stateful resumption not counted as a cache resumption"
resumed "$P3" tls1_2 || tp_fail "TLS 1.2 resumption by id failed with tickets off"
tp_ok "TLS 1.3 and TLS 1.2 resume from the cache with tickets off"

tp_check "cache timeout 0: no resumption at all"
resumed "$P4" tls1_2 && tp_fail "resumed although tlsproxy_tls_session_cache_timeout = 0"
rm -f "$T/sess.pem"
sclient "$P4" "$T/sess.pem" out -tls1_3 | grep -q '^New, ' || tp_fail "no TLS 1.3 handshake on $P4"
if [ -s "$T/sess.pem" ]; then
	sclient "$P4" "$T/sess.pem" in -tls1_3 | grep -q '^Reused, ' &&
		tp_fail "TLS 1.3 resumed although tlsproxy_tls_session_cache_timeout = 0"
fi
tp_ok "no resumption with timeout 0 (and no TLS 1.3 ticket issued)"

tp_check "a session of one listener never resumes on another"
for proto in tls1_2 tls1_3; do
	rm -f "$T/sess.pem"
	sclient "$P1" "$T/sess.pem" out "-$proto" >/dev/null
	sclient "$P2" "$T/sess.pem" in "-$proto" | grep -q '^Reused, ' &&
		tp_fail "$proto session from listener $P1 resumed on listener $P2"
	sclient "$P1" "$T/sess.pem" in "-$proto" | grep -q '^Reused, ' ||
		tp_fail "$proto session no longer resumes on its own listener"
done
tp_ok "no cross-listener resumption"

tp_check "a session expires after the cache timeout (2s)"
rm -f "$T/sess.pem"
sclient "$P5" "$T/sess.pem" out -tls1_2 -no_ticket >/dev/null
sclient "$P5" "$T/sess.pem" in -tls1_2 -no_ticket | grep -q '^Reused, ' ||
	tp_fail "no resumption within the timeout"
sleep 3
sclient "$P5" "$T/sess.pem" in -tls1_2 -no_ticket | grep -q '^Reused, ' &&
	tp_fail "resumed after the cache timeout"
tp_ok "expired session not resumed"

tp_check "handoff: Python ssl resumes a TLS 1.2 and a TLS 1.3 session through two handoff sessions"
cat >"$T/ho_resume.py" <<'EOF'
import socket, ssl, sys
sock_path, proto = sys.argv[1], sys.argv[2]
# One client context: Python resumes only sessions of the same context.
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
v = ssl.TLSVersion.TLSv1_2 if proto == "1.2" else ssl.TLSVersion.TLSv1_3
ctx.minimum_version = ctx.maximum_version = v
def one(session, sid="smtpd"):
    u = socket.socket(socket.AF_UNIX); u.connect(sock_path); u.settimeout(10)
    assert u.recv(28) == b"protocol\0tlsproxy_protocol\0\0"
    l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
    c = socket.create_connection(l.getsockname()); a, peer = l.accept(); l.close()
    u.sendall(b"remote_endpoint\0[%s]:%d\0flags\x001\0timeout\x0010\0timeout\x0010\0serverid\0%s\0\0"
              % (peer[0].encode(), peer[1], sid.encode()))
    assert u.recv(10) == b"status\x001\0\0"
    socket.send_fds(u, [b"\0"], [a.fileno()]); a.close()
    t = ctx.wrap_socket(c, session=session) if session else ctx.wrap_socket(c)
    t.settimeout(10)
    t.sendall(b"hello\r\n")
    got = b""
    while len(got) < 7: got += u.recv(100)
    u.sendall(b"250 ok\r\n")
    got = b""
    while len(got) < 8: got += t.recv(100)
    reused, sess = t.session_reused, t.session
    u.close(); t.close()
    return reused, sess
r, s = one(None)
r2, _ = one(s)
r3, _ = one(s, "other-service")
print("first reused=%s second reused=%s other-serverid reused=%s" % (r, r2, r3))
sys.exit(0 if (not r and r2 and not r3) else 1)
EOF
for proto in 1.2 1.3; do
	python3 "$T/ho_resume.py" "$SOCK" "$proto" >"$T/hr.out" 2>&1 || { cat "$T/hr.out"; tp_fail "handoff resumption (TLS $proto)"; }
	sed 's/^/    | /' "$T/hr.out"
done
tp_ok "handoff sessions resume, but never under another request service id"

tp_check "a ticket issued before SIGHUP resumes after it"
rm -f "$T/sess.pem"
sclient "$P1" "$T/sess.pem" out -tls1_2 >/dev/null
kill -HUP "$PID"
tp_wait_for 10 tp_log_has "$LOG" "configuration reloaded" || tp_fail "no reload"
sclient "$P1" "$T/sess.pem" in -tls1_2 | grep -q '^Reused, ' || tp_fail "ticket not accepted after SIGHUP"
tp_ok "ticket survives SIGHUP"

tp_check "a reload that fails leaves the ticket keys as they were"
# A new ticket cipher would replace the key ring; the same reload also
# asks for a listener on a port that is taken, so it must fail whole.
rm -f "$T/sess.pem"
sclient "$P1" "$T/sess.pem" out -tls1_2 >/dev/null
cp "$T/tlsproxy.conf" "$T/tlsproxy.conf.good"
sed -e 's/^smtpd_tls_loglevel = "1";/&\ntls_session_ticket_cipher = "aes-128-cbc";/' \
    -e "s|^  { handoff = \"$SOCK\"; },|&\n  { listen = \"127.0.0.1:$ECHO_PORT\"; backend = \"127.0.0.1:$ECHO_PORT\"; },|" \
    "$T/tlsproxy.conf.good" >"$T/tlsproxy.conf"
grep -q 'aes-128-cbc' "$T/tlsproxy.conf" && grep -q "listen = \"127.0.0.1:$ECHO_PORT\"" "$T/tlsproxy.conf" ||
	tp_hard_error "could not write the failing configuration"
kill -HUP "$PID"
tp_wait_for 10 tp_log_has "$LOG" "reload failed; keeping the running configuration" ||
	tp_fail "the reload with a taken port did not fail"
sclient "$P1" "$T/sess.pem" in -tls1_2 | grep -q '^Reused, ' ||
	tp_fail "a ticket issued before the failed reload no longer resumes"
cp "$T/tlsproxy.conf.good" "$T/tlsproxy.conf"
tp_ok "failed reload: the earlier ticket still resumes"

tp_stop_daemon "$PID" "$LOG"
tp_expect_log "$LOG" "statistics: sessions_handoff="
tp_expect_log "$LOG" "session cache: "

tp_check "two daemons sharing a ticket key file resume each other's tickets"
KEYS=$T/ticket.keys
sh "$TOP_SRCDIR/contrib/tlsproxy-ticketkeys" "$KEYS" >/dev/null || tp_fail "tlsproxy-ticketkeys could not create $KEYS"
[ "$(stat -c %a "$KEYS")" = 600 ] || tp_fail "key file mode is $(stat -c %a "$KEYS"), not 600"
QA=$(tp_free_port)
QB=$(tp_free_port)
for x in A B; do
	eval port=\$Q$x
	cat >"$T/$x.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_loglevel = "1";
tlsproxy_tls_ticket_key_file = "$KEYS";
tlsproxy_listeners = ( { listen = "127.0.0.1:$port"; backend = "127.0.0.1:$ECHO_PORT"; name = "mx"; } );
EOF
	tp_start_daemon "$T/$x.log" "$T/$x.conf" "tcp:$port"
	eval PID_$x=$TP_DAEMON_PID
done
for proto in tls1_2 tls1_3; do
	rm -f "$T/sess.pem"
	sclient "$QA" "$T/sess.pem" out "-$proto" | grep -q '^New, ' || tp_fail "no session from A"
	sclient "$QB" "$T/sess.pem" in "-$proto" | grep -q '^Reused, ' ||
		tp_fail "$proto ticket from daemon A not resumed by daemon B"
done
tp_ok "daemon B resumes daemon A's tickets (TLS 1.2 and 1.3)"

tp_check "after a rotation of the shared file, old tickets still resume; a fresh file of new keys does not accept them"
rm -f "$T/sess.pem"
sclient "$QA" "$T/sess.pem" out -tls1_2 >/dev/null
sleep 1.1	# the daemons notice file changes by mtime, once a second
sh "$TOP_SRCDIR/contrib/tlsproxy-ticketkeys" "$KEYS" >/dev/null
sleep 1.5
sclient "$QB" "$T/sess.pem" in -tls1_2 | grep -q '^Reused, ' || tp_fail "ticket under the previous key not accepted after rotation"
rm -f "$KEYS"
sh "$TOP_SRCDIR/contrib/tlsproxy-ticketkeys" "$KEYS" >/dev/null
sleep 2.5
sclient "$QB" "$T/sess.pem" in -tls1_2 | grep -q '^Reused, ' && tp_fail "ticket accepted although its key is gone from the file"
tp_ok "shared key file rotation works both ways"

tp_stop_daemon "$PID_A" "$T/A.log"
tp_stop_daemon "$PID_B" "$T/B.log"
tp_check_log_format "$LOG" "$PID" postfix
tp_say "PASS"
exit 0
