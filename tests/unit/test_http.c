/* test_http: http_server + http_client + sse round trips on one in-process loop. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "http/http_client.h"
#include "http/http_server.h"
#include "http/http_sse.h"
#include "loop/loop.h"

/* ------------------------------------------------------------ test server */

struct streamer {
  struct http_request *req;
  struct loop_timer timer;
  int left;
  int idx;
  int forever;
};

static struct {
  struct loop *loop;
  struct http_server *srv;
  int aborts;
  int stream_aborts;
} T;

static void streamer_free(struct streamer *s) {
  loop_timer_stop(T.loop, &s->timer);
  free(s);
}

static void stream_abort_cb(struct http_request *req, void *arg) {
  struct streamer *s = arg;
  T.stream_aborts++;
  http_request_release(req);
  streamer_free(s);
}

static void stream_tick(struct loop_timer *t) {
  struct streamer *s = t->data;
  if (!s->forever && s->left == 0) {
    assert_int_equal(http_stream_end(s->req), 0);
    streamer_free(s);
    return;
  }
  char chunk[32];
  int n = snprintf(chunk, sizeof(chunk), "chunk%d", s->idx++);
  assert_int_equal(http_stream_write(s->req, chunk, (size_t)n), 0);
  s->left--;
  loop_timer_start(T.loop, &s->timer, 5);
}

static void hang_abort_cb(struct http_request *req, void *arg) {
  (void)arg;
  T.aborts++;
  http_request_release(req);
}

static void handler(struct http_request *req, void *arg) {
  (void)arg;
  const char *path = http_request_path(req);
  if (strcmp(path, "/hello") == 0) {
    (void)http_respond(req, 200, "text/plain", "hello", 5);
  } else if (strcmp(path, "/echo") == 0) {
    size_t len;
    const uint8_t *b = http_request_body(req, &len);
    const char *x = http_request_header(req, "x-echo");
    char extra[256];
    snprintf(extra, sizeof(extra), "X-Echo: %s\r\nX-Method: %s\r\n", x ? x : "",
             http_request_method(req));
    (void)http_respond_ex(req, 201, "application/octet-stream", extra, b, len);
  } else if (strcmp(path, "/stream") == 0 || strcmp(path, "/slowstream") == 0) {
    char v[16];
    int n = 3;
    if (http_request_query_param(req, "n", v, sizeof(v)) > 0) {
      int64_t x;
      if (util_parse_i64(v, 0, 1000, &x) == 0) n = (int)x;
    }
    struct streamer *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->req = req;
    s->left = n;
    s->forever = strcmp(path, "/slowstream") == 0;
    loop_timer_init(&s->timer, stream_tick, s);
    http_request_set_abort_cb(req, stream_abort_cb, s);
    assert_int_equal(http_stream_begin(req, 200, "text/plain", NULL), 0);
    loop_timer_start(T.loop, &s->timer, 1);
  } else if (strcmp(path, "/burst") == 0) {
    /* n chunks written at once: the client reads many of them in one recv. */
    char v[16];
    int64_t n = 0;
    if (http_request_query_param(req, "n", v, sizeof(v)) <= 0 || util_parse_i64(v, 0, 5000, &n) != 0) n = 0;
    assert_int_equal(http_stream_begin(req, 200, "text/plain", NULL), 0);
    for (int64_t i = 0; i < n; i++) {
      char chunk[32];
      int k = snprintf(chunk, sizeof(chunk), "c%05d|", (int)i);
      assert_int_equal(http_stream_write(req, chunk, (size_t)k), 0);
    }
    assert_int_equal(http_stream_end(req), 0);
  } else if (strcmp(path, "/truncate") == 0) {
    assert_int_equal(http_stream_begin(req, 200, "text/plain", NULL), 0);
    assert_int_equal(http_stream_write(req, "part", 4), 0);
    http_request_release(req);
  } else if (strcmp(path, "/hang") == 0) {
    http_request_set_abort_cb(req, hang_abort_cb, NULL);
  } else {
    (void)http_respond(req, 404, "text/plain", "nope\n", 5);
  }
}

