/* http_client: asynchronous HTTP/1.1 client, libcurl multi driven by the event loop. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "http/http_client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "loop/loop.h"

#define HTTP_CLIENT_MAX_HEADER_LINES 256
/* libcurl's receive buffer (default 16 KiB): a streamed answer that is already waiting is read
 * in one recv instead of one recv plus one readiness poll per 16 KiB. */
#define HTTP_CLIENT_RECV_BUFFER (64L * 1024)
/* Finished easy handles kept for the next requests (curl_easy_reset): a fresh handle per request
 * costs its allocations, the receive buffer among them, and the heap growing and trimming. */
#define HTTP_CLIENT_EASY_POOL 64

struct http_client_req {
  struct http_client *c;
  CURL *easy;
  struct curl_slist *hdrs;
  uint8_t *body;
  struct buf rhdr; /* "Name: value\r\n" lines of the final response */
  int status;
  int started;
  int cancelled;
  int done;
  http_client_start_cb on_start;
  http_client_data_cb on_data;
  http_client_done_cb on_done;
  void *arg;
  char errbuf[CURL_ERROR_SIZE];
  struct http_client_req *prev, *next;
};

/* One watched curl socket. Freed through loop_defer: the loop may still hold its pointer
 * in the current batch of events. When curl stops watching a socket (an idle keep-alive
 * connection back in its pool) the watcher stays registered, `parked`, so that the next request
 * on that connection costs no epoll_ctl (an ADD and a DEL per request otherwise). An event on a
 * parked socket (the server closed it) or curl closing or reopening that fd drops it for real. */
struct http_csock {
  struct loop_io io;
  struct http_client *c;
  curl_socket_t fd;
  int parked;
  struct http_csock *prev, *next;
};

struct http_client {
  struct loop *loop;
  CURLM *multi;
  struct loop_timer timer;
  int in_action; /* depth of calls into curl that may run our callbacks */
  int reap_scheduled;
  int dead; /* freed while a reap was pending: the reaper frees the struct */
  uint64_t connects;
  size_t active;
  struct http_client_req *reqs;
  struct http_csock *socks;
  CURL *idle_easy[HTTP_CLIENT_EASY_POOL];
  size_t nidle;
};

static void easy_release(struct http_client *c, CURL *e) {
  if (!e) return;
  if (c->nidle < HTTP_CLIENT_EASY_POOL && c->multi) {
    curl_easy_reset(e);
    c->idle_easy[c->nidle++] = e;
  } else {
    curl_easy_cleanup(e);
  }
}

static int g_curl_ready;

static void check_info(struct http_client *c);

/* ------------------------------------------------------------------ sockets */

static void csock_drop(struct http_client *c, struct http_csock *sk);

static struct http_csock *csock_find(struct http_client *c, curl_socket_t fd) {
  for (struct http_csock *sk = c->socks; sk; sk = sk->next)
    if (sk->fd == fd) return sk;
  return NULL;
}

static void csock_io_cb(struct loop_io *io, uint32_t events) {
  struct http_csock *sk = io->data;
  struct http_client *c = sk->c;
  if (sk->parked) {
    /* Curl does not watch it: stop watching too (its own check finds the connection dead). */
    csock_drop(c, sk);
    return;
  }
  int flags = 0;
  if (events & (LOOP_READ | LOOP_HUP)) flags |= CURL_CSELECT_IN;
  if (events & LOOP_WRITE) flags |= CURL_CSELECT_OUT;
  if (events & LOOP_ERROR) flags |= CURL_CSELECT_ERR;
  int running = 0;
  c->in_action++;
  curl_multi_socket_action(c->multi, sk->fd, flags, &running);
  c->in_action--;
  check_info(c);
}

