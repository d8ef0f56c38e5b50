/* testbackend: scriptable OpenAI-compatible server (vLLM-like SSE) for tests and benchmarks. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Routes: GET /health, GET /v1/models, POST /v1/chat/completions, POST /v1/completions.
 *
 * Per-request overrides, as a header or a query parameter (header wins):
 *   X-Test-Chunks / chunks                 number of content chunks (before max_tokens cap)
 *   X-Test-Chunk-Bytes / chunk_bytes       characters per chunk
 *   X-Test-Delay-Ms / delay_ms             delay between chunks
 *   X-Test-Initial-Delay-Ms / initial_delay_ms   delay before the response starts
 *   X-Test-Fail / fail                     answer with that status (1 or non-number: 500)
 *   X-Test-Hang / hang                     never answer (until the client goes away)
 *   X-Test-Abort-After / abort_after       stream: drop the connection after K chunks
 *   X-Test-Reasoning / reasoning           reasoning_tokens to report
 *   X-Test-Cached / cached                 cached_tokens to report
 *
 * Deterministic output, so tests can predict it:
 *   chunks            = min(chunks, max_tokens | max_completion_tokens) when given
 *                       (finish_reason "length" when capped, else "stop")
 *   chunk i content   = chunk_bytes copies of the letter 'a' + i % 26, or with --text the
 *                       bytes [i*chunk_bytes, (i+1)*chunk_bytes) of a fixed English passage
 *                       (cycled), so a demo shows readable words
 *   prompt_tokens     = P / 4 + 1 where P = bytes of all message "content" strings (chat;
 *                       text parts of array contents count too) or of the prompt (string or
 *                       array of strings)
 *   completion_tokens = chunks
 *   total_tokens      = prompt_tokens + completion_tokens
 *   cached_tokens     = min(X-Test-Cached, prompt_tokens)      (default 0)
 *   reasoning_tokens  = min(X-Test-Reasoning, completion_tokens) (default 0)
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "http/http_server.h"
#include "http/http_sse.h"
#include "loop/loop.h"

#define TB_MAX_CHUNKS 1000000
#define TB_MAX_CHUNK_BYTES 65536
#define TB_MAX_DELAY_MS 3600000
#define TB_HIGH_WATER ((size_t)256 << 10) /* pause a stream above this many unsent bytes */
#define TB_MAX_EVENT (TB_MAX_CHUNK_BYTES + 1024)

static struct {
  struct loop *loop;
  int chunks;
  int chunk_bytes;
  int delay_ms;
  char model[256];
  char *model_json; /* JSON-escaped model name with quotes */
  uint64_t seq;
  struct buf out;   /* scratch for whole responses, reused */
  char *event;      /* scratch for one SSE event */
} G;

enum tb_kind { TB_CHAT, TB_COMPLETION };

/* Fixed passage for --text (plain ASCII, no characters that need JSON escaping). */
static const char tb_passage[] =
    "The sea is calm tonight, the tide is full, and the moon lies fair upon the straits. "
    "This answer was produced by the cocoon test backend, relayed by a worker over RA-TLS to a "
    "proxy, and streamed back to you through your local client, one small chunk at a time. ";
static int g_text;

/* Fills n bytes of chunk i. */
static void chunk_fill(char *dst, int i, size_t n) {
  if (!g_text) {
    memset(dst, 'a' + i % 26, n);
    return;
  }
  size_t plen = sizeof(tb_passage) - 1;
  size_t pos = ((size_t)i * n) % plen;
  for (size_t k = 0; k < n; k++) dst[k] = tb_passage[(pos + k) % plen];
}

struct tb_req {
  struct http_request *req;
  struct loop_timer timer;
  enum tb_kind kind;
  int stream;
  int include_usage;
  int total;
  int idx;
  int chunk_bytes;
  int delay_ms;
  int abort_after; /* -1: never */
  int started;     /* response begun (after the initial delay) */
  int hang;
  int paused; /* waiting for on_drain */
  const char *finish;
  long prompt_tokens, cached_tokens, reasoning_tokens;
  long created;
  char id[48];
};

