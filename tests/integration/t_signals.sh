#!/bin/bash
# Signals: SIGHUP reload (new certificate for new sessions, old sessions
# keep working, a broken configuration is refused), SIGTERM with a live
# session (drain), SIGTERM past the drain timeout, and running as a
# background daemon with a pid file.
. "$(dirname "$0")/lib.sh"
tp_init
tp_gen_certs
T=$TP_TMP
NEW_CN=tlsproxy-test-new.localdomain

cp "$T/rsa.pem" "$T/cur.pem"
cp "$T/rsa.key" "$T/cur.key"

# write_conf FILE SOCKET DRAIN PIDFILE
write_conf() {
	cat >"$1" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/cur.pem";
smtpd_tls_key_file = "$T/cur.key";
smtpd_tls_loglevel = "1";
tlsproxy_worker_threads = 4;
tlsproxy_queue_limit = 16;
tlsproxy_pid_file = "$4";
tlsproxy_drain_timeout = "$3";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$2"; mode = "0666"; }
);
EOF
}

paused() { grep -q PAUSED "$1" 2>/dev/null; }

# start_paused NAME SOCKET ARGS...: a session that stops after half of its
# bytes until $T/NAME.go exists.
start_paused() {
	local name=$1 sock=$2
	shift 2
	tp_hc_bg "$T/$name.out" --socket "$sock" --bytes 524288 --pause-file "$T/$name.go" "$@"
	PAUSED_PID=$TP_LAST_PID
	tp_wait_for 20 paused "$T/$name.out" || tp_fail "session $name did not get going"
	tp_ok "session $name is open and half-way"
}

# finish_paused NAME PID: let it go on; it must complete.
finish_paused() {
	touch "$T/$1.go"
	tp_wait_exit "$2" "$(tp_secs 60)" || tp_fail "session $1 did not finish"
	sed 's/^/    | /' "$T/$1.out"
	[ "$TP_LAST_STATUS" = 0 ] || tp_fail "session $1 failed"
	tp_ok "session $1 completed its transfer"
}

now() { date +%s.%N; }
elapsed_between() { awk -v a="$1" -v b="$2" -v lo="$3" -v hi="$4" 'BEGIN { d = b - a; exit !(d >= lo && d <= hi) }'; }

# ================================================================ SIGHUP
S=$T/tlsproxy.sock
CONF=$T/signals.conf
write_conf "$CONF" "$S" 10s "$T/tlsproxy.pid"
LOG=$T/daemon.log
tp_start_daemon "$LOG" "$CONF" "unix:$S"
D=$TP_DAEMON_PID

start_paused old "$S" --expect-cn "$TP_RSA_CN"
OLD_PID=$PAUSED_PID

tp_check "SIGHUP after replacing the certificate files"
tp_gen_cert rsa "$NEW_CN" "$T/new"
mv -f "$T/new.key" "$T/cur.key"
mv -f "$T/new.pem" "$T/cur.pem"
kill -HUP "$D"
tp_expect_msg "$LOG" "reloading configuration from $CONF"
tp_expect_msg "$LOG" "configuration reloaded"
tp_expect_order "$LOG" "reloading configuration from $CONF" "configuration reloaded"

tp_hc_ok "$T/new.out" "a new session gets the new certificate" \
    --socket "$S" --bytes 65536 --expect-cn "$NEW_CN"
tp_check "the session opened before the reload finishes its transfer"
finish_paused old "$OLD_PID"

tp_check "SIGHUP with a broken configuration: refused, the old one keeps serving"
cp "$CONF" "$T/signals.conf.good"
cat >>"$CONF" <<EOF
tlsproxy_tls_cert_fiel = "$T/cur.pem";
EOF
BADLINE=$(wc -l <"$CONF")
kill -HUP "$D"
tp_expect_msg "$LOG" "warning: reload failed; keeping the running configuration"
tp_expect_log "$LOG" "$CONF:$BADLINE: unknown parameter \"tlsproxy_tls_cert_fiel\""
tp_expect_order "$LOG" "$CONF:$BADLINE: unknown parameter" "warning: reload failed; keeping the running configuration"
tp_alive "$D" || tp_fail "the daemon died on a broken configuration"
tp_hc_ok "$T/afterbad.out" "still serving with the running configuration (new certificate)" \
    --socket "$S" --bytes 65536 --expect-cn "$NEW_CN"
cp "$T/signals.conf.good" "$CONF"

