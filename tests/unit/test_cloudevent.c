/*
 * test_cloudevent.c: the CloudEvents parser against DESIGN.md "Ingest" and
 * CloudEvents 1.0.2 (spec, JSON format, HTTP binding).  One table of HTTP
 * requests with the exact outcome of each: for an accepted request, each
 * event's data kind and the JSON cloudevent_write_json writes (attribute
 * names, types and values, data bytes); for a refused one, the status and
 * the attribute and batch index the first fault names.  Every accepted
 * event is also re-parsed from its JSON and rebuilt from its stored form.
 * Then tables for the type-system validators and base64.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "cloudevent.h"
#include "jsonscan.h"
#include "tap.h"

/* ---- the request table --------------------------------------------- */

struct hcase {
	const char *desc;  /* what the case shows */
	const char *ct;	   /* Content-Type, NULL for none */
	const char *hdrs;  /* "name: value\n" lines, NULL for none */
	const char *body;  /* request body */
	size_t blen;	   /* bytes in body (may hold NUL) */
	int status;	   /* 0 accepted, else 400 or 415 */
	const char *want;  /* accepted: kind letter + JSON per event, "\n"
			      after each; refused: the first fault's
			      attribute */
	int index;	   /* refused: the first fault's batch index */
	const char *why;   /* refused: text the reason must contain */
};

#define CTS "application/cloudevents+json"
#define CTB "application/cloudevents-batch+json"
#define REQ                                                                \
	"\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\""
#define EV(rest) "{" REQ rest "}"
#define BIN "ce-specversion: 1.0\nce-id: 1\nce-source: /s\nce-type: t\n"

#define OK(d, c, h, b, w)                                                  \
	{ .desc = d, .ct = c, .hdrs = h, .body = b, .blen = sizeof(b) - 1,  \
	    .want = w }
#define BAD(d, c, h, b, s, a, i)                                           \
	{ .desc = d, .ct = c, .hdrs = h, .body = b, .blen = sizeof(b) - 1,  \
	    .status = s, .want = a, .index = i }
#define BADW(d, c, h, b, s, a, i, w)                                       \
	{ .desc = d, .ct = c, .hdrs = h, .body = b, .blen = sizeof(b) - 1,  \
	    .status = s, .want = a, .index = i, .why = w }

/* Nested arrays, to probe JSONSCAN_MAX_DEPTH (512 with the event). */
#define NEST8(x) "[[[[[[[[" x "]]]]]]]]"
#define NEST64(x) \
	NEST8(NEST8(NEST8(NEST8(NEST8(NEST8(NEST8(NEST8(x))))))))
#define NEST512(x) NEST64(NEST64(NEST64(NEST64(NEST64(NEST64(NEST64( \
	NEST64(x))))))))
#define DEEP504 NEST64(NEST64(NEST64(NEST64(NEST64(NEST64(NEST64(NEST8( \
	NEST8(NEST8(NEST8(NEST8(NEST8(NEST8(""))))))))))))))
#define DIGITS50 "12345678901234567890123456789012345678901234567890"
#define DIGITS400 DIGITS50 DIGITS50 DIGITS50 DIGITS50 DIGITS50 DIGITS50 \
	DIGITS50 DIGITS50
#define NAME50 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwx"
#define NAME300 NAME50 NAME50 NAME50 NAME50 NAME50 NAME50