static void send_error(struct http_request *req, int status, const char *type, const char *code,
                       const char *msg) {
  char body[512];
  int n = snprintf(body, sizeof(body),
                   "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"param\":null,\"code\":%s%s%s}}",
                   msg, type, code ? "\"" : "", code ? code : "null", code ? "\"" : "");
  (void)http_respond(req, status, "application/json", body, (size_t)n);
}

/* Integer override from header `hdr` or query parameter `q`; `def` when absent or bad. */
static long get_param(struct http_request *req, const char *hdr, const char *q, long def, long min,
                      long max) {
  const char *v = http_request_header(req, hdr);
  char tmp[32];
  if (!v) {
    if (http_request_query_param(req, q, tmp, sizeof(tmp)) < 0) return def;
    v = tmp;
  }
  int64_t x;
  if (util_parse_i64(v, min, max, &x)) return def;
  return (long)x;
}

static int has_param(struct http_request *req, const char *hdr, const char *q) {
  char tmp[32];
  return http_request_header(req, hdr) != NULL ||
         http_request_query_param(req, q, tmp, sizeof(tmp)) >= 0;
}

static int append_usage(struct buf *b, const struct tb_req *t) {
  long completion = t->total;
  long reasoning = CC_MIN(t->reasoning_tokens, completion);
  long cached = CC_MIN(t->cached_tokens, t->prompt_tokens);
  return buf_appendf(b,
                     "\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld,\"completion_tokens\":%ld,"
                     "\"prompt_tokens_details\":{\"cached_tokens\":%ld},"
                     "\"completion_tokens_details\":{\"reasoning_tokens\":%ld}}",
                     t->prompt_tokens, t->prompt_tokens + completion, completion, cached,
                     reasoning);
}

static void tb_free(struct tb_req *t) {
  loop_timer_stop(G.loop, &t->timer);
  free(t);
}

static void on_abort(struct http_request *req, void *arg) {
  http_request_release(req);
  tb_free(arg);
}

static void respond_whole(struct tb_req *t) {
  struct buf *b = &G.out;
  buf_reset(b);
  const char *obj = t->kind == TB_CHAT ? "chat.completion" : "text_completion";
  int rc = buf_appendf(b, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%ld,\"model\":%s,"
                          "\"choices\":[{\"index\":0,",
                       t->id, obj, t->created, G.model_json);
  if (!rc) rc = buf_append_str(b, t->kind == TB_CHAT ? "\"message\":{\"role\":\"assistant\",\"content\":\""
                                                      : "\"text\":\"");
  for (int i = 0; i < t->total && !rc; i++) {
    size_t n = (size_t)t->chunk_bytes;
    rc = buf_reserve(b, n);
    if (!rc) {
      chunk_fill((char *)buf_tail(b), i, n);
      buf_added(b, n);
    }
  }
  if (!rc) rc = buf_appendf(b, "\"%s,\"logprobs\":null,\"finish_reason\":\"%s\"}],",
                            t->kind == TB_CHAT ? "}" : "", t->finish);
  if (!rc) rc = append_usage(b, t);
  if (!rc) rc = buf_append(b, "}", 1);
  if (rc) {
    send_error(t->req, 500, "server_error", NULL, "response too large");
  } else {
    (void)http_respond(t->req, 200, "application/json", buf_ptr(b), b->len);
  }
  tb_free(t);
}

/* Writes chunk t->idx as one SSE event. */
static int write_chunk(struct tb_req *t) {
  int i = t->idx;
  int last = i == t->total - 1 || t->total == 0;
  size_t n = t->total == 0 ? 0 : (size_t)t->chunk_bytes;
  char *e = G.event;
  size_t cap = TB_MAX_EVENT;
  int off;
  if (t->kind == TB_CHAT) {
    off = snprintf(e, cap,
                   "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%ld,"
                   "\"model\":%s,\"choices\":[{\"index\":0,\"delta\":{%s\"content\":\"",
                   t->id, t->created, G.model_json, i == 0 ? "\"role\":\"assistant\"," : "");
  } else {
    off = snprintf(e, cap,
                   "data: {\"id\":\"%s\",\"object\":\"text_completion\",\"created\":%ld,"
                   "\"model\":%s,\"choices\":[{\"index\":0,\"text\":\"",
                   t->id, t->created, G.model_json);
  }
  if (off < 0 || (size_t)off + n + 256 > cap) return ERR_LIMIT;
  chunk_fill(e + off, i, n);
  off += (int)n;
  char fin[32];
  if (last) snprintf(fin, sizeof(fin), "\"%s\"", t->finish);
  else snprintf(fin, sizeof(fin), "null");
  off += snprintf(e + off, cap - (size_t)off, "\"%s,\"logprobs\":null,\"finish_reason\":%s}]}\n\n",
                  t->kind == TB_CHAT ? "}" : "", fin);
  return http_stream_write(t->req, e, (size_t)off);
}

