#!/bin/bash
# Log targets (tlsproxy_log_service):
# - postlog: the datagrams a stand-in postlogd receives (Postfix's format,
#   no newline), a switch from the stderr fallback to postlog on reload,
#   and, with a private Postfix instance (root), our lines in its
#   maillog_file next to Postfix's own, in the same format, also across a
#   Postfix restart (lines go to the new socket by name, the lost ones are
#   counted) and across reloads with sessions running;
# - the fallback to stderr when the chosen target cannot take lines (no
#   syslog daemon on /dev/log, no postlogd), with the stderr of the start
#   kept after the daemon detaches; a pipe is not kept (a start whose
#   output is read to its end returns);
# - tlsproxy_log_service = file without tlsproxy_log_file is an error;
# - pflogsumm counts the warnings of tlsproxy_log_file and of maillog_file.
# A log rotation by mv (tlsproxy_log_file reopened) is in t_control.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pflib.sh"
tp_init
tp_gen_certs
T=$TP_TMP
tp_start_echo --listen tcp:127.0.0.1:0
ECHO_PORT=$(awk '$1 == "tcp" { print $3 }' "$T/echo.ready")
[ -n "$ECHO_PORT" ] || tp_hard_error "echo server port unknown"
P=$(tp_free_port)	# -> echo
P2=$(tp_free_port)	# -> nothing (a backend that is down: a warning)
DOWN=$(tp_free_port)
HOST=$(hostname | cut -d. -f1)
PIDF=$T/tlsproxy.pid

# write_conf FILE EXTRA: one listener in front of the echo backend, one
# in front of a backend that is down.
write_conf() {
	cat >"$1" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_loglevel = "1";
syslog_name = "postfix";
tlsproxy_worker_threads = 8;
tlsproxy_pid_file = "$PIDF";
$2
tlsproxy_listeners = (
  { listen = "127.0.0.1:$P"; backend = "127.0.0.1:$ECHO_PORT"; },
  { listen = "127.0.0.1:$P2"; backend = "127.0.0.1:$DOWN"; }
);
EOF
}

# start_detached OUT CONF [WRAPPER...]: start the daemon without -f, its
# stdout and stderr to OUT; DPID is the detached daemon.
start_detached() {
	local out=$1 conf=$2
	shift 2
	rm -f "$PIDF"
	"$@" timeout -k 5 "$(tp_secs 30)" "$TLSPROXY_BIN" -c "$conf" >"$out" 2>&1 ||
		{ cat "$out"; tp_fail "the daemon did not start ($conf)"; }
	tp_add_log "$out"
	tp_wait_for 10 test -s "$PIDF" || tp_fail "no pid file"
	DPID=$(tr -dc 0-9 <"$PIDF")
	tp_register_pid "$DPID"
	tp_wait_for 10 tp_port_listening "$P" || tp_fail "the daemon does not listen"
}

stop_detached() {
	kill -TERM "$DPID" 2>/dev/null || tp_fail "daemon $DPID is not running"
	tp_wait_gone "$DPID" "$(tp_secs 15)" || tp_fail "daemon $DPID still runs after SIGTERM"
	tp_unregister_pid "$DPID"
}

# session NAME [PORT]: one TLS session; EP is its client endpoint.
session() {
	tp_hc "$T/$1.out" --connect "127.0.0.1:${2:-$P}" --bytes 4096 \
	    --cafile "$T/ca.pem" >/dev/null || [ -n "${2:-}" ] ||
		tp_fail "session $1 failed"
	EP=$(tp_endpoint "$T/$1.out")
	[ -n "$EP" ] || tp_fail "session $1: no client endpoint"
}

# reload_and_wait LOG: SIGHUP; wait for "configuration reloaded" in LOG.
reload_and_wait() {
	local n
	n=$(tp_log_count "$1" "configuration reloaded")
	kill -HUP "$DPID" || tp_fail "cannot signal the daemon"
	tp_wait_for 10 log_above "$1" "configuration reloaded" "$n" ||
		tp_fail "no 'configuration reloaded' in $(basename "$1")"
}
log_above() { [ "$(tp_log_count "$1" "$2")" -gt "$3" ]; }

# probe_unix PATH: does a datagram socket connect to PATH?
probe_unix() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(sys.argv[1])' "$1" 2>/dev/null
}