static void csock_drop(struct http_client *c, struct http_csock *sk) {
  loop_io_del(c->loop, &sk->io);
  if (sk->prev) sk->prev->next = sk->next;
  else c->socks = sk->next;
  if (sk->next) sk->next->prev = sk->prev;
  if (loop_defer(c->loop, free, sk)) log_error("http_defer_failed", "what=csock");
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  struct http_client *c = userp;
  struct http_csock *sk = socketp;
  (void)e;
  if (what == CURL_POLL_REMOVE) {
    if (sk) {
      curl_multi_assign(c->multi, s, NULL);
      sk->parked = 1;
    }
    return 0;
  }
  uint32_t ev = 0;
  if (what & CURL_POLL_IN) ev |= LOOP_READ;
  if (what & CURL_POLL_OUT) ev |= LOOP_WRITE;
  if (!sk && (sk = csock_find(c, s)) != NULL) {
    sk->parked = 0;
    curl_multi_assign(c->multi, s, sk);
  }
  if (!sk) {
    sk = calloc(1, sizeof(*sk));
    if (!sk) return -1;
    sk->c = c;
    sk->fd = s;
    if (loop_io_add(c->loop, &sk->io, s, ev, csock_io_cb, sk)) {
      free(sk);
      return -1;
    }
    sk->next = c->socks;
    if (c->socks) c->socks->prev = sk;
    c->socks = sk;
    curl_multi_assign(c->multi, s, sk);
    return 0;
  }
  if (loop_io_mod(c->loop, &sk->io, ev)) return -1;
  return 0;
}

/* Curl's sockets open and close through these so that a parked watcher never outlives its
 * socket: a new socket with the number of a parked one means that one was closed. */
static curl_socket_t opensocket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
  struct http_client *c = clientp;
  (void)purpose;
  curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  if (fd == CURL_SOCKET_BAD) return fd;
  struct http_csock *sk = csock_find(c, fd);
  if (sk) csock_drop(c, sk);
  return fd;
}

static int closesocket_cb(void *clientp, curl_socket_t fd) {
  struct http_client *c = clientp;
  struct http_csock *sk = csock_find(c, fd);
  if (sk) csock_drop(c, sk);
  return close(fd);
}

static void timer_fire(struct loop_timer *t) {
  struct http_client *c = t->data;
  int running = 0;
  c->in_action++;
  curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  c->in_action--;
  check_info(c);
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp) {
  struct http_client *c = userp;
  (void)m;
  if (timeout_ms < 0) loop_timer_stop(c->loop, &c->timer);
  else loop_timer_start(c->loop, &c->timer, (uint64_t)timeout_ms);
  return 0;
}

/* ----------------------------------------------------------------- requests */

static void req_destroy(struct http_client_req *r) {
  struct http_client *c = r->c;
  if (r->easy) {
    curl_multi_remove_handle(c->multi, r->easy);
    easy_release(c, r->easy);
  }
  curl_slist_free_all(r->hdrs);
  free(r->body);
  buf_free(&r->rhdr);
  if (r->prev) r->prev->next = r->next;
  else c->reqs = r->next;
  if (r->next) r->next->prev = r->prev;
  c->active--;
  free(r);
}

static void reap(void *arg) {
  struct http_client *c = arg;
  c->reap_scheduled = 0;
  if (c->dead) {
    free(c);
    return;
  }
  struct http_client_req *r = c->reqs, *next;
  for (; r; r = next) {
    next = r->next;
    if (r->cancelled) req_destroy(r);
  }
}

static void call_start(struct http_client_req *r) {
  r->started = 1;
  if (r->on_start) r->on_start(r, r->status, r->arg);
}

static size_t header_cb(char *ptr, size_t size, size_t n, void *ud) {
  struct http_client_req *r = ud;
  size_t len = size * n;
  if (r->cancelled) return 0;
  if (r->started) return len; /* trailers */
  if (len >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
    /* A new status line (after 1xx): start a fresh header block. */
    buf_reset(&r->rhdr);
    r->status = 0;
    const char *sp = memchr(ptr, ' ', len);
    if (sp) {
      int st = 0;
      const char *end = ptr + len;
      for (sp++; sp < end && *sp >= '0' && *sp <= '9' && st < 1000; sp++) st = st * 10 + (*sp - '0');
      r->status = st;
    }
    return len;
  }
  if (len <= 2 && (len == 0 || ptr[0] == '\r' || ptr[0] == '\n')) {
    if (r->status >= 200) call_start(r);
    return len;
  }
  if (buf_append(&r->rhdr, ptr, len)) return 0; /* header block too large: fail */
  return len;
}

