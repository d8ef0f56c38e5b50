/* backend_builtin: the worker's in-process backend: OpenAI chat/completions on the engine. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "worker/backend_builtin.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "engine/chat.h"
#include "engine/model.h"
#include "engine/sched.h"
#include "engine/textout.h"
#include "engine/threadpool.h"
#include "engine/tokenizer.h"
#include "loop/loop.h"

#define BUILTIN_DEFAULT_CTX 8192u
#define BUILTIN_DEFAULT_BATCH 512u
#define BUILTIN_MAX_PROMPT_BYTES ((size_t)4 << 20)
#define BUILTIN_POLL 256u

struct choice {
  uint64_t seq; /* scheduler id; 0 once finished */
  struct textout *out;
  uint32_t n_gen;
  const char *finish; /* "stop", "length"; NULL while running */
  struct buf text;    /* the whole text (not streamed answers) */
};

struct builtin_req {
  struct builtin *b;
  struct builtin_req *next, *prev;
  struct builtin_cbs cbs;
  void *arg;
  enum openai_endpoint ep;
  int stream, include_usage;
  char id[48];
  char *model; /* the request's "model", echoed */
  int64_t created;
  uint32_t n_prompt;
  uint32_t n, n_running;
  struct choice ch[BUILTIN_MAX_N];
  /* a refused request, answered from the deferred start */
  int status;
  char errmsg[300];
  struct loop_timer deadline;
  int started; /* on_start was called */
  int cancelled;
  /* prepared by req_begin, submitted by the deferred start */
  int32_t *ids;
  uint32_t max_tokens;
  uint64_t seed;
  struct sample_params sp;
  uint32_t timeout_ms;
};

struct builtin {
  struct loop *loop;
  struct gguf *g;
  struct model *m;
  struct tok *tok;
  struct threadpool *pool;
  struct sched *s;
  int efd;
  struct loop_io io;
  uint32_t n_ctx;
  int has_chat;
  struct chat_template chat;
  char name[256];
  char desc[256];
  struct builtin_req *reqs;
  uint64_t next_req;
};

/* ---------------------------------------------------------------- lifecycle */

static void notify_cb(void *arg) {
  struct builtin *b = arg;
  uint64_t one = 1;
  /* A full counter still wakes the loop; nothing to do on failure. */
  ssize_t n = write(b->efd, &one, sizeof(one));
  (void)n;
}

static void dispatch(struct builtin *b);

static void io_cb(struct loop_io *io, uint32_t events) {
  struct builtin *b = io->data;
  uint64_t v;
  ssize_t n = read(b->efd, &v, sizeof(v));
  (void)n;
  (void)events;
  dispatch(b);
}

int builtin_new(struct loop *loop, const struct builtin_opts *o, struct builtin **out, struct err *e) {
  *out = NULL;
  struct builtin *b = calloc(1, sizeof(*b));
  if (!b) return err_set(e, ERR_NOMEM, "out of memory");
  b->loop = loop;
  b->efd = -1;
  int rc = gguf_open(o->model_path, &b->g, e);
  if (rc) goto fail;
  if ((rc = model_from_gguf(b->g, &b->m, e))) goto fail;
  if ((rc = tok_load(b->g, &b->tok, e))) goto fail;
  if (tok_vocab_size(b->tok) != b->m->hp.n_vocab) {
    rc = err_set(e, ERR_INVALID, "model: the tokenizer has %u tokens and the embeddings %u rows",
                 tok_vocab_size(b->tok), b->m->hp.n_vocab);
    goto fail;
  }
  struct err ce = {0};
  b->has_chat = chat_template_detect(b->g, &b->chat, &ce) == 0;
  uint32_t n_ctx = o->n_ctx ? o->n_ctx : b->m->hp.n_ctx_train;
  if (!o->n_ctx && n_ctx > BUILTIN_DEFAULT_CTX) n_ctx = BUILTIN_DEFAULT_CTX;
  b->n_ctx = n_ctx;
  if ((rc = threadpool_new(o->threads ? o->threads : 1, &b->pool, e))) goto fail;
  struct sched_opts so = {
      .max_seqs = o->max_seqs ? o->max_seqs : 8,
      .n_ctx = n_ctx,
      .max_batch = o->max_batch ? o->max_batch : BUILTIN_DEFAULT_BATCH,
      .pool = b->pool,
  };
  b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (b->efd < 0) {
    rc = err_set(e, ERR_IO, "eventfd: %s", strerror(errno));
    goto fail;
  }
  if ((rc = loop_io_add(loop, &b->io, b->efd, LOOP_READ, io_cb, b))) {
    err_set(e, rc, "cannot watch the engine's eventfd");
    goto fail;
  }
  if ((rc = sched_new(b->m, &so, notify_cb, b, &b->s, e))) goto fail;
  struct gguf_str gn;
  if (gguf_get_str(b->g, "general.name", &gn, NULL) == 0 && gn.len > 0 && gn.len < sizeof(b->name)) {
    memcpy(b->name, gn.p, gn.len);
    b->name[gn.len] = 0;
  } else {
    const char *base = strrchr(o->model_path, '/');
    base = base ? base + 1 : o->model_path;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".gguf") == 0) len -= 5;
    if (len >= sizeof(b->name)) len = sizeof(b->name) - 1;
    memcpy(b->name, base, len);
    b->name[len] = 0;
  }
  /* The name goes on the wire and into logs: printable ASCII, no '@' (COCOON's separator). */
  for (char *p = b->name; *p; p++)
    if (*p <= 0x20 || *p >= 0x7f || *p == '@') *p = '_';
  if (!b->name[0]) snprintf(b->name, sizeof(b->name), "model");
  snprintf(b->desc, sizeof(b->desc), "%s %u layers x %u, vocab %u, context %u, %u seqs, %u threads, chat %s",
           b->m->hp.arch_name, b->m->hp.n_layer, b->m->hp.n_embd, b->m->hp.n_vocab, n_ctx, so.max_seqs,
           threadpool_size(b->pool), b->has_chat ? chat_format_name(b->chat.format) : "none");
  *out = b;
  return 0;
