/*
 * api_static.c: serves the web admin at /admin/ from the files embedded
 * into the binary (embedded_web, built from web/) or, when web_root is
 * set, from that folder on disk.  Owns the static reply headers: content
 * type by extension, ETag and Last-Modified revalidation (304), and the
 * strict Content-Security-Policy the admin UI is written for.  Must not
 * serve anything outside the folder: ".." segments, absolute paths and
 * anything that is not a regular file are 404.
 *
 * Threads: HTTP threads; no shared mutable state.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "api.h"
#include "app.h"
#include "config.h"
#include "embedded.h"
#include "http_server.h"
#include "xmalloc.h"

/* Files on disk larger than this are not served (the UI is small). */
#define STATIC_MAX_FILE (16 * 1024 * 1024)

static const char static_csp[] = "default-src 'self'; script-src 'self'; "
    "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

static const struct {
	const char *ext;
	const char *ctype;
} static_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".txt", "text/plain; charset=utf-8" },
};

/* One file to send: its bytes (owned), validators. */
struct static_file {
	char *data;
	size_t len;
	char etag[48];	      /* quoted */
	time_t mtime;
};

static const char *
static_ctype(const char *name)
{
	const char *dot = strrchr(name, '.');
	size_t i;

	if (dot != NULL && strchr(dot, '/') == NULL) {
		for (i = 0; i < sizeof static_types / sizeof static_types[0];
		    i++)
			if (strcasecmp(dot, static_types[i].ext) == 0)
				return static_types[i].ctype;
	}
	return "application/octet-stream";
}

/* 1 if name is a safe relative path: no "..", ".", empty or hidden parts. */
static int
static_name_ok(const char *name)
{
	const char *p = name;
	size_t n;

	if (*name == '\0' || *name == '/' || strchr(name, '\\') != NULL)
		return 0;
	while (*p != '\0') {
		n = strcspn(p, "/");
		if (n == 0 || p[0] == '.')
			return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return 1;
}

static void
static_etag_hash(struct static_file *f)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256((const unsigned char *)f->data, f->len, md);
	f->etag[0] = '"';
	for (i = 0; i < 10; i++)
		snprintf(f->etag + 1 + 2 * i, 3, "%02x", md[i]);
	f->etag[21] = '"';
	f->etag[22] = '\0';
}

static int
static_load_embedded(const char *name, struct static_file *f)
{
	const struct embedded_file *e;

	for (e = embedded_web; e->name != NULL; e++) {
		if (strcmp(e->name, name) != 0)
			continue;
		f->data = xmemdup(e->data, e->len);
		f->len = e->len;
		f->mtime = (time_t)e->mtime;
		static_etag_hash(f);
		return 0;
	}
	return -1;
}

static int
static_load_disk(const char *root, const char *name, struct static_file *f)
{
	struct stat st;
	char *path, *real, *realroot;
	ssize_t n;
	size_t got = 0;
	int fd, inside;

	path = xasprintf("%s/%s", root, name);
	real = realpath(path, NULL);
	realroot = realpath(root, NULL);
	free(path);
	/* symbolic links may not lead out of the folder */
	inside = real != NULL && realroot != NULL &&
	    strncmp(real, realroot, strlen(realroot)) == 0 &&
	    real[strlen(realroot)] == '/';
	fd = inside ? open(real, O_RDONLY | O_CLOEXEC) : -1;
	free(real);
	free(realroot);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > STATIC_MAX_FILE)
		goto fail;
	f->len = (size_t)st.st_size;
	f->data = xmalloc(f->len + 1);
	while (got < f->len) {
		n = read(fd, f->data + got, f->len - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		got += (size_t)n;
	}
	close(fd);
	f->mtime = st.st_mtime;
	snprintf(f->etag, sizeof f->etag, "\"%llx-%llx-%lx\"",
	    (unsigned long long)st.st_size, (unsigned long long)st.st_mtime,
	    (long)st.st_mtim.tv_nsec);
	return 0;
fail:
	free(f->data);
	f->data = NULL;
	close(fd);
	return -1;
}

/* 1 if the If-None-Match list names etag (weak comparison) or is "*". */
static int
static_etag_match(const char *inm, const char *etag)
{
	/* etag carries its quotes, so a substring match is a whole tag */
	return strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL;
}

static void
static_httpdate(time_t t, char *out, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* 1 if the file has not changed since the If-Modified-Since date. */
static int
static_not_modified_since(const char *ims, time_t mtime)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof tm);
	end = strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return 0;
	return mtime <= timegm(&tm);
}

static void
static_send(struct http_req *req, const char *name, struct static_file *f)
{
	const char *inm = http_req_header(req, "If-None-Match");
	const char *ims = http_req_header(req, "If-Modified-Since");
	char date[64];
	int fresh;

	static_httpdate(f->mtime, date, sizeof date);
	http_reply_header(req, "ETag", f->etag);
	http_reply_header(req, "Last-Modified", date);
	http_reply_header(req, "Cache-Control", "no-cache");
	http_reply_header(req, "Content-Security-Policy", static_csp);
	http_reply_header(req, "X-Content-Type-Options", "nosniff");
	http_reply_header(req, "Referrer-Policy", "no-referrer");
	http_reply_header(req, "X-Frame-Options", "DENY");
	/* RFC 9110 13.2.2: If-None-Match wins over If-Modified-Since */
	if (inm != NULL)
		fresh = static_etag_match(inm, f->etag);
	else
		fresh = ims != NULL && static_not_modified_since(ims, f->mtime);
	if (fresh) {
		free(f->data);
		http_reply(req, 304, NULL, NULL, 0);
		return;
	}
	http_reply(req, 200, static_ctype(name), f->data, f->len);
}

void
api_static_get(struct http_req *req)
{
	const struct config *cfg = http_req_app(req)->cfg;
	const char *name = http_req_param(req, 0);
	struct static_file f;
	int rc;

	memset(&f, 0, sizeof f);
	if (name == NULL || *name == '\0')
		name = "index.html";
	if (!static_name_ok(name)) {
		http_reply_problem(req, 404, NULL, NULL, "no such file");
		return;
	}
	if (cfg->web_root != NULL)
		rc = static_load_disk(cfg->web_root, name, &f);
	else
		rc = static_load_embedded(name, &f);
	if (rc != 0) {
		http_reply_problem(req, 404, NULL, NULL, "no such file: %s",
		    name);
		return;
	}
	static_send(req, name, &f);
}

/*
 * Whether the admin API wants a token ("token"), is open on this loopback
 * address ("none"), or is not served at all ("off": no token on a public
 * address), so the sign-in page asks no question it knows the answer to.
 */
void
api_web_config(struct http_req *req)
{
	const struct app *app = http_req_app(req);

	http_reply_header(req, "Cache-Control", "no-store");
	http_reply_json(req, 200, json_pack("{ss}", "auth",
	    app->cfg->admin_token != NULL ? "token" : app->api_open ? "none" :
	    "off"));
}

void
api_static_redirect(struct http_req *req)
{
	http_reply_header(req, "Location", "/admin/");
	http_reply(req, 302, "text/plain", xstrdup("see /admin/\n"), 12);
}
