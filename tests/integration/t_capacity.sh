#!/bin/bash
# Capacity: a session holds a worker only while it has work. With the
# default pool (twice the CPUs plus two), thousands of idle TLS sessions,
# stalled handshakes, idle handoff sessions and STARTTLS clients silent in
# the command phase are held at once, while fresh clients are served at
# once and the daemon's thread count never moves. Then the per-address
# limits: the 51st session from one address is refused with its log line
# while another address is served; an exempt network is not limited; the
# rate limit and the handoff remote_endpoint after a SIGHUP.
#
# Sizes: 3000 idle + 1000 stalled TLS, 2000 handoff, 1000 STARTTLS; under
# a sanitizer (slower, and TSan bounds the threads' history) a tenth;
# TP_CAPACITY_SCALE (percent) overrides.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pflib.sh"

tp_init
tp_gen_certs
T=$TP_TMP
CAP=$TP_DIR/capacity.py

SCALE=${TP_CAPACITY_SCALE:-100}
[ "$TP_SLOW" -gt 1 ] && SCALE=${TP_CAPACITY_SCALE:-10}
n() { echo $(( $1 * SCALE / 100 > 10 ? $1 * SCALE / 100 : 10 )); }
N_IDLE=$(n 3000); N_STALL=$(n 1000); N_HANDOFF=$(n 2000); N_SMTP=$(n 1000)

# Thousands of sockets on our side too.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
NEED=$(( 2 * (N_IDLE + N_STALL) + 500 ))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$NEED" ]; then
	tp_skip "the descriptor limit $(ulimit -n) is below the $NEED this test needs"
fi
tp_say "sizes: $N_IDLE idle + $N_STALL stalled TLS, $N_HANDOFF handoff, $N_SMTP STARTTLS (fd limit $(ulimit -n))"

# ---------------------------------------------------------------- backends
tp_spawn "$T/echo.out" python3 "$CAP" echo --listen 127.0.0.1:0 \
    --ready-file "$T/echo.ready" --deadline 3600
tp_wait_for 10 test -s "$T/echo.ready" || tp_hard_error "the echo backend did not start"
ECHO_PORT=$(awk '$1 == "tcp" { print $3 }' "$T/echo.ready")
tp_spawn "$T/sink.out" python3 "$CAP" sink --listen 127.0.0.1:0 \
    --ready-file "$T/sink.ready" --deadline 3600
tp_wait_for 10 test -s "$T/sink.ready" || tp_hard_error "the SMTP sink did not start"
SINK_PORT=$(awk '$1 == "tcp" { print $3 }' "$T/sink.ready")

PF=0
if [ "$(id -u)" = 0 ] && [ -x "$PF_DAEMON_DIR/master" ] && command -v swaks >/dev/null 2>&1; then
	PF=1
	PB=$(tp_free_port)
	tp_pf_init backend
	tp_pf_conf 'relay_domains = accept.test'
	tp_pf_service "127.0.0.1:$PB inet n - n - - smtpd -o smtpd_end_of_data_restrictions=check_client_access,static:HOLD"
	tp_pf_start
	tp_wait_for 20 tp_port_listening "$PB" || tp_hard_error "Postfix does not listen on 127.0.0.1:$PB"
	tp_say "Postfix $(pf_postconf -h mail_version) (private instance) on 127.0.0.1:$PB"
else
	tp_say "no private Postfix (needs root, Postfix and swaks): the fresh STARTTLS client uses the sink"
	PB=$SINK_PORT
fi

