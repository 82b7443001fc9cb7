#!/bin/bash
# Every TLS server and global parameter has an effect that a client can see.
#
# One daemon serves many TCP frontend listeners (and a few handoff
# sockets), each with its own per-listener settings; a table of rows
# "parameter | configuration | client | expectation" is run against them
# with openssl s_client and a small Python client (tls_probe.py), and the
# daemon's log is checked. Further rows start the daemon with a bad
# configuration and expect it to refuse (exit 1, naming the file or
# file:line). Every row runs in a subshell; a failed row is reported and
# the others still run. The table is printed as it runs and summed up at
# the end.
. "$(dirname "$0")/lib.sh"
tp_init
tp_gen_certs
T=$TP_TMP
PROBE=$TP_DIR/tls_probe.py
# The interpreter itself, not a wrapper script: the probe runs ~50 times.
PY3=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
[ -x "$PY3" ] || PY3=python3
mkdir -p "$T/out" "$T/capath"

# ================================================================ material
tp_say "generating a CA hierarchy, client certificates, chain files, DH parameters"

SERIAL=4096
# mk_key FILE rsa|ec
mk_key() {
	case $2 in
	rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" ;;
	ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" ;;
	esac >>"$T/gen.log" 2>&1 || tp_hard_error "openssl genpkey $2 failed: $(tail -3 "$T/gen.log")"
	chmod 600 "$1"
}

# mk_cert NAME CN ISSUER|self rsa|ec ca|leaf: $T/NAME.key and $T/NAME.pem
mk_cert() {
	local n=$1 cn=$2 iss=$3 kt=$4 kind=$5 ku=digitalSignature
	mk_key "$T/$n.key" "$kt"
	[ "$kt" = rsa ] && ku="digitalSignature,keyEncipherment"
	if [ "$kind" = ca ]; then
		printf '%s\n' "basicConstraints=critical,CA:true" \
		    "keyUsage=critical,keyCertSign,cRLSign" \
		    "subjectKeyIdentifier=hash" >"$T/$n.ext"
	else
		printf '%s\n' "basicConstraints=CA:false" "keyUsage=$ku" \
		    "extendedKeyUsage=serverAuth,clientAuth" \
		    "subjectAltName=DNS:$cn" "subjectKeyIdentifier=hash" >"$T/$n.ext"
	fi
	openssl req -new -key "$T/$n.key" -subj "/CN=$cn" -out "$T/$n.csr" >>"$T/gen.log" 2>&1 ||
		tp_hard_error "openssl req for $n failed"
	SERIAL=$((SERIAL + 1))
	if [ "$iss" = self ]; then
		openssl x509 -req -in "$T/$n.csr" -signkey "$T/$n.key" -days 30 \
		    -set_serial "$SERIAL" -extfile "$T/$n.ext" -out "$T/$n.pem" >>"$T/gen.log" 2>&1
	else
		openssl x509 -req -in "$T/$n.csr" -CA "$T/$iss.pem" -CAkey "$T/$iss.key" -days 30 \
		    -set_serial "$SERIAL" -extfile "$T/$n.ext" -out "$T/$n.pem" >>"$T/gen.log" 2>&1
	fi || tp_hard_error "openssl x509 for $n failed: $(tail -3 "$T/gen.log")"
}

ROOT_CN="TP Test Root CA"
INT_CN="TP Test Intermediate CA"
mk_cert root "$ROOT_CN" self rsa ca
mk_cert inter "$INT_CN" root ec ca
mk_cert leafr chain-rsa.test inter rsa leaf
mk_cert leafe chain-ec.test inter ec leaf
mk_cert snia a.test root ec leaf
mk_cert snib b.test root ec leaf
mk_cert cli1 client-root.test root ec leaf
mk_cert cli2 client-inter.test inter ec leaf
mk_cert cliself client-self.test self ec leaf
mk_key "$T/other.key" rsa
cat "$T/cli2.pem" "$T/inter.pem" >"$T/cli2-chain.pem"

# Chain files: key and certificate in either order, then the issuer.
cat "$T/leafr.key" "$T/leafr.pem" "$T/inter.pem" >"$T/chain-kf.pem"
cat "$T/leafr.pem" "$T/leafr.key" "$T/inter.pem" >"$T/chain-cf.pem"
cat "$T/leafr.key" "$T/leafr.pem" "$T/inter.pem" \
    "$T/leafe.key" "$T/leafe.pem" "$T/inter.pem" >"$T/chain-2kf.pem"
cat "$T/leafr.pem" "$T/leafr.key" "$T/inter.pem" \
    "$T/leafe.pem" "$T/leafe.key" "$T/inter.pem" >"$T/chain-2cf.pem"
cat "$T/snia.key" "$T/snia.pem" >"$T/sni-a.pem"
cat "$T/snib.pem" "$T/snib.key" >"$T/sni-b.pem"
chmod 600 "$T"/chain-*.pem "$T"/sni-?.pem
printf '# SNI name -> key and chain\nc.test %s\n' "$T/sni-a.pem" >"$T/sni.txt"

cp "$T/root.pem" "$T/capath/root.pem"
openssl rehash "$T/capath" >>"$T/gen.log" 2>&1 ||
	tp_hard_error "openssl rehash failed: $(tail -3 "$T/gen.log")"

openssl dhparam -dsaparam -out "$T/dh2048.pem" 2048 >>"$T/gen.log" 2>&1 ||
	tp_hard_error "openssl dhparam 2048 failed"
openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe3072 -out "$T/dh3072.pem" \
    >>"$T/gen.log" 2>&1 || tp_hard_error "openssl genpkey ffdhe3072 failed"
printf 'this is not a PEM file\n' >"$T/garbage.pem"

# DSA: OpenSSL builds may refuse; then the DSA rows are skipped.
HAVE_DSA=0
if openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 \
    -out "$T/dsa.param" >>"$T/gen.log" 2>&1 &&
    openssl genpkey -paramfile "$T/dsa.param" -out "$T/dsa.key" >>"$T/gen.log" 2>&1 &&
    openssl req -x509 -new -key "$T/dsa.key" -subj /CN=dsa.test -days 30 \
    -out "$T/dsa.pem" >>"$T/gen.log" 2>&1; then
	chmod 600 "$T/dsa.key"
	HAVE_DSA=1
fi

tp_say "material ready after ${SECONDS}s"

