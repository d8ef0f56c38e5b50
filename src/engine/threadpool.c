/* threadpool: fixed worker threads for data-parallel kernels; the calling thread takes a share. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* A job is n shares (n = the pool size). The caller publishes it by storing a new generation
 * in `claim` (generation << 32 | next share); then every participant, the caller included,
 * claims shares with a compare-and-swap that also checks the generation, runs them, and counts
 * them in `finished`. The caller returns when all n are finished, not when every worker has
 * reported: a worker the OS has not scheduled yet (the machine is shared) finds the shares
 * taken when it wakes and does nothing, instead of holding the caller at the barrier for its
 * time slice. Since a share is claimed only while its generation is current, and the caller
 * waits for every claimed share to finish, a late worker never touches a finished job.
 * Waiting (workers for a job, the caller for the last shares) first spins on the atomics for
 * a short while (the gap between two matrix products of one token is a few microseconds, far
 * less than a futex wake-up), then blocks on the condition variables, so an idle pool costs no
 * CPU while the daemon's other threads need it. The mutex orders the sleepers with the
 * publisher: a job is published, and the last share reported, with the mutex held, after
 * which sleepers are woken. */
struct threadpool {
  uint32_t n;
  pthread_t *threads;
  uint32_t n_started;
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  uint32_t gen;              /* the caller's: generation of the last job */
  _Atomic uint64_t claim;    /* generation << 32 | next unclaimed share */
  _Atomic uint32_t finished; /* shares of the current job run to the end */
  _Atomic int stop;
  _Atomic uint32_t sleepers; /* workers blocked (or about to block) on `wake` */
  _Atomic int caller_sleeping;
  _Atomic(threadpool_job_cb) fn;
  _Atomic(void *) arg;
};

/* About 20-50 µs of PAUSE on current x86 cores: longer than the gaps inside a forward pass,
 * short next to a scheduler time slice. */
#define SPIN_ITERS 4000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}


/* Claims and runs shares of generation `gen` until none is left. */
static void run_shares(struct threadpool *p, uint32_t gen) {
  for (;;) {
    uint64_t v = atomic_load_explicit(&p->claim, memory_order_acquire);
    if ((uint32_t)(v >> 32) != gen || (uint32_t)v >= p->n) return;
    /* Read before the claim: if the claim succeeds, no newer job can have been published. */
    threadpool_job_cb fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
    void *arg = atomic_load_explicit(&p->arg, memory_order_relaxed);
    if (!atomic_compare_exchange_weak_explicit(&p->claim, &v, v + 1, memory_order_acq_rel, memory_order_relaxed))
      continue;
    fn(arg, (uint32_t)v, p->n);
    /* seq_cst on both sides (here and in threadpool_run): the caller writes caller_sleeping
     * then reads finished, we write finished then read caller_sleeping; one sees the other. */
    if (atomic_fetch_add_explicit(&p->finished, 1, memory_order_seq_cst) + 1 == p->n &&
        atomic_load_explicit(&p->caller_sleeping, memory_order_seq_cst)) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->mu);
    }
  }
}

static void *worker_main(void *a) {
  struct threadpool *p = a;
  uint32_t seen = 0;
  for (;;) {
    uint32_t g = (uint32_t)(atomic_load_explicit(&p->claim, memory_order_acquire) >> 32);
    for (int i = 0; i < SPIN_ITERS && g == seen && !atomic_load_explicit(&p->stop, memory_order_relaxed); i++) {
      cpu_relax();
      g = (uint32_t)(atomic_load_explicit(&p->claim, memory_order_acquire) >> 32);
    }
    if (g == seen) {
      pthread_mutex_lock(&p->mu);
      atomic_fetch_add_explicit(&p->sleepers, 1, memory_order_relaxed);
      while (!atomic_load_explicit(&p->stop, memory_order_relaxed) &&
             (g = (uint32_t)(atomic_load_explicit(&p->claim, memory_order_acquire) >> 32)) == seen)
        pthread_cond_wait(&p->wake, &p->mu);
      atomic_fetch_sub_explicit(&p->sleepers, 1, memory_order_relaxed);
      pthread_mutex_unlock(&p->mu);
    }
    if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
    seen = g;
    run_shares(p, g);
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
    if (pthread_create(&p->threads[i - 1], NULL, worker_main, p) != 0) {
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
  /* The previous job is finished (every share claimed and run), so nothing reads these now. */
  atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
  atomic_store_explicit(&p->arg, arg, memory_order_relaxed);
  atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
  p->gen++;
  atomic_store_explicit(&p->claim, (uint64_t)p->gen << 32, memory_order_release);
  /* A worker that found no job registers as a sleeper under the mutex before re-checking the
   * generation, so either it sees the new one or it is counted here and woken. */
  pthread_mutex_lock(&p->mu);
  if (atomic_load_explicit(&p->sleepers, memory_order_relaxed) > 0) pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  run_shares(p, p->gen);
  for (int i = 0; i < SPIN_ITERS && atomic_load_explicit(&p->finished, memory_order_acquire) < p->n; i++) cpu_relax();
  if (atomic_load_explicit(&p->finished, memory_order_acquire) < p->n) {
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->caller_sleeping, 1, memory_order_seq_cst);
    while (atomic_load_explicit(&p->finished, memory_order_seq_cst) < p->n) pthread_cond_wait(&p->done, &p->mu);
    atomic_store_explicit(&p->caller_sleeping, 0, memory_order_relaxed);
    pthread_mutex_unlock(&p->mu);
  }
}
