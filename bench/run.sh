#!/bin/bash
# bench/run.sh - benchmark tlsproxy against other TLS terminators.
#
# Usage: bench/run.sh [--quick] [--no-install] [--rounds N] [--duration S]
#                     [--keep] [--out DIR]
#
#   --quick       CI slice (< 3 min): our daemon, the in-process bound and
#                 one peer (HAProxy, else stunnel, else hitch); the SMTP
#                 STARTTLS row (ours vs stunnel); pinned only; one round;
#                 no Postfix; the capacity rows with small N.
#   (default)     full run (< 35 min): our daemon, stunnel4, hitch, HAProxy,
#                 nginx (TLS itself, no proxy), and for the hand-off path
#                 Postfix's own tlsproxy; for SMTP STARTTLS, ours vs stunnel
#                 (protocol = smtp) in front of bench/smtpsink.c; pinned and
#                 shared variants; 3 rounds, contenders alternating; then
#                 the capacity rows (one round): most idle sessions held,
#                 fresh handshakes beside 5,000 idle and 2,000 stalled
#                 sessions, CPU per handshake at 16, 1,000 and 5,000
#                 connections; RSS per idle session at 1,000 and 8,000.
#   --no-install  do not apt-get install missing packages.
#   --rounds N, --duration S   override rounds and seconds per measurement.
#   --keep        keep the working directory (configs, logs, raw results).
#   --out DIR     where results/ and RESULTS.md go (default: this directory).
#
# Writes DIR/results/latest.json and DIR/RESULTS.md and prints the table.
# Everything runs on 127.0.0.1 or UNIX sockets; every load run is bounded
# in time and count. The machine may be shared: read the ratios (measured
# in the same run, alternating contenders, medians of rounds), not the
# absolute numbers.
#
# Environment: TLSPROXY_BIN (use this daemon binary instead of building
# one in ../build-bench), CC (default cc).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

BENCH=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH/.." && pwd)
OUT=$BENCH
QUICK=0
INSTALL=1
KEEP=0
ROUNDS=""
DUR=""

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--no-install) INSTALL=0 ;;
	--keep) KEEP=1 ;;
	--rounds) ROUNDS=$2; shift ;;
	--duration) DUR=$2; shift ;;
	--out) OUT=$2; shift ;;
	-h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

# Capacity rows (one round each): CAP_MAX is what each contender is asked
# to hold idle (derived from the descriptor limit below), LOAD_IDLE and
# LOAD_STALL the sessions held while fresh clients (FRESH_CONC in flight)
# measure handshake latency, CPU_CONCS the concurrencies of the CPU per
# handshake row.
if [ "$QUICK" = 1 ]; then
	: "${ROUNDS:=1}" "${DUR:=2}"
	VARIANTS="pinned"
	RSS_NS="500"
	CAP_MAX=1000 LOAD_IDLE=200 LOAD_STALL=100 CPU_CONCS="16 200" CAP_SETTLE=5 CAP_PAUSE=1
else
	: "${ROUNDS:=3}" "${DUR:=3}"
	VARIANTS="pinned shared"
	RSS_NS="1000 8000"
	CAP_MAX="" LOAD_IDLE=5000 LOAD_STALL=2000 CPU_CONCS="16 1000 5000" CAP_SETTLE=10 CAP_PAUSE=2
fi
FRESH_CONC=4		# fresh clients in flight beside the held sessions
CONC=16			# sessions in flight for handshake measurements
SMTP_MSG=4096		# body bytes of each SMTP message (headers on top)
SMTP_BULK_MSG=4194304	# body bytes of each message of the SMTP bulk row
BULK_CONC=4		# wrk connections for bulk
NCPU=$(nproc)
T0=$(date +%s)

