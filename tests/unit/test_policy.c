/* test_policy: quote providers (none, fake_tdx, sim, tdx) and RA-TLS policies, allowlists, cache. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "attest/policy.h"
#include "attest/provider.h"
#include "attest/sim.h"
#include "attest/testquote.h"
#include "base/util.h"
#include "net/ratls.h"

static int64_t g_now;
static int64_t fake_clock(void *arg) {
  (void)arg;
  return g_now;
}

static void random_key(uint8_t pub[32]) { util_random(pub, 32); }

static struct attest_policy *make_policy(enum attest_policy_kind kind, const uint8_t *sim_key,
                                         const uint8_t *root) {
  struct attest_policy_opts o = {.kind = kind, .sim_platform_key = sim_key, .tdx_root_key = root,
                                 .clock_cb = fake_clock};
  struct attest_policy *p = NULL;
  struct err e = {0};
  assert_int_equal(attest_policy_new(&o, &p, &e), 0);
  return p;
}

static struct attest_provider *make_provider(enum attest_provider_kind kind,
                                             const struct attest_sim_platform *plat) {
  static const uint8_t cfg_measure[ATTEST_MR_LEN] = {1, 2, 3};
  struct attest_provider_opts o = {.kind = kind, .sim_platform = plat, .sim_config_measure = cfg_measure};
  struct attest_provider *p = NULL;
  struct err e = {0};
  int rc = attest_provider_new(&o, &p, &e);
  if (rc) fail_msg("provider: %s", e.msg);
  return p;
}

static void quote_for(struct attest_provider *pr, const uint8_t pub[32], struct buf *q) {
  struct err e = {0};
  buf_init(q, ATTEST_QUOTE_MAX);
  assert_int_equal(attest_provider_quote(pr, pub, q, &e), 0);
}

/* ---------------------------------------------------------------- fake_tdx */

static void test_fake_tdx(void **state) {
  (void)state;
  g_now = time(NULL);
  uint8_t pub[32], other[32];
  random_key(pub);
  random_key(other);
  struct attest_provider *pr = make_provider(ATTEST_PROVIDER_FAKE_TDX, NULL);
  struct attest_policy *pol = make_policy(ATTEST_POLICY_FAKE_TDX, NULL, NULL);
  struct buf q;
  quote_for(pr, pub, &q);
  assert_int_equal(q.len, 64);
  uint8_t rd[64];
  assert_int_equal(attest_report_data_for_key(pub, rd), 0);
  assert_memory_equal(buf_ptr(&q), rd, 64);

  struct ratls_peer peer;
  memset(&peer, 0, sizeof(peer));
  struct err e = {0};
  assert_int_equal(attest_policy_check(pol, buf_ptr(&q), q.len, pub, &peer, &e), 0);
  assert_int_equal(peer.attested, 1);
  /* COCOON's fake image hash: SHA-256 of 448 zero bytes. */
  uint8_t zeros[448] = {0}, want[32];
  SHA256(zeros, sizeof(zeros), want);
  assert_memory_equal(peer.image_hash, want, 32);

  /* Wrong report data: the quote of another key. */
  e = (struct err){0};
  assert_int_equal(attest_policy_check(pol, buf_ptr(&q), q.len, other, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "report data does not match"));
  /* Wrong length. */
  e = (struct err){0};
  assert_int_equal(attest_policy_check(pol, buf_ptr(&q), 63, pub, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "64 bytes"));
  /* No quote. */
  e = (struct err){0};
  assert_int_equal(attest_policy_check(pol, NULL, 0, pub, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "no quote"));
  buf_free(&q);
  attest_policy_free(pol);
  attest_provider_free(pr);
}

/* ---------------------------------------------------------------- none / any */