# ================================================================ listeners
# One line per listener: "id | settings of its tlsproxy_listeners entry".
# Ids starting with h_ are handoff sockets, the others TCP frontends to
# the echo server. "def" has no settings: it uses the global ones
# (RSA certificate, level may, loglevel 1). An implicit-TLS listener is
# Postfix's wrappermode, where the mandatory settings apply; the rows
# about the opportunistic ones (protocols, grades) therefore use SMTP
# STARTTLS listeners at level may in front of an SMTP sink: the ids in
# STLS_IDS, and those starting with s_.
STLS_IDS=" p_ge12 p_le12 p_no13 p_tls1 p_noold p_no12 ec13 c_high c_med c_low c_exp c_null c_null0 mx_may mc_may "
is_stls() { case " $STLS_IDS " in *" $1 "*) return 0 ;; esac; case $1 in s_*) return 0 ;; esac; return 1; }
LISTENERS=$(cat <<EOF
def      |
both     | tlsproxy_tls_eccert_file = "$T/ec.pem"; tlsproxy_tls_eckey_file = "$T/ec.key";
ec13     | tlsproxy_tls_cert_file = ""; tlsproxy_tls_key_file = ""; tlsproxy_tls_eccert_file = "$T/ec.pem"; tlsproxy_tls_eckey_file = "$T/ec.key"; tlsproxy_tls_protocols = ">=TLSv1.3";
p_ge12   | tlsproxy_tls_protocols = ">=TLSv1.2";
p_le12   | tlsproxy_tls_protocols = "<=TLSv1.2";
p_no13   | tlsproxy_tls_protocols = "!TLSv1.3";
p_tls1   | tlsproxy_tls_protocols = ">=TLSv1";
p_noold  | tlsproxy_tls_protocols = "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1";
p_no12   | tlsproxy_tls_protocols = "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1, !TLSv1.2";
mp_enc   | tlsproxy_tls_security_level = "encrypt"; tlsproxy_tls_mandatory_protocols = ">=TLSv1.3"; tlsproxy_tls_protocols = "<=TLSv1.2";
mp_may   | tlsproxy_tls_security_level = "may"; tlsproxy_tls_mandatory_protocols = ">=TLSv1.3"; tlsproxy_tls_protocols = "<=TLSv1.2";
s_mp_may | tlsproxy_tls_security_level = "may"; tlsproxy_tls_mandatory_protocols = ">=TLSv1.3"; tlsproxy_tls_protocols = "<=TLSv1.2";
c_high   | tlsproxy_tls_ciphers = "high"; tls_high_cipherlist = "ECDHE-RSA-AES256-GCM-SHA384"; tls_medium_cipherlist = "ECDHE-RSA-AES128-GCM-SHA256";
c_med    | tlsproxy_tls_ciphers = "medium"; tls_high_cipherlist = "ECDHE-RSA-AES256-GCM-SHA384"; tls_medium_cipherlist = "ECDHE-RSA-AES128-GCM-SHA256";
c_low    | tlsproxy_tls_ciphers = "low"; tls_low_cipherlist = "ECDHE-RSA-CHACHA20-POLY1305"; tls_medium_cipherlist = "ECDHE-RSA-AES128-GCM-SHA256";
c_exp    | tlsproxy_tls_ciphers = "export"; tls_export_cipherlist = "ECDHE-RSA-AES128-SHA256"; tls_low_cipherlist = "ECDHE-RSA-CHACHA20-POLY1305";
c_null   | tlsproxy_tls_ciphers = "null";
c_null0  | tlsproxy_tls_ciphers = "null"; tls_null_cipherlist = "eNULL:!aNULL:@SECLEVEL=0";
x_gcm    | tlsproxy_tls_exclude_ciphers = "AESGCM";
x_one    | tlsproxy_tls_exclude_ciphers = "ECDHE-RSA-AES256-GCM-SHA384";
mx_enc   | tlsproxy_tls_security_level = "encrypt"; tlsproxy_tls_mandatory_exclude_ciphers = "AESGCM"; tlsproxy_tls_exclude_ciphers = "CHACHA20";
mx_may   | tlsproxy_tls_mandatory_exclude_ciphers = "AESGCM"; tlsproxy_tls_exclude_ciphers = "CHACHA20";
mc_enc   | tlsproxy_tls_security_level = "encrypt"; tlsproxy_tls_mandatory_ciphers = "null"; tlsproxy_tls_ciphers = "high";
mc_may   | tlsproxy_tls_mandatory_ciphers = "null";
mc_enc2  | tlsproxy_tls_security_level = "encrypt"; tlsproxy_tls_ciphers = "null";
pre_yes  | tls_preempt_cipherlist = "yes";
pre_no   | tls_preempt_cipherlist = "no";
sid_no   | tlsproxy_tls_session_cache_timeout = 0; tlsproxy_tls_always_issue_session_ids = "no";
sid_yes  | tlsproxy_tls_session_cache_timeout = 0; tlsproxy_tls_always_issue_session_ids = "yes";
sid_cache| tlsproxy_tls_always_issue_session_ids = "no";
cv_384   | tls_eecdh_auto_curves = "secp384r1";
cv_x25519| tls_eecdh_auto_curves = "X25519";
cv_x448  | tls_eecdh_auto_curves = "bogus X448";
grade    | tlsproxy_tls_eecdh_grade = "strong";
dh3072   | tlsproxy_tls_dh1024_param_file = "$T/dh3072.pem";
dh512    | tlsproxy_tls_dh512_param_file = "$T/garbage.pem";
ch_kf    | tlsproxy_tls_cert_file = ""; tlsproxy_tls_key_file = ""; tlsproxy_tls_chain_files = "$T/chain-kf.pem";
ch_cf    | tlsproxy_tls_cert_file = ""; tlsproxy_tls_key_file = ""; tlsproxy_tls_chain_files = "$T/chain-cf.pem";
ch_2kf   | tlsproxy_tls_cert_file = ""; tlsproxy_tls_key_file = ""; tlsproxy_tls_chain_files = "$T/chain-2kf.pem";
ch_2cf   | tlsproxy_tls_cert_file = ""; tlsproxy_tls_key_file = ""; tlsproxy_tls_chain_files = "$T/chain-2cf.pem";
ask      | tlsproxy_tls_ask_ccert = "yes"; tlsproxy_tls_CAfile = "$T/root.pem";
req_enc  | tlsproxy_tls_security_level = "encrypt"; tlsproxy_tls_req_ccert = "yes"; tlsproxy_tls_CAfile = "$T/root.pem";
req_may  | tlsproxy_tls_req_ccert = "yes"; tlsproxy_tls_CAfile = "$T/root.pem";
s_req_may| tlsproxy_tls_req_ccert = "yes"; tlsproxy_tls_CAfile = "$T/root.pem";
dep0     | tlsproxy_tls_ask_ccert = "yes"; tlsproxy_tls_CAfile = "$T/root.pem"; tlsproxy_tls_ccert_verifydepth = 0;
dep0_req | tlsproxy_tls_security_level = "encrypt"; tlsproxy_tls_req_ccert = "yes"; tlsproxy_tls_CAfile = "$T/root.pem"; tlsproxy_tls_ccert_verifydepth = 0;
capath   | tlsproxy_tls_ask_ccert = "yes"; tlsproxy_tls_CApath = "$T/capath";
append   | tlsproxy_tls_ask_ccert = "yes"; tlsproxy_tls_CAfile = "$T/root.pem"; tls_append_default_CA = "yes";
fp_sha1  | tlsproxy_tls_ask_ccert = "yes"; tlsproxy_tls_CAfile = "$T/root.pem"; tlsproxy_tls_fingerprint_digest = "sha1";
fp_md5   | tlsproxy_tls_ask_ccert = "yes"; tlsproxy_tls_CAfile = "$T/root.pem"; tlsproxy_tls_fingerprint_digest = "md5";
sni_in   | tls_server_sni_maps = "inline:{ a.test = $T/sni-a.pem, .b.test = $T/sni-b.pem }";
sni_th   | tls_server_sni_maps = "texthash:$T/sni.txt";
ll0      | tlsproxy_tls_loglevel = "0";
ll2      | tlsproxy_tls_loglevel = "2";
ll3      | tlsproxy_tls_loglevel = "3";
ll4      | tlsproxy_tls_loglevel = "4";
misc     | tls_daemon_random_bytes = 512; tls_legacy_public_key_fingerprints = "yes"; tls_dane_digest_agility = "trust-only"; tls_dane_trust_anchor_digest_enable = "no"; tls_session_ticket_cipher = "aes-128-cbc"; tls_fast_shutdown_enable = "no"; tls_config_file = "none"; tls_config_name = "tlsproxy-test"; tls_eecdh_strong_curve = "secp384r1"; tls_eecdh_ultra_curve = "secp521r1"; tlsproxy_tls_ask_ccert = "yes";
wa       | tls_disable_workarounds = "CRYPTOPRO_TLSEXT_BUG, tlsext_padding, 0x00000004";
h_none   | tlsproxy_tls_security_level = "none";
h_empty  | tlsproxy_tls_security_level = ""; tlsproxy_use_tls = "no"; tlsproxy_enforce_tls = "no";
h_use    | tlsproxy_tls_security_level = ""; tlsproxy_use_tls = "yes"; tlsproxy_tls_protocols = "<=TLSv1.2"; tlsproxy_tls_mandatory_protocols = ">=TLSv1.3";
h_enf    | tlsproxy_tls_security_level = ""; tlsproxy_enforce_tls = "yes"; tlsproxy_tls_protocols = "<=TLSv1.2"; tlsproxy_tls_mandatory_protocols = ">=TLSv1.3";
h_over   | tlsproxy_tls_security_level = "may"; tlsproxy_enforce_tls = "yes"; tlsproxy_tls_protocols = "<=TLSv1.2"; tlsproxy_tls_mandatory_protocols = ">=TLSv1.3";
EOF
)
if [ "$HAVE_DSA" = 1 ]; then
	LISTENERS="$LISTENERS
dsa      | tlsproxy_tls_dcert_file = \"$T/dsa.pem\"; tlsproxy_tls_dkey_file = \"$T/dsa.key\"; tls_medium_cipherlist = \"aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH\";"
fi

declare -A LCONF LPORT
LIDS=()
while IFS='|' read -r id settings; do
	id=${id// /}
	[ -n "$id" ] || continue
	settings=${settings# }
	LIDS+=("$id")
	LCONF[$id]=$settings
done <<<"$LISTENERS"

tp_start_echo --listen tcp:127.0.0.1:0
ECHO_PORT=$(awk '$1 == "tcp" { print $3 }' "$T/echo.ready")
[ -n "$ECHO_PORT" ] || tp_hard_error "echo server port unknown"
SINK_PORT=$(tp_free_port)
tp_spawn "$T/sink.out" python3 "$TP_DIR/smtp_sink.py" "$SINK_PORT" "$T/sink.log"
tp_wait_for 10 tp_port_listening "$SINK_PORT" || tp_hard_error "the SMTP sink does not listen"

read -r -a PORTS <<<"$("$PY3" "$PROBE" free-ports "${#LIDS[@]}")"
[ "${#PORTS[@]}" = "${#LIDS[@]}" ] || tp_hard_error "could not get ${#LIDS[@]} free ports"

i=0
for id in "${LIDS[@]}"; do
	case $id in
	h_*) LPORT[$id]=$T/$id.sock ;;
	*) LPORT[$id]=${PORTS[$i]} ;;
	esac
	i=$((i + 1))
done

CONF=$T/tlsproxy.conf
{
	cat <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_loglevel = "1";
smtpd_tls_session_cache_database = "btree:$T/smtpd_scache";
tlsproxy_worker_threads = 16;
tlsproxy_queue_limit = 64;
tlsproxy_pid_file = "$T/tlsproxy.pid";
tlsproxy_drain_timeout = "3s";
syslog_name = "postfix";
openssl_path = "$(command -v openssl)";
tlsmgr_service_name = "tlsmgr-test";
tlsproxy_listeners = (
EOF
	sep=" "
	for id in "${LIDS[@]}"; do
		case $id in
		h_*)
			printf '%s { handoff = "%s"; mode = "0666"; %s }\n' "$sep" "${LPORT[$id]}" "${LCONF[$id]}"
			;;
		*)
			if is_stls "$id"; then
				printf '%s { listen = "127.0.0.1:%s"; backend = "127.0.0.1:%s"; starttls = "smtp"; handshake_timeout = "10s"; %s }\n' \
				    "$sep" "${LPORT[$id]}" "$SINK_PORT" "${LCONF[$id]}"
			else
				printf '%s { listen = "127.0.0.1:%s"; backend = "127.0.0.1:%s"; handshake_timeout = "10s"; %s }\n' \
				    "$sep" "${LPORT[$id]}" "$ECHO_PORT" "${LCONF[$id]}"
			fi
			;;
		esac
		sep=","
	done
	echo ");"
} >"$CONF"

# Start it and wait for "daemon started" (logged once every socket is
# open), then check all sockets in one pass: polling each of ~60
# listeners separately would take seconds.
LOG=$T/daemon.log
tp_start_daemon "$LOG" "$CONF"
D=$TP_DAEMON_PID
started() { ! tp_alive "$D" || tp_log_has "$LOG" "daemon started: "; }
tp_wait_for 20 started
tp_alive "$D" || tp_fail "the daemon exited at startup"
tp_log_has "$LOG" "daemon started: " || tp_fail "no 'daemon started' after $(tp_secs 20)s"
want=""
for id in "${LIDS[@]}"; do
	case $id in
	h_*) [ -S "${LPORT[$id]}" ] || tp_fail "no handoff socket ${LPORT[$id]}" ;;
	*) want="$want $(printf '%04X' "${LPORT[$id]}")" ;;
	esac
