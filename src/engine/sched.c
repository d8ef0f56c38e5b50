/* sched: continuous batching: one engine thread runs many sequences, one forward pass per step. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/sched.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kv.h"
#include "engine/threadpool.h"

struct seq {
  uint64_t id;
  int32_t *prompt;
  uint32_t n_prompt, n_fed; /* prompt tokens evaluated so far */
  uint32_t max_tokens, n_gen;
  uint32_t ctx_cap; /* positions the sequence may use: prompt + max_tokens, at most n_ctx */
  int32_t last; /* the last sampled token, fed at the next step */
  int ignore_eog;
  int cancelled;
  struct sample_params sp;
  struct sampler *smp;
  struct kv_cache *kv;
  int logits_row; /* this step's row of logits, -1 when none */
  int grow_failed;  /* the cache could not grow this step (grow_err) */
  struct err grow_err;
  struct seq *next; /* pending list */
};

struct sched {
  const struct model *m;
  struct sched_opts o;
  sched_notify_cb notify;
  void *notify_arg;
  pthread_t thread;
  int started;
  pthread_mutex_t mu;
  pthread_cond_t wake;  /* work arrived or stop */
  pthread_cond_t space; /* events were drained */
  int stop;
  uint64_t next_id;
  /* guarded by mu */
  struct seq *pend_head, *pend_tail;
  uint32_t n_pending;
  struct seq **slots; /* max_seqs; NULL = free */
  struct sched_event *ev;
  size_t ev_head, ev_len, ev_cap; /* ring */
  struct sched_stats st;
  /* engine thread only */
  struct model_work *w;
  float *logits;
  int32_t *b_tok;
  struct kv_cache **b_kv;
  uint8_t *b_want;
};

static void seq_free(struct seq *q) {
  if (!q) return;
  free(q->prompt);
  sampler_free(q->smp);
  kv_free(q->kv);
  free(q);
}

/* Sampling of one step's sequences: share ith of nth takes every nth sequence of the batch. */
struct sample_job {
  struct sched *s;
  struct seq *const *q;
  uint32_t n;
  int32_t *tok;
};

static void sample_share(void *arg, uint32_t ith, uint32_t nth) {
  struct sample_job *j = arg;
  for (uint32_t k = ith; k < j->n; k += nth) {
    const struct seq *q = j->q[k];
    if (q->logits_row >= 0)
      j->tok[k] = sampler_next(q->smp, j->s->logits + (size_t)q->logits_row * j->s->m->hp.n_vocab);
  }
}

/* Under mu. The ring never overflows: the engine waits for room before each step. */
static void push_event(struct sched *s, const struct sched_event *ev) {
  if (s->ev_len == s->ev_cap) return;
  s->ev[(s->ev_head + s->ev_len) % s->ev_cap] = *ev;
  s->ev_len++;
}

static void push_simple(struct sched *s, const struct seq *q, enum sched_event_kind kind, int32_t tok,
                        enum generate_finish fin) {
  struct sched_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.id = q->id;
  ev.kind = kind;
  ev.token = tok;
  ev.finish = fin;
  ev.n_prompt = q->n_prompt;
  ev.n_generated = q->n_gen;
  push_event(s, &ev);
}

static void push_error(struct sched *s, const struct seq *q, const struct err *e) {
  struct sched_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.id = q->id;
  ev.kind = SCHED_EV_ERROR;
  ev.code = e->code ? e->code : ERR_IO;
  snprintf(ev.msg, sizeof(ev.msg), "%s", e->msg);
  ev.n_prompt = q->n_prompt;
  ev.n_generated = q->n_gen;
  push_event(s, &ev);
}

/* Allocates what a sequence needs to run (on the engine thread, without the lock). */
static int seq_prepare(struct sched *s, struct seq *q, struct err *e) {
  uint64_t need = (uint64_t)q->n_prompt + q->max_tokens;
  q->ctx_cap = need < s->o.n_ctx ? (uint32_t)need : s->o.n_ctx;
  /* The cache starts at the prompt plus a little and grows while generating (kv_reserve), so
   * a request that may run to the whole context does not hold it from the start. */
  uint64_t first = (uint64_t)q->n_prompt + SCHED_KV_STEP;
  int rc = model_kv_new(s->m, first < q->ctx_cap ? (uint32_t)first : q->ctx_cap, &q->kv, e);
  if (rc == 0) rc = sampler_new(&q->sp, s->m->hp.n_vocab, &q->smp, e);
  return rc;
}

static int has_work(const struct sched *s) {
  if (s->pend_head) return 1;
  for (uint32_t i = 0; i < s->o.max_seqs; i++)
    if (s->slots[i]) return 1;
  return 0;
}

