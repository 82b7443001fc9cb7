#!/bin/bash
# The LSB init script (contrib/init.d/tlsproxy) driven for real against the
# built daemon: status/start/stop/restart/reload/force-reload with their
# LSB exit codes, a certificate change picked up by "reload", a broken
# configuration refused by "reload" and "restart" while the running daemon
# keeps serving, and a stale pid file naming another process. The certbot
# deploy hook (contrib/certbot) against the running daemon: a renewal
# reloads it; a missing certificate or a reload the daemon refuses fails
# the hook and leaves the daemon serving.
# DAEMON, CONFIG and PIDFILE come from the environment; the host's
# /etc/default/tlsproxy is not read (TLSPROXY_DEFAULTS=/dev/null).
. "$(dirname "$0")/lib.sh"
tp_init
INIT=$TOP_SRCDIR/contrib/init.d/tlsproxy
[ -r "$INIT" ] || tp_hard_error "no init script at $INIT"
tp_gen_certs
T=$TP_TMP
NEW_CN=tlsproxy-reloaded.localdomain
tp_gen_cert rsa "$NEW_CN" "$T/new"
cp "$T/rsa.pem" "$T/cur.pem"
cp "$T/rsa.key" "$T/cur.key"
chmod 600 "$T/cur.key"
mkdir "$T/run"
tp_start_echo --listen tcp:127.0.0.1:0
ECHO_PORT=$(awk '$1 == "tcp" { print $3 }' "$T/echo.ready")
P=$(tp_free_port)
SOCK=$T/tlsproxy.sock
LOG=$T/tlsproxy.log
tp_add_log "$LOG"

cat >"$T/tlsproxy.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/cur.pem";
smtpd_tls_key_file = "$T/cur.key";
smtpd_tls_loglevel = "1";
tlsproxy_pid_file = "$T/run/tlsproxy.pid";
tlsproxy_log_file = "$LOG";
tlsproxy_drain_timeout = "2s";
tlsproxy_worker_threads = 8;
tlsproxy_listeners = (
  { handoff = "$SOCK"; mode = "0666"; },
  { listen = "127.0.0.1:$P"; backend = "127.0.0.1:$ECHO_PORT"; }
);
EOF
cp "$T/tlsproxy.conf" "$T/good.conf"

export TLSPROXY_DEFAULTS=/dev/null
export DAEMON=$TLSPROXY_BIN CONFIG=$T/tlsproxy.conf PIDFILE=$T/run/tlsproxy.pid
tp_say "DAEMON=$DAEMON"
tp_say "CONFIG=$CONFIG"
tp_say "PIDFILE=$PIDFILE"

# initd ACTION WANT: run the script, show its output and exit status,
# fail unless the status is WANT.
initd() {
	local out rc
	out=$(sh "$INIT" "$1" 2>&1)
	rc=$?
	printf '%s: $ contrib/init.d/tlsproxy %s\n' "$TP_NAME" "$1"
	[ -n "$out" ] && printf '%s\n' "$out" | sed "s/^/$TP_NAME:   | /"
	printf '%s:   exit status %s\n' "$TP_NAME" "$rc"
	INITD_OUT=$out
	[ "$rc" = "$2" ] || tp_fail "init script $1: exit status $rc, want $2"
}

daemon_pid() { sed -n '1p' "$PIDFILE" 2>/dev/null; }

# probe: one TLS session through the frontend (tls_probe.py): handshake,
# 4 kB echoed by the backend; PROBE_CN is the server certificate's CN.
probe() {
	local out
	out=$(python3 "$TP_DIR/tls_probe.py" connect "127.0.0.1:$P" --data 4096 \
	    --timeout "$(tp_secs 10)" 2>&1)
	PROBE_CN=$(printf '%s\n' "$out" | sed -n 's/^handshake=ok .* cn=//p')
	PROBE_OUT=$out
	printf '%s\n' "$out" | grep -q '^result=ok$'
}

# session NAME: a session must work; shows what was negotiated.
session() {
	probe || { printf '%s\n' "$PROBE_OUT"; tp_fail "TLS session $1 through the frontend failed"; }
	tp_ok "TLS session $1: $(printf '%s\n' "$PROBE_OUT" | grep -E '^(handshake|echo)=' | tr '\n' ' ' | sed 's/ $//')"
}

peer_cn() { probe; echo "$PROBE_CN"; }
cn_is() { [ "$(peer_cn)" = "$1" ]; }