# ---------------------------------------------------------------- daemon
S=$T/tlsproxy.sock
P=$(tp_free_port)	# implicit TLS -> echo
SI=$(tp_free_port)	# STARTTLS -> sink (the idle clients)
SP=$(tp_free_port)	# STARTTLS -> Postfix (the fresh client)
# Default settings, but for what a test must name: files and sockets.
cat >"$T/tlsproxy.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_eccert_file = "$T/ec.pem";
smtpd_tls_eckey_file = "$T/ec.key";
tlsproxy_pid_file = "$T/tlsproxy.pid";
tlsproxy_stats_socket = "$T/stats.sock";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$S"; mode = "0666"; },
  { listen = "127.0.0.1:$P"; backend = "127.0.0.1:$ECHO_PORT"; },
  { listen = "127.0.0.1:$SI"; backend = "127.0.0.1:$SINK_PORT"; starttls = "smtp"; },
  { listen = "127.0.0.1:$SP"; backend = "127.0.0.1:$PB"; starttls = "smtp"; }
);
EOF
LOG=$T/daemon.log
tp_start_daemon "$LOG" "$T/tlsproxy.conf" "unix:$S" "tcp:$P" "tcp:$SI" "tcp:$SP"
D=$TP_DAEMON_PID
tp_hc_ok "$T/warm.out" "a good TCP session (warm-up)" --connect "127.0.0.1:$P" --bytes 65536
tp_expect_msg "$LOG" "DISCONNECT $(tp_endpoint "$T/warm.out")"
WORKERS=$(sed -n 's/.*daemon started: \([0-9]*\) worker threads.*/\1/p' "$LOG" | head -1)
CPUS=$(nproc)
THREADS=$(tp_thread_count "$D")
FDS=$(tp_fd_count "$D")
tp_check "the default pool is sized by CPUs: $WORKERS workers for $CPUS CPUs; $THREADS threads in all"
[ "$WORKERS" = $(( 2 * CPUS + 2 )) ] || tp_fail "expected $(( 2 * CPUS + 2 )) workers (2 x $CPUS CPUs + 2)"
[ $(( THREADS - WORKERS )) -le 4 ] || tp_fail "$(( THREADS - WORKERS )) threads besides the pool"
tp_ok "pool $WORKERS + $(( THREADS - WORKERS )) fixed threads (main, acceptor, waiting set...)"
tp_expect_log "$LOG" "capacity: "

# ---------------------------------------------------------------- TLS
tp_check "$N_IDLE idle TLS sessions and $N_STALL stalled handshakes; fresh clients meanwhile"
python3 "$CAP" tls --connect "127.0.0.1:$P" --idle "$N_IDLE" --stalled "$N_STALL" \
    --sample 50 --pid "$D" --threads "$THREADS" --fresh-max "$(tp_secs 1)" \
    --deadline "$(tp_secs 600)" >"$T/tls.out" 2>&1
RC=$?
sed 's/^/    | /' "$T/tls.out"
[ "$RC" = 0 ] || tp_fail "TLS: $(grep FAIL "$T/tls.out" | head -1)"
tp_ok "TLS: $N_IDLE idle + $N_STALL stalled held with $THREADS threads; fresh clients within $(tp_secs 1) s"
tp_stats "$T/stats.sock" >"$T/stats1.txt"

# ---------------------------------------------------------------- handoff
tp_check "$N_HANDOFF idle handoff sessions (postscreen's protocol, after the handshake)"
python3 "$CAP" handoff --socket "$S" --idle "$N_HANDOFF" --sample 50 --pid "$D" \
    --threads "$THREADS" --fresh-max "$(tp_secs 1)" --deadline "$(tp_secs 600)" \
    >"$T/handoff.out" 2>&1
RC=$?
sed 's/^/    | /' "$T/handoff.out"
[ "$RC" = 0 ] || tp_fail "handoff: $(grep FAIL "$T/handoff.out" | head -1)"
tp_ok "handoff: $N_HANDOFF idle sessions held with $THREADS threads"

# ---------------------------------------------------------------- STARTTLS
tp_check "$N_SMTP STARTTLS clients silent in the command phase; a fresh client delivers meanwhile"
rm -f "$T/smtp.go"
tp_spawn "$T/smtp.out" python3 "$CAP" starttls --connect "127.0.0.1:$SI" --idle "$N_SMTP" \
    --sample 50 --pid "$D" --threads "$THREADS" --hold-file "$T/smtp.go" \
    --deadline "$(tp_secs 600)"
SMTP_PID=$TP_LAST_PID
# shellcheck disable=SC2317
holding() { grep -q HOLDING "$T/smtp.out" || ! tp_alive "$SMTP_PID"; }
tp_wait_for "$(tp_secs 300)" holding
grep -q HOLDING "$T/smtp.out" || { sed 's/^/    | /' "$T/smtp.out"; tp_fail "the STARTTLS clients did not all get in"; }
grep HOLDING "$T/smtp.out" | sed 's/^/    | /'
T0=$(date +%s%N)
if [ "$PF" = 1 ]; then
	timeout -k 5 "$(tp_secs 60)" swaks --server 127.0.0.1 --port "$SP" --tls \
	    --from sender@example.org --to rcpt@accept.test --helo fresh.test \
	    --header "Subject: capacity" --body "one message while $N_SMTP clients wait" \
	    >"$T/swaks.out" 2>&1 || { sed 's/^/    | /' "$T/swaks.out"; tp_fail "swaks failed"; }
	T1=$(date +%s%N)
	ID=$(sed -n 's/^.*250 2\.0\.0 Ok: queued as \([0-9A-Za-z]*\).*$/\1/p' "$T/swaks.out" | tail -1)
	[ -n "$ID" ] || { sed 's/^/    | /' "$T/swaks.out"; tp_fail "no queue id from Postfix"; }
	tp_wait_for 10 test -n "$(tp_pf_queue_ids hold)"
	tp_pf_postcat -bh -q "$ID" >"$T/postcat.out" 2>&1 || tp_fail "postcat -q $ID failed"
	grep -q "^Subject: capacity" "$T/postcat.out" || tp_fail "the message in Postfix's queue has no Subject: capacity"
	tp_ok "swaks --tls through STARTTLS to Postfix: queued as $ID in $(( (T1 - T0) / 1000000 )) ms while $N_SMTP clients wait"
