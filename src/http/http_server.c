/* http_server: HTTP/1.1 server on the event loop (llhttp parsing, keep-alive, streaming). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "http/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <llhttp.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "loop/loop.h"

#define HTTP_READ_CHUNK 16384          /* bytes per read() */
#define HTTP_READS_PER_EVENT 4         /* fairness between connections */
#define HTTP_PIPELINE_SLACK 65536      /* buffered bytes beyond max_header while handling */
#define HTTP_LINGER_MS 2000            /* drain the peer's bytes before close */
#define HTTP_ACCEPTS_PER_EVENT 64
#define HTTP_SPARE_BODY_KEEP 65536     /* larger body buffers are freed between requests */

struct http_hdr {
  uint32_t name_off;
  uint32_t value_off;
};

enum { RESP_NONE = 0, RESP_STREAMING = 1 };

struct http_request {
  struct http_conn *conn; /* NULL once detached (aborted, server gone) or parse-only */
  uint8_t method;
  uint8_t http_minor;
  uint8_t keep_alive;
  uint8_t head;
  uint8_t aborted;
  uint8_t finishing; /* inside http_respond / http_stream_end: a close must not call on_abort */
  uint8_t owned; /* handed to the handler */
  uint8_t resp;
  uint8_t chunked;   /* streamed response uses chunked framing */
  uint8_t hdr_open;  /* a header field is being accumulated */
  struct buf meta;   /* url\0 name\0value\0 ... */
  size_t query_off;
  size_t nhdrs;
  struct http_hdr hdrs[HTTP_MAX_HEADERS];
  struct buf body;
  http_abort_cb on_abort;
  void *abort_arg;
  http_drain_cb on_drain;
  void *drain_arg;
  void *data;
  char peer[64];
};

/* Parser state shared by connections and http_parse_request_buf. */
struct http_pctx {
  llhttp_t p;
  struct http_request *req;
  struct http_conn *conn; /* NULL for parse-only */
  size_t max_header;
  size_t max_body;
  size_t raw_header; /* bytes consumed while not in a body */
  size_t hdr_bytes;  /* url + header names and values of the current request */
  int in_body;
  int status;   /* answer for a parse error: 400, 413, 431 */
  int complete; /* a request finished parsing */
  int in_message;
};

enum { CONN_READING, CONN_HANDLING, CONN_CLOSING, CONN_LINGER, CONN_CLOSED };

struct http_conn {
  struct http_server *srv;
  struct loop_io io;
  struct loop_timer timer;
  struct http_pctx pc;
  struct buf in;  /* received, not yet parsed */
  struct buf out; /* not yet written */
  struct http_request *req;
  struct http_request *spare;
  int fd;
  int state;
  int refs;
  int read_paused;
  int in_read;
  int flush_scheduled;
  int process_scheduled;
  char peer[64];
  struct http_conn *prev, *next;
};

struct http_server {
  struct loop *loop;
  struct loop_io lio;
  int lfd;
  int port;
  int refs;
  int accept_paused;
  int freed;
  struct http_server_config cfg;
  struct http_server_stats stats;
  struct http_conn *conns;
};

static llhttp_settings_t g_settings;
static int g_settings_ready;

/* ---------------------------------------------------------------- requests */

static struct http_request *req_new(size_t max_header, size_t max_body) {
  struct http_request *r = calloc(1, sizeof(*r));
  if (!r) return NULL;
  /* NULs after the url and every name/value, plus slack for the empty-query terminator. */
  buf_init(&r->meta, max_header + 2 * HTTP_MAX_HEADERS + 8);
  buf_init(&r->body, max_body + 1);
  return r;
}

static void req_free(struct http_request *r) {
  if (!r) return;
  buf_free(&r->meta);
  buf_free(&r->body);
  free(r);
}

static void req_reset(struct http_request *r) {
  buf_reset(&r->meta);
  if (r->body.cap > HTTP_SPARE_BODY_KEEP) buf_free(&r->body);
  buf_reset(&r->body);
  r->conn = NULL;
  r->method = 0;
  r->http_minor = 1;
  r->keep_alive = 0;
  r->head = 0;
  r->aborted = 0;
  r->finishing = 0;
  r->owned = 0;
  r->resp = RESP_NONE;
  r->chunked = 0;
  r->hdr_open = 0;
  r->query_off = 0;
  r->nhdrs = 0;
  r->on_abort = NULL;
  r->abort_arg = NULL;
  r->on_drain = NULL;
  r->drain_arg = NULL;
  r->data = NULL;
  r->peer[0] = '\0';
}

const char *http_request_method(const struct http_request *req) {
  return llhttp_method_name((llhttp_method_t)req->method);
}

const char *http_request_path(const struct http_request *req) {
  return req->meta.len ? (const char *)buf_ptr(&req->meta) : "/";
}

const char *http_request_query(const struct http_request *req) {
  return req->meta.len ? (const char *)buf_ptr(&req->meta) + req->query_off : "";
}

