#!/bin/bash
# tlsproxy_chroot (run as root; skipped otherwise). Startup refuses a
# chroot directory that is missing, relative, not owned by root, or
# writable by group/other, and a daemon not started as root or without
# CAP_SYS_CHROOT. Then the
# daemon runs detached, as nobody, chrooted to an empty directory, the
# privileged helper that started it outside: the kernel shows the new
# root in /proc/PID/root; handoff and TCP frontend sessions, the stats
# socket and the log file (opened before the chroot) keep working;
# SIGHUP with a new certificate and a root-only key at their own paths
# (nothing below the chroot) loads them through the helper (the new
# certificate is served, the chroot stays empty); SIGTERM exits cleanly
# and the helper removes the pid file and the socket files outside the
# chroot ("tlsproxy -s status" then says not running). A pid file below the chroot is
# removed at exit. Without tlsproxy_user there is a warning.
. "$(dirname "$0")/lib.sh"
tp_init
[ "$(id -u)" = 0 ] || tp_skip "not root: chroot(2) needs root"
id -u nobody >/dev/null 2>&1 && getent group nogroup >/dev/null 2>&1 ||
	tp_skip "no user nobody or group nogroup"
T=$TP_TMP
# LeakSanitizer lists threads in /proc, which is not inside the chroot:
# leaks are checked by the other tests (and by t_valgrind.sh), not here.
if grep -q -a __asan_init "$TLSPROXY_BIN"; then
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
# The daemon refuses a chroot below a directory others may write to
# (unless sticky, as /tmp): the temporary directory must qualify.
d=$T/root
while [ "$d" != / ]; do
	d=$(dirname "$d")
	# shellcheck disable=SC2046
	set -- $(stat -c '%u %a' "$d")
	[ "$1" = 0 ] || tp_skip "$d is not owned by root: set TMPDIR elsewhere"
	if [ $(( 8#$2 & 8#022 )) != 0 ] && [ $(( 8#$2 & 8#1000 )) = 0 ]; then
		tp_skip "$d may be written by group or other: set TMPDIR elsewhere"
	fi
done
tp_gen_certs
# Keys readable by the group nogroup: a reload runs as nobody.
chgrp nogroup "$T/rsa.key" "$T/ec.key"
chmod 640 "$T/rsa.key" "$T/ec.key"

tp_start_echo --listen tcp:127.0.0.1:0
ECHO_PORT=$(awk '$1 == "tcp" { print $3 }' "$T/echo.ready")
[ -n "$ECHO_PORT" ] || tp_hard_error "echo server port unknown"

C=$T/root			# the chroot: empty, root's, mode 0755
mkdir -m 755 "$C"
S=$T/tlsproxy.sock
STATS=$T/stats.sock
PIDF=$T/tlsproxy.pid
P=$(tp_free_port)
mkdir -m 755 "$T/log"
DLOG=$T/log/tlsproxy.log
tp_add_log "$DLOG"

# write_conf FILE CHROOT CERT-BASENAME EXTRA-LINES
write_conf() {
	cat >"$1" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/$3.pem";
smtpd_tls_key_file = "$T/$3.key";
smtpd_tls_loglevel = "1";
tlsproxy_worker_threads = 4;
tlsproxy_drain_timeout = "5s";
tlsproxy_chroot = "$2";
syslog_name = "postfix";
$4
tlsproxy_listeners = (
  { handoff = "$S"; mode = "0666"; },
  { listen = "127.0.0.1:$P"; backend = "127.0.0.1:$ECHO_PORT"; }
);
EOF
	chmod 644 "$1"
}

# ------------------------------------------------------------ startup errors
# refused CHROOT MESSAGE [RUNNER...]: the daemon exits 1 at once with
# "fatal: <conf>: tlsproxy_chroot CHROOT: MESSAGE" on stderr.
refused() {
	local dir=$1 msg=$2 out=$T/refused.out rc
	shift 2
	write_conf "$T/bad.conf" "$dir" rsa "tlsproxy_pid_file = \"$T/bad.pid\";"
	tp_check "refused: tlsproxy_chroot = \"$dir\" ($msg)"
	timeout "$(tp_secs 20)" "$@" "$TLSPROXY_BIN" -f -c "$T/bad.conf" >"$out" 2>&1
	rc=$?
	sed 's/^/    | /' "$out"
	[ "$rc" = 1 ] || tp_fail "exit status $rc, want 1"
	grep -q -F "fatal: $T/bad.conf: tlsproxy_chroot $dir: $msg" "$out" ||
		tp_fail "no 'fatal: $T/bad.conf: tlsproxy_chroot $dir: $msg'"
	[ ! -e "$T/bad.pid" ] && [ ! -e "$S" ] || tp_fail "left a pid file or a socket"
	tp_ok "refused: $msg"
}
refused "$T/missing" "No such file or directory"
refused "root" "not an absolute path"
mkdir -m 755 "$T/notroot" && chown nobody "$T/notroot"
refused "$T/notroot" "owned by uid $(id -u nobody), must be owned by root"
mkdir "$T/open" && chmod 1777 "$T/open"
refused "$T/open" "mode 1777, must not be writable by group or other"
: >"$T/file"
refused "$T/file" "not a directory"
if command -v setpriv >/dev/null 2>&1; then
	refused "$C" "tlsproxy must be started as root to chroot" \
	    setpriv --reuid=nobody --regid=nogroup --clear-groups
	# Root without CAP_SYS_CHROOT (a systemd unit that does not grant it):
	# found out before the daemon detaches.
	refused "$C" "chroot: Operation not permitted" \
	    setpriv --bounding-set=-sys_chroot
fi

# ------------------------------------------------------------ detached, chrooted
write_conf "$T/tlsproxy.conf" "$C" rsa "tlsproxy_user = \"nobody\";
tlsproxy_group = \"nogroup\";
tlsproxy_pid_file = \"$PIDF\";
tlsproxy_stats_socket = \"$STATS\";
tlsproxy_log_file = \"$DLOG\";"
tp_check "start detached, chrooted to an empty directory, as nobody"
"$TLSPROXY_BIN" -c "$T/tlsproxy.conf" >"$T/start.out" 2>&1 ||
	{ cat "$T/start.out"; tp_fail "the daemon did not start"; }
tp_wait_for 10 test -s "$PIDF" || tp_fail "no pid file"
H=$(cat "$PIDF")
tp_register_pid "$H"
up() { [ -S "$S" ] && [ -S "$STATS" ] && tp_port_listening "$P"; }
tp_wait_for 10 up || tp_fail "the listeners are not up"
# The pid file names the privileged helper (root, not chrooted); its
# child is the daemon.
D=$(pgrep -P "$H")
[ -n "$D" ] || tp_fail "the helper $H has no child"
[ "$(readlink "/proc/$H/root")" = / ] || tp_fail "the helper is chrooted"
root=$(readlink "/proc/$D/root")
[ "$root" = "$C" ] || tp_fail "/proc/$D/root is '$root', want $C"
uid=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$D/status")
nuid=$(id -u nobody)
[ "$uid" = "$nuid $nuid $nuid $nuid" ] || tp_fail "uids are '$uid', want all $nuid"
[ -z "$(ls -A "$C")" ] || tp_fail "the chroot is not empty: $(ls -A "$C")"
tp_expect_log "$DLOG" "chrooted to $C"
tp_expect_order "$DLOG" "chrooted to $C" "running as user nobody" "daemon started: 4 worker threads"
tp_ok "/proc/$D/root -> $C, uid $nuid"

tp_hc_ok "$T/h1.out" "handoff session inside the chroot (RSA certificate)" \
    --socket "$S" --bytes 65536 --cafile "$T/ca.pem" --expect-cn "$TP_RSA_CN"
tp_expect_msg "$DLOG" "DISCONNECT $(tp_endpoint "$T/h1.out")"
tp_hc_ok "$T/t1.out" "TCP frontend session inside the chroot" \
    --connect "127.0.0.1:$P" --bytes 65536 --expect-cn "$TP_RSA_CN"

tp_check "stats socket and SIGUSR1"
stats=$(python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())' "$STATS") || tp_fail "stats socket unreadable"
echo "$stats" | grep -q "^tlsproxy_sessions_handoff_total 1$" || tp_fail "stats: $stats"
kill -USR1 "$H"
tp_expect_log "$DLOG" "statistics: sessions_handoff=1 sessions_tcp=1 "
tp_ok "counters answer, the log file is written"

tp_check "SIGHUP: configuration and root-only keys at their own paths, read through the helper"
chmod 600 "$T/ec.key"
write_conf "$T/tlsproxy.conf" "$C" ec "tlsproxy_user = \"nobody\";
tlsproxy_group = \"nogroup\";
tlsproxy_pid_file = \"$PIDF\";
tlsproxy_stats_socket = \"$STATS\";
tlsproxy_log_file = \"$DLOG\";"
nrel=$(tp_log_count "$DLOG" "configuration reloaded")
kill -HUP "$H"
reloaded() { [ "$(tp_log_count "$DLOG" "configuration reloaded")" -gt "$nrel" ]; }
tp_wait_for 10 reloaded || tp_fail "no 'configuration reloaded'"
[ -z "$(ls -A "$C")" ] || tp_fail "the chroot is not empty: $(ls -A "$C")"
tp_hc_ok "$T/h3.out" "handoff: the new certificate is served" \
    --socket "$S" --bytes 16384 --cafile "$T/ca.pem" --expect-cn "$TP_EC_CN"
tp_hc_ok "$T/t3.out" "TCP frontend: the same" \
    --connect "127.0.0.1:$P" --bytes 16384 --expect-cn "$TP_EC_CN"
tp_expect_msg "$DLOG" "DISCONNECT $(tp_endpoint "$T/t3.out")"

tp_check "SIGTERM: clean exit; the helper removes the pid file outside the chroot"
kill -TERM "$H"
tp_wait_gone "$H" "$(tp_secs 15)" || tp_fail "still running after SIGTERM"
tp_unregister_pid "$H"
tp_alive "$D" && tp_fail "the daemon $D outlived its helper"
tp_expect_log "$DLOG" "stopped"
tp_expect_no_log "$DLOG" "fatal:"
tp_expect_no_log "$DLOG" "panic:"
[ ! -e "$PIDF" ] || tp_fail "the pid file is still there"
"$TLSPROXY_BIN" -c "$T/tlsproxy.conf" -s status >"$T/status.out" 2>&1
rc=$?
[ "$rc" = 3 ] || { cat "$T/status.out"; tp_fail "-s status exit $rc, want 3"; }
[ ! -e "$S" ] || tp_fail "the handoff socket file is still there"
[ ! -e "$STATS" ] || tp_fail "the stats socket file is still there"
tp_ok "stopped; pid file and socket files removed (by the helper), -s status: not running"

# ------------------------------------------------------------ pid file inside
tp_check "a pid file below the chroot is removed at exit"
mkdir -m 755 "$C/run"
chown nobody:nogroup "$C/run"
write_conf "$T/in.conf" "$C" rsa "tlsproxy_user = \"nobody\";
tlsproxy_pid_file = \"$C/run/tlsproxy.pid\";"
LOG=$T/in.log
tp_start_daemon "$LOG" "$T/in.conf" "unix:$S" "tcp:$P"
[ "$(cat "$C/run/tlsproxy.pid")" = "$TP_DAEMON_PID" ] || tp_fail "pid file content"
D=$(pgrep -P "$TP_DAEMON_PID")
[ -n "$D" ] && [ "$(readlink "/proc/$D/root")" = "$C" ] || tp_fail "not chrooted"
tp_hc_ok "$T/h4.out" "handoff session" --socket "$S" --bytes 4096
tp_stop_daemon "$TP_DAEMON_PID" "$LOG"
[ ! -e "$C/run/tlsproxy.pid" ] || tp_fail "the pid file is still there"
tp_expect_no_log "$LOG" "emptied the pid file"
tp_ok "pid file removed"

tp_check "tlsproxy_chroot without tlsproxy_user: a warning"
write_conf "$T/root.conf" "$C" rsa "tlsproxy_pid_file = \"$T/root.pid\";"
LOG=$T/root.log
tp_start_daemon "$LOG" "$T/root.conf" "unix:$S" "tcp:$P"
tp_expect_msg "$LOG" "warning: tlsproxy_chroot without tlsproxy_user: a process running as root can leave a chroot"
tp_stop_daemon "$TP_DAEMON_PID" "$LOG"
tp_say "PASS"
exit 0
