/* http_sse: Server-Sent Events writing (on http_server streams) and incremental parsing. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_HTTP_HTTP_SSE_H
#define COCOON_HTTP_HTTP_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

struct http_request;

#define HTTP_SSE_DEFAULT_MAX_EVENT ((size_t)1 << 20) /* bytes of one event's data */

/* Starts a 200 text/event-stream response (Cache-Control: no-cache). */
CC_NODISCARD int http_sse_begin(struct http_request *req);
/* Writes one event "data: <line>\n" per line of data, then "\n". Copies data. */
CC_NODISCARD int http_sse_send(struct http_request *req, const char *data, size_t len);
/* Writes "data: [DONE]\n\n" (the OpenAI stream terminator). */
CC_NODISCARD int http_sse_send_done(struct http_request *req);

/* Incremental parser for an SSE byte stream (e.g. a backend's response). An event is
 * dispatched at a blank line; its "data:" lines are joined with '\n'. "event:" sets the
 * name (default "message"); comments, "id:" and "retry:" are ignored. */
typedef int (*http_sse_event_cb)(const char *event, const char *data, size_t len, void *arg);

struct http_sse_parser {
  struct buf line;  /* current partial line */
  struct buf data;  /* data of the event being built */
  char event[64];
  int has_data;
  int skip_lf;      /* last line ended in CR: ignore a following LF */
  size_t max_event;
  http_sse_event_cb cb;
  void *arg;
};

/* max_event 0: HTTP_SSE_DEFAULT_MAX_EVENT. */
void http_sse_parser_init(struct http_sse_parser *p, size_t max_event, http_sse_event_cb cb,
                          void *arg);
void http_sse_parser_free(struct http_sse_parser *p);
/* Returns 0, ERR_LIMIT (a line or event over max_event), or the callback's nonzero value
 * (which stops parsing). */
CC_NODISCARD int http_sse_parser_feed(struct http_sse_parser *p, const uint8_t *data,
                                      size_t len);

#endif
