/* http_sse: Server-Sent Events writing (on http_server streams) and incremental parsing. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "http/http_sse.h"

#include <stdlib.h>
#include <string.h>

#include "http/http_server.h"

#define SSE_STACK_BYTES 4096

int http_sse_begin(struct http_request *req) {
  return http_stream_begin(req, 200, "text/event-stream", "Cache-Control: no-cache\r\n");
}

int http_sse_send(struct http_request *req, const char *data, size_t len) {
  /* One write per event keeps one chunk per event on the wire. Each line costs
   * "data: " + "\n"; the event ends with "\n". */
  size_t lines = 1;
  for (size_t i = 0; i < len; i++)
    if (data[i] == '\n') lines++;
  size_t need;
  if (__builtin_mul_overflow(lines, (size_t)7, &need) ||
      __builtin_add_overflow(need, len + 1, &need))
    return ERR_LIMIT;
  char stackbuf[SSE_STACK_BYTES];
  char *out = need <= sizeof(stackbuf) ? stackbuf : malloc(need);
  if (!out) return ERR_NOMEM;
  size_t o = 0, start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || data[i] == '\n') {
      size_t l = i - start;
      if (l && data[start + l - 1] == '\r') l--;
      memcpy(out + o, "data: ", 6);
      o += 6;
      memcpy(out + o, data + start, l);
      o += l;
      out[o++] = '\n';
      start = i + 1;
    }
  }
  out[o++] = '\n';
  int rc = http_stream_write(req, out, o);
  if (out != stackbuf) free(out);
  return rc;
}

int http_sse_send_done(struct http_request *req) {
  static const char done[] = "data: [DONE]\n\n";
  return http_stream_write(req, done, sizeof(done) - 1);
}

void http_sse_parser_init(struct http_sse_parser *p, size_t max_event, http_sse_event_cb cb,
                          void *arg) {
  memset(p, 0, sizeof(*p));
  p->max_event = max_event ? max_event : HTTP_SSE_DEFAULT_MAX_EVENT;
  buf_init(&p->line, p->max_event + 1);
  buf_init(&p->data, p->max_event + 1);
  p->cb = cb;
  p->arg = arg;
}

void http_sse_parser_free(struct http_sse_parser *p) {
  if (!p) return;
  buf_free(&p->line);
  buf_free(&p->data);
}

static int sse_line(struct http_sse_parser *p, const char *s, size_t n) {
  if (n == 0) {
    int rc = 0;
    if (p->has_data) {
      if (buf_reserve(&p->data, 1)) return ERR_LIMIT;
      *buf_tail(&p->data) = '\0';
      rc = p->cb ? p->cb(p->event[0] ? p->event : "message", (const char *)buf_ptr(&p->data),
                         p->data.len, p->arg)
                 : 0;
    }
    buf_reset(&p->data);
    p->has_data = 0;
    p->event[0] = '\0';
    return rc;
  }
  if (s[0] == ':') return 0;
  const char *colon = memchr(s, ':', n);
  size_t flen = colon ? (size_t)(colon - s) : n;
  const char *v = colon ? colon + 1 : s + n;
  size_t vlen = (size_t)(s + n - v);
  if (vlen && v[0] == ' ') {
    v++;
    vlen--;
  }
  if (flen == 4 && memcmp(s, "data", 4) == 0) {
    if (p->has_data && buf_append(&p->data, "\n", 1)) return ERR_LIMIT;
    if (buf_append(&p->data, v, vlen)) return ERR_LIMIT;
    if (p->data.len > p->max_event) return ERR_LIMIT;
    p->has_data = 1;
  } else if (flen == 5 && memcmp(s, "event", 5) == 0) {
    size_t l = vlen < sizeof(p->event) - 1 ? vlen : sizeof(p->event) - 1;
    memcpy(p->event, v, l);
    p->event[l] = '\0';
  }
  return 0;
}

int http_sse_parser_feed(struct http_sse_parser *p, const uint8_t *data, size_t len) {
  size_t i = 0;
  while (i < len) {
    if (p->skip_lf) {
      p->skip_lf = 0;
      if (data[i] == '\n') {
        i++;
        continue;
      }
    }
    const uint8_t *nl = NULL;
    for (size_t j = i; j < len; j++) {
      if (data[j] == '\n' || data[j] == '\r') {
        nl = data + j;
        break;
      }
    }
    if (!nl) {
      if (buf_append(&p->line, data + i, len - i)) return ERR_LIMIT;
      return 0;
    }
    size_t seg = (size_t)(nl - (data + i));
    int rc;
    if (p->line.len) {
      if (buf_append(&p->line, data + i, seg)) return ERR_LIMIT;
      rc = sse_line(p, (const char *)buf_ptr(&p->line), p->line.len);
      buf_reset(&p->line);
    } else {
      rc = sse_line(p, (const char *)(data + i), seg);
    }
    if (*nl == '\r') p->skip_lf = 1;
    i += seg + 1;
    if (rc) return rc;
  }
  return 0;
}