static int setup_srv(size_t max_header, size_t max_body, uint32_t req_timeout) {
  memset(&T, 0, sizeof(T));
  if (loop_new(&T.loop)) return -1;
  struct http_server_config cfg = {0};
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  cfg.max_header_bytes = max_header;
  cfg.max_body_bytes = max_body;
  cfg.request_timeout_ms = req_timeout;
  cfg.handler = handler;
  struct err e;
  if (http_server_new(T.loop, &cfg, &T.srv, &e)) return -1;
  return 0;
}

static int setup(void **state) {
  (void)state;
  return setup_srv(1024, 4096, 0);
}

static int teardown(void **state) {
  (void)state;
  http_server_free(T.srv);
  loop_run_once(T.loop, 0); /* deferred frees */
  loop_free(T.loop);
  return 0;
}

static void spin_until(int *flag, int want, int ms) {
  uint64_t end = util_mono_ms() + (uint64_t)ms;
  while (*flag < want && util_mono_ms() < end) loop_run_once(T.loop, 10);
}

/* ------------------------------------------------------------ client side */

struct result {
  int done;
  int result;
  int status;
  int data_calls;
  int cancel_after_data;
  char hdr[128];
  struct buf body;
  struct http_client_req *req;
};

static void c_start(struct http_client_req *r, int status, void *arg) {
  struct result *res = arg;
  res->status = status;
  if (http_client_req_header(r, "x-echo", res->hdr, sizeof(res->hdr)) < 0) res->hdr[0] = '\0';
}

static int c_data(struct http_client_req *r, const uint8_t *d, size_t n, void *arg) {
  struct result *res = arg;
  res->data_calls++;
  assert_int_equal(buf_append(&res->body, d, n), 0);
  if (res->cancel_after_data && res->data_calls >= res->cancel_after_data) {
    http_client_cancel(r);
    res->done = 1;
  }
  return 0;
}

static void c_done(struct http_client_req *r, int result, const char *msg, void *arg) {
  struct result *res = arg;
  (void)r;
  (void)msg;
  res->result = result;
  res->done = 1;
}

static void do_request(struct http_client *c, const char *method, const char *path,
                       const char *body, uint32_t timeout_ms, struct result *res) {
  char url[256];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", http_server_port(T.srv), path);
  const char *hdrs[] = {"X-Echo: ping", NULL};
  struct http_client_opts o = {0};
  o.method = method;
  o.url = url;
  o.headers = hdrs;
  o.body = body;
  o.body_len = body ? strlen(body) : 0;
  o.timeout_ms = timeout_ms;
  o.on_start = c_start;
  o.on_data = c_data;
  o.on_done = c_done;
  o.arg = res;
  res->done = 0;
  buf_init(&res->body, 1 << 20);
  assert_int_equal(http_client_request(c, &o, &res->req), 0);
  spin_until(&res->done, 1, 5000);
  assert_true(res->done);
}

static void test_roundtrip(void **state) {
  (void)state;
  struct http_client *c;
  assert_int_equal(http_client_new(T.loop, NULL, &c), 0);
  struct result r = {0};
  do_request(c, NULL, "/hello", NULL, 2000, &r);
  assert_int_equal(r.result, 0);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body.len, 5);
  assert_memory_equal(buf_ptr(&r.body), "hello", 5);
  buf_free(&r.body);

  struct result r2 = {0};
  do_request(c, "PUT", "/echo?x=1", "some body bytes", 2000, &r2);
  assert_int_equal(r2.result, 0);
  assert_int_equal(r2.status, 201);
  assert_string_equal(r2.hdr, "ping");
  assert_int_equal(r2.body.len, 15);
  assert_memory_equal(buf_ptr(&r2.body), "some body bytes", 15);
  buf_free(&r2.body);

  struct result r3 = {0};
  do_request(c, NULL, "/missing", NULL, 2000, &r3);
  assert_int_equal(r3.status, 404);
  buf_free(&r3.body);
  http_client_free(c);
}