done
missing=$(awk -v want="$want" 'BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) need[w[i]] = 1 }
    $4 == "0A" { p = substr($2, length($2) - 3); delete need[p] }
    END { for (p in need) printf " %s", p }' /proc/net/tcp)
[ -z "$missing" ] || tp_fail "nothing listens on these ports (hex):$missing"
tp_say "daemon with ${#LIDS[@]} listeners up after ${SECONDS}s"

# ================================================================ helpers
# Checks run inside a row's subshell: each prints what it saw and returns
# non-zero, after a "FAIL:" line, when the expectation is not met.

note() { printf '    | %s\n' "$*"; }
bad() {
	printf '    FAIL: %s\n' "$*"
	return 1
}

# sc LID ARGS...: openssl s_client to a listener (stdin empty, so it
# quits after the handshake). Results: SC (output file), SC_RC,
# SC_PROTO/SC_CIPHER ("New, P, Cipher is C"), SC_CN, SC_KEY (Server Temp
# Key), SC_SID (first Session-ID).
SCN=0
# shellcheck disable=SC2034 # the results are read by the rows' checks
sc() {
	local lid=$1
	shift
	SCN=$((SCN + 1))
	SC=$T/out/row$ROW-sc$SCN.out
	local stls=()
	is_stls "$lid" && stls=(-starttls smtp)
	timeout -k 2 "$(tp_secs 15)" openssl s_client -connect "127.0.0.1:${LPORT[$lid]}" \
	    -nocommands "${stls[@]}" "$@" </dev/null >"$SC" 2>&1
	SC_RC=$?
	SC_PROTO=$(sed -n 's/^New, \([^,]*\), Cipher is .*$/\1/p' "$SC" | head -1)
	SC_CIPHER=$(sed -n 's/^New, [^,]*, Cipher is \(.*\)$/\1/p' "$SC" | head -1)
	SC_CN=$(sed -n 's/^subject=.*CN *= *\([^,/]*\).*$/\1/p' "$SC" | head -1)
	SC_KEY=$(sed -n 's/^Server Temp Key: //p' "$SC" | head -1)
	SC_SID=$(sed -n 's/^ *Session-ID: *//p' "$SC" | head -1)
	note "s_client [$lid]${stls:+ (STARTTLS)} $*: rc=$SC_RC ${SC_PROTO:-?} ${SC_CIPHER:-?}${SC_CN:+ CN=$SC_CN}${SC_KEY:+ (temp key $SC_KEY)}"
}

# sc_ok PROTO [CIPHER]: the last handshake worked with that protocol.
sc_ok() {
	[ "$SC_RC" = 0 ] && [ "$SC_PROTO" != "(NONE)" ] ||
		{ bad "handshake failed: $(grep -m 2 -E 'error|alert' "$SC")"; return 1; }
	[ "$SC_PROTO" = "$1" ] || { bad "protocol $SC_PROTO, expected $1"; return 1; }
	[ -z "${2:-}" ] || [ "$SC_CIPHER" = "$2" ] || { bad "cipher $SC_CIPHER, expected $2"; return 1; }
}
sc_fail() {
	if [ "$SC_RC" = 0 ] || [ "$SC_PROTO" != "(NONE)" ]; then
		bad "the handshake worked ($SC_PROTO $SC_CIPHER), expected a failure"
		return 1
	fi
	note "failed as expected: $(grep -m 1 -E 'error|alert' "$SC" | sed 's/^[0-9A-F]*:error:[0-9A-F]*://')"
}
sc_cn() { [ "$SC_CN" = "$1" ] || bad "certificate CN '$SC_CN', expected '$1'"; }
# sc_key ERE: the Server Temp Key line matches.
sc_key() { echo "$SC_KEY" | grep -q -E -- "$1" || bad "Server Temp Key '$SC_KEY', expected /$1/"; }
# sc_has STRING: a line of the last output contains STRING.
sc_has() { grep -q -F -- "$1" "$SC" || bad "s_client output lacks: $1"; }
sc_cipher_not() {
	if echo "$SC_CIPHER" | grep -q -E -- "$1"; then
		bad "cipher $SC_CIPHER matches /$1/"
		return 1
	fi
}

# py LID ARGS...: tls_probe.py connect to a TCP listener. Results: PY
# (output), PY_RC, EP (the client's [addr]:port), PY_PROTO, PY_CN.
PYN=0
py() {
	local lid=$1
	shift
	PYN=$((PYN + 1))
	PY=$T/out/row$ROW-py$PYN.out
	timeout -k 2 "$(tp_secs 30)" "$PY3" "$PROBE" connect "127.0.0.1:${LPORT[$lid]}" \
	    --timeout "$(tp_secs 10)" "$@" >"$PY" 2>&1
	PY_RC=$?
	EP=$(sed -n 's/^local=//p' "$PY" | head -1)
	PY_PROTO=$(sed -n 's/^handshake=ok protocol=\([^ ]*\).*$/\1/p' "$PY")
	PY_CN=$(sed -n 's/^handshake=ok .* cn=\(.*\)$/\1/p' "$PY")
	note "probe [$lid] $*: $(tr '\n' ' ' <"$PY")"
}
py_ok() {
	[ "$PY_RC" = 0 ] || { bad "the Python client failed: $(tail -1 "$PY")"; return 1; }
	grep -q '^echo=ok' "$PY" || { bad "no data was echoed"; return 1; }
	[ -z "${1:-}" ] || [ "$PY_PROTO" = "$1" ] || bad "protocol $PY_PROTO, expected $1"
}
# py_fail: no session: the handshake or the first read failed, and not a
# byte came back.
py_fail() {
	if [ "$PY_RC" = 0 ] || grep -q '^echo=ok' "$PY"; then
		bad "the session worked, expected a failure"
		return 1
	fi
	[ "$PY_RC" = 1 ] || { bad "probe exit status $PY_RC"; return 1; }
	note "failed as expected ($(tail -1 "$PY"))"
}
py_cn() { [ "$PY_CN" = "$1" ] || bad "certificate CN '$PY_CN', expected '$1'"; }

# lg STRING: the daemon log gets a line containing STRING (bounded wait).
lg() {
	if tp_wait_for 5 tp_log_has "$LOG" "$1"; then
		note "log: $(grep -F -m 1 -- "$1" "$LOG" | cut -d' ' -f5-)"
		return 0
	fi
	bad "the log has no line with: $1"
}
# lg_both A B: a log line contains both strings.
_log_both() { grep -F -- "$_A" "$LOG" | grep -q -F -- "$_B"; }
lg_both() {
	_A=$1 _B=$2
	if tp_wait_for 5 _log_both; then
		note "log: $(grep -F -- "$1" "$LOG" | grep -F -m 1 -- "$2" | cut -d' ' -f5-)"
		return 0
	fi
	bad "the log has no line with both '$1' and '$2'"
}
# lg_re FIXED ERE: a log line contains FIXED and matches ERE.
_log_re() { grep -F -- "$_A" "$LOG" | grep -q -E -- "$_B"; }
lg_re() {
	_A=$1 _B=$2
	if tp_wait_for 5 _log_re; then
		note "log: $(grep -F -- "$1" "$LOG" | grep -E -m 1 -- "$2" | cut -d' ' -f5-)"
		return 0
	fi
	bad "the log has no line with '$1' matching /$2/"
}
# lg_done: the session of $EP is over (DISCONNECT logged).
lg_done() {
	tp_wait_for 5 tp_log_msg "$LOG" "DISCONNECT $EP" || bad "no 'DISCONNECT $EP' in the log"
}
# lg_not STRING: after the session of $EP ended, no log line since its
# CONNECT contains STRING.
lg_not() {
	local from
	lg_done || return 1
	from=$(grep -n -F -- "CONNECT from $EP" "$LOG" | tail -1 | cut -d: -f1)
	if tail -n "+${from:-1}" "$LOG" | grep -q -F -- "$1"; then
		bad "the log unexpectedly has: $(tail -n "+${from:-1}" "$LOG" | grep -F -m 1 -- "$1")"
		return 1
	fi
	note "log has no: $1"
}

# fp_expect CERT DIGEST: FP and PFP (and LPFP, legacy) as the daemon
# should log them; the certificate fingerprint is openssl's.
# shellcheck disable=SC2034 # the results are read by the rows' checks
fp_expect() {
	local want
	FP=$(openssl x509 -in "$1" -noout -fingerprint "-$2" | sed 's/^.*=//')
	want=$("$PY3" "$PROBE" fingerprints "$1" "$2")
	PFP=$(echo "$want" | sed -n 's/^pkey_fingerprint=//p')
	LPFP=$(echo "$want" | sed -n 's/^legacy_pkey_fingerprint=//p')
	[ "$(echo "$want" | sed -n 's/^fingerprint=//p')" = "$FP" ] ||
		{ bad "fingerprint helper disagrees with openssl x509 -fingerprint"; return 1; }
	note "openssl x509 -fingerprint -$2: $FP"
}

# hc LID ARGS...: handoff_client.py against a handoff socket.
hc() {
	local lid=$1
	shift
	PYN=$((PYN + 1))
	HC=$T/out/row$ROW-hc$PYN.out
	tp_hc "$HC" --socket "${LPORT[$lid]}" "$@"
}

# run_daemon CONF: start the daemon, bounded; RUN_RC and RUN_OUT.
run_daemon() {
	RUN_OUT=$T/out/row$ROW-run.out
	timeout -k 2 "$(tp_secs 10)" "$TLSPROXY_BIN" -f -c "$1" </dev/null >"$RUN_OUT" 2>&1
	RUN_RC=$?
	sed 's/^/    | /' "$RUN_OUT" | head -8
}
# start_fail CONF STRING...: the daemon refuses to start (exit 1) and its
# output contains every STRING.
start_fail() {
	local conf=$1 s
	shift
	run_daemon "$conf"
	[ "$RUN_RC" = 1 ] || { bad "exit status $RUN_RC, expected 1"; return 1; }
	for s in "$@"; do
		grep -q -F -- "$s" "$RUN_OUT" || { bad "the error output lacks: $s"; return 1; }
	done
}

# errconf NAME LINE...: a configuration whose lines 3.. are LINE...,
# with one TCP listener; prints its path.
errconf() {
	local f=$T/err-$1.conf l
	shift
	{
		echo 'syslog_name = "postfix";'
		echo "tlsproxy_pid_file = \"$T/err.pid\";"
		for l in "$@"; do echo "$l"; done
		echo "tlsproxy_listeners = ( { listen = \"127.0.0.1:$ERR_PORT\"; backend = \"127.0.0.1:$ECHO_PORT\"; } );"
	} >"$f"
	echo "$f"
}
ERR_PORT=$(tp_free_port)
CERT_LINES=("smtpd_tls_cert_file = \"$T/rsa.pem\";" "smtpd_tls_key_file = \"$T/rsa.key\";")

# bad_typed NAME VALUE: NAME = VALUE at line 3 is refused as FILE:3.
bad_typed() {
	local f
	f=$(errconf "typed-$1" "$1 = $2;" 'smtpd_tls_security_level = "may";' "${CERT_LINES[@]}")
	start_fail "$f" "$f:3: " "$1"
}

_reloaded() { [ "$(tp_log_count "$LOG" "configuration reloaded")" -gt "$_N" ]; }
# hup_reload: SIGHUP, wait for one more "configuration reloaded".
hup_reload() {
	local n
	n=$(tp_log_count "$LOG" "configuration reloaded")
	kill -HUP "$D" || { bad "cannot signal the daemon"; return 1; }
	_N=$n
	tp_wait_for 10 _reloaded ||
		{ bad "no 'configuration reloaded' after SIGHUP"; return 1; }
	note "SIGHUP: configuration reloaded"
}

# side_daemon ID SETTINGS: a daemon of its own (for settings that may
# keep it from starting) with the global settings of the main one and
# one TCP listener; LPORT[ID] is its port and LOG its log. The row's
# EXIT trap stops it.
side_daemon() {
	local port f
	port=$(tp_free_port)
	f=$T/side-$1.conf
	sed -e "s|$T/tlsproxy.pid|$T/side-$1.pid|" -e '/^tlsproxy_listeners/,$d' "$CONF" >"$f"
	printf 'tlsproxy_listeners = ( { listen = "127.0.0.1:%s"; backend = "127.0.0.1:%s"; %s } );\n' \
	    "$port" "$ECHO_PORT" "$2" >>"$f"
	LOG=$T/out/side-$1.log
	"$TLSPROXY_BIN" -f -c "$f" >"$LOG" 2>&1 &
	SIDE_PID=$!
	LPORT[$1]=$port
	tp_wait_for 10 tp_daemon_ready_tcp "$SIDE_PID" "$port"
	if ! tp_alive "$SIDE_PID" || ! tp_port_listening "$port"; then
		sed 's/^/    | /' "$LOG" | tail -5
		bad "the daemon with [$1] $2 did not start"
		return 1
	fi
	note "own daemon pid $SIDE_PID for [$1] $2"
}
side_stop() {
	[ -n "${SIDE_PID:-}" ] || return 0
	tp_kill "$SIDE_PID"
	SIDE_PID=
}

# ================================================================ the table
# R PARAMETER CONFIG CLIENT EXPECTATION CHECKS: one row. CONFIG "@id" is
# the listener id (its settings are printed); CHECKS runs in a subshell.
R_PARAM=()
R_CONF=()
R_CLIENT=()
R_EXPECT=()
R_CMD=()
R() {
	R_PARAM+=("$1")
	R_CONF+=("$2")
	R_CLIENT+=("$3")
	R_EXPECT+=("$4")
	R_CMD+=("$5")
}

# ---------------------------------------------------------------- protocols
R tlsproxy_tls_protocols @p_ge12 's_client -tls1_2 ; -tls1_3 ; -tls1_1' \
    'TLSv1.2 ; TLSv1.3 ; fails' \
    'sc p_ge12 -tls1_2 && sc_ok TLSv1.2 && sc p_ge12 -tls1_3 && sc_ok TLSv1.3 &&
     sc p_ge12 -tls1_1 -cipher DEFAULT:@SECLEVEL=0 && sc_fail'
R tlsproxy_tls_protocols @p_le12 's_client -tls1_3 ; default ; -tls1_2' \
    'fails ; TLSv1.2 ; TLSv1.2' \
    'sc p_le12 -tls1_3 && sc_fail && sc p_le12 && sc_ok TLSv1.2 && sc p_le12 -tls1_2 && sc_ok TLSv1.2'
R tlsproxy_tls_protocols @p_no13 's_client -tls1_3 ; default' 'fails ; TLSv1.2' \
    'sc p_no13 -tls1_3 && sc_fail && sc p_no13 && sc_ok TLSv1.2'
R 'tlsproxy_tls_protocols (control)' @p_tls1 's_client -tls1 -cipher DEFAULT:@SECLEVEL=0' \
    'TLSv1.0 works when allowed (the server is at OpenSSL security level 0, as Postfix)' \
    'sc p_tls1 -tls1 -cipher DEFAULT:@SECLEVEL=0 && sc_ok TLSv1.0'
R tlsproxy_tls_protocols @p_noold 's_client -tls1 / -tls1_1 (@SECLEVEL=0) ; -tls1_2 ; -tls1_3' \
    'fails ; fails ; TLSv1.2 ; TLSv1.3' \
    'sc p_noold -tls1 -cipher DEFAULT:@SECLEVEL=0 && sc_fail &&
     sc p_noold -tls1_1 -cipher DEFAULT:@SECLEVEL=0 && sc_fail &&
     sc p_noold -tls1_2 && sc_ok TLSv1.2 && sc p_noold -tls1_3 && sc_ok TLSv1.3'
R tlsproxy_tls_protocols @p_no12 's_client -tls1_2 ; -tls1_3' 'fails ; TLSv1.3' \
    'sc p_no12 -tls1_2 && sc_fail && sc p_no12 -tls1_3 && sc_ok TLSv1.3'
R tlsproxy_tls_mandatory_protocols @mp_enc 's_client -tls1_2 ; -tls1_3' \
    'fails (mandatory >=TLSv1.3 applies with encrypt) ; TLSv1.3 (tls_protocols <=TLSv1.2 does not)' \
    'sc mp_enc -tls1_2 && sc_fail && sc mp_enc -tls1_3 && sc_ok TLSv1.3'
R tlsproxy_tls_mandatory_protocols @s_mp_may 'STARTTLS: s_client -tls1_3 ; -tls1_2' \
    'fails (tls_protocols <=TLSv1.2 applies with may) ; TLSv1.2 (mandatory does not)' \
    'sc s_mp_may -tls1_3 && sc_fail && sc s_mp_may -tls1_2 && sc_ok TLSv1.2'
R 'implicit TLS is wrappermode: mandatory protocols at may' @mp_may 's_client -tls1_2 ; -tls1_3' \
    'fails (mandatory >=TLSv1.3 applies, as in Postfix wrappermode) ; TLSv1.3' \
    'sc mp_may -tls1_2 && sc_fail && sc mp_may -tls1_3 && sc_ok TLSv1.3'

# ---------------------------------------------------------------- ciphers
R 'tlsproxy_tls_ciphers + tls_high_cipherlist' @c_high \
    's_client -tls1_2 ; -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 ; -tls1_3' \
    'ECDHE-RSA-AES256-GCM-SHA384 ; fails ; TLS_AES_256_GCM_SHA384' \
    'sc c_high -tls1_2 && sc_ok TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384 &&
     sc c_high -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 && sc_fail &&
     sc c_high -tls1_3 && sc_ok TLSv1.3 TLS_AES_256_GCM_SHA384'
R 'tlsproxy_tls_ciphers + tls_medium_cipherlist' @c_med \
    's_client -tls1_2 ; -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384' \
    'ECDHE-RSA-AES128-GCM-SHA256 (forced) ; fails' \
    'sc c_med -tls1_2 && sc_ok TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 &&
     sc c_med -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384 && sc_fail'
R 'tlsproxy_tls_ciphers + tls_low_cipherlist' @c_low 's_client -tls1_2' 'ECDHE-RSA-CHACHA20-POLY1305 (forced)' \
    'sc c_low -tls1_2 && sc_ok TLSv1.2 ECDHE-RSA-CHACHA20-POLY1305'
R 'tlsproxy_tls_ciphers + tls_export_cipherlist' @c_exp 's_client -tls1_2' 'ECDHE-RSA-AES128-SHA256 (forced)' \
    'sc c_exp -tls1_2 && sc_ok TLSv1.2 ECDHE-RSA-AES128-SHA256'
R 'TLS 1.3 suites are not affected' @c_high \
    's_client -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 ; TLS_CHACHA20_POLY1305_SHA256' \
    'each suite negotiated' \
    'sc c_high -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 && sc_ok TLSv1.3 TLS_AES_128_GCM_SHA256 &&
     sc c_high -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 && sc_ok TLSv1.3 TLS_CHACHA20_POLY1305_SHA256'
R 'tlsproxy_tls_ciphers = null' @c_null 's_client -tls1_2 (AES suites) ; -tls1_3' \
    'fails (only eNULL ciphers for TLS 1.2) ; TLSv1.3' \
    'sc c_null -tls1_2 && sc_fail && sc c_null -tls1_3 && sc_ok TLSv1.3'
R 'tlsproxy_tls_ciphers = null + tls_null_cipherlist' @c_null0 \
    's_client -tls1_2 -cipher NULL-SHA256:@SECLEVEL=0' 'NULL-SHA256' \
    'sc c_null0 -tls1_2 -cipher NULL-SHA256:@SECLEVEL=0 && sc_ok TLSv1.2 NULL-SHA256'
R 'OpenSSL security level 0, as Postfix: anonymous suites offered' @def \
    's_client -tls1_2 -cipher aNULL:@SECLEVEL=0 ; -tls1 -cipher DEFAULT:@SECLEVEL=0' \
    'an ADH/AECDH suite, no certificate ; TLSv1.0 (default protocols >=TLSv1)' \
    'sc def -tls1_2 -cipher "aNULL:@SECLEVEL=0" && sc_ok TLSv1.2 &&
     { echo "$SC_CIPHER" | grep -q -E "^(ADH|AECDH)-" || bad "cipher $SC_CIPHER is not anonymous"; } &&
     sc def -tls1 -cipher "DEFAULT:@SECLEVEL=0" && sc_ok TLSv1.0'
R 'no anonymous suites when a client certificate is asked for' @ask \
    's_client -tls1_2 -cipher aNULL:@SECLEVEL=0' 'fails (aNULL excluded, as in Postfix)' \
    'sc ask -tls1_2 -cipher "aNULL:@SECLEVEL=0" && sc_fail'
R 'tlsproxy_tls_ciphers = medium (default)' @def \
    's_client -tls1_2 -cipher NULL-SHA256:@SECLEVEL=0 ; -tls1_2' 'fails ; ECDHE-RSA-AES256-GCM-SHA384' \
    'sc def -tls1_2 -cipher NULL-SHA256:@SECLEVEL=0 && sc_fail &&
     sc def -tls1_2 && sc_ok TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384'
R tlsproxy_tls_exclude_ciphers @x_gcm \
    's_client -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 ; -tls1_2' 'fails ; a cipher without GCM' \
    'sc x_gcm -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 && sc_fail &&
     sc x_gcm -tls1_2 && sc_ok TLSv1.2 && sc_cipher_not GCM'
R tlsproxy_tls_exclude_ciphers @x_one \
    's_client -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384 ; -tls1_2' 'fails ; another cipher' \
    'sc x_one -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384 && sc_fail &&
     sc x_one -tls1_2 && sc_ok TLSv1.2 && sc_cipher_not "^ECDHE-RSA-AES256-GCM-SHA384$"'
R tlsproxy_tls_mandatory_exclude_ciphers @mx_enc \
    's_client -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 ; -cipher ECDHE-RSA-CHACHA20-POLY1305 ; -tls1_2' \
    'fails (mandatory exclusion) ; fails (exclude_ciphers applies too) ; neither GCM nor CHACHA20' \
    'sc mx_enc -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 && sc_fail &&
     sc mx_enc -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305 && sc_fail &&
     sc mx_enc -tls1_2 && sc_ok TLSv1.2 && sc_cipher_not "GCM|CHACHA"'
R tlsproxy_tls_mandatory_exclude_ciphers @mx_may \
    's_client -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 ; -cipher ECDHE-RSA-CHACHA20-POLY1305' \
    'ECDHE-RSA-AES128-GCM-SHA256 (not applied with may) ; fails (exclude_ciphers)' \
    'sc mx_may -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 && sc_ok TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 &&
     sc mx_may -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305 && sc_fail'
R tlsproxy_tls_mandatory_ciphers @mc_enc 's_client -tls1_2 ; -tls1_3' \
    'fails (mandatory grade null applies with encrypt) ; TLSv1.3' \
    'sc mc_enc -tls1_2 && sc_fail && sc mc_enc -tls1_3 && sc_ok TLSv1.3'
R tlsproxy_tls_mandatory_ciphers @mc_may 's_client -tls1_2' \
    'ECDHE-RSA-AES256-GCM-SHA384 (mandatory grade not applied with may)' \
    'sc mc_may -tls1_2 && sc_ok TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384'
R 'tlsproxy_tls_ciphers with encrypt' @mc_enc2 's_client -tls1_2' \
    'ECDHE-RSA-AES256-GCM-SHA384 (the opportunistic grade null is not applied)' \
    'sc mc_enc2 -tls1_2 && sc_ok TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384'

# ---------------------------------------------------------------- preference
PREF='ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384'
R tls_preempt_cipherlist @pre_yes "s_client -tls1_2 -cipher $PREF" \
    'ECDHE-RSA-AES256-GCM-SHA384 (server order)' \
    'sc pre_yes -tls1_2 -cipher "$PREF" && sc_ok TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384'
R tls_preempt_cipherlist @pre_no "s_client -tls1_2 -cipher $PREF" \
    'ECDHE-RSA-AES128-GCM-SHA256 (client order)' \
    'sc pre_no -tls1_2 -cipher "$PREF" && sc_ok TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256'

# ---------------------------------------------------------------- session ids
R tlsproxy_tls_always_issue_session_ids @sid_no 's_client -tls1_2 -no_ticket' 'Session-ID: empty' \
    'sc sid_no -tls1_2 -no_ticket && sc_ok TLSv1.2 && note "Session-ID: [$SC_SID]" &&
     { [ -z "$SC_SID" ] || bad "Session-ID is $SC_SID, expected empty"; }'
R tlsproxy_tls_always_issue_session_ids @sid_yes 's_client -tls1_2 -no_ticket' 'Session-ID: 64 hex digits' \
    'sc sid_yes -tls1_2 -no_ticket && sc_ok TLSv1.2 && note "Session-ID: [$SC_SID]" &&
     { echo "$SC_SID" | grep -q -E "^[0-9A-F]{64}$" || bad "Session-ID [$SC_SID] is not 32 bytes"; }'
R 'tlsproxy_tls_always_issue_session_ids (session cache on)' @sid_cache 's_client -tls1_2 -no_ticket' \
    'Session-ID: 64 hex digits (as in Postfix, a session cache always issues ids)' \
    'sc sid_cache -tls1_2 -no_ticket && sc_ok TLSv1.2 && note "Session-ID: [$SC_SID]" &&
     { echo "$SC_SID" | grep -q -E "^[0-9A-F]{64}$" || bad "Session-ID [$SC_SID] is not 32 bytes"; }'

# ---------------------------------------------------------------- groups
R tls_eecdh_auto_curves @cv_384 's_client (TLS 1.3) ; -tls1_2' \
    'Server Temp Key: ECDH, secp384r1 ; the same' \
    'sc cv_384 && sc_ok TLSv1.3 && sc_key "^ECDH, (secp384r1|P-384)" &&
     sc cv_384 -tls1_2 && sc_ok TLSv1.2 && sc_key "^ECDH, (secp384r1|P-384)"'
R tls_eecdh_auto_curves @cv_x25519 's_client ; -groups P-256' 'X25519 ; fails (no common group)' \
    'sc cv_x25519 && sc_ok TLSv1.3 && sc_key "^X25519" && sc cv_x25519 -groups P-256 && sc_fail'
R tls_eecdh_auto_curves @cv_x448 's_client' 'X448 (the unknown name is skipped)' \
    'sc cv_x448 && sc_ok TLSv1.3 && sc_key "^X448"'
R tlsproxy_tls_eecdh_grade @grade 'startup log ; s_client' '"... is ignored" logged ; X25519' \
    'lg "tlsproxy_tls_eecdh_grade = strong is ignored" && sc grade && sc_ok TLSv1.3 && sc_key "^X25519"'

# ---------------------------------------------------------------- DH
DHE='DHE-RSA-AES128-GCM-SHA256'
R tlsproxy_tls_dh1024_param_file "own daemon: tlsproxy_tls_dh1024_param_file = dh2048.pem (openssl dhparam -dsaparam 2048)" \
    "start the daemon; s_client -tls1_2 -cipher $DHE" 'it starts; Server Temp Key: DH, 2048 bits' \
    'side_daemon dh2048 "tlsproxy_tls_dh1024_param_file = \"$T/dh2048.pem\";" &&
     sc dh2048 -tls1_2 -cipher $DHE && sc_ok TLSv1.2 $DHE && sc_key "^DH, 2048 bits"'
R tlsproxy_tls_dh1024_param_file @dh3072 "s_client -tls1_2 -cipher $DHE ; the same to [def]" \
    'Server Temp Key: DH, 3072 bits (ffdhe3072 file) ; DH, 2048 bits (no file: OpenSSL picks by key size)' \
    'sc dh3072 -tls1_2 -cipher $DHE && sc_ok TLSv1.2 $DHE && sc_key "^DH, 3072 bits" &&
     sc def -tls1_2 -cipher $DHE && sc_ok TLSv1.2 $DHE && sc_key "^DH, 2048 bits"'
R tlsproxy_tls_dh1024_param_file "a file without DH parameters" 'start the daemon' \
    'exit 1, the file is named' \
    'start_fail "$(errconf dh "${CERT_LINES[@]}" "smtpd_tls_security_level = \"may\";" "tlsproxy_tls_dh1024_param_file = \"$T/garbage.pem\";")" "$T/garbage.pem" "$T/err-dh.conf:6: tlsproxy_tls_dh1024_param_file: "'
R tlsproxy_tls_dh512_param_file @dh512 'Python client' 'accepted and ignored: a session works' \
    'py dh512 && py_ok'

# ---------------------------------------------------------------- certificates
R 'tlsproxy_tls_cert_file + tlsproxy_tls_eccert_file' @both \
    's_client -sigalgs ECDSA+SHA256 ; -sigalgs RSA-PSS+SHA256:RSA+SHA256' 'the EC certificate ; the RSA certificate' \
    'sc both -sigalgs ECDSA+SHA256 && sc_ok TLSv1.3 && sc_cn "$TP_EC_CN" && sc_has "Peer signature type: ECDSA" &&
     sc both -sigalgs RSA-PSS+SHA256:RSA+SHA256 && sc_ok TLSv1.3 && sc_cn "$TP_RSA_CN"'
chain_checks() { # LID CN: the leaf, the intermediate at depth 1, verified with the root only
	sc_ok TLSv1.3 && sc_cn "$2" && sc_has " 1 s:CN = $INT_CN" &&
	    sc_has "Verify return code: 0 (ok)"
}
R tlsproxy_tls_chain_files @ch_kf "s_client -showcerts -CAfile root.pem" \
    'leaf + intermediate (depth 1), verified with the root only' \
    'sc ch_kf -showcerts -CAfile "$T/root.pem" && chain_checks ch_kf chain-rsa.test'
R 'tlsproxy_tls_chain_files (cert, then key)' @ch_cf "s_client -showcerts -CAfile root.pem" \
    'leaf + intermediate, verified' \
    'sc ch_cf -showcerts -CAfile "$T/root.pem" && chain_checks ch_cf chain-rsa.test'
R 'tlsproxy_tls_chain_files (RSA + EC, key first)' @ch_2kf \
    's_client -showcerts -CAfile root.pem -sigalgs ECDSA+SHA256 ; -sigalgs RSA-PSS+SHA256:RSA+SHA256' \
    'EC leaf + intermediate ; RSA leaf + intermediate, both verified' \
    'sc ch_2kf -showcerts -CAfile "$T/root.pem" -sigalgs ECDSA+SHA256 && chain_checks ch_2kf chain-ec.test &&
     sc ch_2kf -showcerts -CAfile "$T/root.pem" -sigalgs RSA-PSS+SHA256:RSA+SHA256 && chain_checks ch_2kf chain-rsa.test'
R 'tlsproxy_tls_chain_files (RSA + EC, cert first)' @ch_2cf \
    's_client -showcerts -CAfile root.pem -sigalgs ECDSA+SHA256 ; -sigalgs RSA-PSS+SHA256:RSA+SHA256' \
    'EC leaf + intermediate ; RSA leaf + intermediate, both verified' \
    'sc ch_2cf -showcerts -CAfile "$T/root.pem" -sigalgs ECDSA+SHA256 && chain_checks ch_2cf chain-ec.test &&
     sc ch_2cf -showcerts -CAfile "$T/root.pem" -sigalgs RSA-PSS+SHA256:RSA+SHA256 && chain_checks ch_2cf chain-rsa.test'
R 'tlsproxy_tls_key_file (does not match)' 'cert_file rsa.pem, key_file other.key' 'start the daemon' \
    'exit 1, the key file is named' \
    'start_fail "$(errconf mismatch "smtpd_tls_security_level = \"may\";" "smtpd_tls_cert_file = \"$T/rsa.pem\";" "smtpd_tls_key_file = \"$T/other.key\";")" "$T/other.key" "match" \
         "$T/err-mismatch.conf:5: smtpd_tls_key_file (through tlsproxy_tls_key_file): "'
R 'tlsproxy_tls_key_file (missing)' 'key_file = a file that does not exist' 'start the daemon' \
    'exit 1, the key file is named' \
    'start_fail "$(errconf missing "smtpd_tls_security_level = \"may\";" "smtpd_tls_cert_file = \"$T/rsa.pem\";" "smtpd_tls_key_file = \"$T/no-such.key\";")" "$T/no-such.key" \
         "$T/err-missing.conf:5: smtpd_tls_key_file (through tlsproxy_tls_key_file): cannot read RSA private key file $T/no-such.key: No such file or directory"'
R 'tlsproxy_tls_cert_file (missing)' 'cert_file = a file that does not exist' 'start the daemon' \
    'exit 1: FILE:LINE: the parameter, the file and the system error' \
    'start_fail "$(errconf nocert "smtpd_tls_security_level = \"may\";" "smtpd_tls_cert_file = \"$T/no-such.pem\";" "smtpd_tls_key_file = \"$T/rsa.key\";")" \
         "$T/err-nocert.conf:4: smtpd_tls_cert_file (through tlsproxy_tls_cert_file): cannot read RSA certificate file $T/no-such.pem: No such file or directory"'
R 'tlsproxy_tls_key_file (mode 644)' 'key_file readable by everyone' 'start the daemon' \
    'exit 1, "readable by everyone", the file is named' \
    'cp "$T/rsa.key" "$T/open.key" && chmod 644 "$T/open.key" &&
     start_fail "$(errconf open "smtpd_tls_security_level = \"may\";" "smtpd_tls_cert_file = \"$T/rsa.pem\";" "smtpd_tls_key_file = \"$T/open.key\";")" "$T/open.key" "readable by everyone"'
