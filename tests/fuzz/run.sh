#!/bin/sh
# run.sh - build the libFuzzer harnesses and run each for a bounded time
#
# usage: tests/fuzz/run.sh [SECONDS] [HARNESS...]
#        tests/fuzz/run.sh cover [HARNESS...]
#
#   SECONDS   fuzzing time per harness (default 60); 0 only builds and
#             replays the seed corpus and the regression inputs
#   HARNESS   attr config protocols sni props smtp proxyproto dialogue
#             (default: all)
#   cover     line and branch coverage of the project sources reached
#             by the seeds plus the corpus grown so far (llvm-cov)
#
# Environment:
#   FUZZ_CC    compiler (default clang; it needs libFuzzer and the
#              sanitizer runtimes: Debian packages clang, libclang-rt-14-dev)
#   FUZZ_OUT   work directory for objects, binaries, the growing corpus,
#              logs and crash artifacts (default tests/fuzz/out)
#   FUZZ_ARGS  extra libFuzzer options for the fuzzing run
#   FUZZ_LLVM_COV, FUZZ_LLVM_PROFDATA  tools for "cover" (default
#              llvm-cov, llvm-profdata; use the clang's version)
#
# For each harness: build, replay tests/fuzz/regress/HARNESS and the seed
# corpus once (any crash, leak or timeout fails), then fuzz for SECONDS
# with the seeds in tests/fuzz/corpus/HARNESS. New inputs go to
# FUZZ_OUT/corpus/HARNESS, so successive runs continue where the last
# one stopped. Exit status: 0 when every harness ran clean, 1 when any
# crashed, leaked or timed out (the log and the reproducer are named),
# 2 on usage or build problems.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
src=$top/src
out=${FUZZ_OUT:-$here/out}
cc=${FUZZ_CC:-clang}
all="attr config protocols sni props smtp proxyproto dialogue"

secs=60
mode=fuzz
case "${1:-}" in
'') ;;
cover)	mode=cover; shift ;;
*[!0-9]*)
	echo "usage: $0 [SECONDS | cover] [HARNESS...]  (harnesses: $all)" >&2
	exit 2 ;;
*)	secs=$1; shift ;;
esac
harnesses=${*:-$all}

# Project sources each harness needs (each compiled once, below).
srcs_for() {
	case $1 in
	attr)		echo attr ;;
	config)		echo config netlist ;;
	protocols)	echo tls_common tls_server tls_files log sys stats scache tickets \
			    sni_map privsep listener config netlist ;;
	sni)		echo sni_map privsep listener config netlist log sys stats \
			    tls_common tls_server tls_files scache tickets ;;
	props)		echo tls_props attr sys ;;
	smtp)		echo smtp ;;
	proxyproto)	echo proxyproto ;;
	dialogue)	echo dialogue smtp ;;
	*)		return 1 ;;
	esac
}
for h in $harnesses; do
	srcs_for "$h" >/dev/null || {
		echo "$0: unknown harness \"$h\" (known: $all)" >&2
		exit 2
	}
done

command -v "$cc" >/dev/null 2>&1 || {
	echo "$0: $cc not found; install clang and libclang-rt-14-dev" >&2
	exit 2
}
pc_cflags=$(pkg-config --cflags openssl libconfig 2>/dev/null) || {
	echo "$0: pkg-config cannot find openssl and libconfig" \
	    "(install pkg-config libssl-dev libconfig-dev)" >&2
	exit 2
}
pc_libs=$(pkg-config --libs openssl libconfig)

# Same defines as the project build; sanitizers on, recoverable UB off.
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-g -O1 -fno-omit-frame-pointer $SAN -pthread \
-D_GNU_SOURCE -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED \
-I$src $pc_cflags"

mkdir -p "$out/obj" "$out/bin" "$out/log" || exit 2

# fuzz_opts HARNESS - libFuzzer options of one harness's fuzzing run.
# attr: the seeds that cross ATTR_VALUE_MAX (64 KiB) are replayed in
# full every run; fuzzing them only slows the search down.
fuzz_opts() {
	case $1 in
	attr)	echo -max_len=4096 ;;
	esac
	return 0
}