static void test_keepalive(void **state) {
  (void)state;
  struct http_client *c;
  assert_int_equal(http_client_new(T.loop, NULL, &c), 0);
  for (int i = 0; i < 10; i++) {
    struct result r = {0};
    do_request(c, i % 2 ? "POST" : "GET", i % 2 ? "/echo" : "/hello", i % 2 ? "b" : NULL,
               2000, &r);
    assert_int_equal(r.result, 0);
    buf_free(&r.body);
  }
  struct http_server_stats st;
  http_server_get_stats(T.srv, &st);
  assert_int_equal(st.accepted, 1);
  assert_int_equal(st.requests, 10);
  assert_int_equal(http_client_connects_total(c), 1);
  http_client_free(c);
}

static void test_streaming(void **state) {
  (void)state;
  struct http_client *c;
  assert_int_equal(http_client_new(T.loop, NULL, &c), 0);
  struct result r = {0};
  do_request(c, NULL, "/stream?n=6", NULL, 5000, &r);
  assert_int_equal(r.result, 0);
  assert_int_equal(r.status, 200);
  const char *want = "chunk0chunk1chunk2chunk3chunk4chunk5";
  assert_int_equal(r.body.len, strlen(want));
  assert_memory_equal(buf_ptr(&r.body), want, strlen(want));
  assert_true(r.data_calls >= 3);
  buf_free(&r.body);
  http_client_free(c);
}

static void test_client_cancel_aborts_server(void **state) {
  (void)state;
  struct http_client *c;
  assert_int_equal(http_client_new(T.loop, NULL, &c), 0);
  struct result r = {0};
  r.cancel_after_data = 2;
  do_request(c, NULL, "/slowstream", NULL, 5000, &r);
  assert_int_equal(r.data_calls, 2);
  spin_until(&T.stream_aborts, 1, 3000);
  assert_int_equal(T.stream_aborts, 1);
  buf_free(&r.body);
  http_client_free(c);
}

static void test_release_truncates(void **state) {
  (void)state;
  struct http_client *c;
  assert_int_equal(http_client_new(T.loop, NULL, &c), 0);
  struct result r = {0};
  do_request(c, NULL, "/truncate", NULL, 2000, &r);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.result, ERR_IO);
  assert_int_equal(r.body.len, 4);
  buf_free(&r.body);
  struct result r2 = {0};
  do_request(c, NULL, "/hello", NULL, 2000, &r2);
  assert_int_equal(r2.result, 0);
  buf_free(&r2.body);
  http_client_free(c);
}

static void test_client_timeout(void **state) {
  (void)state;
  struct http_client *c;
  assert_int_equal(http_client_new(T.loop, NULL, &c), 0);
  struct result r = {0};
  uint64_t t0 = util_mono_ms();
  do_request(c, NULL, "/hang", NULL, 200, &r);
  assert_int_equal(r.result, ERR_TIMEOUT);
  assert_true(util_mono_ms() - t0 >= 150);
  spin_until(&T.aborts, 1, 3000);
  assert_int_equal(T.aborts, 1);
  buf_free(&r.body);
  http_client_free(c);
}

static void test_client_refused(void **state) {
  (void)state;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  socklen_t sl = sizeof(a);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
  close(fd); /* nothing listens there now */
  struct http_client *c;
  assert_int_equal(http_client_new(T.loop, NULL, &c), 0);
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(a.sin_port));
  struct result r = {0};
  struct http_client_opts o = {0};
  o.url = url;
  o.on_done = c_done;
  o.arg = &r;
  assert_int_equal(http_client_request(c, &o, NULL), 0);
  spin_until(&r.done, 1, 5000);
  assert_int_equal(r.result, ERR_IO);
  http_client_free(c);
}