R 'tlsproxy_tls_chain_files (mode 644)' 'chain file readable by everyone' 'start the daemon' \
    'exit 1, "readable by everyone", the file is named' \
    'cp "$T/chain-kf.pem" "$T/open-chain.pem" && chmod 644 "$T/open-chain.pem" &&
     start_fail "$(errconf openchain "smtpd_tls_security_level = \"may\";" "smtpd_tls_chain_files = \"$T/open-chain.pem\";")" "$T/open-chain.pem" "readable by everyone" \
         "$T/err-openchain.conf:4: smtpd_tls_chain_files (through tlsproxy_tls_chain_files): "'
if [ "$HAVE_DSA" = 1 ]; then
	R 'tlsproxy_tls_dcert_file + tlsproxy_tls_dkey_file' @dsa \
	    'startup log ; s_client -tls1_2 -sigalgs DSA+SHA256 -cipher DHE-DSS-AES256-GCM-SHA384 ; default' \
	    '"TLS 1.3 cannot use DSA keys" ; the DSA certificate ; TLSv1.3 with the RSA one' \
	    'lg_both "TLS 1.3 cannot use DSA keys" "$T/dsa.pem" &&
	     sc dsa -tls1_2 -sigalgs DSA+SHA256 -cipher DHE-DSS-AES256-GCM-SHA384 && sc_ok TLSv1.2 DHE-DSS-AES256-GCM-SHA384 &&
	     sc_cn dsa.test && sc_has "Peer signature type: DSA" && sc dsa && sc_ok TLSv1.3 && sc_cn "$TP_RSA_CN"'