const char *http_request_header(const struct http_request *req, const char *name) {
  const char *base = (const char *)buf_ptr(&req->meta);
  for (size_t i = 0; i < req->nhdrs; i++)
    if (strcasecmp(base + req->hdrs[i].name_off, name) == 0) return base + req->hdrs[i].value_off;
  return NULL;
}

size_t http_request_header_count(const struct http_request *req) { return req->nhdrs; }

int http_request_header_at(const struct http_request *req, size_t i, const char **name,
                           const char **value) {
  if (i >= req->nhdrs) return ERR_NOTFOUND;
  const char *base = (const char *)buf_ptr(&req->meta);
  *name = base + req->hdrs[i].name_off;
  *value = base + req->hdrs[i].value_off;
  return 0;
}

const uint8_t *http_request_body(const struct http_request *req, size_t *len) {
  if (len) *len = req->body.len;
  return req->body.len ? buf_ptr(&req->body) : (const uint8_t *)"";
}

int http_request_http_minor(const struct http_request *req) { return req->http_minor; }

int http_request_query_param(const struct http_request *req, const char *name, char *out,
                             size_t outsz) {
  const char *q = http_request_query(req);
  size_t nlen = strlen(name);
  while (*q) {
    const char *amp = strchr(q, '&');
    size_t seg = amp ? (size_t)(amp - q) : strlen(q);
    const char *eq = memchr(q, '=', seg);
    size_t klen = eq ? (size_t)(eq - q) : seg;
    if (klen == nlen && memcmp(q, name, nlen) == 0) {
      const char *v = eq ? eq + 1 : q + seg;
      size_t vlen = (size_t)(q + seg - v);
      if (vlen + 1 > outsz) return ERR_LIMIT;
      memcpy(out, v, vlen);
      out[vlen] = '\0';
      return (int)vlen;
    }
    if (!amp) break;
    q = amp + 1;
  }
  return ERR_NOTFOUND;
}

int http_request_aborted(const struct http_request *req) { return req->aborted; }
const char *http_request_peer(const struct http_request *req) { return req->peer; }

void http_request_set_abort_cb(struct http_request *req, http_abort_cb cb, void *arg) {
  req->on_abort = cb;
  req->abort_arg = arg;
}

void http_request_set_drain_cb(struct http_request *req, http_drain_cb cb, void *arg) {
  req->on_drain = cb;
  req->drain_arg = arg;
}

void http_request_set_data(struct http_request *req, void *data) { req->data = data; }
void *http_request_get_data(const struct http_request *req) { return req->data; }

const char *http_status_reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

/* ------------------------------------------------------------------ parser */

static void conn_on_message_begin(struct http_conn *c);
static void conn_on_headers_complete(struct http_conn *c, struct http_request *r);
static struct http_request *conn_take_req(struct http_conn *c);

static int pc_fail(struct http_pctx *pc, int status, const char *why) {
  pc->status = status;
  llhttp_set_error_reason(&pc->p, why);
  return HPE_USER;
}

static int on_message_begin(llhttp_t *p) {
  struct http_pctx *pc = p->data;
  struct http_request *r = pc->req;
  if (!r) {
    r = pc->conn ? conn_take_req(pc->conn) : NULL;
    if (!r) {
      pc->status = 500;
      return -1;
    }
    pc->req = r;
  }
  pc->in_message = 1;
  pc->hdr_bytes = 0;
  if (pc->conn) conn_on_message_begin(pc->conn);
  return 0;
}

static int meta_add(struct http_pctx *pc, const char *at, size_t len) {
  /* The cap covers url, names and values; the NUL separators ride on the buffer's slack. */
  pc->hdr_bytes += len;
  if (pc->hdr_bytes > pc->max_header || buf_append(&pc->req->meta, at, len))
    return pc_fail(pc, 431, "headers too large");
  return 0;
}

static int meta_nul(struct http_pctx *pc) {
  if (buf_append(&pc->req->meta, "", 1)) return pc_fail(pc, 431, "headers too large");
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) { return meta_add(p->data, at, len); }

static int on_url_complete(llhttp_t *p) {
  struct http_pctx *pc = p->data;
  struct http_request *r = pc->req;
  /* Split path and query in place: "path\0query\0" (query empty if no '?'). */
  char *u = (char *)buf_ptr(&r->meta);
  size_t n = r->meta.len;
  char *qm = memchr(u, '?', n);
  if (qm) {
    *qm = '\0';
    r->query_off = (size_t)(qm - u) + 1;
  } else {
    r->query_off = n;
  }
  return meta_nul(pc);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  struct http_pctx *pc = p->data;
  struct http_request *r = pc->req;
  if (!r->hdr_open) {
    if (r->nhdrs >= HTTP_MAX_HEADERS) return pc_fail(pc, 431, "too many headers");
    r->hdrs[r->nhdrs].name_off = (uint32_t)r->meta.len;
    r->hdr_open = 1;
  }
  return meta_add(pc, at, len);
}