/* Cancelling before any callback and freeing the client with a request in flight. */
static void test_client_cancel_and_free(void **state) {
  (void)state;
  struct http_client *c;
  assert_int_equal(http_client_new(T.loop, NULL, &c), 0);
  struct result r1 = {0}, r2 = {0};
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/hang", http_server_port(T.srv));
  struct http_client_opts o = {0};
  o.url = url;
  o.on_done = c_done;
  o.arg = &r1;
  struct http_client_req *h;
  assert_int_equal(http_client_request(c, &o, &h), 0);
  http_client_cancel(h);
  o.arg = &r2;
  assert_int_equal(http_client_request(c, &o, NULL), 0);
  for (int i = 0; i < 20; i++) loop_run_once(T.loop, 5);
  assert_int_equal(r1.done, 0);
  assert_int_equal(r2.done, 0);
  http_client_free(c);
  assert_int_equal(r1.done, 0);
  assert_int_equal(r2.done, 1);
  assert_int_equal(r2.result, ERR_CLOSED);
  spin_until(&T.aborts, 1, 3000);
  assert_true(T.aborts >= 1);
}

/* ------------------------------------------------------------ raw sockets */

static int raw_connect(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)http_server_port(T.srv));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

static void raw_send(int fd, const char *s, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t w = send(fd, s + off, n - off, MSG_NOSIGNAL);
    if (w > 0) {
      off += (size_t)w;
    } else {
      assert_true(errno == EAGAIN);
      loop_run_once(T.loop, 5);
    }
  }
}

/* Reads until EOF, until `until` appears, or timeout. Returns bytes read; sets *eof. */
static size_t raw_read(int fd, char *out, size_t cap, const char *until, int *eof) {
  size_t len = 0;
  *eof = 0;
  uint64_t end = util_mono_ms() + 3000;
  while (util_mono_ms() < end && len + 1 < cap) {
    loop_run_once(T.loop, 5);
    ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
    if (n > 0) {
      len += (size_t)n;
      out[len] = '\0';
      if (until && strstr(out, until)) break;
    } else if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      *eof = 1;
      break;
    }
  }
  out[len] = '\0';
  return len;
}

static void expect_status(const char *req, size_t reqlen, const char *status_line) {
  int fd = raw_connect();
  raw_send(fd, req, reqlen);
  char out[4096];
  int eof;
  raw_read(fd, out, sizeof(out), NULL, &eof);
  assert_true(eof);
  assert_true(strncmp(out, status_line, strlen(status_line)) == 0);
  assert_non_null(strstr(out, "Connection: close\r\n"));
  close(fd);
}

static void test_limits(void **state) {
  (void)state;
  char big[3000];
  int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
  memset(big + n, 'a', 2000);
  n += 2000;
  n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\n\r\n");
  expect_status(big, (size_t)n, "HTTP/1.1 431 ");

  const char *cl = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc";
  expect_status(cl, strlen(cl), "HTTP/1.1 413 ");

  char chunked[8192];
  n = snprintf(chunked, sizeof(chunked),
               "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 3; i++) {
    n += snprintf(chunked + n, sizeof(chunked) - (size_t)n, "800\r\n");
    memset(chunked + n, 'b', 0x800);
    n += 0x800;
    n += snprintf(chunked + n, sizeof(chunked) - (size_t)n, "\r\n");
  }
  expect_status(chunked, (size_t)n, "HTTP/1.1 413 ");

  expect_status("BLAH\x01 / HTTP/1.1\r\n\r\n", 20, "HTTP/1.1 400 ");
  const char *smuggle =
      "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  expect_status(smuggle, strlen(smuggle), "HTTP/1.1 400 ");
  struct http_server_stats st;
  http_server_get_stats(T.srv, &st);
  assert_int_equal(st.bad, 5);
  assert_int_equal(st.requests, 0);
}

