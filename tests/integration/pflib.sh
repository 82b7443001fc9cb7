# Private Postfix instances for the integration tests; sourced after lib.sh.
#
# A test never touches the host's Postfix: not its configuration
# directory, not its queue, not its master. Each instance lives under the
# test's temp dir: its own main.cf and master.cf (every service
# unchrooted), queue, data directory and log file (maillog_file, through
# its own postlogd), and its own master started directly, on loopback
# ports only. The host's Postfix programs are used read-only (Debian's
# package: /usr/lib/postfix/sbin and /usr/sbin), or those of a private
# build (TP_PF_ROOT, see tp_pf_use_build).
#
#   tp_pf_need                  skip unless root and Postfix programs exist
#   tp_pf_init NAME             create instance NAME under $TP_TMP; sets
#                               PF_CONF, PF_QUEUE, PF_LOG, PF_SOCKDIR
#   tp_pf_conf 'k = v' ...      set this instance's main.cf parameters
#   tp_pf_service 'line' ...    append master.cf lines
#   tp_pf_start / tp_pf_stop    its master (stopped by the EXIT trap too)
#   tp_pf_reload                as a reload does: master re-reads main.cf and
#                               the old daemons of the instance exit
#   tp_pf_postscreen PORT       postscreen on 127.0.0.1:PORT, set up so that it
#                               hands STARTTLS to private/tlsproxy
#   tp_pf_postcat ID / tp_pf_queue_ids
#
# Only one instance per test is tracked for the EXIT trap; stop earlier
# ones with tp_pf_stop before starting another.

PF_DAEMON_DIR=${PF_DAEMON_DIR:-/usr/lib/postfix/sbin}
PF_COMMAND_DIR=${PF_COMMAND_DIR:-/usr/sbin}
PF_MASTER_PID=""

# tp_pf_need: the test needs root (master binds ports, sets owners) and
# the Postfix programs.
tp_pf_need() {
	[ "$(id -u)" = 0 ] || tp_skip "needs root (a private Postfix instance)"
	[ -x "$PF_DAEMON_DIR/master" ] || tp_skip "Postfix is not installed ($PF_DAEMON_DIR/master)"
	[ -x "$PF_COMMAND_DIR/postconf" ] || tp_skip "postconf is not installed"
	getent passwd postfix >/dev/null || tp_skip "no postfix user"
	getent group postdrop >/dev/null || tp_skip "no postdrop group"
}

# tp_pf_use_build ROOT: use the programs of a private source build
# (daemon_directory ROOT/libexec, command_directory ROOT/sbin).
tp_pf_use_build() {
	PF_DAEMON_DIR=$1/libexec
	PF_COMMAND_DIR=$1/sbin
}

pf_postconf() { "$PF_COMMAND_DIR/postconf" -c "$PF_CONF" "$@"; }

# tp_pf_init NAME: a stopped instance with a minimal configuration.
tp_pf_init() {
	local d=$TP_TMP/pf-$1 q
	PF_DIR=$d
	PF_CONF=$d/etc
	PF_QUEUE=$d/spool
	PF_DATA=$d/data
	PF_LOG=$d/maillog
	mkdir -p "$PF_CONF" "$PF_QUEUE" "$PF_DATA" || tp_hard_error "mkdir $d"
	chmod 755 "$d" "$PF_CONF" "$PF_QUEUE"
	chown postfix "$PF_DATA" && chmod 700 "$PF_DATA"
	for q in active bounce corrupt defer deferred flush hold incoming saved trace private; do
		mkdir -p "$PF_QUEUE/$q" && chown postfix "$PF_QUEUE/$q" && chmod 700 "$PF_QUEUE/$q"
	done
	mkdir -p "$PF_QUEUE/public" "$PF_QUEUE/maildrop" "$PF_QUEUE/pid"
	chown postfix:postdrop "$PF_QUEUE/public" "$PF_QUEUE/maildrop"
	chmod 710 "$PF_QUEUE/public"
	chmod 1730 "$PF_QUEUE/maildrop"
	chmod 755 "$PF_QUEUE/pid"
	PF_SOCKDIR=$PF_QUEUE/private
	: >"$PF_LOG"
	cat >"$PF_CONF/main.cf" <<EOF
# Private test instance: nothing here refers to the host's Postfix.
compatibility_level = 3.6
config_directory = $PF_CONF
queue_directory = $PF_QUEUE
data_directory = $PF_DATA
daemon_directory = $PF_DAEMON_DIR
command_directory = $PF_COMMAND_DIR
mail_owner = postfix
setgid_group = postdrop
myhostname = pf-$1.test.localdomain
mydomain = test.localdomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
local_recipient_maps =
biff = no
maillog_file = $PF_LOG
maillog_file_prefixes = $PF_DIR
smtpd_banner = \$myhostname ESMTP
message_size_limit = 0
mailbox_size_limit = 0
default_process_limit = 20
EOF
	cat >"$PF_CONF/master.cf" <<'EOF'
# service type  private unpriv  chroot  wakeup  maxproc command
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	tp_add_log "$PF_LOG"
	TP_CLEANUP_HOOK=tp_pf_cleanup
}