else
	python3 - "$SP" <<'PY' || tp_fail "the fresh STARTTLS client failed"
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline()
        if len(l) < 4 or l[3:4] != b"-":
            return l
assert reply().startswith(b"220")
s.sendall(b"EHLO fresh.test\r\n"); reply()
s.sendall(b"STARTTLS\r\n"); assert reply().startswith(b"220")
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s); f = t.makefile("rb")
t.sendall(b"EHLO fresh.test\r\n"); assert reply().startswith(b"250")
t.sendall(b"QUIT\r\n"); reply()
PY
	tp_ok "a fresh STARTTLS client completed while $N_SMTP clients wait"
fi
touch "$T/smtp.go"
tp_wait_exit "$SMTP_PID" "$(tp_secs 120)" || tp_fail "the STARTTLS clients did not finish"
sed 's/^/    | /' "$T/smtp.out"
[ "$TP_LAST_STATUS" = 0 ] || tp_fail "STARTTLS: $(grep FAIL "$T/smtp.out" | head -1)"
tp_ok "STARTTLS: $N_SMTP clients held with $THREADS threads; each sampled one answers NOOP"

tp_check "afterwards: sessions gone, no fd or thread leaked, counters"
# shellcheck disable=SC2317
none_live() { [ "$(tp_stat "$T/stats.sock" tlsproxy_sessions_live)" = 0 ]; }
tp_wait_for "$(tp_secs 120)" none_live || tp_fail "$(tp_stat "$T/stats.sock" tlsproxy_sessions_live) sessions still live"
tp_expect_baseline "$D" "$FDS" "$THREADS"
sed -n 's/^tlsproxy_\(sessions_parked\|workers_busy\|refused_max_sessions_total\|queue_full_refusals_total\) /    | &/p' "$T/stats1.txt"
tp_hc_ok "$T/after.out" "a good handoff session afterwards" --socket "$S" --bytes 65536
tp_check_log_format "$LOG" "$D" postfix
tp_stop_daemon "$D" "$LOG"

# ---------------------------------------------------------------- per address
tp_check "per-address limits (count 50; 127.0.0.1 and 127.0.0.4 exempt)"
P2=$(tp_free_port)
S2=$T/tlsproxy2.sock
cat >"$T/limits.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
tlsproxy_client_event_limit_exceptions = "127.0.0.1, 127.0.0.4/32";
tlsproxy_log_rate_limit = 0;
tlsproxy_pid_file = "$T/limits.pid";
tlsproxy_stats_socket = "$T/stats2.sock";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$S2"; mode = "0666"; },
  { listen = "127.0.0.1:$P2"; backend = "127.0.0.1:$ECHO_PORT"; handshake_timeout = "60s"; }
);
EOF
LOG=$T/daemon-limits.log
tp_start_daemon "$LOG" "$T/limits.conf" "unix:$S2" "tcp:$P2"
D=$TP_DAEMON_PID
FDS=$(tp_fd_count "$D")
THREADS=$(tp_thread_count "$D")
rm -f "$T/lim.go"
tp_spawn "$T/lim2.out" python3 "$CAP" limit --connect "127.0.0.1:$P2" --source 127.0.0.2 \
    --count 51 --hold-file "$T/lim.go" --deadline "$(tp_secs 120)"
LIM_PID=$TP_LAST_PID
# shellcheck disable=SC2317
counted() { grep -q "^capacity: OPEN" "$T/lim2.out" || ! tp_alive "$LIM_PID"; }
tp_wait_for "$(tp_secs 30)" counted
grep -q "^capacity: OPEN 50 CLOSED 1$" "$T/lim2.out" ||
	{ sed 's/^/    | /' "$T/lim2.out"; tp_fail "127.0.0.2: expected 50 open and 1 closed"; }