fail:
  builtin_free(b);
  return rc;
}

static void req_destroy(struct builtin_req *r);

void builtin_free(struct builtin *b) {
  if (!b) return;
  sched_free(b->s); /* joins the engine thread: no notify after this */
  b->s = NULL;
  while (b->reqs) {
    struct builtin_req *r = b->reqs;
    if (r->started) {
      req_destroy(r);
      continue;
    }
    /* Its deferred start is still queued on the loop (which runs it even when freed): detach
     * it so that call only frees it. */
    b->reqs = r->next;
    if (b->reqs) b->reqs->prev = NULL;
    r->b = NULL;
    r->cancelled = 1;
  }
  if (b->efd >= 0) {
    if (b->io.active) loop_io_del(b->loop, &b->io);
    close(b->efd);
  }
  threadpool_free(b->pool);
  tok_free(b->tok);
  model_free(b->m);
  gguf_free(b->g);
  free(b);
}

const char *builtin_model_name(const struct builtin *b) { return b->name; }

int builtin_stats_json(struct builtin *b, struct buf *out) {
  struct sched_stats st;
  sched_get_stats(b->s, &st);
  int rc = buf_append_str(out, ",\"engine\":{\"describe\":\"");
  if (!rc) rc = buf_append_json_str(out, b->desc, strlen(b->desc));
  if (!rc)
    rc = buf_appendf(out,
                     "\",\"steps\":%" PRIu64 ",\"tokens_prompt\":%" PRIu64 ",\"tokens_generated\":%" PRIu64
                     ",\"sequences_done\":%" PRIu64 ",\"running\":%u,\"waiting\":%u,\"max_batch_seqs\":%u}",
                     st.steps, st.tokens_prompt, st.tokens_generated, st.seqs_done, st.running, st.waiting,
                     st.max_batch_seen);
  return rc;
}
const char *builtin_describe(const struct builtin *b) { return b->desc; }

/* ---------------------------------------------------------------- requests */

static void req_destroy(struct builtin_req *r) {
  struct builtin *b = r->b; /* NULL once the backend is gone */
  for (uint32_t i = 0; i < r->n; i++) {
    if (r->ch[i].seq && b && b->s) sched_cancel(b->s, r->ch[i].seq);
    textout_free(r->ch[i].out);
    buf_free(&r->ch[i].text);
  }
  if (b) {
    loop_timer_stop(b->loop, &r->deadline);
    if (r->prev) r->prev->next = r->next;
    else if (b->reqs == r) b->reqs = r->next;
    if (r->next) r->next->prev = r->prev;
  }
  free(r->model);
  free(r->ids);
  free(r);
}

void builtin_cancel(struct builtin_req *r) {
  if (!r) return;
  /* The deferred start still holds the pointer: it frees a cancelled request. */
  if (!r->started) {
    r->cancelled = 1;
    return;
  }
  req_destroy(r);
}

