# Shared helpers for the integration tests; sourced by every t_*.sh.
# Re-run under bash when started by another shell (the test driver uses $SHELL).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
#
# Environment (set by the test driver):
#   TLSPROXY_BIN  absolute path of the daemon binary
#   TOP_SRCDIR    source tree, TOP_BUILDDIR build tree
#   SHARED_DIR    the protocol docs and captured vectors
# Optional:
#   TLSPROXY_TEST_KEEP=1  keep the temporary directory
#
# Exit codes (automake): 0 pass, 77 skip, 99 hard error, 1 fail.
#
# Every test gets its own temporary directory ($TP_TMP). Processes started
# through tp_spawn / tp_start_daemon are remembered by pid and only those
# are stopped by the EXIT trap. Every wait is a bounded poll.

TP_NAME=$(basename "$0" .sh)
TP_DIR=$(cd "$(dirname "$0")" && pwd)
TP_PIDS=""
TP_LOGS=""
TP_TMP=""
TP_CLEANUP_HOOK=""

# ------------------------------------------------------------ reporting

tp_say() { printf '%s: %s\n' "$TP_NAME" "$*"; }
tp_check() { printf '%s: check: %s\n' "$TP_NAME" "$*"; }
tp_ok() { printf '%s: ok: %s\n' "$TP_NAME" "$*"; }

# Print the logs registered with tp_add_log (the tail of each).
tp_dump_logs() {
	local f
	for f in $TP_LOGS; do
		[ -f "$f" ] || continue
		printf '%s: ----- %s (last 200 lines) -----\n' "$TP_NAME" "$f"
		tail -n 200 "$f"
		printf '%s: ----- end of %s -----\n' "$TP_NAME" "$f"
	done
}

tp_fail() {
	printf '%s: FAIL: %s\n' "$TP_NAME" "$*"
	tp_dump_logs
	exit 1
}

tp_skip() {
	printf '%s: SKIP: %s\n' "$TP_NAME" "$*"
	exit 77
}

tp_hard_error() {
	printf '%s: ERROR: %s\n' "$TP_NAME" "$*"
	tp_dump_logs
	exit 99
}

tp_add_log() {
	case " $TP_LOGS " in
	*" $1 "*) ;;
	*) TP_LOGS="$TP_LOGS $1" ;;
	esac
}

# ------------------------------------------------------------ processes

# tp_alive PID: the process exists and is not a zombie.
tp_alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

tp_register_pid() { TP_PIDS="$1 $TP_PIDS"; }

tp_unregister_pid() {
	local p out=""
	for p in $TP_PIDS; do
		[ "$p" = "$1" ] || out="$out $p"
	done
	TP_PIDS=$out
}

# tp_wait_gone PID SECONDS: poll until the process is gone.
tp_wait_gone() {
	local n=$(( $2 * 10 ))
	for _ in $(seq "$n"); do
		tp_alive "$1" || return 0
		sleep 0.1
	done
	! tp_alive "$1"
}

# tp_kill PID: TERM, then KILL after 10 s; reap it if it is our child.
tp_kill() {
	if tp_alive "$1"; then
		kill -TERM "$1" 2>/dev/null
		tp_wait_gone "$1" 10 || kill -KILL "$1" 2>/dev/null
		tp_wait_gone "$1" 5
	fi
	wait "$1" 2>/dev/null
	tp_unregister_pid "$1"
	return 0
}

tp_cleanup() {
	local rc=$? p
	trap - EXIT
	for p in $TP_PIDS; do
		tp_kill "$p"
	done
	if [ -n "$TP_CLEANUP_HOOK" ]; then
		$TP_CLEANUP_HOOK
	fi
	if [ -n "$TP_TMP" ] && [ -d "$TP_TMP" ]; then
		if [ "${TLSPROXY_TEST_KEEP:-0}" = 1 ]; then
			tp_say "kept $TP_TMP"
		else
			rm -rf "$TP_TMP"
		fi
	fi
	exit "$rc"
}

# tp_spawn OUTFILE CMD...: run CMD in the background, output to OUTFILE;
# its pid is in TP_LAST_PID.
tp_spawn() {
	local out=$1
	shift
	"$@" >"$out" 2>&1 &
	TP_LAST_PID=$!
	tp_register_pid "$TP_LAST_PID"
}

# tp_wait_exit PID SECONDS: wait for a background child and set
# TP_LAST_STATUS to its exit status; 1 if it is still running.
tp_wait_exit() {
	if ! tp_wait_gone "$1" "$2"; then
		return 1
	fi
	wait "$1" 2>/dev/null
	TP_LAST_STATUS=$?
	tp_unregister_pid "$1"
	return 0
}