static void test_chunked_wire_and_pipelining(void **state) {
  (void)state;
  int fd = raw_connect();
  const char *two = "GET /stream?n=2 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  raw_send(fd, two, strlen(two));
  char out[4096];
  int eof;
  raw_read(fd, out, sizeof(out), "hello", &eof);
  const char *body = strstr(out, "\r\n\r\n");
  assert_non_null(body);
  assert_non_null(strstr(out, "Transfer-Encoding: chunked\r\n"));
  const char *want = "\r\n\r\n6\r\nchunk0\r\n6\r\nchunk1\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n";
  assert_true(strncmp(body, want, strlen(want)) == 0);
  assert_non_null(strstr(out, "Content-Length: 5\r\n\r\nhello"));
  close(fd);

  /* HTTP/1.0: close-delimited stream, no chunk framing, connection closed after. */
  fd = raw_connect();
  const char *old = "GET /stream?n=2 HTTP/1.0\r\n\r\n";
  raw_send(fd, old, strlen(old));
  raw_read(fd, out, sizeof(out), NULL, &eof);
  assert_true(eof);
  assert_null(strstr(out, "chunked"));
  body = strstr(out, "\r\n\r\n");
  assert_non_null(body);
  assert_string_equal(body + 4, "chunk0chunk1");
  close(fd);

  /* HTTP/1.0 keep-alive honoured for whole responses. */
  fd = raw_connect();
  const char *ka = "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  raw_send(fd, ka, strlen(ka));
  raw_read(fd, out, sizeof(out), "hello", &eof);
  assert_false(eof);
  assert_non_null(strstr(out, "Connection: keep-alive\r\n"));
  raw_send(fd, ka, strlen(ka));
  raw_read(fd, out, sizeof(out), "hello", &eof);
  assert_non_null(strstr(out, "hello"));
  close(fd);
}

static void test_request_timeout(void **state) {
  (void)state;
  teardown(NULL);
  assert_int_equal(setup_srv(0, 0, 100), 0);
  int fd = raw_connect();
  raw_send(fd, "GET / HTTP/1.1\r\nHo", 18);
  char out[1024];
  int eof;
  raw_read(fd, out, sizeof(out), NULL, &eof);
  assert_true(eof);
  assert_true(strncmp(out, "HTTP/1.1 408 ", 13) == 0);
  close(fd);
}

/* ------------------------------------------------------------ pure parser */

struct parsed {
  int n;
  char paths[4][64];
};

static int parsed_cb(const struct http_request *req, void *arg) {
  struct parsed *p = arg;
  if (p->n < 4) snprintf(p->paths[p->n], sizeof(p->paths[0]), "%s?%s|%s", http_request_path(req),
                         http_request_query(req), http_request_header(req, "HOST") ? http_request_header(req, "HOST") : "-");
  p->n++;
  return 0;
}

static void test_parse_buf(void **state) {
  (void)state;
  const char *in =
      "GET /a?b=1 HTTP/1.1\r\nHost: h1  \r\n\r\n"
      "POST /p HTTP/1.1\r\nhost: h2\r\nContent-Length: 3\r\n\r\nxyz"
      "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nq\r\n0\r\n\r\n";
  for (size_t piece = 0; piece < 4; piece++) {
    struct parsed p = {0};
    int rc = http_parse_request_buf((const uint8_t *)in, strlen(in), piece, NULL, parsed_cb, &p);
    assert_int_equal(rc, 3);
    assert_string_equal(p.paths[0], "/a?b=1|h1");
    assert_string_equal(p.paths[1], "/p?|h2");
    assert_string_equal(p.paths[2], "/c?|-");
  }
  struct http_parse_limits lim = {.max_header_bytes = 64, .max_body_bytes = 2};
  const char *bigh = "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n";
  assert_int_equal(http_parse_request_buf((const uint8_t *)bigh, strlen(bigh), 0, &lim, NULL, NULL),
                   -431);
  const char *bigb = "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
  assert_int_equal(http_parse_request_buf((const uint8_t *)bigb, strlen(bigb), 0, &lim, NULL, NULL),
                   -413);
  assert_int_equal(http_parse_request_buf((const uint8_t *)"\x00\x01", 2, 0, NULL, NULL, NULL), -400);
}

/* ------------------------------------------------------------ sse */

struct sse_events {
  int n;
  char data[4][64];
  char ev[4][16];
};

static int sse_cb(const char *event, const char *data, size_t len, void *arg) {
  struct sse_events *s = arg;
  if (s->n < 4) {
    snprintf(s->data[s->n], sizeof(s->data[0]), "%.*s", (int)len, data);
    snprintf(s->ev[s->n], sizeof(s->ev[0]), "%s", event);
  }
  s->n++;
  return 0;
}