/* Sends bytes; returns nonzero when the caller gave the request up (it is freed then). */
static int send(struct builtin_req *r, const void *p, size_t n) {
  if (n == 0) return 0;
  if (r->cbs.on_data(r->arg, p, n)) {
    req_destroy(r);
    return 1;
  }
  return 0;
}

static int send_json(struct builtin_req *r, json_t *j, int sse) {
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (!s) {
    r->cbs.on_done(r->arg, ERR_NOMEM, "worker: out of memory", 0, 0);
    req_destroy(r);
    return 1;
  }
  struct buf out;
  buf_init(&out, 0);
  int rc = 0;
  if (sse) rc = buf_append_str(&out, "data: ");
  if (!rc) rc = buf_append_str(&out, s);
  if (!rc) rc = buf_append_str(&out, sse ? "\n\n" : "\n");
  free(s);
  int gone = rc ? 0 : send(r, buf_ptr(&out), out.len);
  buf_free(&out);
  if (rc && !gone) {
    r->cbs.on_done(r->arg, ERR_NOMEM, "worker: out of memory", 0, 0);
    req_destroy(r);
    return 1;
  }
  return gone;
}

/* An OpenAI error object with status 400 (vLLM's shape). */
static void answer_error(struct builtin_req *r, int status, const char *msg) {
  r->started = 1;
  r->cbs.on_start(r->arg, status, "application/json");
  json_t *j = json_pack("{s:{s:s, s:s, s:n, s:i}}", "error", "message", msg, "type",
                        status == 400 ? "BadRequestError" : status == 503 ? "ServiceUnavailableError" : "InternalServerError", "param", "code", status);
  if (!j || send_json(r, j, 0)) return;
  r->cbs.on_done(r->arg, 0, NULL, 0, 0);
  req_destroy(r);
}

static json_t *chunk_base(struct builtin_req *r) {
  return json_pack("{s:s, s:s, s:I, s:s, s:[]}", "id", r->id, "object",
                   r->ep == OPENAI_EP_CHAT ? "chat.completion.chunk" : "text_completion", "created",
                   (json_int_t)r->created, "model", r->model, "choices");
}

/* A streamed chunk for choice i: text (may be empty) and the finish reason (may be NULL). */
static int send_chunk(struct builtin_req *r, uint32_t i, const char *text, size_t len, const char *finish,
                      int role) {
  json_t *j = chunk_base(r);
  json_t *c = NULL;
  if (j) {
    json_t *fin = finish ? json_string(finish) : json_null();
    if (r->ep == OPENAI_EP_CHAT) {
      json_t *delta = json_object();
      if (delta && role) json_object_set_new(delta, "role", json_string("assistant"));
      if (delta && (len || role)) json_object_set_new(delta, "content", json_stringn(text, len));
      c = json_pack("{s:I, s:o, s:n, s:o}", "index", (json_int_t)i, "delta", delta, "logprobs", "finish_reason", fin);
    } else {
      c = json_pack("{s:I, s:s%, s:n, s:o}", "index", (json_int_t)i, "text", text ? text : "", len, "logprobs",
                    "finish_reason", fin);
    }
    if (!c || json_array_append_new(json_object_get(j, "choices"), c)) {
      json_decref(j);
      j = NULL;
    }
  }
  if (!j) {
    r->cbs.on_done(r->arg, ERR_NOMEM, "worker: out of memory", 0, 0);
    req_destroy(r);
    return 1;
  }
  return send_json(r, j, 1);
}

static uint64_t completion_tokens(const struct builtin_req *r) {
  uint64_t t = 0;
  for (uint32_t i = 0; i < r->n; i++) t += r->ch[i].n_gen;
  return t;
}

static json_t *usage_json(const struct builtin_req *r) {
  uint64_t ct = completion_tokens(r);
  return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)r->n_prompt, "total_tokens",
                   (json_int_t)(r->n_prompt + ct), "completion_tokens", (json_int_t)ct);
}