# ------------------------------------------------------------ setup

# tp_init: check the environment, make the temp dir, install the trap.
tp_init() {
	if [ -z "${TLSPROXY_BIN:-}" ]; then
		tp_hard_error "TLSPROXY_BIN is not set"
	fi
	if [ ! -x "$TLSPROXY_BIN" ]; then
		tp_hard_error "daemon binary $TLSPROXY_BIN does not exist"
	fi
	for tool in python3 openssl; do
		command -v "$tool" >/dev/null 2>&1 || tp_skip "$tool is not installed"
	done
	TP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tlsproxy-$TP_NAME.XXXXXX") ||
		tp_hard_error "mktemp failed"
	chmod 755 "$TP_TMP"
	trap tp_cleanup EXIT
	trap 'exit 1' INT TERM HUP
	# Sanitizer builds are slower: widen every time bound.
	TP_SLOW=1
	if grep -q -a __tsan_init "$TLSPROXY_BIN" 2>/dev/null; then
		TP_SLOW=4
	elif grep -q -a __asan_init "$TLSPROXY_BIN" 2>/dev/null; then
		TP_SLOW=2
	fi
	tp_say "daemon $TLSPROXY_BIN, temp dir $TP_TMP, time factor $TP_SLOW"
}

# tp_secs N: N seconds scaled for slow (sanitizer) builds.
tp_secs() { echo $(( $1 * TP_SLOW )); }

# tp_free_port: a TCP port on 127.0.0.1 the kernel considers free.
tp_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# tp_port_listening PORT: something listens on 127.0.0.1:PORT or *:PORT.
tp_port_listening() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
	    END { exit !f }' /proc/net/tcp 2>/dev/null
}

# tp_gen_cert rsa|ec CN BASENAME: BASENAME.pem and BASENAME.key.
tp_gen_cert() {
	local alg
	case $1 in
	rsa) alg="-newkey rsa:2048" ;;
	ec) alg="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1" ;;
	*) tp_hard_error "tp_gen_cert: bad type $1" ;;
	esac
	# shellcheck disable=SC2086
	openssl req -x509 $alg -nodes -days 30 -subj "/CN=$2" \
	    -addext "subjectAltName=DNS:$2" \
	    -keyout "$3.key" -out "$3.pem" >"$3.gen.log" 2>&1 ||
		{ cat "$3.gen.log"; tp_hard_error "openssl could not make a $1 certificate"; }
	chmod 600 "$3.key"
}

# tp_gen_certs: RSA-2048 and ECDSA P-256 self-signed certificates in
# $TP_TMP: rsa.pem/rsa.key (CN tlsproxy-test.localdomain) and
# ec.pem/ec.key (CN tlsproxy-test-ec.localdomain); ca.pem holds both.
TP_RSA_CN=tlsproxy-test.localdomain
TP_EC_CN=tlsproxy-test-ec.localdomain
tp_gen_certs() {
	tp_gen_cert rsa "$TP_RSA_CN" "$TP_TMP/rsa"
	tp_gen_cert ec "$TP_EC_CN" "$TP_TMP/ec"
	cat "$TP_TMP/rsa.pem" "$TP_TMP/ec.pem" >"$TP_TMP/ca.pem"
}

# tp_gen_pki DIR: a test CA (DIR/ca.pem, EC) and a sink certificate it
# signed (RSA, CN and SAN $TP_SINK_NAME): DIR/sink.pem, sink.key and
# sink-chain.pem (leaf and CA).
TP_SINK_NAME=sink.tlsproxy.test
tp_gen_pki() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	    -days 30 -subj "/CN=tlsproxy test CA" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" \
	    -keyout "$d/ca.key" -out "$d/ca.pem" >"$d/gen.log" 2>&1 &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$TP_SINK_NAME" \
	    -keyout "$d/sink.key" -out "$d/sink.csr" >>"$d/gen.log" 2>&1 &&
	printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n' "$TP_SINK_NAME" \
	    >"$d/sink.ext" &&
	openssl x509 -req -in "$d/sink.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
	    -CAcreateserial -days 30 -extfile "$d/sink.ext" \
	    -out "$d/sink.pem" >>"$d/gen.log" 2>&1 ||
		{ cat "$d/gen.log"; tp_hard_error "openssl could not make the test PKI"; }
	cat "$d/sink.pem" "$d/ca.pem" >"$d/sink-chain.pem"
	chmod 600 "$d/ca.key" "$d/sink.key"
}