static const struct hcase cases[] = {
	/* Mode by Content-Type alone. */
	OK("structured, minimal", CTS, NULL, EV(""), "N" EV("") "\n"),
	OK("structured media type case-insensitive, with parameters",
	    "Application/CloudEvents+JSON ; charset=UTF-8", NULL, EV(""),
	    "N" EV("") "\n"),
	OK("structured ignores ce- headers", CTS, "ce-id: 9\nce-x: y\n",
	    EV(""), "N" EV("") "\n"),
	OK("required attributes come first in spec order", CTS, NULL,
	    "{\"z\":\"1\",\"type\":\"t\",\"source\":\"/s\",\"id\":\"1\","
	    "\"specversion\":\"1.0\"}",
	    "N" EV(",\"z\":\"1\"") "\n"),
	BAD("event format other than JSON is 415",
	    "application/cloudevents+xml", BIN, "<event/>", 415,
	    "Content-Type", -1),
	BAD("text/plain without ce-specversion is 415", "text/plain",
	    "ce-id: 1\n", "hello", 415, "Content-Type", -1),
	BAD("no Content-Type, no ce- headers is 415", NULL, NULL, "x", 415,
	    "Content-Type", -1),
	OK("application/json with ce- headers is binary", "application/json",
	    BIN, "{\"a\":1}",
	    "J" EV(",\"datacontenttype\":\"application/json\","
	    "\"data\":{\"a\":1}") "\n"),
	OK("a structured-looking body in binary mode is just data",
	    "text/plain", BIN, EV(""),
	    "T" EV(",\"datacontenttype\":\"text/plain\",\"data\":"
	    "\"{\\\"specversion\\\":\\\"1.0\\\",\\\"id\\\":\\\"1\\\","
	    "\\\"source\\\":\\\"/s\\\",\\\"type\\\":\\\"t\\\"}\"") "\n"),
	OK("binary without Content-Type: data is bytes", NULL, BIN, "ab",
	    "B" EV(",\"data_base64\":\"YWI=\"") "\n"),

	/* specversion. */
	BADW("specversion 0.3 refused with a clear message", CTS, NULL,
	    "{\"specversion\":\"0.3\",\"id\":\"1\",\"source\":\"/s\","
	    "\"type\":\"t\"}", 400, "specversion", -1,
	    "0.3 is not supported"),
	BADW("specversion 1.1 refused", CTS, NULL,
	    "{\"specversion\":\"1.1\",\"id\":\"1\",\"source\":\"/s\","
	    "\"type\":\"t\"}", 400, "specversion", -1, "must be \"1.0\""),
	BAD("specversion as a number refused", CTS, NULL,
	    "{\"specversion\":1.0,\"id\":\"1\",\"source\":\"/s\","
	    "\"type\":\"t\"}", 400, "specversion", -1),
	BADW("binary ce-specversion 0.3 refused", NULL,
	    "ce-specversion: 0.3\nce-id: 1\nce-source: /s\nce-type: t\n", "",
	    400, "specversion", -1, "0.3"),
	BADW("specversion missing", CTS, NULL,
	    "{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}", 400,
	    "specversion", -1, "missing"),
	OK("binary ce-specversion as a quoted-string", NULL,
	    "ce-specversion: \"1.0\"\nce-id: 1\nce-source: /s\nce-type: t\n",
	    "", "N" EV("") "\n"),

	/* Required attributes, non-empty. */
	BAD("id missing", CTS, NULL,
	    "{\"specversion\":\"1.0\",\"source\":\"/s\",\"type\":\"t\"}", 400,
	    "id", -1),
	BAD("id empty", CTS, NULL,
	    "{\"specversion\":\"1.0\",\"id\":\"\",\"source\":\"/s\","
	    "\"type\":\"t\"}", 400, "id", -1),
	BAD("source missing", CTS, NULL,
	    "{\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\"}", 400,
	    "source", -1),
	BAD("source empty", CTS, NULL,
	    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"\","
	    "\"type\":\"t\"}", 400, "source", -1),
	BAD("type missing", CTS, NULL,
	    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\"}", 400,
	    "type", -1),
	BAD("type empty", CTS, NULL,
	    "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\","
	    "\"type\":\"\"}", 400, "type", -1),
	BAD("id null is unset, so missing", CTS, NULL,
	    "{\"specversion\":\"1.0\",\"id\":null,\"source\":\"/s\","
	    "\"type\":\"t\"}", 400, "id", -1),
	BAD("binary ce-id missing", NULL,
	    "ce-specversion: 1.0\nce-source: /s\nce-type: t\n", "", 400, "id",
	    -1),
	BAD("binary ce-type empty", NULL,
	    "ce-specversion: 1.0\nce-id: 1\nce-source: /s\nce-type: \n", "",
	    400, "type", -1),
	BAD("subject empty", CTS, NULL, EV(",\"subject\":\"\""), 400,
	    "subject", -1),

	/* JSON null means unset. */
	OK("subject null is unset", CTS, NULL, EV(",\"subject\":null"),
	    "N" EV("") "\n"),
	OK("extension null is unset", CTS, NULL, EV(",\"ext\":null"),
	    "N" EV("") "\n"),
	OK("data_base64 null is unset", CTS, NULL,
	    EV(",\"data_base64\":null"), "N" EV("") "\n"),
	/* But data is no attribute: null there is a payload (JSON 3.1.1). */
	OK("data null is an explicit JSON null payload", CTS, NULL,
	    EV(",\"data\":null"), "J" EV(",\"data\":null") "\n"),
	OK("data null with application/json", CTS, NULL,
	    EV(",\"datacontenttype\":\"application/json\",\"data\":null"),
	    "J" EV(",\"datacontenttype\":\"application/json\","
	    "\"data\":null") "\n"),
	OK("data null with text/plain is still JSON null, not text", CTS,
	    NULL, EV(",\"datacontenttype\":\"text/plain\",\"data\": null"),
	    "J" EV(",\"datacontenttype\":\"text/plain\",\"data\":null")
	    "\n"),
	OK("data string \"null\" with text/plain is text", CTS, NULL,
	    EV(",\"datacontenttype\":\"text/plain\",\"data\":\"null\""),
	    "T" EV(",\"datacontenttype\":\"text/plain\",\"data\":\"null\"")
	    "\n"),
	/* data and data_base64 are exclusive by presence (JSON 3.1.1). */
	BADW("data_base64 null next to data", CTS, NULL,
	    EV(",\"data_base64\":null,\"data\":[1]"), 400, "data_base64",
	    -1, "mutually exclusive"),
	BADW("data null next to data_base64", CTS, NULL,
	    EV(",\"data\":null,\"data_base64\":\"AAEC\""), 400,
	    "data_base64", -1, "mutually exclusive"),
	BADW("data null and data_base64 null", CTS, NULL,
	    EV(",\"data\":null,\"data_base64\":null"), 400, "data_base64",
	    -1, "mutually exclusive"),
	OK("datacontenttype null: string data is JSON", CTS, NULL,
	    EV(",\"datacontenttype\":null,\"data\":\"x\""),
	    "J" EV(",\"data\":\"x\"") "\n"),

	/* Repeated members and headers. */
	BADW("repeated member", CTS, NULL, EV(",\"id\":\"2\""), 400, "id",
	    -1, "repeated"),
	BAD("repeated data member", CTS, NULL,
	    EV(",\"data\":1,\"data\":2"), 400, "data", -1),
	BAD("repeated member spelled with an escape", CTS, NULL,
	    EV(",\"ext\":\"a\",\"\\u0065xt\":\"b\""), 400, "ext", -1),
	BAD("repeated ce- header", NULL, BIN "ce-id: 2\n", "", 400, "id",
	    -1),
	BAD("repeated ce- header in other case", NULL, BIN "CE-ID: 2\n", "",
	    400, "id", -1),
	OK("repeated members inside data are data", CTS, NULL,
	    EV(",\"data\":{\"a\":1,\"a\":2}"),
	    "J" EV(",\"data\":{\"a\":1,\"a\":2}") "\n"),

	/* Extension names: [a-z0-9]+, any length. */
	OK("extension name of 50 characters", CTS, NULL,
	    EV(",\"" NAME50 "\":\"v\""), "N" EV(",\"" NAME50 "\":\"v\"") "\n"),
	OK("extension name of 300 characters", CTS, NULL,
	    EV(",\"" NAME300 "\":\"v\""),
	    "N" EV(",\"" NAME300 "\":\"v\"") "\n"),
	/* Regression: names of 256 or more characters were refused. */
	OK("ce- header naming 300 characters", NULL,
	    BIN "ce-" NAME300 ": v\n", "", "N" EV(",\"" NAME300 "\":\"v\"") "\n"),
	OK("digits-only extension name", CTS, NULL, EV(",\"123\":\"v\""),
	    "N" EV(",\"123\":\"v\"") "\n"),
	BAD("upper-case member name", CTS, NULL, EV(",\"Ext\":\"v\""), 400,
	    "Ext", -1),
	BAD("underscore in member name", CTS, NULL, EV(",\"my_ext\":\"v\""),
	    400, "my_ext", -1),
	BAD("non-ASCII member name", CTS, NULL, EV(",\"\xc3\xa9t\xc3\xa9\":1"),
	    400, "\xc3\xa9t\xc3\xa9", -1),
	BAD("empty member name", CTS, NULL, EV(",\"\":\"v\""), 400, "\"\"",
	    -1),
	/* Regression: "a\u0000b" was taken for the extension "a". */
	BAD("member name holding \\u0000", CTS, NULL,
	    EV(",\"a\\u0000b\":\"v\""), 400, "body", -1),
	BAD("dash in ce- header name", NULL, BIN "ce-my-ext: v\n", "", 400,
	    "my-ext", -1),
	OK("ce- header names are case-insensitive", NULL, BIN "Ce-MyExt: v\n",
	    "", "N" EV(",\"myext\":\"v\"") "\n"),
	BAD("ce-data is not an attribute", NULL, BIN "ce-data: v\n", "", 400,
	    "data", -1),
	BAD("bare ce- header", NULL, BIN "ce-: v\n", "", 400, "headers", -1),
	OK("other headers are ignored", NULL, BIN "x-ce-a: 1\nce_x: 2\n", "",
	    "N" EV("") "\n"),

	/* Attribute types in JSON. */
	OK("Integer extension, largest", CTS, NULL, EV(",\"n\":2147483647"),
	    "N" EV(",\"n\":2147483647") "\n"),
	OK("Integer extension, smallest", CTS, NULL, EV(",\"n\":-2147483648"),
	    "N" EV(",\"n\":-2147483648") "\n"),
	OK("Integer extension, zero and minus zero", CTS, NULL,
	    EV(",\"n\":0,\"m\":-0"), "N" EV(",\"n\":0,\"m\":-0") "\n"),
	BADW("Integer above range", CTS, NULL, EV(",\"n\":2147483648"), 400,
	    "n", -1, "2147483647"),
	BAD("Integer below range", CTS, NULL, EV(",\"n\":-2147483649"), 400,
	    "n", -1),
	BAD("Integer far out of range", CTS, NULL, EV(",\"n\":" DIGITS50),
	    400, "n", -1),
	BAD("fraction is not an Integer", CTS, NULL, EV(",\"n\":1.5"), 400,
	    "n", -1),
	BAD("10.0 is not an Integer", CTS, NULL, EV(",\"n\":10.0"), 400, "n",
	    -1),
	BAD("exponent is not an Integer", CTS, NULL, EV(",\"n\":1e3"), 400,
	    "n", -1),
	OK("Boolean extensions", CTS, NULL, EV(",\"t\":true,\"f\":false"),
	    "N" EV(",\"t\":true,\"f\":false") "\n"),
	BAD("object extension", CTS, NULL, EV(",\"o\":{}"), 400, "o", -1),
	BAD("array extension", CTS, NULL, EV(",\"a\":[\"x\"]"), 400, "a", -1),
	BAD("id as a number", CTS, NULL,
	    "{\"specversion\":\"1.0\",\"id\":1,\"source\":\"/s\","
	    "\"type\":\"t\"}", 400, "id", -1),
	BAD("time as a boolean", CTS, NULL, EV(",\"time\":true"), 400, "time",
	    -1),
	OK("binary mode carries every attribute as a String", NULL,
	    BIN "ce-n: 5\nce-b: true\n", "",
	    "N" EV(",\"n\":\"5\",\"b\":\"true\"") "\n"),

	/* String: UTF-8 without controls or noncharacters. */
	BAD("C0 control in a string", CTS, NULL, EV(",\"s\":\"a\\u0007\""),
	    400, "s", -1),
	BAD("tab in a string", CTS, NULL, EV(",\"s\":\"a\\tb\""), 400, "s",
	    -1),
	BAD("DEL in a string", CTS, NULL, EV(",\"s\":\"\\u007f\""), 400, "s",
	    -1),
	BAD("C1 control in a string", CTS, NULL, EV(",\"s\":\"\\u0085\""),
	    400, "s", -1),
	BAD("noncharacter U+FDD0", CTS, NULL, EV(",\"s\":\"\\ufdd0\""), 400,
	    "s", -1),
	BAD("noncharacter U+FFFF", CTS, NULL, EV(",\"s\":\"\\uffff\""), 400,
	    "s", -1),
	BAD("noncharacter U+1FFFE", CTS, NULL, EV(",\"s\":\"\\ud83f\\udffe\""),
	    400, "s", -1),
	BAD("NUL in id", CTS, NULL,
	    "{\"specversion\":\"1.0\",\"id\":\"a\\u0000\",\"source\":\"/s\","
	    "\"type\":\"t\"}", 400, "id", -1),
	OK("escapes decoded, re-escaped on output", CTS, NULL,
	    EV(",\"s\":\"\\u00e9\\ud83d\\ude00 \\\"q\\\" \\\\ \\/\""),
	    "N" EV(",\"s\":\"\xc3\xa9\xf0\x9f\x98\x80 \\\"q\\\" \\\\ /\"") "\n"),
	OK("U+00A0 and U+FFFD are characters", CTS, NULL,
	    EV(",\"s\":\"\xc2\xa0\xef\xbf\xbd\""),
	    "N" EV(",\"s\":\"\xc2\xa0\xef\xbf\xbd\"") "\n"),
	BAD("lone surrogate escape is not JSON", CTS, NULL,
	    EV(",\"s\":\"\\ud800\""), 400, "body", -1),
	BAD("reversed surrogate pair", CTS, NULL,
	    EV(",\"s\":\"\\udc00\\ud800\""), 400, "body", -1),
	BAD("invalid UTF-8 byte in JSON", CTS, NULL, EV(",\"s\":\"\xff\""),
	    400, "body", -1),
	BAD("overlong UTF-8 in JSON", CTS, NULL, EV(",\"s\":\"\xc0\xaf\""),
	    400, "body", -1),
	BAD("UTF-8 encoded surrogate in JSON", CTS, NULL,
	    EV(",\"s\":\"\xed\xa0\x80\""), 400, "body", -1),
	BAD("raw control character in a JSON string", CTS, NULL,
	    EV(",\"s\":\"a\nb\""), 400, "body", -1),

	/* URI, URI-reference. */
	OK("dataschema absolute URI", CTS, NULL,
	    EV(",\"dataschema\":\"https://example.com/s.json#v1\""),
	    "N" EV(",\"dataschema\":\"https://example.com/s.json#v1\"") "\n"),
	BAD("dataschema relative", CTS, NULL, EV(",\"dataschema\":\"/s.json\""),
	    400, "dataschema", -1),
	BAD("dataschema empty", CTS, NULL, EV(",\"dataschema\":\"\""), 400,
	    "dataschema", -1),
	BAD("dataschema with a space", CTS, NULL,
	    EV(",\"dataschema\":\"http://a b\""), 400, "dataschema", -1),
	BAD("dataschema scheme starting with a digit", CTS, NULL,
	    EV(",\"dataschema\":\"1http:x\""), 400, "dataschema", -1),
	OK("source URN and relative reference", CTB, NULL,
	    "[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"urn:uuid:6e8b\","
	    "\"type\":\"t\"},{\"specversion\":\"1.0\",\"id\":\"1\","
	    "\"source\":\"a/b?c\",\"type\":\"t\"}]",
	    "N{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"urn:uuid:6e8b\","
	    "\"type\":\"t\"}\nN{\"specversion\":\"1.0\",\"id\":\"1\","
	    "\"source\":\"a/b?c\",\"type\":\"t\"}\n"),

	/* Timestamps in events (details in the validator table). */
	OK("time, leap day and leap second", CTS, NULL,
	    EV(",\"time\":\"2024-02-29T23:59:60.5+01:00\""),
	    "N" EV(",\"time\":\"2024-02-29T23:59:60.5+01:00\"") "\n"),
	BAD("time, 30 February", CTS, NULL,
	    EV(",\"time\":\"2024-02-30T00:00:00Z\""), 400, "time", -1),
	OK("binary ce-time lower-case t and z", NULL,
	    BIN "ce-time: 2020-01-01t00:00:00z\n", "",
	    "N" EV(",\"time\":\"2020-01-01t00:00:00z\"") "\n"),
	BAD("binary ce-time without offset", NULL,
	    BIN "ce-time: 2020-01-01T00:00:00\n", "", 400, "time", -1),

	/* datacontenttype and data. */
	OK("text/plain with quoted charset: string data is text", CTS, NULL,
	    EV(",\"datacontenttype\":\"text/plain; charset=\\\"utf-8\\\"\","
	    "\"data\":\"h\\u00e9\""),
	    "T" EV(",\"datacontenttype\":\"text/plain; charset=\\\"utf-8\\\"\","
	    "\"data\":\"h\xc3\xa9\"") "\n"),
	OK("+json media type: string data stays JSON", CTS, NULL,
	    EV(",\"datacontenttype\":\"application/vnd.x+json\","
	    "\"data\":\"h\\u00e9\""),
	    "J" EV(",\"datacontenttype\":\"application/vnd.x+json\","
	    "\"data\":\"h\\u00e9\"") "\n"),
	OK("any */json media type: string data stays JSON", CTS, NULL,
	    EV(",\"datacontenttype\":\"Example/JSON; v=2\",\"data\":\"h\""),
	    "J" EV(",\"datacontenttype\":\"Example/JSON; v=2\","
	    "\"data\":\"h\"") "\n"),
	OK("json-seq is not JSON: string data is text", CTS, NULL,
	    EV(",\"datacontenttype\":\"application/json-seq\","
	    "\"data\":\"h\""),
	    "T" EV(",\"datacontenttype\":\"application/json-seq\","
	    "\"data\":\"h\"") "\n"),
	OK("no datacontenttype: string data kept as JSON text", CTS, NULL,
	    EV(",\"data\":\"hi\\u0041\""),
	    "J" EV(",\"data\":\"hi\\u0041\"") "\n"),
	OK("non-JSON datacontenttype with object data", CTS, NULL,
	    EV(",\"datacontenttype\":\"text/plain\",\"data\":{\"a\":1}"),
	    "J" EV(",\"datacontenttype\":\"text/plain\",\"data\":{\"a\":1}")
	    "\n"),
	/* Regression: jansson refused \u0000 in data. */
	OK("text data holding \\u0000", CTS, NULL,
	    EV(",\"datacontenttype\":\"text/plain\",\"data\":\"a\\u0000b\""),
	    "T" EV(",\"datacontenttype\":\"text/plain\",\"data\":"
	    "\"a\\u0000b\"") "\n"),
	BAD("datacontenttype without subtype", CTS, NULL,
	    EV(",\"datacontenttype\":\"text\""), 400, "datacontenttype", -1),
	BAD("datacontenttype parameter without value", CTS, NULL,
	    EV(",\"datacontenttype\":\"text/plain; charset\""), 400,
	    "datacontenttype", -1),
	BAD("datacontenttype unterminated quoted-string", CTS, NULL,
	    EV(",\"datacontenttype\":\"text/plain;a=\\\"x\""), 400,
	    "datacontenttype", -1),
	BAD("binary Content-Type not a media type", "not a type", BIN, "x",
	    400, "datacontenttype", -1),
	OK("binary Content-Type with escaped quoted parameter",
	    "text/plain; x=\"a\\\"b\"", BIN, "hi",
	    "T" EV(",\"datacontenttype\":\"text/plain; x=\\\"a\\\\\\\"b\\\"\","
	    "\"data\":\"hi\"") "\n"),

	/* Big numbers and exact bytes in data. */
	OK("big integer in data kept exactly", CTS, NULL,
	    EV(",\"data\":{\"n\":123456789012345678901234567890}"),
	    "J" EV(",\"data\":{\"n\":123456789012345678901234567890}") "\n"),
	/* Regression: jansson refused numbers a double cannot hold. */
	OK("1e400 in data kept exactly", CTS, NULL, EV(",\"data\":[1e400]"),
	    "J" EV(",\"data\":[1e400]") "\n"),
	OK("400-digit integer in data kept exactly", CTS, NULL,
	    EV(",\"data\":-" DIGITS400), "J" EV(",\"data\":-" DIGITS400) "\n"),
	OK("number spelling kept exactly", CTS, NULL,
	    EV(",\"data\":[-0.0e-0,1E+2,0.10]"),
	    "J" EV(",\"data\":[-0.0e-0,1E+2,0.10]") "\n"),
	OK("whitespace inside data kept exactly", CTS, NULL,
	    EV(",\"data\": { \"a\" :\t[ 1 ,2 ] }\n"),
	    "J" EV(",\"data\":{ \"a\" :\t[ 1 ,2 ] }") "\n"),
	OK("data false", CTS, NULL, EV(",\"data\":false"),
	    "J" EV(",\"data\":false") "\n"),
	OK("505 levels of nesting accepted", CTS, NULL,
	    EV(",\"data\":" DEEP504), "J" EV(",\"data\":" DEEP504) "\n"),
	BAD("nesting deeper than 512 refused", CTS, NULL,
	    EV(",\"data\":" NEST512("")), 400, "body", -1),

	/* data_base64. */
	BADW("data and data_base64 together", CTS, NULL,
	    EV(",\"data\":1,\"data_base64\":\"AA==\""), 400, "data_base64", -1,
	    "mutually exclusive"),
	OK("data_base64 empty", CTS, NULL, EV(",\"data_base64\":\"\""),
	    "B" EV(",\"data_base64\":\"\"") "\n"),
	OK("data_base64 one byte", CTS, NULL, EV(",\"data_base64\":\"AA==\""),
	    "B" EV(",\"data_base64\":\"AA==\"") "\n"),
	OK("data_base64 two bytes", CTS, NULL, EV(",\"data_base64\":\"AAE=\""),
	    "B" EV(",\"data_base64\":\"AAE=\"") "\n"),
	OK("data_base64 with escaped slash", CTS, NULL,
	    EV(",\"data_base64\":\"\\/w==\""),
	    "B" EV(",\"data_base64\":\"/w==\"") "\n"),
	OK("data_base64 with a JSON datacontenttype is still bytes", CTS,
	    NULL, EV(",\"datacontenttype\":\"application/json\","
	    "\"data_base64\":\"e30=\""),
	    "B" EV(",\"datacontenttype\":\"application/json\","
	    "\"data_base64\":\"e30=\"") "\n"),
	BAD("data_base64 a number", CTS, NULL, EV(",\"data_base64\":12"), 400,
	    "data_base64", -1),
	BAD("data_base64 bad characters", CTS, NULL,
	    EV(",\"data_base64\":\"!!!!\""), 400, "data_base64", -1),
	BAD("data_base64 length not a multiple of 4", CTS, NULL,
	    EV(",\"data_base64\":\"AAA\""), 400, "data_base64", -1),
	BAD("data_base64 three pads", CTS, NULL,
	    EV(",\"data_base64\":\"A===\""), 400, "data_base64", -1),
	BAD("data_base64 pad in the middle", CTS, NULL,
	    EV(",\"data_base64\":\"AA=A\""), 400, "data_base64", -1),
	BAD("data_base64 with a line break", CTS, NULL,
	    EV(",\"data_base64\":\"AA\\nAA==\""), 400, "data_base64", -1),
	BAD("data_base64 URL-safe alphabet", CTS, NULL,
	    EV(",\"data_base64\":\"-_-_\""), 400, "data_base64", -1),

	/* Structured body errors. */
	BAD("structured body not JSON", CTS, NULL, "{", 400, "body", -1),
	BAD("structured body with trailing bytes", CTS, NULL, EV("") " x",
	    400, "body", -1),
	BAD("structured body an array", CTS, NULL, "[" EV("") "]", 400,
	    "body", -1),
	BAD("structured body a string", CTS, NULL, "\"x\"", 400, "body", -1),
	BAD("structured body empty", CTS, NULL, "", 400, "body", -1),
	BAD("structured body with a byte order mark", CTS, NULL,
	    "\xef\xbb\xbf" EV(""), 400, "body", -1),
	BAD("trailing comma", CTS, NULL, "{" REQ ",}", 400, "body", -1),
	BAD("single quotes", CTS, NULL, "{'id':'1'}", 400, "body", -1),
	/* Regression: a NUL after a number made the parser loop forever. */
	BAD("NUL byte after a number in a batch", CTB, NULL, "[[5\0]]", 400,
	    "body", -1),
	BAD("NUL byte in a structured body", CTS, NULL, EV("") "\0", 400,
	    "body", -1),

	/* Batches: atomic, faults carry the index. */
	OK("empty batch", CTB, NULL, "[]", ""),
	OK("empty batch with whitespace", CTB, NULL, " [ ]\n", ""),
	OK("batch of two", CTB "; charset=utf-8", NULL,
	    "[" EV(",\"data\":{\"n\":1e999}") ",\n" EV(",\"x\":1") "]",
	    "J" EV(",\"data\":{\"n\":1e999}") "\nN" EV(",\"x\":1") "\n"),
	BADW("batch, second event lacks id", CTB, NULL,
	    "[" EV("") ",{\"specversion\":\"1.0\",\"source\":\"/s\","
	    "\"type\":\"t\"}]", 400, "id", 1, "missing"),
	BAD("batch, first element a number", CTB, NULL, "[3," EV("") "]", 400,
	    "body", 0),
	BAD("batch, third element bad", CTB, NULL,
	    "[" EV("") "," EV("") "," EV(",\"n\":1.5") "]", 400, "n", 2),
	BAD("batch, null element", CTB, NULL, "[null]", 400, "body", 0),
	BAD("batch, nested array element", CTB, NULL, "[[" EV("") "]]", 400,
	    "body", 0),
	BAD("batch, repeated member in the second event", CTB, NULL,
	    "[" EV("") "," EV(",\"type\":\"u\"") "]", 400, "type", 1),
	BAD("batch, data and data_base64 in the second event", CTB, NULL,
	    "[" EV("") "," EV(",\"data\":1,\"data_base64\":\"\"") "]", 400,
	    "data_base64", 1),
	OK("batch, data null kept per event", CTB, NULL,
	    "[" EV(",\"data\":null") "," EV("") "]",
	    "J" EV(",\"data\":null") "\nN" EV("") "\n"),
	BADW("batch, data null and data_base64 in the second event", CTB,
	    NULL, "[" EV("") "," EV(",\"data_base64\":\"\",\"data\":null")
	    "]", 400, "data_base64", 1, "mutually exclusive"),
	BAD("batch body an object", CTB, NULL, EV(""), 400, "body", -1),
	BAD("batch body not JSON", CTB, NULL, "[" EV("") ",", 400, "body",
	    -1),

	/* Binary header values: quoted-string, then percent-decoding. */
	OK("percent-decoded once", NULL,
	    "ce-specversion: 1.0\nce-id: %2541\nce-source: /a%20b\n"
	    "ce-type: %E2%82%ac\n", "",
	    "N{\"specversion\":\"1.0\",\"id\":\"%41\",\"source\":\"/a b\","
	    "\"type\":\"\xe2\x82\xac\"}\n"),
	OK("stray percent signs stay", NULL,
	    "ce-specversion: 1.0\nce-id: 100%\nce-source: %zz\n"
	    "ce-type: %4\n", "",
	    "N{\"specversion\":\"1.0\",\"id\":\"100%\",\"source\":\"%zz\","
	    "\"type\":\"%4\"}\n"),
	OK("quoted-string unquoted, escapes undone", NULL,
	    "ce-specversion: 1.0\nce-id: \"a\\\"b\\\\c\"\n"
	    "ce-source: \"/a%20b\"\nce-type: \"\\%41\"\n", "",
	    "N{\"specversion\":\"1.0\",\"id\":\"a\\\"b\\\\c\",\"source\":"
	    "\"/a b\",\"type\":\"A\"}\n"),
	OK("not one quoted-string: kept literally", NULL,
	    "ce-specversion: 1.0\nce-id: \"abc\nce-source: \"a\" \"b\"\n"
	    "ce-type: \"x\\\"\n", "",
	    "N{\"specversion\":\"1.0\",\"id\":\"\\\"abc\",\"source\":"
	    "\"\\\"a\\\" \\\"b\\\"\",\"type\":\"\\\"x\\\\\\\"\"}\n"),
	BAD("empty quoted-string id", NULL,
	    "ce-specversion: 1.0\nce-id: \"\"\nce-source: /s\nce-type: t\n",
	    "", 400, "id", -1),
	OK("raw UTF-8 header value", NULL, BIN "ce-x: caf\xc3\xa9\n", "",
	    "N" EV(",\"x\":\"caf\xc3\xa9\"") "\n"),
	BAD("raw invalid UTF-8 header value", NULL, BIN "ce-x: \xff\n", "",
	    400, "x", -1),
	BAD("percent-encoded invalid UTF-8", NULL, BIN "ce-x: %C3%28\n", "",
	    400, "x", -1),
	BAD("percent-encoded overlong", NULL, BIN "ce-x: %C0%AF\n", "", 400,
	    "x", -1),
	BAD("percent-encoded surrogate", NULL, BIN "ce-x: %ED%A0%80\n", "",
	    400, "x", -1),
	BAD("percent-encoded NUL", NULL, BIN "ce-x: a%00\n", "", 400, "x", -1),
	BAD("percent-encoded control", NULL, BIN "ce-x: %0A\n", "", 400, "x",
	    -1),
	BADW("ce-datacontenttype header refused", "text/plain",
	    BIN "ce-datacontenttype: text/plain\n", "x", 400,
	    "datacontenttype", -1, "Content-Type"),

	/* Binary data. */
	BADW("JSON Content-Type with a non-JSON body", "application/json",
	    BIN, "not json", 400, "data", -1, "not JSON"),
	BAD("+json Content-Type with a non-JSON body",
	    "application/vnd.x+json; v=1", BIN, "{'a':1}", 400, "data", -1),
	BAD("any */json Content-Type with a non-JSON body", "example/json",
	    BIN, "not json", 400, "data", -1),
	OK("any */json Content-Type: body kept as JSON", "image/JSON", BIN,
	    "[1]", "J" EV(",\"datacontenttype\":\"image/JSON\","
	    "\"data\":[1]") "\n"),
	OK("binary JSON body null is JSON null", "application/json", BIN,
	    "null", "J" EV(",\"datacontenttype\":\"application/json\","
	    "\"data\":null") "\n"),
	BAD("JSON Content-Type with only whitespace", "application/json",
	    BIN, " \n", 400, "data", -1),
	OK("JSON body kept exactly, whitespace included", "text/json", BIN,
	    " {\"a\" : 1e400}\n",
	    "J" EV(",\"datacontenttype\":\"text/json\",\"data\": {\"a\" : "
	    "1e400}\n") "\n"),
	OK("JSON Content-Type, empty body: no data", "application/json", BIN,
	    "", "N" EV(",\"datacontenttype\":\"application/json\"") "\n"),
	OK("text body with a NUL is bytes", "text/plain", BIN, "a\0b",
	    "B" EV(",\"datacontenttype\":\"text/plain\","
	    "\"data_base64\":\"YQBi\"") "\n"),
	OK("text body not UTF-8 is bytes", "text/plain; charset=latin1", BIN,
	    "caf\xe9",
	    "B" EV(",\"datacontenttype\":\"text/plain; charset=latin1\","
	    "\"data_base64\":\"Y2Fm6Q==\"") "\n"),
	OK("application/xml body is text", "application/xml", BIN,
	    "<a x=\"1\"/>\n",
	    "T" EV(",\"datacontenttype\":\"application/xml\","
	    "\"data\":\"<a x=\\\"1\\\"/>\\n\"") "\n"),
	OK("+xml body is text", "application/atom+xml", BIN, "<feed/>",
	    "T" EV(",\"datacontenttype\":\"application/atom+xml\","
	    "\"data\":\"<feed/>\"") "\n"),
	OK("image bytes kept exactly", "image/png", BIN,
	    "\x89PNG\r\n\x1a\n\0\xff",
	    "B" EV(",\"datacontenttype\":\"image/png\","
	    "\"data_base64\":\"iVBORw0KGgoA/w==\"") "\n"),
	OK("extensions keep header order, datacontenttype last", "text/plain",
	    "ce-b: 2\n" BIN "ce-a: 1\n", "x",
	    "T" EV(",\"b\":\"2\",\"a\":\"1\",\"datacontenttype\":\"text/plain\","
	    "\"data\":\"x\"") "\n"),
};

