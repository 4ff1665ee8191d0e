/*
 * test_soapxml.c: the CloudEvents XML format, SOAP envelopes, ce- header
 * encoding and SOAP Fault detection.  Envelopes are checked as exact text
 * and, when xmllint is installed, parsed as XML with their namespaces.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cloudevent.h"
#include "soapxml.h"
#include "tap.h"

#define NS_DECL                                                                \
	" xmlns=\"http://cloudevents.io/xmlformat/V1\""                        \
	" xmlns:ce=\"http://cloudevents.io/xmlformat/V1\""                     \
	" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""             \
	" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\""

static struct cloudevent *
event(const char *json)
{
	struct ce_list l;
	struct ce_problem pr;
	struct cloudevent *ev;

	memset(&pr, 0, sizeof pr);
	if (cloudevent_parse_http("application/cloudevents+json", NULL, 0, json,
	        strlen(json), &l, &pr) != 0) {
		printf("# bad test event: %s: %s\n", json,
		    pr.nfaults > 0 ? pr.faults[0].reason : pr.title);
		ce_problem_free(&pr);
		exit(1);
	}
	ev = l.ev[0];
	l.ev[0] = NULL;
	ce_list_free(&l);
	return ev;
}

static char *
xml_event(const struct cloudevent *ev)
{
	struct buf b;

	buf_init(&b, 0);
	soapxml_write_event(ev, 1, &b);
	return buf_take(&b, NULL);
}

static int have_xmllint;

/* Runs xmllint with args on the text; returns its output (or NULL). */
static char *
xmllint(const char *text, const char *args)
{
	char path[] = "/tmp/test_soapxmlXXXXXX", *cmd, out[4096];
	FILE *f, *p;
	size_t n;
	int fd, st;

	if ((fd = mkstemp(path)) < 0 || (f = fdopen(fd, "w")) == NULL)
		return NULL;
	fputs(text, f);
	fclose(f);
	cmd = xasprintf("xmllint %s %s 2>&1", args, path);
	p = popen(cmd, "r");
	n = p != NULL ? fread(out, 1, sizeof out - 1, p) : 0;
	if (n > 0 && out[n - 1] == '\n')
		n--; /* xmllint ends what it prints with a newline */
	out[n] = '\0';
	st = p != NULL ? pclose(p) : -1;
	free(cmd);
	unlink(path);
	if (st != 0) {
		printf("# xmllint: %s", out);
		return NULL;
	}
	return xstrdup(out);
}

static void
well_formed(const char *text, const char *what)
{
	char *out;

	if (!have_xmllint) {
		ok(1, "%s: well-formed # SKIP xmllint not installed", what);
		return;
	}
	out = xmllint(text, "--noout");
	ok(out != NULL, "%s: xmllint --noout accepts it", what);
	free(out);
}

/* An XPath string() through xmllint, using local names and namespaces. */
static void
xpath_is(const char *text, const char *expr, const char *want, const char *what)
{
	char *args, *out;

	if (!have_xmllint) {
		ok(1, "%s # SKIP xmllint not installed", what);
		return;
	}
	args = xasprintf("--xpath \"string(%s)\"", expr);
	out = xmllint(text, args);
	is_str(out, want, "%s", what);
	free(out);
	free(args);
}

#define CE(local)                                                              \
	"*[local-name()='" local                                               \
	"' and namespace-uri()='http://cloudevents.io/xmlformat/V1']"

