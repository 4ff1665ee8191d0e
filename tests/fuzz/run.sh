#!/bin/sh
# run.sh SECONDS: runs the already-built libFuzzer target fuzz_cloudevent
# over the seed corpus in tests/fuzz/corpus for SECONDS; builds nothing.
# The corpus is only read: new inputs go to a temporary directory that is
# removed afterwards, crash inputs to $ARTIFACT_DIR (default: .).
# FUZZER names the binary (default: ./tests/fuzz/fuzz_cloudevent, i.e. run
# from a build dir configured with CC=clang --enable-fuzzing).
# Exit status: 0 clean, non-zero if the fuzzer found a crash, leak or hang.
set -eu

secs=${1:-}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 SECONDS" >&2
	exit 2
	;;
esac
here=$(cd "$(dirname "$0")" && pwd)
fuzzer=${FUZZER:-./tests/fuzz/fuzz_cloudevent}
if [ ! -x "$fuzzer" ]; then
	echo "run.sh: $fuzzer is not built (configure CC=clang" \
	    "--enable-fuzzing, then make tests/fuzz/fuzz_cloudevent)" >&2
	exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-cloudevent.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

"$fuzzer" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -dict="$here/cloudevent.dict" \
    -artifact_prefix="${ARTIFACT_DIR:-.}/" "$work" "$here/corpus"