#define NCASES (sizeof cases / sizeof cases[0])

/* Splits "name: value\n" lines into headers (in a copy the caller frees). */
static char *
split_headers(const char *text, struct ce_header *h, size_t *nh, size_t max)
{
	char *copy, *p, *nl, *colon;

	*nh = 0;
	if (text == NULL)
		return NULL;
	copy = xstrdup(text);
	for (p = copy; *p != '\0' && *nh < max; p = nl + 1) {
		nl = strchr(p, '\n');
		*nl = '\0';
		colon = strchr(p, ':');
		*colon = '\0';
		h[*nh].name = p;
		h[(*nh)++].value = colon[1] == ' ' ? colon + 2 : colon + 1;
	}
	return copy;
}

static const char kind_letter[] = "NJTB";

static int
same_event(const struct cloudevent *a, const struct cloudevent *b)
{
	const struct ce_attr *x;
	size_t i;

	if (a->nattrs != b->nattrs || a->kind != b->kind ||
	    a->data_len != b->data_len ||
	    (a->data_len > 0 && memcmp(a->data, b->data, a->data_len) != 0))
		return 0;
	for (i = 0; i < a->nattrs; i++) {
		x = &b->attrs[i];
		if (strcmp(x->name, a->attrs[i].name) != 0 ||
		    x->type != a->attrs[i].type ||
		    strcmp(x->value, a->attrs[i].value) != 0)
			return 0;
	}
	return 1;
}