static void
test_text(void)
{
	struct cloudevent *ev =
	    event("{\"specversion\":\"1.0\","
	          "\"id\":\"a<&>\\\"b\",\"source\":\"/src\",\"type\":\"t.x\","
	          "\"datacontenttype\":\"text/plain\","
	          "\"data\":\"hi <there> & \\\"you\\\"\\r\\n\"}");
	char *x = xml_event(ev);

	is_str(x,
	    "<event" NS_DECL " specversion=\"1.0\">"
	    "<id>a&lt;&amp;&gt;&quot;b</id><source>/src</source>"
	    "<type>t.x</type><datacontenttype>text/plain</datacontenttype>"
	    "<data xsi:type=\"xs:string\">hi &lt;there&gt; &amp; "
	    "&quot;you&quot;&#13;\n</data></event>",
	    "text data: xs:string, everything escaped");
	well_formed(x, "text event");
	xpath_is(x, "/" CE("event") "/" CE("id"), "a<&>\"b",
	    "text event: id reads back in the CloudEvents namespace");
	xpath_is(x, "/" CE("event") "/" CE("data"), "hi <there> & \"you\"\r\n",
	    "text event: data reads back exactly, CR included");
	free(x);
	cloudevent_free(ev);
}

static void
test_json_and_extensions(void)
{
	struct cloudevent *ev =
	    event("{\"specversion\":\"1.0\",\"id\":\"1\","
	          "\"source\":\"urn:x\",\"type\":\"t\","
	          "\"time\":\"2020-03-19T12:54:00Z\",\"myext\":\"v a\","
	          "\"count\":5,\"flag\":true,"
	          "\"datacontenttype\":\"application/json\","
	          "\"data\":{\"a\":[1,\"<b>\"]}}");
	char *x = xml_event(ev);

	ok(strstr(x, "<myext xsi:type=\"ce:string\">v a</myext>") != NULL,
	    "string extension typed ce:string");
	ok(strstr(x, "<count xsi:type=\"ce:integer\">5</count>") != NULL,
	    "integer extension typed ce:integer");
	ok(strstr(x, "<flag xsi:type=\"ce:boolean\">true</flag>") != NULL,
	    "boolean extension typed ce:boolean");
	ok(strstr(x, "<time>2020-03-19T12:54:00Z</time>") != NULL &&
	        strstr(x, "<time xsi:type") == NULL,
	    "core attribute carries no xsi:type");
	ok(strstr(x,
	       "<data xsi:type=\"xs:string\">{&quot;a&quot;:[1,"
	       "&quot;&lt;b&gt;&quot;]}</data>") != NULL,
	    "JSON data: its text as xs:string, escaped");
	ok(strstr(x, "<specversion>") == NULL,
	    "specversion only as the XML attribute");
	well_formed(x, "JSON event");
	xpath_is(x, "/" CE("event") "/" CE("data"), "{\"a\":[1,\"<b>\"]}",
	    "JSON data reads back as the JSON text");
	xpath_is(
	    x, "/" CE("event") "/@specversion", "1.0", "specversion attribute");
	free(x);
	cloudevent_free(ev);
}

/* Exactly one <datacontenttype> element in x, and what it holds. */
static int
one_type(const char *x, const char *want)
{
	const char *p = strstr(x, "<datacontenttype>");
	size_t n = strlen("<datacontenttype>");

	return p != NULL && strstr(p + n, "<datacontenttype") == NULL &&
	    strncmp(p + n, want, strlen(want)) == 0 &&
	    strncmp(p + n + strlen(want), "</datacontenttype>", 18) == 0;
}