/* Every choice ended: the closing chunks (or the whole answer), then on_done. */
static void finish_request(struct builtin_req *r) {
  int64_t ct = (int64_t)completion_tokens(r);
  if (r->stream) {
    if (r->include_usage) {
      json_t *j = chunk_base(r);
      if (j) json_object_set_new(j, "usage", usage_json(r));
      if (!j) {
        r->cbs.on_done(r->arg, ERR_NOMEM, "worker: out of memory", 0, 0);
        req_destroy(r);
        return;
      }
      if (send_json(r, j, 1)) return;
    }
    static const char done[] = "data: [DONE]\n\n";
    if (send(r, done, sizeof(done) - 1)) return;
  } else {
    json_t *choices = json_array();
    for (uint32_t i = 0; choices && i < r->n; i++) {
      struct choice *c = &r->ch[i];
      const char *txt = c->text.len ? (const char *)buf_ptr(&c->text) : "";
      json_t *o;
      if (r->ep == OPENAI_EP_CHAT)
        o = json_pack("{s:I, s:{s:s, s:s%}, s:n, s:s}", "index", (json_int_t)i, "message", "role", "assistant",
                      "content", txt, c->text.len, "logprobs", "finish_reason", c->finish);
      else
        o = json_pack("{s:I, s:s%, s:n, s:s}", "index", (json_int_t)i, "text", txt, c->text.len, "logprobs",
                      "finish_reason", c->finish);
      if (!o || json_array_append_new(choices, o)) {
        json_decref(choices);
        choices = NULL;
      }
    }
    json_t *j = choices ? json_pack("{s:s, s:s, s:I, s:s, s:o, s:o}", "id", r->id, "object",
                                    r->ep == OPENAI_EP_CHAT ? "chat.completion" : "text_completion", "created",
                                    (json_int_t)r->created, "model", r->model, "choices", choices, "usage",
                                    usage_json(r))
                        : NULL;
    if (!j) {
      r->cbs.on_done(r->arg, ERR_NOMEM, "worker: out of memory", 0, 0);
      req_destroy(r);
      return;
    }
    if (send_json(r, j, 0)) return;
  }
  r->cbs.on_done(r->arg, 0, NULL, r->n_prompt, ct);
  req_destroy(r);
}

/* Ends choice i with `finish`; returns nonzero when the request is gone. */
static int end_choice(struct builtin_req *r, uint32_t i, const char *finish) {
  struct choice *c = &r->ch[i];
  if (c->finish) return 0;
  c->finish = finish;
  if (c->seq) {
    sched_cancel(r->b->s, c->seq);
    c->seq = 0;
  }
  r->n_running--;
  struct buf tail;
  buf_init(&tail, 0);
  int rc = textout_flush(c->out, r->stream ? &tail : &c->text);
  int gone = 0;
  if (!rc && r->stream) gone = send_chunk(r, i, (const char *)buf_ptr(&tail), tail.len, finish, 0);
  buf_free(&tail);
  if (gone) return 1;
  if (rc) {
    r->cbs.on_done(r->arg, rc, "worker: the answer is too large", 0, 0);
    req_destroy(r);
    return 1;
  }
  if (r->n_running == 0) {
    finish_request(r);
    return 1;
  }
  return 0;
}

static void on_event(struct builtin *b, const struct sched_event *ev) {
  struct builtin_req *r = b->reqs;
  uint32_t i = 0;
  for (; r; r = r->next) {
    for (i = 0; i < r->n; i++)
      if (r->ch[i].seq == ev->id) break;
    if (i < r->n) break;
  }
  if (!r) return; /* a sequence we already stopped */
  struct choice *c = &r->ch[i];
  if (ev->kind == SCHED_EV_ERROR) {
    char msg[300];
    snprintf(msg, sizeof(msg), "worker: engine error: %s", ev->msg);
    log_warn("engine_error", "error=\"%s\"", ev->msg);
    c->seq = 0;
    r->cbs.on_done(r->arg, ev->code ? ev->code : ERR_IO, msg, 0, 0);
    req_destroy(r);
    return;
  }
  if (ev->kind == SCHED_EV_DONE) {
    c->seq = 0;
    (void)end_choice(r, i, ev->finish == GENERATE_FINISH_EOG ? "stop" : "length");
    return;
  }
  c->n_gen++;
  struct buf piece;
  buf_init(&piece, 0);
  int rc = textout_feed(c->out, ev->token, r->stream ? &piece : &c->text);
  int gone = 0;
  if (rc >= 0 && r->stream && piece.len) gone = send_chunk(r, i, (const char *)buf_ptr(&piece), piece.len, NULL, 0);
  buf_free(&piece);
  if (gone) return;
  if (rc < 0) {
    r->cbs.on_done(r->arg, rc, "worker: the answer is too large", 0, 0);
    req_destroy(r);
    return;
  }
  if (rc == 1) (void)end_choice(r, i, "stop");
}