# ------------------------------------------------------------ waiting and logs

# tp_wait_for SECONDS CMD...: poll CMD every 0.1 s (SECONDS scaled).
tp_wait_for() {
	local n=$(( $1 * TP_SLOW * 10 ))
	shift
	for _ in $(seq "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

tp_log_has() { grep -q -F -- "$2" "$1" 2>/dev/null; }

tp_log_count() { grep -c -F -- "$2" "$1" 2>/dev/null; }

# tp_expect_log LOG STRING [SECONDS]: the fixed string shows up in LOG.
tp_expect_log() {
	tp_wait_for "${3:-10}" tp_log_has "$1" "$2" ||
		tp_fail "log $(basename "$1") has no line with: $2"
	tp_ok "log: $2"
}

# tp_log_msg LOG MESSAGE: a line ends in ": MESSAGE" (the whole message).
tp_log_msg() {
	awk -v m=": $2" '{ n = length($0); k = length(m)
	    if (n >= k && substr($0, n - k + 1) == m) f = 1 } END { exit !f }' "$1" 2>/dev/null
}

# tp_expect_msg LOG MESSAGE [SECONDS]: wait for a line whose message is
# exactly MESSAGE.
tp_expect_msg() {
	tp_wait_for "${3:-10}" tp_log_msg "$1" "$2" ||
		tp_fail "log $(basename "$1") has no line with the message: $2"
	tp_ok "log: $2"
}

# tp_line_no LOG STRING: number of the first line containing STRING.
tp_line_no() { grep -n -F -m 1 -- "$2" "$1" | cut -d: -f1; }

# tp_expect_order LOG STRING...: the strings first appear in this order.
tp_expect_order() {
	local log=$1 prev=0 n s
	shift
	for s in "$@"; do
		n=$(tp_line_no "$log" "$s")
		[ -n "$n" ] || tp_fail "log $(basename "$log") has no line with: $s"
		[ "$n" -gt "$prev" ] || tp_fail "log order: '$s' (line $n) comes too early"
		prev=$n
	done
}

# tp_expect_no_log LOG STRING: the fixed string is not in LOG.
tp_expect_no_log() {
	if tp_log_has "$1" "$2"; then
		grep -F -- "$2" "$1" | head -5
		tp_fail "log $(basename "$1") unexpectedly has: $2"
	fi
}

# tp_check_log_format LOG PID SYSLOG_NAME: every line is
# "Mon DD HH:MM:SS SYSLOG_NAME/tlsproxy[PID]: message".
tp_check_log_format() {
	local bad
	bad=$(grep -v -E "^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} $3/tlsproxy\\[$2\\]: [^ ]" "$1" | head -5)
	[ -z "$bad" ] || tp_fail "log lines not in the syslog format (first ones): $bad"
	tp_ok "every log line has the form 'Mon DD HH:MM:SS $3/tlsproxy[$2]: ...'"
}

# tp_check_sanitizers LOG: no sanitizer report in the daemon's output.
tp_check_sanitizers() {
	if grep -q -E 'ERROR: (Address|Leak|Memory|UndefinedBehavior)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$1" 2>/dev/null; then
		tp_fail "sanitizer report in $(basename "$1")"
	fi
}

# ------------------------------------------------------------ the daemon

# tp_start_daemon LOG CONF [unix:PATH|tcp:PORT ...]: run the daemon in the
# foreground (-f) and wait until every listed listener is up. The pid is in
# TP_DAEMON_PID (and TP_LAST_PID).
tp_start_daemon() {
	local log=$1 conf=$2 l
	shift 2
	tp_add_log "$log"
	tp_spawn "$log" "$TLSPROXY_BIN" -f -c "$conf"
	TP_DAEMON_PID=$TP_LAST_PID
	for l in "$@"; do
		case $l in
		unix:*) tp_wait_for 15 tp_daemon_ready_unix "$TP_DAEMON_PID" "${l#unix:}" ;;
		tcp:*) tp_wait_for 15 tp_daemon_ready_tcp "$TP_DAEMON_PID" "${l#tcp:}" ;;
		esac
		tp_alive "$TP_DAEMON_PID" || tp_fail "the daemon exited at startup ($conf)"
		case $l in
		unix:*) [ -S "${l#unix:}" ] || tp_fail "no handoff socket at ${l#unix:}" ;;
		tcp:*) tp_port_listening "${l#tcp:}" || tp_fail "nothing listens on 127.0.0.1:${l#tcp:}" ;;
		esac
	done
	tp_say "daemon pid $TP_DAEMON_PID is up ($*)"
}