/* The event survives its JSON form and its stored form unchanged. */
static int
round_trips(const struct cloudevent *ev)
{
	struct cloudevent *st;
	struct ce_stored sto;
	struct ce_problem pr;
	struct ce_list l;
	struct buf b, w;
	int same;

	buf_init(&b, 0);
	buf_init(&w, 0);
	cloudevent_write_json(ev, 0, &b);
	st = cloudevent_from_stored(b.data, ev->kind, ev->data, ev->data_len);
	same = st != NULL && same_event(ev, st);
	cloudevent_free(st);
	/* written from the stored form: the same bytes as from the event */
	sto = (struct ce_stored){ b.data, ev->kind, ev->data, ev->data_len };
	same = same && cloudevent_write_stored(&sto, &w) == 0;
	buf_reset(&b);
	cloudevent_write_json(ev, 1, &b);
	same = same && w.len == b.len && memcmp(w.data, b.data, b.len) == 0;
	buf_free(&w);
	if (cloudevent_parse_http(CTS, NULL, 0, b.data, b.len, &l, &pr) != 0) {
		ce_problem_free(&pr);
		same = 0;
	} else {
		/* Only JSON data may lose whitespace around it. */
		same = same && l.n == 1 && l.ev[0]->kind == ev->kind &&
		    l.ev[0]->nattrs == ev->nattrs &&
		    (ev->kind == CE_DATA_JSON || same_event(ev, l.ev[0]));
		ce_list_free(&l);
	}
	buf_free(&b);
	return same;
}