static void dispatch(struct builtin *b) {
  struct sched_event ev[BUILTIN_POLL];
  size_t n;
  while ((n = sched_poll(b->s, ev, BUILTIN_POLL)) > 0)
    for (size_t k = 0; k < n; k++) on_event(b, &ev[k]);
}

/* ---------------------------------------------------------------- request parsing */

struct parsed {
  uint32_t max_tokens; /* 0: the rest of the context */
  int has_max;
  struct sample_params sp;
  int has_seed;
  uint32_t n;
  const char *stops[TEXTOUT_MAX_STOPS];
  size_t stop_lens[TEXTOUT_MAX_STOPS];
  size_t n_stops;
  int enable_thinking;
};

static int bad(struct err *e, const char *field, const char *what) { return err_set(e, ERR_INVALID, "%s %s", field, what); }

static int get_number(json_t *root, const char *k, double lo, double hi, double *out, struct err *e) {
  json_t *v = json_object_get(root, k);
  if (!v || json_is_null(v)) return 0;
  if (!json_is_number(v)) return bad(e, k, "must be a number");
  double d = json_number_value(v);
  if (!isfinite(d) || d < lo || d > hi)
    return err_set(e, ERR_INVALID, "%s must be between %g and %g", k, lo, hi);
  *out = d;
  return 1;
}

static int parse_options(json_t *root, struct parsed *p, struct err *e) {
  memset(p, 0, sizeof(*p));
  sample_params_default(&p->sp);
  p->sp.temperature = 1.0f; /* OpenAI's default */
  p->n = 1;
  p->enable_thinking = -1;
  double d;
  int rc;
  if ((rc = get_number(root, "temperature", 0, 2, &d, e)) < 0) return rc;
  if (rc) p->sp.temperature = (float)d;
  if ((rc = get_number(root, "top_p", 0, 1, &d, e)) < 0) return rc;
  if (rc) {
    if (d <= 0) return err_set(e, ERR_INVALID, "top_p must be greater than 0");
    p->sp.top_p = (float)d;
  }
  static const char *const max_keys[] = {"max_completion_tokens", "max_tokens"};
  for (size_t k = 0; k < 2 && !p->has_max; k++) {
    json_t *v = json_object_get(root, max_keys[k]);
    if (!v || json_is_null(v)) continue;
    if (!json_is_integer(v) || json_integer_value(v) < 1)
      return bad(e, max_keys[k], "must be an integer of at least 1");
    json_int_t m = json_integer_value(v);
    p->max_tokens = m > (json_int_t)MODEL_MAX_CTX ? MODEL_MAX_CTX : (uint32_t)m;
    p->has_max = 1;
  }
  json_t *v = json_object_get(root, "n");
  if (v && !json_is_null(v)) {
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > BUILTIN_MAX_N)
      return err_set(e, ERR_INVALID, "n must be an integer between 1 and %u", BUILTIN_MAX_N);
    p->n = (uint32_t)json_integer_value(v);
  }
  v = json_object_get(root, "seed");
  if (v && !json_is_null(v)) {
    if (!json_is_integer(v)) return bad(e, "seed", "must be an integer");
    p->sp.seed = (uint64_t)json_integer_value(v);
    p->has_seed = 1;
  }
  v = json_object_get(root, "stop");
  if (v && !json_is_null(v)) {
    if (json_is_string(v)) {
      p->stops[0] = json_string_value(v);
      p->stop_lens[0] = json_string_length(v);
      p->n_stops = 1;
    } else if (json_is_array(v)) {
      if (json_array_size(v) > TEXTOUT_MAX_STOPS)
        return err_set(e, ERR_INVALID, "stop takes at most %u strings", TEXTOUT_MAX_STOPS);
      for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s)) return bad(e, "stop", "must be a string or an array of strings");
        p->stops[p->n_stops] = json_string_value(s);
        p->stop_lens[p->n_stops++] = json_string_length(s);
      }
    } else {
      return bad(e, "stop", "must be a string or an array of strings");
    }
    for (size_t i = 0; i < p->n_stops; i++)
      if (p->stop_lens[i] == 0 || p->stop_lens[i] > TEXTOUT_MAX_STOP_LEN)
        return err_set(e, ERR_INVALID, "each stop string must have 1..%u bytes", TEXTOUT_MAX_STOP_LEN);
  }
  /* Fields the validator lets through that this engine does not implement: refused with a
   * clear message rather than silently ignored. */
  static const char *const zero_keys[] = {"frequency_penalty", "presence_penalty", "top_logprobs"};
  for (size_t k = 0; k < sizeof(zero_keys) / sizeof(zero_keys[0]); k++) {
    v = json_object_get(root, zero_keys[k]);
    if (v && json_is_number(v) && json_number_value(v) != 0)
      return bad(e, zero_keys[k], "is not supported by the built-in engine");
  }
  v = json_object_get(root, "best_of");
  if (v && json_is_integer(v) && json_integer_value(v) > 1)
    return bad(e, "best_of", "is not supported by the built-in engine");
  v = json_object_get(root, "echo");
  if (v && json_is_true(v)) return bad(e, "echo", "is not supported by the built-in engine");
  v = json_object_get(root, "suffix");
  if (v && json_is_string(v) && json_string_length(v)) return bad(e, "suffix", "is not supported by the built-in engine");
  v = json_object_get(root, "response_format");
  if (v && !json_is_null(v)) {
    json_t *t = json_is_object(v) ? json_object_get(v, "type") : NULL;
    if (!t || !json_is_string(t) || strcmp(json_string_value(t), "text") != 0)
      return bad(e, "response_format", "other than {\"type\":\"text\"} is not supported by the built-in engine");
  }
  v = json_object_get(root, "chat_template_kwargs");
  if (v && json_is_object(v)) {
    json_t *t = json_object_get(v, "enable_thinking");
    if (t && !json_is_boolean(t)) return bad(e, "chat_template_kwargs.enable_thinking", "must be a boolean");
    if (t) p->enable_thinking = json_is_true(t);
  }
  return 0;
}

