/*
 * secretbox.c: AES-256-GCM sealing of subscription secrets with a key file
 * (OpenSSL's libcrypto).  The key file holds 32 random bytes as 64 hex
 * digits; it is made with O_EXCL and mode 0600 on first start.
 *
 * Thread-safe: the key is immutable after secretbox_open.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cloudevent.h"
#include "secretbox.h"
#include "xmalloc.h"

#define SB_KEY 32
#define SB_NONCE 12
#define SB_TAG 16

struct secretbox {
	unsigned char key[SB_KEY];
};

static int
secretbox_create(const char *path, char **cause)
{
	unsigned char key[SB_KEY];
	char hex[2 * SB_KEY + 2];
	int fd, i;

	if (RAND_bytes(key, sizeof key) != 1) {
		*cause = xstrdup("no randomness for a new secret key");
		return -1;
	}
	for (i = 0; i < SB_KEY; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	hex[2 * SB_KEY] = '\n';
	OPENSSL_cleanse(key, sizeof key);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		*cause = xasprintf("create %s: %s", path, strerror(errno));
		return -1;
	}
	if (write(fd, hex, 2 * SB_KEY + 1) != 2 * SB_KEY + 1 || fsync(fd) != 0) {
		*cause = xasprintf("write %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	OPENSSL_cleanse(hex, sizeof hex);
	return 0;
}

struct secretbox *
secretbox_open(const char *path, char **cause)
{
	struct secretbox *sb;
	char hex[2 * SB_KEY + 2] = { 0 };
	unsigned int byte;
	FILE *f;
	int i;

	if (access(path, F_OK) != 0 && secretbox_create(path, cause) != 0)
		return NULL;
	if ((f = fopen(path, "r")) == NULL) {
		*cause = xasprintf("open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fread(hex, 1, 2 * SB_KEY, f) != 2 * SB_KEY) {
		fclose(f);
		*cause = xasprintf("%s: not a sluice key file (64 hex digits)",
		    path);
		return NULL;
	}
	fclose(f);
	sb = xcalloc(1, sizeof *sb);
	for (i = 0; i < SB_KEY; i++) {
		if (sscanf(hex + 2 * i, "%2x", &byte) != 1) {
			*cause = xasprintf("%s: not a sluice key file (64 hex "
			    "digits)", path);
			secretbox_free(sb);
			return NULL;
		}
		sb->key[i] = (unsigned char)byte;
	}
	OPENSSL_cleanse(hex, sizeof hex);
	return sb;
}

void
secretbox_free(struct secretbox *sb)
{
	if (sb == NULL)
		return;
	OPENSSL_cleanse(sb->key, sizeof sb->key);
	free(sb);
}

char *
secretbox_seal(const struct secretbox *sb, const char *plain)
{
	size_t n = strlen(plain);
	unsigned char *buf = xmalloc(SB_NONCE + n + SB_TAG);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	char *b64, *out = NULL;
	int len, fin;

	if (c == NULL || RAND_bytes(buf, SB_NONCE) != 1 ||
	    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, sb->key, buf) != 1 ||
	    EVP_EncryptUpdate(c, buf + SB_NONCE, &len,
		(const unsigned char *)plain, (int)n) != 1 ||
	    EVP_EncryptFinal_ex(c, buf + SB_NONCE + len, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SB_TAG,
		buf + SB_NONCE + n) != 1)
		abort(); /* libcrypto failing to encrypt is a broken host */
	b64 = cloudevent_base64_encode(buf, SB_NONCE + n + SB_TAG);
	out = xasprintf("v1:%s", b64);
	free(b64);
	EVP_CIPHER_CTX_free(c);
	free(buf);
	return out;
}

char *
secretbox_unseal(const struct secretbox *sb, const char *sealed)
{
	unsigned char *buf = NULL, *plain = NULL;
	EVP_CIPHER_CTX *c = NULL;
	size_t n;
	int len, fin;

	if (strncmp(sealed, "v1:", 3) != 0)
		return xstrdup(sealed);
	if (cloudevent_base64_decode(sealed + 3, strlen(sealed + 3), &buf,
	    &n) != 0 || n < SB_NONCE + SB_TAG)
		goto fail;
	n -= SB_NONCE + SB_TAG;
	plain = xmalloc(n + 1);
	if ((c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, sb->key, buf) != 1 ||
	    EVP_DecryptUpdate(c, plain, &len, buf + SB_NONCE, (int)n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SB_TAG,
		buf + SB_NONCE + n) != 1 ||
	    EVP_DecryptFinal_ex(c, plain + len, &fin) != 1)
		goto fail;
	plain[n] = '\0';
	EVP_CIPHER_CTX_free(c);
	free(buf);
	return (char *)plain;
fail:
	EVP_CIPHER_CTX_free(c);
	free(buf);
	free(plain);
	return NULL;
}

int
secretbox_copy(const char *from, const char *to, char **cause)
{
	char key[2 * SB_KEY + 1];
	ssize_t n;
	int in, out;

	if ((in = open(from, O_RDONLY)) < 0)
		return errno == ENOENT ? 0 : (*cause = xasprintf("open %s: %s",
		    from, strerror(errno)), -1);
	n = read(in, key, sizeof key);
	close(in);
	if (n != (ssize_t)sizeof key) {
		*cause = xasprintf("%s: not a sluice key file", from);
		return -1;
	}
	if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
		*cause = xasprintf("create %s: %s", to, strerror(errno));
		return -1;
	}
	if (write(out, key, sizeof key) != (ssize_t)sizeof key ||
	    fsync(out) != 0) {
		*cause = xasprintf("write %s: %s", to, strerror(errno));
		close(out);
		return -1;
	}
	close(out);
	OPENSSL_cleanse(key, sizeof key);
	return 0;
}
