/* stats: per-daemon counters and a latency histogram, rendered as Prometheus text and JSON. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "core/stats.h"

#include <inttypes.h>
#include <string.h>

#include "base/util.h"

static const double bucket_le[STATS_NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                 0.25,  0.5,    1,     2.5,  5,     10,  30};

void stats_init(struct stats *s, const char *role) {
  memset(s, 0, sizeof(*s));
  s->role = role;
  s->started_ms = util_mono_ms();
}

void stats_observe_latency(struct stats *s, double seconds) {
  size_t i = 0;
  while (i < STATS_NBUCKETS && seconds > bucket_le[i]) i++;
  s->lat_buckets[i]++;
  s->lat_sum += seconds;
  s->lat_count++;
}

struct counter_row {
  const char *name;
  const char *help;
  const char *type;
  int64_t value;
};

static size_t rows_of(const struct stats *s, struct counter_row *r) {
  size_t n = 0;
#define ROW(nm, hp, ty, v) r[n++] = (struct counter_row){nm, hp, ty, (int64_t)(v)}
  ROW("requests_total", "Requests received", "counter", s->requests);
  ROW("requests_success_total", "Requests answered completely", "counter", s->success);
  ROW("requests_failed_total", "Requests that ended with an error", "counter", s->failed);
  ROW("requests_rejected_total", "Requests refused before running", "counter", s->rejected);
  ROW("requests_active", "Requests running now", "gauge", s->active);
  ROW("request_bytes_total", "Request bytes received", "counter", s->bytes_in);
  ROW("answer_bytes_total", "Answer bytes sent", "counter", s->bytes_out);
  ROW("connections_opened_total", "Peer connections that became ready", "counter", s->conns_opened);
  ROW("connections_closed_total", "Peer connections closed", "counter", s->conns_closed);
  ROW("connections_active", "Peer connections open now", "gauge", s->conns_active);
  ROW("tokens_prompt_total", "Prompt tokens reported by workers", "counter", s->tokens_prompt);
  ROW("tokens_cached_total", "Cached prompt tokens reported", "counter", s->tokens_cached);
  ROW("tokens_completion_total", "Completion tokens reported", "counter", s->tokens_completion);
  ROW("tokens_reasoning_total", "Reasoning tokens reported", "counter", s->tokens_reasoning);
#undef ROW
  return n;
}

int stats_render_prometheus(const struct stats *s, struct buf *out) {
  struct counter_row r[32];
  size_t n = rows_of(s, r);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++)
    rc = buf_appendf(out, "# HELP cocoon_%s %s\n# TYPE cocoon_%s %s\ncocoon_%s{role=\"%s\"} %" PRId64 "\n",
                     r[i].name, r[i].help, r[i].name, r[i].type, r[i].name, s->role, r[i].value);
  if (!rc)
    rc = buf_appendf(out,
                     "# HELP cocoon_request_duration_seconds Time from request to last answer byte\n"
                     "# TYPE cocoon_request_duration_seconds histogram\n");
  uint64_t cum = 0;
  for (size_t i = 0; i < STATS_NBUCKETS && !rc; i++) {
    cum += s->lat_buckets[i];
    rc = buf_appendf(out, "cocoon_request_duration_seconds_bucket{role=\"%s\",le=\"%g\"} %" PRIu64 "\n",
                     s->role, bucket_le[i], cum);
  }
  cum += s->lat_buckets[STATS_NBUCKETS];
  if (!rc)
    rc = buf_appendf(out,
                     "cocoon_request_duration_seconds_bucket{role=\"%s\",le=\"+Inf\"} %" PRIu64 "\n"
                     "cocoon_request_duration_seconds_sum{role=\"%s\"} %.6f\n"
                     "cocoon_request_duration_seconds_count{role=\"%s\"} %" PRIu64 "\n"
                     "# HELP cocoon_uptime_seconds Seconds since start\n"
                     "# TYPE cocoon_uptime_seconds gauge\n"
                     "cocoon_uptime_seconds{role=\"%s\"} %.3f\n",
                     s->role, cum, s->role, s->lat_sum, s->role, s->lat_count, s->role,
                     (double)(util_mono_ms() - s->started_ms) / 1000.0);
  return rc;
}

int stats_render_json_fields(const struct stats *s, struct buf *out) {
  struct counter_row r[32];
  size_t n = rows_of(s, r);
  int rc = buf_appendf(out, "\"uptime_s\":%.3f", (double)(util_mono_ms() - s->started_ms) / 1000.0);
  for (size_t i = 0; i < n && !rc; i++) rc = buf_appendf(out, ",\"%s\":%" PRId64, r[i].name, r[i].value);
  if (!rc)
    rc = buf_appendf(out, ",\"latency_avg_s\":%.6f",
                     s->lat_count ? s->lat_sum / (double)s->lat_count : 0.0);
  return rc;
}

int stats_render_html_rows(const struct stats *s, struct buf *out) {
  struct counter_row r[32];
  size_t n = rows_of(s, r);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++)
    rc = buf_appendf(out, "<tr><td>%s</td><td>%s</td><td>%" PRId64 "</td></tr>\n", r[i].name,
                     r[i].help, r[i].value);
  return rc;
}
