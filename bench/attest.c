/* bench/attest: RA-TLS handshakes per second under the any, sim and tdx policies, cached and
 * uncached, and raw DCAP verifications of a real TDX quote. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "attest/policy.h"
#include "attest/provider.h"
#include "attest/quote.h"
#include "attest/sim.h"
#include "attest/testquote.h" /* a self-made PCK chain: tdx handshakes on any machine */
#include "attest/verify.h"
#include "base/buf.h"
#include "base/util.h"
#include "net/ratls.h"
#include "net/tls.h"

/* Usage: cocoon-bench-attest [SECONDS per case (2)] [REAL_QUOTE_FILE] */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct err *e) {
  fprintf(stderr, "bench-attest: %s: %s\n", what, e ? e->msg : "");
  exit(1);
}

/* One full mutual TLS 1.3 handshake over a socketpair, both ends driven from this thread. */
static void handshake(struct tls_ctx *cli, struct tls_ctx *srv) {
  int sv[2];
  struct err e = {0};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) die("socketpair", NULL);
  struct tls_conn c = {0}, s = {0};
  if (tls_conn_init(&c, cli, sv[0], &e) != 0 || tls_conn_init(&s, srv, sv[1], &e) != 0)
    die("tls_conn_init", &e);
  int cd = 0, sd = 0;
  for (int i = 0; i < 1000 && !(cd && sd); i++) {
    if (!cd) {
      int rc = tls_conn_handshake(&c, &e);
      if (rc == 0) cd = 1;
      else if (rc != ERR_AGAIN) die("client handshake", &e);
    }
    if (!sd) {
      int rc = tls_conn_handshake(&s, &e);
      if (rc == 0) sd = 1;
      else if (rc != ERR_AGAIN) die("server handshake", &e);
    }
  }
  if (!(cd && sd)) die("handshake did not finish", NULL);
  tls_conn_cleanup(&c);
  tls_conn_cleanup(&s);
  close(sv[0]);
  close(sv[1]);
}

/* An identity whose certificate carries `quote` (made for its key by make_quote, if given). */
typedef int (*quote_fn)(void *arg, const uint8_t pub[32], struct buf *out);

static struct ratls_identity *identity(quote_fn make_quote, void *arg) {
  uint8_t seed[32], pub[32];
  size_t publen = sizeof(pub);
  struct err e = {0};
  util_random(seed, sizeof(seed));
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
  if (!k || EVP_PKEY_get_raw_public_key(k, pub, &publen) != 1) die("ed25519", NULL);
  EVP_PKEY_free(k);
  struct buf q;
  buf_init(&q, ATTEST_QUOTE_MAX);
  if (make_quote && make_quote(arg, pub, &q) != 0) die("quote", NULL);
  struct ratls_cert_opts o = {.seed = seed, .quote = q.len ? buf_ptr(&q) : NULL, .quote_len = q.len,
                              .user_claims = 1};
  struct ratls_identity *id = NULL;
  if (ratls_identity_generate(&o, &id, &e) != 0) die("identity", &e);
  buf_free(&q);
  return id;
}

static int sim_quote(void *arg, const uint8_t pub[32], struct buf *out) {
  struct err e = {0};
  return attest_provider_quote(arg, pub, out, &e);
}

static struct tq_pki g_pki;
static int tdx_quote(void *arg, const uint8_t pub[32], struct buf *out) {
  (void)arg;
  uint8_t rd[ATTEST_REPORT_DATA_LEN];
  size_t len = 0;
  if (attest_report_data_for_key(pub, rd) != 0) return -1;
  uint8_t *q = tq_build(&g_pki, 4, ATTEST_BODY_TD10, rd, 0, &len, NULL);
  if (!q) return -1;
  int rc = buf_append(out, q, len);
  free(q);
  return rc;
}

static struct tls_ctx *ctx(enum tls_role role, struct ratls_identity *id, struct ratls_policy *pol) {
  struct tls_ctx *c = NULL;
  struct err e = {0};
  if (tls_ctx_new(role, id, pol, &c, &e) != 0) die("tls_ctx_new", &e);
  return c;
}

/* Runs handshakes for `secs` seconds, alternating over n client/server pairs (n = 2 with a
 * one-entry cache makes every verification a miss). */
static void run_case(const char *name, struct tls_ctx **cli, struct tls_ctx **srv, int n,
                     double secs, struct attest_policy *pol) {
  handshake(cli[0], srv[0]); /* warm-up */
  uint64_t count = 0;
  double t0 = now_s(), t;
  do {
    for (int i = 0; i < 16; i++) handshake(cli[count % (uint64_t)n], srv[count % (uint64_t)n]), count++;
    t = now_s();
  } while (t - t0 < secs);
  double rate = (double)count / (t - t0);
  printf("%-22s %9.0f handshakes/s  %8.1f us/handshake", name, rate, 1e6 / rate);
  if (pol) {
    struct attest_policy_stats st;
    attest_policy_get_stats(pol, &st);
    double hits = st.cache_hits + st.cache_misses ? 100.0 * (double)st.cache_hits /
                                                        (double)(st.cache_hits + st.cache_misses)
                                                  : 0;
    printf("  (policy cache hits %.0f%%)", hits);
  }
  printf("\n");
}

static struct attest_policy *policy(enum attest_policy_kind kind, const uint8_t *sim_key,
                                    const uint8_t *root, size_t cache_max) {
  struct attest_policy_opts o = {.kind = kind, .sim_platform_key = sim_key, .tdx_root_key = root,
                                 .cache_max = cache_max};
  struct attest_policy *p = NULL;
  struct err e = {0};
  if (attest_policy_new(&o, &p, &e) != 0) die("policy", &e);
  return p;
}

