#!/bin/bash
# The TCP frontend: TLS clients (openssl s_client, Python ssl) -> daemon ->
# plaintext echo backend (TCP or UNIX socket). Byte-exact relay, protocol,
# cipher and certificate, certificate choice by signature algorithm, a
# backend that is down, non-TLS input and the handshake/idle timeouts.
. "$(dirname "$0")/lib.sh"
tp_init
tp_gen_certs
T=$TP_TMP

tp_start_echo --listen tcp:127.0.0.1:0 --listen "unix:$T/echo.sock"
ECHO_PORT=$(awk '$1 == "tcp" { print $3 }' "$T/echo.ready")
[ -n "$ECHO_PORT" ] || tp_hard_error "echo server port unknown"

P1=$(tp_free_port)   # -> TCP echo
P2=$(tp_free_port)   # -> UNIX echo
P3=$(tp_free_port)   # -> nothing (backend down)
P4=$(tp_free_port)   # -> TCP echo, short timeouts
DOWN=$(tp_free_port)
HS=2
IDLE=3

cat >"$T/tlsproxy.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_eccert_file = "$T/ec.pem";
smtpd_tls_eckey_file = "$T/ec.key";
smtpd_tls_loglevel = "1";
tlsproxy_worker_threads = 8;
tlsproxy_queue_limit = 32;
tlsproxy_pid_file = "$T/tlsproxy.pid";
syslog_name = "postfix";
tlsproxy_listeners = (
  { listen = "127.0.0.1:$P1"; backend = "127.0.0.1:$ECHO_PORT"; handshake_timeout = "10s"; idle_timeout = "30s"; },
  { listen = "127.0.0.1:$P2"; backend = "$T/echo.sock"; },
  { listen = "127.0.0.1:$P3"; backend = "127.0.0.1:$DOWN"; },
  { listen = "127.0.0.1:$P4"; backend = "127.0.0.1:$ECHO_PORT"; handshake_timeout = "${HS}s"; idle_timeout = "${IDLE}s"; }
);
EOF
LOG=$T/daemon.log
tp_start_daemon "$LOG" "$T/tlsproxy.conf" "tcp:$P1" "tcp:$P2" "tcp:$P3" "tcp:$P4"
D=$TP_DAEMON_PID

# ------------------------------------------------------------ openssl s_client
# Payload: numbered text lines, so they can be told apart from s_client's
# own output.
python3 -c '
import os, sys
for i in range(64):
    sys.stdout.write("TPDATA%05d %s\n" % (i, os.urandom(30).hex()))
' >"$T/payload.txt"
NLINES=$(wc -l <"$T/payload.txt")

echoed_lines() { grep -c '^TPDATA' "$1" 2>/dev/null; }
enough_lines() { [ "$(echoed_lines "$1")" -ge "$NLINES" ]; }

# sclient NAME PORT EXTRA-ARGS...: send the payload through s_client; wait
# (bounded) until it is echoed, then end stdin so s_client quits.
sclient() {
	local name=$1 port=$2
	shift 2
	{
		cat "$T/payload.txt"
		tp_wait_for 20 enough_lines "$T/$name.out"
	} | timeout -k 5 "$(tp_secs 60)" openssl s_client -connect "127.0.0.1:$port" \
	    -servername x -CAfile "$T/ca.pem" -nocommands "$@" >"$T/$name.out" 2>"$T/$name.err"
	tp_add_log "$T/$name.out"
	tp_add_log "$T/$name.err"
	grep -E '^( *Protocol|New,|subject=|Verify return code|Peer signature type|Server public key)' "$T/$name.out" |
	    sed 's/^/    | /'
	grep '^TPDATA' "$T/$name.out" | cmp -s - "$T/payload.txt" ||
		tp_fail "$name: the echoed data differs from what was sent ($(echoed_lines "$T/$name.out") of $NLINES lines)"
	grep -q -E '^ *Protocol *: TLSv1\.3$' "$T/$name.out" || tp_fail "$name: no 'Protocol  : TLSv1.3'"
	grep -q -F 'New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384' "$T/$name.out" ||
		tp_fail "$name: no 'New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384'"
	grep -q -F 'Verify return code: 0 (ok)' "$T/$name.out" || tp_fail "$name: certificate not verified"
}

subject_cn() { sed -n 's/^subject=.*CN *= *\([^,/]*\).*$/\1/p' "$1" | head -1; }

tp_check "s_client: $(wc -c <"$T/payload.txt") bytes echoed byte-exact, TLSv1.3, verified certificate"
sclient plain "$P1"
cn=$(subject_cn "$T/plain.out")
[ "$cn" = "$TP_RSA_CN" ] || [ "$cn" = "$TP_EC_CN" ] || tp_fail "unexpected certificate subject CN '$cn'"
tp_ok "s_client relay, subject CN=$cn"