tp_daemon_ready_unix() { ! tp_alive "$1" || [ -S "$2" ]; }
tp_daemon_ready_tcp() { ! tp_alive "$1" || tp_port_listening "$2"; }

# tp_stop_daemon PID LOG [SECONDS]: SIGTERM, wait, expect exit status 0.
tp_stop_daemon() {
	kill -TERM "$1" 2>/dev/null || tp_fail "daemon $1 is not running"
	tp_wait_exit "$1" "$(tp_secs "${3:-15}")" ||
		tp_fail "daemon $1 still running $(tp_secs "${3:-15}")s after SIGTERM"
	[ "$TP_LAST_STATUS" = 0 ] ||
		tp_fail "daemon exited with status $TP_LAST_STATUS after SIGTERM"
	tp_check_sanitizers "$2"
}

# tp_fd_count PID / tp_thread_count PID
tp_fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
tp_thread_count() { ls "/proc/$1/task" 2>/dev/null | wc -l; }

tp_counts_at() {
	[ "$(tp_fd_count "$1")" -le "$2" ] && [ "$(tp_thread_count "$1")" -le "$3" ]
}

# tp_expect_baseline PID FDS THREADS: fd and thread counts return to the
# baseline (bounded poll).
tp_expect_baseline() {
	if ! tp_wait_for 20 tp_counts_at "$1" "$2" "$3"; then
		ls -l "/proc/$1/fd" 2>/dev/null
		tp_fail "fd/thread count did not return to the baseline: fds $(tp_fd_count "$1") (baseline $2), threads $(tp_thread_count "$1") (baseline $3)"
	fi
	tp_ok "fds $(tp_fd_count "$1") (baseline $2), threads $(tp_thread_count "$1") (baseline $3)"
}

# tp_stats SOCKET: what the stats socket answers (all metrics, in
# Prometheus' text format) on stdout.
tp_stats() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
d = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    d += b
sys.stdout.write(d.decode())' "$1"
}

# tp_stat SOCKET NAME: the value of one metric without labels (empty if
# none), by its full name (tlsproxy_sessions_live,
# tlsproxy_refused_client_count_total); the short name of the daemon's
# log line (sessions_live, refused_client_count) finds the same metric.
tp_stat() {
	tp_stats "$1" | awk -v n="$2" '!found && ($1 == n ||
	    $1 == "tlsproxy_" n || $1 == "tlsproxy_" n "_total") {
		print $2; found = 1 }'
}

# ------------------------------------------------------------ clients

# tp_hc OUT ARGS...: run handoff_client.py; output to OUT and stdout.
tp_hc() {
	local out=$1
	shift
	python3 "$TP_DIR/handoff_client.py" --slack "$(tp_secs 5)" "$@" >"$out" 2>&1
	local rc=$?
	sed "s/^/    | /" "$out"
	return $rc
}

# tp_hc_ok OUT DESC ARGS...: the client must pass.
tp_hc_ok() {
	local out=$1 desc=$2
	shift 2
	tp_check "$desc"
	tp_hc "$out" "$@" || tp_fail "$desc"
	tp_ok "$desc"
}

# tp_hc_bg OUT ARGS...: run the client in the background (TP_LAST_PID).
tp_hc_bg() {
	local out=$1
	shift
	tp_add_log "$out"
	tp_spawn "$out" python3 "$TP_DIR/handoff_client.py" --slack "$(tp_secs 5)" "$@"
}

# tp_endpoint OUT: the remote_endpoint / local address the client printed.
tp_endpoint() {
	sed -n -e 's/^.*endpoint=\(\[[^]]*\]:[0-9]*\).*$/\1/p' \
	    -e 's/^.*local=\(\[[^]]*\]:[0-9]*\).*$/\1/p' "$1" | head -1
}

# tp_start_echo [--listen SPEC ...]: start echo_server.py; its listener
# addresses are in $TP_TMP/echo.ready.
tp_start_echo() {
	tp_add_log "$TP_TMP/echo.out"
	tp_spawn "$TP_TMP/echo.out" python3 "$TP_DIR/echo_server.py" \
	    --ready-file "$TP_TMP/echo.ready" --max-seconds 1800 "$@"
	TP_ECHO_PID=$TP_LAST_PID
	tp_wait_for 10 test -s "$TP_TMP/echo.ready" ||
		tp_fail "echo server did not start"
}