/* One step: admit, build the batch, run it, sample. Called and returns with mu held. */
static void step(struct sched *s) {
  uint32_t S = s->o.max_seqs;
  struct err e = {0};
  /* Drop cancelled sequences and admit waiting ones into free slots. */
  struct seq *admitted[SCHED_MAX_SEQS];
  uint32_t n_adm = 0;
  for (uint32_t i = 0; i < S; i++) {
    if (s->slots[i] && s->slots[i]->cancelled) {
      seq_free(s->slots[i]);
      s->slots[i] = NULL;
    }
    if (!s->slots[i] && s->pend_head) {
      struct seq *q = s->pend_head;
      s->pend_head = q->next;
      if (!s->pend_head) s->pend_tail = NULL;
      s->n_pending--;
      q->next = NULL;
      s->slots[i] = q;
      admitted[n_adm++] = q;
    }
  }
  pthread_mutex_unlock(&s->mu);

  int failed[SCHED_MAX_SEQS];
  struct err adm_err[SCHED_MAX_SEQS];
  for (uint32_t a = 0; a < n_adm; a++) {
    memset(&adm_err[a], 0, sizeof(adm_err[a]));
    failed[a] = seq_prepare(s, admitted[a], &adm_err[a]) != 0;
  }

  /* The batch: one token for each decoding sequence, then prompt chunks in slot order. */
  uint32_t n = 0, budget = model_work_max_batch(s->w);
  int rows = 0;
  struct seq *in_batch[SCHED_MAX_SEQS];
  uint32_t n_in = 0;
  for (uint32_t i = 0; i < S; i++) {
    struct seq *q = s->slots[i];
    if (!q) continue;
    q->logits_row = -1;
    if (!q->kv || !q->smp || q->n_fed < q->n_prompt) continue;
    if (kv_reserve(q->kv, q->kv->n_pos + 1, q->ctx_cap, &q->grow_err) != 0) {
      q->grow_failed = 1;
      continue;
    }
    s->b_tok[n] = q->last;
    s->b_kv[n] = q->kv;
    s->b_want[n] = 1;
    q->logits_row = rows++;
    n++;
    in_batch[n_in++] = q;
  }
  for (uint32_t i = 0; i < S && n < budget; i++) {
    struct seq *q = s->slots[i];
    if (!q || !q->kv || !q->smp || q->n_fed >= q->n_prompt) continue;
    uint32_t c = q->n_prompt - q->n_fed;
    if (c > budget - n) c = budget - n;
    if (kv_reserve(q->kv, q->kv->n_pos + c, q->ctx_cap, &q->grow_err) != 0) {
      q->grow_failed = 1;
      continue;
    }
    for (uint32_t k = 0; k < c; k++) {
      s->b_tok[n + k] = q->prompt[q->n_fed + k];
      s->b_kv[n + k] = q->kv;
      s->b_want[n + k] = 0;
    }
    q->n_fed += c;
    n += c;
    if (q->n_fed == q->n_prompt) {
      s->b_want[n - 1] = 1;
      q->logits_row = rows++;
    }
    in_batch[n_in++] = q;
  }
  int rc = 0;
  if (n > 0) {
    struct model_batch b = {.n = n, .tokens = s->b_tok, .kv = s->b_kv, .want_logits = s->b_want};
    rc = model_forward_batch(s->m, s->w, &b, rows ? s->logits : NULL, &e);
  }

  /* Each sequence with logits draws its token here, off the lock, the sequences shared among
   * the pool's threads (a greedy pick alone scans the whole vocabulary: ~0.1 ms a sequence
   * for 151,936 words, which the other threads otherwise waited out). A sequence cancelled
   * meanwhile draws too and is dropped below. */
  int32_t toks[SCHED_MAX_SEQS];
  struct sample_job sj = {s, in_batch, n_in, toks};
  if (rc == 0 && rows > 1) threadpool_run(s->o.pool, sample_share, &sj);
  else if (rc == 0 && rows == 1) sample_share(&sj, 0, 1);

  pthread_mutex_lock(&s->mu);
  size_t ev_before = s->ev_len;
  for (uint32_t a = 0; a < n_adm; a++) {
    if (!failed[a]) continue;
    struct seq *q = admitted[a];
    if (!q->cancelled) push_error(s, q, &adm_err[a]);
    for (uint32_t i = 0; i < S; i++)
      if (s->slots[i] == q) s->slots[i] = NULL;
    seq_free(q);
  }
  for (uint32_t i = 0; i < S; i++) {
    struct seq *q = s->slots[i];
    if (!q || !q->grow_failed) continue;
    if (!q->cancelled) push_error(s, q, &q->grow_err);
    s->slots[i] = NULL;
    seq_free(q);
  }
  if (n > 0) {
    s->st.steps++;
    if (n_in > s->st.max_batch_seen) s->st.max_batch_seen = n_in;
  }
  for (uint32_t k = 0; k < n_in; k++) {
    struct seq *q = in_batch[k];
    int done = 0;
    if (rc != 0) {
      if (!q->cancelled) push_error(s, q, &e);
      done = 1;
    } else if (q->logits_row >= 0 && !q->cancelled) {
      if (q->n_gen == 0) s->st.tokens_prompt += q->n_prompt;
      int32_t tok = toks[k];
      q->n_gen++;
      q->last = tok;
      s->st.tokens_generated++;
      push_simple(s, q, SCHED_EV_TOKEN, tok, GENERATE_FINISH_LENGTH);
      enum generate_finish fin = GENERATE_FINISH_LENGTH;
      if (!q->ignore_eog && model_is_eog(s->m, tok)) fin = GENERATE_FINISH_EOG, done = 1;
      else if (q->n_gen >= q->max_tokens || q->kv->n_pos >= q->ctx_cap) done = 1;
      if (done) {
        push_simple(s, q, SCHED_EV_DONE, tok, fin);
        s->st.seqs_done++;
      }
    }
    if (done || q->cancelled) {
      for (uint32_t i = 0; i < S; i++)
        if (s->slots[i] == q) s->slots[i] = NULL;
      seq_free(q);
    }
  }
  if (s->ev_len != ev_before && s->notify) {
    pthread_mutex_unlock(&s->mu);
    s->notify(s->notify_arg);
    pthread_mutex_lock(&s->mu);
  }
}