static void test_sse_parser(void **state) {
  (void)state;
  const char *in = ": comment\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: l1\ndata:l2\n\ndata: [DONE]\r\r";
  size_t n = strlen(in);
  for (size_t piece = 1; piece <= n; piece += n - 1) {
    struct sse_events ev = {0};
    struct http_sse_parser p;
    http_sse_parser_init(&p, 0, sse_cb, &ev);
    for (size_t off = 0; off < n; off += piece) {
      size_t k = off + piece > n ? n - off : piece;
      assert_int_equal(http_sse_parser_feed(&p, (const uint8_t *)in + off, k), 0);
    }
    http_sse_parser_free(&p);
    assert_int_equal(ev.n, 3);
    assert_string_equal(ev.data[0], "{\"a\":1}");
    assert_string_equal(ev.ev[0], "message");
    assert_string_equal(ev.data[1], "l1\nl2");
    assert_string_equal(ev.ev[1], "x");
    assert_string_equal(ev.data[2], "[DONE]");
  }
  struct http_sse_parser p;
  http_sse_parser_init(&p, 8, sse_cb, NULL);
  assert_int_equal(http_sse_parser_feed(&p, (const uint8_t *)"data: 0123456789\n", 17), ERR_LIMIT);
  http_sse_parser_free(&p);
}


/* ------------------------------------------------------------ pause and resume */

struct pauser {
  struct result res;
  struct loop_timer resume;
  int every, pauses, taken, refused_last;
};

static void pauser_resume(struct loop_timer *t) {
  struct pauser *p = t->data;
  http_client_resume(p->res.req);
}

/* Refuses the data after every `every` - 1 accepted calls (HTTP_CLIENT_PAUSE), resuming a moment
 * later, as the worker does while its proxy link is full: the refused bytes must come again,
 * and nothing be handed over twice. */
static int pause_data(struct http_client_req *r, const uint8_t *d, size_t n, void *arg) {
  struct pauser *p = arg;
  (void)r;
  if (!p->refused_last && (p->taken + 1) % p->every == 0) {
    p->refused_last = 1;
    p->pauses++;
    loop_timer_start(T.loop, &p->resume, 1);
    return HTTP_CLIENT_PAUSE;
  }
  p->refused_last = 0;
  p->taken++;
  assert_int_equal(buf_append(&p->res.body, d, n), 0);
  return 0;
}

static void pause_done(struct http_client_req *r, int result, const char *msg, void *arg) {
  c_done(r, result, msg, &((struct pauser *)arg)->res);
}

static void test_pause_resume(void **state) {
  (void)state;
  struct http_client *c;
  assert_int_equal(http_client_new(T.loop, NULL, &c), 0);
  for (int every = 1; every <= 7; every += 3) { /* 1: every call is refused once */
    struct pauser p = {.every = every};
    loop_timer_init(&p.resume, pauser_resume, &p);
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/burst?n=2000", http_server_port(T.srv));
    struct http_client_opts o = {.url = url, .timeout_ms = 5000, .on_data = pause_data,
                                 .on_done = pause_done, .arg = &p};
    buf_init(&p.res.body, 1 << 20);
    assert_int_equal(http_client_request(c, &o, &p.res.req), 0);
    spin_until(&p.res.done, 1, 5000);
    loop_timer_stop(T.loop, &p.resume);
    assert_true(p.res.done);
    assert_int_equal(p.res.result, 0);
    assert_int_equal(p.res.body.len, 2000 * 7);
    for (int i = 0; i < 2000; i++) {
      char want[8];
      snprintf(want, sizeof(want), "c%05d|", i);
      assert_memory_equal(buf_ptr(&p.res.body) + (size_t)i * 7, want, 7);
    }
    assert_true(p.pauses > 0);
    buf_free(&p.res.body);
  }
  http_client_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_streaming, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_cancel_aborts_server, setup, teardown),
      cmocka_unit_test_setup_teardown(test_release_truncates, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_cancel_and_free, setup, teardown),
      cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chunked_wire_and_pipelining, setup, teardown),
      cmocka_unit_test_setup_teardown(test_request_timeout, setup, teardown),
      cmocka_unit_test(test_parse_buf),
      cmocka_unit_test(test_sse_parser),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