static int on_header_field_complete(llhttp_t *p) {
  struct http_pctx *pc = p->data;
  struct http_request *r = pc->req;
  if (!r->hdr_open) {
    /* Empty field name; llhttp rejects these, but stay defensive. */
    if (r->nhdrs >= HTTP_MAX_HEADERS) return pc_fail(pc, 431, "too many headers");
    r->hdrs[r->nhdrs].name_off = (uint32_t)r->meta.len;
    r->hdr_open = 1;
  }
  int rc = meta_nul(pc);
  if (rc) return rc;
  r->hdrs[r->nhdrs].value_off = (uint32_t)r->meta.len;
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  return meta_add(p->data, at, len);
}

static int on_header_value_complete(llhttp_t *p) {
  struct http_pctx *pc = p->data;
  struct http_request *r = pc->req;
  if (!r->hdr_open) return pc_fail(pc, 400, "header value without name");
  uint8_t *base = buf_ptr(&r->meta);
  while (r->meta.len > r->hdrs[r->nhdrs].value_off &&
         (base[r->meta.len - 1] == ' ' || base[r->meta.len - 1] == '\t'))
    r->meta.len--;
  int rc = meta_nul(pc);
  if (rc) return rc;
  r->nhdrs++;
  r->hdr_open = 0;
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  struct http_pctx *pc = p->data;
  struct http_request *r = pc->req;
  if (r->meta.len == 0) return pc_fail(pc, 400, "empty url");
  r->method = llhttp_get_method(p);
  r->http_minor = llhttp_get_http_minor(p);
  if (llhttp_get_http_major(p) != 1) return pc_fail(pc, 400, "unsupported version");
  r->keep_alive = (uint8_t)(llhttp_should_keep_alive(p) && !llhttp_get_upgrade(p));
  r->head = r->method == HTTP_HEAD;
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > pc->max_body) {
    pc->status = 413;
    return -1;
  }
  pc->in_body = 1;
  if (pc->conn) conn_on_headers_complete(pc->conn, r);
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  struct http_pctx *pc = p->data;
  if (pc->req->body.len + len > pc->max_body) return pc_fail(pc, 413, "body too large");
  if (buf_append(&pc->req->body, at, len)) return pc_fail(pc, 413, "body too large");
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  struct http_pctx *pc = p->data;
  struct http_request *r = pc->req;
  /* NUL-terminate the body for callers that parse it as text (not counted in len). */
  if (buf_reserve(&r->body, 1)) {
    pc->status = 413;
    return -1;
  }
  *buf_tail(&r->body) = 0;
  pc->complete = 1;
  pc->in_body = 0;
  pc->in_message = 0;
  pc->raw_header = 0;
  /* One request at a time: stop here, the rest of the input waits for the response. */
  return HPE_PAUSED;
}

static void settings_init(void) {
  if (g_settings_ready) return;
  llhttp_settings_init(&g_settings);
  g_settings.on_message_begin = on_message_begin;
  g_settings.on_url = on_url;
  g_settings.on_url_complete = on_url_complete;
  g_settings.on_header_field = on_header_field;
  g_settings.on_header_field_complete = on_header_field_complete;
  g_settings.on_header_value = on_header_value;
  g_settings.on_header_value_complete = on_header_value_complete;
  g_settings.on_headers_complete = on_headers_complete;
  g_settings.on_body = on_body;
  g_settings.on_message_complete = on_message_complete;
  g_settings_ready = 1;
}

static void pc_init(struct http_pctx *pc, struct http_conn *conn, size_t max_header,
                    size_t max_body) {
  settings_init();
  memset(pc, 0, sizeof(*pc));
  llhttp_init(&pc->p, HTTP_REQUEST, &g_settings);
  pc->p.data = pc;
  pc->conn = conn;
  pc->max_header = max_header ? max_header : HTTP_DEFAULT_MAX_HEADER_BYTES;
  pc->max_body = max_body ? max_body : HTTP_DEFAULT_MAX_BODY_BYTES;
}

enum { FEED_MORE = 0, FEED_REQUEST = 1, FEED_ERROR = 2 };

/* Feeds bytes to the parser. FEED_REQUEST: pc->req is complete and *consumed bytes were
 * used; FEED_MORE: all consumed; FEED_ERROR: pc->status holds the answer. */