/* Renders messages with the model's chat template into out. */
static int render_chat(struct builtin *b, json_t *root, int enable_thinking, struct buf *out, struct err *e) {
  if (!b->has_chat)
    return err_set(e, ERR_INVALID, "this model has no chat template the built-in engine knows; use /v1/completions");
  json_t *msgs = json_object_get(root, "messages");
  if (!json_is_array(msgs) || json_array_size(msgs) == 0) return bad(e, "messages", "must be a non-empty array");
  size_t n = json_array_size(msgs);
  if (n > 4096) return err_set(e, ERR_LIMIT, "at most 4096 messages");
  struct chat_msg *cm = calloc(n, sizeof(*cm));
  struct buf *texts = calloc(n, sizeof(*texts));
  int rc = 0;
  if (!cm || !texts) rc = err_set(e, ERR_NOMEM, "out of memory");
  for (size_t i = 0; !rc && i < n; i++) {
    json_t *m = json_array_get(msgs, i);
    json_t *role = json_is_object(m) ? json_object_get(m, "role") : NULL;
    if (!json_is_string(role)) {
      rc = err_set(e, ERR_INVALID, "messages[%zu] must be an object with a string \"role\"", i);
      break;
    }
    cm[i].role = json_string_value(role);
    cm[i].role_len = json_string_length(role);
    json_t *content = json_object_get(m, "content");
    buf_init(&texts[i], BUILTIN_MAX_PROMPT_BYTES);
    if (json_is_string(content)) {
      cm[i].content = json_string_value(content);
      cm[i].content_len = json_string_length(content);
    } else if (!content || json_is_null(content)) {
      cm[i].content = "";
    } else if (json_is_array(content)) {
      /* Parts: only text; their texts are joined as vLLM does for text-only models. */
      for (size_t k = 0; !rc && k < json_array_size(content); k++) {
        json_t *part = json_array_get(content, k);
        json_t *type = json_is_object(part) ? json_object_get(part, "type") : NULL;
        json_t *text = json_is_object(part) ? json_object_get(part, "text") : NULL;
        if (!json_is_string(type) || strcmp(json_string_value(type), "text") != 0 || !json_is_string(text)) {
          rc = err_set(e, ERR_INVALID, "messages[%zu].content: only text parts are supported", i);
          break;
        }
        if (k) rc = buf_append_str(&texts[i], "\n");
        if (!rc) rc = buf_append(&texts[i], json_string_value(text), json_string_length(text));
        if (rc) rc = err_set(e, ERR_LIMIT, "the prompt is too large");
      }
      cm[i].content = texts[i].len ? (const char *)buf_ptr(&texts[i]) : "";
      cm[i].content_len = texts[i].len;
    } else {
      rc = err_set(e, ERR_INVALID, "messages[%zu].content must be a string or an array of text parts", i);
    }
  }
  if (!rc) rc = chat_render(&b->chat, cm, n, enable_thinking, out, e);
  for (size_t i = 0; texts && i < n; i++) buf_free(&texts[i]);
  free(texts);
  free(cm);
  return rc;
}

