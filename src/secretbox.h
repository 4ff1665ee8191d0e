/*
 * secretbox.h: subscription secrets at rest.  They are sealed with
 * AES-256-GCM under a key kept in a file beside the database (created on
 * first start, mode 0600), so a copy or dump of the database alone does not
 * reveal them.  Sealed form: "v1:" base64(nonce[12] ciphertext tag[16]).
 *
 * Thread-safe once loaded: the key is read-only.
 */
#ifndef SLUICE_SECRETBOX_H
#define SLUICE_SECRETBOX_H

#include <stddef.h>

struct secretbox;

/* Loads the key from path, creating it if missing; NULL and *cause. */
struct secretbox *secretbox_open(const char *path, char **cause);
void secretbox_free(struct secretbox *);
/*
 * Copies the key file at from (if there is one) to to, mode 0600, so that
 * a backup of the database comes with the key its secrets need.
 */
int secretbox_copy(const char *from, const char *to, char **cause)
    __attribute__((warn_unused_result));
/* Seals plain text; the result is the caller's to free. */
char *secretbox_seal(const struct secretbox *, const char *plain);
/*
 * Opens a sealed secret (a value without the "v1:" mark is returned as
 * it is: stored before sealing existed).  NULL if it does not open.
 */
char *secretbox_unseal(const struct secretbox *, const char *sealed);

#endif