# ================================================================ SIGTERM, drain
start_paused drain "$S" --expect-cn "$NEW_CN"
DRAIN_PID=$PAUSED_PID
tp_check "SIGTERM with a live session: the session may finish"
kill -TERM "$D"
tp_expect_msg "$LOG" "terminating on signal 15"
tp_alive "$D" || tp_fail "the daemon exited at once although a session was live"
finish_paused drain "$DRAIN_PID"
tp_wait_exit "$D" "$(tp_secs 15)" || tp_fail "the daemon did not exit after its last session ended"
[ "$TP_LAST_STATUS" = 0 ] || tp_fail "exit status $TP_LAST_STATUS after SIGTERM, expected 0"
tp_ok "exit status 0"
tp_expect_msg "$LOG" "stopped"
[ ! -e "$S" ] || tp_fail "the handoff socket $S was not removed"
tp_ok "handoff socket removed"
tp_check_sanitizers "$LOG"
tp_check_log_format "$LOG" "$D" postfix

# ================================================================ SIGTERM, drain timeout
S=$T/tlsproxy-2.sock
write_conf "$T/drain.conf" "$S" 2s "$T/tlsproxy-2.pid"
LOG=$T/daemon-drain.log
tp_start_daemon "$LOG" "$T/drain.conf" "unix:$S"
D=$TP_DAEMON_PID
start_paused stuck "$S"
STUCK_PID=$PAUSED_PID
tp_check "SIGTERM with a session that does not finish: exit after the 2s drain timeout"
t0=$(now)
kill -TERM "$D"
tp_wait_exit "$D" "$(tp_secs 15)" || tp_fail "the daemon is still running $(tp_secs 15)s after SIGTERM"
t1=$(now)
[ "$TP_LAST_STATUS" = 0 ] || tp_fail "exit status $TP_LAST_STATUS after SIGTERM, expected 0"
elapsed_between "$t0" "$t1" 1.5 "$(tp_secs 10)" ||
	tp_fail "exited $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s after SIGTERM; the drain timeout is 2s"
tp_ok "exited $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s after SIGTERM, status 0"
tp_expect_msg "$LOG" "terminating on signal 15"
tp_expect_msg "$LOG" "stopped"
[ ! -e "$S" ] || tp_fail "the handoff socket $S was not removed"
tp_kill "$STUCK_PID"
tp_check_sanitizers "$LOG"

# ================================================================ background daemon
S=$T/tlsproxy-bg.sock
PIDFILE=$T/run/tlsproxy.pid
mkdir -p "$T/run"
write_conf "$T/bg.conf" "$S" 5s "$PIDFILE"
tp_check "without -f: the daemon detaches and writes its pid file"
tp_add_log "$T/bg.log"
tp_spawn "$T/bg.log" "$TLSPROXY_BIN" -c "$T/bg.conf"
LAUNCHER=$TP_LAST_PID
tp_wait_exit "$LAUNCHER" "$(tp_secs 15)" || tp_fail "the launching process did not return"
[ "$TP_LAST_STATUS" = 0 ] || tp_fail "the launching process exited with $TP_LAST_STATUS"
tp_wait_for 10 test -s "$PIDFILE" || tp_fail "no pid file $PIDFILE"
BG=$(tr -d ' \n' <"$PIDFILE")
case $BG in
'' | *[!0-9]*) tp_fail "pid file holds '$BG'" ;;
esac
tp_register_pid "$BG"
tp_alive "$BG" || tp_fail "pid $BG from the pid file is not running"
[ "$BG" != "$LAUNCHER" ] || tp_fail "the daemon did not detach (same pid)"
[ "$(readlink -f "/proc/$BG/exe")" = "$(readlink -f "$TLSPROXY_BIN")" ] ||
	tp_fail "pid $BG is not the daemon binary"
tp_ok "daemon pid $BG"
tp_wait_for 10 test -S "$S" || tp_fail "no handoff socket $S"
tp_hc_ok "$T/bg.out" "the background daemon serves" --socket "$S" --bytes 65536
tp_check "SIGTERM to the pid from the pid file stops it"
kill -TERM "$BG"
tp_wait_gone "$BG" "$(tp_secs 15)" || tp_fail "pid $BG still running after SIGTERM"
tp_unregister_pid "$BG"
[ ! -e "$S" ] || tp_fail "the handoff socket $S was not removed"
tp_ok "background daemon stopped"

tp_say "PASS"
exit 0
