/* fuzz_http: the server's request parser (same llhttp settings and limits) and the SSE parser. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http/http_server.h"
#include "http/http_sse.h"

static int touch_request(const struct http_request *req, void *arg) {
  size_t *sum = arg;
  const char *p = http_request_path(req);
  const char *q = http_request_query(req);
  *sum += strlen(p) + strlen(q) + strlen(http_request_method(req));
  for (size_t i = 0; i < http_request_header_count(req); i++) {
    const char *n, *v;
    if (http_request_header_at(req, i, &n, &v) == 0) *sum += strlen(n) + strlen(v);
  }
  const char *h = http_request_header(req, "content-type");
  if (h) *sum += strlen(h);
  char val[32];
  if (http_request_query_param(req, "a", val, sizeof(val)) > 0) *sum += 1;
  size_t blen;
  const uint8_t *b = http_request_body(req, &blen);
  if (blen) *sum += b[blen - 1] + b[blen]; /* b[blen] is the NUL terminator */
  return 0;
}

static int sse_cb(const char *event, const char *data, size_t len, void *arg) {
  size_t *sum = arg;
  *sum += strlen(event) + len + (len ? (uint8_t)data[len - 1] : 0) + (uint8_t)data[len];
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t sum = 0;
  /* Default limits all at once, then small limits fed in odd-sized pieces (the server
   * sees arbitrary read boundaries). */
  (void)http_parse_request_buf(data, size, 0, NULL, touch_request, &sum);
  struct http_parse_limits lim = {.max_header_bytes = 512, .max_body_bytes = 256};
  (void)http_parse_request_buf(data, size, 7, &lim, touch_request, &sum);

  struct http_sse_parser p;
  http_sse_parser_init(&p, 256, sse_cb, &sum);
  size_t half = size / 2;
  if (http_sse_parser_feed(&p, data, half) == 0 &&
      http_sse_parser_feed(&p, data + half, size - half) != 0)
    sum++;
  http_sse_parser_free(&p);
  return sum == (size_t)-1;
}