# Postfix's line format, as msg_logger(3) writes and postlogd(8) appends:
# "Mon DD HH:MM:SS host program[pid]: text", the day padded with a zero.
PF_LINE='^[A-Z][a-z]{2} [0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} '

# ================================================================ file without a file
tp_check "tlsproxy_log_service = file without tlsproxy_log_file: -t and a start fail, naming both"
write_conf "$T/nofile.conf" 'tlsproxy_log_service = "file";'
"$TLSPROXY_BIN" -t -c "$T/nofile.conf" >"$T/nofile-t.out" 2>&1 && tp_fail "-t accepted it"
grep -q -F "tlsproxy_log_service = file needs tlsproxy_log_file" "$T/nofile-t.out" ||
	{ cat "$T/nofile-t.out"; tp_fail "-t did not say why"; }
timeout -k 5 "$(tp_secs 30)" "$TLSPROXY_BIN" -f -c "$T/nofile.conf" >"$T/nofile-f.out" 2>&1 &&
	tp_fail "a start accepted it"
grep -q -F "fatal: $T/nofile.conf: tlsproxy_log_service = file needs tlsproxy_log_file" "$T/nofile-f.out" ||
	{ cat "$T/nofile-f.out"; tp_fail "the start did not say why"; }
tp_ok "refused: tlsproxy_log_service = file needs tlsproxy_log_file"

# ================================================================ fallback: no syslog daemon
# Nothing may listen on /dev/log. Where something does, a private mount
# namespace hides it behind an empty file (root); the host's /dev/log is
# never touched.
NOLOG=""
if ! probe_unix /dev/log; then
	NOLOG=plain