static void finish_stream(struct tb_req *t) {
  int rc = 0;
  if (t->include_usage) {
    struct buf *b = &G.out;
    buf_reset(b);
    rc = buf_appendf(b, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%ld,\"model\":%s,\"choices\":[],",
                     t->id, t->kind == TB_CHAT ? "chat.completion.chunk" : "text_completion",
                     t->created, G.model_json);
    if (!rc) rc = append_usage(b, t);
    if (!rc) rc = buf_append(b, "}", 1);
    if (!rc) rc = http_sse_send(t->req, (const char *)buf_ptr(b), b->len);
  }
  if (!rc) rc = http_sse_send_done(t->req);
  if (rc) http_request_release(t->req);
  else (void)http_stream_end(t->req);
  tb_free(t);
}

static void pump(struct tb_req *t);

static void on_drain(struct http_request *req, void *arg) {
  struct tb_req *t = arg;
  (void)req;
  if (!t->paused) return; /* a delay timer drives this stream */
  t->paused = 0;
  pump(t);
}

static void on_timer(struct loop_timer *timer) {
  struct tb_req *t = timer->data;
  if (!t->started) {
    t->started = 1;
    if (!t->stream) {
      if (t->delay_ms && t->total > 1) {
        loop_timer_start(G.loop, &t->timer, (uint64_t)t->delay_ms * (uint64_t)(t->total - 1));
        return;
      }
      respond_whole(t);
      return;
    }
    if (http_sse_begin(t->req)) {
      http_request_release(t->req);
      tb_free(t);
      return;
    }
  } else if (!t->stream) {
    respond_whole(t);
    return;
  }
  pump(t);
}

/* Writes chunks until done, a delay, or backpressure. */
static void pump(struct tb_req *t) {
  int count = t->total ? t->total : 1; /* zero chunks still send one final event */
  while (t->idx < count) {
    if (t->abort_after >= 0 && t->idx >= t->abort_after) {
      http_request_release(t->req);
      tb_free(t);
      return;
    }
    if (http_stream_pending(t->req) > TB_HIGH_WATER) {
      t->paused = 1; /* on_drain resumes */
      return;
    }
    if (write_chunk(t)) {
      http_request_release(t->req);
      tb_free(t);
      return;
    }
    t->idx++;
    if (t->delay_ms && t->idx < count) {
      loop_timer_start(G.loop, &t->timer, (uint64_t)t->delay_ms);
      return;
    }
  }
  finish_stream(t);
}

static long content_bytes(json_t *v) {
  if (json_is_string(v)) return (long)json_string_length(v);
  long n = 0;
  if (json_is_array(v)) {
    size_t i;
    json_t *part;
    json_array_foreach(v, i, part) {
      if (json_is_string(part)) n += (long)json_string_length(part);
      else if (json_is_object(part)) n += content_bytes(json_object_get(part, "text"));
    }
  }
  return n;
}