/* JSON format 3.1.2: re-serialised, JSON data names application/json. */
static void
test_implied_type(void)
{
	struct cloudevent *ev =
	    event("{\"subject\":\"s\",\"specversion\":\"1.0\",\"id\":\"1\","
	          "\"source\":\"/s\",\"type\":\"t\",\"myext\":\"v\","
	          "\"data\":{\"a\":1}}");
	struct cloudevent *nul =
	    event("{\"specversion\":\"1.0\",\"id\":\"2\","
	          "\"source\":\"/s\",\"type\":\"t\",\"data\":null}");
	struct cloudevent *own =
	    event("{\"specversion\":\"1.0\",\"id\":\"3\","
	          "\"source\":\"/s\",\"type\":\"t\",\"time\":"
	          "\"2020-01-01T00:00:00Z\",\"datacontenttype\":"
	          "\"application/vnd.x+json\",\"data\":[1]}");
	struct cloudevent *bin =
	    event("{\"specversion\":\"1.0\",\"id\":\"4\","
	          "\"source\":\"/s\",\"type\":\"t\",\"data_base64\":\"AAE=\"}");
	struct cloudevent *none = event("{\"specversion\":\"1.0\",\"id\":\"5\","
	                                "\"source\":\"/s\",\"type\":\"t\"}");
	const struct cloudevent *evs[2] = {nul, ev};
	char *x = xml_event(ev), *y = xml_event(nul), *z;
	struct buf b;

	is_str(x,
	    "<event" NS_DECL " specversion=\"1.0\"><id>1</id>"
	    "<source>/s</source><type>t</type>"
	    "<datacontenttype>application/json</datacontenttype>"
	    "<subject>s</subject><myext xsi:type=\"ce:string\">v</myext>"
	    "<data xsi:type=\"xs:string\">{&quot;a&quot;:1}</data></event>",
	    "JSON data, no datacontenttype: application/json named, after "
	    "the required attributes");
	well_formed(x, "event with the implied datacontenttype");
	xpath_is(x, "/" CE("event") "/" CE("datacontenttype"),
	    "application/json", "implied datacontenttype reads back");
	is_str(y,
	    "<event" NS_DECL " specversion=\"1.0\"><id>2</id>"
	    "<source>/s</source><type>t</type>"
	    "<datacontenttype>application/json</datacontenttype>"
	    "<data xsi:type=\"xs:string\">null</data></event>",
	    "data null: JSON null, typed application/json");
	free(x);
	free(y);

	x = xml_event(own);
	ok(one_type(x, "application/vnd.x+json"),
	    "a datacontenttype of its own is kept, none added");
	free(x);
	x = xml_event(bin);
	ok(strstr(x, "datacontenttype") == NULL,
	    "bytes without a datacontenttype: none added");
	free(x);
	x = xml_event(none);
	ok(strstr(x, "datacontenttype") == NULL, "no data: no datacontenttype");
	free(x);

	buf_init(&b, 0);
	soapxml_write_batch(evs, 2, &b);
	z = buf_take(&b, NULL);
	xpath_is(z, "count(//" CE("event") "/" CE("datacontenttype") ")", "2",
	    "in a batch, each JSON event names a datacontenttype");
	xpath_is(z, "string(//" CE("event") "[2]/" CE("datacontenttype") ")",
	    "application/json", "the second one application/json too");
	free(z);
	cloudevent_free(ev);
	cloudevent_free(nul);
	cloudevent_free(own);
	cloudevent_free(bin);
	cloudevent_free(none);
}

static void
test_binary(void)
{
	struct cloudevent *ev = event(
	    "{\"specversion\":\"1.0\",\"id\":\"1\","
	    "\"source\":\"/s\",\"type\":\"t\","
	    "\"datacontenttype\":\"image/png\",\"data_base64\":\"AAEC/w==\"}");
	struct cloudevent *ctl =
	    event("{\"specversion\":\"1.0\",\"id\":\"2\","
	          "\"source\":\"/s\",\"type\":\"t\","
	          "\"datacontenttype\":\"text/plain\",\"data\":\"a\\u0001b\"}");
	char *x = xml_event(ev), *y = xml_event(ctl);

	ok(strstr(x, "<data xsi:type=\"xs:base64Binary\">AAEC/w==</data>") !=
	        NULL,
	    "binary data as xs:base64Binary");
	well_formed(x, "binary event");
	ok(strstr(y, "<data xsi:type=\"xs:base64Binary\">YQFi</data>") != NULL,
	    "text XML cannot carry (U+0001) goes out as base64");
	well_formed(y, "event with a control character in its text");
	free(x);
	free(y);
	cloudevent_free(ev);
	cloudevent_free(ctl);
}

