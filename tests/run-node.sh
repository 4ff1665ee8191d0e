#!/bin/sh
# run-node.sh: runs one node:test file (CommonJS, .cjs) with TAP output for
# automake's TAP driver, and exits with node's status.  make check sets
# SLUICED, TOP_SRCDIR, TOP_BUILDDIR and NODE_PATH; the file is the argument.
if [ $# -ne 1 ]; then
	echo "usage: run-node.sh FILE.test.cjs" >&2
	exit 2
fi
if ! command -v node >/dev/null 2>&1; then
	echo "1..0 # SKIP node is not installed"
	exit 0
fi
exec node --test --test-reporter=tap "$1"
