/* bench/ledger: committed requests per second through the ledger's real group-commit path. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "ledger/billing.h"
#include "ledger/ledger.h"
#include "loop/loop.h"

/* Usage: cocoon-bench-ledger [SECONDS (5)] [QUEUE_MAX (16384)] [DIR (/tmp)] */

struct tally {
  uint64_t items, batches, write_us, max_batch;
  int failed;
};

static void committed_cb(void *arg, const struct ledger_batch *b) {
  struct tally *t = arg;
  if (b->rc) {
    if (!t->failed) fprintf(stderr, "bench: %s\n", b->error);
    t->failed = 1;
    return;
  }
  t->items += b->n;
  t->batches++;
  t->write_us += b->write_us;
  if (b->n > t->max_batch) t->max_batch = b->n;
}

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t rnd(uint64_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng % n;
}

int main(int argc, char **argv) {
  int64_t secs = 5, qmax = 16384;
  const char *dir = argc > 3 ? argv[3] : "/tmp";
  if ((argc > 1 && util_parse_i64(argv[1], 1, 3600, &secs) != 0) ||
      (argc > 2 && util_parse_i64(argv[2], 1, LEDGER_QUEUE_MAX, &qmax) != 0)) {
    fprintf(stderr, "usage: %s [SECONDS] [QUEUE_MAX] [DIR]\n", argv[0]);
    return 2;
  }
  char tmpl[256], path[300], p2[320];
  snprintf(tmpl, sizeof(tmpl), "%s/cocoon-bench-ledger.XXXXXX", dir);
  if (!mkdtemp(tmpl)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof(path), "%s/ledger.db", tmpl);
  uint8_t seed[LEDGER_KEY_SIZE];
  util_random(seed, sizeof(seed));
  struct loop *loop;
  struct ledger *l;
  struct err e = {0};
  struct tally t = {0};
  struct ledger_opts o = {.queue_max = (size_t)qmax, .committed_cb = committed_cb, .cb_arg = &t};
  if (loop_new(&loop) != 0 || ledger_open(path, seed, loop, &o, &l, &e) != 0) {
    fprintf(stderr, "bench: %s\n", e.msg);
    return 1;
  }
  enum { CLIENTS = 1000, WORKERS = 100 };
  char clients[CLIENTS][24], workers[WORKERS][24], id[40];
  for (int i = 0; i < CLIENTS; i++) snprintf(clients[i], sizeof(clients[i]), "0:client%04d", i);
  for (int i = 0; i < WORKERS; i++) snprintf(workers[i], sizeof(workers[i]), "0:worker%03d", i);
  struct billing_prices prices;
  billing_prices_init(&prices, 20, 19);
  uint64_t queued = 0, t0 = util_mono_us(), end = t0 + (uint64_t)secs * 1000000u, enqueue_us = 0;
  while (util_mono_us() < end && !t.failed) {
    uint64_t e0 = util_mono_us();
    for (;;) {
      snprintf(id, sizeof(id), "%016llx", (unsigned long long)queued);
      struct ledger_request r = {.request_id = id, .client = clients[rnd(CLIENTS)],
                                 .worker = workers[rnd(WORKERS)], .model = "Qwen/Qwen3-32B",
                                 .coefficient = 1000, .prices = prices};
      r.usage.prompt_tokens = 50 + (int64_t)rnd(2000);
      r.usage.cached_tokens = (int64_t)rnd((uint64_t)r.usage.prompt_tokens);
      r.usage.completion_tokens = 1 + (int64_t)rnd(1000);
      r.usage.reasoning_tokens = (int64_t)rnd((uint64_t)r.usage.completion_tokens);
      if (ledger_record_request(l, &r, queued, NULL, &e) != 0) break;
      queued++;
    }
    enqueue_us += util_mono_us() - e0;
    if (e.code != ERR_AGAIN) {
      fprintf(stderr, "bench: %s\n", e.msg);
      break;
    }
    if (loop_run_once(loop, 100) != 0) break;
  }
  uint64_t window_us = util_mono_us() - t0;
  uint64_t committed_in_window = t.items, batches_in_window = t.batches, write_us = t.write_us;
  if (ledger_close(l, &e) != 0) fprintf(stderr, "bench: %s\n", e.msg);
  loop_free(loop);

  struct ledger_verify_stats st;
  uint64_t v0 = util_mono_us();
  int vrc = ledger_verify(path, seed, NULL, NULL, 5, &st, &e);
  uint64_t verify_us = util_mono_us() - v0;
  double s = (double)window_us / 1e6;
  printf("ledger bench: %.1f s, queue_max %lld, file in %s (WAL, synchronous=FULL)\n", s, (long long)qmax, dir);
  printf("committed requests/s: %.0f (durable, fsync'd)\n", (double)committed_in_window / s);
  printf("commits (fsync) /s:   %.1f\n", (double)batches_in_window / s);
  printf("average batch:        %.1f requests (max %llu)\n",
         batches_in_window ? (double)committed_in_window / (double)batches_in_window : 0.0,
         (unsigned long long)t.max_batch);
  printf("average commit time:  %.2f ms (transaction incl. fsync, writer thread)\n",
         batches_in_window ? (double)write_us / (double)batches_in_window / 1000.0 : 0.0);
  printf("loop thread enqueue:  %.2f us per request\n", queued ? (double)enqueue_us / (double)queued : 0.0);
  printf("verify after close:   %s, %lld requests in %.2f s\n", vrc == 0 ? "ok" : e.msg, (long long)st.requests,
         (double)verify_us / 1e6);
  printf("target >= 20000 requests/s: %s\n", (double)committed_in_window / s >= 20000 ? "met" : "NOT met");
  const char *sfx[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(p2, sizeof(p2), "%s%s", path, sfx[i]);
    unlink(p2);
  }
  rmdir(tmpl);
  return vrc == 0 && !t.failed ? 0 : 1;
}
