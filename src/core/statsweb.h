/* statsweb: serves /stats (HTML), /jsonstats and /metrics of a daemon on its HTTP port. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CORE_STATSWEB_H
#define COCOON_CORE_STATSWEB_H

#include "base/buf.h"
#include "core/stats.h"

struct http_request;
struct node;

/* Role-specific parts: each appends to out (JSON: more fields after a leading comma; HTML:
 * whole sections). May be NULL. */
struct statsweb {
  struct stats *stats; /* borrowed */
  int (*json_cb)(void *arg, struct buf *out);
  int (*html_cb)(void *arg, struct buf *out);
  void *arg;
  const struct node *node; /* borrowed; when set, its identity, policies and registry are shown */
};

/* Answers req if its path is /stats, /jsonstats or /metrics and returns 1 (req finished);
 * returns 0 and leaves req alone otherwise. */
int statsweb_handle(const struct statsweb *w, struct http_request *req);

#endif