started() {
	local pid
	pid=$(daemon_pid)
	[ -n "$pid" ] || tp_fail "no pid file $PIDFILE"
	tp_alive "$pid" || tp_fail "pid $pid from $PIDFILE is not running"
	tp_register_pid "$pid"
	tp_wait_for 10 tp_port_listening "$P" || tp_fail "nothing listens on 127.0.0.1:$P"
	[ -S "$SOCK" ] || tp_fail "no handoff socket at $SOCK"
	DPID=$pid
}

tp_check "not running: status 3, stop 0, reload 7"
initd status 3
initd stop 0
initd reload 7
initd force-reload 7

tp_check "start: 0, daemon detached, pid file written, listeners up"
initd start 0
started
tp_ok "daemon pid $DPID, pid file $PIDFILE, 127.0.0.1:$P and $SOCK"
ppid=$(awk '/^PPid:/ { print $2 }' "/proc/$DPID/status")
[ "$ppid" != "$$" ] || tp_fail "daemon is still a child of the test"

tp_check "start when running: 0, same daemon"
initd start 0
[ "$(daemon_pid)" = "$DPID" ] || tp_fail "a second start replaced the daemon"
tp_ok "still pid $DPID"

tp_check "status when running: 0"
initd status 0
case $INITD_OUT in *"running (pid $DPID)"*) ;; *) tp_fail "status does not name pid $DPID" ;; esac
tp_ok "status names pid $DPID"

tp_check "the pid file is found through the daemon when PIDFILE is not set"
cat >"$T/default" <<EOF
DAEMON=$TLSPROXY_BIN
CONFIG=$T/tlsproxy.conf
EOF
out=$(env -u PIDFILE -u DAEMON -u CONFIG TLSPROXY_DEFAULTS="$T/default" sh "$INIT" status 2>&1)
rc=$?
printf '%s:   | %s\n' "$TP_NAME" "$out"
[ "$rc" = 0 ] && [ "$out" = "tlsproxy is running (pid $DPID)" ] ||
	tp_fail "status through the defaults file: exit $rc"
tp_ok "defaults file + tlsproxy_pid_file from 'tlsproxy -n'"

tp_check "a TLS session through the frontend"
session one
cn=$PROBE_CN
[ "$cn" = "$TP_RSA_CN" ] || tp_fail "certificate CN '$cn', want $TP_RSA_CN"
tp_ok "certificate CN $cn"

tp_check "reload with a new certificate: 0, new sessions see the new CN"
cp "$T/new.pem" "$T/cur.pem"
cp "$T/new.key" "$T/cur.key"
initd reload 0
tp_wait_for 10 cn_is "$NEW_CN" || tp_fail "certificate CN '$(peer_cn)' after reload, want $NEW_CN"
[ "$(daemon_pid)" = "$DPID" ] || tp_fail "reload changed the pid"
# The daemon's own log, where it writes one (syslog otherwise).
[ -s "$LOG" ] && tp_expect_log "$LOG" "configuration reloaded"
session two
tp_ok "certificate CN $NEW_CN, same pid $DPID"

tp_check "reload with a broken configuration: 1, errors shown, daemon untouched"
sed 's/^smtpd_tls_loglevel/smtpd_tls_logleve/' "$T/good.conf" >"$T/tlsproxy.conf"
nreload=$(tp_log_count "$LOG" "reloading configuration" || true)
initd reload 1
case $INITD_OUT in *'unknown parameter "smtpd_tls_logleve"'*) ;;
*) tp_fail "reload does not show the configuration error" ;; esac
initd force-reload 1
tp_check "restart with a broken configuration: 1, daemon untouched"
initd restart 1
[ "$(daemon_pid)" = "$DPID" ] && tp_alive "$DPID" || tp_fail "the daemon was touched"
[ "$(tp_log_count "$LOG" "reloading configuration" || true)" = "$nreload" ] ||
	tp_fail "the daemon got a SIGHUP for a broken configuration"
cn_is "$NEW_CN" || tp_fail "the certificate changed"
session three
tp_ok "pid $DPID still serving with CN $NEW_CN"
cp "$T/good.conf" "$T/tlsproxy.conf"

tp_check "reload that only the daemon can refuse (a port in use): 1, and it says so"
# -t binds nothing, so this passes the check; the daemon's reload fails.
sed "s|^  { handoff = \"$SOCK\"; mode = \"0666\"; },|&\n  { listen = \"127.0.0.1:$ECHO_PORT\"; backend = \"127.0.0.1:$ECHO_PORT\"; },|" \
    "$T/good.conf" >"$T/tlsproxy.conf"
