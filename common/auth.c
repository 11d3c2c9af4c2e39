/* SPDX-License-Identifier: MIT */
/*
 * auth.c - secret files and the HMAC-SHA256 challenge-response (libsodium).
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/log.h"

#define VAUTH_LABEL "valorfs-auth-v1"

struct vauth_secret {
	size_t len;
	uint8_t key[];
};

/* Where a handshake is (struct vauth_hs.step). */
enum vauth_step {
	VAUTH_STEP_START,  /* nothing exchanged yet */
	VAUTH_STEP_HELLO,  /* server: HELLO sent, PROOF expected;
			    * client: PROOF sent, ACK expected */
	VAUTH_STEP_DONE,   /* authenticated (or agreed on none) */
	VAUTH_STEP_FAILED, /* refused; the connection must go */
};

/* ---- secrets ------------------------------------------------------------- */

int vauth_secret_new(const void *key, size_t len, struct vauth_secret **out)
{
	struct vauth_secret *s;

	*out = NULL;
	if (len < VAUTH_SECRET_MIN || len > VAUTH_SECRET_MAX)
		return -EINVAL;
	/* Idempotent and thread-safe; randombytes needs it done once. */
	if (sodium_init() < 0)
		return -ENOSYS;
	s = malloc(sizeof(*s) + len);
	if (!s)
		return -ENOMEM;
	s->len = len;
	memcpy(s->key, key, len);
	*out = s;
	return 0;
}

void vauth_secret_free(struct vauth_secret *s)
{
	if (!s)
		return;
	sodium_memzero(s->key, s->len);
	free(s);
}

int vauth_secret_load(const char *path, struct vauth_secret **out)
{
	uint8_t buf[VAUTH_SECRET_MAX + 2];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		vlog_err("secret file %s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		vlog_err("secret file %s: %s", path, strerror(-ret));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		vlog_err("secret file %s: not a regular file", path);
		ret = -EINVAL;
		goto out_close;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		vlog_warn("secret file %s: mode %04o lets group or others "
			  "read it; chmod 600 it",
			  path, (unsigned)(st.st_mode & 07777));

	/* Read one byte more than allowed (plus a newline) to see "too long".
	 */
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			vlog_err("secret file %s: %s", path, strerror(-ret));
			goto out_wipe;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	/* One trailing newline (echo, editors) is not part of the secret. */
	if (len && buf[len - 1] == '\n') {
		len--;
		if (len && buf[len - 1] == '\r')
			len--;
	}
	if (len < VAUTH_SECRET_MIN || len > VAUTH_SECRET_MAX) {
		vlog_err("secret file %s: the secret must be %d to %d bytes "
			 "long (%s)",
			 path, VAUTH_SECRET_MIN, VAUTH_SECRET_MAX,
			 len < VAUTH_SECRET_MIN ? "too short" : "too long");
		ret = -EINVAL;
		goto out_wipe;
	}
	ret = vauth_secret_new(buf, len, out);
	if (ret < 0)
		vlog_err("secret file %s: %s", path, strerror(-ret));

out_wipe:
	sodium_memzero(buf, sizeof(buf));
out_close:
	close(fd);
	return ret;
}

/* ---- handshake ----------------------------------------------------------- */

void vauth_hs_init(struct vauth_hs *hs, const struct vauth_secret *secret)
{
	memset(hs, 0, sizeof(*hs));
	hs->secret = secret;
	hs->step = VAUTH_STEP_START;
}

/* HMAC-SHA256(secret, label || server nonce || client nonce || @who). */
static void vauth_mac(const struct vauth_hs *hs, const char *who,
		      uint8_t out[VAUTH_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, hs->secret->key, hs->secret->len);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)VAUTH_LABEL,
				      strlen(VAUTH_LABEL));
	crypto_auth_hmacsha256_update(&st, hs->server_nonce, VAUTH_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, hs->client_nonce, VAUTH_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)who, strlen(who));
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

static int vauth_fail(struct vauth_hs *hs, int err, const char *reason,
		      const char **why)
{
	hs->step = VAUTH_STEP_FAILED;
	if (why)
		*why = reason;
	return err;
}