/* An event with datacontenttype ct and text data (a JSON string body). */
static char *
xml_data(const char *ct, const char *json_data)
{
	char *js = xasprintf("{\"specversion\":\"1.0\",\"id\":\"x\","
	                     "\"source\":\"/s\",\"type\":\"t\","
	                     "\"datacontenttype\":\"%s\",%s}",
	    ct, json_data);
	struct cloudevent *ev = event(js);
	char *x = xml_event(ev);

	cloudevent_free(ev);
	free(js);
	return x;
}

static int
root_ok(const char *doc)
{
	size_t start, end;
	int def;

	return soapxml_find_root(doc, strlen(doc), &start, &end, &def) == 0;
}

static void
test_xml_data(void)
{
	static const char *const bad[] = {
	    "<a><b></a>",
	    "<a>&nbsp;</a>",
	    "<!DOCTYPE a><a/>",
	    "<a/><b/>",
	    "<x:a/>",
	    "<a b=\"1\" b=\"2\"/>",
	    "<a>&#0;</a>",
	    "<a b=1/>",
	    "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>",
	    "<a><!-- a -- b --></a>",
	    "hello",
	    "<a>",
	    "<a></b>",
	    "<a x:y=\"1\"/>",
	    "<a>]]></a>",
	    "<a b=\"<\"/>",
	    "",
	    "<a>&#xD800;</a>",
	    "<?xml version=\"1.0\"?>",
	    "<a/>trailing",
	};
	size_t i, start = 0, end = 0;
	int def = -1;
	char *x;

	x = xml_data("application/xml",
	    "\"data\":\"<?xml version=\\\"1.0\\\" encoding=\\\"UTF-8\\\"?>\\n"
	    "<!-- c --><order xmlns=\\\"urn:o\\\" a='1'><id>7</id>"
	    "<![CDATA[x<y]]><e/>&amp;&#x41;<?pi x?></order>\\n\"");
	ok(strstr(x,
	       "<data xsi:type=\"xs:any\"><order xmlns=\"urn:o\" a='1'>"
	       "<id>7</id><![CDATA[x<y]]><e/>&amp;&#x41;<?pi x?></order>"
	       "</data>") != NULL,
	    "XML data: its root element inside <data xsi:type=\"xs:any\">");
	well_formed(x, "event with XML data");
	xpath_is(x, "namespace-uri(/" CE("event") "/" CE("data") "/*)", "urn:o",
	    "XML data keeps its own namespace");
	xpath_is(x, "/" CE("event") "/" CE("data") "/*/*[local-name()='id']",
	    "7", "XML data readable as XML");
	free(x);

	x = xml_data("text/xml; charset=utf-8",
	    "\"data\":\"<order><id>7</id></order>\"");
	ok(strstr(x,
	       "<data xsi:type=\"xs:any\"><order xmlns=\"\"><id>7</id>"
	       "</order></data>") != NULL,
	    "XML data without a namespace gets xmlns=\"\"");
	xpath_is(x,
	    "concat('[', namespace-uri(//*[local-name()='order']/*), ']')",
	    "[]", "so it stays out of the CloudEvents namespace");
	free(x);

	x = xml_data("application/atom+xml",
	    "\"data\":\"<g:Loc xmlns:g=\\\"http://geo/\\\"><g:Lat>51</g:Lat>"
	    "</g:Loc>\"");
	ok(strstr(x,
	       "<data xsi:type=\"xs:any\"><g:Loc xmlns=\"\" "
	       "xmlns:g=\"http://geo/\"><g:Lat>51</g:Lat></g:Loc></data>") !=
	        NULL,
	    "+xml media type, prefixed root");
	well_formed(x, "prefixed XML data");
	free(x);

	x = xml_data("application/xml", "\"data_base64\":\"PGEvPg==\"");
	ok(strstr(x, "<data xsi:type=\"xs:any\"><a xmlns=\"\"/></data>") !=
	        NULL,
	    "XML sent as data_base64 is XML data too");
	free(x);

	x = xml_data("application/xml", "\"data\":\"<a><b></a>\"");
	ok(strstr(x,
	       "<data xsi:type=\"xs:string\">&lt;a&gt;&lt;b&gt;&lt;/a&gt;"
	       "</data>") != NULL,
	    "XML data that is not well-formed goes as xs:string");
	free(x);

	x = xml_data("application/json", "\"data\":\"<a/>\"");
	ok(strstr(x, "xs:any") == NULL, "a JSON type is never xs:any");
	free(x);

	ok(soapxml_find_root("\xef\xbb\xbf<r a=\"1\"/> <!--x-->", 22, &start,
	       &end, &def) == 0 &&
	        start == 3 && end == 13 && def == 0,
	    "root range after a BOM");
	ok(root_ok("<r xmlns=\"urn:r\"><x:y xmlns:x=\"urn:x\" x:z=\"&lt;\"/>"
	           "</r>"),
	    "namespaced root with a prefixed child");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(!root_ok(bad[i]), "not taken as XML data: %s", bad[i]);
}