grep -q "listen = \"127.0.0.1:$ECHO_PORT\"" "$T/tlsproxy.conf" || tp_hard_error "could not write the configuration"
initd reload 1
case $INITD_OUT in *"reload failed; it keeps the running configuration"*) ;;
*) tp_fail "reload does not say that the daemon refused it" ;; esac
[ "$(daemon_pid)" = "$DPID" ] && tp_alive "$DPID" || tp_fail "the daemon was touched"
session four
cp "$T/good.conf" "$T/tlsproxy.conf"
tp_ok "the daemon's refusal reported (exit 1); pid $DPID still serving"

# The certbot deploy hook (contrib/certbot/tlsproxy-deploy-hook) against
# this daemon, as certbot runs it. A stand-in logger on PATH records the
# syslog line, so nothing reaches the host's syslog.
HOOK=$TOP_SRCDIR/contrib/certbot/tlsproxy-deploy-hook
[ -r "$HOOK" ] || tp_hard_error "no deploy hook at $HOOK"
mkdir "$T/bin"
printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s/logger.out"\n' "$T" >"$T/bin/logger"
chmod 755 "$T/bin/logger"
# hook: run the hook; HOOK_OUT is its output (stdout and stderr), HOOK_RC
# its exit status.
hook() {
	HOOK_OUT=$(PATH="$T/bin:$PATH" TLSPROXY="$TLSPROXY_BIN" TLSPROXY_CONF="$T/tlsproxy.conf" \
	    RENEWED_LINEAGE="$T" RENEWED_DOMAINS="$TP_RSA_CN mx.$TP_RSA_CN" \
	    timeout "$(tp_secs 60)" sh "$HOOK" 2>&1)
	HOOK_RC=$?
	printf '%s: $ contrib/certbot/tlsproxy-deploy-hook\n' "$TP_NAME"
	printf '%s\n' "$HOOK_OUT" | sed "s/^/$TP_NAME:   | /"
	printf '%s:   exit status %s\n' "$TP_NAME" "$HOOK_RC"
}
reloaded_more_than() { [ "$(tp_log_count "$LOG" "configuration reloaded" || true)" -gt "$1" ]; }

tp_check "certbot deploy hook, renewed certificate: 0, the daemon reloads"
cp "$T/rsa.pem" "$T/cur.pem"
cp "$T/rsa.key" "$T/cur.key"
nok=$(tp_log_count "$LOG" "configuration reloaded" || true)
hook
[ "$HOOK_RC" = 0 ] || tp_fail "deploy hook: exit status $HOOK_RC, want 0"
case $HOOK_OUT in *"renewed lineage: $T"*"renewed domains: $TP_RSA_CN mx.$TP_RSA_CN"*) ;;
*) tp_fail "the hook does not print RENEWED_LINEAGE and RENEWED_DOMAINS" ;; esac
case $HOOK_OUT in *"tlsproxy (pid $DPID) reloaded"*) ;;
*) tp_fail "the hook does not print the reload's result" ;; esac
tp_wait_for 10 reloaded_more_than "${nok:-0}" ||
	tp_fail "no new 'configuration reloaded' in the daemon's log"
tp_ok "log: configuration reloaded"
tp_wait_for 10 cn_is "$TP_RSA_CN" || tp_fail "certificate CN '$(peer_cn)' after the hook, want $TP_RSA_CN"
[ "$(daemon_pid)" = "$DPID" ] && tp_alive "$DPID" || tp_fail "the hook replaced the daemon"
[ -e "$T/logger.out" ] && tp_fail "the hook logged an error: $(cat "$T/logger.out")"
session five
tp_ok "reloaded by the hook; CN $TP_RSA_CN, same pid $DPID"

tp_check "certbot deploy hook, certificate file missing: not 0, named, daemon untouched"
mv "$T/cur.pem" "$T/cur.pem.away"
nreload=$(tp_log_count "$LOG" "reloading configuration" || true)
hook
mv "$T/cur.pem.away" "$T/cur.pem"
[ "$HOOK_RC" != 0 ] || tp_fail "deploy hook: exit status 0 with a missing certificate"
case $HOOK_OUT in *"$T/cur.pem"*) ;;
*) tp_fail "the hook's messages do not name the missing $T/cur.pem" ;; esac
case $HOOK_OUT in *"does not pass 'tlsproxy -t'"*"not reloading"*) ;;
*) tp_fail "the hook does not say that it did not reload" ;; esac
[ "$(tp_log_count "$LOG" "reloading configuration" || true)" = "$nreload" ] ||
	tp_fail "the daemon got a SIGHUP for a configuration that fails the check"
