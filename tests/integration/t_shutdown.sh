#!/bin/bash
# Connection shutdown and ticket behaviour, as a TLS conformance suite
# checks them, with real clients:
#   - a client's close_notify is answered (Python ssl unwrap(), TLS 1.2
#     and 1.3), on implicit TLS and on handoff sessions;
#   - a request followed at once by the client's close_notify (one TCP
#     segment, ssl.MemoryBIO) gets its whole answer, then our
#     close_notify; the backend sees EOF while its answer still goes out;
#   - a backend that closes first: its last bytes and our close_notify
#     reach the client, which can still send until its own close_notify;
#   - TLS 1.3: one ticket per full handshake, and a fresh one on each
#     resumption, so a chain of single-use tickets keeps resuming;
#   - a KeyUpdate with update_requested is answered at once, with no
#     data flowing;
#   - a STARTTLS session ended by QUIT before MAIL resumes by session id;
#   - the counters close_notify_sent, close_notify_received, half_closes.
. "$(dirname "$0")/lib.sh"

tp_init
tp_gen_certs
T=$TP_TMP
PEER=$TP_DIR/shutdown_peer.py

tp_start_echo --listen tcp:127.0.0.1:0
ECHO_PORT=$(awk '$1 == "tcp" { print $3; exit }' "$T/echo.ready")
RB=$(tp_free_port); CB=$(tp_free_port); SB=$(tp_free_port)
tp_spawn "$T/rb.out" python3 "$PEER" backend "$RB" reply-after-eof "$T/rb.log"
tp_spawn "$T/cb.out" python3 "$PEER" backend "$CB" close-first "$T/cb.log"
tp_spawn "$T/sink.out" python3 "$TP_DIR/smtp_sink.py" "$SB" "$T/sink.log"
for p in $RB $CB $SB; do
	tp_wait_for 10 tp_port_listening "$p" || tp_hard_error "a backend does not listen on $p"
done

LE=$(tp_free_port); LR=$(tp_free_port); LC=$(tp_free_port); LS=$(tp_free_port)
SOCK=$T/handoff.sock
cat >"$T/tlsproxy.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_loglevel = "1";
tlsproxy_pid_file = "$T/tlsproxy.pid";
smtpd_tls_session_cache_database = "btree:$T/smtpd_scache";
tlsproxy_stats_socket = "$T/stats.sock";
tlsproxy_listeners = (
  { listen = "127.0.0.1:$LE"; backend = "127.0.0.1:$ECHO_PORT"; },
  { listen = "127.0.0.1:$LR"; backend = "127.0.0.1:$RB"; },
  { listen = "127.0.0.1:$LC"; backend = "127.0.0.1:$CB"; },
  { listen = "127.0.0.1:$LS"; backend = "127.0.0.1:$SB"; starttls = "smtp"; },
  { handoff = "$SOCK"; }
);
EOF
LOG=$T/tlsproxy.log
tp_start_daemon "$LOG" "$T/tlsproxy.conf" "tcp:$LE" "tcp:$LR" "tcp:$LC" "tcp:$LS" "unix:$SOCK"
D=$TP_DAEMON_PID

peer() {
	local name=$1
	shift
	tp_check "$name"
	timeout -k 5 "$(tp_secs 30)" python3 "$PEER" client "$@" >"$T/$name.out" 2>&1
	local rc=$?
	sed 's/^/    | /' "$T/$name.out"
	[ "$rc" = 0 ] || tp_fail "$name"
	tp_ok "$name"
}
peer unwrap12 "$LE" unwrap 1.2
peer unwrap13 "$LE" unwrap 1.3
peer halfclose "$LR" halfclose
peer late "$LC" late
tp_wait_for 10 tp_log_has "$T/cb.log" "received after our close: late data" ||
	tp_fail "the client's data after the backend's close did not reach the backend"
tp_ok "the backend got the client's line sent after the backend had closed"