say() { printf '[%4ds] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
die() { say "error: $*"; exit 1; }

# ------------------------------------------------------------ packages

have() { command -v "$1" >/dev/null 2>&1; }

install_packages() {
	local want="" p policy_made=0
	for p in build-essential libssl-dev libconfig-dev pkg-config autoconf \
	    automake python3 wrk stunnel4 hitch haproxy nginx; do
		dpkg -s "$p" >/dev/null 2>&1 || want="$want $p"
	done
	[ "$QUICK" = 0 ] && ! dpkg -s postfix >/dev/null 2>&1 && want="$want postfix"
	[ -n "$want" ] || return 0
	if [ "$(id -u)" != 0 ] || ! have apt-get; then
		say "not root or no apt-get: not installing$want"
		return 0
	fi
	say "installing:$want"
	# Packages must not start their own services (nginx on port 80, ...).
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		policy_made=1
	fi
	# Postfix: installed unconfigured; the benchmark runs a private instance.
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections 2>/dev/null
	apt-get update -qq >/dev/null 2>&1
	for p in $want; do
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    --no-install-recommends "$p" >/dev/null 2>&1 ||
			say "note: package $p is not available; skipping what needs it"
	done
	[ "$policy_made" = 1 ] && rm -f /usr/sbin/policy-rc.d
}

[ "$INSTALL" = 1 ] && install_packages
have cc || have gcc || die "no C compiler (install build-essential)"
have python3 || die "python3 is needed for the report"
CC=${CC:-cc}

# ------------------------------------------------------------ work area

W=$(mktemp -d "${TMPDIR:-/tmp}/tlsproxy-bench.XXXXXX") || die "mktemp"
chmod 755 "$W"		# Postfix's and nginx's unprivileged processes look in here
PIDS=""
PF_STARTED=""

stop_pid() {
	local p=$1 i
	kill -TERM "$p" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

cleanup() {
	local p
	for p in $PIDS; do
		stop_pid "$p"
	done
	PIDS=""
	if [ -n "$PF_STARTED" ]; then
		postfix -c "$PF_STARTED" stop >/dev/null 2>&1
		PF_STARTED=""
	fi
}
final_cleanup() {
	cleanup
	if [ "$KEEP" = 1 ]; then
		echo "kept $W"
	else
		rm -rf "$W"
	fi
}
trap final_cleanup EXIT
trap 'exit 130' INT TERM

# ulimit for thousands of idle sessions
HARD=$(ulimit -Hn)
[ "$HARD" = unlimited ] && HARD=65536
[ "$HARD" -gt 65536 ] && HARD=65536
ulimit -n "$HARD" 2>/dev/null
NOFILE=$(ulimit -n)
# A proxy needs two descriptors per session (client and backend) plus its
# own: most idle sessions asked of each contender, about 9,000 with 20,000
# descriptors per process. Every process (terminator, load generator,
# backend) has the limit on its own.
CAP_FULL=$(( (NOFILE - 2000) / 2 ))
[ -z "$CAP_MAX" ] && CAP_MAX=$CAP_FULL
[ "$CAP_MAX" -gt "$CAP_FULL" ] && CAP_MAX=$CAP_FULL

# ------------------------------------------------------------ build

mkdir -p "$W/bin"
say "building bound, loadgen and smtpsink"
$CC -O2 -Wall -o "$W/bin/bound" "$BENCH/bound.c" -lssl -lcrypto ||
	die "cannot build bound.c (libssl-dev installed?)"
$CC -O2 -Wall -o "$W/bin/loadgen" "$BENCH/loadgen.c" -lssl -lcrypto -pthread ||
	die "cannot build loadgen.c"
$CC -O2 -Wall -o "$W/bin/smtpsink" "$BENCH/smtpsink.c" -pthread ||
	die "cannot build smtpsink.c"
LOADGEN=$W/bin/loadgen

if [ -n "${TLSPROXY_BIN:-}" ]; then
	DAEMON=$TLSPROXY_BIN
else
	DAEMON=$TOP/build-bench/src/tlsproxy
	say "building the daemon in build-bench/"
	(
		cd "$TOP" || exit 1
		[ -x configure ] || ./autogen.sh >/dev/null 2>&1 || exit 1
		mkdir -p build-bench && cd build-bench || exit 1
		[ -f Makefile ] || ../configure -q >/dev/null || exit 1
		make -s >/dev/null 2>&1 || make -s
	) || die "cannot build the daemon"
fi
[ -x "$DAEMON" ] || die "no daemon binary at $DAEMON"

# ------------------------------------------------------------ certificates, content

C=$W/certs
mkdir -p "$C" "$W/www"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=bench.test -keyout "$C/ec.key" -out "$C/ec.pem" >/dev/null 2>&1 &&
openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
    -subj /CN=bench.test -keyout "$C/rsa.key" -out "$C/rsa.pem" >/dev/null 2>&1 ||
	die "openssl req failed"
cat "$C/ec.key" "$C/ec.pem" >"$C/ec-combined.pem"
cat "$C/rsa.key" "$C/rsa.pem" >"$C/rsa-combined.pem"
chmod 755 "$C"
chmod 600 "$C"/*.key "$C"/*-combined.pem
head -c 128 /dev/zero | tr '\0' s >"$W/www/small"
head -c 1048576 /dev/urandom >"$W/www/1m"
chmod -R a+rX "$W/www"

# ------------------------------------------------------------ helpers

USED_PORTS=" "
port_listening() {
	local h
	h=$(printf '%04X' "$1")
	grep -q -E "^ *[0-9]+: 0100007F:$h 00000000:0000 0A " /proc/net/tcp 2>/dev/null
}
free_port() {
	local p i
	for i in $(seq 200); do
		p=$(( 20000 + RANDOM % 30000 ))
		case $USED_PORTS in *" $p "*) continue ;; esac
		if ! port_listening "$p" && ! grep -q -i ":$(printf '%04X' "$p") " /proc/net/tcp 2>/dev/null; then
			USED_PORTS="$USED_PORTS$p "
			echo "$p"
			return 0
		fi
	done
	die "no free port"
}
wait_port() {
	local i
	for i in $(seq 100); do
		port_listening "$1" && return 0
		sleep 0.1
	done
	return 1
}
# spawn NAME PIN CMD...: start CMD in the background, remember its pid in SPAWNED
spawn() {
	local name=$1 pin=$2
	shift 2
	if [ -n "$pin" ]; then
		taskset -c "$pin" "$@" >"$W/logs/$name.out" 2>&1 &
	else
		"$@" >"$W/logs/$name.out" 2>&1 &
	fi
	SPAWNED=$!
	PIDS="$PIDS $SPAWNED"
}
mkdir -p "$W/logs"

# ------------------------------------------------------------ contenders
#
# Every TCP contender gets two ports, one with the ECDSA P-256 certificate
# and one with the RSA-2048 one, relays to the same plaintext backend,
# allows TLS 1.2 and 1.3, and has X25519 first (the load generator offers
# only TLS_AES_128_GCM_SHA256 / ECDHE-*-AES128-GCM-SHA256 and X25519 for
# key exchange). Worker processes/threads: one per core where the program
# has such a knob; our daemon keeps its default pool (2 x CPUs + 2 worker
# threads, sized for CPU work: a session holds a worker only while it has
# work).

declare -A ROOT PEC PRSA HANDOFF_SOCK SROOT PSMTP
CONTENDERS=""

BACKEND_PORT=""
start_backend() {	# plaintext nginx: /small (128 B) and /1m (1 MiB)
	local pin=$1 d=$W/backend
	mkdir -p "$d"
	BACKEND_PORT=$(free_port)
	cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
worker_rlimit_nofile $NOFILE;
events { worker_connections $(( NOFILE / 2 )); }
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  client_header_timeout 300s;
  keepalive_timeout 300s;
  keepalive_requests 10000000;
  default_type application/octet-stream;
  client_body_temp_path $d; proxy_temp_path $d; fastcgi_temp_path $d;
  uwsgi_temp_path $d; scgi_temp_path $d;
  server { listen 127.0.0.1:$BACKEND_PORT backlog=4096; root $W/www; }
}
EOF
	spawn backend "$pin" nginx -c "$d/nginx.conf"
	BACKEND_PID=$SPAWNED
	wait_port "$BACKEND_PORT" || die "backend nginx does not listen ($(tail -3 "$W/logs/backend.out"))"
}

# The SMTP row: a plaintext SMTP sink (bench/smtpsink.c) as the backend of
# our STARTTLS listener and of stunnel's protocol = smtp service.
SINK_PORT=""
start_smtpsink() {
	local pin=$1
	SINK_PORT=$(free_port)
	spawn smtpsink "$pin" "$W/bin/smtpsink" -l "127.0.0.1:$SINK_PORT" -s 3600
	wait_port "$SINK_PORT" || die "smtpsink does not listen ($(tail -3 "$W/logs/smtpsink.out"))"
}

ours_conf() {	# FILE THREADS PORT_EC PORT_RSA [PORT_SMTP]; THREADS 0: the default
	local smtp="" threads=""
	# 0 or empty: no line, the daemon's default pool (2 x CPUs + 2)
	[ -n "$2" ] && [ "$2" != 0 ] && threads="tlsproxy_worker_threads = $2;"
	# the STARTTLS listener, level may (stated, though it is the global one too)
	[ -n "${5:-}" ] && smtp=",
  { listen = \"127.0.0.1:$5\"; backend = \"127.0.0.1:$SINK_PORT\";
    starttls = \"smtp\"; smtpd_tls_security_level = \"may\"; }"
	cat >"$1" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$C/rsa.pem";
smtpd_tls_key_file = "$C/rsa.key";
smtpd_tls_eccert_file = "$C/ec.pem";
smtpd_tls_eckey_file = "$C/ec.key";
tls_eecdh_auto_curves = "X25519 prime256v1";
# the shared session cache (resumption by session id), as Debian's
# main.cf has it for Postfix; without it only tickets resume
smtpd_tls_session_cache_database = "btree:$W/ours/smtpd_scache";
$threads
tlsproxy_queue_limit = 4096;
tlsproxy_listeners = (
  { handoff = "$W/ours/handoff-$3.sock"; },
  { listen = "127.0.0.1:$3"; backend = "127.0.0.1:$BACKEND_PORT";
    tlsproxy_tls_cert_file = ""; tlsproxy_tls_key_file = ""; },
  { listen = "127.0.0.1:$4"; backend = "127.0.0.1:$BACKEND_PORT";
    tlsproxy_tls_eccert_file = ""; tlsproxy_tls_eckey_file = ""; }$smtp
);
EOF
}

SMTP_NOTED=0
start_ours() {	# PIN [THREADS] [NAME]; with SINK_PORT set, also the STARTTLS listener
	local pin=$1 threads=${2:-0} name=${3:-ours} e r s=""
	mkdir -p "$W/ours"
	e=$(free_port); r=$(free_port)
	[ -n "$SINK_PORT" ] && s=$(free_port)
	ours_conf "$W/ours/$name.conf" "$threads" "$e" "$r" "$s"
	if [ -n "$s" ] && ! "$DAEMON" -c "$W/ours/$name.conf" -n >/dev/null 2>"$W/logs/$name.check"; then
		# A daemon without STARTTLS listeners: the rest runs without the row.
		[ "$SMTP_NOTED" = 1 ] || note "our daemon rejects a STARTTLS listener, no SMTP row ($(tr '\n' ' ' <"$W/logs/$name.check" | cut -c1-200))"
		SMTP_NOTED=1
		s=""
		ours_conf "$W/ours/$name.conf" "$threads" "$e" "$r"
	fi
	"$DAEMON" -c "$W/ours/$name.conf" -n >/dev/null 2>"$W/logs/$name.check" ||
		die "our configuration is rejected: $(cat "$W/logs/$name.check")"
	spawn "$name" "$pin" "$DAEMON" -f -c "$W/ours/$name.conf"
	ROOT[$name]=$SPAWNED; PEC[$name]=$e; PRSA[$name]=$r
	HANDOFF_SOCK[$name]=$W/ours/handoff-$e.sock
	SROOT[$name]=$SPAWNED; PSMTP[$name]=$s
	wait_port "$e" && wait_port "$r" || die "our daemon does not listen ($(tail -3 "$W/logs/$name.out"))"
	[ -z "$s" ] || wait_port "$s" || die "our STARTTLS listener does not listen ($(tail -3 "$W/logs/$name.out"))"
}

start_stunnel() {
	local pin=$1 d=$W/stunnel e r bin
	bin=$(command -v stunnel4 || command -v stunnel)
	mkdir -p "$d"
	e=$(free_port); r=$(free_port)
	cat >"$d/stunnel.conf" <<EOF
foreground = yes
pid =
output = $d/stunnel.log
[ec]
accept = 127.0.0.1:$e
connect = 127.0.0.1:$BACKEND_PORT
cert = $C/ec.pem
key = $C/ec.key
sslVersionMin = TLSv1.2
curves = X25519:P-256
TIMEOUTidle = 300
[rsa]
accept = 127.0.0.1:$r
connect = 127.0.0.1:$BACKEND_PORT
cert = $C/rsa.pem
key = $C/rsa.key
sslVersionMin = TLSv1.2
curves = X25519:P-256
TIMEOUTidle = 300
EOF
	spawn stunnel "$pin" "$bin" "$d/stunnel.conf"
	ROOT[stunnel]=$SPAWNED; PEC[stunnel]=$e; PRSA[stunnel]=$r
	wait_port "$e" && wait_port "$r"
}

# stunnel's server-side protocol = smtp: it connects the backend, waits 200
# ms for the client to stay silent (its test for RFC 2487 as opposed to
# implicit TLS), relays the backend's 220 greeting, answers the client's
# EHLO itself ("250-... Welcome", "250 STARTTLS") and STARTTLS ("220 Go
# ahead"), runs the handshake, then relays bytes: the backend sees the
# client's EHLO after TLS as the first one. A process of its own, apart
# from the stunnel of the TCP rows, so that its CPU time is only SMTP's.
start_stunnel_smtp() {
	local pin=$1 d=$W/stunnel-smtp s bin
	bin=$(command -v stunnel4 || command -v stunnel)
	mkdir -p "$d"
	s=$(free_port)
	cat >"$d/stunnel.conf" <<EOF
foreground = yes
pid =
output = $d/stunnel.log
[smtp]
accept = 127.0.0.1:$s
connect = 127.0.0.1:$SINK_PORT
protocol = smtp
cert = $C/ec.pem
key = $C/ec.key
sslVersionMin = TLSv1.2
curves = X25519:P-256
TIMEOUTidle = 300
EOF
	spawn stunnel-smtp "$pin" "$bin" "$d/stunnel.conf"
	SROOT[stunnel]=$SPAWNED; PSMTP[stunnel]=$s
	wait_port "$s"
}

start_hitch() {
	local pin=$1 d=$W/hitch e r
	# hitch refuses to run its workers as root; Debian's package has _hitch.
	HITCH_USER=_hitch
	id _hitch >/dev/null 2>&1 || HITCH_USER=nobody
	mkdir -p "$d/ocsp"
	chmod 777 "$d/ocsp"
	e=$(free_port); r=$(free_port)
	cat >"$d/hitch.conf" <<EOF
frontend = {
  host = "127.0.0.1"
  port = "$e"
  pem-file = "$C/ec-combined.pem"
}
frontend = {
  host = "127.0.0.1"
  port = "$r"
  pem-file = "$C/rsa-combined.pem"
}
backend = "[127.0.0.1]:$BACKEND_PORT"
workers = $NCPU
backlog = 4096
user = "$HITCH_USER"
tls-protos = TLSv1.2 TLSv1.3
ecdh-curve = "X25519:prime256v1"
daemon = off
ocsp-dir = "$d/ocsp"
EOF
	spawn hitch "$pin" hitch --config="$d/hitch.conf"
	ROOT[hitch]=$SPAWNED; PEC[hitch]=$e; PRSA[hitch]=$r
	wait_port "$e" && wait_port "$r"
}

start_haproxy() {
	local pin=$1 d=$W/haproxy e r
	mkdir -p "$d"
	e=$(free_port); r=$(free_port)
	cat >"$d/haproxy.cfg" <<EOF
global
  nbthread $NCPU
  maxconn $(( NOFILE / 2 - 100 ))
  tune.ssl.cachesize 20000
  ssl-default-bind-options ssl-min-ver TLSv1.2
  ssl-default-bind-curves X25519:P-256
defaults
  mode tcp
  timeout connect 10s
  timeout client 300s
  timeout server 300s
frontend fe_ec
  bind 127.0.0.1:$e ssl crt $C/ec-combined.pem
  default_backend be
frontend fe_rsa
  bind 127.0.0.1:$r ssl crt $C/rsa-combined.pem
  default_backend be
backend be
  server s1 127.0.0.1:$BACKEND_PORT
EOF
	spawn haproxy "$pin" haproxy -db -f "$d/haproxy.cfg"
	ROOT[haproxy]=$SPAWNED; PEC[haproxy]=$e; PRSA[haproxy]=$r
	wait_port "$e" && wait_port "$r"
}

start_nginx() {	# nginx terminating TLS itself and serving the files (no proxy)
	local pin=$1 d=$W/nginx e r
	mkdir -p "$d"
	e=$(free_port); r=$(free_port)
	cat >"$d/nginx.conf" <<EOF
worker_processes $NCPU;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
worker_rlimit_nofile $NOFILE;
events { worker_connections $(( NOFILE / 2 )); }
http {
  access_log $d/access.log;
  sendfile on;
  tcp_nodelay on;
  keepalive_timeout 300s;
  keepalive_requests 10000000;
  client_header_timeout 300s;
  default_type application/octet-stream;
  client_body_temp_path $d; proxy_temp_path $d; fastcgi_temp_path $d;
  uwsgi_temp_path $d; scgi_temp_path $d;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ecdh_curve X25519:prime256v1;
  ssl_session_cache shared:SSL:20m;
  ssl_session_timeout 1h;
  ssl_session_tickets on;
  server { listen 127.0.0.1:$e ssl backlog=4096; root $W/www;
           ssl_certificate $C/ec.pem; ssl_certificate_key $C/ec.key; }
  server { listen 127.0.0.1:$r ssl backlog=4096; root $W/www;
           ssl_certificate $C/rsa.pem; ssl_certificate_key $C/rsa.key; }
}
EOF
	spawn nginx "$pin" nginx -c "$d/nginx.conf"
	ROOT[nginx]=$SPAWNED; PEC[nginx]=$e; PRSA[nginx]=$r
	wait_port "$e" && wait_port "$r"
}

# Postfix's own tlsproxy(8), spawned by its master(8), in a private
# instance (own config and queue directory) so that the machine's Postfix
# configuration is not touched. Needs root.
PF_NOTE=""
start_postfix() {
	local pin=$1 d=$W/postfix i
	PF_NOTE=""
	if [ "$(id -u)" != 0 ]; then PF_NOTE="not root"; return 1; fi
	if ! have postfix || [ ! -x "$(postconf -h daemon_directory 2>/dev/null)/tlsproxy" ]; then
		PF_NOTE="Postfix is not installed"; return 1
	fi
	rm -rf "$d"
	mkdir -p "$d/etc" "$d/spool" "$d/data"
	chown postfix "$d/data" || { PF_NOTE="no postfix user"; return 1; }
	cat >"$d/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = bench.localdomain
mydestination =
maillog_file_prefixes = $d
maillog_file = $d/maillog
smtpd_tls_security_level = may
smtpd_tls_cert_file = $C/rsa.pem
smtpd_tls_key_file = $C/rsa.key
smtpd_tls_eccert_file = $C/ec.pem
smtpd_tls_eckey_file = $C/ec.key
smtpd_tls_session_cache_database = btree:$d/data/smtpd_scache
smtp_tls_security_level = may
tls_eecdh_auto_curves = X25519 prime256v1
EOF
	# tlsproxy requires process limit 0 (master starts processes as needed).
	cat >"$d/etc/master.cf" <<EOF
tlsproxy  unix  -       -       n       -       0       tlsproxy
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	if [ -n "$pin" ]; then
		taskset -c "$pin" postfix -c "$d/etc" start >"$W/logs/postfix.out" 2>&1
	else
		postfix -c "$d/etc" start >"$W/logs/postfix.out" 2>&1
	fi || { PF_NOTE="postfix start failed: $(tail -2 "$d/maillog" 2>/dev/null)"; return 1; }
	PF_STARTED=$d/etc
	for i in $(seq 50); do
		[ -S "$d/spool/private/tlsproxy" ] && [ -s "$d/spool/pid/master.pid" ] && break
		sleep 0.1
	done
	ROOT[postfix]=$(tr -d ' \n' <"$d/spool/pid/master.pid" 2>/dev/null)
	HANDOFF_SOCK[postfix]=$d/spool/private/tlsproxy
	[ -n "${ROOT[postfix]}" ] || { PF_NOTE="no master pid"; return 1; }
}

stop_postfix() {
	if [ -n "$PF_STARTED" ]; then
		postfix -c "$PF_STARTED" stop >/dev/null 2>&1
		PF_STARTED=""
		sleep 1
	fi
}

# ------------------------------------------------------------ which contenders

NOTES=""
note() { NOTES="$NOTES$1"$'\n'; say "note: $1"; }
PEERS=""
have_peer() {
	case $1 in
	stunnel) have stunnel4 || have stunnel ;;
	hitch) have hitch ;;
	haproxy) have haproxy ;;
	nginx) have nginx ;;
	esac
}
have nginx || die "nginx (the plaintext backend) is not installed"
have taskset || note "taskset missing: no pinning"
have wrk || note "wrk is not installed: no bulk and no wrk figures"
if [ "$QUICK" = 1 ]; then
	for p in haproxy stunnel hitch; do
		if have_peer "$p"; then PEERS=$p; break; fi
	done
	[ -n "$PEERS" ] || note "no peer (haproxy, stunnel4, hitch) installed"
	HANDOFF_PEERS=""
else
	for p in stunnel hitch haproxy nginx; do
		if have_peer "$p"; then PEERS="$PEERS $p"; else note "$p is not installed: skipped"; fi
	done
	HANDOFF_PEERS="postfix"
fi
TCP_CONTENDERS="ours $PEERS"
[ "$NCPU" -lt 2 ] && { VARIANTS="shared"; note "one CPU: no pinned variant"; }
have taskset || VARIANTS="shared"

# ------------------------------------------------------------ measurements

RAW=$W/raw.jsonl
: >"$RAW"

# record VARIANT CONTENDER TEST ROUND JSON
record() {
	local js=$5
	case $js in
	"{"*"}") ;;
	*) js="{\"error\": \"$(printf '%s' "$js" | tr -d '"\\\n' | cut -c1-200)\"}" ;;
	esac
	printf '{"variant": "%s", "contender": "%s", "test": "%s", "round": %d, "result": %s}\n' \
	    "$1" "$2" "$3" "$4" "$js" >>"$RAW"
}

REQ_SMALL='GET /small HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n'

# run_test VARIANT CONTENDER TEST ROUND
run_test() {
	local v=$1 c=$2 t=$3 r=$4 lpin="" thr=1 out cpu0 cpu1 args port sock
	[ "$v" = pinned ] && lpin="taskset -c 1"
	[ "$v" = shared ] && thr=$NCPU
	case $t in
	bulk|wrk_close)
		have wrk || return 0
		cpu0=$("$LOADGEN" cpu "${ROOT[$c]}")
		if [ "$t" = bulk ]; then
			out=$(timeout $(( DUR + 30 )) $lpin wrk -t "$thr" -c "$BULK_CONC" -d "${DUR}s" \
			    -s "$BENCH/wrk_report.lua" "https://127.0.0.1:${PEC[$c]}/1m" 2>&1 | tail -1)
		else
			out=$(timeout $(( DUR + 30 )) $lpin wrk -t "$thr" -c "$CONC" -d "${DUR}s" \
			    -H 'Connection: close' -s "$BENCH/wrk_report.lua" \
			    "https://127.0.0.1:${PEC[$c]}/small" 2>&1 | tail -1)
		fi
		cpu1=$("$LOADGEN" cpu "${ROOT[$c]}")
		case $out in
		"{"*"}") out="${out%\}}, \"cpu_us\": $(( cpu1 - cpu0 ))}" ;;
		esac
		record "$v" "$c" "$t" "$r" "$out"
		return 0
		;;
	full_ecdsa) args="-V 1.3 -r none -k ecdsa"; port=${PEC[$c]} ;;
	full_rsa) args="-V 1.3 -r none -k rsa"; port=${PRSA[$c]} ;;
	full12_ecdsa) args="-V 1.2 -r none -k ecdsa"; port=${PEC[$c]} ;;
	res12_ticket) args="-V 1.2 -r ticket -k ecdsa"; port=${PEC[$c]} ;;
	res12_id) args="-V 1.2 -r id -k ecdsa"; port=${PEC[$c]} ;;
	res13) args="-V 1.3 -r ticket -k ecdsa"; port=${PEC[$c]} ;;
	h_*)
		sock=${HANDOFF_SOCK[$c]}
		case $t in
		h_full_ecdsa) args="-V 1.3 -r none -k ecdsa -p 64 -C $CONC" ;;
		h_full_rsa) args="-V 1.3 -r none -k rsa -p 64 -C $CONC" ;;
		h_res13) args="-V 1.3 -r ticket -k ecdsa -p 64 -C $CONC" ;;
		h_bulk) args="-V 1.3 -r none -k ecdsa -p 1048576 -C 2" ;;
		esac
		# shellcheck disable=SC2086
		out=$(timeout $(( DUR + 40 )) $lpin "$LOADGEN" handoff -u "$sock" $args \
		    -d "$DUR" -t "$thr" -P "${ROOT[$c]}" -L "$c" 2>&1 | tail -1)
		record "$v" "$c" "$t" "$r" "$out"
		return 0
		;;
	esac
	# shellcheck disable=SC2086
	out=$(timeout $(( DUR + 40 )) $lpin "$LOADGEN" tls -a "127.0.0.1:$port" $args \
	    -C "$CONC" -d "$DUR" -t "$thr" -q "$REQ_SMALL" -P "${ROOT[$c]}" -L "$c" 2>&1 | tail -1)
	record "$v" "$c" "$t" "$r" "$out"
}

# run_smtp VARIANT CONTENDER TEST ROUND: messages through a STARTTLS frontend
run_smtp() {
	local v=$1 c=$2 t=$3 r=$4 lpin="" thr=1 args out size=$SMTP_MSG conc=$CONC
	[ "$v" = pinned ] && lpin="taskset -c 1"
	[ "$v" = shared ] && thr=$NCPU
	args="-V 1.3 -r none -k ecdsa"
	# smtp_bulk: few large messages, so the content relay dominates.
	[ "$t" = smtp_bulk ] && size=$SMTP_BULK_MSG && conc=$BULK_CONC
	# shellcheck disable=SC2086
	out=$(timeout $(( DUR + 40 )) $lpin "$LOADGEN" smtp -a "127.0.0.1:${PSMTP[$c]}" $args \
	    -m "$size" -C "$conc" -d "$DUR" -t "$thr" -P "${SROOT[$c]}" -L "$c" 2>&1 | tail -1)
	record "$v" "$c" "$t" "$r" "$out"
}

TCP_TESTS="full_ecdsa full_rsa full12_ecdsa res12_ticket res12_id res13 bulk"
[ "$QUICK" = 0 ] && TCP_TESTS="$TCP_TESTS wrk_close"
HANDOFF_TESTS="h_full_ecdsa h_full_rsa h_res13 h_bulk"
[ "$QUICK" = 1 ] && HANDOFF_TESTS="h_full_ecdsa h_bulk"
# SMTP STARTTLS rows, in quick mode too (four runs of DUR s, about 20 s).
SMTP_TESTS="smtp smtp_bulk"

# rotate N WORDS...: the words, starting with the (N mod count)-th
rotate() {
	local n=$1 i k
	shift
	local a=("$@")
	k=${#a[@]}
	for (( i = 0; i < k; i++ )); do
		printf '%s ' "${a[$(( (i + n) % k ))]}"
	done
}

# ------------------------------------------------------------ machine

say "machine: $NCPU CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
{
	printf '{"date": "%s", ' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '"mode": "%s", ' "$([ "$QUICK" = 1 ] && echo quick || echo full)"
	printf '"rounds": %s, "duration_s": %s, "concurrency": %s, "bulk_concurrency": %s, ' "$ROUNDS" "$DUR" "$CONC" "$BULK_CONC"
	printf '"nproc": %s, ' "$NCPU"
	printf '"cpu": "%s", ' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	printf '"kernel": "%s", ' "$(uname -r)"
	printf '"openssl": "%s", ' "$(openssl version)"
	printf '"loadavg_start": "%s", ' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '"nofile": %s, ' "$NOFILE"
	printf '"capacity": {"cap_max": %s, "settle_s": %s, "load_idle": %s, "load_stall": %s, ' \
	    "$CAP_MAX" "$CAP_SETTLE" "$LOAD_IDLE" "$LOAD_STALL"
	printf '"fresh_conc": %s, "cpu_concs": [%s], "rss_ns": [%s]}, ' \
	    "$FRESH_CONC" "$(echo $CPU_CONCS | tr ' ' ',')" "$(echo $RSS_NS | tr ' ' ',')"
	printf '"versions": {'
	printf '"tlsproxy": "%s"' "$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)"
	have stunnel4 && printf ', "stunnel": "%s"' "$(stunnel4 -version 2>&1 | grep -m1 '^stunnel' | cut -d' ' -f2)"
	have hitch && printf ', "hitch": "%s"' "$(hitch -V 2>&1 | head -1 | awk '{ print $NF }')"
	have haproxy && printf ', "haproxy": "%s"' "$(haproxy -v 2>&1 | head -1 | cut -d' ' -f3)"
	have nginx && printf ', "nginx": "%s"' "$(nginx -v 2>&1 | cut -d/ -f2)"
	have wrk && printf ', "wrk": "%s"' "$(wrk -v 2>&1 | head -1 | cut -d' ' -f2)"
	have postconf && printf ', "postfix": "%s"' "$(postconf -h mail_version 2>/dev/null)"
	printf '}}\n'
} >"$W/meta.json"

# ------------------------------------------------------------ the bound

# The bound runs once per round (pinned to CPU 0 when possible), so that it
# sees the same machine conditions as the round; the report takes medians.
BOUND_PIN=""
[ "$NCPU" -ge 2 ] && have taskset && BOUND_PIN="taskset -c 0"
NBOUND=0
run_bound() {
	$BOUND_PIN "$W/bin/bound" -e "$C/ec.pem" -E "$C/ec.key" -r "$C/rsa.pem" -R "$C/rsa.key" \
	    -t 0.5 -b 5 >"$W/bound-$NBOUND.json" 2>"$W/logs/bound.err" ||
		die "bound failed: $(cat "$W/logs/bound.err")"
	NBOUND=$(( NBOUND + 1 ))
}

# ------------------------------------------------------------ variants

for v in $VARIANTS; do
	tpin=""; lpin=""
	if [ "$v" = pinned ]; then tpin=0; lpin=1; fi
	say "variant $v: starting the backend and the contenders"
	start_backend "$lpin"
	SINK_PORT=""
	[ -n "$SMTP_TESTS" ] && start_smtpsink "$lpin"
	running="ours"
	start_ours "$tpin"
	for p in $PEERS; do
		if "start_$p" "$tpin"; then
			running="$running $p"
		else
			note "$p did not start ($(tail -2 "$W/logs/$p.out" | tr '\n' ' '))"
		fi
	done
	hrunning=""
	for p in $HANDOFF_PEERS; do
		if "start_$p" "$tpin"; then hrunning="$hrunning $p"; else note "Postfix tlsproxy skipped: $PF_NOTE"; fi
	done
	srunning=""
	if [ -n "${PSMTP[ours]:-}" ]; then
		srunning="ours"
		if ! have_peer stunnel; then
			[ "$v" = "${VARIANTS%% *}" ] && note "stunnel4 is not installed: SMTP row without a peer"
		elif start_stunnel_smtp "$tpin"; then
			srunning="$srunning stunnel"
		else
			note "stunnel (protocol = smtp) did not start ($(tail -2 "$W/logs/stunnel-smtp.out" | tr '\n' ' '))"
		fi
	fi
	for (( r = 0; r < ROUNDS; r++ )); do
		say "variant $v, round $(( r + 1 ))/$ROUNDS: $running"
		run_bound
		for t in $TCP_TESTS; do
			# shellcheck disable=SC2086
			for c in $(rotate "$r" $running); do
				run_test "$v" "$c" "$t" "$r"
			done
		done
		for t in $HANDOFF_TESTS; do
			# shellcheck disable=SC2086
			for c in $(rotate "$r" ours $hrunning); do
				run_test "$v" "$c" "$t" "$r"
			done
		done
		[ -n "$srunning" ] || continue
		say "variant $v, round $(( r + 1 ))/$ROUNDS: SMTP STARTTLS: $srunning"
		for t in $SMTP_TESTS; do
			# shellcheck disable=SC2086
			for c in $(rotate "$r" $srunning); do
				run_smtp "$v" "$c" "$t" "$r"
			done
		done
	done
	cleanup
	SINK_PORT=""
	PSMTP[ours]=""
	sleep 1
done

# ------------------------------------------------------------ capacity rows
#
# One round, every contender started once (pinned like the pinned variant
# when possible) and the tests alternating as above:
#   cpu      loadgen tls at CPU_CONCS connections in flight (full ECDSA
#            handshakes, one small request each): terminator CPU per
#            handshake;
#   loaded   fresh clients (FRESH_CONC in flight, full ECDSA) alone, then
#            beside LOAD_IDLE idle TLS sessions and LOAD_STALL stalled
#            handshakes (half a ClientHello, then nothing): p50/p99;
#   idle_max CAP_MAX idle TLS 1.3 sessions asked; after CAP_SETTLE s, a
#            sample of 20 must still answer a request, and the sessions the
#            terminator did not close are counted as held.

CAPF=$W/capacity.jsonl
: >"$CAPF"
REQ_KA='GET /small HTTP/1.1\r\nHost: bench.test\r\n\r\n'

# as_json TEXT: TEXT if it is a JSON object, else an error object
as_json() {
	case $1 in
	"{"*"}") printf '%s' "$1" ;;
	*) printf '{"error": "%s"}' "$(printf '%s' "$1" | tr -d '"\\\n' | cut -c1-200)" ;;
	esac
}
# forget_pid PID: no longer one of ours to stop at the end
forget_pid() {
	PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -v -x "$1" | tr '\n' ' ')
}
# wait_ready FILE PID SECONDS: until FILE has a READY line (0) or PID ended
wait_ready() {
	local i
	for i in $(seq $(( $3 * 10 ))); do
		grep -q '^READY' "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# hold_start NAME MODE C N [ARGS...]: a background idle/stall loadgen on
# contender C holding N sessions (pinned with HOLD_PIN); its pid in HELD
hold_start() {
	local name=$1 mode=$2 c=$3 n=$4
	shift 4
	# shellcheck disable=SC2086
	$HOLD_PIN "$LOADGEN" "$mode" -a "127.0.0.1:${PEC[$c]}" -N "$n" -C 64 \
	    -o $(( n / 50 + 30 )) -L "$c" "$@" >"$W/logs/$name.out" 2>&1 &
	HELD=$!
	PIDS="$PIDS $HELD"
	wait_ready "$W/logs/$name.out" "$HELD" $(( n / 50 + 90 ))
}
# hold_end NAME PID: stop a holder (not in a subshell: it waits for it);
# its JSON line in HELD_JSON
hold_end() {
	kill -TERM "$2" 2>/dev/null
	wait "$2" 2>/dev/null
	forget_pid "$2"
	HELD_JSON=$(as_json "$(grep '^{' "$W/logs/$1.out" | tail -1)")
}

cap_cpu() {	# C CONC
	local c=$1 n=$2 d=$DUR out
	# at least 5 s in the window at high concurrency: a session there
	# takes seconds
	[ "$n" -ge 1000 ] && [ "$d" -lt 5 ] && d=5
	out=$(timeout $(( d + 150 )) $CAP_LPIN "$LOADGEN" tls -a "127.0.0.1:${PEC[$c]}" \
	    -V 1.3 -r none -k ecdsa -C "$n" -d "$d" -t 1 -T 30 -q "$REQ_SMALL" \
	    -P "${ROOT[$c]}" -L "$c" 2>&1 | tail -1)
	printf '{"test": "cpu", "contender": "%s", "conc": %d, "result": %s}\n' \
	    "$c" "$n" "$(as_json "$out")" >>"$CAPF"
}

cap_fresh() {	# C: one fresh-client measurement, printed
	timeout $(( DUR + 60 )) $CAP_LPIN "$LOADGEN" tls -a "127.0.0.1:${PEC[$1]}" \
	    -V 1.3 -r none -k ecdsa -C "$FRESH_CONC" -d "$DUR" -t 1 -q "$REQ_SMALL" \
	    -P "${ROOT[$1]}" -L "$1" 2>&1 | tail -1
}

cap_loaded() {	# C
	local c=$1 base out idle stall hi hs ok=1 cpu0 cpu1 t0 t1
	base=$(cap_fresh "$c")
	hold_start "loaded-idle-$c" idle "$c" "$LOAD_IDLE" -k ecdsa -T 20 -d 900 || ok=0
	hi=$HELD
	hold_start "loaded-stall-$c" stall "$c" "$LOAD_STALL" -k ecdsa -d 900 || ok=0
	hs=$HELD
	[ "$ok" = 1 ] || note "loaded row, $c: the held sessions did not all open"
	# the terminator's CPU while it only holds them (should be about 0)
	t0=$(date +%s%N); cpu0=$("$LOADGEN" cpu "${ROOT[$c]}")
	sleep "$CAP_PAUSE"
	t1=$(date +%s%N); cpu1=$("$LOADGEN" cpu "${ROOT[$c]}")
	out=$(cap_fresh "$c")
	hold_end "loaded-idle-$c" "$hi"; idle=$HELD_JSON
	hold_end "loaded-stall-$c" "$hs"; stall=$HELD_JSON
	printf '{"test": "loaded", "contender": "%s", "idle_n": %d, "stall_n": %d, "hold_cpu_pct": %s, "idle": %s, "stall": %s, "base": %s, "result": %s}\n' \
	    "$c" "$LOAD_IDLE" "$LOAD_STALL" \
	    "$(( (cpu1 - cpu0) * 100000 / ((t1 - t0) / 1000 + 1) ))e-3" \
	    "$idle" "$stall" "$(as_json "$base")" "$(as_json "$out")" >>"$CAPF"
	sleep "$CAP_PAUSE"
}

# cap_idle_max C N LG BASE: most idle sessions held, run from the RSS
# section on a freshly started contender that already holds the N idle
# sessions of loadgen LG (started with a keep-alive request): CAP_MAX - N
# more, CAP_SETTLE s, then both loadgens check theirs (a sample answers
# the request, the rest is counted) and end.
cap_idle_max() {
	local c=$1 n=$2 lg=$3 base=$4 more=$(( CAP_MAX - $2 )) h="" rss first
	HELD_JSON='{}'
	if [ "$more" -gt 0 ]; then
		HOLD_PIN="" hold_start "idlemax-$c" idle "$c" "$more" -k ecdsa -T 10 -d 900 \
		    -q "$REQ_KA" || note "most idle sessions, $c: not all of the last $more opened"
		h=$HELD
	fi
	sleep "$CAP_SETTLE"
	rss=$("$LOADGEN" rss "${ROOT[$c]}")
	kill -TERM "$lg" 2>/dev/null
	wait "$lg" 2>/dev/null
	forget_pid "$lg"
	first=$(as_json "$(grep '^{' "$W/logs/idle-$c-$n.out" | tail -1)")
	[ -n "$h" ] && hold_end "idlemax-$c" "$h"
	printf '{"test": "idle_max", "contender": "%s", "asked": %d, "settle_s": %d, "rss_base_kib": %s, "rss_kib": %s, "first": %s, "result": %s}\n' \
	    "$c" "$CAP_MAX" "$CAP_SETTLE" "${base:-0}" "${rss:-0}" "$first" "$HELD_JSON" >>"$CAPF"
}

CAP_PIN=""
CAP_LPIN=""
case " $VARIANTS " in
*" pinned "*) CAP_PIN=0; CAP_LPIN="taskset -c 1" ;;
esac
HOLD_PIN=$CAP_LPIN
fits=$(( 2 * (LOAD_IDLE + LOAD_STALL) + 500 ))
if [ "$fits" -gt "$NOFILE" ]; then
	LOAD_IDLE=$(( (NOFILE - 500) * 5 / 14 )); LOAD_STALL=$(( (NOFILE - 500) / 7 ))
	note "descriptor limit $NOFILE: the loaded row holds $LOAD_IDLE idle and $LOAD_STALL stalled sessions"
fi
ccs=""
for n in $CPU_CONCS; do
	if [ $(( 2 * n + 500 )) -gt "$NOFILE" ]; then
		note "CPU per handshake at $n connections skipped: descriptor limit $NOFILE"
	else
		ccs="$ccs $n"
	fi
done
CPU_CONCS=$ccs
say "capacity rows: fresh handshakes beside $LOAD_IDLE idle + $LOAD_STALL stalled, CPU per handshake at$CPU_CONCS"
start_backend "${CAP_PIN:+1}"
SINK_PORT=""
running="ours"
start_ours "$CAP_PIN"
for p in $PEERS; do
	if "start_$p" "$CAP_PIN"; then
		running="$running $p"
	else
		note "$p did not start for the capacity rows ($(tail -2 "$W/logs/$p.out" | tr '\n' ' '))"
	fi
done
sleep 1
capline=$(grep -m1 -o 'capacity: [0-9]* sessions (fd limit [0-9]*)' "$W/logs/ours.out" 2>/dev/null)
[ -n "$capline" ] && printf '{"test": "ours_capacity", "contender": "ours", "log": "%s"}\n' "$capline" >>"$CAPF"
k=0
for n in $CPU_CONCS; do
	say "capacity rows: CPU per handshake, $n connections: $running"
	# shellcheck disable=SC2086
	for c in $(rotate "$k" $running); do
		# stunnel starts a thread per connection and manages about 100-250
		# full handshakes/s here: with hundreds in flight a session would
		# wait longer than the load generator's bounds.
		if [ "$c" = stunnel ] && [ "$n" -gt 200 ]; then
			[ "${STUNNEL_CPU_NOTED:-}" = 1 ] || note "stunnel4 is not in the CPU rows above 200 connections: at about 100-250 handshakes/s (a thread per connection) a session there would take 5-50 s"
			STUNNEL_CPU_NOTED=1
			continue
		fi
		cap_cpu "$c" "$n"
	done
	k=$(( k + 1 ))
done
# (most idle sessions held: in the RSS section below)
say "capacity rows: fresh handshakes beside held sessions: $running"
# shellcheck disable=SC2086
for c in $(rotate "$k" $running); do
	cap_loaded "$c"
done
cp "$W/logs/ours.out" "$W/logs/ours-capacity.out" 2>/dev/null
cleanup
sleep 1

# ------------------------------------------------------------ idle sessions: RSS

RSSF=$W/rss.jsonl
: >"$RSSF"
say "RSS per idle session (N = $RSS_NS), most idle sessions held (up to $CAP_MAX)"
# Each measurement uses a freshly started terminator, warmed up with the
# same session mix as before, so that no earlier peak (thread stacks,
# allocator caches, pools) hides in the baseline. Ours runs with its
# default pool (2 x CPUs + 2 workers): idle sessions hold no thread.
# After the largest N, the same terminator is asked for the rest of
# CAP_MAX (the "most idle sessions held" row).
rss_max=0
for n in $RSS_NS; do
	[ $(( 2 * n + 500 )) -le "$NOFILE" ] && [ "$n" -gt "$rss_max" ] && rss_max=$n
done
start_backend ""
for c in ours $PEERS; do
	for n in $RSS_NS; do
		# each process has its own limit; a proxy needs 2 per session
		if [ $(( 2 * n + 500 )) -gt "$NOFILE" ]; then
			note "RSS with $n sessions skipped: descriptor limit $NOFILE"
			continue
		fi
		if [ "$c" = ours ]; then
			start_ours "" || continue
		else
			"start_$c" "" || continue
		fi
		"$LOADGEN" tls -a "127.0.0.1:${PEC[$c]}" -k ecdsa -C "$CONC" -d 1 -q "$REQ_SMALL" >/dev/null 2>&1
		sleep 1
		base=$("$LOADGEN" rss "${ROOT[$c]}")
		timeout $(( n / 10 + 400 )) "$LOADGEN" idle -a "127.0.0.1:${PEC[$c]}" -k ecdsa -N "$n" \
		    -C 64 -o $(( n / 40 + 60 )) -d $(( n / 10 + 300 )) -q "$REQ_KA" \
		    >"$W/logs/idle-$c-$n.out" 2>&1 &
		lg=$!
		PIDS="$PIDS $lg"
		ok=0
		wait_ready "$W/logs/idle-$c-$n.out" "$lg" $(( n / 40 + 90 )) && ok=1
		opened=$(awk '/^READY/ { print $2 }' "$W/logs/idle-$c-$n.out")
		# Idle means idle: every contender gets the same 10 s to settle.
		sleep 10
		peak=$("$LOADGEN" rss "${ROOT[$c]}")
		[ "$c" = ours ] && cp "/proc/${ROOT[$c]}/smaps" "$W/logs/ours-smaps-$n.txt" 2>/dev/null
		[ "$n" = "$rss_max" ] && cap_idle_max "$c" "$n" "$lg" "$base"
		kill -TERM "$lg" 2>/dev/null
		wait "$lg" 2>/dev/null
		forget_pid "$lg"
		printf '{"contender": "%s", "n": %d, "opened": %s, "rss_base_kib": %s, "rss_kib": %s}\n' \
		    "$c" "$n" "${opened:-0}" "$base" "$peak" >>"$RSSF"
		[ "$ok" = 1 ] || note "idle sessions on $c (N=$n) did not all open"
		stop_pid "${ROOT[$c]}"
		PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -v -x "${ROOT[$c]}" | tr '\n' ' ')
		sleep 1
	done
done
cleanup

# ------------------------------------------------------------ report

printf '%s' "$NOTES" >"$W/notes.txt"
say "report"
mkdir -p "$OUT/results"
python3 "$BENCH/report.py" --meta "$W/meta.json" --bound "$W"/bound-*.json \
    --raw "$RAW" --rss "$RSSF" --capacity "$CAPF" --notes "$W/notes.txt" \
    --loadavg-end "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --json "$OUT/results/latest.json" --md "$OUT/RESULTS.md" ||
	die "report.py failed"
[ "$KEEP" = 1 ] && cp "$RAW" "$OUT/results/raw.jsonl" && cp "$CAPF" "$OUT/results/capacity.jsonl"
say "done in $(( $(date +%s) - T0 )) s: $OUT/RESULTS.md, $OUT/results/latest.json"