static void *engine_main(void *arg) {
  struct sched *s = arg;
  pthread_mutex_lock(&s->mu);
  while (!s->stop) {
    if (!has_work(s)) {
      pthread_cond_wait(&s->wake, &s->mu);
      continue;
    }
    /* Room for this step's events (a token and an end, or an error, per slot). */
    if (s->ev_cap - s->ev_len < 2u * s->o.max_seqs) {
      pthread_cond_wait(&s->space, &s->mu);
      continue;
    }
    step(s);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

int sched_new(const struct model *m, const struct sched_opts *o, sched_notify_cb notify, void *arg, struct sched **out,
              struct err *e) {
  *out = NULL;
  if (o->max_seqs == 0 || o->max_seqs > SCHED_MAX_SEQS)
    return err_set(e, ERR_INVALID, "scheduler: max sequences %u is outside 1..%u", o->max_seqs, SCHED_MAX_SEQS);
  if (o->n_ctx < 2 || o->n_ctx > MODEL_MAX_CTX)
    return err_set(e, ERR_INVALID, "scheduler: context %u is outside 2..%u", o->n_ctx, MODEL_MAX_CTX);
  struct sched *s = calloc(1, sizeof(*s));
  if (!s) return err_set(e, ERR_NOMEM, "scheduler: out of memory");
  s->m = m;
  s->o = *o;
  /* Every decoding sequence must fit each step. */
  if (s->o.max_batch < s->o.max_seqs) s->o.max_batch = s->o.max_seqs;
  if (s->o.max_batch > MODEL_MAX_BATCH) s->o.max_batch = MODEL_MAX_BATCH;
  s->notify = notify;
  s->notify_arg = arg;
  s->next_id = 1;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->wake, NULL);
  pthread_cond_init(&s->space, NULL);
  uint32_t S = s->o.max_seqs, B = s->o.max_batch;
  int rc = model_work_new(m, B, o->pool, &s->w, e);
  if (rc) goto fail;
  s->ev_cap = (size_t)S * SCHED_EVENTS_PER_SEQ;
  s->slots = calloc(S, sizeof(*s->slots));
  s->ev = calloc(s->ev_cap, sizeof(*s->ev));
  s->logits = malloc((size_t)S * m->hp.n_vocab * sizeof(float));
  s->b_tok = malloc((size_t)B * sizeof(*s->b_tok));
  s->b_kv = malloc((size_t)B * sizeof(*s->b_kv));
  s->b_want = malloc(B);
  if (!s->slots || !s->ev || !s->logits || !s->b_tok || !s->b_kv || !s->b_want) {
    rc = err_set(e, ERR_NOMEM, "scheduler: out of memory for %u sequences", S);
    goto fail;
  }
  if (pthread_create(&s->thread, NULL, engine_main, s) != 0) {
    rc = err_set(e, ERR_IO, "scheduler: cannot start the engine thread");
    goto fail;
  }
  s->started = 1;
  *out = s;
  return 0;
fail:
  sched_free(s);
  return rc;
}

void sched_free(struct sched *s) {
  if (!s) return;
  if (s->started) {
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->wake);
    pthread_cond_broadcast(&s->space);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
  }
  while (s->pend_head) {
    struct seq *q = s->pend_head;
    s->pend_head = q->next;
    seq_free(q);
  }
  for (uint32_t i = 0; s->slots && i < s->o.max_seqs; i++) seq_free(s->slots[i]);
  free(s->slots);
  free(s->ev);
  free(s->logits);
  free(s->b_tok);
  free(s->b_kv);
  free(s->b_want);
  model_work_free(s->w);
  pthread_cond_destroy(&s->wake);
  pthread_cond_destroy(&s->space);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

int sched_submit(struct sched *s, const struct sched_seq_params *p, uint64_t *id, struct err *e) {
  *id = 0;
  if (p->n_prompt == 0) return err_set(e, ERR_INVALID, "the prompt is empty");
  if (p->n_prompt > SCHED_MAX_PROMPT || p->n_prompt >= s->o.n_ctx)
    return err_set(e, ERR_LIMIT, "the prompt has %u tokens; this model serves at most %u (context %u)", p->n_prompt,
                   s->o.n_ctx - 1, s->o.n_ctx);
  if (p->max_tokens == 0) return err_set(e, ERR_INVALID, "max_tokens must be at least 1");
  for (uint32_t i = 0; i < p->n_prompt; i++)
    if (p->prompt[i] < 0 || (uint32_t)p->prompt[i] >= s->m->hp.n_vocab)
      return err_set(e, ERR_INVALID, "token id %d is outside the vocabulary (0..%u)", p->prompt[i],
                     s->m->hp.n_vocab - 1);
  /* The sampler checks its parameters; build a throwaway one here so the error is synchronous. */
  struct sampler *probe = NULL;
  int rc = sampler_new(&p->sample, 1, &probe, e);
  sampler_free(probe);
  if (rc) return rc;
  struct seq *q = calloc(1, sizeof(*q));
  if (!q) return err_set(e, ERR_NOMEM, "out of memory");
  q->prompt = malloc((size_t)p->n_prompt * sizeof(int32_t));
  if (!q->prompt) {
    free(q);
    return err_set(e, ERR_NOMEM, "out of memory");
  }
  memcpy(q->prompt, p->prompt, (size_t)p->n_prompt * sizeof(int32_t));
  q->n_prompt = p->n_prompt;
  q->max_tokens = p->max_tokens;
  q->sp = p->sample;
  q->ignore_eog = p->ignore_eog;
  q->logits_row = -1;
  pthread_mutex_lock(&s->mu);
  if (s->n_pending >= SCHED_MAX_PENDING) {
    pthread_mutex_unlock(&s->mu);
    seq_free(q);
    return err_set(e, ERR_LIMIT, "too many sequences are waiting (%u)", SCHED_MAX_PENDING);
  }
  q->id = s->next_id++;
  if (s->pend_tail) s->pend_tail->next = q;
  else s->pend_head = q;
  s->pend_tail = q;
  s->n_pending++;
  *id = q->id;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->mu);
  return 0;
}