tp_check "TLS 1.3: one ticket per full handshake, a fresh one per resumption"
sc13() {	# sc13 OUT [ARGS]: s_client with one line of data, tickets included
	local out=$1
	shift
	(echo x; sleep 1) | timeout -k 2 "$(tp_secs 15)" openssl s_client \
	    -connect "127.0.0.1:$LE" -tls1_3 -msg "$@" >"$out" 2>&1
}
sc13 "$T/t1.out" -sess_out "$T/s1.pem"
n=$(grep -c '<<< TLS 1.3, Handshake \[length [0-9a-f]*\], NewSessionTicket' "$T/t1.out")
[ "$n" = 1 ] || tp_fail "full handshake: $n NewSessionTicket messages, expected 1"
sc13 "$T/t2.out" -sess_in "$T/s1.pem" -sess_out "$T/s2.pem"
grep -q '^Reused, TLSv1.3' "$T/t2.out" || tp_fail "the first ticket did not resume"
n=$(grep -c '<<< TLS 1.3, Handshake \[length [0-9a-f]*\], NewSessionTicket' "$T/t2.out")
[ "$n" = 1 ] || tp_fail "resumed handshake: $n NewSessionTicket messages, expected 1 (a fresh ticket)"
cmp -s "$T/s1.pem" "$T/s2.pem" && tp_fail "the resumed connection kept the old ticket"
sc13 "$T/t3.out" -sess_in "$T/s2.pem"
grep -q '^Reused, TLSv1.3' "$T/t3.out" || tp_fail "the fresh ticket did not resume"
tp_ok "full: 1 ticket; resumed: Reused + 1 fresh ticket; the fresh ticket resumes again"

tp_check "KeyUpdate with update_requested is answered with no data flowing"
(sleep 0.5; echo K; sleep 1.5) | timeout -k 2 "$(tp_secs 15)" openssl s_client \
    -connect "127.0.0.1:$LE" -tls1_3 -msg >"$T/ku.out" 2>&1
grep -i 'keyupdate' "$T/ku.out" | sed 's/^/    | /'
grep -q '^>>> TLS 1.3, Handshake \[length 0005\], KeyUpdate' "$T/ku.out" ||
	tp_fail "s_client sent no KeyUpdate"
grep -q '^<<< TLS 1.3, Handshake \[length 0005\], KeyUpdate' "$T/ku.out" ||
	tp_fail "no KeyUpdate came back"
tp_ok "our KeyUpdate came back at once"

tp_check "STARTTLS session ended by QUIT before MAIL resumes by session id (TLS 1.2)"
scs() {	# scs OUT ARGS: EHLO and QUIT over STARTTLS, TLS 1.2, no tickets
	local out=$1
	shift
	(sleep 0.5; printf 'EHLO x\r\n'; sleep 0.5; printf 'QUIT\r\n'; sleep 1) |
	    timeout -k 2 "$(tp_secs 15)" openssl s_client -connect "127.0.0.1:$LS" \
	    -starttls smtp -tls1_2 -no_ticket -ign_eof "$@" >"$out" 2>&1
}
scs "$T/q1.out" -sess_out "$T/q.pem"
grep -q '^221 ' "$T/q1.out" || tp_fail "no 221 to QUIT"
scs "$T/q2.out" -sess_in "$T/q.pem"
grep -E '^(New|Reused),' "$T/q2.out" | sed 's/^/    | /'
grep -q '^Reused, TLSv1.2' "$T/q2.out" || tp_fail "the session ended by QUIT did not resume"
tp_expect_log "$LOG" "SMTP session ended (QUIT): STARTTLS taken"
tp_ok "the QUIT session resumed by session id"

tp_hc_ok "$T/hremote.out" "handoff: the remote client's close_notify is answered; the local side sees EOF" \
    --socket "$SOCK" --bytes 65536 --close-first remote
grep -q "remote close_notify answered" "$T/hremote.out" || tp_fail "handoff: no answer to close_notify"
tp_hc_ok "$T/hlocal.out" "handoff: the local side closes first: our close_notify" \
    --socket "$SOCK" --bytes 65536 --close-first local

tp_check "counters"
sent=$(tp_stat "$T/stats.sock" tlsproxy_close_notify_sent_total)
rcvd=$(tp_stat "$T/stats.sock" tlsproxy_close_notify_received_total)
half=$(tp_stat "$T/stats.sock" tlsproxy_half_closes_total)
tp_say "close_notify_sent=$sent close_notify_received=$rcvd half_closes=$half"
[ "${sent:-0}" -ge 8 ] || tp_fail "close_notify_sent=$sent"
[ "${rcvd:-0}" -ge 4 ] || tp_fail "close_notify_received=$rcvd"
[ "${half:-0}" -ge 2 ] || tp_fail "half_closes=$half"
tp_ok "close_notify_sent, close_notify_received and half_closes count"

tp_stop_daemon "$D" "$LOG"
tp_say "PASS"
exit 0
