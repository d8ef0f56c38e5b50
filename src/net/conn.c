/* conn: COCOON packet connections over TCP + PoW + RA-TLS, and the listener accepting them. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "net/frame.h"
#include "net/pow.h"
#include "net/tcp_packet.h"

#define NET_READ_CHUNK ((size_t)16 << 10)
#define NET_WRITE_CHUNK ((size_t)64 << 10)
#define NET_READ_BUDGET ((size_t)1 << 20) /* per wakeup, so one peer cannot starve the rest */
#define NET_ACCEPT_BUDGET 64
#define NET_LISTEN_BACKLOG 512
#define NET_TL_OVERHEAD 32u /* constructor + id + bytes header + padding, rounded up */

enum conn_state {
  ST_CONNECTING, /* outbound TCP connect in progress */
  ST_POW,        /* challenge / answer exchange */
  ST_TLS,        /* TLS handshake */
  ST_INIT,       /* waiting for tcp.connect / tcp.connected */
  ST_READY,
};

/* Sub-steps of ST_POW. */
enum pow_step { POW_READ, POW_SOLVE, POW_WRITE };

struct net_query {
  struct net_query *prev, *next;
  struct net_conn *conn;
  int64_t id;
  struct loop_timer timer;
  net_query_cb cb;
  void *arg;
};

struct net_conn {
  struct loop *loop;
  uint64_t id;
  int fd;
  struct loop_io io;
  int outbound;
  enum conn_state state;
  char remote[64];
  struct net_conn_opts opts;
  struct net_conn_handler h;
  void *user;

  /* pre-TLS proof of work */
  enum pow_step pow_step;
  struct pow_challenge pow;
  int64_t pow_nonce;
  uint8_t pow_buf[POW_CHALLENGE_SIZE];
  size_t pow_have, pow_want; /* bytes read/written of pow_buf, and the target */

  struct tls_ctx *tls_ctx;
  struct tls_conn tls;
  int tls_started;

  struct frame_decoder dec;
  struct frame_encoder enc;
  struct buf rbuf, wbuf;
  int write_blocked; /* the last TLS write wanted the fd writable */
  int above_hw;      /* output went above the high-water mark; drain_cb is owed */
  int drain_due;
  int64_t connect_id;

  struct loop_timer timer; /* handshake deadline, idle cutoff, ping */
  struct loop_timer kick;  /* 0 ms: PoW slices, leftover TLS bytes, drain_cb */
  uint64_t deadline_ms;    /* handshake deadline */
  uint64_t last_rx_ms;
  int ping_sent;

  struct net_query *queries;
  uint32_t nqueries;

  int in_io;
  int flush_scheduled; /* a deferred flush is queued for the end of this loop iteration */
  int closing;
  int owner_knows; /* close_cb is owed */
  int close_code;
  char close_reason[192];

  struct net_listener *listener; /* while an inbound conn is in its handshake */
  struct net_conn *lprev, *lnext;
};

struct net_listener {
  struct loop *loop;
  int fd;
  struct loop_io io;
  int port;
  struct tls_ctx *tls;
  struct net_conn_opts opts;
  struct net_conn_handler h;
  void *user;
  struct net_conn *pending;
  uint32_t npending;
};

static uint64_t g_conn_ids;

static void conn_update_io(struct net_conn *c);
static void conn_fail(struct net_conn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int conn_flush(struct net_conn *c);
static void conn_read_frames(struct net_conn *c);
static void conn_arm_timer(struct net_conn *c);

void net_conn_opts_init(struct net_conn_opts *o) {
  memset(o, 0, sizeof(*o));
  o->pow_difficulty = POW_DEFAULT_DIFFICULTY;
  o->pow_max_difficulty = POW_DEFAULT_MAX_DIFFICULTY;
  o->max_frame = FRAME_MAX_LEN;
  o->idle_timeout_ms = 0;
  o->ping_interval_ms = NET_DEFAULT_PING_INTERVAL_MS;
  o->handshake_timeout_ms = 0;
  o->max_queries = NET_DEFAULT_MAX_QUERIES;
  o->write_high_water = NET_DEFAULT_WRITE_HIGH_WATER;
  o->write_hard_cap = NET_DEFAULT_WRITE_HARD_CAP;
  o->max_pending = NET_DEFAULT_MAX_PENDING;
}

/* Copies opts, filling direction-dependent defaults and repairing inconsistent limits. */
static void opts_resolve(struct net_conn_opts *dst, const struct net_conn_opts *src, int outbound) {
  if (src)
    *dst = *src;
  else
    net_conn_opts_init(dst);
  if (dst->max_frame == 0 || dst->max_frame > FRAME_MAX_LEN) dst->max_frame = FRAME_MAX_LEN;
  if (dst->max_frame < 2 * NET_TL_OVERHEAD) dst->max_frame = 2 * NET_TL_OVERHEAD;
  if (dst->idle_timeout_ms == 0)
    dst->idle_timeout_ms = outbound ? NET_DEFAULT_IDLE_OUTBOUND_MS : NET_DEFAULT_IDLE_INBOUND_MS;
  if (dst->ping_interval_ms == 0) dst->ping_interval_ms = NET_DEFAULT_PING_INTERVAL_MS;
  if (dst->handshake_timeout_ms == 0) dst->handshake_timeout_ms = dst->idle_timeout_ms;
  if (dst->max_queries == 0) dst->max_queries = NET_DEFAULT_MAX_QUERIES;
  if (dst->write_high_water == 0) dst->write_high_water = NET_DEFAULT_WRITE_HIGH_WATER;
  if (dst->write_hard_cap == 0) dst->write_hard_cap = NET_DEFAULT_WRITE_HARD_CAP;
  /* One maximal frame must always fit on top of the high-water mark. */
  size_t min_cap = dst->write_high_water + dst->max_frame + FRAME_HEADER_SIZE;
  if (dst->write_hard_cap < min_cap) dst->write_hard_cap = min_cap;
  if (dst->max_pending == 0) dst->max_pending = NET_DEFAULT_MAX_PENDING;
}

/* ---------------- addresses ---------------- */

static int resolve(const char *host, int port, int passive, struct sockaddr_storage *ss,
                   socklen_t *sl, struct err *e) {
  if (!host || port < 0 || port > 65535) return err_set(e, ERR_INVALID, "bad address");
  if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
  char portstr[8];
  snprintf(portstr, sizeof(portstr), "%d", port);
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  /* Numeric only: name lookups would block the loop. */
  int gr = getaddrinfo(host, portstr, &hints, &res);
  if (gr != 0 || !res) {
    if (res) freeaddrinfo(res);
    return err_set(e, ERR_INVALID, "bad address %s (numeric IP expected)", host);
  }
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *sl = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t outsz) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
    port = ntohs(a->sin_port);
    snprintf(out, outsz, "%s:%d", ip, port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
    port = ntohs(a->sin6_port);
    snprintf(out, outsz, "[%s]:%d", ip, port);
  } else {
    snprintf(out, outsz, "?");
  }
}

