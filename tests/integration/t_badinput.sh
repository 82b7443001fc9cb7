#!/bin/bash
# Bad input on the handoff socket and a full work queue. Each case must
# get its log line; the daemon must stay up, its fd and thread counts must
# return to the baseline, and a good session must work afterwards.
. "$(dirname "$0")/lib.sh"
tp_init
tp_gen_certs
T=$TP_TMP
Q2=$SHARED_DIR/vectors/records/client-props-encrypt.bin
[ -f "$Q2" ] || tp_hard_error "missing $Q2 (SHARED_DIR=$SHARED_DIR)"

REQ_WARN="warning: handoff: receive request attributes: "
FD_WARN="warning: handoff: receive remote SMTP peer file descriptor: "

# expect_new LOG STRING BEFORE: the count of STRING grows past BEFORE.
count_above() { [ "$(tp_log_count "$1" "$2")" -gt "$3" ]; }
expect_new() {
	tp_wait_for 10 count_above "$1" "$2" "$3" ||
		tp_fail "no new log line with: $2"
	tp_ok "log: $(grep -F -- "$2" "$1" | tail -1 | sed 's/^.*tlsproxy\[[0-9]*\]: //')"
}

still_up() {
	tp_alive "$1" || tp_fail "the daemon died"
}

# ================================================================ part 1
S=$T/tlsproxy.sock
cat >"$T/tlsproxy.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_loglevel = "1";
tlsproxy_worker_threads = 4;
tlsproxy_queue_limit = 16;
tlsproxy_client_security_level = "none";
tlsproxy_pid_file = "$T/tlsproxy.pid";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$S"; mode = "0666"; }
);
EOF
LOG=$T/daemon.log
tp_start_daemon "$LOG" "$T/tlsproxy.conf" "unix:$S"
D=$TP_DAEMON_PID

tp_hc_ok "$T/warm.out" "a good session (warm-up)" --socket "$S" --bytes 65536
tp_expect_msg "$LOG" "DISCONNECT $(tp_endpoint "$T/warm.out")"
FDS=$(tp_fd_count "$D")
THREADS=$(tp_thread_count "$D")
tp_say "baseline: $FDS fds, $THREADS threads"

# An idle session runs alongside the others: timeout2=1 -> closed after 11 s.
tp_check "idle session (timeout2=1): closed after 11 s (running in the background)"
tp_hc_bg "$T/idle.out" --socket "$S" --mode idle --timeout2 1 --io-timeout 30
IDLE_PID=$TP_LAST_PID

for mode in garbage malformed eof; do
	n=$(tp_log_count "$LOG" "$REQ_WARN")
	tp_hc_ok "$T/$mode.out" "$mode instead of a request: closed without a reply" \
	    --socket "$S" --mode "$mode" --io-timeout 20
	expect_new "$LOG" "$REQ_WARN" "$n"
	still_up "$D"
done

tp_hc_ok "$T/badflags.out" "flags=0: status=0" --socket "$S" --mode badflags --io-timeout 20
tp_expect_msg "$LOG" "warning: handoff: bad request flags: 0x0"
still_up "$D"

tp_hc_ok "$T/client.out" "client role (flags=6 + Q2): status=0" \
    --socket "$S" --mode client-role --q2-file "$Q2" --io-timeout 20
tp_expect_msg "$LOG" "warning: TLS client role is disabled by configuration"
still_up "$D"

for mode in nofd nofd-byte nonsocket; do
	n=$(tp_log_count "$LOG" "$FD_WARN")
	tp_hc_ok "$T/$mode.out" "$mode after status=1" --socket "$S" --mode "$mode" --io-timeout 20
	expect_new "$LOG" "$FD_WARN" "$n"
	still_up "$D"
done

tp_hc_ok "$T/vanish.out" "client vanishes before the ClientHello: the TCP connection is closed" \
    --socket "$S" --mode vanish --timeout1 3
EP=$(tp_endpoint "$T/vanish.out")
tp_expect_msg "$LOG" "DISCONNECT $EP"
still_up "$D"

tp_hc_ok "$T/nontls.out" "the peer sends non-TLS bytes: the local side is closed without data" \
    --socket "$S" --mode nontls --io-timeout 20
EP=$(tp_endpoint "$T/nontls.out")
tp_expect_log "$LOG" "warning: TLS library problem: "
tp_expect_msg "$LOG" "TLS handshake failed for service=smtpd peer=$EP"
tp_expect_msg "$LOG" "DISCONNECT $EP"
still_up "$D"

tp_hc_ok "$T/stall.out" "stalled handshake with timeout1=2: closed at the deadline" \
    --socket "$S" --mode stall --timeout1 2
EP=$(tp_endpoint "$T/stall.out")
tp_expect_msg "$LOG" "warning: ciphertext read/write timeout for $EP"
tp_expect_msg "$LOG" "TLS handshake failed for service=smtpd peer=$EP"
tp_expect_msg "$LOG" "DISCONNECT $EP"
still_up "$D"

