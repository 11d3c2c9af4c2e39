/* SPDX-License-Identifier: MIT */
/*
 * auth.h - the cluster secret and the connection challenge-response.
 *
 * Every program takes --secret FILE: a file of at least VAUTH_SECRET_MIN
 * bytes shared by the whole cluster (one trailing newline is not part of
 * it, so `head -c 32 /dev/urandom | base64 > FILE` works). It should be
 * mode 0600 or stricter; a file that group or others may read is used
 * with a warning.
 *
 * The handshake (HMAC-SHA256 from libsodium; nothing hand-rolled), run by
 * the transport before any other frame:
 *
 *   server -> client  HELLO  scheme (1 byte) || server nonce (32 bytes)
 *   client -> server  PROOF  client nonce (32) || HMAC(secret, T || "client")
 *   server -> client  ACK    HMAC(secret, T || "server")
 *
 *   T = "valorfs-auth-v1" || server nonce || client nonce
 *
 * Nonces come from randombytes_buf(). The server drops a client whose
 * proof does not verify (constant-time compare) before anything else; the
 * client checks the ACK, so a server without the secret cannot pose as
 * one. The two labels keep a proof from being reflected as an ACK.
 *
 * Without a secret there is no challenge-response, but the server still
 * opens with a HELLO, of scheme VAUTH_SCHEME_NONE: both sides must agree,
 * and a mismatch (secret on one side only) fails at once with a message
 * that says which side lacks it, instead of hanging until a timeout.
 *
 * The functions below only build and check these messages; the transport
 * moves the bytes (rdma/tcp.c wraps each in a frame: WIRE_OP_HELLO,
 * WIRE_OP_PROOF, and WIRE_OP_ACK as a reply whose status is -EACCES when
 * the proof failed).
 */
#ifndef VALOR_COMMON_AUTH_H
#define VALOR_COMMON_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define VAUTH_SECRET_MIN 16
#define VAUTH_SECRET_MAX 4096
#define VAUTH_NONCE_LEN 32
#define VAUTH_MAC_LEN 32

#define VAUTH_SCHEME_NONE 0
#define VAUTH_SCHEME_HMAC_SHA256 1

#define VAUTH_HELLO_LEN (1 + VAUTH_NONCE_LEN)
#define VAUTH_PROOF_LEN (VAUTH_NONCE_LEN + VAUTH_MAC_LEN)
#define VAUTH_ACK_LEN VAUTH_MAC_LEN

/* The key bytes; opaque, wiped when freed. Immutable once made, so one
 * secret may be shared by any number of threads and connections. */
struct vauth_secret;

/*
 * Read the secret from @path. Returns 0 and *@out, or -errno with the
 * reason logged: -ENOENT/-EACCES... (open), -EINVAL (not a regular file,
 * shorter than VAUTH_SECRET_MIN or longer than VAUTH_SECRET_MAX bytes).
 * Warns when group or others may read the file.
 */
int vauth_secret_load(const char *path, struct vauth_secret **out);
/* A secret from memory (tests, or a config already read). -EINVAL if
 * @len is outside [VAUTH_SECRET_MIN, VAUTH_SECRET_MAX], -ENOMEM. */
int vauth_secret_new(const void *key, size_t len, struct vauth_secret **out);
/* Wipe and free; NULL is a no-op. */
void vauth_secret_free(struct vauth_secret *s);

/* One side of one handshake, embedded in the connection. */
struct vauth_hs {
	const struct vauth_secret *secret; /* NULL: no authentication */
	uint8_t server_nonce[VAUTH_NONCE_LEN];
	uint8_t client_nonce[VAUTH_NONCE_LEN];
	uint8_t step; /* private: which message is expected next */
};

/* Start a handshake; @secret (kept by pointer, may be NULL) must outlive
 * it. */
void vauth_hs_init(struct vauth_hs *hs, const struct vauth_secret *secret);

/* Server: the HELLO to send first (draws the server nonce). */
void vauth_server_hello(struct vauth_hs *hs, uint8_t out[VAUTH_HELLO_LEN]);
/*
 * Server: check the client's PROOF (@len bytes at @msg). 0 and the ACK to
 * send in @ack, or -EBADMSG (wrong length or out of order) / -EACCES
 * (proof does not verify: another secret), with *@why set. A server
 * without a secret expects no PROOF: any is refused (-EPROTO).
 */
int vauth_server_proof(struct vauth_hs *hs, const void *msg, size_t len,
		       uint8_t ack[VAUTH_ACK_LEN], const char **why);

/*
 * Client: answer the server's HELLO. Returns VAUTH_PROOF_LEN with the PROOF
 * to send in @proof, 0 when neither side authenticates (done), or -errno
 * with *@why set: -EBADMSG (malformed HELLO), -EACCES (one side has a
 * secret and the other not), -EPROTO (unknown scheme).
 */
int vauth_client_hello(struct vauth_hs *hs, const void *msg, size_t len,
		       uint8_t proof[VAUTH_PROOF_LEN], const char **why);
/* Client: check the server's ACK. 0, or -EBADMSG / -EACCES (the server
 * does not know our secret), *@why set. */
int vauth_client_ack(struct vauth_hs *hs, const void *msg, size_t len,
		     const char **why);

#endif