static size_t write_cb(char *ptr, size_t size, size_t n, void *ud) {
  struct http_client_req *r = ud;
  size_t len = size * n;
  if (r->cancelled) return 0;
  if (!r->started) call_start(r);
  if (r->cancelled) return 0;
  if (!r->on_data || len == 0) return len;
  int rc = r->on_data(r, (const uint8_t *)ptr, len, r->arg);
  if (r->cancelled) return 0;
  if (rc == HTTP_CLIENT_PAUSE) return CURL_WRITEFUNC_PAUSE;
  return len;
}

static int map_code(CURLcode code) {
  switch (code) {
    case CURLE_OK: return 0;
    case CURLE_OPERATION_TIMEDOUT: return ERR_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR: return ERR_IO;
    case CURLE_OUT_OF_MEMORY: return ERR_NOMEM;
    case CURLE_WRITE_ERROR:
    case CURLE_ABORTED_BY_CALLBACK: return ERR_CLOSED;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL: return ERR_INVALID;
    default: return ERR_PROTO;
  }
}

static void check_info(struct http_client *c) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL *easy = msg->easy_handle;
    CURLcode code = msg->data.result;
    char *priv = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    struct http_client_req *r = (struct http_client_req *)(void *)priv;
    if (!r) continue;
    long nc = 0;
    if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &nc) == CURLE_OK && nc > 0)
      c->connects += (uint64_t)nc;
    curl_multi_remove_handle(c->multi, easy);
    if (!r->cancelled) {
      r->done = 1;
      if (code == CURLE_OK && !r->started) {
        long st = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &st);
        if (!r->status) r->status = (int)st;
        call_start(r);
      }
      if (!r->cancelled && r->on_done) {
        const char *msgtxt = "";
        if (code != CURLE_OK) msgtxt = r->errbuf[0] ? r->errbuf : curl_easy_strerror(code);
        r->on_done(r, map_code(code), msgtxt, r->arg);
      }
    }
    req_destroy(r);
  }
}

int http_client_request(struct http_client *c, const struct http_client_opts *o,
                        struct http_client_req **out) {
  if (out) *out = NULL;
  if (!o || !o->url) return ERR_INVALID;
  struct http_client_req *r = calloc(1, sizeof(*r));
  if (!r) return ERR_NOMEM;
  r->c = c;
  r->on_start = o->on_start;
  r->on_data = o->on_data;
  r->on_done = o->on_done;
  r->arg = o->arg;
  buf_init(&r->rhdr, HTTP_CLIENT_MAX_RESPONSE_HEADER_BYTES);
  int rc = ERR_NOMEM;
  r->easy = c->nidle ? c->idle_easy[--c->nidle] : curl_easy_init();
  if (!r->easy) goto fail;
  CURL *e = r->easy;
  for (const char *const *h = o->headers; h && *h; h++) {
    struct curl_slist *nl = curl_slist_append(r->hdrs, *h);
    if (!nl) goto fail;
    r->hdrs = nl;
  }
  /* Never wait for 100-continue: our servers read bodies without it. */
  struct curl_slist *nl = curl_slist_append(r->hdrs, "Expect:");
  if (!nl) goto fail;
  r->hdrs = nl;
  const char *method = o->method ? o->method : (o->body_len ? "POST" : "GET");
  rc = ERR_INVALID;
  if (curl_easy_setopt(e, CURLOPT_URL, o->url) != CURLE_OK) goto fail;
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, HTTP_CLIENT_RECV_BUFFER);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, closesocket_cb);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   (long)(o->connect_timeout_ms ? o->connect_timeout_ms
                                                : HTTP_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS));
  if (o->body_len || strcmp(method, "POST") == 0) {
    r->body = malloc(o->body_len ? o->body_len : 1);
    if (!r->body) {
      rc = ERR_NOMEM;
      goto fail;
    }
    if (o->body_len) memcpy(r->body, o->body, o->body_len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, (char *)r->body);
  }
  if (strcmp(method, "HEAD") == 0) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  else if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  else if (strcmp(method, "GET") == 0 && o->body_len)
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  r->next = c->reqs;
  if (c->reqs) c->reqs->prev = r;
  c->reqs = r;
  c->active++;
  if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
    /* Unlink again; the handle was never added. */
    c->reqs = r->next;
    if (r->next) r->next->prev = NULL;
    c->active--;
    rc = ERR_NOMEM;
    goto fail;
  }
  if (out) *out = r;
  return 0;