tp_check "s_client limited to ECDSA+SHA256 gets the ECDSA certificate"
sclient ecdsa "$P1" -sigalgs ECDSA+SHA256
cn=$(subject_cn "$T/ecdsa.out")
[ "$cn" = "$TP_EC_CN" ] || tp_fail "ECDSA-only client got certificate CN '$cn'"
grep -q -F 'Peer signature type: ECDSA' "$T/ecdsa.out" || tp_fail "no 'Peer signature type: ECDSA'"
grep -q -F 'Server public key is 256 bit' "$T/ecdsa.out" || tp_fail "not a 256-bit key"
tp_ok "ECDSA certificate"

tp_check "s_client limited to RSA-PSS+SHA256 gets the RSA certificate"
sclient rsapss "$P1" -sigalgs RSA-PSS+SHA256
cn=$(subject_cn "$T/rsapss.out")
[ "$cn" = "$TP_RSA_CN" ] || tp_fail "RSA-only client got certificate CN '$cn'"
grep -q -F 'Peer signature type: RSA-PSS' "$T/rsapss.out" || tp_fail "no 'Peer signature type: RSA-PSS'"
grep -q -F 'Server public key is 2048 bit' "$T/rsapss.out" || tp_fail "not a 2048-bit key"
tp_ok "RSA certificate"

# ------------------------------------------------------------ Python ssl client
tp_hc_ok "$T/py1.out" "Python client: 1 MiB echoed byte-exact over TLSv1.3" \
    --connect "127.0.0.1:$P1" --bytes 1048576 --cafile "$T/ca.pem" \
    --expect-protocol TLSv1.3 --expect-cipher TLS_AES_256_GCM_SHA384
EP=$(tp_endpoint "$T/py1.out")
tp_expect_msg "$LOG" "CONNECT from $EP"
tp_expect_log "$LOG" "Anonymous TLS connection established from $EP: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
tp_expect_msg "$LOG" "DISCONNECT $EP"
tp_expect_order "$LOG" "CONNECT from $EP" "Anonymous TLS connection established from $EP:" "DISCONNECT $EP"

tp_hc_ok "$T/slow.out" "backpressure: 4 MiB echoed while the client starts reading 2 s late" \
    --connect "127.0.0.1:$P1" --bytes 4194304 --read-delay 2 --io-timeout "$(tp_secs 60)"

tp_hc_ok "$T/py12.out" "Python client limited to TLSv1.2" \
    --connect "127.0.0.1:$P1" --bytes 65536 --tls-max TLSv1.2 --expect-protocol TLSv1.2

tp_hc_ok "$T/par.out" "10 Python clients in parallel, 256 KiB each" \
    --connect "127.0.0.1:$P1" --bytes 262144 --parallel 10 --expect-protocol TLSv1.3 \
    --deadline "$(tp_secs 200)" --io-timeout "$(tp_secs 100)"

tp_hc_ok "$T/unix.out" "UNIX-socket backend: 256 KiB echoed byte-exact" \
    --connect "127.0.0.1:$P2" --bytes 262144 --cafile "$T/ca.pem" --expect-protocol TLSv1.3
sclient unixbackend "$P2"
tp_ok "UNIX-socket backend via s_client"

# ------------------------------------------------------------ failures
tp_hc_ok "$T/down.out" "backend down: the connection is closed" \
    --connect "127.0.0.1:$P3" --mode expect-close --io-timeout "$(tp_secs 20)"
EP=$(tp_endpoint "$T/down.out")
tp_expect_log "$LOG" "warning: backend connect to 127.0.0.1:$DOWN failed for $EP: "
tp_expect_msg "$LOG" "DISCONNECT $EP"

tp_hc_ok "$T/nontls.out" "plaintext instead of a ClientHello: closed" \
    --connect "127.0.0.1:$P1" --mode nontls --io-timeout "$(tp_secs 20)"
EP=$(tp_endpoint "$T/nontls.out")
tp_expect_msg "$LOG" "TLS handshake failed for service=127.0.0.1:$P1 peer=$EP"
tp_expect_log "$LOG" "warning: TLS library problem: "

tp_hc_ok "$T/stall.out" "no ClientHello: closed at the ${HS}s handshake timeout" \
    --connect "127.0.0.1:$P4" --mode stall --timeout1 "$HS"
EP=$(tp_endpoint "$T/stall.out")
tp_expect_msg "$LOG" "warning: ciphertext read/write timeout for $EP"
tp_expect_msg "$LOG" "TLS handshake failed for service=127.0.0.1:$P4 peer=$EP"

tp_hc_ok "$T/idle.out" "silent after the handshake: closed at the ${IDLE}s idle timeout" \
    --connect "127.0.0.1:$P4" --mode idle --timeout2 "$IDLE"
EP=$(tp_endpoint "$T/idle.out")
tp_expect_msg "$LOG" "warning: ciphertext read/write timeout for $EP"
tp_expect_msg "$LOG" "DISCONNECT $EP"

tp_hc_ok "$T/after.out" "a good session after the failures" \
    --connect "127.0.0.1:$P1" --bytes 65536 --expect-protocol TLSv1.3

tp_check_log_format "$LOG" "$D" postfix
tp_stop_daemon "$D" "$LOG"
tp_expect_msg "$LOG" "stopped"
tp_say "PASS"
exit 0