elif [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
    unshare --mount --propagation private true 2>/dev/null; then
	: >"$T/empty"
	# Status 1: mounted, and the connection fails there.
	unshare --mount --propagation private sh -c \
	    'mount --bind "$1" /dev/log || exit 111; exec python3 -c "
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(\"/dev/log\")"' sh "$T/empty" 2>/dev/null
	[ $? = 1 ] && NOLOG=ns
fi
nolog() {
	if [ "$NOLOG" = ns ]; then
		unshare --mount --propagation private sh -c \
		    'mount --bind "$1" /dev/log || exit 111; shift; exec "$@"' \
		    sh "$T/empty" "$@"
	else
		"$@"
	fi
}

if [ -z "$NOLOG" ]; then
	tp_say "SKIP part: a syslog daemon listens on /dev/log, and hiding it needs root and unshare(1) (a private mount namespace)"
else
	tp_say "no listener on /dev/log: $([ "$NOLOG" = ns ] && echo "hidden in a private mount namespace" || echo "there is none on this host")"
	tp_check "syslog chosen, nobody on /dev/log: a warning on stderr, then every line there, after detaching too"
	write_conf "$T/syslog.conf" ""
	start_detached "$T/syslog.err" "$T/syslog.conf" nolog
	tp_expect_log "$T/syslog.err" "warning: no syslog daemon listens on /dev/log: "
	tp_expect_log "$T/syslog.err" "; logging to stderr"
	tp_expect_log "$T/syslog.err" "postfix/tlsproxy[$DPID]: daemon started"
	session fb1
	tp_expect_msg "$T/syslog.err" "CONNECT from $EP"
	tp_expect_msg "$T/syslog.err" "DISCONNECT $EP"
	grep -q -E "^[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} postfix/tlsproxy\\[$DPID\\]: CONNECT from " "$T/syslog.err" ||
		tp_fail "the session lines on stderr are not from the detached daemon $DPID"
	stop_detached
	tp_expect_msg "$T/syslog.err" "stopped"
	tp_ok "fell back to stderr; the detached daemon $DPID logged its session there"

	tp_check "the same with stderr a pipe: the start says lines may be lost and returns (the pipe is not kept)"
	rm -f "$PIDF"
	{ nolog timeout -k 5 "$(tp_secs 30)" "$TLSPROXY_BIN" -c "$T/syslog.conf" 2>&1; } |
	    timeout -k 2 "$(tp_secs 20)" cat >"$T/pipe.out"
	rc=${PIPESTATUS[1]}
	tp_add_log "$T/pipe.out"
	tp_wait_for 10 test -s "$PIDF" || tp_fail "no pid file"
	DPID=$(tr -dc 0-9 <"$PIDF")
	tp_register_pid "$DPID"
	[ "$rc" = 0 ] || tp_fail "reading the start's output to its end did not return (cat status $rc): the daemon kept the pipe"
	tp_expect_log "$T/pipe.out" "warning: no syslog daemon listens on /dev/log: "
	tp_expect_log "$T/pipe.out" "; lines may be lost: stderr is not kept once the daemon detaches (it is /dev/null or a pipe)"
	stop_detached
	tp_ok "pipe: warned, not kept"
fi

# ================================================================ postlog, stand-in postlogd
tp_check "postlog chosen, no socket: a warning on stderr and lines there; a reload once the socket is there switches to it"
SOCK=$T/postlog
write_conf "$T/postlog.conf" "tlsproxy_log_service = \"postlog\";
tlsproxy_postlog_socket = \"$SOCK\";"
start_detached "$T/postlog.err" "$T/postlog.conf"
tp_expect_log "$T/postlog.err" "warning: tlsproxy_postlog_socket $SOCK: No such file or directory (is Postfix running, with a postlog service in master.cf?); logging to stderr"
session pl1
tp_expect_msg "$T/postlog.err" "CONNECT from $EP"
# Datagrams as received, one a line; a datagram that ends in a newline
# is reported (postlogd adds one).
tp_add_log "$T/dgrams.log"
tp_spawn "$T/fakepostlogd.out" python3 -c 'import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        d = s.recv(8192)
        if d.endswith(b"\n"):
            f.write(b"NEWLINE IN DATAGRAM: ")
        f.write(d + b"\n")' "$SOCK" "$T/dgrams.log"
FAKE_PID=$TP_LAST_PID
tp_wait_for 10 test -S "$SOCK" || tp_fail "the stand-in postlogd did not start"
reload_and_wait "$T/dgrams.log"
session pl2
tp_expect_msg "$T/dgrams.log" "CONNECT from $EP"
tp_expect_msg "$T/dgrams.log" "DISCONNECT $EP"
tp_expect_no_log "$T/postlog.err" "CONNECT from $EP"
tp_expect_no_log "$T/dgrams.log" "NEWLINE IN DATAGRAM"
bad=$(grep -v -E "${PF_LINE}$HOST postfix/tlsproxy\\[$DPID\\]: [^ ]" "$T/dgrams.log" | head -3)
[ -z "$bad" ] || tp_fail "datagrams not in Postfix's format: $bad"
tp_ok "datagrams: 'Mon DD HH:MM:SS $HOST postfix/tlsproxy[$DPID]: text', no newline"

tp_check "the stand-in postlogd goes away: lines are lost, counted once it is back"
tp_kill "$FAKE_PID"
session pl3
tp_expect_no_log "$T/dgrams.log" "CONNECT from $EP"
# Said once on the stderr kept at the start (and to syslog).
tp_expect_log "$T/postlog.err" "warning: postlog socket $SOCK: Connection refused; log lines are lost until it takes them again"
rm -f "$SOCK"
tp_spawn "$T/fakepostlogd2.out" python3 -c 'import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(8192) + b"\n")' "$SOCK" "$T/dgrams.log"
tp_wait_for 10 test -S "$SOCK" || tp_fail "the stand-in postlogd did not start again"
session pl4
tp_expect_msg "$T/dgrams.log" "CONNECT from $EP"
lost=$(sed -n 's/^.*: warning: \([0-9]*\) log lines were lost while the postlog socket .* did not take them$/\1/p' "$T/dgrams.log")
[ -n "$lost" ] && [ "$lost" -ge 3 ] ||
	tp_fail "no count of the lost lines (want at least the 3 lines of one session): '$lost'"
tp_ok "$lost lines lost while nobody read the socket, counted; the next ones reach the new socket by name"
stop_detached

# ================================================================ postlog, private Postfix
pf_ok=""
if [ "$(id -u)" != 0 ]; then
	tp_say "SKIP part: postlog through a private Postfix instance needs root"
elif [ ! -x "$PF_DAEMON_DIR/master" ] || [ ! -x "$PF_DAEMON_DIR/postlogd" ] ||
    [ ! -x "$PF_COMMAND_DIR/postconf" ] || ! getent passwd postfix >/dev/null ||
    ! getent group postdrop >/dev/null; then
	tp_say "SKIP part: Postfix (master, postlogd, postconf, user postfix, group postdrop) is not installed"
else
	pf_ok=1
fi
if [ -n "$pf_ok" ]; then
	tp_check "postlog: our lines in a private Postfix's maillog_file, in its format"
	tp_pf_init log
	# The same first host label as ours, as with Postfix's default myhostname.
	tp_pf_conf "myhostname = $HOST.tlsproxy.test"
	grep -q '^postlog  *unix-dgram ' "$PF_CONF/master.cf" ||
		tp_pf_service 'postlog   unix-dgram n  -       n       -       1       postlogd'
	tp_pf_start
	PSOCK=$PF_QUEUE/public/postlog
	tp_wait_for 10 test -S "$PSOCK" || tp_fail "no postlog socket $PSOCK"
	write_conf "$T/pf.conf" "tlsproxy_log_service = \"postlog\";
tlsproxy_postlog_socket = \"$PSOCK\";"
	start_detached "$T/pf.err" "$T/pf.conf"
	tp_expect_no_log "$T/pf.err" "warning:"
	session pf1
	tp_expect_msg "$PF_LOG" "CONNECT from $EP"
	tp_expect_log "$PF_LOG" "postfix/tlsproxy[$DPID]: Anonymous TLS connection established from $EP: TLSv1.3"
	tp_expect_msg "$PF_LOG" "DISCONNECT $EP"
	tp_expect_order "$PF_LOG" "postfix/tlsproxy[$DPID]: CONNECT from $EP" \
	    "postfix/tlsproxy[$DPID]: DISCONNECT $EP"
	session pf2 "$P2"
	tp_expect_log "$PF_LOG" "postfix/tlsproxy[$DPID]: warning: backend connect to 127.0.0.1:$DOWN failed for $EP: Connection refused"
	grep -q -E "${PF_LINE}$HOST postfix/master\\[[0-9]+\\]: daemon started -- version" "$PF_LOG" ||
		tp_fail "no line of Postfix's own master in $PF_LOG"
	bad=$(grep -v -E "${PF_LINE}$HOST postfix/[a-z]+\\[[0-9]+\\]: [^ ]" "$PF_LOG" | head -3)
	[ -z "$bad" ] || tp_fail "lines of $PF_LOG in another format: $bad"
	n=$(grep -c -E "${PF_LINE}$HOST postfix/tlsproxy\\[$DPID\\]: " "$PF_LOG")
	tp_say "excerpt of $PF_LOG:"
	grep -E "postfix/(master|tlsproxy)\\[" "$PF_LOG" | head -8 | sed 's/^/    | /'
	tp_ok "$n lines of ours in maillog_file, in the format of Postfix's own"

	tp_check "reloads while 40 sessions run: every session's lines reach postlogd"
	tp_hc_bg "$T/par.out" --connect "127.0.0.1:$P" --bytes 262144 --parallel 40 \
	    --cafile "$T/ca.pem"
	PAR=$TP_LAST_PID
	for _ in 1 2 3; do
		reload_and_wait "$PF_LOG"
	done
	tp_wait_exit "$PAR" "$(tp_secs 60)" || tp_fail "the parallel sessions did not end"
	[ "$TP_LAST_STATUS" = 0 ] || { cat "$T/par.out"; tp_fail "parallel sessions failed"; }
	tp_wait_for 10 log_above "$PF_LOG" "postfix/tlsproxy[$DPID]: DISCONNECT " 41 ||
		tp_fail "not every session's DISCONNECT reached maillog_file ($(tp_log_count "$PF_LOG" "postfix/tlsproxy[$DPID]: DISCONNECT ") of 42)"
	tp_ok "42 sessions, 3 reloads: $(tp_log_count "$PF_LOG" "postfix/tlsproxy[$DPID]: CONNECT from ") CONNECT and $(tp_log_count "$PF_LOG" "postfix/tlsproxy[$DPID]: DISCONNECT ") DISCONNECT lines"

	tp_check "Postfix restarts: the lines lost meanwhile are counted, the next ones reach the new postlogd"
	tp_pf_stop
	session pf3
	tp_pf_start
	tp_wait_for 10 test -S "$PSOCK" || tp_fail "no postlog socket after the restart"
	session pf4
	tp_expect_msg "$PF_LOG" "CONNECT from $EP"
	tp_expect_log "$PF_LOG" "postfix/tlsproxy[$DPID]: warning: "
	grep -E "postfix/tlsproxy\\[$DPID\\]: warning: [0-9]+ log lines were lost while the postlog socket $PSOCK did not take them" "$PF_LOG" |
	    sed 's/^/    | /'
	grep -q -E "postfix/tlsproxy\\[$DPID\\]: warning: [0-9]+ log lines were lost while the postlog socket $PSOCK did not take them" "$PF_LOG" ||
		tp_fail "no count of the lines lost while Postfix was down"
	stop_detached
	tp_expect_msg "$PF_LOG" "stopped"
	tp_ok "lines after a Postfix restart reach its new postlogd"
	if command -v pflogsumm >/dev/null 2>&1; then
		tp_check "pflogsumm reads maillog_file with our lines"
		pflogsumm --verbose-msg-detail "$PF_LOG" >"$T/pflogsumm-maillog.out" 2>&1 ||
			{ cat "$T/pflogsumm-maillog.out"; tp_fail "pflogsumm failed on $PF_LOG"; }
		sed -n '/^Warnings/,/^Fatal/p' "$T/pflogsumm-maillog.out" | sed 's/^/    | /'
		grep -q -E "^ +1 +backend connect to 127\\.0\\.0\\.1:$DOWN failed for .*: Connection refused$" "$T/pflogsumm-maillog.out" ||
			tp_fail "pflogsumm does not list our backend warning from maillog_file"
		tp_ok "pflogsumm counts our warnings in maillog_file"
	fi
	tp_pf_stop
fi

# ================================================================ pflogsumm
if ! command -v pflogsumm >/dev/null 2>&1; then
	tp_say "SKIP part: pflogsumm is not installed"
else
	tp_check "tlsproxy_log_file (syslog format, host name): pflogsumm counts our warnings under tlsproxy"
	FLOG=$T/mail.log
	write_conf "$T/file.conf" "tlsproxy_log_file = \"$FLOG\";"
	tp_add_log "$FLOG"
	for run in 1 2; do
		start_detached "$T/file$run.err" "$T/file.conf"
		session "f$run"
		session "fdown$run" "$P2"
		tp_expect_log "$FLOG" "warning: backend connect to 127.0.0.1:$DOWN failed for $EP: Connection refused"
		stop_detached
		tp_expect_msg "$FLOG" "stopped"
	done
	tp_expect_log "$FLOG" "Anonymous TLS connection established from "
	nwarn=$(grep -c -E "^[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} $HOST postfix/tlsproxy\\[[0-9]+\\]: warning: " "$FLOG")
	pflogsumm --verbose-msg-detail "$FLOG" >"$T/pflogsumm.out" 2>&1 ||
		{ cat "$T/pflogsumm.out"; tp_fail "pflogsumm failed"; }
	sed -n '/^Warnings/,/^Master daemon/p' "$T/pflogsumm.out" | sed 's/^/    | /'
	grep -q -x "  tlsproxy (total: $nwarn)" "$T/pflogsumm.out" ||
		tp_fail "pflogsumm does not count our $nwarn warnings under tlsproxy"
	[ "$(grep -c -E "^ +1 +backend connect to 127\\.0\\.0\\.1:$DOWN failed for \\[127\\.0\\.0\\.1\\]:[0-9]+: Connection refused$" "$T/pflogsumm.out")" = 2 ] ||
		tp_fail "pflogsumm does not list both backend warnings"
	if [ "$(id -u)" = 0 ]; then
		grep -q -E "^ +2 +running as root: set tlsproxy_user \\(and tlsproxy_group\\) to drop privileges after loading keys$" "$T/pflogsumm.out" ||
			tp_fail "pflogsumm does not count the two 'running as root' warnings as one message, twice"
	fi
	grep -q -x "Fatal Errors: none" "$T/pflogsumm.out" || tp_fail "pflogsumm saw fatal errors"
	grep -q -x "Panics: none" "$T/pflogsumm.out" || tp_fail "pflogsumm saw panics"
	tp_ok "pflogsumm: tlsproxy (total: $nwarn)"
fi

tp_say "PASS"
exit 0
