/* http_client: asynchronous HTTP/1.1 client, libcurl multi driven by the event loop. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_HTTP_HTTP_CLIENT_H
#define COCOON_HTTP_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct loop;
struct http_client;
struct http_client_req;

#define HTTP_CLIENT_DEFAULT_MAXCONNECTS 64     /* idle keep-alive connections kept */
#define HTTP_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define HTTP_CLIENT_MAX_RESPONSE_HEADER_BYTES ((size_t)64 << 10)
#define HTTP_CLIENT_PAUSE 1 /* on_data return value, see below */

/* Status line and headers received (final response only, 1xx skipped). Header lookups
 * through http_client_req_header are valid from here until on_done returns. */
typedef void (*http_client_start_cb)(struct http_client_req *r, int status, void *arg);
/* Body bytes as they arrive (borrowed for the call). Return 0 to consume them, or
 * HTTP_CLIENT_PAUSE to pause the transfer without consuming: the same bytes are delivered
 * again after http_client_resume. */
typedef int (*http_client_data_cb)(struct http_client_req *r, const uint8_t *data, size_t len,
                                   void *arg);
/* Exactly once per request that was not cancelled. result: 0 when a complete HTTP response
 * arrived (any status), else ERR_TIMEOUT, ERR_IO (connect refused, reset, DNS...),
 * ERR_PROTO, ERR_CLOSED (client freed). errmsg: curl's message ("" on success). The request
 * handle is freed when this returns. */
typedef void (*http_client_done_cb)(struct http_client_req *r, int result, const char *errmsg,
                                    void *arg);

struct http_client_config {
  long maxconnects;            /* 0: HTTP_CLIENT_DEFAULT_MAXCONNECTS */
  long max_host_connections;   /* 0: unlimited */
};

struct http_client_opts {
  const char *method;                /* NULL: GET, or POST when body_len > 0 */
  const char *url;                   /* required; copied */
  const char *const *headers;        /* NULL-terminated "Name: value" list, copied; or NULL */
  const void *body;                  /* copied */
  size_t body_len;
  uint32_t timeout_ms;               /* whole transfer; 0: none */
  uint32_t connect_timeout_ms;       /* 0: default */
  http_client_start_cb on_start;     /* optional */
  http_client_data_cb on_data;       /* optional (body dropped when NULL) */
  http_client_done_cb on_done;       /* optional */
  void *arg;
};

/* One client per loop (borrowed; must outlive the client). cfg may be NULL. */
CC_NODISCARD int http_client_new(struct loop *l, const struct http_client_config *cfg,
                                 struct http_client **out);
/* Outstanding requests get on_done(ERR_CLOSED) first. Not from inside its own callbacks.
 * Memory is reclaimed at once (curl sockets are closed here). NULL-safe. */
void http_client_free(struct http_client *c);

/* Starts a request. *out (optional) is a handle valid until on_done returns or until
 * http_client_cancel. Callbacks never run inside this call. */
CC_NODISCARD int http_client_request(struct http_client *c, const struct http_client_opts *o,
                                     struct http_client_req **out);
/* Stops the request; no callback for it runs afterwards and the handle is invalid. Safe
 * from any callback, including this request's own on_start/on_data (not on_done). */
void http_client_cancel(struct http_client_req *r);
/* Resumes a transfer paused by HTTP_CLIENT_PAUSE (may deliver data before returning,
 * so do not call it from inside this request's on_data). */
void http_client_resume(struct http_client_req *r);

int http_client_req_status(const struct http_client_req *r);
/* Case-insensitive response header lookup (the last one of that name): copies into out
 * and returns the length, or ERR_NOTFOUND / ERR_LIMIT. */
CC_NODISCARD int http_client_req_header(const struct http_client_req *r, const char *name,
                                        char *out, size_t outsz);

/* New TCP connections opened by all finished requests so far (keep-alive check). */
uint64_t http_client_connects_total(const struct http_client *c);
size_t http_client_active(const struct http_client *c);

#endif
