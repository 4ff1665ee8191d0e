/*
 * soapxml.h: writing CloudEvents for the wire formats that the JSON format
 * does not cover: the XML format (working draft xml-format.md) inside SOAP
 * 1.1 and 1.2 envelopes, the percent-encoded ce- headers of the HTTP
 * binding's binary mode, and finding a SOAP Fault in a response.
 *
 * Pure: no I/O, no clock, no globals, never logs.  Thread-safe.  Uses only
 * the public parts of struct cloudevent.
 */
#ifndef SLUICE_SOAPXML_H
#define SLUICE_SOAPXML_H

#include <stddef.h>

#include "xmalloc.h"

struct cloudevent;

/* The namespaces written and recognised. */
#define SOAPXML_NS_CE     "http://cloudevents.io/xmlformat/V1"
#define SOAPXML_NS_SOAP11 "http://schemas.xmlsoap.org/soap/envelope/"
#define SOAPXML_NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"

/*
 * Writes one event as an <event specversion="1.0"> element.  With
 * declare_ns the element declares the CloudEvents namespace (default and
 * "ce"), xsi and xs; without, it relies on an enclosing <batch>.
 * Extensions carry xsi:type ce:string, ce:integer or ce:boolean.  Data is
 * <data xsi:type="xs:any"> holding the root element for XML data (an XML
 * datacontenttype and a well-formed UTF-8 document; the root gets xmlns=""
 * unless it declares a default namespace), xs:string for JSON and other
 * text, xs:base64Binary for bytes and for text XML 1.0 cannot carry.
 * JSON data without a datacontenttype gets an explicit
 * <datacontenttype>application/json</datacontenttype>, as the JSON format
 * asks of a re-serialised event, after id, source and type.
 */
void soapxml_write_event(
    const struct cloudevent *, int declare_ns, struct buf *out);
/* Writes a <batch> (declaring the namespaces) of n events. */
void soapxml_write_batch(
    const struct cloudevent *const *evs, size_t n, struct buf *out);
/*
 * Writes a complete SOAP document: XML declaration, Envelope, and a Body
 * holding one <event>, or a <batch> when batch is set.  version is "1.1"
 * or "1.2"; returns -1 (writing nothing) for any other.
 */
int soapxml_write_envelope(const char *version,
    const struct cloudevent *const *evs, size_t n, int batch, struct buf *out)
    __attribute__((warn_unused_result));
/*
 * The Content-Type for a SOAP request: text/xml for 1.1, application/
 * soap+xml with the action parameter for 1.2 (action may be NULL).
 * Returns NULL for an unknown version; the caller frees.
 */
char *soapxml_content_type(const char *version, const char *action);

/*
 * 1 if a SOAP response body (possibly cut short) has a Fault element in
 * the SOAP 1.1 or 1.2 envelope namespace, 0 otherwise.
 */
int soapxml_has_fault(const void *body, size_t len);

/*
 * Percent-encodes a value for a ce- header of the HTTP binary mode: space,
 * double quote, percent and every byte outside 0x21-0x7E become %XX.
 * The caller frees.
 */
char *soapxml_header_encode(const char *value);
/*
 * The ce- headers for every attribute but datacontenttype, as a
 * NULL-terminated list "ce-name", "encoded value", ...; free with
 * soapxml_strings_free.
 */
char **soapxml_binary_headers(const struct cloudevent *);
void soapxml_strings_free(char **);

/*
 * Finds the root element of an XML document (UTF-8, no DTD, only the five
 * predefined entities, every prefix bound inside it): 0 with its byte
 * range [start, end) and whether it declares a default namespace; -1 if the
 * bytes are not such a well-formed document.
 */
int soapxml_find_root(const void *data, size_t len, size_t *start, size_t *end,
    int *has_default_ns) __attribute__((warn_unused_result));

/*
 * Appends s (len bytes) as XML character data: &, <, >, " and CR escaped
 * (tab and line feed are kept).
 */
void soapxml_escape(struct buf *out, const char *s, size_t len);

#endif
