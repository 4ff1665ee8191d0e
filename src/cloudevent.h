/*
 * cloudevent.h: CloudEvents 1.0 envelopes: parsing and validating the HTTP
 * binding's binary, structured and batched modes, and writing events back out
 * in the JSON format.  The only module that knows CloudEvents rules.
 *
 * Pure: no I/O, no clock, no globals, never logs.  Thread-safe.
 */
#ifndef SLUICE_CLOUDEVENT_H
#define SLUICE_CLOUDEVENT_H

#include <stddef.h>
#include <stdint.h>

#include "xmalloc.h"

/* How an attribute's value was carried (its CloudEvents type on the wire). */
enum ce_value_type {
	CE_VALUE_STRING,
	CE_VALUE_INTEGER,
	CE_VALUE_BOOLEAN,
};

/* What the stored data bytes are. */
enum ce_data_kind {
	CE_DATA_NONE = 0,   /* the event has no data */
	CE_DATA_JSON = 1,   /* JSON text, exactly as the producer sent it */
	CE_DATA_TEXT = 2,   /* UTF-8 text (a JSON string or a text body) */
	CE_DATA_BINARY = 3, /* arbitrary bytes */
};

struct ce_attr {
	char *name;		 /* attribute name, lower case */
	enum ce_value_type type; /* how it was carried */
	char *value;		 /* text form: the string, decimal, true/false */
};

struct cloudevent {
	struct ce_attr *attrs;	  /* specversion, id, source, type, then others */
	size_t nattrs;		  /* entries in attrs */
	enum ce_data_kind kind;	  /* what data holds */
	unsigned char *data;	  /* data bytes, NULL when kind is NONE */
	size_t data_len;	  /* bytes in data */
};

/* A list of parsed events (one for binary and structured mode). */
struct ce_list {
	struct cloudevent **ev; /* the events, in request order */
	size_t n;		/* how many */
};

/* One reason an event was refused. */
struct ce_fault {
	int index;	 /* position in a batch, -1 outside a batch */
	char *attribute; /* attribute (or "data", "body") it concerns */
	char *reason;	 /* what is wrong, for a human */
};

/* Why a request was refused: an HTTP status and the faults found. */
struct ce_problem {
	int status;		 /* 400 or 415 */
	char *title;		 /* short summary */
	struct ce_fault *faults; /* each fault, at most CE_MAX_FAULTS */
	size_t nfaults;		 /* entries in faults */
};

#define CE_MAX_FAULTS 32

/* One HTTP request header as the server received it. */
struct ce_header {
	const char *name;
	const char *value;
};

enum ce_mode {
	CE_MODE_BINARY,
	CE_MODE_STRUCTURED,
	CE_MODE_BATCH,
};

/* Picks the HTTP binding mode from a Content-Type (NULL: binary). */
enum ce_mode cloudevent_mode(const char *content_type);

/*
 * Parses an ingest request.  On success returns 0 and fills out (which the
 * caller frees with ce_list_free).  On failure returns -1 and fills problem
 * (freed with ce_problem_free); out is left empty.
 */
int cloudevent_parse_http(const char *content_type,
    const struct ce_header *headers, size_t nheaders, const void *body,
    size_t len, struct ce_list *out, struct ce_problem *problem)
    __attribute__((warn_unused_result));

void ce_list_free(struct ce_list *);
void ce_problem_free(struct ce_problem *);
void cloudevent_free(struct cloudevent *);

/* The attribute's value text, or NULL when the event does not have it. */
const char *cloudevent_get(const struct cloudevent *, const char *name);
const struct ce_attr *cloudevent_attr(const struct cloudevent *,
    const char *name);

/*
 * Writes the event in the CloudEvents JSON format: attributes typed as they
 * were carried, data as JSON, as a string, or as data_base64.  With
 * with_data 0 the data member is left out (the stored attribute form).
 */
void cloudevent_write_json(const struct cloudevent *, int with_data,
    struct buf *out);

/*
 * An event as stored: attrs is the text cloudevent_write_json wrote without
 * data, and the data beside it (all borrowed).
 */
struct ce_stored {
	const char *attrs;	/* the attribute object, JSON text */
	enum ce_data_kind kind; /* what data holds */
	const void *data;	/* data bytes, NULL when kind is NONE */
	size_t len;		/* bytes in data */
};

/*
 * Writes a stored event as cloudevent_write_json(ev, 1, out) would write
 * the event it stores, byte for byte, without parsing it.  -1 (nothing
 * written) if attrs is not a JSON object's text.
 */
int cloudevent_write_stored(const struct ce_stored *, struct buf *out);

/*
 * Rebuilds an event from its stored parts: attrs_json is the text that
 * cloudevent_write_json wrote without data.  Returns NULL if it is not.
 */
struct cloudevent *cloudevent_from_stored(const char *attrs_json,
    enum ce_data_kind kind, const void *data, size_t len);

/* Validators for the CloudEvents type system, exposed for tests. */
int cloudevent_valid_name(const char *);
int cloudevent_valid_string(const char *, size_t);
int cloudevent_valid_uri(const char *);
int cloudevent_valid_uri_ref(const char *);
int cloudevent_valid_timestamp(const char *);
int cloudevent_valid_media_type(const char *);
int cloudevent_media_is_json(const char *);
int cloudevent_valid_utf8(const unsigned char *, size_t);

/* Base64 (RFC 4648, padded) used for data_base64. */
char *cloudevent_base64_encode(const void *, size_t);
/* Returns 0 and a buffer the caller frees, or -1 if s is not base64. */
int cloudevent_base64_decode(const char *s, size_t len, unsigned char **out,
    size_t *outlen) __attribute__((warn_unused_result));

#endif
