/* stats: per-daemon counters and a latency histogram, rendered as Prometheus text and JSON. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CORE_STATS_H
#define COCOON_CORE_STATS_H

#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Upper bounds (seconds) of the latency histogram buckets; +Inf is implicit. */
#define STATS_NBUCKETS 14

/* Counters owned by one daemon's loop thread (no locking). Never holds payloads. */
struct stats {
  const char *role; /* "client", "proxy" or "worker"; borrowed */
  uint64_t started_ms;
  uint64_t requests;      /* requests received */
  uint64_t success;       /* finished with a complete answer */
  uint64_t failed;        /* finished with an error */
  uint64_t rejected;      /* refused before running (validation, capacity, no worker) */
  uint64_t bytes_in;      /* request bytes received */
  uint64_t bytes_out;     /* answer bytes sent */
  int64_t active;         /* requests running now */
  uint64_t conns_opened;  /* peer connections that reached READY */
  uint64_t conns_closed;
  int64_t conns_active;
  uint64_t tokens_prompt, tokens_cached, tokens_completion, tokens_reasoning;
  uint64_t lat_buckets[STATS_NBUCKETS + 1];
  double lat_sum;
  uint64_t lat_count;
};

void stats_init(struct stats *s, const char *role);
void stats_observe_latency(struct stats *s, double seconds);
/* Appends the Prometheus text exposition (metric names prefixed cocoon_). */
CC_NODISCARD int stats_render_prometheus(const struct stats *s, struct buf *out);
/* Appends a JSON object body (without braces) of the counters: "requests":N,... */
CC_NODISCARD int stats_render_json_fields(const struct stats *s, struct buf *out);
/* Appends an HTML table of the counters. */
CC_NODISCARD int stats_render_html_rows(const struct stats *s, struct buf *out);

#endif