static void set_nodelay(int fd) {
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---------------- lifetime ---------------- */

static const char *dir_name(const struct net_conn *c) { return c->outbound ? "out" : "in"; }

static const char *state_name(enum conn_state s) {
  switch (s) {
    case ST_CONNECTING: return "connecting";
    case ST_POW: return "pow";
    case ST_TLS: return "tls";
    case ST_INIT: return "init";
    case ST_READY: return "ready";
  }
  return "?";
}

static void conn_timer_cb(struct loop_timer *t);
static void conn_kick_cb(struct loop_timer *t);
static void conn_io_cb(struct loop_io *io, uint32_t events);

static struct net_conn *conn_alloc(struct loop *loop, struct tls_ctx *tls, int outbound,
                                   const struct net_conn_opts *opts,
                                   const struct net_conn_handler *h, void *user) {
  struct net_conn *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->loop = loop;
  c->id = ++g_conn_ids;
  c->fd = -1;
  c->outbound = outbound;
  opts_resolve(&c->opts, opts, outbound);
  if (h) c->h = *h;
  c->user = user;
  c->tls_ctx = tls;
  tls_ctx_ref(tls);
  frame_decoder_init(&c->dec, c->opts.max_frame);
  frame_encoder_init(&c->enc, c->opts.max_frame);
  buf_init(&c->rbuf, (size_t)c->opts.max_frame + FRAME_HEADER_SIZE + NET_READ_CHUNK);
  buf_init(&c->wbuf, c->opts.write_hard_cap);
  loop_timer_init(&c->timer, conn_timer_cb, c);
  loop_timer_init(&c->kick, conn_kick_cb, c);
  c->deadline_ms = loop_now_ms(loop) + c->opts.handshake_timeout_ms;
  snprintf(c->remote, sizeof(c->remote), "?");
  return c;
}

static void listener_detach(struct net_conn *c) {
  struct net_listener *l = c->listener;
  if (!l) return;
  if (c->lprev)
    c->lprev->lnext = c->lnext;
  else
    l->pending = c->lnext;
  if (c->lnext) c->lnext->lprev = c->lprev;
  c->lprev = c->lnext = NULL;
  c->listener = NULL;
  l->npending--;
}

static void query_unlink(struct net_conn *c, struct net_query *q) {
  if (q->prev)
    q->prev->next = q->next;
  else
    c->queries = q->next;
  if (q->next) q->next->prev = q->prev;
  q->prev = q->next = NULL;
  c->nqueries--;
  loop_timer_stop(c->loop, &q->timer);
}

static void conn_finish(void *arg) {
  struct net_conn *c = arg;
  /* Callbacks below may call into the conn: it is closing, so they only get ERR_CLOSED. */
  while (c->queries) {
    struct net_query *q = c->queries;
    query_unlink(c, q);
    struct net_answer a = {.kind = NET_ANSWER_CLOSED, .code = ERR_CLOSED, .message = c->close_reason};
    q->cb(c, q->arg, &a);
    free(q);
  }
  if (c->owner_knows && c->h.close_cb) c->h.close_cb(c, c->close_code, c->close_reason);
  loop_timer_stop(c->loop, &c->timer);
  loop_timer_stop(c->loop, &c->kick);
  tls_conn_cleanup(&c->tls);
  tls_ctx_unref(c->tls_ctx);
  buf_free(&c->rbuf);
  buf_free(&c->wbuf);
  free(c);
}

static void conn_finish_timer_cb(struct loop_timer *t) { conn_finish(t->data); }

static void conn_close_code(struct net_conn *c, int code, const char *reason) {
  if (c->closing) return;
  c->closing = 1;
  c->close_code = code;
  snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason ? reason : "closed");
  /* Inbound conns failing their handshake are noise under a scan: debug level. */
  enum log_level lvl = (c->state == ST_READY || c->outbound) ? LOG_INFO : LOG_DEBUG;
  if (log_get_level() <= lvl)
    log_msg(lvl, "net_close", "conn=%llu dir=%s peer=%s state=%s code=%d err=\"%s\" reason=\"%s\"",
            (unsigned long long)c->id, dir_name(c), c->remote, state_name(c->state), code,
            code ? err_name(code) : "closed locally", c->close_reason);
  listener_detach(c);
  loop_timer_stop(c->loop, &c->timer);
  loop_timer_stop(c->loop, &c->kick);
  if (c->tls_started && c->tls.handshake_done) {
    /* Best effort: hand over what is queued and say goodbye; never wait. */
    if (code == 0) (void)conn_flush(c);
    ERR_clear_error();
    (void)SSL_shutdown(c->tls.ssl);
    struct err fe = {0};
    if (tls_conn_flush(&c->tls, &fe) != 0) log_debug("net_close_flush", "conn=%llu", (unsigned long long)c->id);
  }
  loop_io_del(c->loop, &c->io);
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  if (loop_defer(c->loop, conn_finish, c) != 0) {
    /* No memory to queue the deferred call: a 0 ms timer also runs after this callback. */
    loop_timer_init(&c->kick, conn_finish_timer_cb, c);
    loop_timer_start(c->loop, &c->kick, 0);
  }
}