else
	R 'tlsproxy_tls_dcert_file + tlsproxy_tls_dkey_file' 'DSA key and certificate' '-' \
	    'SKIPPED: openssl could not make a DSA 2048 key here' 'exit 77'
fi

# ---------------------------------------------------------------- client certificates
R tlsproxy_tls_ask_ccert @ask 's_client (no certificate)' \
    '"Acceptable client certificate CA names" lists the CA' \
    'sc ask && sc_ok TLSv1.3 && sc_has "Acceptable client certificate CA names" && sc_has "CN = $ROOT_CN"'
R tlsproxy_tls_ask_ccert @ask 'probe with a certificate issued by the CA' \
    'Trusted; subject_CN, issuer, SHA256 fingerprint and pkey fingerprint logged' \
    'fp_expect "$T/cli1.pem" sha256 && py ask --cert "$T/cli1.pem" --key "$T/cli1.key" && py_ok &&
     lg "Trusted TLS connection established from $EP: TLSv1.3" &&
     lg "$EP: subject_CN=client-root.test, issuer=$ROOT_CN, fingerprint=$FP, pkey_fingerprint=$PFP"'
R tlsproxy_tls_ask_ccert @ask 'probe with a certificate from the intermediate (+ chain)' 'Trusted' \
    'py ask --cert "$T/cli2-chain.pem" --key "$T/cli2.key" && py_ok &&
     lg "Trusted TLS connection established from $EP:" && lg "$EP: subject_CN=client-inter.test, issuer=$INT_CN, "'
