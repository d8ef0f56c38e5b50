/* conn: COCOON packet connections over TCP + PoW + RA-TLS, and the listener accepting them. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_NET_CONN_H
#define COCOON_NET_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "loop/loop.h"
#include "net/ratls.h"
#include "net/tls.h"

/* Life of a connection (upstream net/TcpConnection.cpp):
 *   outbound: TCP connect -> read PoW challenge, solve (<= pow_max_difficulty), answer ->
 *             TLS client handshake -> send tcp.connect(random id) -> tcp.connected(id) => ready
 *   inbound:  send PoW challenge, check answer (close on a bad one) -> TLS server handshake ->
 *             tcp.connect(id) -> reply tcp.connected(id) => ready
 * then framed tcp.* packets. The outbound side pings after ping_interval_ms without receiving
 * anything; either side closes after idle_timeout_ms without receiving a frame.
 *
 * Ownership: the network layer owns and frees every net_conn. The owner of an outbound conn
 * (from net_conn_connect) always gets close_cb exactly once; an inbound conn is reported by
 * ready_cb and from then on gets close_cb exactly once (inbound conns that fail their handshake
 * are closed silently). After close_cb returns the pointer is dead. No callback frees the
 * conn: net_conn_close is safe anywhere and the memory goes after the current loop iteration.
 * All callbacks run on the loop's thread. SIGPIPE must be ignored (loop_handle_signals does):
 * OpenSSL writes to the socket without MSG_NOSIGNAL. */

#define NET_DEFAULT_IDLE_OUTBOUND_MS 20000u
#define NET_DEFAULT_IDLE_INBOUND_MS 60000u
#define NET_DEFAULT_PING_INTERVAL_MS 10000u
#define NET_DEFAULT_QUERY_TIMEOUT_MS 30000u
#define NET_DEFAULT_MAX_QUERIES 1024u
#define NET_DEFAULT_WRITE_HIGH_WATER ((size_t)8 << 20)
#define NET_DEFAULT_WRITE_HARD_CAP ((size_t)64 << 20)
#define NET_DEFAULT_MAX_PENDING 1024u
#define NET_MAX_QUERY_ERROR_MESSAGE 4096u /* longer tcp.queryError messages are cut */

struct net_conn;
struct net_listener;

struct net_conn_opts {
  int32_t pow_difficulty;         /* inbound: bits we ask for */
  int32_t pow_max_difficulty;     /* outbound: most bits we agree to solve */
  uint32_t max_frame;             /* payload bytes per frame, both directions (<= 16 MiB) */
  uint32_t idle_timeout_ms;       /* 0: 20 s outbound / 60 s inbound */
  uint32_t ping_interval_ms;      /* outbound only */
  uint32_t handshake_timeout_ms;  /* TCP connect to ready; 0: the idle timeout */
  uint32_t max_queries;           /* in-flight net_conn_query calls */
  size_t write_high_water;        /* above it net_conn_writable() is 0 until drain_cb */
  size_t write_hard_cap;          /* queued bytes beyond it close the conn */
  uint32_t max_pending;           /* listener: inbound conns still in their handshake */
};

/* Fills the defaults above. */
void net_conn_opts_init(struct net_conn_opts *o);

/* Callbacks; any may be NULL. Data pointers are borrowed for the call only. */
struct net_conn_handler {
  void (*ready_cb)(struct net_conn *c);
  void (*packet_cb)(struct net_conn *c, const uint8_t *data, size_t len);
  /* Answer later (or now) with net_conn_answer / net_conn_answer_error. Without query_cb a
   * query gets an error answer. */
  void (*query_cb)(struct net_conn *c, int64_t qid, const uint8_t *data, size_t len);
  /* Queued output fell back below write_high_water / 2 after having been above it. */
  void (*drain_cb)(struct net_conn *c);
  /* code: 0 when closed by net_conn_close, else ERR_* (ERR_TIMEOUT, ERR_CLOSED, ERR_PROTO...). */
  void (*close_cb)(struct net_conn *c, int code, const char *reason);
};

/* Outcome of net_conn_query. */
enum net_answer_kind {
  NET_ANSWER_OK = 0,  /* tcp.queryAnswer: data, len */
  NET_ANSWER_ERROR,   /* tcp.queryError from the peer: code, message */
  NET_ANSWER_TIMEOUT, /* no answer within the timeout */
  NET_ANSWER_CLOSED,  /* the conn closed first */
};

