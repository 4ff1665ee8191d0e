/*
 * config.c: the settings table and everything it drives: defaults, the
 * config file ("name = value"), SLUICE_<NAME> environment variables, the
 * --name flags, --help, and validation with bounds.
 *
 * Pure apart from config_load reading the config file it is pointed to.
 * Runs once at start-up, before threads.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "xmalloc.h"

enum config_type {
	C_STRING, /* text; "" unsets one that is not CF_REQUIRED */
	C_INT,	  /* integer within bounds */
	C_BOOL,	  /* true/false, yes/no, on/off, 1/0 */
	C_SIZE,	  /* bytes, with an optional k, M or G suffix (1024s) */
	C_MS,	  /* a duration: ms, s, m, h or d suffix; bare is ms */
	C_ADDR,	  /* ADDR:PORT: IPv4, [IPv6] or a host name, and a port */
};

/* Setting flags. */
#define CF_REQUIRED 0x1 /* C_STRING, C_ADDR: "" is refused, not unset */

struct config_setting {
	const char *name; /* file name; --name with '-', SLUICE_NAME upper */
	enum config_type type;
	int flags;	     /* CF_* */
	size_t offset;	     /* into struct config */
	const char *def;     /* default, as text; NULL: unset */
	int64_t min, max;    /* bounds for numbers */
	const char *choices; /* C_STRING: allowed values, '|'-separated */
	const char *help;
};

#define O(f) offsetof(struct config, f)
static const struct config_setting config_table[] = {
	{ "listen", C_ADDR, CF_REQUIRED, O(listen), "127.0.0.1:8080", 0, 0,
	    NULL,
	    "address and port of the HTTP server (ADDR:PORT, [V6]:PORT, "
	    "HOST:PORT)" },
	{ "db", C_STRING, CF_REQUIRED, O(db), "./sluice.db", 0, 0, NULL,
	    "SQLite database file (created if missing)" },
	{ "secret_key_file", C_STRING, 0, O(secret_key_file), NULL, 0, 0, NULL,
	    "key file sealing subscription secrets at rest (default: the "
	    "database path + .key; created if missing)" },
	{ "admin_token", C_STRING, 0, O(admin_token), NULL, 0, 0, NULL,
	    "bearer token for /api/v1; without one the API is served only "
	    "on loopback" },
	{ "workers", C_INT, 0, O(workers), "0", 0, 256, NULL,
	    "delivery threads (0: one per core)" },
	{ "http_threads", C_INT, 0, O(http_threads), "2", 1, 64, NULL,
	    "HTTP server threads" },
	{ "max_body", C_SIZE, 0, O(max_body), "1M", 1024, 256LL << 20, NULL,
	    "largest request body accepted (413 above)" },
	{ "max_header", C_SIZE, 0, O(max_header), "32k", 8192, 1 << 20, NULL,
	    "memory for one request's line and headers (431 above)" },
	{ "max_connections", C_INT, 0, O(max_connections), "1024", 16, 65536,
	    NULL, "open HTTP connections at most" },
	{ "idle_timeout", C_MS, 0, O(idle_timeout), "30s", 1000, 3600000, NULL,
	    "close a connection that sends nothing for this long" },
	{ "web_root", C_STRING, 0, O(web_root), NULL, 0, 0, NULL,
	    "serve the web admin from this folder instead of the binary" },
	{ "log_level", C_STRING, CF_REQUIRED, O(log_level), "info", 0, 0,
	    "debug|info|warn|error", "least severe level logged" },
	{ "log_json", C_BOOL, 0, O(log_json), "false", 0, 1, NULL,
	    "log JSON lines instead of text" },
	{ "log_file", C_STRING, 0, O(log_file), NULL, 0, 0, NULL,
	    "append log lines to this file instead of stderr; SIGHUP reopens "
	    "it (for log rotation)" },
	{ "node", C_STRING, 0, O(node), NULL, 0, 0, NULL,
	    "node name in system events (default: the host name)" },
	{ "synchronous", C_STRING, CF_REQUIRED, O(synchronous), "full", 0, 0,
	    "full|normal",
	    "SQLite synchronous mode: full survives power loss" },
	{ "max_db_pages", C_INT, 0, O(max_db_pages), "0", 0, INT64_MAX, NULL,
	    "cap the database at this many pages (0: no cap)" },
	{ "allowed_origins", C_STRING, 0, O(allowed_origins), "*", 0, 0, NULL,
	    "comma-separated WebHook-Request-Origin values ingest allows "
	    "(*: any; empty: none)" },
	{ "retention", C_MS, 0, O(retention), "7d", 1000, INT64_MAX, NULL,
	    "how long delivered messages are kept for browsing" },
	{ "secret_rotation_grace", C_MS, 0, O(secret_rotation_grace), "24h", 0,
	    30LL * 86400000, NULL,
	    "how long a replaced subscription secret signs beside the new "
	    "one (0: not at all)" },
	{ "ca_file", C_STRING, 0, O(ca_file), NULL, 0, 0, NULL,
	    "CA bundle used to verify sinks' TLS certificates" },
	{ "insecure_tls", C_BOOL, 0, O(insecure_tls), "false", 0, 1, NULL,
	    "do not verify sinks' TLS certificates (logged loudly)" },
	{ "sink_deny", C_STRING, 0, O(sink_deny), NULL, 0, 0, NULL,
	    "comma-separated CIDR ranges sinks may not connect to" },
	{ "stats_interval", C_MS, 0, O(stats_interval), "60s", 0, 86400000,
	    NULL, "period of io.sluice.server.stats system events (0: off)" },
};
#undef O
#define CONFIG_N (sizeof config_table / sizeof config_table[0])