R tlsproxy_tls_ask_ccert @ask 'probe with a self-signed certificate' 'Untrusted' \
    'py ask --cert "$T/cliself.pem" --key "$T/cliself.key" && py_ok &&
     lg "Untrusted TLS connection established from $EP:" && lg "$EP: subject_CN=client-self.test, issuer=client-self.test, "'
R tlsproxy_tls_ask_ccert @ask 'probe without a certificate' 'Anonymous' \
    'py ask && py_ok && lg "Anonymous TLS connection established from $EP:"'
R tlsproxy_tls_req_ccert @req_enc 'probe without a certificate' \
    'fails (at the first read with TLS 1.3), "TLS handshake failed" logged, nothing relayed' \
    'py req_enc && py_fail && lg "TLS handshake failed for service=127.0.0.1:${LPORT[req_enc]} peer=$EP" &&
     lg_not "TLS connection established from $EP:"'
R tlsproxy_tls_req_ccert @req_enc 'probe --tls-max TLSv1.2 without a certificate' \
    'the handshake itself fails, "TLS handshake failed" logged' \
    'py req_enc --tls-max TLSv1.2 && py_fail && { grep -q "^handshake=failed" "$PY" || bad "the TLS 1.2 handshake did not fail"; } &&
     lg "TLS handshake failed for service=127.0.0.1:${LPORT[req_enc]} peer=$EP"'
R tlsproxy_tls_req_ccert @req_enc 'probe with a self-signed certificate' 'fails, "TLS handshake failed" logged' \
    'py req_enc --cert "$T/cliself.pem" --key "$T/cliself.key" && py_fail &&
     lg "TLS handshake failed for service=127.0.0.1:${LPORT[req_enc]} peer=$EP" &&
     lg_not "TLS connection established from $EP:"'
R tlsproxy_tls_req_ccert @req_enc 'probe with a certificate issued by the CA' 'Trusted, data relayed' \
    'py req_enc --cert "$T/cli1.pem" --key "$T/cli1.key" && py_ok && lg "Trusted TLS connection established from $EP:"'
R 'implicit TLS is wrappermode: req_ccert applies at may' @req_may 'probe --tls-max TLSv1.2 without a certificate' \
    'the handshake fails, "TLS handshake failed" logged (as in Postfix wrappermode)' \
    'py req_may --tls-max TLSv1.2 && py_fail && { grep -q "^handshake=failed" "$PY" || bad "the TLS 1.2 handshake did not fail"; } &&
     lg "TLS handshake failed for service=127.0.0.1:${LPORT[req_may]} peer=$EP"'
R tlsproxy_tls_req_ccert @s_req_may 'STARTTLS: s_client -tls1_2 without a certificate' \
    'TLSv1.2 (no effect with may)' \
    'sc s_req_may -tls1_2 && sc_ok TLSv1.2'
R tlsproxy_tls_ccert_verifydepth @dep0 'probe with a certificate from the intermediate (+ chain)' \
    'Untrusted (depth 0)' \
    'py dep0 --cert "$T/cli2-chain.pem" --key "$T/cli2.key" && py_ok &&
     lg "Untrusted TLS connection established from $EP:"'