/* The prompt's token ids (malloc'd into *ids). */
static int prompt_ids(struct builtin *b, enum openai_endpoint ep, json_t *root, int enable_thinking, int32_t **ids,
                      uint32_t *n_ids, struct err *e) {
  *ids = NULL;
  *n_ids = 0;
  struct buf text;
  buf_init(&text, BUILTIN_MAX_PROMPT_BYTES);
  int rc = 0;
  unsigned flags = TOK_ENC_PARSE_SPECIAL;
  if (ep == OPENAI_EP_CHAT) {
    rc = render_chat(b, root, enable_thinking, &text, e);
  } else {
    json_t *p = json_object_get(root, "prompt");
    if (json_is_array(p) && json_array_size(p) == 1 && json_is_string(json_array_get(p, 0)))
      p = json_array_get(p, 0);
    if (json_is_string(p)) {
      rc = buf_append(&text, json_string_value(p), json_string_length(p));
      if (rc) rc = err_set(e, ERR_LIMIT, "the prompt is too large");
      if (tok_add_bos_default(b->tok)) flags |= TOK_ENC_ADD_BOS;
    } else if (json_is_array(p) && json_array_size(p) > 0 && json_is_integer(json_array_get(p, 0))) {
      size_t n = json_array_size(p);
      if (n >= b->n_ctx) {
        buf_free(&text);
        return err_set(e, ERR_LIMIT, "the prompt has %zu tokens; this model's context is %u", n, b->n_ctx);
      }
      int32_t *v = malloc(n * sizeof(*v));
      if (!v) rc = err_set(e, ERR_NOMEM, "out of memory");
      for (size_t i = 0; !rc && i < n; i++) {
        json_t *x = json_array_get(p, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= b->m->hp.n_vocab)
          rc = err_set(e, ERR_INVALID, "prompt[%zu] is not a token id (0..%u)", i, b->m->hp.n_vocab - 1);
        else v[i] = (int32_t)json_integer_value(x);
      }
      buf_free(&text);
      if (rc) {
        free(v);
        return rc;
      }
      *ids = v;
      *n_ids = (uint32_t)n;
      return 0;
    } else {
      rc = err_set(e, ERR_INVALID, "prompt must be a string, an array of one string, or an array of token ids");
    }
  }
  if (!rc) {
    /* Tokens never outnumber bytes (+ BOS); the context bounds what is accepted. */
    size_t cap = text.len + 2, n = 0;
    int32_t *v = malloc(cap * sizeof(*v));
    if (!v) rc = err_set(e, ERR_NOMEM, "out of memory");
    else if ((rc = tok_encode_ex(b->tok, text.len ? (const char *)buf_ptr(&text) : "", text.len, flags, v, cap, &n,
                                 e)) != 0)
      free(v);
    else if (n == 0) {
      free(v);
      rc = err_set(e, ERR_INVALID, "the prompt is empty");
    } else {
      *ids = v;
      *n_ids = (uint32_t)n;
    }
  }
  buf_free(&text);
  return rc;
}