static void handle_completion(struct http_request *req, enum tb_kind kind) {
  json_error_t jerr;
  size_t blen;
  const uint8_t *body = http_request_body(req, &blen);
  json_t *root = json_loadb((const char *)body, blen, JSON_REJECT_DUPLICATES, &jerr);
  if (!root || !json_is_object(root)) {
    json_decref(root);
    send_error(req, 400, "invalid_request_error", NULL, "request body is not a JSON object");
    return;
  }
  const char *model = json_string_value(json_object_get(root, "model"));
  if (!model) {
    json_decref(root);
    send_error(req, 400, "invalid_request_error", NULL, "missing model");
    return;
  }
  long pbytes = 0;
  if (kind == TB_CHAT) {
    json_t *msgs = json_object_get(root, "messages");
    if (!json_is_array(msgs)) {
      json_decref(root);
      send_error(req, 400, "invalid_request_error", NULL, "missing messages");
      return;
    }
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) pbytes += content_bytes(json_object_get(m, "content"));
  } else {
    json_t *prompt = json_object_get(root, "prompt");
    if (!json_is_string(prompt) && !json_is_array(prompt)) {
      json_decref(root);
      send_error(req, 400, "invalid_request_error", NULL, "missing prompt");
      return;
    }
    pbytes = content_bytes(prompt);
  }
  if (strcmp(model, G.model) != 0) {
    json_decref(root);
    send_error(req, 404, "invalid_request_error", "model_not_found", "The model does not exist.");
    return;
  }
  struct tb_req *t = calloc(1, sizeof(*t));
  if (!t) {
    json_decref(root);
    send_error(req, 500, "server_error", NULL, "out of memory");
    return;
  }
  t->req = req;
  t->kind = kind;
  t->stream = json_is_true(json_object_get(root, "stream"));
  t->include_usage =
      json_is_true(json_object_get(json_object_get(root, "stream_options"), "include_usage"));
  t->total = (int)get_param(req, "X-Test-Chunks", "chunks", G.chunks, 0, TB_MAX_CHUNKS);
  t->chunk_bytes =
      (int)get_param(req, "X-Test-Chunk-Bytes", "chunk_bytes", G.chunk_bytes, 0, TB_MAX_CHUNK_BYTES);
  t->delay_ms = (int)get_param(req, "X-Test-Delay-Ms", "delay_ms", G.delay_ms, 0, TB_MAX_DELAY_MS);
  long initial = get_param(req, "X-Test-Initial-Delay-Ms", "initial_delay_ms", 0, 0, TB_MAX_DELAY_MS);
  t->abort_after = (int)get_param(req, "X-Test-Abort-After", "abort_after", -1, 0, TB_MAX_CHUNKS);
  t->reasoning_tokens = get_param(req, "X-Test-Reasoning", "reasoning", 0, 0, TB_MAX_CHUNKS);
  t->cached_tokens = get_param(req, "X-Test-Cached", "cached", 0, 0, INT32_MAX);
  t->prompt_tokens = pbytes / 4 + 1;
  t->finish = "stop";
  json_t *mt = json_object_get(root, "max_tokens");
  if (!json_is_integer(mt) && kind == TB_CHAT) mt = json_object_get(root, "max_completion_tokens");
  if (json_is_integer(mt) && json_integer_value(mt) >= 0 && json_integer_value(mt) < t->total) {
    t->total = (int)json_integer_value(mt);
    t->finish = "length";
  }
  json_decref(root);
  t->created = (long)time(NULL);
  snprintf(t->id, sizeof(t->id), "%s-test-%llu", kind == TB_CHAT ? "chatcmpl" : "cmpl",
           (unsigned long long)++G.seq);
  loop_timer_init(&t->timer, on_timer, t);
  http_request_set_abort_cb(req, on_abort, t);
  http_request_set_drain_cb(req, on_drain, t);
  if (has_param(req, "X-Test-Hang", "hang")) return; /* until the client leaves */
  if (initial > 0) {
    loop_timer_start(G.loop, &t->timer, (uint64_t)initial);
    return;
  }
  if (!t->stream && t->delay_ms == 0) {
    respond_whole(t); /* the benchmark's hot path: no timer */
    return;
  }
  on_timer(&t->timer);
}

static void handler(struct http_request *req, void *arg) {
  (void)arg;
  const char *path = http_request_path(req);
  const char *method = http_request_method(req);
  if (has_param(req, "X-Test-Fail", "fail")) {
    long st = get_param(req, "X-Test-Fail", "fail", 500, 1, 599);
    if (st < 400) st = 500;
    send_error(req, (int)st, "server_error", NULL, "test failure");
    return;
  }
  if (strcmp(path, "/health") == 0) {
    (void)http_respond(req, 200, "text/plain", "ok\n", 3);
    return;
  }
  if (strcmp(path, "/v1/models") == 0) {
    if (strcmp(method, "GET") != 0) {
      send_error(req, 405, "invalid_request_error", NULL, "method not allowed");
      return;
    }
    char body[512];
    int n = snprintf(body, sizeof(body),
                     "{\"object\":\"list\",\"data\":[{\"id\":%s,\"object\":\"model\",\"created\":0,"
                     "\"owned_by\":\"cocoon-test\"}]}",
                     G.model_json);
    (void)http_respond(req, 200, "application/json", body, (size_t)n);
    return;
  }
  enum tb_kind kind;
  if (strcmp(path, "/v1/chat/completions") == 0) kind = TB_CHAT;
  else if (strcmp(path, "/v1/completions") == 0) kind = TB_COMPLETION;
  else {
    send_error(req, 404, "invalid_request_error", NULL, "unknown route");
    return;
  }
  if (strcmp(method, "POST") != 0) {
    send_error(req, 405, "invalid_request_error", NULL, "method not allowed");
    return;
  }
  handle_completion(req, kind);
}