static int pc_feed(struct http_pctx *pc, const uint8_t *data, size_t len, size_t *consumed) {
  int header_phase = !pc->in_body;
  pc->complete = 0;
  llhttp_errno_t rc = llhttp_execute(&pc->p, (const char *)data, len);
  size_t used = len;
  int result = FEED_MORE;
  if (rc == HPE_PAUSED || rc == HPE_PAUSED_UPGRADE) {
    const char *pos = llhttp_get_error_pos(&pc->p);
    used = pos ? (size_t)(pos - (const char *)data) : len;
    if (used > len) used = len;
    if (rc == HPE_PAUSED_UPGRADE) {
      /* Upgrades are not supported: answer this request and close. */
      if (pc->req) pc->req->keep_alive = 0;
      llhttp_resume_after_upgrade(&pc->p);
    } else {
      llhttp_resume(&pc->p);
    }
    result = pc->complete ? FEED_REQUEST : FEED_MORE;
    if (!pc->complete) {
      pc->status = 400;
      result = FEED_ERROR;
    }
  } else if (rc != HPE_OK) {
    if (!pc->status) pc->status = 400;
    result = FEED_ERROR;
  }
  *consumed = used;
  if (result == FEED_MORE && header_phase && !pc->in_body) {
    /* Whitespace and CRLFs the callbacks never see still count against the header cap. */
    pc->raw_header += used;
    if (pc->raw_header > 2 * pc->max_header) {
      pc->status = 431;
      result = FEED_ERROR;
    }
  }
  return result;
}

int http_parse_request_buf(const uint8_t *data, size_t len, size_t piece,
                           const struct http_parse_limits *lim, http_parsed_cb cb, void *arg) {
  struct http_pctx pc;
  pc_init(&pc, NULL, lim ? lim->max_header_bytes : 0, lim ? lim->max_body_bytes : 0);
  struct http_request *r = req_new(pc.max_header, pc.max_body);
  if (!r) return -500;
  int count = 0, ret = 0;
  size_t off = 0;
  if (piece == 0) piece = len ? len : 1;
  while (off < len) {
    size_t n = CC_MIN(piece, len - off);
    size_t used = 0;
    pc.req = r;
    int fr = pc_feed(&pc, data + off, n, &used);
    if (fr == FEED_ERROR) {
      ret = -pc.status;
      goto out;
    }
    off += used;
    if (fr == FEED_REQUEST) {
      count++;
      int stop = cb ? cb(r, arg) : 0;
      req_reset(r);
      if (stop) break;
    } else if (used == 0 && n > 0) {
      ret = -400; /* no progress: cannot happen with llhttp, never loop forever */
      goto out;
    }
  }
  ret = count;
out:
  req_free(r);
  return ret;
}

/* -------------------------------------------------------------- connections */

static void conn_io_cb(struct loop_io *io, uint32_t events);
static void conn_timer_cb(struct loop_timer *t);
static void conn_flush(struct http_conn *c, int from_write_event);
static void conn_close(struct http_conn *c);
static void conn_process(struct http_conn *c);
static void srv_unref(struct http_server *s);

static void conn_unref(struct http_conn *c) {
  if (--c->refs > 0) return;
  struct http_server *s = c->srv;
  req_free(c->req); /* only a request never handed out is still attached here */
  req_free(c->spare);
  buf_free(&c->in);
  buf_free(&c->out);
  free(c);
  srv_unref(s);
}

static void conn_unref_deferred(void *arg) { conn_unref(arg); }

static void conn_set_events(struct http_conn *c) {
  if (c->state == CONN_CLOSED) return;
  uint32_t ev = 0;
  if (!c->read_paused) ev |= LOOP_READ;
  if (c->out.len) ev |= LOOP_WRITE;
  if (loop_io_mod(c->srv->loop, &c->io, ev)) log_warn("http_epoll_mod", "fd=%d", c->fd);
}

static struct http_request *conn_take_req(struct http_conn *c) {
  struct http_request *r = c->spare;
  c->spare = NULL;
  if (!r) r = req_new(c->pc.max_header, c->pc.max_body);
  if (!r) return NULL;
  r->http_minor = 1;
  c->req = r;
  return r;
}

static void conn_on_message_begin(struct http_conn *c) {
  loop_timer_start(c->srv->loop, &c->timer, c->srv->cfg.request_timeout_ms);
}

static void conn_on_headers_complete(struct http_conn *c, struct http_request *r) {
  /* Answer "Expect: 100-continue" so clients that wait for it send the body. */
  const char *exp = http_request_header(r, "expect");
  if (exp && r->http_minor >= 1 && strcasecmp(exp, "100-continue") == 0) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (buf_append(&c->out, cont, sizeof(cont) - 1) == 0) conn_flush(c, 0);
  }
}

static void conn_send_error(struct http_conn *c, int status) {
  char msg[128];
  const char *reason = http_status_reason(status);
  int blen = snprintf(msg, sizeof(msg), "%d %s\n", status, reason);
  char head[256];
  int hlen = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                      "Connection: close\r\n\r\n",
                      status, reason, blen);
  c->srv->stats.bad++;
  if (buf_append(&c->out, head, (size_t)hlen) || buf_append(&c->out, msg, (size_t)blen)) {
    conn_close(c);
    return;
  }
  c->state = CONN_CLOSING;
  conn_flush(c, 0);
}

static void conn_lingering_close(struct http_conn *c) {
  /* Half-close and drain what the peer still sends, so our answer is not lost to a RST
   * caused by unread request bytes. */
  shutdown(c->fd, SHUT_WR);
  c->state = CONN_LINGER;
  c->read_paused = 0;
  buf_free(&c->in);
  conn_set_events(c);
  loop_timer_start(c->srv->loop, &c->timer, HTTP_LINGER_MS);
}