static void
test_envelopes(void)
{
	struct cloudevent *a = event("{\"specversion\":\"1.0\",\"id\":\"e1\","
	                             "\"source\":\"/s\",\"type\":\"t\"}");
	struct cloudevent *b =
	    event("{\"specversion\":\"1.0\",\"id\":\"e2\","
	          "\"source\":\"/s\",\"type\":\"t\",\"datacontenttype\":"
	          "\"text/plain\",\"data\":\"x\"}");
	const struct cloudevent *evs[2] = {a, b};
	struct buf buf;
	char *ct;

	buf_init(&buf, 0);
	ok(soapxml_write_envelope("1.1", evs, 1, 0, &buf) == 0, "SOAP 1.1");
	is_str(buf.data,
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/"
	    "envelope/\"><soap:Body><event" NS_DECL " specversion=\"1.0\">"
	    "<id>e1</id><source>/s</source><type>t</type></event>"
	    "</soap:Body></soap:Envelope>",
	    "SOAP 1.1 envelope, one event");
	well_formed(buf.data, "SOAP 1.1 envelope");
	xpath_is(buf.data,
	    "/*[local-name()='Envelope' and namespace-uri()="
	    "'http://schemas.xmlsoap.org/soap/envelope/']/*[local-name()="
	    "'Body']/" CE("event") "/" CE("id"),
	    "e1", "SOAP 1.1: Envelope/Body/event/id");
	buf_reset(&buf);

	ok(soapxml_write_envelope("1.2", evs, 2, 0, &buf) == 0, "SOAP 1.2");
	ok(strstr(buf.data,
	       "xmlns:soap=\"http://www.w3.org/2003/05/"
	       "soap-envelope\"") != NULL,
	    "SOAP 1.2 namespace");
	ok(strstr(buf.data,
	       "<soap:Body><batch" NS_DECL "><event "
	       "specversion=\"1.0\"><id>e1</id>") != NULL,
	    "two events: a <batch> declaring the namespaces");
	well_formed(buf.data, "SOAP 1.2 batch envelope");
	xpath_is(buf.data, "count(//" CE("batch") "/" CE("event") ")", "2",
	    "batch holds two events");
	xpath_is(buf.data, "//" CE("batch") "/" CE("event") "[2]/" CE("data"),
	    "x", "second event's data");
	buf_reset(&buf);

	ok(soapxml_write_envelope("1.1", evs, 1, 1, &buf) == 0 &&
	        strstr(buf.data, "<batch") != NULL,
	    "batch flag: a batch of one event");
	buf_reset(&buf);
	ok(soapxml_write_envelope("2.0", evs, 1, 0, &buf) == -1 && buf.len == 0,
	    "unknown SOAP version refused");
	buf_free(&buf);

	is_str(ct = soapxml_content_type("1.1", "urn:a"),
	    "text/xml; charset=utf-8", "SOAP 1.1 content type");
	free(ct);
	is_str(ct = soapxml_content_type("1.2", "urn:do\"it"),
	    "application/soap+xml; charset=utf-8; action=\"urn:doit\"",
	    "SOAP 1.2 content type with action (quote dropped)");
	free(ct);
	is_str(ct = soapxml_content_type("1.2", NULL),
	    "application/soap+xml; charset=utf-8",
	    "SOAP 1.2 content type without action");
	free(ct);
	ok(soapxml_content_type("1.3", NULL) == NULL, "unknown version");
	cloudevent_free(a);
	cloudevent_free(b);
}

