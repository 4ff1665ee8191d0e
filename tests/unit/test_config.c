/*
 * test_config.c: the settings table: defaults, file, environment, flags,
 * precedence, units, bounds and the errors a user sees.
 */
#include "autoconfig.h"

#include <stdlib.h>

#include "config.h"
#include "tap.h"

static int
load(struct config *cfg, int argc, char **argv, char **envp, char **cause)
{
	FILE *out = fopen("/dev/null", "w");
	int rc = config_load(cfg, argc, argv, envp, out, cause);

	fclose(out);
	return rc;
}

int
main(void)
{
	struct config cfg;
	char *cause = NULL;
	char *argv1[] = { "sluiced", NULL };
	char *env_none[] = { NULL };
	char *argv2[] = { "sluiced", "--listen", "127.0.0.1:9", "--max-body=2k",
		"--log-json", NULL };
	char *env2[] = { "SLUICE_LISTEN=0.0.0.0:1", "SLUICE_DB=/tmp/x.db",
		"SLUICE_UNRELATED=1", NULL };
	char *argv_bad[] = { "sluiced", "--no-such-flag", NULL };
	char *argv_range[] = { "sluiced", "--workers", "1000", NULL };
	char *argv_help[] = { "sluiced", "--help", NULL };
	char *env_bad[] = { "SLUICE_MAX_BODY=lots", NULL };

	ok(load(&cfg, 1, argv1, env_none, &cause) == 0, "defaults load");
	is_str(cfg.listen, "127.0.0.1:8080", "default listen");
	is_str(cfg.db, "./sluice.db", "default db");
	is_int(cfg.max_body, 1 << 20, "default max_body is 1 MiB");
	ok(cfg.admin_token == NULL, "no admin token by default");
	is_int(cfg.retention, 7LL * 86400000, "retention 7 days in ms");
	config_free(&cfg);

	ok(load(&cfg, 5, argv2, env2, &cause) == 0, "flags and env load");
	is_str(cfg.listen, "127.0.0.1:9", "a flag wins over the environment");
	is_str(cfg.db, "/tmp/x.db", "the environment sets db");
	is_int(cfg.max_body, 2048, "2k is 2048 bytes");
	is_int(cfg.log_json, 1, "a bare boolean flag is true");
	config_free(&cfg);

	ok(load(&cfg, 2, argv_bad, env_none, &cause) == -1, "unknown flag fails");
	is_str(cause, "unknown option --no-such-flag (see --help)",
	    "unknown flag is named");
	free(cause);
	cause = NULL;
	config_free(&cfg);

	ok(load(&cfg, 3, argv_range, env_none, &cause) == -1,
	    "out-of-range value fails");
	is_str(cause, "workers: 1000 is out of range (0 to 256)",
	    "range error names bounds");
	free(cause);
	cause = NULL;
	config_free(&cfg);

	ok(load(&cfg, 1, argv1, env_bad, &cause) == -1, "bad env value fails");
	ok(cause != NULL && strstr(cause, "SLUICE_MAX_BODY") != NULL,
	    "env error names the variable");
	free(cause);
	cause = NULL;
	config_free(&cfg);

	is_int(load(&cfg, 2, argv_help, env_none, &cause), 1,
	    "--help answers and stops");
	config_free(&cfg);

	config_defaults(&cfg);
	ok(config_load_text(&cfg, "# comment\nlisten = 10.0.0.1:80\n"
	    "idle_timeout = 5s\nsynchronous = \"normal\"\n", "f", &cause) == 0,
	    "a config file's text loads");
	is_str(cfg.listen, "10.0.0.1:80", "file sets listen");
	is_int(cfg.idle_timeout, 5000, "5s is 5000 ms");
	is_str(cfg.synchronous, "normal", "quotes are stripped");
	ok(config_load_text(&cfg, "synchronous = sometimes\n", "f", &cause) ==
	    -1, "a value outside the choices fails");
	is_str(cause, "f:1: synchronous: \"sometimes\" is not one of full|normal",
	    "file errors name file and line");
	free(cause);
	cause = NULL;
	ok(config_load_text(&cfg, "\n\nnonsense\n", "f", &cause) == -1,
	    "a line without = fails");
	is_str(cause, "f:3: expected name = value", "names the line");
	free(cause);
	config_free(&cfg);
	return tap_done();
}