/* The client is gone (or we give up on it). Frees memory after the iteration. */
static void conn_close(struct http_conn *c) {
  if (c->state == CONN_CLOSED) return;
  struct http_server *s = c->srv;
  c->state = CONN_CLOSED;
  loop_io_del(s->loop, &c->io);
  loop_timer_stop(s->loop, &c->timer);
  close(c->fd);
  c->fd = -1;
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  s->stats.active--;
  if (s->accept_paused && !s->freed && s->stats.active < s->cfg.max_connections) {
    if (loop_io_mod(s->loop, &s->lio, LOOP_READ) == 0) s->accept_paused = 0;
  }
  struct http_request *r = c->req;
  if (r && r->owned) {
    /* Detach: the owner keeps the request until it finishes or releases it. */
    c->req = NULL;
    r->conn = NULL;
    r->aborted = 1;
    /* A close caused by the owner's own final write is not news to the owner: calling back
     * into it there would let it free the request under that write. */
    if (r->on_abort && !r->finishing) r->on_abort(r, r->abort_arg);
  }
  /* On failure leak rather than risk a use-after-free in this iteration. */
  if (loop_defer(s->loop, conn_unref_deferred, c)) log_error("http_defer_failed", "what=conn");
}

static void conn_flush(struct http_conn *c, int may_drain) {
  int wrote = 0;
  while (c->out.len) {
    ssize_t n = send(c->fd, buf_ptr(&c->out), c->out.len, MSG_NOSIGNAL);
    if (n > 0) {
      buf_consume(&c->out, (size_t)n);
      wrote = 1;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    conn_close(c);
    return;
  }
  if (c->out.len) {
    if (!(c->io.events & LOOP_WRITE)) conn_set_events(c);
    /* A peer that does not read is as idle as one that does not write. */
    if (c->state != CONN_LINGER)
      loop_timer_start(c->srv->loop, &c->timer, c->srv->cfg.idle_timeout_ms);
    return;
  }
  if (c->io.events & LOOP_WRITE) conn_set_events(c);
  if (c->state == CONN_CLOSING) {
    conn_lingering_close(c);
    return;
  }
  if (c->state == CONN_READING && !c->pc.in_message)
    loop_timer_start(c->srv->loop, &c->timer, c->srv->cfg.idle_timeout_ms);
  if (c->state == CONN_HANDLING) {
    loop_timer_stop(c->srv->loop, &c->timer);
    struct http_request *r = c->req;
    /* Not from inside http_stream_* calls: the producer is outside its write loop. */
    if (may_drain && wrote && r && r->resp == RESP_STREAMING && r->on_drain)
      r->on_drain(r, r->drain_arg);
  }
}

static void conn_flush_deferred(void *arg) {
  struct http_conn *c = arg;
  c->flush_scheduled = 0;
  if (c->state != CONN_CLOSED) conn_flush(c, 1);
  conn_unref(c);
}

static void conn_schedule_flush(struct http_conn *c) {
  if (c->flush_scheduled) return;
  if (loop_defer(c->srv->loop, conn_flush_deferred, c) == 0) {
    c->flush_scheduled = 1;
    c->refs++;
  } else {
    conn_flush(c, 0);
  }
}

static void conn_process_deferred(void *arg) {
  struct http_conn *c = arg;
  c->process_scheduled = 0;
  if (c->state == CONN_READING) conn_process(c);
  conn_unref(c);
}

/* Parses buffered input and dispatches complete requests, one at a time. */
static void conn_process(struct http_conn *c) {
  struct http_server *s = c->srv;
  c->in_read++;
  while (c->state == CONN_READING && c->in.len > 0) {
    c->pc.req = c->req; /* NULL: on_message_begin takes one */
    size_t used = 0;
    int fr = pc_feed(&c->pc, buf_ptr(&c->in), c->in.len, &used);
    if (fr == FEED_ERROR) {
      int status = c->pc.status ? c->pc.status : 400;
      if (status == 500) {
        conn_close(c);
      } else {
        conn_send_error(c, status);
      }
      break;
    }
    buf_consume(&c->in, used);
    /* An interim 100-continue write may have failed and closed the connection. */
    if (fr != FEED_REQUEST || c->state != CONN_READING) break;
    struct http_request *r = c->req;
    c->pc.req = NULL;
    r->conn = c;
    r->owned = 1;
    memcpy(r->peer, c->peer, sizeof(r->peer));
    c->state = CONN_HANDLING;
    loop_timer_stop(s->loop, &c->timer);
    s->stats.requests++;
    s->cfg.handler(r, s->cfg.arg);
  }
  c->in_read--;
  if (c->state == CONN_READING && !c->pc.in_message && c->in.len == 0)
    loop_timer_start(s->loop, &c->timer, s->cfg.idle_timeout_ms);
}

static void conn_read(struct http_conn *c) {
  struct http_server *s = c->srv;
  for (int i = 0; i < HTTP_READS_PER_EVENT && c->state != CONN_CLOSED; i++) {
    if (c->state == CONN_LINGER) {
      uint8_t tmp[4096];
      ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
      if (n > 0) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
      conn_close(c);
      return;
    }
    if (c->state == CONN_CLOSING) {
      /* Answer pending; ignore further input but notice a vanished peer. */
      uint8_t tmp[4096];
      ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
      if (n > 0) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
      conn_close(c);
      return;
    }
    size_t room = c->in.max - c->in.len;
    if (room == 0) {
      /* Pipelined bytes fill the buffer while a request is handled: stop reading. */
      c->read_paused = 1;
      conn_set_events(c);
      return;
    }
    size_t want = CC_MIN(room, (size_t)HTTP_READ_CHUNK);
    if (buf_reserve(&c->in, want)) {
      conn_close(c);
      return;
    }
    ssize_t n = recv(c->fd, buf_tail(&c->in), want, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      conn_close(c);
      return;
    }
    if (n == 0) {
      /* EOF: a request being handled is aborted; an idle connection just closes. */
      conn_close(c);
      return;
    }
    buf_added(&c->in, (size_t)n);
    if (c->state == CONN_READING) conn_process(c);
    if ((size_t)n < want) return;
  }
  (void)s;
}

static void conn_io_cb(struct loop_io *io, uint32_t events) {
  struct http_conn *c = io->data;
  c->refs++;
  if ((events & LOOP_ERROR) || ((events & LOOP_HUP) && c->read_paused)) {
    conn_close(c);
  } else {
    if (events & LOOP_WRITE) conn_flush(c, 1);
    if ((events & (LOOP_READ | LOOP_HUP)) && c->state != CONN_CLOSED) conn_read(c);
  }
  conn_unref(c);
}

static void conn_timer_cb(struct loop_timer *t) {
  struct http_conn *c = t->data;
  switch (c->state) {
    case CONN_READING:
      if (c->pc.in_message) {
        conn_send_error(c, 408);
        return;
      }
      conn_close(c);
      return;
    default:
      conn_close(c);
      return;
  }
}

/* A request finished by its owner: recycle it and continue with the connection. */
static void req_finish(struct http_request *r) {
  struct http_conn *c = r->conn;
  if (!c) {
    req_free(r);
    return;
  }
  c->req = NULL;
  int keep = r->keep_alive;
  if (!c->spare) {
    req_reset(r);
    c->spare = r;
  } else {
    req_free(r);
  }
  if (c->state != CONN_HANDLING) return;
  if (!keep) {
    c->state = CONN_CLOSING;
    conn_flush(c, 0);
    return;
  }
  c->state = CONN_READING;
  if (c->read_paused) {
    c->read_paused = 0;
    conn_set_events(c);
  }
  if (c->in.len > 0) {
    if (c->in_read) return; /* conn_process's loop continues */
    if (!c->process_scheduled && loop_defer(c->srv->loop, conn_process_deferred, c) == 0) {
      c->process_scheduled = 1;
      c->refs++;
    }
    return;
  }
  if (!c->out.len) loop_timer_start(c->srv->loop, &c->timer, c->srv->cfg.idle_timeout_ms);
}

/* ------------------------------------------------------------------ responses */

/* Extra headers must be complete "Name: value\r\n" lines without stray CR/LF. */
static int headers_valid(const char *h) {
  if (!h) return 1;
  size_t n = strlen(h);
  if (n == 0) return 1;
  if (n < 2 || h[n - 2] != '\r' || h[n - 1] != '\n') return 0;
  for (size_t i = 0; i < n; i++) {
    if (h[i] == '\r' && (i + 1 >= n || h[i + 1] != '\n')) return 0;
    if (h[i] == '\n' && (i == 0 || h[i - 1] != '\r')) return 0;
  }
  return 1;
}

static int token_valid(const char *s) {
  if (!s) return 1;
  for (; *s; s++)
    if (*s == '\r' || *s == '\n') return 0;
  return 1;
}

static int append_head(struct http_conn *c, struct http_request *r, int status,
                       const char *ctype, const char *extra, int chunked, int has_len,
                       size_t len) {
  char line[256];
  int n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, http_status_reason(status));
  int rc = buf_append(&c->out, line, (size_t)n);
  if (!rc && ctype) {
    rc = buf_append_str(&c->out, "Content-Type: ");
    if (!rc) rc = buf_append_str(&c->out, ctype);
    if (!rc) rc = buf_append(&c->out, "\r\n", 2);
  }
  if (!rc) {
    if (chunked) {
      n = snprintf(line, sizeof(line), "Transfer-Encoding: chunked\r\n");
    } else if (has_len) {
      n = snprintf(line, sizeof(line), "Content-Length: %zu\r\n", len);
    } else {
      n = 0;
    }
    if (n) rc = buf_append(&c->out, line, (size_t)n);
  }
  if (!rc) {
    if (!r->keep_alive) rc = buf_append_str(&c->out, "Connection: close\r\n");
    else if (r->http_minor == 0) rc = buf_append_str(&c->out, "Connection: keep-alive\r\n");
  }
  if (!rc && extra) rc = buf_append_str(&c->out, extra);
  if (!rc) rc = buf_append(&c->out, "\r\n", 2);
  return rc;
}