static int
fault(const char *s)
{
	return soapxml_has_fault(s, strlen(s));
}

static void
test_fault(void)
{
	ok(fault("<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"http://"
	         "schemas.xmlsoap.org/soap/envelope/\"><soap:Body><soap:Fault>"
	         "<faultcode>soap:Server</faultcode></soap:Fault></soap:Body>"
	         "</soap:Envelope>"),
	    "SOAP 1.1 Fault");
	ok(fault("<env:Envelope xmlns:env='http://www.w3.org/2003/05/"
	         "soap-envelope'>\n <env:Body>\n  <env:Fault >"),
	    "SOAP 1.2 Fault, "
	    "single quotes, cut short");
	ok(fault("<Envelope xmlns = \"http://www.w3.org/2003/05/"
	         "soap-envelope\"><Body><Fault/></Body></Envelope>"),
	    "Fault in the default namespace");
	ok(!fault("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/"
	          "soap/envelope/\"><soap:Body><m:okResponse xmlns:m=\"urn:m\">"
	          "Fault</m:okResponse></soap:Body></soap:Envelope>"),
	    "no Fault element");
	ok(!fault("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/"
	          "soap/envelope/\"><soap:Body><soap:FaultCount/><m:Fault "
	          "xmlns:m=\"urn:m\"/></soap:Body></soap:Envelope>"),
	    "FaultCount and a Fault in another namespace are not Faults");
	ok(!fault("<Fault>no SOAP namespace</Fault>"), "not SOAP");
	ok(!fault(""), "empty body");
}

static void
test_headers(void)
{
	struct cloudevent *ev =
	    event("{\"specversion\":\"1.0\",\"id\":\"1\","
	          "\"source\":\"/s\",\"type\":\"t\",\"datacontenttype\":"
	          "\"text/plain\",\"myext\":\"a b\\\"c%d\\u00e9~\",\"n\":-3,"
	          "\"data\":\"x\"}");
	char **h, *e;

	is_str(e = soapxml_header_encode("a b\"c%d\xc3\xa9\x7f~!"),
	    "a%20b%22c%25d%C3%A9%7F~!", "header value percent-encoded");
	free(e);
	h = soapxml_binary_headers(ev);
	is_str(h[0], "ce-specversion", "first header");
	is_str(h[1], "1.0", "specversion value");
	is_str(h[6], "ce-type", "ce-type");
	is_str(h[8], "ce-myext", "extension after the core attributes");
	is_str(h[9], "a%20b%22c%25d%C3%A9~", "extension value encoded");
	is_str(h[10], "ce-n", "integer extension");
	is_str(h[11], "-3", "integer value");
	ok(h[12] == NULL, "datacontenttype is not a ce- header");
	soapxml_strings_free(h);
	cloudevent_free(ev);
}

int
main(void)
{
	have_xmllint = system("xmllint --version >/dev/null 2>&1") == 0;
	test_text();
	test_json_and_extensions();
	test_implied_type();
	test_binary();
	test_xml_data();
	test_envelopes();
	test_fault();
	test_headers();
	return tap_done();
}
