/* statsweb: serves /stats (HTML), /jsonstats and /metrics of a daemon on its HTTP port. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "core/statsweb.h"

#include <string.h>

#include "core/node.h"
#include "http/http_server.h"

static void finish(struct http_request *req, int rc, struct buf *b, const char *ctype) {
  if (rc)
    http_respond(req, 500, "text/plain", "stats rendering failed\n", 23);
  else
    http_respond(req, 200, ctype, buf_ptr(b), b->len);
  buf_free(b);
}

int statsweb_handle(const struct statsweb *w, struct http_request *req) {
  const char *path = http_request_path(req);
  struct buf b;
  buf_init(&b, 16u << 20);
  int rc;
  if (!strcmp(path, "/metrics")) {
    rc = stats_render_prometheus(w->stats, &b);
    finish(req, rc, &b, "text/plain; version=0.0.4");
    return 1;
  }
  if (!strcmp(path, "/jsonstats")) {
    rc = buf_appendf(&b, "{\"role\":\"%s\",\"stats\":{", w->stats->role);
    if (!rc) rc = stats_render_json_fields(w->stats, &b);
    if (!rc) rc = buf_append_str(&b, "}");
    if (!rc && w->node) rc = node_stats_json(w->node, &b);
    if (!rc && w->json_cb) rc = w->json_cb(w->arg, &b);
    if (!rc) rc = buf_append_str(&b, "}\n");
    finish(req, rc, &b, "application/json");
    return 1;
  }
  if (!strcmp(path, "/stats")) {
    rc = buf_appendf(&b,
                     "<!doctype html><html><head><meta charset=\"utf-8\"><title>cocoon %s</title>"
                     "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}"
                     "</style></head><body><h1>cocoon %s</h1><h2>Counters</h2><table>\n",
                     w->stats->role, w->stats->role);
    if (!rc) rc = stats_render_html_rows(w->stats, &b);
    if (!rc) rc = buf_append_str(&b, "</table>\n");
    if (!rc && w->node) rc = node_stats_html(w->node, &b);
    if (!rc && w->html_cb) rc = w->html_cb(w->arg, &b);
    if (!rc) rc = buf_append_str(&b, "</body></html>\n");
    finish(req, rc, &b, "text/html; charset=utf-8");
    return 1;
  }
  buf_free(&b);
  return 0;
}