int http_respond_ex(struct http_request *req, int status, const char *content_type,
                    const char *extra_headers, const void *body, size_t len) {
  struct http_conn *c = req->conn;
  int rc = 0;
  if (!c || c->state != CONN_HANDLING) {
    rc = ERR_CLOSED;
    goto out;
  }
  if (req->resp != RESP_NONE) {
    /* Stream already started: cannot switch to a whole response. */
    req->keep_alive = 0;
    rc = ERR_INVALID;
    goto out;
  }
  if (status < 200 || status > 999 || !headers_valid(extra_headers) ||
      !token_valid(content_type)) {
    rc = ERR_INVALID;
    status = 500;
    content_type = "text/plain";
    extra_headers = NULL;
    body = "internal error\n";
    len = 15;
  }
  int no_body = status == 204 || status == 304;
  req->finishing = 1;
  size_t mark = c->out.len;
  int arc = append_head(c, req, status, content_type, extra_headers, 0, !no_body, len);
  if (!arc && !req->head && !no_body) arc = buf_append(&c->out, body, len);
  if (arc) {
    c->out.len = mark;
    req->keep_alive = 0;
    rc = arc;
  }
  conn_flush(c, 0);
out:
  req_finish(req);
  return rc;
}

int http_respond(struct http_request *req, int status, const char *content_type,
                 const void *body, size_t len) {
  return http_respond_ex(req, status, content_type, NULL, body, len);
}