[ "$(daemon_pid)" = "$DPID" ] && tp_alive "$DPID" || tp_fail "the daemon was touched"
cn_is "$TP_RSA_CN" || tp_fail "the certificate changed"
session six
grep -q -F -e '-t tlsproxy-deploy-hook -p mail.err' "$T/logger.out" 2>/dev/null ||
	tp_fail "the hook did not hand logger one mail.err line"
[ "$(grep -c . "$T/logger.out")" = 1 ] || tp_fail "the hook called logger more than once"
rm -f "$T/logger.out"
tp_ok "refused before any signal; pid $DPID still serving with CN $TP_RSA_CN"

tp_check "certbot deploy hook, a reload the daemon refuses (a port in use): not 0, and it says so"
sed "s|^  { handoff = \"$SOCK\"; mode = \"0666\"; },|&\n  { listen = \"127.0.0.1:$ECHO_PORT\"; backend = \"127.0.0.1:$ECHO_PORT\"; },|" \
    "$T/good.conf" >"$T/tlsproxy.conf"
grep -q "listen = \"127.0.0.1:$ECHO_PORT\"" "$T/tlsproxy.conf" || tp_hard_error "could not write the configuration"
hook
cp "$T/good.conf" "$T/tlsproxy.conf"
[ "$HOOK_RC" != 0 ] || tp_fail "deploy hook: exit status 0 although the daemon refused the reload"
case $HOOK_OUT in *"the daemon did not reload"*) ;;
*) tp_fail "the hook does not say that the daemon refused the reload" ;; esac
[ "$(daemon_pid)" = "$DPID" ] && tp_alive "$DPID" || tp_fail "the daemon was touched"
session seven
rm -f "$T/logger.out"
tp_ok "the daemon's refusal reported; pid $DPID still serving"

tp_check "restart: 0, a new daemon"
initd restart 0
tp_unregister_pid "$DPID"
tp_alive "$DPID" && tp_fail "the old daemon $DPID is still running"
OLD=$DPID
started
[ "$DPID" != "$OLD" ] || tp_fail "restart kept pid $OLD"
session four
tp_ok "old pid $OLD gone, new pid $DPID serving"

tp_check "stop: 0, daemon gone, pid file and handoff socket removed"
initd stop 0
tp_alive "$DPID" && tp_fail "daemon $DPID still running after stop"
tp_unregister_pid "$DPID"
[ -e "$PIDFILE" ] && tp_fail "pid file $PIDFILE left behind"
[ -e "$SOCK" ] && tp_fail "handoff socket $SOCK left behind"
tp_port_listening "$P" && tp_fail "127.0.0.1:$P still listening"
tp_ok "pid $DPID gone, nothing left behind"

tp_check "stop again: 0; status: 3"
initd stop 0
initd status 3

tp_check "stale pid file naming another live process: status 1, stop 0 and that process lives"
echo "$TP_ECHO_PID" >"$PIDFILE"
initd status 1
initd stop 0
tp_alive "$TP_ECHO_PID" || tp_fail "stop killed the unrelated pid $TP_ECHO_PID"
[ -e "$PIDFILE" ] && tp_fail "stale pid file not removed"
initd status 3
tp_ok "stale pid file handled, pid $TP_ECHO_PID untouched"

tp_check "start with a broken configuration: 1, nothing started"
sed 's/^smtpd_tls_loglevel/smtpd_tls_logleve/' "$T/good.conf" >"$T/tlsproxy.conf"
initd start 1
[ -e "$PIDFILE" ] && tp_fail "a pid file appeared"
tp_port_listening "$P" && tp_fail "something listens on 127.0.0.1:$P"
cp "$T/good.conf" "$T/tlsproxy.conf"

tp_check "start that fails after the configuration check (certificate missing): 1"
mv "$T/cur.pem" "$T/cur.pem.away"
initd start 1
[ -e "$PIDFILE" ] && tp_fail "a pid file appeared"
mv "$T/cur.pem.away" "$T/cur.pem"

tp_check "bad action: 2"
initd frobnicate 2

tp_check "start, then stop with a broken configuration still stops it"
initd start 0
started
sed 's/^smtpd_tls_loglevel/smtpd_tls_logleve/' "$T/good.conf" >"$T/tlsproxy.conf"
initd stop 0
tp_alive "$DPID" && tp_fail "daemon $DPID still running after stop"
tp_unregister_pid "$DPID"
[ -e "$PIDFILE" ] && tp_fail "pid file $PIDFILE left behind"
tp_ok "stopped pid $DPID by its pid file"
tp_check_sanitizers "$LOG"
tp_say "PASS"
exit 0
