/* threadpool: fixed worker threads for data-parallel kernels; the calling thread takes a share. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/threadpool.h"

#include <pthread.h>
#include <stdlib.h>

/* Workers sleep on `wake` until `generation` changes, run their share, and the last one to
 * finish signals `done`. Blocking (no spinning) keeps the pool cheap while the daemon's other
 * threads need the CPU; a short spin phase can come with the SIMD kernels. */
struct threadpool {
  uint32_t n;
  pthread_t *threads;
  uint32_t n_started;
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  uint64_t generation;
  uint32_t pending;
  int stop;
  threadpool_job_cb fn;
  void *arg;
};

struct worker_arg {
  struct threadpool *p;
  uint32_t ith;
};

static void *worker_main(void *a) {
  struct worker_arg *wa = a;
  struct threadpool *p = wa->p;
  uint32_t ith = wa->ith;
  free(wa);
  uint64_t seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->stop && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
    if (p->stop) break;
    seen = p->generation;
    threadpool_job_cb fn = p->fn;
    void *arg = p->arg;
    pthread_mutex_unlock(&p->mu);
    fn(arg, ith, p->n);
    pthread_mutex_lock(&p->mu);
    if (--p->pending == 0) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

int threadpool_new(uint32_t n_threads, struct threadpool **out, struct err *e) {
  *out = NULL;
  if (n_threads < 1 || n_threads > THREADPOOL_MAX_THREADS)
    return err_set(e, ERR_INVALID, "thread count %u is outside 1..%u", n_threads, THREADPOOL_MAX_THREADS);
  struct threadpool *p = calloc(1, sizeof(*p));
  if (!p) return err_set(e, ERR_NOMEM, "thread pool: out of memory");
  p->n = n_threads;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
  if (n_threads > 1) {
    p->threads = calloc(n_threads - 1, sizeof(pthread_t));
    if (!p->threads) {
      threadpool_free(p);
      return err_set(e, ERR_NOMEM, "thread pool: out of memory");
    }
  }
  for (uint32_t i = 1; i < n_threads; i++) {
    struct worker_arg *wa = malloc(sizeof(*wa));
    if (!wa) {
      threadpool_free(p);
      return err_set(e, ERR_NOMEM, "thread pool: out of memory");
    }
    wa->p = p;
    wa->ith = i;
    if (pthread_create(&p->threads[i - 1], NULL, worker_main, wa) != 0) {
      free(wa);
      threadpool_free(p);
      return err_set(e, ERR_IO, "thread pool: cannot start thread %u of %u", i + 1, n_threads);
    }
    p->n_started++;
  }
  *out = p;
  return 0;
}

void threadpool_free(struct threadpool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (uint32_t i = 0; i < p->n_started; i++) pthread_join(p->threads[i], NULL);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->mu);
  free(p->threads);
  free(p);
}

uint32_t threadpool_size(const struct threadpool *p) { return p ? p->n : 1; }

void threadpool_run(struct threadpool *p, threadpool_job_cb fn, void *arg) {
  if (!p || p->n == 1) {
    fn(arg, 0, 1);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->arg = arg;
  p->pending = p->n - 1;
  p->generation++;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  fn(arg, 0, p->n);
  pthread_mutex_lock(&p->mu);
  while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}