static void conn_fail(struct net_conn *c, int code, const char *fmt, ...) {
  char msg[192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  conn_close_code(c, code ? code : ERR_IO, msg);
}

void net_conn_close(struct net_conn *c, const char *reason) {
  if (c) conn_close_code(c, 0, reason ? reason : "closed locally");
}

/* ---------------- timers ---------------- */

static void conn_arm_timer(struct net_conn *c) {
  uint64_t now = loop_now_ms(c->loop), next;
  if (c->state != ST_READY) {
    next = c->deadline_ms;
  } else {
    next = c->last_rx_ms + c->opts.idle_timeout_ms;
    if (c->outbound && !c->ping_sent)
      next = CC_MIN(next, c->last_rx_ms + c->opts.ping_interval_ms);
  }
  loop_timer_start(c->loop, &c->timer, next > now ? next - now : 0);
}

static int send_tcp(struct net_conn *c, const struct tcp_packet *p);

static void conn_timer_cb(struct loop_timer *t) {
  struct net_conn *c = t->data;
  if (c->closing) return;
  uint64_t now = loop_now_ms(c->loop);
  if (c->state != ST_READY) {
    if (now >= c->deadline_ms) {
      conn_fail(c, ERR_TIMEOUT, "handshake timeout in state %s", state_name(c->state));
      return;
    }
  } else {
    if (now >= c->last_rx_ms + c->opts.idle_timeout_ms) {
      conn_fail(c, ERR_TIMEOUT, "idle timeout: nothing received for %u ms",
                c->opts.idle_timeout_ms);
      return;
    }
    if (c->outbound && !c->ping_sent && now >= c->last_rx_ms + c->opts.ping_interval_ms) {
      struct tcp_packet p = {.kind = TCP_PING, .id = (int64_t)util_random_u64()};
      c->ping_sent = 1;
      if (send_tcp(c, &p) != 0) return;
    }
  }
  if (!c->closing) conn_arm_timer(c);
}

/* ---------------- output ---------------- */

static void conn_update_io(struct net_conn *c) {
  if (c->closing || !c->io.active) return;
  uint32_t ev = 0;
  switch (c->state) {
    case ST_CONNECTING:
      ev = LOOP_WRITE;
      break;
    case ST_POW:
      if (c->pow_step == POW_READ) ev = LOOP_READ;
      if (c->pow_step == POW_WRITE) ev = LOOP_WRITE;
      break;
    case ST_TLS:
      ev = LOOP_READ | (c->tls.want_write ? LOOP_WRITE : 0);
      break;
    case ST_INIT:
    case ST_READY:
      ev = LOOP_READ |
           (c->write_blocked && (c->wbuf.len > 0 || tls_conn_write_buffered(&c->tls) > 0) ? LOOP_WRITE : 0);
      break;
  }
  if (loop_io_mod(c->loop, &c->io, ev) != 0) conn_fail(c, ERR_IO, "epoll_ctl failed");
}

/* Writes queued frames until done or the socket is full. Returns 0 or the error (conn closed). */
static int conn_flush(struct net_conn *c) {
  if (!c->tls.handshake_done) return 0;
  while (c->wbuf.len > 0) {
    size_t put = 0;
    struct err e = {0};
    int rc = tls_conn_write(&c->tls, buf_ptr(&c->wbuf), CC_MIN(c->wbuf.len, NET_WRITE_CHUNK), &put,
                            &e);
    if (rc == ERR_AGAIN) {
      c->write_blocked = 1;
      break;
    }
    if (rc) {
      if (!c->closing) conn_close_code(c, rc, e.msg);
      return rc;
    }
    buf_consume(&c->wbuf, put);
  }
  if (c->wbuf.len == 0) {
    /* The records of this flush leave together (tls_conn_write only buffers them). */
    struct err e = {0};
    int rc = tls_conn_flush(&c->tls, &e);
    if (rc == ERR_AGAIN) {
      c->write_blocked = 1;
    } else if (rc) {
      if (!c->closing) conn_close_code(c, rc, e.msg);
      return rc;
    } else {
      c->write_blocked = 0;
    }
  }
  if (c->above_hw && c->wbuf.len <= c->opts.write_high_water / 2) {
    c->above_hw = 0;
    c->drain_due = 1;
    /* drain_cb from a clean stack, never from inside a send call. */
    if (!c->closing) loop_timer_start(c->loop, &c->kick, 0);
  }
  return 0;
}

/* Deferred flush: everything queued during one loop iteration leaves in one TLS write (one
 * record, one syscall) instead of one per packet. */
static void conn_flush_deferred(void *arg) {
  struct net_conn *c = arg;
  c->flush_scheduled = 0;
  if (c->closing) return;
  if (conn_flush(c) != 0) return;
  conn_update_io(c);
}

/* Frames and queues one tcp.* object; it is written at the end of the loop iteration. */
static int send_tcp(struct net_conn *c, const struct tcp_packet *p) {
  if (c->closing) return ERR_CLOSED;
  size_t body = p->data_len + p->message_len;
  if (body > c->opts.max_frame - NET_TL_OVERHEAD) return ERR_LIMIT;
  if (c->wbuf.len + body + NET_TL_OVERHEAD + FRAME_HEADER_SIZE > c->opts.write_hard_cap) {
    conn_fail(c, ERR_LIMIT, "write buffer hard cap of %zu bytes reached (peer not reading)",
              c->opts.write_hard_cap);
    return ERR_LIMIT;
  }
  size_t mark = 0;
  int rc = frame_begin(&c->wbuf, &mark);
  if (rc == 0) rc = frame_finish(&c->enc, &c->wbuf, mark, tcp_packet_encode(&c->wbuf, p));
  if (rc) {
    conn_fail(c, rc, "cannot queue %s: %s", tcp_packet_kind_name(p->kind), err_name(rc));
    return rc;
  }
  if (!c->in_io && !c->flush_scheduled) {
    if (loop_defer(c->loop, conn_flush_deferred, c) == 0) {
      c->flush_scheduled = 1;
    } else {
      rc = conn_flush(c);
      if (rc) return rc;
      conn_update_io(c);
    }
  }
  if (c->wbuf.len > c->opts.write_high_water) c->above_hw = 1;
  return c->closing ? ERR_CLOSED : 0;
}

/* ---------------- frames in ---------------- */

static struct net_query *query_find(struct net_conn *c, int64_t id) {
  for (struct net_query *q = c->queries; q; q = q->next)
    if (q->id == id) return q;
  return NULL;
}

static void go_ready(struct net_conn *c) {
  c->state = ST_READY;
  c->owner_knows = 1;
  listener_detach(c);
  c->last_rx_ms = loop_now_ms(c->loop);
  c->ping_sent = 0;
  conn_arm_timer(c);
  char key[17];
  util_hex(c->tls.peer.peer.public_key, 8, key);
  log_info("net_ready", "conn=%llu dir=%s peer=%s policy=%s peer_key=%s...",
           (unsigned long long)c->id, dir_name(c), c->remote,
           c->tls.peer.policy_name ? c->tls.peer.policy_name : "?", key);
  if (c->h.ready_cb) c->h.ready_cb(c);
}

static void handle_init_frame(struct net_conn *c, const struct tcp_packet *p) {
  if (c->outbound) {
    if (p->kind != TCP_CONNECTED || p->id != c->connect_id) {
      conn_fail(c, ERR_PROTO, "expected tcp.connected, got %s", tcp_packet_kind_name(p->kind));
      return;
    }
    go_ready(c);
    return;
  }
  if (p->kind != TCP_CONNECT) {
    conn_fail(c, ERR_PROTO, "expected tcp.connect, got %s", tcp_packet_kind_name(p->kind));
    return;
  }
  struct tcp_packet r = {.kind = TCP_CONNECTED, .id = p->id};
  if (send_tcp(c, &r) == 0) go_ready(c);
}

static void handle_answer(struct net_conn *c, const struct tcp_packet *p) {
  struct net_query *q = query_find(c, p->id);
  if (!q) {
    log_debug("net_late_answer", "conn=%llu qid=%lld", (unsigned long long)c->id,
              (long long)p->id);
    return;
  }
  query_unlink(c, q);
  char msg[NET_MAX_QUERY_ERROR_MESSAGE + 1];
  struct net_answer a = {.message = ""};
  if (p->kind == TCP_QUERY_ANSWER) {
    a.kind = NET_ANSWER_OK;
    a.data = p->data;
    a.len = p->data_len;
  } else {
    size_t n = CC_MIN(p->message_len, (size_t)NET_MAX_QUERY_ERROR_MESSAGE);
    if (n) memcpy(msg, p->message, n);
    msg[n] = 0;
    a.kind = NET_ANSWER_ERROR;
    a.code = p->code;
    a.message = msg;
  }
  q->cb(c, q->arg, &a);
  free(q);
}

static void handle_frame(struct net_conn *c, const uint8_t *payload, size_t len) {
  struct tcp_packet p;
  if (tcp_packet_decode(payload, len, &p) != 0) {
    conn_fail(c, ERR_PROTO, "malformed tcp packet (%zu bytes)", len);
    return;
  }
  c->last_rx_ms = loop_now_ms(c->loop);
  c->ping_sent = 0;
  if (c->state == ST_INIT) {
    handle_init_frame(c, &p);
    return;
  }
  switch (p.kind) {
    case TCP_PING: {
      struct tcp_packet r = {.kind = TCP_PONG, .id = p.id};
      (void)send_tcp(c, &r);
      break;
    }
    case TCP_PONG:
      break;
    case TCP_PACKET:
      if (c->h.packet_cb) c->h.packet_cb(c, p.data, p.data_len);
      break;
    case TCP_QUERY:
      if (c->h.query_cb)
        c->h.query_cb(c, p.id, p.data, p.data_len);
      else
        if (net_conn_answer_error(c, p.id, ERR_NOTFOUND, "queries not served here") != 0) return;
      break;
    case TCP_QUERY_ANSWER:
    case TCP_QUERY_ERROR:
      handle_answer(c, &p);
      break;
    case TCP_CONNECT:
    case TCP_CONNECTED:
      break; /* upstream ignores repeats */
  }
}

static void process_frames(struct net_conn *c) {
  while (!c->closing) {
    struct frame f;
    size_t used = 0;
    struct err e = {0};
    int r = frame_decode(&c->dec, buf_ptr(&c->rbuf), c->rbuf.len, &f, &used, &e);
    if (r < 0) {
      conn_fail(c, r, "%s", e.msg);
      return;
    }
    if (r == 0) return;
    handle_frame(c, f.payload, f.len);
    if (c->closing) return;
    buf_consume(&c->rbuf, used);
  }
}

static void conn_read_frames(struct net_conn *c) {
  size_t budget = NET_READ_BUDGET;
  while (!c->closing) {
    if (buf_reserve(&c->rbuf, NET_READ_CHUNK) != 0) {
      conn_fail(c, ERR_LIMIT, "read buffer limit");
      return;
    }
    size_t got = 0;
    struct err e = {0};
    int rc = tls_conn_read(&c->tls, buf_tail(&c->rbuf), NET_READ_CHUNK, &got, &e);
    if (rc == ERR_AGAIN) return;
    if (rc) {
      conn_fail(c, rc, "%s", e.msg);
      return;
    }
    buf_added(&c->rbuf, got);
    process_frames(c);
    /* Read-ahead took what the socket had (up to 64 KiB): once OpenSSL holds nothing more, stop
     * instead of paying a read that says EAGAIN; the fd is level-triggered, so bytes that came
     * meanwhile wake the loop again. */
    if (!tls_conn_pending(&c->tls)) return;
    if (got >= budget) {
      /* Leftover bytes inside OpenSSL raise no fd event: come back after the others. */
      loop_timer_start(c->loop, &c->kick, 0);
      return;
    }
    budget -= got;
  }
}

/* ---------------- handshake steps ---------------- */

static void start_tls(struct net_conn *c);

static void tls_step(struct net_conn *c) {
  struct err e = {0};
  int rc = tls_conn_handshake(&c->tls, &e);
  if (rc == ERR_AGAIN) return;
  if (rc) {
    conn_fail(c, rc, "%s", e.msg);
    return;
  }
  c->state = ST_INIT;
  if (c->outbound) {
    c->connect_id = (int64_t)util_random_u64();
    struct tcp_packet p = {.kind = TCP_CONNECT, .id = c->connect_id};
    if (send_tcp(c, &p) != 0) return;
  }
  /* The peer's first frame may already sit in OpenSSL's buffer. */
  conn_read_frames(c);
}

static void start_tls(struct net_conn *c) {
  struct err e = {0};
  if (tls_conn_init(&c->tls, c->tls_ctx, c->fd, &e) != 0) {
    conn_fail(c, ERR_CRYPTO, "%s", e.msg);
    return;
  }
  c->tls_started = 1;
  c->state = ST_TLS;
  tls_step(c);
}

/* Reads pow_buf up to pow_want bytes, never more (what follows belongs to TLS).
 * 1: complete, 0: wait, -1: failed (conn closing). */
static int raw_read(struct net_conn *c) {
  while (c->pow_have < c->pow_want) {
    ssize_t n = recv(c->fd, c->pow_buf + c->pow_have, c->pow_want - c->pow_have, 0);
    if (n > 0) {
      c->pow_have += (size_t)n;
      continue;
    }
    if (n == 0) {
      conn_fail(c, ERR_CLOSED, "peer closed during proof of work");
      return -1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    conn_fail(c, ERR_IO, "recv: %s", strerror(errno));
    return -1;
  }
  return 1;
}

static int raw_write(struct net_conn *c) {
  while (c->pow_have < c->pow_want) {
    ssize_t n = send(c->fd, c->pow_buf + c->pow_have, c->pow_want - c->pow_have, MSG_NOSIGNAL);
    if (n > 0) {
      c->pow_have += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    conn_fail(c, ERR_IO, "send: %s", n < 0 ? strerror(errno) : "no progress");
    return -1;
  }
  return 1;
}

static void pow_solve_slice(struct net_conn *c) {
  int rc = pow_solve(&c->pow, &c->pow_nonce, POW_SOLVE_SLICE);
  if (rc == ERR_AGAIN) {
    loop_timer_start(c->loop, &c->kick, 0);
    return;
  }
  if (rc) {
    conn_fail(c, rc, "proof of work failed");
    return;
  }
  pow_answer_encode(c->pow_nonce, c->pow_buf);
  c->pow_step = POW_WRITE;
  c->pow_have = 0;
  c->pow_want = POW_ANSWER_SIZE;
  int w = raw_write(c);
  if (w == 1) start_tls(c);
}

/* Outbound side of the PoW exchange. */
static void pow_outbound_io(struct net_conn *c) {
  if (c->pow_step == POW_READ) {
    int r = raw_read(c);
    if (r != 1) return;
    struct err e = {0};
    if (pow_challenge_parse(c->pow_buf, POW_CHALLENGE_SIZE, c->opts.pow_max_difficulty, &c->pow,
                            &e) != 0) {
      conn_fail(c, e.code, "%s", e.msg);
      return;
    }
    log_debug("net_pow", "conn=%llu difficulty=%d", (unsigned long long)c->id,
              (int)c->pow.difficulty);
    c->pow_step = POW_SOLVE;
    util_random(&c->pow_nonce, sizeof(c->pow_nonce));
    pow_solve_slice(c);
    return;
  }
  if (c->pow_step == POW_WRITE && raw_write(c) == 1) start_tls(c);
}

/* Inbound side: challenge out, answer in. */
static void pow_inbound_io(struct net_conn *c) {
  if (c->pow_step == POW_WRITE) {
    if (raw_write(c) != 1) return;
    c->pow_step = POW_READ;
    c->pow_have = 0;
    c->pow_want = POW_ANSWER_SIZE;
  }
  if (c->pow_step == POW_READ) {
    if (raw_read(c) != 1) return;
    int64_t nonce = 0;
    struct err e = {0};
    if (pow_answer_parse(c->pow_buf, POW_ANSWER_SIZE, &nonce, &e) != 0) {
      conn_fail(c, ERR_PROTO, "%s", e.msg);
      return;
    }
    if (!pow_check(&c->pow, nonce)) {
      conn_fail(c, ERR_PROTO, "wrong proof of work answer");
      return;
    }
    start_tls(c);
  }
}

static void connect_done(struct net_conn *c) {
  int soerr = 0;
  socklen_t sl = sizeof(soerr);
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) soerr = errno;
  if (soerr) {
    conn_fail(c, soerr == ECONNREFUSED ? ERR_CLOSED : ERR_IO, "connect to %s: %s", c->remote,
              strerror(soerr));
    return;
  }
  c->state = ST_POW;
  c->pow_step = POW_READ;
  c->pow_have = 0;
  c->pow_want = POW_CHALLENGE_SIZE;
}

/* ---------------- event entry points ---------------- */

static void conn_dispatch(struct net_conn *c, uint32_t events) {
  switch (c->state) {
    case ST_CONNECTING:
      connect_done(c);
      if (!c->closing) pow_outbound_io(c);
      break;
    case ST_POW:
      if (c->outbound)
        pow_outbound_io(c);
      else
        pow_inbound_io(c);
      break;
    case ST_TLS:
      tls_step(c);
      break;
    case ST_INIT:
    case ST_READY:
      if (events & (LOOP_READ | LOOP_ERROR | LOOP_HUP)) conn_read_frames(c);
      break;
  }
}

static void conn_io_cb(struct loop_io *io, uint32_t events) {
  struct net_conn *c = io->data;
  if (c->closing) return;
  c->in_io = 1;
  conn_dispatch(c, events);
  c->in_io = 0;
  if (c->closing) return;
  if (conn_flush(c) != 0) return;
  conn_update_io(c);
}

static void conn_kick_cb(struct loop_timer *t) {
  struct net_conn *c = t->data;
  if (c->closing) return;
  c->in_io = 1;
  if (c->state == ST_POW && c->pow_step == POW_SOLVE)
    pow_solve_slice(c);
  else if ((c->state == ST_READY || c->state == ST_INIT) && tls_conn_pending(&c->tls))
    conn_read_frames(c);
  c->in_io = 0;
  if (c->closing) return;
  if (conn_flush(c) != 0) return;
  conn_update_io(c);
  if (c->drain_due && !c->closing) {
    c->drain_due = 0;
    if (c->h.drain_cb) c->h.drain_cb(c);
  }
}

/* ---------------- public API ---------------- */

int net_conn_connect(struct loop *loop, struct tls_ctx *tls, const char *host, int port,
                     const struct net_conn_opts *opts, const struct net_conn_handler *handler,
                     void *user, struct net_conn **out, struct err *e) {
  *out = NULL;
  if (!loop || !tls || tls_ctx_role(tls) != TLS_CLIENT)
    return err_set(e, ERR_INVALID, "net_conn_connect needs a client TLS context");
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  int rc = resolve(host, port, 0, &ss, &sl, e);
  if (rc) return rc;
  if (port == 0) return err_set(e, ERR_INVALID, "port 0");
  struct net_conn *c = conn_alloc(loop, tls, 1, opts, handler, user);
  if (!c) return err_set(e, ERR_NOMEM, "out of memory");
  format_addr(&ss, c->remote, sizeof(c->remote));
  c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    rc = err_set(e, ERR_IO, "socket: %s", strerror(errno));
    goto fail;
  }
  set_nodelay(c->fd);
  c->state = ST_CONNECTING;
  int cr = connect(c->fd, (struct sockaddr *)&ss, sl);
  int cerr = cr == 0 ? 0 : errno;
  if (loop_io_add(loop, &c->io, c->fd, LOOP_WRITE, conn_io_cb, c) != 0) {
    rc = err_set(e, ERR_IO, "epoll: %s", strerror(errno));
    goto fail;
  }
  c->owner_knows = 1;
  *out = c;
  log_info("net_connect", "conn=%llu peer=%s", (unsigned long long)c->id, c->remote);
  conn_arm_timer(c);
  if (cr != 0 && cerr != EINPROGRESS) {
    /* Reported through close_cb like any later failure. */
    conn_fail(c, cerr == ECONNREFUSED ? ERR_CLOSED : ERR_IO, "connect to %s: %s", c->remote,
              strerror(cerr));
  }
  return 0;
fail:
  if (c->fd >= 0) close(c->fd);
  tls_ctx_unref(c->tls_ctx);
  buf_free(&c->rbuf);
  buf_free(&c->wbuf);
  free(c);
  return rc;
}

int net_conn_send_packet(struct net_conn *c, const void *data, size_t len) {
  if (c->closing || c->state != ST_READY) return ERR_CLOSED;
  struct tcp_packet p = {.kind = TCP_PACKET, .data = data, .data_len = len};
  return send_tcp(c, &p);
}

static void query_timer_cb(struct loop_timer *t) {
  struct net_query *q = t->data;
  struct net_conn *c = q->conn;
  query_unlink(c, q);
  struct net_answer a = {.kind = NET_ANSWER_TIMEOUT, .code = ERR_TIMEOUT, .message = "query timeout"};
  q->cb(c, q->arg, &a);
  free(q);
}

int net_conn_query(struct net_conn *c, const void *data, size_t len, uint32_t timeout_ms,
                   net_query_cb cb, void *cb_arg, int64_t *qid_out) {
  if (!cb) return ERR_INVALID;
  if (c->closing || c->state != ST_READY) return ERR_CLOSED;
  if (c->nqueries >= c->opts.max_queries) return ERR_LIMIT;
  struct net_query *q = calloc(1, sizeof(*q));
  if (!q) return ERR_NOMEM;
  do q->id = (int64_t)util_random_u64();
  while (query_find(c, q->id));
  struct tcp_packet p = {.kind = TCP_QUERY, .id = q->id, .data = data, .data_len = len};
  int rc = send_tcp(c, &p);
  if (rc) {
    free(q);
    return rc;
  }
  q->conn = c;
  q->cb = cb;
  q->arg = cb_arg;
  q->next = c->queries;
  if (q->next) q->next->prev = q;
  c->queries = q;
  c->nqueries++;
  loop_timer_init(&q->timer, query_timer_cb, q);
  loop_timer_start(c->loop, &q->timer, timeout_ms ? timeout_ms : NET_DEFAULT_QUERY_TIMEOUT_MS);
  if (qid_out) *qid_out = q->id;
  return 0;
}

int net_conn_query_cancel(struct net_conn *c, int64_t qid) {
  struct net_query *q = query_find(c, qid);
  if (!q) return ERR_NOTFOUND;
  query_unlink(c, q);
  free(q);
  return 0;
}

int net_conn_answer(struct net_conn *c, int64_t qid, const void *data, size_t len) {
  if (c->closing || c->state != ST_READY) return ERR_CLOSED;
  struct tcp_packet p = {.kind = TCP_QUERY_ANSWER, .id = qid, .data = data, .data_len = len};
  return send_tcp(c, &p);
}

int net_conn_answer_error(struct net_conn *c, int64_t qid, int32_t code, const char *msg) {
  if (c->closing || c->state != ST_READY) return ERR_CLOSED;
  if (!msg) msg = "";
  struct tcp_packet p = {.kind = TCP_QUERY_ERROR, .id = qid, .code = code, .message = msg,
                         .message_len = strnlen(msg, NET_MAX_QUERY_ERROR_MESSAGE)};
  return send_tcp(c, &p);
}

size_t net_conn_write_pending(const struct net_conn *c) { return c->wbuf.len; }
int net_conn_writable(const struct net_conn *c) {
  return !c->closing && c->wbuf.len <= c->opts.write_high_water;
}
void net_conn_set_user(struct net_conn *c, void *user) { c->user = user; }
void *net_conn_user(const struct net_conn *c) { return c->user; }
void net_conn_set_handler(struct net_conn *c, const struct net_conn_handler *handler) {
  if (handler)
    c->h = *handler;
  else
    memset(&c->h, 0, sizeof(c->h));
}
struct loop *net_conn_loop(const struct net_conn *c) { return c->loop; }
int net_conn_is_ready(const struct net_conn *c) { return !c->closing && c->state == ST_READY; }
int net_conn_is_outbound(const struct net_conn *c) { return c->outbound; }
const char *net_conn_remote(const struct net_conn *c) { return c->remote; }
const struct ratls_result *net_conn_peer(const struct net_conn *c) {
  return c->tls.handshake_done ? &c->tls.peer : NULL;
}
const uint8_t *net_conn_peer_key(const struct net_conn *c) {
  return c->tls.handshake_done ? c->tls.peer.peer.public_key : NULL;
}
uint64_t net_conn_id(const struct net_conn *c) { return c->id; }

/* ---------------- listener ---------------- */

static void listener_accept_one(struct net_listener *l, int fd, const struct sockaddr_storage *ss) {
  struct net_conn *c = conn_alloc(l->loop, l->tls, 0, &l->opts, &l->h, l->user);
  if (!c) {
    close(fd);
    return;
  }
  c->fd = fd;
  format_addr(ss, c->remote, sizeof(c->remote));
  set_nodelay(fd);
  c->state = ST_POW;
  c->pow_step = POW_WRITE;
  pow_challenge_make(&c->pow, l->opts.pow_difficulty);
  pow_challenge_encode(&c->pow, c->pow_buf);
  c->pow_have = 0;
  c->pow_want = POW_CHALLENGE_SIZE;
  if (loop_io_add(l->loop, &c->io, fd, LOOP_WRITE, conn_io_cb, c) != 0) {
    close(fd);
    tls_ctx_unref(c->tls_ctx);
    buf_free(&c->rbuf);
    buf_free(&c->wbuf);
    free(c);
    return;
  }
  c->listener = l;
  c->lnext = l->pending;
  if (l->pending) l->pending->lprev = c;
  l->pending = c;
  l->npending++;
  log_debug("net_accept", "conn=%llu peer=%s", (unsigned long long)c->id, c->remote);
  conn_arm_timer(c);
  /* The challenge fits in an empty socket buffer: send it now. */
  conn_io_cb(&c->io, LOOP_WRITE);
}

static void listener_io_cb(struct loop_io *io, uint32_t events) {
  struct net_listener *l = io->data;
  (void)events;
  for (int i = 0; i < NET_ACCEPT_BUDGET; i++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        log_warn("net_accept_failed", "port=%d err=\"%s\"", l->port, strerror(errno));
      return;
    }
    if (l->npending >= l->opts.max_pending) {
      log_warn("net_accept_refused", "port=%d pending=%u", l->port, l->npending);
      close(fd);
      continue;
    }
    listener_accept_one(l, fd, &ss);
  }
}