int http_stream_begin(struct http_request *req, int status, const char *content_type,
                      const char *extra_headers) {
  struct http_conn *c = req->conn;
  if (!c || c->state != CONN_HANDLING) return ERR_CLOSED;
  if (req->resp != RESP_NONE) return ERR_INVALID;
  if (status < 200 || status > 999 || !headers_valid(extra_headers) ||
      !token_valid(content_type))
    return ERR_INVALID;
  if (req->http_minor == 0) {
    req->keep_alive = 0; /* close-delimited */
    req->chunked = 0;
  } else {
    req->chunked = 1;
  }
  int rc = append_head(c, req, status, content_type, extra_headers, req->chunked, 0, 0);
  if (rc) return rc;
  req->resp = RESP_STREAMING;
  conn_schedule_flush(c);
  return 0;
}

int http_stream_write(struct http_request *req, const void *data, size_t len) {
  struct http_conn *c = req->conn;
  if (!c || c->state != CONN_HANDLING) return ERR_CLOSED;
  if (req->resp != RESP_STREAMING) return ERR_INVALID;
  if (len == 0 || req->head) return 0;
  size_t total = len + (req->chunked ? 32 : 0);
  if (c->out.len + total > HTTP_MAX_OUTPUT_BYTES) return ERR_LIMIT;
  int rc = 0;
  if (req->chunked) {
    char pre[24];
    int n = snprintf(pre, sizeof(pre), "%zx\r\n", len);
    rc = buf_append(&c->out, pre, (size_t)n);
    if (!rc) rc = buf_append(&c->out, data, len);
    if (!rc) rc = buf_append(&c->out, "\r\n", 2);
  } else {
    rc = buf_append(&c->out, data, len);
  }
  if (rc) {
    /* Framing is now broken: the stream can only end by closing. */
    req->keep_alive = 0;
    return rc;
  }
  conn_schedule_flush(c);
  return 0;
}

size_t http_stream_pending(const struct http_request *req) {
  return req->conn ? req->conn->out.len : 0;
}

int http_stream_end(struct http_request *req) {
  struct http_conn *c = req->conn;
  int rc = 0;
  if (!c || c->state != CONN_HANDLING) {
    rc = ERR_CLOSED;
    goto out;
  }
  if (req->resp != RESP_STREAMING) {
    req->keep_alive = 0;
    rc = ERR_INVALID;
    goto out;
  }
  if (req->chunked && !req->head && buf_append(&c->out, "0\r\n\r\n", 5)) {
    req->keep_alive = 0;
    rc = ERR_NOMEM;
  }
  req->finishing = 1;
  conn_flush(c, 0);
out:
  req_finish(req);
  return rc;
}

void http_request_release(struct http_request *req) {
  /* The response did not complete: the connection cannot be reused. What was queued is
   * still sent, so a started stream reads as truncated (no final chunk) and then closes. */
  req->keep_alive = 0;
  req_finish(req);
}

/* ------------------------------------------------------------------- server */

static void srv_unref(struct http_server *s) {
  if (--s->refs > 0) return;
  free(s);
}