tp_pf_conf() {
	"$PF_COMMAND_DIR/postconf" -c "$PF_CONF" -e "$@" ||
		tp_hard_error "postconf could not set $* in $PF_CONF/main.cf"
}

tp_pf_service() {
	local l
	for l in "$@"; do
		printf '%s\n' "$l" >>"$PF_CONF/master.cf"
	done
}

# tp_pf_start: start this instance's master; wait until it runs.
tp_pf_start() {
	local pidf=$PF_QUEUE/pid/master.pid out=$PF_DIR/master.out
	# master -w detaches into its own process group and returns once
	# its initialization succeeded (or failed: non-zero).
	if ! "$PF_DAEMON_DIR/master" -c "$PF_CONF" -w >"$out" 2>&1; then
		tp_hard_error "Postfix master would not start: $(cat "$out"; tail -n 20 "$PF_LOG")"
	fi
	tp_wait_for 20 test -s "$pidf" || tp_hard_error "Postfix master wrote no pid file"
	PF_MASTER_PID=$(tr -dc 0-9 <"$pidf")
	tp_alive "$PF_MASTER_PID" || tp_hard_error "Postfix master $PF_MASTER_PID is not running"
}

# tp_pf_stop: stop the master and every process it started.
tp_pf_stop() {
	local kids p
	[ -n "$PF_MASTER_PID" ] || return 0
	kids=$(pgrep -P "$PF_MASTER_PID" 2>/dev/null)
	if tp_alive "$PF_MASTER_PID"; then
		kill -TERM "$PF_MASTER_PID" 2>/dev/null
		tp_wait_gone "$PF_MASTER_PID" 10 || kill -KILL "$PF_MASTER_PID" 2>/dev/null
	fi
	for p in $kids; do
		tp_wait_gone "$p" 5 || kill -KILL "$p" 2>/dev/null
	done
	PF_MASTER_PID=""
	return 0
}

# tp_pf_reload: SIGHUP to master; wait until it logged the reload and
# the processes that ran with the old settings (of PROGRAM, default
# every daemon of this instance) have gone.
tp_pf_reload() {
	local old n p
	# (Some daemons, postscreen among them, start sessions of their own:
	# master's children are found by parent, not by process group.)
	old=$(pgrep -P "$PF_MASTER_PID" ${1:+-x "$1"} 2>/dev/null)
	n=$(tp_log_count "$PF_LOG" "reload -- version")
	kill -HUP "$PF_MASTER_PID" || tp_fail "cannot signal the Postfix master"
	tp_wait_for 20 pf_log_above "reload -- version" "$n" || tp_fail "Postfix did not reload"
	for p in $old; do
		tp_wait_gone "$p" 20 || tp_fail "Postfix process $p did not exit after the reload"
	done
}
pf_log_above() { [ "$(tp_log_count "$PF_LOG" "$1")" -gt "$2" ]; }

tp_pf_cleanup() {
	tp_pf_stop
	[ -n "${TP_PF_EXTRA_CLEANUP:-}" ] && $TP_PF_EXTRA_CLEANUP
	return 0
}

# tp_pf_postscreen PORT: postscreen on 127.0.0.1:PORT that takes every
# client into its own SMTP engine (so STARTTLS goes to private/tlsproxy,
# see the integration recipe): no allowlisting of loopback, no cache, a
# deep protocol test, a 1 s greeting wait, no DNSBL.
tp_pf_postscreen() {
	tp_pf_conf 'tlsproxy_service_name = tlsproxy' \
	    'postscreen_access_list =' 'postscreen_cache_map =' \
	    'postscreen_greet_wait = 1s' 'postscreen_pipelining_enable = yes' \
	    'postscreen_dnsbl_sites ='
	tp_pf_service "127.0.0.1:$1 inet n - n - 1 postscreen" \
	    'smtpd pass - - n - - smtpd' 'dnsblog unix - - n - 0 dnsblog'
}

tp_pf_postcat() { "$PF_COMMAND_DIR/postcat" -c "$PF_CONF" "$@"; }

# tp_pf_queue_ids DIR: queue ids in one queue directory (hold, incoming...).
tp_pf_queue_ids() {
	find "$PF_QUEUE/$1" -type f -printf '%f\n' 2>/dev/null | sort
}
