/* sched: continuous batching: one engine thread runs many sequences, one forward pass per step. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_SCHED_H
#define COCOON_ENGINE_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/sample.h"

/* Hard limits of the module. */
#define SCHED_MAX_SEQS 256u         /* sequences decoded together */
#define SCHED_MAX_PENDING 4096u     /* sequences waiting for a slot */
#define SCHED_MAX_PROMPT (1u << 20) /* prompt tokens of one sequence */
#define SCHED_EVENTS_PER_SEQ 256u   /* undrained events per slot before the engine waits */
#define SCHED_KV_STEP 256u          /* positions a cache starts with beyond the prompt */

struct threadpool;

struct sched_opts {
  uint32_t max_seqs;  /* sequences in flight at once (1..SCHED_MAX_SEQS) */
  uint32_t n_ctx;     /* context of each sequence (prompt + generated), <= MODEL_MAX_CTX */
  uint32_t max_batch; /* tokens per forward pass (prompt chunks + one per decoding sequence) */
  struct threadpool *pool; /* borrowed; NULL: the engine thread alone */
};

struct sched_seq_params {
  const int32_t *prompt; /* copied by sched_submit */
  uint32_t n_prompt;     /* >= 1 */
  uint32_t max_tokens;   /* >= 1; also bounded by the context */
  struct sample_params sample;
  int ignore_eog; /* 1: go on through end-of-generation tokens (benchmarks) */
};

enum sched_event_kind {
  SCHED_EV_TOKEN = 1, /* a generated token (an end-of-generation token included) */
  SCHED_EV_DONE = 2,  /* the sequence ended: finish, n_prompt, n_generated */
  SCHED_EV_ERROR = 3, /* the sequence failed: code, msg */
};

struct sched_event {
  uint64_t id;
  enum sched_event_kind kind;
  int32_t token;
  enum generate_finish finish; /* LENGTH (max_tokens or context full) or EOG */
  uint32_t n_prompt, n_generated;
  int code;
  char msg[256];
};

/* Called on the engine thread, without the scheduler's lock, when events become available
 * (at most once per step). It must not call back into the scheduler; wake the owner instead
 * (an eventfd write). */
typedef void (*sched_notify_cb)(void *arg);

struct sched;

/* Starts the engine thread. m is borrowed and must outlive the scheduler. */
CC_NODISCARD int sched_new(const struct model *m, const struct sched_opts *o, sched_notify_cb notify, void *arg,
                           struct sched **out, struct err *e);
/* Stops the thread (after the current step) and frees every sequence. NULL-safe. */
void sched_free(struct sched *s);

/* Queues a sequence; it starts at the next step with a free slot. *id identifies its events.
 * ERR_LIMIT when too many wait or the prompt does not fit the context, ERR_INVALID for bad
 * parameters or token ids, ERR_NOMEM. Thread-safe. */
CC_NODISCARD int sched_submit(struct sched *s, const struct sched_seq_params *p, uint64_t *id, struct err *e);
/* Ends a sequence: its slot is freed before the next step and no more events come for it
 * (events already queued may still be polled). Unknown ids are ignored. Thread-safe. */
void sched_cancel(struct sched *s, uint64_t id);
/* Moves up to cap queued events into ev (in order); returns the count. Thread-safe. */
size_t sched_poll(struct sched *s, struct sched_event *ev, size_t cap);

/* Counters since start (a snapshot, thread-safe). */
struct sched_stats {
  uint64_t steps, tokens_prompt, tokens_generated, seqs_done;
  uint32_t running, waiting;
  uint32_t max_batch_seen; /* most sequences in one step */
};
void sched_get_stats(struct sched *s, struct sched_stats *out);

#endif