static const struct config_setting *
config_find(const char *name)
{
	size_t i;

	for (i = 0; i < CONFIG_N; i++)
		if (strcmp(config_table[i].name, name) == 0)
			return &config_table[i];
	return NULL;
}

/* Parses a number with an optional unit suffix from units. */
static int
config_number(const char *v, const char *const *units, const int64_t *mult,
    int64_t *out)
{
	char *end;
	long long n;
	size_t i;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (end == v || errno != 0 || n < 0)
		return -1;
	if (*end == '\0') {
		*out = n;
		return 0;
	}
	for (i = 0; units != NULL && units[i] != NULL; i++)
		if (strcasecmp(end, units[i]) == 0) {
			if (n > INT64_MAX / mult[i])
				return -1;
			*out = n * mult[i];
			return 0;
		}
	return -1;
}

static int
config_bool(const char *v, int *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* A DNS name: labels of letters, digits and '-', joined by dots. */
static int
config_hostname(const char *h)
{
	size_t label = 0;

	if (*h == '\0')
		return 0;
	for (; *h != '\0'; h++) {
		if (*h == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*h) ||
		    (*h == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return label > 0;
}

/*
 * Is v ADDR:PORT, [V6]:PORT, HOST:PORT or :PORT, with a port from 0 to
 * 65535?
 */
static int
config_addr(const char *v)
{
	unsigned char sa[16];
	char host[64], *end;
	const char *colon;
	size_t n;
	long port;
	int af = AF_INET;

	if (*v == '[') {
		if ((colon = strstr(v, "]:")) == NULL)
			return 0;
		v++;
		af = AF_INET6;
		n = (size_t)(colon - v);
		colon++;
	} else {
		if ((colon = strrchr(v, ':')) == NULL)
			return 0;
		n = (size_t)(colon - v);
	}
	if (n >= sizeof host)
		return 0;
	memcpy(host, v, n);
	host[n] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || errno != 0 || port < 0 ||
	    port > 65535 || !isdigit((unsigned char)colon[1]))
		return 0;
	if (n == 0 && af == AF_INET)
		return 1; /* ":PORT": every IPv4 address */
	if (inet_pton(af, host, sa) == 1)
		return 1;
	return af == AF_INET && config_hostname(host); /* resolved at start */
}

static int
config_choice(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;

	while (p != NULL) {
		if (strncmp(p, v, n) == 0 && (p[n] == '|' || p[n] == '\0'))
			return 1;
		p = strchr(p, '|');
		if (p != NULL)
			p++;
	}
	return 0;
}

int
config_set(struct config *cfg, const char *name, const char *v, char **cause)
{
	static const char *const size_units[] = { "k", "kb", "kib", "m", "mb",
		"mib", "g", "gb", "gib", NULL };
	static const int64_t size_mult[] = { 1 << 10, 1 << 10, 1 << 10,
		1 << 20, 1 << 20, 1 << 20, 1 << 30, 1 << 30, 1 << 30 };
	static const char *const ms_units[] = { "ms", "s", "m", "h", "d",
		NULL };
	static const int64_t ms_mult[] = { 1, 1000, 60000, 3600000,
		86400000 };
	const struct config_setting *s = config_find(name);
	char *field;
	int64_t n = 0;
	int b;

	if (s == NULL) {
		*cause = xasprintf("unknown setting %s", name);
		return -1;
	}
	field = (char *)cfg + s->offset;
	if ((s->flags & CF_REQUIRED) && *v == '\0') {
		*cause = xasprintf("%s: must not be empty", name);
		return -1;
	}
	switch (s->type) {
	case C_ADDR:
		if (!config_addr(v)) {
			*cause = xasprintf("%s: \"%s\" is not ADDR:PORT (an "
			    "address or host name and a port, e.g. "
			    "127.0.0.1:8080, [::1]:8080 or localhost:8080)",
			    name, v);
			return -1;
		}
		/* FALLTHROUGH */
	case C_STRING:
		if (s->choices != NULL && !config_choice(s->choices, v)) {
			*cause = xasprintf("%s: \"%s\" is not one of %s", name,
			    v, s->choices);
			return -1;
		}
		free(*(char **)field);
		*(char **)field = *v != '\0' ? xstrdup(v) : NULL;
		return 0;
	case C_BOOL:
		if (config_bool(v, &b) != 0) {
			*cause = xasprintf("%s: \"%s\" is not a boolean", name,
			    v);
			return -1;
		}
		*(int *)field = b;
		return 0;
	case C_INT:
		if (config_number(v, NULL, NULL, &n) != 0)
			goto bad;
		break;
	case C_SIZE:
		if (config_number(v, size_units, size_mult, &n) != 0)
			goto bad;
		break;
	case C_MS:
		if (config_number(v, ms_units, ms_mult, &n) != 0)
			goto bad;
		break;
	}
	if (n < s->min || n > s->max) {
		*cause = xasprintf("%s: %s is out of range (%lld to %lld)",
		    name, v, (long long)s->min, (long long)s->max);
		return -1;
	}
	*(int64_t *)field = n;
	return 0;
bad:
	*cause = xasprintf("%s: \"%s\" is not a valid %s", name, v,
	    s->type == C_INT ? "number" : s->type == C_SIZE ?
	    "size (e.g. 512k, 1M)" : "duration (e.g. 500ms, 10s, 7d)");
	return -1;
}

void
config_defaults(struct config *cfg)
{
	char *cause = NULL;
	size_t i;

	memset(cfg, 0, sizeof *cfg);
	for (i = 0; i < CONFIG_N; i++)
		if (config_table[i].def != NULL &&
		    config_set(cfg, config_table[i].name, config_table[i].def,
			&cause) != 0)
			abort(); /* a broken default is a bug in the table */
}

static char *
config_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
config_load_text(struct config *cfg, const char *text, const char *file,
    char **cause)
{
	char *copy = xstrdup(text), *line, *next, *eq, *name, *value, *why;
	int lineno = 0, rc = 0;
	size_t n;

	for (line = copy; line != NULL && rc == 0; line = next) {
		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		line = config_trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			*cause = xasprintf("%s:%d: expected name = value",
			    file, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		name = config_trim(line);
		value = config_trim(eq + 1);
		n = strlen(value);
		if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
			value[n - 1] = '\0';
			value++;
		}
		if (config_set(cfg, name, value, &why) != 0) {
			*cause = xasprintf("%s:%d: %s", file, lineno, why);
			free(why);
			rc = -1;
		}
	}
	free(copy);
	return rc;
}

static int
config_read_file(struct config *cfg, const char *path, char **cause)
{
	struct buf b;
	char chunk[4096];
	FILE *f = fopen(path, "r");
	size_t n;
	int rc;

	if (f == NULL) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	buf_init(&b, 1 << 20);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (buf_add(&b, chunk, n) != 0) {
			*cause = xasprintf("%s: larger than 1 MiB", path);
			fclose(f);
			buf_free(&b);
			return -1;
		}
	fclose(f);
	rc = config_load_text(cfg, b.data ? b.data : "", path, cause);
	buf_free(&b);
	return rc;
}

/* --flag-name (or --flag_name) to the setting's name. */
static char *
config_flag_name(const char *flag)
{
	char *name = xstrdup(flag + 2), *p, *eq;

	if ((eq = strchr(name, '=')) != NULL)
		*eq = '\0';
	for (p = name; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
	return name;
}

static int
config_env(struct config *cfg, char **envp, char **cause)
{
	const struct config_setting *s;
	char name[64], *why;
	size_t i, j;

	for (i = 0; envp != NULL && envp[i] != NULL; i++) {
		const char *e = envp[i], *eq = strchr(e, '=');

		if (strncmp(e, "SLUICE_", 7) != 0 || eq == NULL ||
		    (size_t)(eq - e - 7) >= sizeof name)
			continue;
		for (j = 0; e + 7 + j < eq; j++)
			name[j] = (char)tolower((unsigned char)e[7 + j]);
		name[j] = '\0';
		if (strcmp(name, "config") == 0)
			continue;
		if ((s = config_find(name)) == NULL)
			continue; /* other programs' SLUICE_ variables */
		if (config_set(cfg, name, eq + 1, &why) != 0) {
			*cause = xasprintf("SLUICE_%.*s: %s", (int)j, e + 7,
			    why);
			free(why);
			return -1;
		}
	}
	return 0;
}

/* Finds --config in argv or SLUICE_CONFIG in the environment. */
static const char *
config_file_arg(int argc, char **argv, char **envp)
{
	const char *file = NULL;
	int i;

	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		if (strncmp(envp[i], "SLUICE_CONFIG=", 14) == 0)
			file = envp[i] + 14;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			file = argv[i] + 9;
	}
	return file != NULL && *file != '\0' ? file : NULL;
}

static int
config_flags(struct config *cfg, int argc, char **argv, char **cause)
{
	const struct config_setting *s;
	const char *value, *eq;
	char *name, *why;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
			*cause = xasprintf("unexpected argument \"%s\" "
			    "(see --help)", argv[i]);
			return -1;
		}
		name = config_flag_name(argv[i]);
		eq = strchr(argv[i], '=');
		s = config_find(name);
		if ((strcmp(name, "config") == 0 || strcmp(name, "backup") == 0)
		    && eq == NULL) {
			if (i + 1 >= argc) {
				*cause = xasprintf("option %s needs a value",
				    argv[i]);
				free(name);
				return -1;
			}
			if (strcmp(name, "backup") == 0) {
				free(cfg->backup);
				cfg->backup = xstrdup(argv[i + 1]);
			}
			free(name);
			i++;
			continue;
		}
		if (strcmp(name, "config") == 0 || strcmp(name, "backup") == 0) {
			if (strcmp(name, "backup") == 0) {
				free(cfg->backup);
				cfg->backup = xstrdup(eq + 1);
			}
			free(name);
			continue;
		}
		if (s == NULL) {
			*cause = xasprintf("unknown option %s (see --help)",
			    argv[i]);
			free(name);
			return -1;
		}
		if (eq != NULL)
			value = eq + 1;
		else if (s->type == C_BOOL &&
		    (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0))
			value = "true";
		else if (i + 1 < argc)
			value = argv[++i];
		else {
			*cause = xasprintf("option %s needs a value", argv[i]);
			free(name);
			return -1;
		}
		rc = config_set(cfg, name, value, &why);
		free(name);
		if (rc != 0) {
			*cause = why;
			return -1;
		}
	}
	return 0;
}