/* A kind's four contexts per pair: client and server identities, both ends under `pol`. */
static void make_pairs(quote_fn qf, void *arg, struct attest_policy *pol, struct ratls_policy *raw,
                       struct tls_ctx **cli, struct tls_ctx **srv, struct ratls_identity **ids, int n) {
  struct ratls_policy *rp = pol ? attest_policy_ratls(pol) : raw;
  for (int i = 0; i < n; i++) {
    ids[2 * i] = identity(qf, arg);
    ids[2 * i + 1] = identity(qf, arg);
    cli[i] = ctx(TLS_CLIENT, ids[2 * i], rp);
    srv[i] = ctx(TLS_SERVER, ids[2 * i + 1], rp);
  }
}

static void free_pairs(struct tls_ctx **cli, struct tls_ctx **srv, struct ratls_identity **ids, int n) {
  for (int i = 0; i < n; i++) {
    tls_ctx_unref(cli[i]);
    tls_ctx_unref(srv[i]);
    ratls_identity_free(ids[2 * i]);
    ratls_identity_free(ids[2 * i + 1]);
  }
}

static void real_quote(const char *path, double secs) {
  static uint8_t data[ATTEST_QUOTE_MAX];
  FILE *f = fopen(path, "rb");
  if (!f) {
    printf("%-22s skipped (%s not found)\n", "tdx verify real quote", path);
    return;
  }
  size_t n = fread(data, 1, sizeof(data), f);
  fclose(f);
  struct attest_quote q;
  struct err e = {0};
  if (attest_quote_parse(data, n, &q, &e) != 0) die("real quote", &e);
  /* The real chains are valid on 2026-11-25 (their README's check date). */
  struct attest_verify_opts o = {.now = 1795564800, .root_key = NULL, .collateral = NULL};
  struct attest_verify_result r;
  uint64_t count = 0;
  double t0 = now_s(), t;
  do {
    for (int i = 0; i < 16; i++) {
      if (attest_quote_verify(&q, &o, &r, &e) != 0) die("real quote verify", &e);
      count++;
    }
    t = now_s();
  } while (t - t0 < secs);
  double rate = (double)count / (t - t0);
  printf("%-22s %9.0f verifies/s    %8.1f us/verify (parse not included; %s)\n",
         "tdx verify real quote", rate, 1e6 / rate, path);
}

int main(int argc, char **argv) {
  double secs = argc > 1 ? strtod(argv[1], NULL) : 2.0;
  const char *real = argc > 2 ? argv[2] : NULL;
  if (secs <= 0) secs = 2.0;
  struct err e = {0};
  struct tls_ctx *cli[2], *srv[2];
  struct ratls_identity *ids[4];
  printf("RA-TLS mutual handshakes over a socketpair, one thread drives both ends;\n"
         "each handshake verifies two certificates (one per side). %.1f s per case.\n\n", secs);

  make_pairs(NULL, NULL, NULL, ratls_policy_any(), cli, srv, ids, 1);
  run_case("any", cli, srv, 1, secs, NULL);
  free_pairs(cli, srv, ids, 1);

  struct attest_sim_platform *plat = NULL;
  if (attest_sim_platform_generate(&plat, &e) != 0) die("sim platform", &e);
  static const uint8_t cfg[ATTEST_MR_LEN] = {1};
  struct attest_provider_opts po = {.kind = ATTEST_PROVIDER_SIM, .sim_platform = plat,
                                    .sim_config_measure = cfg};
  struct attest_provider *prov = NULL;
  if (attest_provider_new(&po, &prov, &e) != 0) die("sim provider", &e);
  struct attest_policy *pol = policy(ATTEST_POLICY_SIM, attest_sim_platform_pubkey(plat), NULL, 0);
  make_pairs(sim_quote, prov, pol, NULL, cli, srv, ids, 1);
  run_case("sim (cached)", cli, srv, 1, secs, pol);
  free_pairs(cli, srv, ids, 1);
  attest_policy_free(pol);
  pol = policy(ATTEST_POLICY_SIM, attest_sim_platform_pubkey(plat), NULL, 1);
  make_pairs(sim_quote, prov, pol, NULL, cli, srv, ids, 2);
  run_case("sim (uncached)", cli, srv, 2, secs, pol);
  free_pairs(cli, srv, ids, 2);
  attest_policy_free(pol);
  attest_provider_free(prov);
  attest_sim_platform_free(plat);

  int64_t t0 = (int64_t)time(NULL);
  if (tq_pki_make(&g_pki, t0, t0 - 86400, t0 + 86400) != 0) die("test PCK chain", NULL);
  pol = policy(ATTEST_POLICY_TDX, NULL, g_pki.root_xy, 0);
  make_pairs(tdx_quote, NULL, pol, NULL, cli, srv, ids, 1);
  run_case("tdx (cached)", cli, srv, 1, secs, pol);
  free_pairs(cli, srv, ids, 1);
  attest_policy_free(pol);
  pol = policy(ATTEST_POLICY_TDX, NULL, g_pki.root_xy, 1);
  make_pairs(tdx_quote, NULL, pol, NULL, cli, srv, ids, 2);
  run_case("tdx (uncached)", cli, srv, 2, secs, pol);
  free_pairs(cli, srv, ids, 2);
  attest_policy_free(pol);
  tq_pki_free(&g_pki);

  if (real) real_quote(real, secs);
  return 0;
}