static void
run_case(const struct hcase *c)
{
	struct ce_header h[16];
	struct ce_problem pr;
	struct ce_list l;
	struct buf got;
	size_t nh, i;
	char *copy;
	int r, trips = 1;

	copy = split_headers(c->hdrs, h, &nh, 16);
	r = cloudevent_parse_http(c->ct, h, nh, c->body, c->blen, &l, &pr);
	free(copy);
	if (c->status == 0) {
		if (r != 0) {
			ok(0, "%s: accepted", c->desc);
			printf("#   refused: %d %s: %s\n", pr.status,
			    pr.nfaults ? pr.faults[0].attribute : "-",
			    pr.nfaults ? pr.faults[0].reason : "-");
			ce_problem_free(&pr);
			return;
		}
		buf_init(&got, 0);
		for (i = 0; i < l.n; i++) {
			buf_printf(&got, "%c", kind_letter[l.ev[i]->kind]);
			cloudevent_write_json(l.ev[i], 1, &got);
			buf_addstr(&got, "\n");
			trips = trips && round_trips(l.ev[i]);
		}
		is_str(got.data ? got.data : "", c->want, "%s", c->desc);
		ok(trips, "%s: JSON and stored forms round-trip", c->desc);
		buf_free(&got);
		ce_list_free(&l);
		return;
	}
	if (r == 0) {
		ok(0, "%s: refused", c->desc);
		ce_list_free(&l);
		return;
	}
	ok(pr.status == c->status && pr.nfaults > 0 &&
	    strcmp(pr.faults[0].attribute, c->want) == 0 &&
	    pr.faults[0].index == c->index && l.n == 0 && pr.title != NULL &&
	    (c->why == NULL || strstr(pr.faults[0].reason, c->why) != NULL),
	    "%s: %d %s [%d]", c->desc, c->status, c->want, c->index);
	if (pr.nfaults > 0 && (pr.status != c->status ||
	    strcmp(pr.faults[0].attribute, c->want) != 0 ||
	    pr.faults[0].index != c->index))
		printf("#   got %d %s [%d]: %s\n", pr.status,
		    pr.faults[0].attribute, pr.faults[0].index,
		    pr.faults[0].reason);
	ce_problem_free(&pr);
}