# extra_seeds HARNESS - seed directories outside tests/fuzz/corpus
extra_seeds() {
	[ "$1" = config ] && echo "$top/etc"	# the shipped example, as it is now
	return 0
}

# cover: uninstrumented by sanitizers, with profiling; run every input once.
if [ $mode = cover ]; then
	cov=${FUZZ_LLVM_COV:-llvm-cov}
	profdata=${FUZZ_LLVM_PROFDATA:-llvm-profdata}
	CFLAGS="-g -O0 -fprofile-instr-generate -fcoverage-mapping -pthread \
-D_GNU_SOURCE -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED \
-I$src $pc_cflags"
	mkdir -p "$out/cov" || exit 2
	for h in $harnesses; do
		files=
		for s in $(srcs_for "$h"); do
			files="$files $src/$s.c"
		done
		bin=$out/cov/fuzz_$h
		# shellcheck disable=SC2086
		$cc $CFLAGS -fsanitize=fuzzer "$here/fuzz_$h.c" $files -o "$bin" \
		    $pc_libs -pthread 2>"$out/log/cov-build-$h.log" || {
			cat "$out/log/cov-build-$h.log" >&2
			exit 2
		}
		mkdir -p "$out/corpus/$h"
		rm -f "$out/cov/$h".prof*
		# shellcheck disable=SC2086
		LLVM_PROFILE_FILE="$out/cov/$h.profraw" \
		    "$bin" -runs=0 "$out/corpus/$h" "$here/corpus/$h" \
		    $(extra_seeds "$h") >"$out/log/cov-$h.log" 2>&1
		$profdata merge -sparse "$out/cov/$h.profraw" \
		    -o "$out/cov/$h.profdata" || exit 2
		echo "=== fuzz_$h: coverage (seeds + $out/corpus/$h)"
		case $h in
		protocols)
			# Only three functions of these files are fuzzed.
			# shellcheck disable=SC2086
			$cov report "$bin" -instr-profile="$out/cov/$h.profdata" \
			    -show-functions $files | sed -n '1,2p;/^tls_parse_protocols /p;/^tls_cipher_list /p;/^tlss_workaround_mask /p;/tls_version_index /p' ;;
		props)
			$cov report "$bin" -instr-profile="$out/cov/$h.profdata" \
			    "$src/tls_props.c" ;;
		*)
			# shellcheck disable=SC2086
			$cov report "$bin" -instr-profile="$out/cov/$h.profdata" \
			    $files ;;
		esac
	done
	exit 0
fi

# Check once that the libFuzzer runtime is there.
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' \
    >"$out/obj/probe.c"
if ! $cc $CFLAGS -fsanitize=fuzzer "$out/obj/probe.c" -o "$out/obj/probe" \
    >"$out/log/probe.log" 2>&1; then
	cat "$out/log/probe.log" >&2
	echo "$0: $cc cannot build a libFuzzer binary" \
	    "(install clang and libclang-rt-14-dev)" >&2
	exit 2
fi

# Build: each needed source once (instrumented, no libFuzzer main), then
# one binary per harness.
need=$(for h in $harnesses; do srcs_for "$h"; done | tr ' ' '\n' | sort -u)
echo "=== fuzz: building in $out"
for s in $need; do
	$cc $CFLAGS -fsanitize=fuzzer-no-link -c "$src/$s.c" \
	    -o "$out/obj/$s.o" 2>"$out/log/build-$s.log" || {
		cat "$out/log/build-$s.log" >&2
		echo "$0: cannot compile src/$s.c" >&2
		exit 2
	}