/* Parses and submits; on a refusal fills r->status / r->errmsg for the deferred answer. */
static void req_begin(struct builtin_req *r, const char *body, size_t len) {
  struct builtin *b = r->b;
  struct err e = {0};
  json_error_t je;
  int32_t *ids = NULL;
  uint32_t n_ids = 0;
  json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
  int rc = 0;
  struct parsed p;
  if (!root || !json_is_object(root)) {
    rc = err_set(&e, ERR_PARSE, "the body is not a JSON object");
    goto out;
  }
  json_t *model = json_object_get(root, "model");
  r->model = strdup(json_is_string(model) ? json_string_value(model) : b->name);
  if (!r->model) {
    rc = err_set(&e, ERR_NOMEM, "out of memory");
    goto out;
  }
  json_t *st = json_object_get(root, "stream");
  r->stream = json_is_true(st);
  json_t *so = json_object_get(root, "stream_options");
  json_t *iu = json_is_object(so) ? json_object_get(so, "include_usage") : NULL;
  r->include_usage = r->stream && json_is_true(iu);
  if ((rc = parse_options(root, &p, &e))) goto out;
  if ((rc = prompt_ids(b, r->ep, root, p.enable_thinking, &ids, &n_ids, &e))) goto out;
  if (n_ids >= b->n_ctx) {
    rc = err_set(&e, ERR_LIMIT, "This model's maximum context length is %u tokens. However, your prompt has %u tokens",
                 b->n_ctx, n_ids);
    goto out;
  }
  uint32_t room = b->n_ctx - n_ids;
  if (p.has_max && p.max_tokens > room) {
    rc = err_set(&e, ERR_LIMIT,
                 "This model's maximum context length is %u tokens. However, you requested %u tokens (%u in the "
                 "prompt, %u in the completion)",
                 b->n_ctx, n_ids + p.max_tokens, n_ids, p.max_tokens);
    goto out;
  }
  r->max_tokens = p.has_max ? p.max_tokens : room;
  r->n_prompt = n_ids;
  r->sp = p.sp;
  r->seed = p.has_seed ? p.sp.seed : util_random_u64();
  for (uint32_t i = 0; i < p.n; i++) {
    buf_init(&r->ch[i].text, 0);
    r->n = i + 1;
    if ((rc = textout_new(b->tok, p.stops, p.stop_lens, p.n_stops, &r->ch[i].out, &e))) goto out;
  }
  r->ids = ids;
  ids = NULL;
out:
  if (rc) {
    r->status = rc == ERR_NOMEM ? 500 : 400;
    snprintf(r->errmsg, sizeof(r->errmsg), "%s", e.msg);
  }
  free(ids);
  json_decref(root);
}

static void deadline_cb(struct loop_timer *t) {
  struct builtin_req *r = t->data;
  r->cbs.on_done(r->arg, ERR_TIMEOUT, "the engine did not finish before the request's timeout", 0, 0);
  req_destroy(r);
}

/* Runs after builtin_start has returned, so callbacks never reenter the caller. */
static void deferred_start(void *arg) {
  struct builtin_req *r = arg;
  if (r->cancelled) {
    req_destroy(r);
    return;
  }
  if (r->status) {
    answer_error(r, r->status, r->errmsg);
    return;
  }
  struct err e = {0};
  for (uint32_t i = 0; i < r->n; i++) {
    struct sched_seq_params sq = {.prompt = r->ids, .n_prompt = r->n_prompt, .max_tokens = r->max_tokens,
                                  .sample = r->sp};
    sq.sample.seed = r->seed + i;
    if (sched_submit(r->b->s, &sq, &r->ch[i].seq, &e)) {
      for (uint32_t k = 0; k < i; k++) {
        sched_cancel(r->b->s, r->ch[k].seq);
        r->ch[k].seq = 0;
      }
      answer_error(r, e.code == ERR_NOMEM || e.code == ERR_LIMIT ? 503 : 400, e.msg);
      return;
    }
    r->n_running++;
  }
  free(r->ids);
  r->ids = NULL;
  r->started = 1;
  if (r->timeout_ms) loop_timer_start(r->b->loop, &r->deadline, r->timeout_ms);
  r->cbs.on_start(r->arg, 200, r->stream ? "text/event-stream" : "application/json");
  if (r->stream)
    for (uint32_t i = 0; i < r->n; i++)
      if (send_chunk(r, i, "", 0, NULL, r->ep == OPENAI_EP_CHAT)) return;
}

int builtin_start(struct builtin *b, enum openai_endpoint ep, const char *body, size_t len, uint32_t timeout_ms,
                  const struct builtin_cbs *cbs, void *arg, struct builtin_req **out) {
  *out = NULL;
  struct builtin_req *r = calloc(1, sizeof(*r));
  if (!r) return ERR_NOMEM;
  r->b = b;
  r->cbs = *cbs;
  r->arg = arg;
  r->ep = ep;
  loop_timer_init(&r->deadline, deadline_cb, r);
  r->created = (int64_t)util_wall_time();
  uint8_t rnd[12];
  util_random(rnd, sizeof(rnd));
  char hex[25];
  util_hex(rnd, sizeof(rnd), hex);
  snprintf(r->id, sizeof(r->id), "%s-%s", ep == OPENAI_EP_CHAT ? "chatcmpl" : "cmpl", hex);
  r->next = b->reqs;
  if (b->reqs) b->reqs->prev = r;
  b->reqs = r;
  r->timeout_ms = timeout_ms;
  req_begin(r, body, len);
  if (loop_defer(b->loop, deferred_start, r)) {
    req_destroy(r);
    return ERR_NOMEM;
  }
  *out = r;
  return 0;
}