void vauth_server_hello(struct vauth_hs *hs, uint8_t out[VAUTH_HELLO_LEN])
{
	memset(out, 0, VAUTH_HELLO_LEN);
	if (!hs->secret) {
		out[0] = VAUTH_SCHEME_NONE;
		hs->step = VAUTH_STEP_DONE;
		return;
	}
	randombytes_buf(hs->server_nonce, VAUTH_NONCE_LEN);
	out[0] = VAUTH_SCHEME_HMAC_SHA256;
	memcpy(out + 1, hs->server_nonce, VAUTH_NONCE_LEN);
	hs->step = VAUTH_STEP_HELLO;
}

int vauth_server_proof(struct vauth_hs *hs, const void *msg, size_t len,
		       uint8_t ack[VAUTH_ACK_LEN], const char **why)
{
	uint8_t mac[VAUTH_MAC_LEN];
	const uint8_t *p = msg;
	int ok;

	if (!hs->secret)
		return vauth_fail(hs, -EPROTO,
				  "client sent a proof but this server has "
				  "no secret (--secret on one side only)",
				  why);
	if (hs->step != VAUTH_STEP_HELLO)
		return vauth_fail(hs, -EBADMSG, "proof out of order", why);
	if (len != VAUTH_PROOF_LEN)
		return vauth_fail(hs, -EBADMSG, "proof has the wrong length",
				  why);
	memcpy(hs->client_nonce, p, VAUTH_NONCE_LEN);
	vauth_mac(hs, "client", mac);
	ok = crypto_verify_32(mac, p + VAUTH_NONCE_LEN) == 0;
	sodium_memzero(mac, sizeof(mac));
	if (!ok)
		return vauth_fail(hs, -EACCES,
				  "client proof does not verify (another "
				  "secret)",
				  why);
	vauth_mac(hs, "server", ack);
	hs->step = VAUTH_STEP_DONE;
	return 0;
}

int vauth_client_hello(struct vauth_hs *hs, const void *msg, size_t len,
		       uint8_t proof[VAUTH_PROOF_LEN], const char **why)
{
	const uint8_t *p = msg;

	if (hs->step != VAUTH_STEP_START)
		return vauth_fail(hs, -EBADMSG, "HELLO out of order", why);
	if (len != VAUTH_HELLO_LEN)
		return vauth_fail(hs, -EBADMSG, "HELLO has the wrong length",
				  why);
	switch (p[0]) {
	case VAUTH_SCHEME_NONE:
		if (hs->secret)
			return vauth_fail(hs, -EACCES,
					  "server has no secret but this "
					  "process was given one (--secret "
					  "on one side only)",
					  why);
		hs->step = VAUTH_STEP_DONE;
		return 0;
	case VAUTH_SCHEME_HMAC_SHA256:
		if (!hs->secret)
			return vauth_fail(hs, -EACCES,
					  "server requires a secret; start "
					  "this process with --secret FILE",
					  why);
		break;
	default:
		return vauth_fail(hs, -EPROTO,
				  "server asks for an unknown "
				  "authentication scheme",
				  why);
	}
	memcpy(hs->server_nonce, p + 1, VAUTH_NONCE_LEN);
	randombytes_buf(hs->client_nonce, VAUTH_NONCE_LEN);
	memcpy(proof, hs->client_nonce, VAUTH_NONCE_LEN);
	vauth_mac(hs, "client", proof + VAUTH_NONCE_LEN);
	hs->step = VAUTH_STEP_HELLO;
	return VAUTH_PROOF_LEN;
}

int vauth_client_ack(struct vauth_hs *hs, const void *msg, size_t len,
		     const char **why)
{
	uint8_t mac[VAUTH_MAC_LEN];
	int ok;

	if (hs->step != VAUTH_STEP_HELLO || !hs->secret)
		return vauth_fail(hs, -EBADMSG, "ACK out of order", why);
	if (len != VAUTH_ACK_LEN)
		return vauth_fail(hs, -EBADMSG, "ACK has the wrong length",
				  why);
	vauth_mac(hs, "server", mac);
	ok = crypto_verify_32(mac, msg) == 0;
	sodium_memzero(mac, sizeof(mac));
	if (!ok)
		return vauth_fail(hs, -EACCES,
				  "server's answer does not verify: it does "
				  "not know our secret",
				  why);
	hs->step = VAUTH_STEP_DONE;
	return 0;
}
