/* tls: COCOON's TLS 1.3 contexts (mutual RA-TLS) and non-blocking SSL over a socket fd. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "net/tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct tls_ctx {
  SSL_CTX *ssl_ctx;
  struct ratls_policy *policy;
  enum tls_role role;
  int refs; /* one loop thread owns a context's users */
};

static int ssl_err(struct err *e, int code, const char *what) {
  unsigned long oe = ERR_get_error();
  char detail[160] = "";
  if (oe) ERR_error_string_n(oe, detail, sizeof(detail));
  ERR_clear_error();
  return err_set(e, code, "%s%s%s", what, detail[0] ? ": " : "", detail);
}

int tls_ctx_new(enum tls_role role, const struct ratls_identity *id, struct ratls_policy *policy,
                struct tls_ctx **out, struct err *e) {
  *out = NULL;
  if (!id || !policy || !policy->validate_cb) return err_set(e, ERR_INVALID, "tls: no identity or policy");
  struct tls_ctx *c = calloc(1, sizeof(*c));
  if (!c) return err_set(e, ERR_NOMEM, "out of memory");
  c->role = role;
  c->policy = policy;
  c->refs = 1;
  int rc = ERR_CRYPTO;
  SSL_CTX *s = c->ssl_ctx = SSL_CTX_new(role == TLS_SERVER ? TLS_server_method() : TLS_client_method());
  if (!s) {
    rc = ssl_err(e, ERR_CRYPTO, "tls: SSL_CTX_new");
    goto out;
  }
  SSL_CTX_set_options(s, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(s, 0);
  SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_min_proto_version(s, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) != 1) {
    rc = ssl_err(e, ERR_CRYPTO, "tls: cannot pin TLS 1.3");
    goto out;
  }
  SSL_CTX_set_mode(s, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
  /* Read whole socket buffers instead of a 5-byte header then the record body: half the read
   * syscalls. Buffered records are seen through SSL_has_pending (tls_conn_pending). */
  SSL_CTX_set_read_ahead(s, 1);
  SSL_CTX_set_default_read_buffer_len(s, 64 * 1024);
  if (SSL_CTX_set_ciphersuites(s, TLS_CIPHERSUITES) != 1) {
    rc = ssl_err(e, ERR_CRYPTO, "tls: ciphersuites");
    goto out;
  }
  if (SSL_CTX_use_certificate(s, ratls_identity_cert(id)) != 1 ||
      SSL_CTX_use_PrivateKey(s, ratls_identity_key(id)) != 1 ||
      SSL_CTX_check_private_key(s) != 1) {
    rc = ssl_err(e, ERR_CRYPTO, "tls: certificate/key");
    goto out;
  }
  int flags = SSL_VERIFY_PEER;
  if (role == TLS_SERVER) flags |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(s, flags, ratls_verify_cb);
  SSL_CTX_set_verify_depth(s, 1);
  rc = 0;
out:
  if (rc) {
    tls_ctx_unref(c);
    return rc;
  }
  *out = c;
  return 0;
}

void tls_ctx_ref(struct tls_ctx *ctx) { ctx->refs++; }

void tls_ctx_unref(struct tls_ctx *ctx) {
  if (!ctx || --ctx->refs > 0) return;
  SSL_CTX_free(ctx->ssl_ctx);
  free(ctx);
}

enum tls_role tls_ctx_role(const struct tls_ctx *ctx) { return ctx->role; }

int tls_conn_init(struct tls_conn *t, struct tls_ctx *ctx, int fd, struct err *e) {
  memset(t, 0, sizeof(*t));
  t->ssl = SSL_new(ctx->ssl_ctx);
  if (!t->ssl) return ssl_err(e, ERR_CRYPTO, "tls: SSL_new");
  t->ctx = ctx;
  tls_ctx_ref(ctx);
  /* Writes go through a buffer BIO so that the records of one SSL_write (up to four 16 KiB
   * records) leave in one send, flushed by tls_conn_flush; reads come straight from the socket
   * (read-ahead buffers them). */
  BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE);
  BIO *wbuf = BIO_new(BIO_f_buffer());
  if (!sock || !wbuf || BIO_set_write_buffer_size(wbuf, TLS_WRITE_BUFFER) != 1 || BIO_up_ref(sock) != 1) {
    BIO_free(sock);
    BIO_free(wbuf);
    int rc = ssl_err(e, ERR_CRYPTO, "tls: BIO setup");
    tls_conn_cleanup(t);
    return rc;
  }
  BIO_push(wbuf, sock);
  SSL_set_bio(t->ssl, sock, wbuf); /* takes both references to sock (read side and chain) */
  if (ratls_ssl_attach(t->ssl, ctx->policy, &t->peer) != 0) {
    int rc = ssl_err(e, ERR_CRYPTO, "tls: SSL setup");
    tls_conn_cleanup(t);
    return rc;
  }
  if (ctx->role == TLS_CLIENT) {
    SSL_set_connect_state(t->ssl);
    if (SSL_set_tlsext_host_name(t->ssl, TLS_CLIENT_SNI) != 1) {
      int rc = ssl_err(e, ERR_CRYPTO, "tls: SNI");
      tls_conn_cleanup(t);
      return rc;
    }
  } else {
    SSL_set_accept_state(t->ssl);
  }
  return 0;
}

