#!/bin/sh
# Proof that the test suite leaves the host's own Postfix alone: every
# Postfix test runs a private instance under its own temporary directory
# (tests/integration/pflib.sh), so neither the system configuration in
# /etc/postfix nor the running system master(8) may change while
# "make check" runs.
#
#   tests/host-safety.sh record DIR   start the system Postfix if it is not
#                                     running, then note its master's pid and
#                                     a checksum of every file in /etc/postfix
#                                     (state kept in DIR, an existing directory)
#   tests/host-safety.sh verify DIR   compare with what "record" noted: exit 0
#                                     and "=== system Postfix untouched", or
#                                     exit 1 with the differences
#   tests/host-safety.sh finish DIR   stop the system Postfix if "record"
#                                     started it (else leave it running)
#
# Needs root (postfix start/status) and Debian's postfix package. .ci/run
# wraps the whole suite in record and verify; to check by hand:
#
#   d=$(mktemp -d); tests/host-safety.sh record "$d"
#   (cd build && make check TESTS=tests/integration/t_postfix.sh)
#   tests/host-safety.sh verify "$d"; tests/host-safety.sh finish "$d"
set -eu

PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export PATH
# The system instance: no MAIL_CONFIG from the caller's environment.
unset MAIL_CONFIG
CONF_DIR=/etc/postfix
NAME=host-safety

say() { printf '%s\n' "$*"; }
die() { printf '%s: error: %s\n' "$NAME" "$*" >&2; exit 1; }
usage() { printf 'usage: %s record|verify|finish DIR\n' "$0" >&2; exit 2; }

[ $# = 2 ] || usage
cmd=$1
S=$2
[ -d "$S" ] || die "state directory $S does not exist (make one with mktemp -d)"

# master_pid: the pid in the system master's pid file, or nothing.
master_pid() {
	_q=$(postconf -h queue_directory 2>/dev/null) || return 0
	[ -r "$_q/pid/master.pid" ] || return 0
	tr -dc 0-9 <"$_q/pid/master.pid"
}

# started_at PID: the process's start time (clock ticks after boot, field
# 22 of /proc/PID/stat), so that a new process that got the same pid does
# not pass for the old one; nothing when PID does not run.
started_at() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 0
	sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f20
}

# running_master: the system Postfix runs; its master's pid is in $MPID.
running_master() {
	MPID=$(master_pid)
	postfix status >/dev/null 2>&1 && [ -n "$MPID" ] && kill -0 "$MPID" 2>/dev/null
}

# snapshot OUT: every file's checksum, and every entry's type, mode, owner
# and link target, under /etc/postfix.
snapshot() {
	find "$CONF_DIR" -type f -exec sha256sum {} + | sort >"$1.sha256"
	find "$CONF_DIR" -printf '%y %m %u:%g %p -> %l\n' | sort >"$1.meta"
}

# wait_for SECONDS CMD...: poll CMD every half second, bounded.
wait_for() {
	_n=$(( $1 * 2 ))
	shift
	while [ "$_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.5
		_n=$(( _n - 1 ))
	done
	"$@"
}

# shellcheck disable=SC2317  # called through wait_for
master_gone() { ! kill -0 "$1" 2>/dev/null; }

case $cmd in
record)
	[ "$(id -u)" = 0 ] || die "needs root (postfix start, postfix status)"
	command -v postfix >/dev/null 2>&1 ||
		die "Postfix is not installed (./dev.sh deps installs Debian's postfix package)"
	[ -d "$CONF_DIR" ] || die "no $CONF_DIR"
	say "=== system Postfix: recording its state before the tests"
	if running_master; then
		say "    already running (master pid $MPID)"
		echo no >"$S/started"
	else
		say "    not running: postfix start"
		timeout 60 postfix start 2>&1 | sed 's/^/    | /'
		wait_for 20 running_master || die "the system Postfix did not start (postfix status fails)"
		echo yes >"$S/started"
		say "    started (master pid $MPID); 'finish' stops it again"
	fi
	echo "$MPID" >"$S/master.pid"
	started_at "$MPID" >"$S/master.start"
	snapshot "$S/etc"
	say "    master pid $MPID; $CONF_DIR: $(wc -l <"$S/etc.sha256") files checksummed"
	;;
verify)
	if [ ! -s "$S/master.pid" ] || [ ! -s "$S/etc.sha256" ]; then
		die "nothing recorded in $S (run 'record' first)"
	fi
	say "=== system Postfix: comparing with the state before the tests"
	bad=0
	snapshot "$S/now"
	if ! diff -u "$S/etc.sha256" "$S/now.sha256" >"$S/diff.sha256"; then
		say "    $CONF_DIR: file contents changed:"
		sed 's/^/    | /' "$S/diff.sha256"
		bad=1
	fi
	if ! diff -u "$S/etc.meta" "$S/now.meta" >"$S/diff.meta"; then
		say "    $CONF_DIR: files added, removed, or with another mode, owner or link:"
		sed 's/^/    | /' "$S/diff.meta"
		bad=1
	fi
	pid=$(cat "$S/master.pid")
	t0=$(cat "$S/master.start")
	if ! kill -0 "$pid" 2>/dev/null; then
		say "    the system master (pid $pid) is gone"
		bad=1
	elif [ "$(started_at "$pid")" != "$t0" ]; then
		say "    pid $pid is another process now: the system master was restarted"
		bad=1
	elif [ "$(master_pid)" != "$pid" ]; then
		say "    the system master's pid file names '$(master_pid)', not $pid"
		bad=1
	elif ! postfix status >/dev/null 2>&1; then
		say "    postfix status fails"
		bad=1
	fi
	if [ "$bad" != 0 ]; then
		say "=== system Postfix TOUCHED by the tests (see above)"
		exit 1
	fi
	say "=== system Postfix untouched: $CONF_DIR identical ($(wc -l <"$S/etc.sha256") files), master pid $pid still running"
	;;
finish)
	[ -s "$S/started" ] || die "nothing recorded in $S (run 'record' first)"
	if [ "$(cat "$S/started")" = yes ]; then
		pid=$(cat "$S/master.pid")
		say "=== system Postfix: stopping it (started by 'record')"
		timeout 60 postfix stop 2>&1 | sed 's/^/    | /'
		wait_for 30 master_gone "$pid" || die "the system master (pid $pid) still runs 30 s after postfix stop"
		say "    stopped"
	else
		say "=== system Postfix: left running (it ran before 'record')"
	fi
	;;
*)
	usage
	;;
esac
exit 0