struct net_answer {
  enum net_answer_kind kind;
  const uint8_t *data; /* borrowed for the call */
  size_t len;
  int32_t code;        /* ERROR: the peer's code; TIMEOUT: ERR_TIMEOUT; CLOSED: ERR_CLOSED */
  const char *message; /* NUL-terminated, borrowed for the call; "" for OK */
};

typedef void (*net_query_cb)(struct net_conn *c, void *arg, const struct net_answer *a);

/* Starts an outbound connection to a numeric IPv4/IPv6 host (or "localhost"). tls must be a
 * TLS_CLIENT context (referenced); opts may be NULL; handler is copied. The conn is owned by
 * the layer; *out is for the caller's bookkeeping (valid until close_cb). Fails only on bad
 * arguments or resources; connection failures come later through close_cb. */
CC_NODISCARD int net_conn_connect(struct loop *loop, struct tls_ctx *tls, const char *host,
                                  int port, const struct net_conn_opts *opts,
                                  const struct net_conn_handler *handler, void *user,
                                  struct net_conn **out, struct err *e);

/* Closes now (idempotent, safe inside callbacks): pending queries get NET_ANSWER_CLOSED and
 * close_cb runs after the current callback returns. reason is copied (may be NULL). */
void net_conn_close(struct net_conn *c, const char *reason);

/* Sends tcp.packet. 0, ERR_CLOSED (not ready / closing), ERR_LIMIT (len above max_frame, or
 * the write hard cap was hit: the conn is then closing). */
CC_NODISCARD int net_conn_send_packet(struct net_conn *c, const void *data, size_t len);
/* Sends tcp.query and calls cb exactly once (answer, peer error, timeout or close) unless
 * this returns an error (ERR_CLOSED, ERR_LIMIT for too many in-flight queries or size). A
 * timeout_ms of 0 means NET_DEFAULT_QUERY_TIMEOUT_MS. qid_out may be NULL. */
CC_NODISCARD int net_conn_query(struct net_conn *c, const void *data, size_t len,
                                uint32_t timeout_ms, net_query_cb cb, void *cb_arg,
                                int64_t *qid_out);
/* Forgets an in-flight query without calling its callback; ERR_NOTFOUND if unknown. */
int net_conn_query_cancel(struct net_conn *c, int64_t qid);
/* Answers a query received through query_cb. */
CC_NODISCARD int net_conn_answer(struct net_conn *c, int64_t qid, const void *data, size_t len);
CC_NODISCARD int net_conn_answer_error(struct net_conn *c, int64_t qid, int32_t code,
                                       const char *msg);

/* Backpressure: bytes queued for the peer, and whether it is below the high-water mark. */
size_t net_conn_write_pending(const struct net_conn *c);
int net_conn_writable(const struct net_conn *c);

void net_conn_set_user(struct net_conn *c, void *user);
void *net_conn_user(const struct net_conn *c);
void net_conn_set_handler(struct net_conn *c, const struct net_conn_handler *handler);
struct loop *net_conn_loop(const struct net_conn *c);
int net_conn_is_ready(const struct net_conn *c);
int net_conn_is_outbound(const struct net_conn *c);
/* "ip:port" of the peer. */
const char *net_conn_remote(const struct net_conn *c);
/* RA-TLS outcome (peer key, policy name, attestation fields); NULL before the TLS handshake
 * completed. */
const struct ratls_result *net_conn_peer(const struct net_conn *c);
/* 32-byte Ed25519 key of the peer; NULL before the TLS handshake completed. */
const uint8_t *net_conn_peer_key(const struct net_conn *c);
/* Number for log lines. */
uint64_t net_conn_id(const struct net_conn *c);

/* Listens on a numeric host (or "localhost") and port (0: any free port). tls must be a
 * TLS_SERVER context (referenced). Accepted conns copy opts, handler and user; they surface
 * through handler->ready_cb. */
CC_NODISCARD int net_listener_new(struct loop *loop, struct tls_ctx *tls, const char *host,
                                  int port, const struct net_conn_opts *opts,
                                  const struct net_conn_handler *handler, void *user,
                                  struct net_listener **out, struct err *e);
int net_listener_port(const struct net_listener *l);
/* New connections use tls from now on (e.g. a reissued certificate); open ones keep theirs. */
void net_listener_set_tls(struct net_listener *l, struct tls_ctx *tls);
/* Stops accepting and drops conns still in their handshake; ready conns live on. NULL-safe,
 * safe inside callbacks. */
void net_listener_free(struct net_listener *l);

#endif