tp_check "the idle session ended"
tp_wait_exit "$IDLE_PID" "$(tp_secs 40)" || tp_fail "idle client still running"
sed 's/^/    | /' "$T/idle.out"
[ "$TP_LAST_STATUS" = 0 ] || tp_fail "idle session: the daemon did not close it as specified"
EP=$(tp_endpoint "$T/idle.out")
tp_expect_msg "$LOG" "warning: ciphertext read/write timeout for $EP"
tp_expect_msg "$LOG" "DISCONNECT $EP"

tp_check "no fd or thread leak"
tp_expect_baseline "$D" "$FDS" "$THREADS"
tp_hc_ok "$T/after.out" "a good session after the bad ones" --socket "$S" --bytes 262144 \
    --expect-protocol TLSv1.3
tp_check_log_format "$LOG" "$D" postfix
tp_stop_daemon "$D" "$LOG"

# ================================================================ part 2
# One worker, at most two sessions: two stalled clients wait without the
# worker, so a good client is still served at once once one of them
# leaves; while both are there, the third is refused at once.
tp_start_echo --listen tcp:127.0.0.1:0
ECHO_PORT=$(awk '$1 == "tcp" { print $3 }' "$T/echo.ready")
S=$T/tlsproxy-q.sock
P=$(tp_free_port)
cat >"$T/queue.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_loglevel = "1";
tlsproxy_worker_threads = 1;
tlsproxy_max_sessions = 2;
tlsproxy_pid_file = "$T/tlsproxy-q.pid";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$S"; mode = "0666"; },
  { listen = "127.0.0.1:$P"; backend = "127.0.0.1:$ECHO_PORT"; handshake_timeout = "60s"; }
);
EOF
LOG=$T/daemon-queue.log
tp_start_daemon "$LOG" "$T/queue.conf" "unix:$S" "tcp:$P"
D=$TP_DAEMON_PID
tp_hc_ok "$T/qwarm1.out" "one worker: a good handoff session" --socket "$S" --bytes 65536
tp_hc_ok "$T/qwarm2.out" "one worker: a good TCP session" --connect "127.0.0.1:$P" --bytes 65536
tp_expect_msg "$LOG" "DISCONNECT $(tp_endpoint "$T/qwarm2.out")"
FDS=$(tp_fd_count "$D")
THREADS=$(tp_thread_count "$D")
tp_say "baseline: $FDS fds, $THREADS threads"

holding() { grep -q HOLDING "$1" 2>/dev/null; }

# start_holders KIND TARGET: two clients that connect and send nothing,
# both served: they wait without the one worker.
start_holders() {
	local i
	HOLDERS=""
	for i in 1 2; do
		tp_hc_bg "$T/hold-$1-$i.out" "$2" "$3" --mode hold --hold 120
		HOLDERS="$HOLDERS $TP_LAST_PID"
		tp_wait_for 10 holding "$T/hold-$1-$i.out" || tp_fail "holder $i did not connect"
		sleep 0.5
		tp_alive "$TP_LAST_PID" || tp_fail "holder $i was refused: $(cat "$T/hold-$1-$i.out")"
	done
}
stop_holders() {
	local p
	for p in $HOLDERS; do
		tp_kill "$p"
	done
}

tp_check "handoff: the session limit reached by two silent clients"
start_holders unix --socket "$S"
tp_hc_ok "$T/refused.out" "handoff: a third client gets R1 and status=0 at once" \
    --socket "$S" --mode expect-status0 --max-wait "$(tp_secs 3)"
tp_expect_msg "$LOG" "warning: too many sessions (limit 2): refused handoff client on $S"
n=$(tp_log_count "$LOG" "$REQ_WARN")
stop_holders
tp_check "the two silent clients are reported when they go away"
tp_wait_for 10 count_above "$LOG" "$REQ_WARN" $((n + 1)) ||
	tp_fail "expected two '$REQ_WARN' lines for the silent clients"
tp_ok "two '$REQ_WARN' lines"
tp_hc_ok "$T/qafter1.out" "handoff: a good session afterwards" --socket "$S" --bytes 65536

tp_check "TCP: the session limit reached by two silent clients"
start_holders tcp --connect "127.0.0.1:$P"
tp_hc_ok "$T/refused-tcp.out" "TCP: a third connection is closed at once" \
    --connect "127.0.0.1:$P" --mode expect-close --io-timeout "$(tp_secs 3)"
EP=$(tp_endpoint "$T/refused-tcp.out")
tp_expect_msg "$LOG" "warning: too many sessions (limit 2): refused connection from $EP on 127.0.0.1:$P"
stop_holders
tp_hc_ok "$T/qafter2.out" "TCP: a good session afterwards" --connect "127.0.0.1:$P" --bytes 65536
tp_hc_ok "$T/qafter3.out" "handoff: a good session afterwards" --socket "$S" --bytes 65536

tp_check "no fd or thread leak"
tp_expect_baseline "$D" "$FDS" "$THREADS"
still_up "$D"
tp_check_log_format "$LOG" "$D" postfix
tp_stop_daemon "$D" "$LOG"

tp_say "PASS"
exit 0