int net_listener_new(struct loop *loop, struct tls_ctx *tls, const char *host, int port,
                     const struct net_conn_opts *opts, const struct net_conn_handler *handler,
                     void *user, struct net_listener **out, struct err *e) {
  *out = NULL;
  if (!loop || !tls || tls_ctx_role(tls) != TLS_SERVER)
    return err_set(e, ERR_INVALID, "net_listener_new needs a server TLS context");
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  int rc = resolve(host, port, 1, &ss, &sl, e);
  if (rc) return rc;
  struct net_listener *l = calloc(1, sizeof(*l));
  if (!l) return err_set(e, ERR_NOMEM, "out of memory");
  l->loop = loop;
  opts_resolve(&l->opts, opts, 0);
  if (handler) l->h = *handler;
  l->user = user;
  l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (l->fd < 0) {
    rc = err_set(e, ERR_IO, "socket: %s", strerror(errno));
    goto fail;
  }
  int one = 1;
  (void)setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(l->fd, (struct sockaddr *)&ss, sl) != 0 || listen(l->fd, NET_LISTEN_BACKLOG) != 0) {
    rc = err_set(e, ERR_IO, "cannot listen on %s:%d: %s", host, port, strerror(errno));
    goto fail;
  }
  struct sockaddr_storage bound;
  socklen_t bl = sizeof(bound);
  if (getsockname(l->fd, (struct sockaddr *)&bound, &bl) != 0) {
    rc = err_set(e, ERR_IO, "getsockname: %s", strerror(errno));
    goto fail;
  }
  l->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
  if (loop_io_add(loop, &l->io, l->fd, LOOP_READ, listener_io_cb, l) != 0) {
    rc = err_set(e, ERR_IO, "epoll: %s", strerror(errno));
    goto fail;
  }
  l->tls = tls;
  tls_ctx_ref(tls);
  log_info("net_listen", "host=%s port=%d", host, l->port);
  *out = l;
  return 0;
fail:
  if (l->fd >= 0) close(l->fd);
  free(l);
  return rc;
}

void net_listener_set_tls(struct net_listener *l, struct tls_ctx *tls) {
  tls_ctx_ref(tls);
  tls_ctx_unref(l->tls);
  l->tls = tls;
}

int net_listener_port(const struct net_listener *l) { return l->port; }

static void listener_finish(void *arg) {
  struct net_listener *l = arg;
  tls_ctx_unref(l->tls);
  free(l);
}

void net_listener_free(struct net_listener *l) {
  if (!l) return;
  while (l->pending) conn_close_code(l->pending, ERR_CLOSED, "listener closed");
  loop_io_del(l->loop, &l->io);
  if (l->fd >= 0) close(l->fd);
  l->fd = -1;
  /* An event for our watcher may still be queued in this iteration. */
  if (loop_defer(l->loop, listener_finish, l) != 0) {
    /* Leak rather than risk a use-after-free; only on allocation failure. */
    log_error("net_listener_leak", "port=%d", l->port);
  }
}