R tlsproxy_tls_ccert_verifydepth @dep0_req 'probe with a certificate from the intermediate (+ chain)' \
    'fails (depth 0 with req_ccert)' \
    'py dep0_req --cert "$T/cli2-chain.pem" --key "$T/cli2.key" && py_fail &&
     lg "TLS handshake failed for service=127.0.0.1:${LPORT[dep0_req]} peer=$EP"'
R tlsproxy_tls_CApath @capath 'probe with a certificate issued by the CA ; self-signed' 'Trusted ; Untrusted' \
    'py capath --cert "$T/cli1.pem" --key "$T/cli1.key" && py_ok && lg "Trusted TLS connection established from $EP:" &&
     py capath --cert "$T/cliself.pem" --key "$T/cliself.key" && py_ok && lg "Untrusted TLS connection established from $EP:"'
R tls_append_default_CA @append 'probe with a certificate issued by the CA ; self-signed' \
    'accepted: Trusted ; Untrusted' \
    'py append --cert "$T/cli1.pem" --key "$T/cli1.key" && py_ok && lg "Trusted TLS connection established from $EP:" &&
     py append --cert "$T/cliself.pem" --key "$T/cliself.key" && py_ok && lg "Untrusted TLS connection established from $EP:"'
R tlsproxy_tls_fingerprint_digest @fp_sha1 'probe with a certificate issued by the CA' \
    'SHA1 fingerprint and pkey fingerprint logged' \
    'fp_expect "$T/cli1.pem" sha1 && py fp_sha1 --cert "$T/cli1.pem" --key "$T/cli1.key" && py_ok &&
     lg "$EP: subject_CN=client-root.test, issuer=$ROOT_CN, fingerprint=$FP, pkey_fingerprint=$PFP"'
R tlsproxy_tls_fingerprint_digest @fp_md5 'probe with a certificate issued by the CA' \
    'MD5 fingerprint and pkey fingerprint logged' \
    'fp_expect "$T/cli1.pem" md5 && py fp_md5 --cert "$T/cli1.pem" --key "$T/cli1.key" && py_ok &&
     lg "$EP: subject_CN=client-root.test, issuer=$ROOT_CN, fingerprint=$FP, pkey_fingerprint=$PFP"'
R tls_legacy_public_key_fingerprints @misc 'probe with a certificate issued by the CA' \
    'pkey_fingerprint is the digest of the public key bits only' \
    'fp_expect "$T/cli1.pem" sha256 && py misc --cert "$T/cli1.pem" --key "$T/cli1.key" && py_ok &&
     lg "$EP: subject_CN=client-root.test, issuer=$ROOT_CN, fingerprint=$FP, pkey_fingerprint=$LPFP"'

# ---------------------------------------------------------------- SNI
R 'tls_server_sni_maps (inline)' @sni_in \
    's_client -servername a.test ; x.b.test ; unknown.test ; none' \
    'a.test ; b.test (parent domain .b.test) ; default ; default' \
    'sc sni_in -servername a.test && sc_ok TLSv1.3 && sc_cn a.test &&
     sc sni_in -servername x.b.test && sc_ok TLSv1.3 && sc_cn b.test &&
     sc sni_in -servername unknown.test && sc_ok TLSv1.3 && sc_cn "$TP_RSA_CN" &&
     sc sni_in && sc_ok TLSv1.3 && sc_cn "$TP_RSA_CN"'
R 'tls_server_sni_maps (inline)' @sni_in 'probe --servername a.test ; unknown.test' \
    '"TLS connection established from EP to a.test:" ; "TLS SNI unknown.test from EP not matched, using default chain"' \
    'py sni_in --servername a.test && py_ok && py_cn a.test &&
     lg "Anonymous TLS connection established from $EP to a.test: TLSv1.3" &&
     py sni_in --servername unknown.test && py_ok && py_cn "$TP_RSA_CN" &&
     lg "TLS SNI unknown.test from $EP not matched, using default chain" &&
     lg "Anonymous TLS connection established from $EP: TLSv1.3"'
R 'tls_server_sni_maps (texthash)' @sni_th 'probe --servername c.test ; unknown.test' \
    'a.test (c.test -> sni-a.pem) ; default, "not matched" logged' \
    'py sni_th --servername c.test && py_ok && py_cn a.test && lg "TLS connection established from $EP to c.test:" &&
     py sni_th --servername unknown.test && py_ok && py_cn "$TP_RSA_CN" &&
     lg "TLS SNI unknown.test from $EP not matched, using default chain"'

# ---------------------------------------------------------------- levels
R 'tlsproxy_tls_security_level = none' @h_none 'handoff request (handoff_client.py)' \
    'status=0; startup warning' \
    'lg_both "warning: TLS server role is disabled with tlsproxy_tls_security_level or tlsproxy_use_tls" "$T/h_none.sock" &&
     hc h_none --mode expect-status0 --max-wait "$(tp_secs 5)"'
R 'level "" + tlsproxy_use_tls = no' @h_empty 'handoff request' 'status=0; startup warning' \
    'lg_both "warning: TLS server role is disabled with tlsproxy_tls_security_level or tlsproxy_use_tls" "$T/h_empty.sock" &&
     hc h_empty --mode expect-status0 --max-wait "$(tp_secs 5)"'
R tlsproxy_use_tls @h_use 'handoff request, default client' \
    'status=1, TLSv1.2 (tls_protocols <=TLSv1.2, not the mandatory ones)' \
    'hc h_use --bytes 4096 --expect-protocol TLSv1.2'
R tlsproxy_enforce_tls @h_enf 'handoff request, default client ; --tls-max TLSv1.2' \
    'TLSv1.3 ; handshake fails (mandatory >=TLSv1.3)' \
    'hc h_enf --bytes 4096 --expect-protocol TLSv1.3 &&
     hc h_enf --mode handshake-fail --tls-max TLSv1.2 --timeout1 10'
R 'tlsproxy_tls_security_level overrides enforce_tls' @h_over 'handoff request, --tls-max TLSv1.2' \
    'TLSv1.2 (level may: tls_protocols apply)' \
    'hc h_over --bytes 4096 --tls-max TLSv1.2 --expect-protocol TLSv1.2'
R 'tlsproxy_tls_security_level = none (TCP)' 'a TCP listener with level none' 'start the daemon' \
    'exit 1: a TCP frontend needs TLS' \
    'start_fail "$(errconf none "smtpd_tls_security_level = \"none\";" "${CERT_LINES[@]}")" "TCP frontend needs TLS"'
R 'tlsproxy_tls_security_level = encrypt' @mp_enc 'probe (TLS 1.3)' 'data relayed' \
    'py mp_enc && py_ok TLSv1.3'

# ---------------------------------------------------------------- log levels
R 'tlsproxy_tls_loglevel = 0' @ll0 'probe' 'CONNECT/DISCONNECT, no "established" line' \
    'py ll0 && py_ok && lg "CONNECT from $EP" && lg_not "TLS connection established from $EP"'
R 'tlsproxy_tls_loglevel = 1' @def 'probe' 'the summary line, no SSL_accept lines' \
    'py def && py_ok && lg "Anonymous TLS connection established from $EP: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" &&
     lg_not "$EP: SSL_accept:"'
R 'tlsproxy_tls_loglevel = 2' @ll2 'probe' '"EP: SSL_accept:..." state lines, no hex dump' \
    'py ll2 && py_ok && lg "$EP: SSL_accept:" && lg "TLS connection established from $EP:" && lg_not "$EP: 0000 "'
R 'tlsproxy_tls_loglevel = 3' @ll3 'probe' 'hex dump lines "EP: 0000 xx xx ..." of the handshake' \
    'py ll3 && py_ok && lg "$EP: SSL_accept:" && lg_re "$EP: 0000 " ": 0000 [0-9a-f]{2}[ |]"'
R 'tlsproxy_tls_loglevel = 3 (raw records, as Postfix)' @ll3 'probe' \
    'the dump shows the record bytes as sent: a line "EP: 0000 16 03 ..."' \
    'py ll3 && py_ok && lg "$EP: 0000 16 03 "'
R 'tlsproxy_tls_loglevel = 4' @ll4 'probe' 'record header lines too: "0000 16 03 ..."' \
    'py ll4 && py_ok && lg "$EP: received header record type 256" && lg "$EP: 0000 16 03 "'

# ---------------------------------------------------------------- accepted
R 'tls_daemon_random_bytes, tls_dane_*, tls_session_ticket_cipher, tls_fast_shutdown_enable, tls_config_file/name, tls_eecdh_strong/ultra_curve (per listener); openssl_path, tlsmgr_service_name (global)' \
    @misc 'probe' 'accepted: a session works' 'py misc && py_ok TLSv1.3'
R tls_disable_workarounds @wa 's_client -tls1_2 ; probe' 'names and 0x masks accepted: sessions work' \
    'sc wa -tls1_2 && sc_ok TLSv1.2 && py wa && py_ok'
R tls_disable_workarounds 'tls_disable_workarounds = "NO_SUCH_BUG"' 'start the daemon' 'exit 1, the name is reported' \
    'start_fail "$(errconf wa "tls_disable_workarounds = \"NO_SUCH_BUG\";" "smtpd_tls_security_level = \"may\";" "${CERT_LINES[@]}")" "$T/err-wa.conf:3: tls_disable_workarounds: unknown workaround \"NO_SUCH_BUG\""'
R tls_disable_workarounds 'tls_disable_workarounds = "0xZZ"' 'start the daemon' 'exit 1, the mask is reported' \
    'start_fail "$(errconf wamask "tls_disable_workarounds = \"0xZZ\";" "smtpd_tls_security_level = \"may\";" "${CERT_LINES[@]}")" "$T/err-wamask.conf:3: tls_disable_workarounds: bad bit mask \"0xZZ\""'
R tlsproxy_tls_protocols 'tlsproxy_tls_protocols = "TLSv9"' 'start the daemon' 'exit 1, the name is reported' \
    'start_fail "$(errconf proto "tlsproxy_tls_protocols = \"TLSv9\";" "smtpd_tls_security_level = \"may\";" "${CERT_LINES[@]}")" "$T/err-proto.conf:3: tlsproxy_tls_protocols: unknown TLS protocol \"TLSv9\""'