void sched_cancel(struct sched *s, uint64_t id) {
  pthread_mutex_lock(&s->mu);
  for (struct seq **pp = &s->pend_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
    if ((*pp)->id != id) continue;
    struct seq *q = *pp;
    *pp = q->next;
    if (s->pend_tail == q) s->pend_tail = prev;
    s->n_pending--;
    seq_free(q);
    pthread_mutex_unlock(&s->mu);
    return;
  }
  for (uint32_t i = 0; i < s->o.max_seqs; i++)
    if (s->slots[i] && s->slots[i]->id == id) s->slots[i]->cancelled = 1;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->mu);
}

size_t sched_poll(struct sched *s, struct sched_event *ev, size_t cap) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->ev_len < cap ? s->ev_len : cap;
  for (size_t i = 0; i < n; i++) ev[i] = s->ev[(s->ev_head + i) % s->ev_cap];
  s->ev_head = (s->ev_head + n) % s->ev_cap;
  s->ev_len -= n;
  if (n) pthread_cond_signal(&s->space);
  pthread_mutex_unlock(&s->mu);
  return n;
}

void sched_get_stats(struct sched *s, struct sched_stats *out) {
  pthread_mutex_lock(&s->mu);
  *out = s->st;
  out->waiting = s->n_pending;
  out->running = 0;
  for (uint32_t i = 0; i < s->o.max_seqs; i++)
    if (s->slots[i]) out->running++;
  pthread_mutex_unlock(&s->mu);
}