tp_ok "127.0.0.2: 50 sessions admitted, the 51st closed at once"
tp_expect_log "$LOG" "warning: Connection concurrency limit exceeded: 51 from [127.0.0.2]:"
python3 "$CAP" limit --connect "127.0.0.1:$P2" --source 127.0.0.3 --count 1 --echo \
    --deadline "$(tp_secs 60)" >"$T/lim3.out" 2>&1 ||
	{ sed 's/^/    | /' "$T/lim3.out"; tp_fail "127.0.0.3 was not served while 127.0.0.2 is at its limit"; }
tp_ok "127.0.0.3 served meanwhile: $(grep 'echo' "$T/lim3.out")"
python3 "$CAP" limit --connect "127.0.0.1:$P2" --source 127.0.0.4 --count 60 \
    --deadline "$(tp_secs 60)" >"$T/lim4.out" 2>&1
grep -q "^capacity: OPEN 60 CLOSED 0$" "$T/lim4.out" ||
	{ sed 's/^/    | /' "$T/lim4.out"; tp_fail "127.0.0.4 (exempt): expected 60 open"; }
tp_ok "127.0.0.4 (exempt): 60 sessions admitted"
touch "$T/lim.go"
tp_wait_exit "$LIM_PID" "$(tp_secs 30)" || tp_fail "the 127.0.0.2 client did not finish"
[ "$(tp_stat "$T/stats2.sock" tlsproxy_refused_client_count_total)" = 1 ] ||
	tp_fail "refused_client_count is $(tp_stat "$T/stats2.sock" tlsproxy_refused_client_count_total), expected 1"
tp_ok "counter: refused_client_count 1"

tp_check "after SIGHUP: count limit 1 and rate limit 3 per minute; handoff counts remote_endpoint"
sed -i 's/^tlsproxy_log_rate_limit = 0;/tlsproxy_log_rate_limit = 0;\ntlsproxy_client_connection_count_limit = 1;\ntlsproxy_client_connection_rate_limit = 3;/' "$T/limits.conf"
kill -HUP "$D"
tp_expect_msg "$LOG" "configuration reloaded"
# The first one stalls its handshake: a live session from 192.0.2.9.
tp_hc_bg "$T/h1.out" --socket "$S2" --endpoint "[192.0.2.9]:25" --mode stall --timeout1 "$(tp_secs 10)"
H1=$TP_LAST_PID
tp_expect_msg "$LOG" "CONNECT from [192.0.2.9]:25"
tp_hc_ok "$T/h2.out" "handoff: a second session for [192.0.2.9] gets status=0" \
    --socket "$S2" --endpoint "[192.0.2.9]:26" --mode expect-status0 --max-wait "$(tp_secs 3)"
tp_expect_msg "$LOG" "warning: Connection concurrency limit exceeded: 2 from [192.0.2.9]:26 for service smtpd"
tp_wait_exit "$H1" "$(tp_secs 30)" || tp_fail "the stalled handoff client did not finish"
# shellcheck disable=SC2317
none_live2() { [ "$(tp_stat "$T/stats2.sock" tlsproxy_sessions_live)" = 0 ]; }
for i in 1 2 3 4; do
	# The count limit is 1: the daemon must have seen the previous session
	# end (asynchronously, after the client's close) before the next one.
	tp_wait_for "$(tp_secs 30)" none_live2 || tp_fail "sessions still live before 127.0.0.5 session $i"
	python3 "$CAP" limit --connect "127.0.0.1:$P2" --source 127.0.0.5 --count 1 \
	    --deadline "$(tp_secs 30)" >"$T/rate$i.out" 2>&1
done
for i in 1 2 3; do
	grep -q "^capacity: OPEN 1 CLOSED 0$" "$T/rate$i.out" || tp_fail "127.0.0.5: session $i was not admitted"
done
grep -q "^capacity: OPEN 0 CLOSED 1$" "$T/rate4.out" || tp_fail "127.0.0.5: the 4th session in a minute was admitted"
tp_expect_log "$LOG" "warning: Connection rate limit exceeded: 4 from [127.0.0.5]:"
tp_ok "127.0.0.5: 3 sessions in a minute, the 4th refused"
tp_wait_for "$(tp_secs 90)" none_live2 || tp_fail "sessions still live"
tp_expect_baseline "$D" "$FDS" "$THREADS"
tp_check_log_format "$LOG" "$D" postfix
tp_stop_daemon "$D" "$LOG"
[ "$PF" = 1 ] && tp_pf_stop

tp_say "PASS"
exit 0