static void srv_unref_deferred(void *arg) { srv_unref(arg); }

static void srv_accept_cb(struct loop_io *io, uint32_t events) {
  struct http_server *s = io->data;
  for (int i = 0; i < HTTP_ACCEPTS_PER_EVENT; i++) {
    if (s->stats.active >= s->cfg.max_connections) {
      if (loop_io_mod(s->loop, &s->lio, 0) == 0) s->accept_paused = 1;
      return;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) log_warn("http_accept", "errno=%d", errno);
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct http_conn *c = calloc(1, sizeof(*c));
    if (!c) {
      close(fd);
      continue;
    }
    c->srv = s;
    c->fd = fd;
    c->refs = 1;
    c->state = CONN_READING;
    buf_init(&c->in, s->cfg.max_header_bytes + HTTP_PIPELINE_SLACK);
    buf_init(&c->out, HTTP_MAX_OUTPUT_BYTES + 64);
    pc_init(&c->pc, c, s->cfg.max_header_bytes, s->cfg.max_body_bytes);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) {
      struct sockaddr_in *a = (struct sockaddr_in *)&ss;
      inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
      port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
      inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
      port = ntohs(a->sin6_port);
    }
    snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
    loop_timer_init(&c->timer, conn_timer_cb, c);
    if (loop_io_add(s->loop, &c->io, fd, LOOP_READ, conn_io_cb, c)) {
      close(fd);
      buf_free(&c->in);
      buf_free(&c->out);
      free(c);
      continue;
    }
    s->refs++;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->stats.accepted++;
    s->stats.active++;
    loop_timer_start(s->loop, &c->timer, s->cfg.idle_timeout_ms);
  }
}

int http_server_new(struct loop *l, const struct http_server_config *cfg,
                    struct http_server **out, struct err *e) {
  *out = NULL;
  if (!cfg || !cfg->handler) return err_set(e, ERR_INVALID, "http server: no handler");
  struct http_server *s = calloc(1, sizeof(*s));
  if (!s) return err_set(e, ERR_NOMEM, "http server: out of memory");
  s->loop = l;
  s->cfg = *cfg;
  s->lfd = -1;
  s->refs = 1;
  if (!s->cfg.max_header_bytes) s->cfg.max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES;
  if (!s->cfg.max_body_bytes) s->cfg.max_body_bytes = HTTP_DEFAULT_MAX_BODY_BYTES;
  if (!s->cfg.max_connections) s->cfg.max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
  if (!s->cfg.idle_timeout_ms) s->cfg.idle_timeout_ms = HTTP_DEFAULT_IDLE_TIMEOUT_MS;
  if (!s->cfg.request_timeout_ms) s->cfg.request_timeout_ms = HTTP_DEFAULT_REQUEST_TIMEOUT_MS;
  const char *host = cfg->host ? cfg->host : "127.0.0.1";
  int rc = 0;
  struct addrinfo hints = {0}, *ai = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  if (strcmp(host, "localhost") != 0) hints.ai_flags |= AI_NUMERICHOST;
  char portstr[16];
  snprintf(portstr, sizeof(portstr), "%d", cfg->port);
  if (cfg->port < 0 || cfg->port > 65535 || getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai) {
    rc = err_set(e, ERR_INVALID, "http server: bad listen address %s:%d", host, cfg->port);
    goto out;
  }
  s->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->lfd < 0) {
    rc = err_set(e, ERR_IO, "http server: socket: %s", strerror(errno));
    goto out;
  }
  int one = 1;
  setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(s->lfd, ai->ai_addr, ai->ai_addrlen) < 0) {
    rc = err_set(e, ERR_IO, "http server: bind %s:%d: %s", host, cfg->port, strerror(errno));
    goto out;
  }
  if (listen(s->lfd, 1024) < 0) {
    rc = err_set(e, ERR_IO, "http server: listen: %s", strerror(errno));
    goto out;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  if (getsockname(s->lfd, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET) s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6) s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  }
  if (loop_io_add(l, &s->lio, s->lfd, LOOP_READ, srv_accept_cb, s)) {
    rc = err_set(e, ERR_IO, "http server: epoll add failed");
    goto out;
  }
  s->cfg.host = NULL; /* borrowed only during setup */
  *out = s;
out:
  if (ai) freeaddrinfo(ai);
  if (rc) {
    if (s->lfd >= 0) close(s->lfd);
    free(s);
  }
  return rc;
}

void http_server_free(struct http_server *s) {
  if (!s) return;
  s->freed = 1;
  loop_io_del(s->loop, &s->lio);
  close(s->lfd);
  s->lfd = -1;
  while (s->conns) conn_close(s->conns);
  /* Connections and the listen watcher may still be referenced in this iteration. */
  if (loop_defer(s->loop, srv_unref_deferred, s)) srv_unref(s);
}

int http_server_port(const struct http_server *s) { return s->port; }

void http_server_get_stats(const struct http_server *s, struct http_server_stats *out) {
  *out = s->stats;
}