R tlsproxy_tls_mandatory_protocols 'smtpd_tls_mandatory_protocols = ">=TLSv9", used through $name' 'start the daemon' \
    'exit 1: both lines, the one that sets the bad text first' \
    'start_fail "$(errconf thru "smtpd_tls_mandatory_protocols = \">=TLSv9\";" "tlsproxy_tls_mandatory_protocols = \"\$smtpd_tls_mandatory_protocols\";" "smtpd_tls_security_level = \"may\";" "${CERT_LINES[@]}")" \
         "$T/err-thru.conf:3: smtpd_tls_mandatory_protocols (through tlsproxy_tls_mandatory_protocols at line 4): unknown TLS protocol \"TLSv9\""'
R tls_medium_cipherlist 'tls_medium_cipherlist = "NONSENSE"' 'start the daemon' 'exit 1: FILE:LINE: the parameter, the reason from OpenSSL' \
    'start_fail "$(errconf ciphers "tls_medium_cipherlist = \"NONSENSE\";" "smtpd_tls_security_level = \"may\";" "${CERT_LINES[@]}")" \
         "$T/err-ciphers.conf:3: tls_medium_cipherlist: invalid cipher list \"NONSENSE"'
R tls_eecdh_auto_curves 'tls_eecdh_auto_curves = "bogus1 bogus2"' 'start the daemon' \
    'exit 1: no supported group' \
    'start_fail "$(errconf curves "tls_eecdh_auto_curves = \"bogus1 bogus2\";" "smtpd_tls_security_level = \"may\";" "${CERT_LINES[@]}")" "$T/err-curves.conf:3: tls_eecdh_auto_curves: no supported group in \"bogus1 bogus2\""'

# ---------------------------------------------------------------- per listener
R 'per-listener settings' '@ec13 (and def: global RSA, TLS 1.2 allowed)' \
    's_client to ec13: default ; -tls1_2; to def: -tls1_2' \
    'ec13: EC certificate, TLSv1.3 ; fails; def: RSA certificate, TLSv1.2' \
    'sc ec13 && sc_ok TLSv1.3 && sc_cn "$TP_EC_CN" && sc_has "Peer signature type: ECDSA" &&
     sc ec13 -tls1_2 && sc_fail && sc def -tls1_2 && sc_ok TLSv1.2 && sc_cn "$TP_RSA_CN"'

# ---------------------------------------------------------------- bad typed values
for spec in \
    'tlsproxy_tls_security_level|"sometimes"' \
    'tlsproxy_tls_ciphers|"strong"' \
    'tlsproxy_tls_mandatory_ciphers|"ultra"' \
    'tlsproxy_tls_eecdh_grade|"extreme"' \
    'tlsproxy_tls_fingerprint_digest|"sha3"' \
    'tlsproxy_tls_loglevel|"5"' \
    'tlsproxy_tls_ccert_verifydepth|101' \
    'tlsproxy_tls_ccert_verifydepth|"deep"' \
    'tlsproxy_tls_ask_ccert|"maybe"' \
    'tlsproxy_tls_req_ccert|"maybe"' \
    'tlsproxy_tls_always_issue_session_ids|"often"' \
    'tlsproxy_use_tls|"perhaps"' \
    'tlsproxy_enforce_tls|"perhaps"' \
    'tls_append_default_CA|"maybe"' \
    'tls_preempt_cipherlist|"maybe"' \
    'tls_legacy_public_key_fingerprints|"maybe"' \
    'tls_dane_trust_anchor_digest_enable|"maybe"' \
    'tls_fast_shutdown_enable|"maybe"' \
    'tls_dane_digest_agility|"sometimes"' \
    'tls_daemon_random_bytes|0' \
    'tls_daemon_random_bytes|2048' \
    'tls_daemon_random_bytes|"lots"'; do
	name=${spec%%|*}
	value=${spec#*|}
	R "$name" "$name = $value;" "start the daemon with $name = $value" 'exit 1, FILE:3: names the parameter' \
	    "bad_typed $name '$value'"
done
R 'per-listener bad value' 'entry: tlsproxy_tls_loglevel = "7";' 'start the daemon' \
    'exit 1, FILE:LINE: tlsproxy_listeners entry 1: parameter ...' \
    'f=$T/err-entry.conf &&
     printf "%s\n" "smtpd_tls_security_level = \"may\";" "${CERT_LINES[@]}" "tlsproxy_pid_file = \"$T/err.pid\";" \
         "tlsproxy_listeners = (" "  { listen = \"127.0.0.1:$ERR_PORT\"; backend = \"127.0.0.1:$ECHO_PORT\";" \
         "    tlsproxy_tls_loglevel = \"7\"; }" ");" >"$f" &&
     start_fail "$f" "$f:7: tlsproxy_listeners entry 1: parameter" "tlsproxy_tls_loglevel"'

# ---------------------------------------------------------------- -n
R 'tlsproxy -n' 'smtpd_tls_protocols = ">=TLSv1.2"; entry: tlsproxy_tls_protocols = "<=TLSv1.2"' \
    'tlsproxy -n' 'the global value and the override inside its entry are printed' \
    'f=$T/n.conf &&
     printf "%s\n" "smtpd_tls_protocols = \">=TLSv1.2\";" "tlsproxy_listeners = (" \
         "  { listen = \"127.0.0.1:$ERR_PORT\"; backend = \"127.0.0.1:$ECHO_PORT\"; tlsproxy_tls_protocols = \"<=TLSv1.2\"; }" \
         ");" >"$f" &&
     timeout -k 2 10 "$TLSPROXY_BIN" -n -c "$f" >"$T/out/n.out" 2>&1 && sed "s/^/    | /" "$T/out/n.out" &&
     { grep -q -x -F "smtpd_tls_protocols = \">=TLSv1.2\";" "$T/out/n.out" || bad "no line: smtpd_tls_protocols = \">=TLSv1.2\";"; } &&
     { grep -F "listen = \"127.0.0.1:$ERR_PORT\"" "$T/out/n.out" | grep -q -F "tlsproxy_tls_protocols = \"<=TLSv1.2\";" ||
         bad "the entry does not show tlsproxy_tls_protocols = \"<=TLSv1.2\""; } &&
     { ! grep -q "^tlsproxy_tls_protocols" "$T/out/n.out" || bad "tlsproxy_tls_protocols printed globally"; }'

# ---------------------------------------------------------------- reload (last: it reloads the daemon)
R 'tls_server_sni_maps (texthash) + SIGHUP' @sni_th 'edit the file (c.test -> sni-b.pem), SIGHUP, probe c.test' \
    'b.test' \
    'printf "c.test %s\n" "$T/sni-b.pem" >"$T/sni.txt" && hup_reload &&
     py sni_th --servername c.test && py_ok && py_cn b.test && lg "TLS connection established from $EP to c.test:"'

# ================================================================ run
NROWS=${#R_PARAM[@]}
conf_text() {
	case $1 in
	@*)
		local id=${1#@} rest=
		case $id in *" "*) rest=" ${id#* }"; id=${id%% *} ;; esac
		printf '[%s]%s %s' "$id" "$rest" "${LCONF[$id]:-(global settings)}"
		;;
	*) printf '%s' "$1" ;;
	esac
}

tp_say "the parameter -> test table ($NROWS rows)"
printf '%s\n' "row | parameter | configuration | client | expectation"
for ((ROW = 1; ROW <= NROWS; ROW++)); do
	i=$((ROW - 1))
	printf '%3d | %s | %s | %s | %s\n' "$ROW" "${R_PARAM[$i]}" "$(conf_text "${R_CONF[$i]}")" \
	    "${R_CLIENT[$i]}" "${R_EXPECT[$i]}"
done

RESULT=()
NFAIL=0
NSKIP=0
START=$SECONDS
for ((ROW = 1; ROW <= NROWS; ROW++)); do
	i=$((ROW - 1))
	printf '\n%s: [%d] %s\n' "$TP_NAME" "$ROW" "${R_PARAM[$i]}"
	printf '    config: %s\n    client: %s\n    expect: %s\n' "$(conf_text "${R_CONF[$i]}")" \
	    "${R_CLIENT[$i]}" "${R_EXPECT[$i]}"
	t0=${EPOCHREALTIME/[.,]/}
	(
		trap side_stop EXIT
		eval "${R_CMD[$i]}"
	)
	rc=$?
	ms=$(( (${EPOCHREALTIME/[.,]/} - t0) / 1000 ))
	if [ "$rc" = 0 ]; then
		RESULT+=(pass)
		printf '    -> pass (%d ms)\n' "$ms"
	elif [ "$rc" = 77 ]; then
		RESULT+=(skip)
		NSKIP=$((NSKIP + 1))
		printf '    -> skipped\n'
	else
		RESULT+=(FAIL)
		NFAIL=$((NFAIL + 1))
		printf '    -> FAIL (%d ms); the last daemon log lines:\n' "$ms"
		tail -n 6 "$LOG" | sed 's/^/      # /'
	fi
	if ! tp_alive "$D"; then
		tp_fail "the daemon died during row $ROW"
	fi
done

tp_check "the daemon stops cleanly"
tp_stop_daemon "$D" "$LOG"

printf '\n%s: summary (%d rows, %d s)\n' "$TP_NAME" "$NROWS" "$((SECONDS - START))"
for ((ROW = 1; ROW <= NROWS; ROW++)); do
	i=$((ROW - 1))
	printf '  %-4s %3d  %s | %s | %s\n' "${RESULT[$i]}" "$ROW" "${R_PARAM[$i]}" \
	    "${R_CLIENT[$i]}" "${R_EXPECT[$i]}"
done
if [ "$NFAIL" -gt 0 ]; then
	tp_say "FAIL: $NFAIL of $NROWS rows failed ($NSKIP skipped)"
	exit 1
fi
tp_say "PASS ($NSKIP rows skipped)"
exit 0