static void test_none_and_any(void **state) {
  (void)state;
  uint8_t pub[32];
  random_key(pub);
  struct attest_provider *pr = make_provider(ATTEST_PROVIDER_NONE, NULL);
  struct buf q;
  quote_for(pr, pub, &q);
  assert_int_equal(q.len, 0);
  struct attest_td_report td;
  assert_int_equal(attest_provider_td(pr, &td), ERR_NOTFOUND);
  struct attest_policy *any = make_policy(ATTEST_POLICY_ANY, NULL, NULL);
  struct ratls_peer peer;
  memset(&peer, 0, sizeof(peer));
  struct err e = {0};
  assert_int_equal(attest_policy_check(any, NULL, 0, pub, &peer, &e), 0);
  assert_int_equal(peer.attested, 0);
  attest_policy_free(any);

  /* `any` with an allowlist is a configuration error, as in COCOON. */
  uint8_t h[1][32] = {{0}};
  struct attest_policy_opts o = {.kind = ATTEST_POLICY_ANY, .image_hashes = (const uint8_t(*)[32])h,
                                 .n_image_hashes = 1};
  struct attest_policy *p = NULL;
  assert_int_equal(attest_policy_new(&o, &p, &e), ERR_INVALID);
  assert_null(p);
  /* sim needs its platform key. */
  o = (struct attest_policy_opts){.kind = ATTEST_POLICY_SIM};
  assert_int_equal(attest_policy_new(&o, &p, &e), ERR_INVALID);

  enum attest_policy_kind k;
  assert_int_equal(attest_policy_kind_parse("sim", &k, &e), 0);
  assert_int_equal(k, ATTEST_POLICY_SIM);
  assert_int_equal(attest_policy_kind_parse("tdx2", &k, &e), ERR_INVALID);
  enum attest_provider_kind pk;
  assert_int_equal(attest_provider_kind_parse("tdx", &pk, &e), 0);
  assert_int_equal(pk, ATTEST_PROVIDER_TDX);
  assert_int_equal(attest_provider_kind_parse("any", &pk, &e), ERR_INVALID);
  buf_free(&q);
  attest_provider_free(pr);
}

/* ---------------------------------------------------------------- sim */

static void test_sim_accepts_and_refuses(void **state) {
  (void)state;
  g_now = time(NULL);
  struct err e = {0};
  struct attest_sim_platform *plat = NULL, *other_plat = NULL;
  assert_int_equal(attest_sim_platform_generate(&plat, &e), 0);
  assert_int_equal(attest_sim_platform_generate(&other_plat, &e), 0);
  uint8_t pub[32], other[32];
  random_key(pub);
  random_key(other);
  struct attest_provider *pr = make_provider(ATTEST_PROVIDER_SIM, plat);
  struct attest_policy *pol = make_policy(ATTEST_POLICY_SIM, attest_sim_platform_pubkey(plat), NULL);
  struct buf q;
  quote_for(pr, pub, &q);
  assert_int_equal(q.len, ATTEST_SIM_QUOTE_LEN);

  struct ratls_peer peer;
  memset(&peer, 0, sizeof(peer));
  assert_int_equal(attest_policy_check(pol, buf_ptr(&q), q.len, pub, &peer, &e), 0);
  assert_int_equal(peer.attested, 1);
  struct attest_td_report td;
  assert_int_equal(attest_provider_td(pr, &td), 0);
  uint8_t ih[32];
  assert_int_equal(attest_image_hash(&td, ih), 0);
  assert_memory_equal(peer.image_hash, ih, 32);
  assert_memory_equal(peer.m.mr_td, td.mrtd, 48);
  assert_int_equal(peer.m.rtmr[0][0], 1);
  assert_int_equal(peer.m.rtmr[0][2], 3);
  /* MRTD is SHA-384 of the running binary: not all zero. */
  static const uint8_t zero48[48];
  assert_memory_not_equal(td.mrtd, zero48, 48);

  /* The quote bound to another key. */
  e = (struct err){0};
  assert_int_equal(attest_policy_check(pol, buf_ptr(&q), q.len, other, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "report data does not match"));

  /* A flipped byte anywhere is refused (magic/version/reserved as malformed, the rest by the
   * signature or the platform key check). */
  for (size_t i = 0; i < q.len; i++) {
    uint8_t *c = malloc(q.len);
    assert_non_null(c);
    memcpy(c, buf_ptr(&q), q.len);
    c[i] ^= 0x01;
    e = (struct err){0};
    int rc = attest_policy_check(pol, c, q.len, pub, NULL, &e);
    if (rc == 0) fail_msg("flipped byte %zu accepted", i);
    assert_int_equal(rc, ERR_REFUSED);
    free(c);
  }
  /* Truncated and extended quotes. */
  assert_int_equal(attest_policy_check(pol, buf_ptr(&q), q.len - 1, pub, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "sim quote"));

  /* Signed by another platform key. */
  struct attest_provider *pr2 = make_provider(ATTEST_PROVIDER_SIM, other_plat);
  struct buf q2;
  quote_for(pr2, pub, &q2);
  e = (struct err){0};
  assert_int_equal(attest_policy_check(pol, buf_ptr(&q2), q2.len, pub, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "another platform key"));
  /* ... even when it claims the trusted key: a forgery needs the platform's private key. */
  uint8_t *q2p = buf_ptr(&q2);
  if (!q2p) abort(); /* tells the optimiser too: buf_ptr is NULL only for an empty buffer */
  memcpy(q2p + 12, attest_sim_platform_pubkey(plat), 32);
  e = (struct err){0};
  assert_int_equal(attest_policy_check(pol, buf_ptr(&q2), q2.len, pub, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "signature"));

  /* A sim quote never passes a tdx policy (different format: the parse fails). */
  struct attest_policy *tdx = make_policy(ATTEST_POLICY_TDX, NULL, NULL);
  e = (struct err){0};
  assert_int_equal(attest_policy_check(tdx, buf_ptr(&q), q.len, pub, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "tdx quote"));
  /* Nor a fake_tdx one. */
  struct attest_policy *fake = make_policy(ATTEST_POLICY_FAKE_TDX, NULL, NULL);
  assert_int_equal(attest_policy_check(fake, buf_ptr(&q), q.len, pub, NULL, &e), ERR_REFUSED);

  struct attest_policy_stats st;
  attest_policy_get_stats(pol, &st);
  assert_int_equal(st.accepted, 1);
  assert_true(st.refused > q.len);

  attest_policy_free(fake);
  attest_policy_free(tdx);
  buf_free(&q2);
  buf_free(&q);
  attest_provider_free(pr2);
  attest_provider_free(pr);
  attest_policy_free(pol);
  attest_sim_platform_free(other_plat);
  attest_sim_platform_free(plat);
}