done
for h in $harnesses; do
	objs=
	for s in $(srcs_for "$h"); do
		objs="$objs $out/obj/$s.o"
	done
	# shellcheck disable=SC2086
	$cc $CFLAGS -Wall -Wextra -fsanitize=fuzzer "$here/fuzz_$h.c" $objs \
	    -o "$out/bin/fuzz_$h" $pc_libs -pthread \
	    2>"$out/log/build-fuzz_$h.log" || {
		cat "$out/log/build-fuzz_$h.log" >&2
		echo "$0: cannot build fuzz_$h" >&2
		exit 2
	}
done

# Dictionaries: the static ones, plus every parameter name for config.
mkdir -p "$out/dict"
for h in $harnesses; do
	d=$out/dict/$h.dict
	: >"$d"
	[ -f "$here/dict/$h.dict" ] && cat "$here/dict/$h.dict" >>"$d"
	if [ "$h" = config ]; then
		sed -n 's/^CFG_PARAM(\([A-Za-z0-9_]*\),.*/"\1"/p' \
		    "$src/cfg_params.h" >>"$d"
	fi
done

COMMON="-timeout=5 -rss_limit_mb=2048 -print_final_stats=1"
# Third-party leaks only; see the file.
LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
failed=
summary=

# stat LOG KEY - value of "stat::KEY:" in a libFuzzer log
stat() {
	sed -n "s/^stat::$2: *//p" "$1" | tail -n 1
}

for h in $harnesses; do
	bin=$out/bin/fuzz_$h
	log=$out/log/$h.log
	art=$out/artifacts/$h
	corpus=$out/corpus/$h
	mkdir -p "$art" "$corpus"
	seeds=$here/corpus/$h
	extra=$(extra_seeds "$h")

	# Replay: regression inputs and seeds, each run once.
	rdirs=
	[ -d "$here/regress/$h" ] && rdirs="$here/regress/$h"
	echo "=== fuzz_$h: replaying regression inputs and seeds"
	# shellcheck disable=SC2086
	if ! "$bin" $COMMON -runs=0 -artifact_prefix="$art/" $rdirs "$seeds" \
	    $extra >"$out/log/$h-replay.log" 2>&1; then
		tail -n 60 "$out/log/$h-replay.log"
		echo "=== fuzz_$h: REPLAY FAILED (log: $out/log/$h-replay.log)"
		failed="$failed $h"
		continue
	fi
	[ "$secs" -gt 0 ] || continue

	echo "=== fuzz_$h: fuzzing for ${secs}s"
	dict=
	[ -s "$out/dict/$h.dict" ] && dict=-dict=$out/dict/$h.dict
	# The outer timeout is only a backstop for a wedged process.
	# shellcheck disable=SC2086
	timeout -k 10 $((secs * 2 + 120)) "$bin" $COMMON \
	    -max_total_time="$secs" -artifact_prefix="$art/" $dict \
	    $(fuzz_opts "$h") \
	    ${FUZZ_ARGS:-} "$corpus" "$seeds" $extra >"$log" 2>&1
	rc=$?
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.*corp: \([^ ]*\).*/\1/p')
	line=$(printf '%-10s %4s %s  execs %s  exec/s %s  cov %s  ft %s  corpus %s  rss %sMB' \
	    "$h" "$rc" "$([ $rc = 0 ] && echo ok || echo FAIL)" \
	    "$(stat "$log" number_of_executed_units)" \
	    "$(stat "$log" average_exec_per_sec)" "${cov:-?}" "${ft:-?}" \
	    "${corp:-?}" "$(stat "$log" peak_rss_mb)")
	summary="$summary$line
"
	if [ $rc != 0 ]; then
		grep -E 'ERROR: |SUMMARY: |invariant failed|Test unit written' "$log" |
		    head -n 20
		echo "=== fuzz_$h: FAILED (exit $rc; log: $log; artifacts: $art/)"
		failed="$failed $h"
	fi
done

if [ -n "$summary" ]; then
	echo "=== fuzz summary (harness, exit, result, stats)"
	printf '%s' "$summary"
fi
if [ -n "$failed" ]; then
	echo "=== fuzz: FAILED:$failed"
	exit 1
fi
echo "=== fuzz: all clean"
exit 0
