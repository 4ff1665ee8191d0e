#!/bin/sh
# run.sh SECONDS [TARGET...]: runs already-built libFuzzer targets, each for
# SECONDS over its seed corpus: cloudevent (the default; corpus/ and
# cloudevent.dict), soapxml, subscription and config (corpus-TARGET/).
# Builds nothing.  The corpora are only read: new inputs go to a temporary
# directory that is removed afterwards, crash inputs to $ARTIFACT_DIR
# (default: .).  The binaries are ./tests/fuzz/fuzz_TARGET (run from a
# build dir configured with CC=clang --enable-fuzzing); FUZZER names the
# one binary when a single TARGET is given.
# Exit status: 0 clean, non-zero if a fuzzer found a crash, leak or hang.
set -eu

secs=${1:-}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 SECONDS [cloudevent|soapxml|subscription|config...]" >&2
	exit 2
	;;
esac
shift
[ $# -gt 0 ] || set -- cloudevent
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

for target in "$@"; do
	case $target in
	cloudevent) corpus=$here/corpus ;;
	soapxml | subscription | config) corpus=$here/corpus-$target ;;
	*)
		echo "run.sh: no fuzz target $target" >&2
		exit 2
		;;
	esac
	fuzzer=./tests/fuzz/fuzz_$target
	[ $# -eq 1 ] && fuzzer=${FUZZER:-$fuzzer}
	if [ ! -x "$fuzzer" ]; then
		echo "run.sh: $fuzzer is not built (configure CC=clang" \
		    "--enable-fuzzing, then make $fuzzer)" >&2
		exit 2
	fi
	dict=
	[ -f "$here/$target.dict" ] && dict=-dict=$here/$target.dict
	mkdir "$work/$target"
	echo "run.sh: fuzz_$target for ${secs}s"
	# shellcheck disable=SC2086 # $dict is one word or none
	"$fuzzer" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
	    -print_final_stats=1 $dict \
	    -artifact_prefix="${ARTIFACT_DIR:-.}/" "$work/$target" "$corpus"
done