void tls_conn_cleanup(struct tls_conn *t) {
  if (t->ssl) SSL_free(t->ssl);
  t->ssl = NULL;
  tls_ctx_unref(t->ctx);
  t->ctx = NULL;
  ERR_clear_error();
}

/* Maps an SSL_get_error result; sets want_write. */
static int map_ssl_error(struct tls_conn *t, int ret, const char *what, struct err *e) {
  int se = SSL_get_error(t->ssl, ret);
  t->want_write = 0;
  switch (se) {
    case SSL_ERROR_WANT_READ:
      return ERR_AGAIN;
    case SSL_ERROR_WANT_WRITE:
      t->want_write = 1;
      return ERR_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
      ERR_clear_error();
      return err_set(e, ERR_CLOSED, "tls: peer closed");
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        int saved = errno;
        ERR_clear_error();
        if (saved == 0 || saved == ECONNRESET || saved == EPIPE)
          return err_set(e, ERR_CLOSED, "tls: %s: connection %s", what,
                         saved == 0 ? "closed" : "reset");
        return err_set(e, ERR_IO, "tls: %s: %s", what, strerror(saved));
      }
      return ssl_err(e, ERR_IO, what);
    default:
      /* OpenSSL 3 reports a TCP close without close_notify as an SSL error; for us it is a
       * close (frames carry their own lengths, so truncation cannot go unnoticed). */
      if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        return err_set(e, ERR_CLOSED, "tls: %s: connection closed", what);
      }
      return ssl_err(e, ERR_CRYPTO, what);
  }
}

int tls_conn_handshake(struct tls_conn *t, struct err *e) {
  if (t->handshake_done) return 0;
  ERR_clear_error();
  int ret = SSL_do_handshake(t->ssl);
  if (ret != 1) {
    int rc = map_ssl_error(t, ret, "handshake", e);
    if (rc == ERR_AGAIN) return rc;
    /* A refusal by our verify callback is the useful message. */
    if (t->peer.err.code) return err_set(e, ERR_REFUSED, "%s", t->peer.err.msg);
    return rc;
  }
  t->want_write = 0;
  /* Belt and braces: the verify callback must have run and accepted the peer. */
  if (!t->peer.ok || SSL_get0_peer_certificate(t->ssl) == NULL)
    return err_set(e, ERR_REFUSED, "tls: peer not verified%s%s", t->peer.err.code ? ": " : "",
                   t->peer.err.code ? t->peer.err.msg : "");
  if (SSL_version(t->ssl) != TLS1_3_VERSION) return err_set(e, ERR_PROTO, "tls: not TLS 1.3");
  t->handshake_done = 1;
  return 0;
}

int tls_conn_read(struct tls_conn *t, void *p, size_t n, size_t *got, struct err *e) {
  *got = 0;
  ERR_clear_error();
  int ret = SSL_read_ex(t->ssl, p, n, got);
  if (ret == 1) {
    t->want_write = 0;
    return 0;
  }
  return map_ssl_error(t, ret, "read", e);
}

int tls_conn_write(struct tls_conn *t, const void *p, size_t n, size_t *put, struct err *e) {
  *put = 0;
  ERR_clear_error();
  int ret = SSL_write_ex(t->ssl, p, n, put);
  if (ret == 1) {
    t->want_write = 0;
    return 0;
  }
  return map_ssl_error(t, ret, "write", e);
}

int tls_conn_flush(struct tls_conn *t, struct err *e) {
  if (!t->ssl) return 0;
  BIO *w = SSL_get_wbio(t->ssl);
  if (!w || BIO_wpending(w) == 0) return 0;
  ERR_clear_error();
  errno = 0;
  if (BIO_flush(w) == 1) return 0;
  if (BIO_should_retry(w)) {
    t->want_write = 1;
    return ERR_AGAIN;
  }
  int saved = errno;
  if (saved == 0 || saved == ECONNRESET || saved == EPIPE)
    return err_set(e, ERR_CLOSED, "tls: write: connection %s", saved == 0 ? "closed" : "reset");
  return err_set(e, ERR_IO, "tls: write: %s", strerror(saved));
}

size_t tls_conn_write_buffered(const struct tls_conn *t) {
  BIO *w = t->ssl ? SSL_get_wbio(t->ssl) : NULL;
  return w ? BIO_wpending(w) : 0;
}

int tls_conn_pending(const struct tls_conn *t) { return t->ssl && SSL_has_pending(t->ssl); }