/* ---- validators ---------------------------------------------------- */

struct vcase {
	int (*fn)(const char *);
	const char *fname;
	const char *in;
	int want;
};

#define V(f, s, w) { f, #f, s, w }

static const struct vcase vcases[] = {
	V(cloudevent_valid_timestamp, "2020-01-01T00:00:00Z", 1),
	V(cloudevent_valid_timestamp, "2024-02-29T12:00:00Z", 1),
	V(cloudevent_valid_timestamp, "2000-02-29T12:00:00Z", 1),
	V(cloudevent_valid_timestamp, "2023-02-29T12:00:00Z", 0),
	V(cloudevent_valid_timestamp, "1900-02-29T12:00:00Z", 0),
	V(cloudevent_valid_timestamp, "2016-12-31T23:59:60Z", 1),
	V(cloudevent_valid_timestamp, "2020-01-01t00:00:00z", 1),
	V(cloudevent_valid_timestamp, "2020-01-01T00:00:00.123456789+05:30",
	    1),
	V(cloudevent_valid_timestamp, "2020-01-01T00:00:00-00:00", 1),
	V(cloudevent_valid_timestamp, "2020-12-31T23:59:59+23:59", 1),
	V(cloudevent_valid_timestamp, "2020-13-01T00:00:00Z", 0),
	V(cloudevent_valid_timestamp, "2020-00-01T00:00:00Z", 0),
	V(cloudevent_valid_timestamp, "2020-04-31T00:00:00Z", 0),
	V(cloudevent_valid_timestamp, "2020-12-32T00:00:00Z", 0),
	V(cloudevent_valid_timestamp, "2020-01-00T00:00:00Z", 0),
	V(cloudevent_valid_timestamp, "2020-01-01T24:00:00Z", 0),
	V(cloudevent_valid_timestamp, "2020-01-01T00:60:00Z", 0),
	V(cloudevent_valid_timestamp, "2020-01-01T00:00:61Z", 0),
	V(cloudevent_valid_timestamp, "2020-01-01T00:00:00", 0),
	V(cloudevent_valid_timestamp, "2020-01-01 00:00:00Z", 0),
	V(cloudevent_valid_timestamp, "2020-01-01T00:00:00.Z", 0),
	V(cloudevent_valid_timestamp, "2020-01-01T00:00:00+0100", 0),
	V(cloudevent_valid_timestamp, "2020-01-01T00:00:00+24:00", 0),
	V(cloudevent_valid_timestamp, "2020-01-01T00:00:00+01:60", 0),
	V(cloudevent_valid_timestamp, "2020-1-01T00:00:00Z", 0),
	V(cloudevent_valid_timestamp, "2020-01-01T00:00:00ZZ", 0),
	V(cloudevent_valid_timestamp, "2020-01-01", 0),
	V(cloudevent_valid_timestamp, "", 0),
	V(cloudevent_valid_media_type, "text/plain", 1),
	V(cloudevent_valid_media_type, "TEXT/PLAIN", 1),
	V(cloudevent_valid_media_type, "text/plain; charset=utf-8", 1),
	V(cloudevent_valid_media_type, "text/plain;charset=\"utf-8\"", 1),
	V(cloudevent_valid_media_type,
	    "multipart/form-data; boundary=\"a b;c\"", 1),
	V(cloudevent_valid_media_type, "text/plain; x=\"a\\\"b\"", 1),
	V(cloudevent_valid_media_type, "application/vnd.api+json", 1),
	V(cloudevent_valid_media_type, "text/plain ; a=b ; c=d", 1),
	V(cloudevent_valid_media_type, "text/plain;", 1),
	V(cloudevent_valid_media_type, "", 0),
	V(cloudevent_valid_media_type, "text", 0),
	V(cloudevent_valid_media_type, "text/", 0),
	V(cloudevent_valid_media_type, "/plain", 0),
	V(cloudevent_valid_media_type, "text /plain", 0),
	V(cloudevent_valid_media_type, "text/plain; charset", 0),
	V(cloudevent_valid_media_type, "text/plain; =x", 0),
	V(cloudevent_valid_media_type, "text/plain; a=\"x", 0),
	V(cloudevent_valid_media_type, "text/plain; a=b c", 0),
	V(cloudevent_valid_media_type, "text/plain, text/html", 0),
	V(cloudevent_media_is_json, "application/json", 1),
	V(cloudevent_media_is_json, "APPLICATION/JSON; charset=utf-8", 1),
	V(cloudevent_media_is_json, "text/json", 1),
	V(cloudevent_media_is_json, "application/vnd.foo+json", 1),
	V(cloudevent_media_is_json, "application/ld+json ; x=y", 1),
	V(cloudevent_media_is_json, "example/json", 1),
	V(cloudevent_media_is_json, "Image/JSON ;v=1", 1),
	V(cloudevent_media_is_json, " application/json\t", 1),
	V(cloudevent_media_is_json, "application/vnd.x+JSON", 1),
	V(cloudevent_media_is_json, "application/json-seq", 0),
	V(cloudevent_media_is_json, "application/x-json", 0),
	V(cloudevent_media_is_json, "application/json+x", 0),
	V(cloudevent_media_is_json, "/json", 0),
	V(cloudevent_media_is_json, "json", 0),
	V(cloudevent_media_is_json, "text/plain; x=json", 0),
	V(cloudevent_media_is_json, "text/plain; x=a+json", 0),
	V(cloudevent_media_is_json, "application/jsonx", 0),
	V(cloudevent_media_is_json, "application/geo+json-seq", 0),
	V(cloudevent_media_is_json, "text/plain", 0),
	V(cloudevent_valid_name, "a", 1),
	V(cloudevent_valid_name, "abc123", 1),
	V(cloudevent_valid_name, "0", 1),
	V(cloudevent_valid_name, NAME300, 1),
	V(cloudevent_valid_name, "", 0),
	V(cloudevent_valid_name, "A", 0),
	V(cloudevent_valid_name, "a-b", 0),
	V(cloudevent_valid_name, "a_b", 0),
	V(cloudevent_valid_name, "a.b", 0),
	V(cloudevent_valid_name, "\xc3\xa9", 0),
	V(cloudevent_valid_uri, "https://example.com/x?y#z", 1),
	V(cloudevent_valid_uri, "urn:uuid:1", 1),
	V(cloudevent_valid_uri, "a+b-c.d:x", 1),
	V(cloudevent_valid_uri, "mailto:a@b", 1),
	V(cloudevent_valid_uri, "", 0),
	V(cloudevent_valid_uri, "/path", 0),
	V(cloudevent_valid_uri, ":x", 0),
	V(cloudevent_valid_uri, "1a:b", 0),
	V(cloudevent_valid_uri, "a b:c", 0),
	V(cloudevent_valid_uri, "http://a\tb", 0),
	V(cloudevent_valid_uri_ref, "/", 1),
	V(cloudevent_valid_uri_ref, "a b", 1),
	V(cloudevent_valid_uri_ref, "", 0),
	V(cloudevent_valid_uri_ref, "\x01", 0),
};

