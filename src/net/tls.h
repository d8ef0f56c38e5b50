/* tls: COCOON's TLS 1.3 contexts (mutual RA-TLS) and non-blocking SSL over a socket fd. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_NET_TLS_H
#define COCOON_NET_TLS_H

#include <stddef.h>

#include <openssl/types.h>

#include "base/err.h"
#include "net/ratls.h"

/* Settings from tee/cocoon/tdx.cpp create_ssl_ctx: TLS 1.3 only, these two suites, no tickets,
 * no session cache (a resumed session would skip attestation), peer certificate required both
 * ways, verify depth 1, client SNI "127.0.0.1". */
#define TLS_CIPHERSUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
#define TLS_CLIENT_SNI "127.0.0.1"
/* Records written by SSL_write wait in a buffer this big until tls_conn_flush (or until it is
 * full): one SSL_write of 64 KiB makes four records, sent with one syscall. */
#define TLS_WRITE_BUFFER (80 * 1024)

enum tls_role { TLS_CLIENT = 0, TLS_SERVER = 1 };

/* An SSL_CTX with our identity and peer policy. Reference-counted: each tls_conn holds one. */
struct tls_ctx;

/* Borrows id only during the call (OpenSSL keeps its own references); borrows policy for the
 * context's life. Caller drops the reference with tls_ctx_unref. */
CC_NODISCARD int tls_ctx_new(enum tls_role role, const struct ratls_identity *id,
                             struct ratls_policy *policy, struct tls_ctx **out, struct err *e);
void tls_ctx_ref(struct tls_ctx *ctx);
void tls_ctx_unref(struct tls_ctx *ctx); /* NULL-safe */
enum tls_role tls_ctx_role(const struct tls_ctx *ctx);

/* One TLS session over a non-blocking socket the caller owns (the fd is not closed here). */
struct tls_conn {
  SSL *ssl;
  struct tls_ctx *ctx;
  struct ratls_result peer; /* filled by the verify callback during the handshake */
  int want_write;           /* the last call needs the fd writable to progress */
  int handshake_done;
};

CC_NODISCARD int tls_conn_init(struct tls_conn *t, struct tls_ctx *ctx, int fd, struct err *e);
void tls_conn_cleanup(struct tls_conn *t); /* safe on a zeroed struct */
/* Drives the handshake: 0 when done and the peer passed RA-TLS, ERR_AGAIN to wait for the fd
 * (readable, or writable when want_write), else an error with e filled. */
CC_NODISCARD int tls_conn_handshake(struct tls_conn *t, struct err *e);
/* Reads up to n bytes: 0 with *got > 0, ERR_AGAIN, ERR_CLOSED at the peer's close or EOF, or an
 * error with e filled. */
CC_NODISCARD int tls_conn_read(struct tls_conn *t, void *p, size_t n, size_t *got, struct err *e);
/* Writes up to n bytes (partial writes allowed): 0 with *put > 0, ERR_AGAIN, or an error.
 * After ERR_AGAIN the next call must pass at least the same bytes (the buffer may move). The
 * records may wait in the write buffer: tls_conn_flush sends them. */
CC_NODISCARD int tls_conn_write(struct tls_conn *t, const void *p, size_t n, size_t *put,
                                struct err *e);
/* Sends the records tls_conn_write left in the write buffer: 0 when all are out, ERR_AGAIN
 * (want_write set) to wait for the fd, or an error. Call it after the last write of a batch. */
CC_NODISCARD int tls_conn_flush(struct tls_conn *t, struct err *e);
/* Bytes of records waiting in the write buffer. */
size_t tls_conn_write_buffered(const struct tls_conn *t);
/* Whether decrypted bytes wait inside OpenSSL (no fd event will announce them). */
int tls_conn_pending(const struct tls_conn *t);

#endif
