#!/bin/sh
# layering.sh: checks the include rules of STYLE.md by reading the sources,
# so that a layering violation fails make check, not a review:
#   sqlite3.h      only in the store module: src/store.c, src/store_*.c
#                  and its private header src/store_int.h (which includes
#                  sqlite3.h, so it counts as sqlite3.h everywhere else)
#   microhttpd.h   only in src/http_server.c and src/api_*.c
#   curl/curl.h    only in src/deliver.c
#   jansson.h      never in src/store.h or src/deliver.h
#   every src/*.c  starts with a comment block (what it is, what it owns)
# Prints TAP: one line per rule, with the offending files as diagnostics.

top=${TOP_SRCDIR:-$(dirname "$0")/..}
src=$top/src
n=0
failed=0

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	failed=1
	echo "not ok $n - $1"
	printf '%s\n' "$2" | sed 's/^/# /'
}

# Files in src/ (*.c and *.h) that include the header $1.
includers() {
	grep -l -E "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]$1[>\"]" \
	    "$src"/*.c "$src"/*.h 2>/dev/null | sed "s|^$src/|src/|" | sort
}

# rule NAME HEADER ALLOWED-REGEX: only files matching ALLOWED include HEADER.
rule() {
	bad=$(includers "$2" | grep -v -E "^($3)\$")
	if [ -z "$bad" ]; then
		ok "$1"
	else
		not_ok "$1" "included by: $(echo $bad)"
	fi
}

if [ ! -d "$src" ] || ! ls "$src"/*.c >/dev/null 2>&1; then
	echo "1..0 # SKIP no sources in $src"
	exit 0
fi
echo "1..7"

# The checker itself must see an include where there is one, or every
# rule below would pass vacuously.
if includers 'sqlite3\.h' | grep -q . && includers 'microhttpd\.h' | grep -q .
then
	ok "the checker finds the includes it looks for"
else
	not_ok "the checker finds the includes it looks for" \
	    "no file includes sqlite3.h or microhttpd.h: is $src right?"
fi

store='src/store.c, src/store_*.c, src/store_int.h'
rule "sqlite3.h only in the store module ($store)" \
    '(sqlite3|store_int)\.h' \
    'src/store\.c|src/store_[a-z0-9_]+\.c|src/store_int\.h'
rule "microhttpd.h only in src/http_server.c and src/api_*.c" \
    'microhttpd\.h' 'src/http_server\.c|src/api_[a-z0-9_]+\.c'
rule "curl/curl.h only in src/deliver.c" 'curl/curl\.h' 'src/deliver\.c'
bad=$(includers 'jansson\.h' | grep -E '^src/(store|deliver)\.h$')
if [ -z "$bad" ]; then
	ok "jansson.h never in src/store.h or src/deliver.h"
else
	not_ok "jansson.h never in src/store.h or src/deliver.h" \
	    "included by: $(echo $bad)"
fi

# The interfaces of the store and of delivery keep their libraries private.
bad=""
for h in "$src"/*.h; do
	case $(basename "$h") in
	store.h|deliver.h)
		if grep -q -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](sqlite3|curl/curl|microhttpd)\.h[>"]' "$h"
		then
			bad="$bad src/$(basename "$h")"
		fi
		;;
	esac
done
if [ -z "$bad" ]; then
	ok "store.h and deliver.h keep sqlite3, curl and microhttpd private"
else
	not_ok "store.h and deliver.h keep sqlite3, curl and microhttpd private" \
	    "offenders:$bad"
fi

bad=""
for f in "$src"/*.c; do
	first=$(sed -n '1p' "$f")
	case $first in
	/\**) ;;
	*) bad="$bad src/$(basename "$f")" ;;
	esac
done
if [ -z "$bad" ]; then
	ok "every src/*.c starts with a comment block"
else
	not_ok "every src/*.c starts with a comment block" \
	    "first line is not /*:$bad"
fi
exit $failed
