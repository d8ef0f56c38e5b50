/* threadpool: fixed worker threads for data-parallel kernels; the calling thread takes a share. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* A job is published by bumping `generation`; each worker runs its share and decrements
 * `pending`. Both sides first spin on the atomics for a short while (the gap between two
 * matrix products of one token is a few microseconds, far less than a futex wake-up), then
 * block on the condition variables, so an idle pool costs no CPU while the daemon's other
 * threads need it. The mutex orders the sleepers with the publisher: a job is published, and
 * the last share reported, with the mutex held, after which sleepers are woken. */
struct threadpool {
  uint32_t n;
  pthread_t *threads;
  uint32_t n_started;
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  _Atomic uint64_t generation;
  _Atomic uint32_t pending;
  _Atomic int stop;
  _Atomic uint32_t sleepers; /* workers blocked (or about to block) on `wake` */
  _Atomic int caller_sleeping;
  threadpool_job_cb fn;
  void *arg;
};

/* About 20-50 µs of PAUSE on current x86 cores: longer than the gaps inside a forward pass,
 * short next to a scheduler time slice. */
#define SPIN_ITERS 4000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

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
  for (;;) {
    uint64_t g = atomic_load_explicit(&p->generation, memory_order_acquire);
    for (int i = 0; i < SPIN_ITERS && g == seen && !atomic_load_explicit(&p->stop, memory_order_relaxed); i++) {
      cpu_relax();
      g = atomic_load_explicit(&p->generation, memory_order_acquire);
    }
    if (g == seen) {
      pthread_mutex_lock(&p->mu);
      atomic_fetch_add_explicit(&p->sleepers, 1, memory_order_relaxed);
      while (!atomic_load_explicit(&p->stop, memory_order_relaxed) &&
             (g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen)
        pthread_cond_wait(&p->wake, &p->mu);
      atomic_fetch_sub_explicit(&p->sleepers, 1, memory_order_relaxed);
      pthread_mutex_unlock(&p->mu);
    }
    if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
    seen = g;
    p->fn(p->arg, ith, p->n);
    /* seq_cst on both sides (here and in threadpool_run): the caller writes caller_sleeping
     * then reads pending, we write pending then read caller_sleeping; one of us sees the other. */
    if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_seq_cst) == 1 &&
        atomic_load_explicit(&p->caller_sleeping, memory_order_seq_cst)) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->mu);
    }
  }
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
  atomic_store(&p->stop, 1);
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
  p->fn = fn;
  p->arg = arg;
  atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
  /* A worker that found no job registers as a sleeper under the mutex before re-checking the
   * generation, so either it sees the new one or it is counted here and woken. */
  pthread_mutex_lock(&p->mu);
  if (atomic_load_explicit(&p->sleepers, memory_order_relaxed) > 0) pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  fn(arg, 0, p->n);
  for (int i = 0; i < SPIN_ITERS && atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) cpu_relax();
  if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->caller_sleeping, 1, memory_order_seq_cst);
    while (atomic_load_explicit(&p->pending, memory_order_seq_cst) > 0) pthread_cond_wait(&p->done, &p->mu);
    atomic_store_explicit(&p->caller_sleeping, 0, memory_order_relaxed);
    pthread_mutex_unlock(&p->mu);
  }
}