fail:
  easy_release(c, r->easy);
  curl_slist_free_all(r->hdrs);
  free(r->body);
  buf_free(&r->rhdr);
  free(r);
  return rc;
}

void http_client_cancel(struct http_client_req *r) {
  if (!r || r->cancelled) return;
  r->cancelled = 1;
  if (r->done) return; /* inside its own on_done: freed when that returns */
  struct http_client *c = r->c;
  /* Removal happens after this loop iteration, outside every curl callback. */
  if (!c->reap_scheduled && loop_defer(c->loop, reap, c) == 0) c->reap_scheduled = 1;
}

void http_client_resume(struct http_client_req *r) {
  if (!r || r->cancelled || r->done) return;
  struct http_client *c = r->c;
  c->in_action++;
  curl_easy_pause(r->easy, CURLPAUSE_CONT);
  c->in_action--;
}

int http_client_req_status(const struct http_client_req *r) { return r->status; }

int http_client_req_header(const struct http_client_req *r, const char *name, char *out,
                           size_t outsz) {
  const char *p = (const char *)buf_ptr(&r->rhdr);
  const char *end = p + r->rhdr.len;
  size_t nlen = strlen(name);
  int found = ERR_NOTFOUND;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *lend = eol ? eol : end;
    const char *colon = memchr(p, ':', (size_t)(lend - p));
    if (colon && (size_t)(colon - p) == nlen && strncasecmp(p, name, nlen) == 0) {
      const char *v = colon + 1;
      const char *ve = lend;
      while (v < ve && (*v == ' ' || *v == '\t')) v++;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      size_t vl = (size_t)(ve - v);
      if (vl + 1 > outsz) {
        found = ERR_LIMIT;
      } else {
        memcpy(out, v, vl);
        out[vl] = '\0';
        found = (int)vl;
      }
    }
    p = eol ? eol + 1 : end;
  }
  return found;
}

uint64_t http_client_connects_total(const struct http_client *c) { return c->connects; }
size_t http_client_active(const struct http_client *c) { return c->active; }

/* ------------------------------------------------------------------- client */

int http_client_new(struct loop *l, const struct http_client_config *cfg,
                    struct http_client **out) {
  *out = NULL;
  if (!g_curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return ERR_INVALID;
    g_curl_ready = 1;
  }
  struct http_client *c = calloc(1, sizeof(*c));
  if (!c) return ERR_NOMEM;
  c->loop = l;
  c->multi = curl_multi_init();
  if (!c->multi) {
    free(c);
    return ERR_NOMEM;
  }
  loop_timer_init(&c->timer, timer_fire, c);
  long maxc = cfg && cfg->maxconnects ? cfg->maxconnects : HTTP_CLIENT_DEFAULT_MAXCONNECTS;
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, maxc);
  if (cfg && cfg->max_host_connections)
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, cfg->max_host_connections);
  *out = c;
  return 0;
}

void http_client_free(struct http_client *c) {
  if (!c) return;
  /* Tell owners first, then tear down without further callbacks. */
  for (struct http_client_req *r = c->reqs; r; r = r->next) {
    if (r->cancelled || r->done) continue;
    r->done = 1;
    if (r->on_done) r->on_done(r, ERR_CLOSED, "http client shut down", r->arg);
    r->cancelled = 1;
  }
  while (c->reqs) req_destroy(c->reqs);
  while (c->nidle) curl_easy_cleanup(c->idle_easy[--c->nidle]);
  curl_multi_cleanup(c->multi);
  c->multi = NULL;
  while (c->socks) csock_drop(c, c->socks);
  loop_timer_stop(c->loop, &c->timer);
  if (c->reap_scheduled) c->dead = 1;
  else free(c);
}
