#!/usr/bin/env bash
# Runs the libFuzzer harnesses of the fuzz preset (tests/fuzz/; `cmake --preset fuzz` builds them
# into build-fuzz/) for a given time each, over a scratch copy of their checked-in corpus, so that
# a run never writes into tests/. What a fuzzer finds (crash, leak, hang, sanitizer report) stops
# it at once (-fno-sanitize-recover=all) and is saved under <build>/fuzz-work/<harness>/artifacts/;
# the script then fails and says how to keep the input as a regression test.
#
#   tests/fuzz/run_fuzzers.sh [--build-dir build-fuzz] [--seconds 60] [--runs N] [HARNESS...]
#                                                           (default: all three harnesses)
# --runs N stops each fuzzer after N executions (or --seconds, whichever comes first);
# FUZZ_FLAGS adds libFuzzer flags.
#
# Each fuzzer's last lines give its totals (libFuzzer's -print_final_stats): executions and
# executions per second; the script prints them in one table at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

build_dir=build-fuzz
seconds=60
runs=-1
harnesses=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) harnesses+=("$1"); shift ;;
  esac
done
[ ${#harnesses[@]} -gt 0 ] || harnesses=(commands tensor_data upload)

# Stop at the first report, with the stack (ASan + UBSan are built in; LeakSanitizer runs after
# each input that ends with memory still allocated).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

summary=()
status=0
for h in "${harnesses[@]}"; do
  bin="$build_dir/tests/fuzz/fuzz_$h"
  if [ ! -x "$bin" ]; then
    echo "run_fuzzers.sh: $bin is not built (cmake --preset fuzz && cmake --build --preset fuzz)" >&2
    exit 2
  fi
  work="$build_dir/fuzz-work/$h"
  rm -rf "$work/corpus"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -r "tests/fuzz/corpus/$h/." "$work/corpus/"
  echo "== fuzz_$h: ${seconds}s over a copy of tests/fuzz/corpus/$h ($work)"
  rc=0
  # -timeout: an input running 10 s is a hang (commands stop at 2 s, fuzz_common.h);
  # -rss_limit_mb: a session is capped at 4 MiB, so 2.5 GiB means a leak.
  # -entropic=0: the command harness links gRPC, protobuf and abseil, whose ~80k coverage
  # features make the entropic schedule's frequency updates 70% of the time (perf); without it
  # the harness runs 3x the executions per second.
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$seconds" -runs="$runs" -timeout=10 -rss_limit_mb=2560 -max_len=4096 \
    -entropic=0 ${FUZZ_FLAGS:-} -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" \
    >"$work/log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
  if [ "$rc" -ne 0 ]; then
    status=1
    tail -n 60 "$work/log"
    echo "fuzz_$h FAILED (exit $rc); the input is in $work/artifacts/:" >&2
    ls -l "$work/artifacts/" >&2 || true
    echo "keep it as a regression: cp $work/artifacts/<file> tests/fuzz/corpus/$h/" >&2
    summary+=("$(printf '%-12s FAILED  %12s execs  %8s exec/s' "$h" "${execs:-?}" "${rate:-?}")")
  else
    tail -n 3 "$work/log" | grep -v '^stat::' || true
    summary+=("$(printf '%-12s ok      %12s execs  %8s exec/s' "$h" "${execs:-?}" "${rate:-?}")")
  fi
done
echo "== libFuzzer, ${seconds}s each (ASan + UBSan, stop at the first report)"
printf '%s\n' "${summary[@]}"
exit $status