#define NVCASES (sizeof vcases / sizeof vcases[0])

struct ucase {
	const char *in;
	size_t len;
	int utf8;   /* want from cloudevent_valid_utf8 */
	int string; /* want from cloudevent_valid_string */
	const char *desc;
};

#define U(s, u, t, d) { s, sizeof(s) - 1, u, t, d }

static const struct ucase ucases[] = {
	U("", 1, 1, "empty"),
	U("abc", 1, 1, "ASCII"),
	U("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 1, 1, "2, 3, 4 bytes"),
	U("\xf4\x8f\xbf\xbd", 1, 1, "U+10FFFD"),
	U("\xc2\xa0", 1, 1, "U+00A0"),
	U("a\0b", 1, 0, "NUL"),
	U("a\tb", 1, 0, "tab"),
	U("\x7f", 1, 0, "DEL"),
	U("\xc2\x85", 1, 0, "U+0085"),
	U("\xef\xb7\x90", 1, 0, "U+FDD0"),
	U("\xef\xb7\xaf", 1, 0, "U+FDEF"),
	U("\xef\xbf\xbe", 1, 0, "U+FFFE"),
	U("\xf0\x9f\xbf\xbf", 1, 0, "U+1FFFF"),
	U("\xf4\x8f\xbf\xbf", 1, 0, "U+10FFFF"),
	U("\xc0\xaf", 0, 0, "overlong 2 bytes"),
	U("\xc1\xbf", 0, 0, "overlong C1"),
	U("\xe0\x80\xaf", 0, 0, "overlong 3 bytes"),
	U("\xf0\x80\x80\xaf", 0, 0, "overlong 4 bytes"),
	U("\xed\xa0\x80", 0, 0, "surrogate D800"),
	U("\xed\xbf\xbf", 0, 0, "surrogate DFFF"),
	U("\xf4\x90\x80\x80", 0, 0, "above U+10FFFF"),
	U("\xf5\x80\x80\x80", 0, 0, "F5 lead"),
	U("\xff", 0, 0, "FF"),
	U("\x80", 0, 0, "lone continuation"),
	U("\xc3", 0, 0, "truncated 2"),
	U("\xe2\x82", 0, 0, "truncated 3"),
	U("\xe2\x28\xa1", 0, 0, "bad continuation"),
};

#define NUCASES (sizeof ucases / sizeof ucases[0])

/* ---- jsonscan_validate (strict RFC 8259) --------------------------- */

static const struct {
	const char *text;
	size_t len;
	long errpos; /* -1: valid, else where the bad token starts */
} jcases[] = {
#define J(s, e) { s, sizeof(s) - 1, e }
	J("0", -1), J("-0", -1), J("1.5e+3", -1), J("-12.0E-05", -1),
	J("true", -1), J("false", -1), J("null", -1), J("\"\"", -1),
	J("\"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\"", -1),
	J("\"\xf0\x9f\x98\x80\"", -1), J("[]", -1), J("{}", -1),
	J(" [ 1 , { \"a\" : [ ] } , \"x\" ]\r\n", -1),
	J("{\"a\":{\"b\":[null,true]},\"c\":-1}", -1),
	J("", 0), J(" ", 1), J("01", 1), J("1.", 0), J(".5", 0), J("+1", 0),
	J("1e", 0), J("-", 0), J("[1,]", 3), J("{\"a\"}", 1),
	J("{\"a\":}", 5), J("{,}", 1), J("[", 1), J("]", 0), J("tru", 0),
	J("nul", 0), J("\"\\x\"", 0), J("\"\\u12\"", 0), J("\"\t\"", 0),
	J("\"\\ud800\"", 0), J("\"\\udc00\"", 0), J("\"\\ud800\\u0041\"", 0),
	J("\"\xc0\xaf\"", 0), J("\"\xed\xa0\x80\"", 0), J("[1]x", 3),
	J("{\"a\":1,}", 7), J("NaN", 0), J("Infinity", 0), J("'a'", 0),
	J("[1 2]", 3), J("{\"a\" 1}", 1), J("{1:2}", 1), J("\"abc", 0),
	J("[1]\0", 3), J("1\0", 1),
#undef J
};

/* The deepest nesting passes; one more is -2 at the bracket too deep. */
static void
test_validate_depth(void)
{
	char text[2 * (JSONSCAN_MAX_DEPTH + 1)];
	size_t at = 0, i;
	int n;

	for (n = JSONSCAN_MAX_DEPTH; n <= JSONSCAN_MAX_DEPTH + 1; n++) {
		for (i = 0; i < (size_t)n; i++) {
			text[i] = '[';
			text[2 * (size_t)n - 1 - i] = ']';
		}
		is_int(jsonscan_validate(text, 2 * (size_t)n, &at),
		    n > JSONSCAN_MAX_DEPTH ? -2 : 0, "%d levels", n);
	}
	is_int((long)at, JSONSCAN_MAX_DEPTH, "-2 names the bracket too deep");
	text[1] = 'x'; /* a bad byte before the depth is reached: -1 */
	is_int(jsonscan_validate(text, 2 * (JSONSCAN_MAX_DEPTH + 1), &at), -1,
	    "a bad byte is -1");
}

static void
test_validate(void)
{
	size_t i, at;
	long got;

	for (i = 0; i < sizeof jcases / sizeof jcases[0]; i++) {
		at = 0;
		got = jsonscan_validate(jcases[i].text, jcases[i].len, &at) == 0 ?
		    -1 : (long)at;
		is_int(got, jcases[i].errpos, "jsonscan_validate case %zu", i);
	}
	test_validate_depth();
}

/* ---- base64 -------------------------------------------------------- */

static const struct {
	const char *raw, *b64;
} b64vec[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static const char *const b64bad[] = {
	"Zg=", "Zg", "Z===", "Zg=a", "Zm9v\n", "Zm9-", "Zm9_", "====",
	"Zm=v", " Zm9", "Zg==Zg==",
};

static void
test_base64(void)
{
	unsigned char all[256], *out;
	size_t i, n;
	char *enc;

	for (i = 0; i < sizeof b64vec / sizeof b64vec[0]; i++) {
		enc = cloudevent_base64_encode(b64vec[i].raw,
		    strlen(b64vec[i].raw));
		is_str(enc, b64vec[i].b64, "base64 encode \"%s\"",
		    b64vec[i].raw);
		free(enc);
		out = NULL;
		ok(cloudevent_base64_decode(b64vec[i].b64,
		    strlen(b64vec[i].b64), &out, &n) == 0 &&
		    n == strlen(b64vec[i].raw) &&
		    memcmp(out, b64vec[i].raw, n) == 0,
		    "base64 decode \"%s\"", b64vec[i].b64);
		free(out);
	}
	for (i = 0; i < sizeof b64bad / sizeof b64bad[0]; i++) {
		out = NULL;
		ok(cloudevent_base64_decode(b64bad[i], strlen(b64bad[i]), &out,
		    &n) == -1 && out == NULL, "base64 refuses bad input %zu",
		    i);
	}
	for (i = 0; i < sizeof all; i++)
		all[i] = (unsigned char)(255 - i);
	enc = cloudevent_base64_encode(all, sizeof all);
	ok(cloudevent_base64_decode(enc, strlen(enc), &out, &n) == 0 &&
	    n == sizeof all && memcmp(out, all, n) == 0,
	    "base64 round trip of all 256 byte values");
	free(out);
	free(enc);
}

/* ---- stored form --------------------------------------------------- */

static void
test_stored(void)
{
	static const unsigned char bytes[] = { 0, 1, 0xff };
	struct cloudevent *ev;
	struct buf b;

	ev = cloudevent_from_stored("{\"specversion\":\"1.0\",\"id\":\"x\","
	    "\"n\":-0,\"big\":1e400,\"t\":true,\"s\":\"\\u00e9\"}",
	    CE_DATA_BINARY, bytes, sizeof bytes);
	ok(ev != NULL, "from_stored parses");
	if (ev == NULL)
		return;
	is_int(ev->nattrs, 6, "from_stored keeps every attribute");
	is_int(cloudevent_attr(ev, "n")->type, CE_VALUE_INTEGER,
	    "from_stored integer type");
	is_str(cloudevent_get(ev, "n"), "-0",
	    "from_stored keeps the integer as written");
	is_int(cloudevent_attr(ev, "t")->type, CE_VALUE_BOOLEAN,
	    "from_stored boolean type");
	is_str(cloudevent_get(ev, "s"), "\xc3\xa9", "from_stored unescapes");
	ok(ev->kind == CE_DATA_BINARY && ev->data_len == 3 &&
	    memcmp(ev->data, bytes, 3) == 0, "from_stored keeps data bytes");
	buf_init(&b, 0);
	cloudevent_write_json(ev, 1, &b);
	is_str(b.data, "{\"specversion\":\"1.0\",\"id\":\"x\",\"n\":-0,"
	    "\"big\":1e400,\"t\":true,\"s\":\"\xc3\xa9\","
	    "\"data_base64\":\"AAH/\"}", "stored event written back");
	buf_free(&b);
	cloudevent_free(ev);
	ok(cloudevent_from_stored("{\"a\":", CE_DATA_NONE, NULL, 0) == NULL,
	    "from_stored refuses broken text");
	ok(cloudevent_from_stored("[1]", CE_DATA_NONE, NULL, 0) == NULL,
	    "from_stored refuses a non-object");
	{
		struct ce_stored bad = { "[1]", CE_DATA_NONE, NULL, 0 };
		struct ce_stored none = { "{}", CE_DATA_TEXT, "hi", 2 };
		struct buf w;

		buf_init(&w, 0);
		ok(cloudevent_write_stored(&bad, &w) == -1 && w.len == 0,
		    "write_stored: not an object is -1, nothing written");
		ok(cloudevent_write_stored(&none, &w) == 0 &&
		    strcmp(w.data, "{\"data\":\"hi\"}") == 0,
		    "write_stored: no attributes, no stray comma");
		buf_free(&w);
	}
	ev = cloudevent_from_stored("{}", CE_DATA_NONE, NULL, 0);
	ok(ev != NULL && ev->nattrs == 0 && ev->data == NULL,
	    "from_stored of an empty object");
	cloudevent_free(ev);
}

/* ---- accessors and mode -------------------------------------------- */

static void
test_accessors(void)
{
	struct ce_problem pr;
	struct ce_list l;
	const struct ce_attr *a;
	const char *body = EV(",\"n\":7,\"b\":false,\"s\":\"x\"");

	is_int(cloudevent_mode(NULL), CE_MODE_BINARY, "mode without type");
	is_int(cloudevent_mode(" application/cloudevents+json;x=1"),
	    CE_MODE_STRUCTURED, "mode structured");
	is_int(cloudevent_mode("APPLICATION/CLOUDEVENTS-BATCH+JSON"),
	    CE_MODE_BATCH, "mode batch");
	is_int(cloudevent_mode("application/cloudevents+jsonx"),
	    CE_MODE_BINARY, "mode: a longer subtype is not structured");
	if (cloudevent_parse_http(CTS, NULL, 0, body, strlen(body), &l,
	    &pr) != 0) {
		ok(0, "accessor event parses");
		ce_problem_free(&pr);
		return;
	}
	a = cloudevent_attr(l.ev[0], "n");
	ok(a != NULL && a->type == CE_VALUE_INTEGER &&
	    strcmp(a->value, "7") == 0, "attr n is Integer 7");
	a = cloudevent_attr(l.ev[0], "b");
	ok(a != NULL && a->type == CE_VALUE_BOOLEAN &&
	    strcmp(a->value, "false") == 0, "attr b is Boolean false");
	a = cloudevent_attr(l.ev[0], "s");
	ok(a != NULL && a->type == CE_VALUE_STRING &&
	    strcmp(a->value, "x") == 0, "attr s is String x");
	ok(cloudevent_get(l.ev[0], "subject") == NULL, "absent attribute");
	is_str(l.ev[0]->attrs[0].name, "specversion", "first attribute");
	ok(l.ev[0]->kind == CE_DATA_NONE && l.ev[0]->data == NULL &&
	    l.ev[0]->data_len == 0, "no data");
	ce_list_free(&l);
}

/* At most CE_MAX_FAULTS faults, however many there are. */
static void
test_fault_cap(void)
{
	struct ce_problem pr;
	struct ce_list l;
	struct buf b;
	int i;

	buf_init(&b, 0);
	buf_addstr(&b, "[");
	for (i = 0; i < 100; i++)
		buf_printf(&b, "%s{}", i ? "," : "");
	buf_addstr(&b, "]");
	ok(cloudevent_parse_http(CTB, NULL, 0, b.data, b.len, &l, &pr) ==
	    -1 && pr.nfaults == CE_MAX_FAULTS && pr.status == 400,
	    "faults capped at %d", CE_MAX_FAULTS);
	ce_problem_free(&pr);
	buf_free(&b);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < NCASES; i++)
		run_case(&cases[i]);
	for (i = 0; i < NVCASES; i++)
		is_int(vcases[i].fn(vcases[i].in), vcases[i].want, "%s(\"%s\")",
		    vcases[i].fname, vcases[i].in);
	for (i = 0; i < NUCASES; i++) {
		is_int(cloudevent_valid_utf8((const unsigned char *)
		    ucases[i].in, ucases[i].len), ucases[i].utf8,
		    "valid_utf8: %s", ucases[i].desc);
		is_int(cloudevent_valid_string(ucases[i].in, ucases[i].len),
		    ucases[i].string, "valid_string: %s", ucases[i].desc);
	}
	test_validate();
	test_base64();
	test_stored();
	test_accessors();
	test_fault_cap();
	return tap_done();
}