void
config_usage(FILE *out)
{
	const struct config_setting *s;
	char flag[64], *p;
	size_t i;

	fprintf(out, "usage: sluiced [--config FILE] [--SETTING VALUE ...]\n"
	    "       sluiced --help | --version\n\n"
	    "sluice is a CloudEvents webhook dispatcher.  Each setting can be\n"
	    "given in the config file as \"name = value\", in the environment\n"
	    "as SLUICE_NAME, or as a flag (flags win over the environment,\n"
	    "which wins over the file).\n\n"
	    "  --config FILE                  read settings from FILE "
	    "(SLUICE_CONFIG)\n");
	for (i = 0; i < CONFIG_N; i++) {
		s = &config_table[i];
		snprintf(flag, sizeof flag, "--%s %s", s->name,
		    s->type == C_BOOL ? "[BOOL]" : s->type == C_SIZE ? "BYTES" :
		    s->type == C_MS ? "DURATION" : s->type == C_INT ? "N" :
		    s->type == C_ADDR ? "ADDR:PORT" : "VALUE");
		for (p = flag + 2; *p != ' '; p++)
			if (*p == '_')
				*p = '-';
		fprintf(out, "  %-30s %s", flag, s->help);
		if (s->def != NULL)
			fprintf(out, " [%s]", s->def);
		fprintf(out, "\n");
	}
	fprintf(out, "\n  --backup FILE                  copy the database (online: "
	    "sluiced may be running)\n"
	    "                                 to FILE, then exit\n"
	    "  --help                         this text\n"
	    "  --version                      print the version\n");
}

int
config_load(struct config *cfg, int argc, char **argv, char **envp,
    FILE *out, char **cause)
{
	const char *file;
	int i;

	config_defaults(cfg); /* so that config_free is safe on every path */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			config_usage(out);
			return 1;
		}
		if (strcmp(argv[i], "--version") == 0) {
			fprintf(out, "sluiced %s\n", PACKAGE_VERSION);
			return 1;
		}
	}
	if ((file = config_file_arg(argc, argv, envp)) != NULL) {
		cfg->config_file = xstrdup(file);
		if (config_read_file(cfg, file, cause) != 0)
			return -1;
	}
	if (config_env(cfg, envp, cause) != 0 ||
	    config_flags(cfg, argc, argv, cause) != 0)
		return -1;
	return 0;
}

void
config_free(struct config *cfg)
{
	size_t i;

	for (i = 0; i < CONFIG_N; i++)
		if (config_table[i].type == C_STRING ||
		    config_table[i].type == C_ADDR)
			free(*(char **)((char *)cfg + config_table[i].offset));
	free(cfg->config_file);
	free(cfg->backup);
	memset(cfg, 0, sizeof *cfg);
}