static void usage(void) {
  fprintf(stderr,
          "usage: cocoon-testbackend [--listen HOST:PORT] [--chunks N] [--chunk-bytes B]\n"
          "                          [--delay-ms D] [--model NAME] [--text] [--log-level debug|info|warn]\n");
}

static int parse_int(const char *s, long min, long max, int *out) {
  int64_t v;
  if (!s || util_parse_i64(s, min, max, &v)) return -1;
  *out = (int)v;
  return 0;
}

int main(int argc, char **argv) {
  const char *listen = "127.0.0.1:0";
  G.chunks = 50;
  G.chunk_bytes = 128;
  G.delay_ms = 0;
  snprintf(G.model, sizeof(G.model), "test-model");
  log_set_component("testbackend");
  log_set_level(LOG_WARN);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int bad = 0;
    if (strcmp(a, "--listen") == 0 && v) listen = v;
    else if (strcmp(a, "--text") == 0) {
      g_text = 1;
      continue;
    } else if (strcmp(a, "--chunks") == 0) bad = parse_int(v, 0, TB_MAX_CHUNKS, &G.chunks);
    else if (strcmp(a, "--chunk-bytes") == 0) bad = parse_int(v, 0, TB_MAX_CHUNK_BYTES, &G.chunk_bytes);
    else if (strcmp(a, "--delay-ms") == 0) bad = parse_int(v, 0, TB_MAX_DELAY_MS, &G.delay_ms);
    else if (strcmp(a, "--model") == 0 && v && strlen(v) < sizeof(G.model))
      snprintf(G.model, sizeof(G.model), "%s", v);
    else if (strcmp(a, "--log-level") == 0 && v)
      log_set_level(strcmp(v, "debug") == 0 ? LOG_DEBUG : strcmp(v, "info") == 0 ? LOG_INFO : LOG_WARN);
    else {
      usage();
      return 2;
    }
    if (bad) {
      usage();
      return 2;
    }
    i++;
  }
  char host[256];
  int port;
  if (util_split_hostport(listen, host, sizeof(host), &port)) {
    fprintf(stderr, "testbackend: bad --listen %s\n", listen);
    return 2;
  }
  json_t *ms = json_string(G.model);
  G.model_json = ms ? json_dumps(ms, JSON_ENCODE_ANY) : NULL;
  json_decref(ms);
  G.event = malloc(TB_MAX_EVENT);
  if (!G.model_json || !G.event) return 1;
  buf_init(&G.out, 0);
  int rc = 1;
  struct http_server *srv = NULL;
  if (loop_new(&G.loop)) return 1;
  if (loop_handle_signals(G.loop, NULL, NULL)) goto out;
  struct http_server_config cfg = {0};
  cfg.host = host;
  cfg.port = port;
  cfg.handler = handler;
  struct err e = {0};
  if (http_server_new(G.loop, &cfg, &srv, &e)) {
    fprintf(stderr, "testbackend: %s\n", e.msg);
    goto out;
  }
  const char *shown = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ? "127.0.0.1" : host;
  if (strchr(shown, ':')) printf("http://[%s]:%d\n", shown, http_server_port(srv));
  else printf("http://%s:%d\n", shown, http_server_port(srv));
  fflush(stdout);
  rc = loop_run(G.loop) ? 1 : 0;
out:
  http_server_free(srv);
  loop_run_once(G.loop, 0); /* deferred frees */
  loop_free(G.loop);
  buf_free(&G.out);
  free(G.event);
  free(G.model_json);
  return rc;
}