static void test_sim_platform_file(void **state) {
  (void)state;
  char dir[] = "/tmp/cocoon-pol.XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof(path), "%s/platform.pem", dir);
  struct err e = {0};
  struct attest_sim_platform *a = NULL, *b = NULL;
  assert_int_equal(attest_sim_platform_load(path, 0, &a, &e), ERR_IO);
  assert_int_equal(attest_sim_platform_load(path, 1, &a, &e), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(attest_sim_platform_load(path, 1, &b, &e), 0);
  assert_memory_equal(attest_sim_platform_pubkey(a), attest_sim_platform_pubkey(b), 32);
  attest_sim_platform_free(b);
  b = NULL;
  assert_int_equal(chmod(path, 0644), 0);
  assert_int_equal(attest_sim_platform_load(path, 1, &b, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "chmod 600"));
  attest_sim_platform_free(a);
  unlink(path);
  rmdir(dir);
}

/* ---------------------------------------------------------------- tdx */

static void test_tdx_policy(void **state) {
  (void)state;
  int64_t t0 = time(NULL);
  g_now = t0;
  struct tq_pki pki;
  assert_int_equal(tq_pki_make(&pki, t0, t0 - 86400, t0 + 30 * 86400), 0);
  uint8_t pub[32], other[32], rd[64];
  random_key(pub);
  random_key(other);
  assert_int_equal(attest_report_data_for_key(pub, rd), 0);
  size_t qlen = 0;
  uint8_t *q = tq_build(&pki, 4, ATTEST_BODY_TD10, rd, 0, &qlen, NULL);
  assert_non_null(q);
  struct attest_policy *pol = make_policy(ATTEST_POLICY_TDX, NULL, pki.root_xy);
  struct ratls_peer peer;
  memset(&peer, 0, sizeof(peer));
  struct err e = {0};
  assert_int_equal(attest_policy_check(pol, q, qlen, pub, &peer, &e), 0);
  assert_int_equal(peer.attested, 1);
  struct attest_quote pq;
  assert_int_equal(attest_quote_parse(q, qlen, &pq, &e), 0);
  uint8_t ih[32];
  assert_int_equal(attest_image_hash(&pq.td, ih), 0);
  assert_memory_equal(peer.image_hash, ih, 32);
  assert_memory_equal(peer.m.mr_td, pq.td.mrtd, 48);
  assert_memory_equal(peer.m.reportdata, rd, 64);

  /* Collateral root allowlist: the test root passes when listed; a list of only Intel's root refuses it. */
  {
    uint8_t roots[2][48];
    uint8_t point[65] = {0x04};
    memcpy(point + 1, attest_intel_sgx_root_key, 64);
    SHA384(point, sizeof(point), roots[0]);
    memcpy(roots[1], peer.m.collateral_root_hash, 48);
    struct attest_policy_opts co = {.kind = ATTEST_POLICY_TDX, .tdx_root_key = pki.root_xy,
                                    .collateral_roots = (const uint8_t(*)[48])roots, .n_collateral_roots = 2,
                                    .clock_cb = fake_clock};
    struct attest_policy *cp = NULL;
    assert_int_equal(attest_policy_new(&co, &cp, &e), 0);
    assert_int_equal(attest_policy_check(cp, q, qlen, pub, NULL, &e), 0);
    attest_policy_free(cp);
    co.n_collateral_roots = 1;
    assert_int_equal(attest_policy_new(&co, &cp, &e), 0);
    e = (struct err){0};
    assert_int_equal(attest_policy_check(cp, q, qlen, pub, NULL, &e), ERR_REFUSED);
    char rhex[97], want[160];
    util_hex(roots[1], 48, rhex);
    snprintf(want, sizeof(want), "collateral root %s not in allowlist", rhex);
    assert_non_null(strstr(e.msg, want));
    attest_policy_free(cp);
    /* Only tdx peers have a collateral root. */
    co.kind = ATTEST_POLICY_FAKE_TDX;
    assert_int_equal(attest_policy_new(&co, &cp, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "only policy tdx has a collateral root"));
  }

  /* Moved to another key: refused, also when the verdict comes from the cache. */
  e = (struct err){0};
  assert_int_equal(attest_policy_check(pol, q, qlen, other, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "report data does not match"));
  struct attest_policy_stats st;
  attest_policy_get_stats(pol, &st);
  assert_int_equal(st.cache_hits, 1);

  /* Under the real Intel root the self-made chain fails. */
  struct attest_policy *intel = make_policy(ATTEST_POLICY_TDX, NULL, NULL);
  e = (struct err){0};
  assert_int_equal(attest_policy_check(intel, q, qlen, pub, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "pck_chain"));
  /* A tdx quote under a sim policy: not a sim quote. */
  uint8_t k[32] = {9};
  struct attest_policy *sim = make_policy(ATTEST_POLICY_SIM, k, NULL);
  e = (struct err){0};
  assert_int_equal(attest_policy_check(sim, q, qlen, pub, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "not a sim quote"));
  /* A flipped body byte fails the quote signature. */
  q[100] ^= 1;
  e = (struct err){0};
  assert_int_equal(attest_policy_check(pol, q, qlen, pub, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "quote_signature"));

  attest_policy_free(sim);
  attest_policy_free(intel);
  attest_policy_free(pol);
  free(q);
  tq_pki_free(&pki);
}

static void test_tdx_provider_unavailable(void **state) {
  (void)state;
  struct attest_provider_opts o = {.kind = ATTEST_PROVIDER_TDX, .tsm_dir = "/nonexistent/tsm/report"};
  struct attest_provider *p = NULL;
  struct err e = {0};
  assert_int_not_equal(attest_provider_new(&o, &p, &e), 0);
  assert_null(p);
  assert_non_null(strstr(e.msg, "TDX is not available on this machine: /nonexistent/tsm/report missing"));
  o = (struct attest_provider_opts){.kind = ATTEST_PROVIDER_SIM};
  assert_int_equal(attest_provider_new(&o, &p, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "sim_platform_key"));
}

/* ---------------------------------------------------------------- allowlists */

static void test_allowlists(void **state) {
  (void)state;
  g_now = time(NULL);
  struct err e = {0};
  struct attest_sim_platform *plat = NULL;
  assert_int_equal(attest_sim_platform_generate(&plat, &e), 0);
  uint8_t pub[32];
  random_key(pub);
  struct attest_provider *pr = make_provider(ATTEST_PROVIDER_SIM, plat);
  struct buf q;
  quote_for(pr, pub, &q);
  struct attest_td_report td;
  assert_int_equal(attest_provider_td(pr, &td), 0);
  uint8_t good[2][32], wrong[1][32], mr_good[1][48], mr_wrong[1][48];
  memset(good[0], 0xab, 32);
  assert_int_equal(attest_image_hash(&td, good[1]), 0);
  memset(wrong[0], 0xcd, 32);
  memcpy(mr_good[0], td.mrtd, 48);
  memset(mr_wrong[0], 0xee, 48);

  struct attest_policy_opts o = {.kind = ATTEST_POLICY_SIM, .sim_platform_key = attest_sim_platform_pubkey(plat),
                                 .image_hashes = (const uint8_t(*)[32])good, .n_image_hashes = 2,
                                 .mrtds = (const uint8_t(*)[48])mr_good, .n_mrtds = 1, .clock_cb = fake_clock};
  struct attest_policy *p = NULL;
  assert_int_equal(attest_policy_new(&o, &p, &e), 0);
  assert_int_equal(attest_policy_check(p, buf_ptr(&q), q.len, pub, NULL, &e), 0);
  attest_policy_free(p);

  o.image_hashes = (const uint8_t(*)[32])wrong;
  o.n_image_hashes = 1;
  assert_int_equal(attest_policy_new(&o, &p, &e), 0);
  e = (struct err){0};
  assert_int_equal(attest_policy_check(p, buf_ptr(&q), q.len, pub, NULL, &e), ERR_REFUSED);
  char hex[65], want[120];
  util_hex(good[1], 32, hex);
  snprintf(want, sizeof(want), "image hash %s not in allowlist", hex);
  assert_non_null(strstr(e.msg, want));
  attest_policy_free(p);

  o.image_hashes = NULL;
  o.n_image_hashes = 0;
  o.mrtds = (const uint8_t(*)[48])mr_wrong;
  assert_int_equal(attest_policy_new(&o, &p, &e), 0);
  e = (struct err){0};
  assert_int_equal(attest_policy_check(p, buf_ptr(&q), q.len, pub, NULL, &e), ERR_REFUSED);
  char mhex[97];
  util_hex(td.mrtd, 48, mhex);
  snprintf(want, sizeof(want), "MRTD %s not in allowlist", mhex);
  assert_non_null(strstr(e.msg, want));
  attest_policy_free(p);

  /* RTMR sets: all four must equal one entry; one differing register refuses. */
  {
    uint8_t sets[2][ATTEST_RTMR_SET_LEN];
    memcpy(sets[0], td.rtmr, ATTEST_RTMR_SET_LEN);
    sets[0][3 * 48 + 47] ^= 1; /* RTMR3 differs */
    o = (struct attest_policy_opts){.kind = ATTEST_POLICY_SIM, .sim_platform_key = attest_sim_platform_pubkey(plat),
                                    .rtmr_sets = (const uint8_t(*)[ATTEST_RTMR_SET_LEN])sets, .n_rtmr_sets = 1,
                                    .clock_cb = fake_clock};
    assert_int_equal(attest_policy_new(&o, &p, &e), 0);
    e = (struct err){0};
    assert_int_equal(attest_policy_check(p, buf_ptr(&q), q.len, pub, NULL, &e), ERR_REFUSED);
    assert_non_null(strstr(e.msg, "RTMR set"));
    assert_non_null(strstr(e.msg, "not in allowlist"));
    attest_policy_free(p);
    memcpy(sets[1], td.rtmr, ATTEST_RTMR_SET_LEN);
    o.n_rtmr_sets = 2;
    assert_int_equal(attest_policy_new(&o, &p, &e), 0);
    assert_int_equal(attest_policy_check(p, buf_ptr(&q), q.len, pub, NULL, &e), 0);
    attest_policy_free(p);
  }

  /* fake_tdx honours allowlists too): its image hash is the all-zero one. */
  struct attest_provider *fpr = make_provider(ATTEST_PROVIDER_FAKE_TDX, NULL);
  struct buf fq;
  quote_for(fpr, pub, &fq);
  o = (struct attest_policy_opts){.kind = ATTEST_POLICY_FAKE_TDX, .image_hashes = (const uint8_t(*)[32])wrong,
                                  .n_image_hashes = 1};
  assert_int_equal(attest_policy_new(&o, &p, &e), 0);
  e = (struct err){0};
  assert_int_equal(attest_policy_check(p, buf_ptr(&fq), fq.len, pub, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "not in allowlist"));
  attest_policy_free(p);

  o.n_image_hashes = ATTEST_ALLOWLIST_MAX + 1;
  assert_int_equal(attest_policy_new(&o, &p, &e), ERR_LIMIT);
  buf_free(&fq);
  attest_provider_free(fpr);
  buf_free(&q);
  attest_provider_free(pr);
  attest_sim_platform_free(plat);
}

/* The registry's list, replaced at run time: enforced even when empty, checked on cached quotes. */
static void test_registry_list(void **state) {
  (void)state;
  g_now = time(NULL);
  struct err e = {0};
  struct attest_sim_platform *plat = NULL;
  assert_int_equal(attest_sim_platform_generate(&plat, &e), 0);
  uint8_t pub[32];
  random_key(pub);
  struct attest_provider *pr = make_provider(ATTEST_PROVIDER_SIM, plat);
  struct buf q;
  quote_for(pr, pub, &q);
  struct attest_td_report td;
  assert_int_equal(attest_provider_td(pr, &td), 0);
  uint8_t mine[1][32], other[1][32];
  assert_int_equal(attest_image_hash(&td, mine[0]), 0);
  memset(other[0], 0x5c, 32);
  struct attest_policy *p = make_policy(ATTEST_POLICY_SIM, attest_sim_platform_pubkey(plat), NULL);
  assert_int_equal(attest_policy_check(p, buf_ptr(&q), q.len, pub, NULL, &e), 0); /* no list: accepted, cached */
  assert_int_equal(attest_policy_set_registry(p, (const uint8_t(*)[32])other, 1, "registry v2 worker images", &e), 0);
  e = (struct err){0};
  assert_int_equal(attest_policy_check(p, buf_ptr(&q), q.len, pub, NULL, &e), ERR_REFUSED);
  char hex[65], want[160];
  util_hex(mine[0], 32, hex);
  snprintf(want, sizeof(want), "image hash %s not in registry v2 worker images (1 allowed)", hex);
  assert_string_equal(e.msg, want);
  assert_int_equal(attest_policy_set_registry(p, NULL, 0, "registry v3 worker images", &e), 0);
  assert_int_equal(attest_policy_check(p, buf_ptr(&q), q.len, pub, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "(0 allowed)"));
  assert_int_equal(attest_policy_set_registry(p, (const uint8_t(*)[32])mine, 1, "registry v4 worker images", &e), 0);
  assert_int_equal(attest_policy_check(p, buf_ptr(&q), q.len, pub, NULL, &e), 0);
  assert_int_equal(attest_policy_set_registry(p, NULL, ATTEST_ALLOWLIST_MAX + 1, "x", &e), ERR_LIMIT);
  attest_policy_free(p);
  p = make_policy(ATTEST_POLICY_ANY, NULL, NULL);
  assert_int_equal(attest_policy_set_registry(p, (const uint8_t(*)[32])mine, 1, "x", &e), ERR_INVALID);
  attest_policy_free(p);
  buf_free(&q);
  attest_provider_free(pr);
  attest_sim_platform_free(plat);
}

/* ---------------------------------------------------------------- cache */

static void test_cache(void **state) {
  (void)state;
  g_now = 1700000000;
  struct err e = {0};
  struct attest_sim_platform *plat = NULL;
  assert_int_equal(attest_sim_platform_generate(&plat, &e), 0);
  struct attest_provider *pr = make_provider(ATTEST_PROVIDER_SIM, plat);
  struct attest_policy_opts o = {.kind = ATTEST_POLICY_SIM, .sim_platform_key = attest_sim_platform_pubkey(plat),
                                 .cache_ttl_s = 600, .cache_max = 2, .clock_cb = fake_clock};
  struct attest_policy *p = NULL;
  assert_int_equal(attest_policy_new(&o, &p, &e), 0);
  uint8_t pub[3][32];
  struct buf q[3];
  for (int i = 0; i < 3; i++) {
    random_key(pub[i]);
    quote_for(pr, pub[i], &q[i]);
  }
  struct attest_policy_stats st;
  assert_int_equal(attest_policy_check(p, buf_ptr(&q[0]), q[0].len, pub[0], NULL, &e), 0);
  assert_int_equal(attest_policy_check(p, buf_ptr(&q[0]), q[0].len, pub[0], NULL, &e), 0);
  attest_policy_get_stats(p, &st);
  assert_int_equal(st.cache_misses, 1);
  assert_int_equal(st.cache_hits, 1);
  assert_int_equal(st.cache_entries, 1);

  /* Expired: verified again. */
  g_now += 601;
  attest_policy_get_stats(p, &st);
  assert_int_equal(st.cache_entries, 0);
  assert_int_equal(attest_policy_check(p, buf_ptr(&q[0]), q[0].len, pub[0], NULL, &e), 0);
  attest_policy_get_stats(p, &st);
  assert_int_equal(st.cache_misses, 2);
  assert_int_equal(st.cache_hits, 1);

  /* Bounded: three quotes in a cache of two. */
  g_now += 1;
  assert_int_equal(attest_policy_check(p, buf_ptr(&q[1]), q[1].len, pub[1], NULL, &e), 0);
  g_now += 1;
  assert_int_equal(attest_policy_check(p, buf_ptr(&q[2]), q[2].len, pub[2], NULL, &e), 0);
  attest_policy_get_stats(p, &st);
  assert_int_equal(st.cache_entries, 2);
  assert_int_equal(st.cache_misses, 4);
  /* The oldest (q[0]) was evicted; q[2] is still cached. */
  assert_int_equal(attest_policy_check(p, buf_ptr(&q[2]), q[2].len, pub[2], NULL, &e), 0);
  assert_int_equal(attest_policy_check(p, buf_ptr(&q[0]), q[0].len, pub[0], NULL, &e), 0);
  attest_policy_get_stats(p, &st);
  assert_int_equal(st.cache_hits, 2);
  assert_int_equal(st.cache_misses, 5);

  /* A refused quote is not cached: a flipped copy stays refused every time. */
  uint8_t bad[ATTEST_SIM_QUOTE_LEN];
  memcpy(bad, buf_ptr(&q[1]), sizeof(bad));
  bad[200] ^= 1;
  for (int i = 0; i < 2; i++)
    assert_int_equal(attest_policy_check(p, bad, sizeof(bad), pub[1], NULL, &e), ERR_REFUSED);
  attest_policy_get_stats(p, &st);
  assert_int_equal(st.cache_misses, 7);

  for (int i = 0; i < 3; i++) buf_free(&q[i]);
  attest_policy_free(p);
  attest_provider_free(pr);
  attest_sim_platform_free(plat);
}

/* A tdx verdict lasts no longer than the PCK chain it rests on. */
static void test_cache_tdx_chain_expiry(void **state) {
  (void)state;
  int64_t t0 = time(NULL);
  g_now = t0;
  struct tq_pki pki;
  assert_int_equal(tq_pki_make(&pki, t0, t0 - 86400, t0 + 60), 0); /* leaf expires in 60 s */
  uint8_t pub[32], rd[64];
  random_key(pub);
  assert_int_equal(attest_report_data_for_key(pub, rd), 0);
  size_t qlen = 0;
  uint8_t *q = tq_build(&pki, 5, ATTEST_BODY_TD15, rd, 0, &qlen, NULL);
  assert_non_null(q);
  struct attest_policy *pol = make_policy(ATTEST_POLICY_TDX, NULL, pki.root_xy);
  struct err e = {0};
  assert_int_equal(attest_policy_check(pol, q, qlen, pub, NULL, &e), 0);
  g_now = t0 + 120;
  e = (struct err){0};
  assert_int_equal(attest_policy_check(pol, q, qlen, pub, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "cert_validity"));
  attest_policy_free(pol);
  free(q);
  tq_pki_free(&pki);
}

/* ---------------------------------------------------------------- through RA-TLS */

static void test_ratls_certificate(void **state) {
  (void)state;
  g_now = time(NULL);
  struct err e = {0};
  struct attest_sim_platform *plat = NULL;
  assert_int_equal(attest_sim_platform_generate(&plat, &e), 0);
  struct attest_provider *pr = make_provider(ATTEST_PROVIDER_SIM, plat);
  uint8_t seed[32], pub[32];
  util_random(seed, sizeof(seed));
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
  size_t pl = 32;
  assert_int_equal(EVP_PKEY_get_raw_public_key(k, pub, &pl), 1);
  EVP_PKEY_free(k);
  struct buf q;
  quote_for(pr, pub, &q);
  struct ratls_cert_opts co = {.seed = seed, .quote = buf_ptr(&q), .quote_len = q.len, .user_claims = 1};
  struct ratls_identity *id = NULL;
  assert_int_equal(ratls_identity_generate(&co, &id, &e), 0);

  struct attest_policy *sim = make_policy(ATTEST_POLICY_SIM, attest_sim_platform_pubkey(plat), NULL);
  struct ratls_result r;
  assert_int_equal(ratls_verify_x509(ratls_identity_cert(id), attest_policy_ratls(sim), &r), 0);
  assert_int_equal(r.ok, 1);
  assert_int_equal(r.peer.attested, 1);
  assert_string_equal(r.policy_name, "sim");
  struct attest_td_report td;
  assert_int_equal(attest_provider_td(pr, &td), 0);
  uint8_t ih[32];
  assert_int_equal(attest_image_hash(&td, ih), 0);
  assert_memory_equal(r.peer.image_hash, ih, 32);

  /* A certificate without a quote is refused by sim, accepted by any. */
  struct ratls_identity *bare = NULL;
  struct ratls_cert_opts bo = {.user_claims = 1};
  assert_int_equal(ratls_identity_generate(&bo, &bare, &e), 0);
  assert_int_not_equal(ratls_verify_x509(ratls_identity_cert(bare), attest_policy_ratls(sim), &r), 0);
  assert_non_null(strstr(r.err.msg, "no quote"));
  struct attest_policy *any = make_policy(ATTEST_POLICY_ANY, NULL, NULL);
  assert_int_equal(ratls_verify_x509(ratls_identity_cert(bare), attest_policy_ratls(any), &r), 0);
  assert_int_equal(r.peer.attested, 0);
  /* The sim certificate under fake_tdx: the quote is not 64 bytes of report data. */
  struct attest_policy *fake = make_policy(ATTEST_POLICY_FAKE_TDX, NULL, NULL);
  assert_int_not_equal(ratls_verify_x509(ratls_identity_cert(id), attest_policy_ratls(fake), &r), 0);

  attest_policy_free(fake);
  attest_policy_free(any);
  attest_policy_free(sim);
  ratls_identity_free(bare);
  ratls_identity_free(id);
  buf_free(&q);
  attest_provider_free(pr);
  attest_sim_platform_free(plat);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fake_tdx),
      cmocka_unit_test(test_none_and_any),
      cmocka_unit_test(test_sim_accepts_and_refuses),
      cmocka_unit_test(test_sim_platform_file),
      cmocka_unit_test(test_tdx_policy),
      cmocka_unit_test(test_tdx_provider_unavailable),
      cmocka_unit_test(test_allowlists),
      cmocka_unit_test(test_registry_list),
      cmocka_unit_test(test_cache),
      cmocka_unit_test(test_cache_tdx_chain_expiry),
      cmocka_unit_test(test_ratls_certificate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
