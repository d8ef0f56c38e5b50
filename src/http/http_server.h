/* http_server: HTTP/1.1 server on the event loop (llhttp parsing, keep-alive, streaming). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_HTTP_HTTP_SERVER_H
#define COCOON_HTTP_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct loop;
struct http_server;
struct http_request;

/* Hard limits, stated once. Config fields left 0 take these defaults. */
#define HTTP_DEFAULT_MAX_HEADER_BYTES ((size_t)64 << 10) /* request line + all headers */
#define HTTP_DEFAULT_MAX_BODY_BYTES ((size_t)16 << 20)
#define HTTP_DEFAULT_MAX_CONNECTIONS 4096u
#define HTTP_DEFAULT_IDLE_TIMEOUT_MS 60000u    /* keep-alive idle, and stalled writes */
#define HTTP_DEFAULT_REQUEST_TIMEOUT_MS 30000u /* first byte -> complete request */
#define HTTP_MAX_HEADERS 128                   /* more header lines -> 431 */
#define HTTP_MAX_OUTPUT_BYTES ((size_t)256 << 20) /* per-connection unsent bytes */

/* Called once per complete request. The handler borrows nothing: from this call on the
 * request belongs to the handler ("owner") until it calls exactly one of http_respond,
 * http_respond_ex, http_stream_end or http_request_release. It may return first and
 * finish later from any other callback. */
typedef void (*http_handler_cb)(struct http_request *req, void *arg);
/* The client went away (or the server is being freed) before the response finished.
 * The request stays valid; further writes fail with ERR_CLOSED; the owner must still
 * finish it (http_request_release is the natural call, also allowed inside this cb). */
typedef void (*http_abort_cb)(struct http_request *req, void *arg);
/* Everything queued on a streamed response has been written to the socket (called after
 * each flush that empties the queue, never from inside http_stream_* calls). Producers
 * that paused on http_stream_pending resume here; others may ignore it. */
typedef void (*http_drain_cb)(struct http_request *req, void *arg);

struct http_server_config {
  const char *host; /* numeric IPv4/IPv6 or "localhost"; NULL means 127.0.0.1 */
  int port;         /* 0 picks a free port, see http_server_port */
  size_t max_header_bytes;
  size_t max_body_bytes;
  unsigned max_connections;
  uint32_t idle_timeout_ms;
  uint32_t request_timeout_ms;
  http_handler_cb handler;
  void *arg;
};

struct http_server_stats {
  uint64_t accepted;   /* connections accepted since start */
  uint64_t active;     /* connections open now */
  uint64_t requests;   /* requests handed to the handler */
  uint64_t bad;        /* requests answered 400/408/413/431 by the server itself */
};

/* Binds and listens. Borrows the loop (it must outlive the server) and cfg strings. */
CC_NODISCARD int http_server_new(struct loop *l, const struct http_server_config *cfg,
                                 struct http_server **out, struct err *e);
/* Closes every connection; in-flight requests get on_abort and stay valid until their
 * owners release them. NULL-safe. Must not be called from inside one of its callbacks
 * that is running for a request of this server; defer it instead. */
void http_server_free(struct http_server *s);
int http_server_port(const struct http_server *s);
void http_server_get_stats(const struct http_server *s, struct http_server_stats *out);

/* --- request accessors: strings are NUL-terminated and live as long as the request --- */
const char *http_request_method(const struct http_request *req); /* "GET", "POST", ... */
const char *http_request_path(const struct http_request *req);   /* raw path, no query */
const char *http_request_query(const struct http_request *req);  /* after '?', or "" */
/* Case-insensitive; the first header of that name, or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);
size_t http_request_header_count(const struct http_request *req);
/* i-th header in arrival order; returns 0 or ERR_NOTFOUND. */
int http_request_header_at(const struct http_request *req, size_t i, const char **name,
                           const char **value);
/* Body bytes (NUL-terminated after len for convenience). */
const uint8_t *http_request_body(const struct http_request *req, size_t *len);
int http_request_http_minor(const struct http_request *req); /* 0 for HTTP/1.0 */
/* Copies the raw (not percent-decoded) value of query parameter `name` into out.
 * Returns its length, ERR_NOTFOUND, or ERR_LIMIT when it does not fit. */
CC_NODISCARD int http_request_query_param(const struct http_request *req, const char *name,
                                          char *out, size_t outsz);
int http_request_aborted(const struct http_request *req);
/* Peer address as "ip:port" (empty for parsed-only requests). */
const char *http_request_peer(const struct http_request *req);

void http_request_set_abort_cb(struct http_request *req, http_abort_cb cb, void *arg);
void http_request_set_drain_cb(struct http_request *req, http_drain_cb cb, void *arg);
/* Owner-private pointer, untouched by the server. */
void http_request_set_data(struct http_request *req, void *data);
void *http_request_get_data(const struct http_request *req);

/* --- responses --- */
/* Whole response; copies body. Finishes the request: req is invalid afterwards, whatever
 * the return (ERR_CLOSED after an abort). `extra_headers` is NULL or complete
 * "Name: value\r\n" lines (validated: ERR_INVALID otherwise, and the request is still
 * finished, with a 500). content_type may be NULL (no Content-Type header). */
int http_respond(struct http_request *req, int status, const char *content_type,
                 const void *body, size_t len);
int http_respond_ex(struct http_request *req, int status, const char *content_type,
                    const char *extra_headers, const void *body, size_t len);
/* Starts a streamed response: chunked for HTTP/1.1, close-delimited for HTTP/1.0. Does not
 * finish the request. Returns 0, ERR_CLOSED (aborted), ERR_INVALID (bad headers or already
 * started). */
CC_NODISCARD int http_stream_begin(struct http_request *req, int status,
                                   const char *content_type, const char *extra_headers);
/* Queues bytes (copied; never blocks). Returns ERR_CLOSED after abort, ERR_LIMIT when the
 * connection's unsent output would pass HTTP_MAX_OUTPUT_BYTES. Pause when
 * http_stream_pending grows and resume from on_drain. */
CC_NODISCARD int http_stream_write(struct http_request *req, const void *data, size_t len);
/* Bytes queued but not yet written to the socket. */
size_t http_stream_pending(const struct http_request *req);
/* Ends the stream and finishes the request (req invalid afterwards). */
int http_stream_end(struct http_request *req);
/* Gives the request back without (completing) a response. On a live connection the bytes
 * already queued are still sent, then the connection closes, so a started stream reads as
 * truncated (no final chunk). Finishes the request; also the way to drop it after abort. */
void http_request_release(struct http_request *req);

/* --- pure parsing, for fuzzing and tests --- */
struct http_parse_limits {
  size_t max_header_bytes; /* 0: default */
  size_t max_body_bytes;   /* 0: default */
};
/* Called per complete request; borrows req for the duration of the call only. Return
 * nonzero to stop. */
typedef int (*http_parsed_cb)(const struct http_request *req, void *arg);
/* Runs the server's request parser (same llhttp settings and limits) over `data`, fed in
 * pieces of at most `piece` bytes (0: all at once). Returns the number of complete
 * requests, or the HTTP status the server would answer with (400, 413, 431) negated. */
int http_parse_request_buf(const uint8_t *data, size_t len, size_t piece,
                           const struct http_parse_limits *lim, http_parsed_cb cb, void *arg);

/* Reason phrase for a status code ("OK", "Not Found", ...; "Unknown" otherwise). */
const char *http_status_reason(int status);

#endif
