/* policy: RA-TLS peer policies (any, fake_tdx, tdx, sim) with allowlists and a verdict cache. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "attest/policy.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "attest/collateral.h"
#include "attest/provider.h"
#include "attest/verify.h"
#include "base/log.h"
#include "base/util.h"

/* A verified quote: the measurements it carries, trusted until `expires`. Only successes are
 * cached; the binding to the certificate key and the allowlists are checked on every use, so
 * a cached quote moved to another certificate is still refused. */
struct cache_entry {
  uint8_t quote_hash[32];
  int64_t expires; /* 0: free slot */
  struct attest_td_report td;
};

struct attest_policy {
  struct ratls_policy ratls; /* .data = this */
  enum attest_policy_kind kind;
  uint8_t (*image_hashes)[ATTEST_IMAGE_HASH_LEN];
  size_t n_image_hashes;
  uint8_t (*mrtds)[ATTEST_MR_LEN];
  size_t n_mrtds;
  uint8_t (*rtmr_sets)[ATTEST_RTMR_SET_LEN];
  size_t n_rtmr_sets;
  uint8_t (*croots)[ATTEST_COLLATERAL_ROOT_HASH_LEN];
  size_t n_croots;
  uint8_t sim_key[ATTEST_SIM_KEY_LEN];
  uint8_t tdx_root[ATTEST_ECDSA_KEY_LEN];
  int have_tdx_root;
  uint8_t root_hash[ATTEST_COLLATERAL_ROOT_HASH_LEN]; /* DCAP root key id of the tdx root */
  char *collateral_dir;                               /* NULL: TCB status not evaluated */
  uint32_t allow_tcb;
  uint32_t ttl_s;
  int64_t (*clock_cb)(void *arg);
  void *clock_arg;
  pthread_mutex_t lock; /* cache, stats and the registry list */
  int have_registry;
  char registry_label[64];
  size_t n_registry;
  uint8_t registry[ATTEST_ALLOWLIST_MAX][ATTEST_IMAGE_HASH_LEN];
  struct cache_entry *cache;
  size_t cache_max;
  struct attest_policy_stats stats;
};

static const char *const kind_names[] = {"any", "fake_tdx", "tdx", "sim"};

int attest_policy_kind_parse(const char *s, enum attest_policy_kind *out, struct err *e) {
  for (size_t i = 0; i < CC_ARRAY_LEN(kind_names); i++) {
    if (!strcmp(s, kind_names[i])) {
      *out = (enum attest_policy_kind)i;
      return 0;
    }
  }
  return err_set(e, ERR_INVALID, "policy must be any, fake_tdx, tdx or sim, not '%s'", s);
}

const char *attest_policy_kind_name(enum attest_policy_kind k) {
  return (size_t)k < CC_ARRAY_LEN(kind_names) ? kind_names[k] : "?";
}

static int validate_cb(struct ratls_policy *rp, struct ratls_peer *peer, struct err *e) {
  struct attest_policy *p = rp->data;
  int rc = attest_policy_check(p, peer->quote, peer->quote_len, peer->public_key, peer, e);
  if (rc) {
    /* Refusals come after the certificate's own signature checked out, so they are not scan
     * noise: an operator needs to see why a real peer was turned away. */
    char key[17];
    util_hex(peer->public_key, 8, key);
    log_warn("attest_refused", "policy=%s peer_key=%s... reason=\"%s\"", rp->name, key,
             e ? e->msg : "");
  }
  return rc;
}

int attest_policy_new(const struct attest_policy_opts *o, struct attest_policy **out, struct err *e) {
  *out = NULL;
  if ((size_t)o->kind >= CC_ARRAY_LEN(kind_names))
    return err_set(e, ERR_INVALID, "unknown policy %d", (int)o->kind);
  if (o->n_image_hashes > ATTEST_ALLOWLIST_MAX || o->n_mrtds > ATTEST_ALLOWLIST_MAX ||
      o->n_rtmr_sets > ATTEST_ALLOWLIST_MAX || o->n_collateral_roots > ATTEST_ALLOWLIST_MAX)
    return err_set(e, ERR_LIMIT, "an allowlist has more than %d entries", ATTEST_ALLOWLIST_MAX);
  if (o->kind == ATTEST_POLICY_ANY &&
      (o->n_image_hashes || o->n_mrtds || o->n_rtmr_sets || o->n_collateral_roots))
    return err_set(e, ERR_INVALID, "policy any checks no quote, so it cannot enforce an allowlist");
  if (o->n_collateral_roots && o->kind != ATTEST_POLICY_TDX)
    return err_set(e, ERR_INVALID,
                   "only policy tdx has a collateral root, so policy %s cannot enforce a collateral root allowlist",
                   kind_names[o->kind]);
  if (o->kind == ATTEST_POLICY_SIM && !o->sim_platform_key)
    return err_set(e, ERR_INVALID, "policy sim needs the sim platform public key");
  size_t cmax = o->cache_max ? o->cache_max : ATTEST_CACHE_DEFAULT_MAX;
  if (cmax > ATTEST_CACHE_MAX) return err_set(e, ERR_LIMIT, "cache of %zu entries is too large", cmax);
  struct attest_policy *p = calloc(1, sizeof(*p));
  if (!p) return err_set(e, ERR_NOMEM, "out of memory");
  p->kind = o->kind;
  p->ratls.name = kind_names[o->kind];
  p->ratls.validate_cb = validate_cb;
  p->ratls.data = p;
  p->ttl_s = o->cache_ttl_s ? o->cache_ttl_s : ATTEST_CACHE_DEFAULT_TTL_S;
  p->clock_cb = o->clock_cb;
  p->clock_arg = o->clock_arg;
  p->cache_max = cmax;
  if (o->sim_platform_key) memcpy(p->sim_key, o->sim_platform_key, ATTEST_SIM_KEY_LEN);
  if (o->tdx_root_key) {
    memcpy(p->tdx_root, o->tdx_root_key, ATTEST_ECDSA_KEY_LEN);
    p->have_tdx_root = 1;
  }
  {
    uint8_t point[1 + ATTEST_ECDSA_KEY_LEN];
    point[0] = 0x04;
    memcpy(point + 1, o->tdx_root_key ? o->tdx_root_key : attest_intel_sgx_root_key, ATTEST_ECDSA_KEY_LEN);
    SHA384(point, sizeof(point), p->root_hash);
  }
  p->allow_tcb = o->tdx_allow_tcb;
  if (o->tdx_collateral_dir && o->tdx_collateral_dir[0] && !(p->collateral_dir = strdup(o->tdx_collateral_dir))) {
    free(p);
    return err_set(e, ERR_NOMEM, "out of memory");
  }
  p->cache = calloc(cmax, sizeof(*p->cache));
  if (o->n_image_hashes) p->image_hashes = calloc(o->n_image_hashes, sizeof(*p->image_hashes));
  if (o->n_mrtds) p->mrtds = calloc(o->n_mrtds, sizeof(*p->mrtds));
  if (o->n_rtmr_sets) p->rtmr_sets = calloc(o->n_rtmr_sets, sizeof(*p->rtmr_sets));
  if (o->n_collateral_roots) p->croots = calloc(o->n_collateral_roots, sizeof(*p->croots));
  if (!p->cache || (o->n_image_hashes && !p->image_hashes) || (o->n_mrtds && !p->mrtds) ||
      (o->n_rtmr_sets && !p->rtmr_sets) || (o->n_collateral_roots && !p->croots)) {
    free(p->cache);
    free(p->image_hashes);
    free(p->mrtds);
    free(p->rtmr_sets);
    free(p->croots);
    free(p->collateral_dir);
    free(p);
    return err_set(e, ERR_NOMEM, "out of memory");
  }
  if (o->n_image_hashes) memcpy(p->image_hashes, o->image_hashes, o->n_image_hashes * sizeof(*p->image_hashes));
  if (o->n_mrtds) memcpy(p->mrtds, o->mrtds, o->n_mrtds * sizeof(*p->mrtds));
  p->n_image_hashes = o->n_image_hashes;
  if (o->n_rtmr_sets) memcpy(p->rtmr_sets, o->rtmr_sets, o->n_rtmr_sets * sizeof(*p->rtmr_sets));
  if (o->n_collateral_roots) memcpy(p->croots, o->collateral_roots, o->n_collateral_roots * sizeof(*p->croots));
  p->n_mrtds = o->n_mrtds;
  p->n_rtmr_sets = o->n_rtmr_sets;
  p->n_croots = o->n_collateral_roots;
  pthread_mutex_init(&p->lock, NULL);
  *out = p;
  return 0;
}

void attest_policy_free(struct attest_policy *p) {
  if (!p) return;
  pthread_mutex_destroy(&p->lock);
  free(p->cache);
  free(p->image_hashes);
  free(p->mrtds);
  free(p->rtmr_sets);
  free(p->croots);
  free(p->collateral_dir);
  free(p);
}

struct ratls_policy *attest_policy_ratls(struct attest_policy *p) { return &p->ratls; }
enum attest_policy_kind attest_policy_kind(const struct attest_policy *p) { return p->kind; }

void attest_policy_get_stats(struct attest_policy *p, struct attest_policy_stats *s) {
  pthread_mutex_lock(&p->lock);
  *s = p->stats;
  s->cache_entries = 0;
  int64_t now = p->clock_cb ? p->clock_cb(p->clock_arg) : (int64_t)time(NULL);
  for (size_t i = 0; i < p->cache_max; i++) s->cache_entries += p->cache[i].expires > now;
  pthread_mutex_unlock(&p->lock);
}

static int64_t now_s(const struct attest_policy *p) {
  return p->clock_cb ? p->clock_cb(p->clock_arg) : (int64_t)time(NULL);
}

/* Cache lookup under the lock: 1 with *td filled on a live hit. */
static int cache_get(struct attest_policy *p, const uint8_t h[32], int64_t now, struct attest_td_report *td) {
  int hit = 0;
  pthread_mutex_lock(&p->lock);
  for (size_t i = 0; i < p->cache_max; i++) {
    struct cache_entry *c = &p->cache[i];
    if (c->expires > now && memcmp(c->quote_hash, h, 32) == 0) {
      *td = c->td;
      hit = 1;
      break;
    }
  }
  if (hit) p->stats.cache_hits++;
  else p->stats.cache_misses++;
  pthread_mutex_unlock(&p->lock);
  return hit;
}

/* Inserts, replacing the entry that expires first (an expired or free one when there is). */
static void cache_put(struct attest_policy *p, const uint8_t h[32], int64_t expires,
                      const struct attest_td_report *td) {
  pthread_mutex_lock(&p->lock);
  size_t victim = 0;
  for (size_t i = 0; i < p->cache_max; i++) {
    if (memcmp(p->cache[i].quote_hash, h, 32) == 0 && p->cache[i].expires) {
      victim = i;
      break;
    }
    if (p->cache[i].expires < p->cache[victim].expires) victim = i;
  }
  struct cache_entry *c = &p->cache[victim];
  memcpy(c->quote_hash, h, 32);
  c->expires = expires;
  c->td = *td;
  pthread_mutex_unlock(&p->lock);
}

/* Verifies a tdx or sim quote (through the cache) and returns its measurements. */
static int verified_td(struct attest_policy *p, const uint8_t *quote, size_t len,
                       struct attest_td_report *td, struct err *e) {
  uint8_t h[32];
  unsigned int hl = 0;
  if (EVP_Digest(quote, len, h, &hl, EVP_sha256(), NULL) != 1 || hl != 32) {
    ERR_clear_error();
    return err_set(e, ERR_CRYPTO, "SHA-256 failed");
  }
  int64_t now = now_s(p);
  if (cache_get(p, h, now, td)) return 0;
  int64_t expires = now + p->ttl_s;
  int rc;
  if (p->kind == ATTEST_POLICY_SIM) {
    struct attest_sim_quote sq;
    rc = attest_sim_quote_verify(quote, len, p->sim_key, &sq, e);
    if (rc) return rc;
    *td = sq.td;
  } else {
    struct attest_quote q;
    rc = attest_quote_parse(quote, len, &q, e);
    if (rc) return rc;
    struct attest_collateral_files cf;
    struct attest_pck_info pck;
    int have_coll = 0;
    if (p->collateral_dir) {
      /* The platform's FMSPC picks its TCB info; files are re-read on every miss so a
       * collateral refreshed by `cocoon attest fetch-collateral` applies at once. */
      if ((rc = attest_quote_pck_info(&q, &pck, e)) != 0) return rc;
      if ((rc = attest_collateral_load_for(p->collateral_dir, pck.fmspc, &cf, e)) != 0) {
        char why[sizeof(e->msg)];
        snprintf(why, sizeof(why), "%s", e ? e->msg : "");
        return err_set(e, ERR_REFUSED, "%.200s", why);
      }
      have_coll = 1;
    }
    struct attest_verify_opts vo = {.now = now, .root_key = p->have_tdx_root ? p->tdx_root : NULL,
                                    .collateral = have_coll ? &cf.c : NULL};
    struct attest_verify_result *vr = calloc(1, sizeof(*vr));
    if (!vr) {
      if (have_coll) attest_collateral_files_free(&cf);
      return err_set(e, ERR_NOMEM, "out of memory");
    }
    rc = attest_quote_verify(&q, &vo, vr, e);
    if (have_coll) attest_collateral_files_free(&cf);
    /* The verdict lasts no longer than the chain and the collateral it rests on. */
    if (!rc && vr->certs_not_after < expires) expires = vr->certs_not_after;
    if (!rc && have_coll && vr->collateral_expires < expires) expires = vr->collateral_expires;
    if (!rc && have_coll) {
      enum attest_tcb_status st = vr->tcb_status;
      if (st == ATTEST_TCB_REVOKED || (st != ATTEST_TCB_UP_TO_DATE && !(p->allow_tcb & (1u << st))))
        rc = err_set(e, ERR_REFUSED, "TCB status %s is not accepted%s", attest_tcb_status_name(st),
                     st == ATTEST_TCB_REVOKED ? "" : " (tdx_allow_tcb)");
    }
    free(vr);
    if (rc) return rc;
    *td = q.td;
  }
  if (expires > now) cache_put(p, h, expires, td);
  return 0;
}

static int in_list(const uint8_t *list, size_t n, size_t width, const uint8_t *v) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(list + i * width, v, width) == 0) return 1;
  return 0;
}

int attest_policy_set_registry(struct attest_policy *p, const uint8_t (*hashes)[ATTEST_IMAGE_HASH_LEN], size_t n,
                               const char *label, struct err *e) {
  if (p->kind == ATTEST_POLICY_ANY)
    return err_set(e, ERR_INVALID, "policy any checks no quote, so it cannot enforce the registry's image hashes");
  if (n > ATTEST_ALLOWLIST_MAX)
    return err_set(e, ERR_LIMIT, "registry list of %zu image hashes is longer than %d", n, ATTEST_ALLOWLIST_MAX);
  pthread_mutex_lock(&p->lock);
  p->have_registry = 1;
  snprintf(p->registry_label, sizeof(p->registry_label), "%s", label ? label : "registry");
  if (n) memcpy(p->registry, hashes, n * ATTEST_IMAGE_HASH_LEN);
  p->n_registry = n;
  pthread_mutex_unlock(&p->lock);
  return 0;
}

/* 0 when ih passes the registry list (or none is set); else fills e. */
static int registry_check(struct attest_policy *p, const uint8_t ih[ATTEST_IMAGE_HASH_LEN], struct err *e) {
  int rc = 0;
  pthread_mutex_lock(&p->lock);
  if (p->have_registry && !in_list(&p->registry[0][0], p->n_registry, ATTEST_IMAGE_HASH_LEN, ih)) {
    char hex[2 * ATTEST_IMAGE_HASH_LEN + 1];
    util_hex(ih, ATTEST_IMAGE_HASH_LEN, hex);
    rc = err_set(e, ERR_REFUSED, "image hash %s not in %s (%zu allowed)", hex, p->registry_label, p->n_registry);
  }
  pthread_mutex_unlock(&p->lock);
  return rc;
}

static int check(struct attest_policy *p, const uint8_t *quote, size_t quote_len, const uint8_t pubkey[32],
                 struct ratls_peer *peer, struct err *e) {
  if (p->kind == ATTEST_POLICY_ANY) return 0;
  const char *name = kind_names[p->kind];
  if (!quote || quote_len == 0)
    return err_set(e, ERR_REFUSED, "no quote in the peer's certificate (policy %s requires one)", name);
  uint8_t rd[ATTEST_REPORT_DATA_LEN];
  if (attest_report_data_for_key(pubkey, rd) != 0) return err_set(e, ERR_CRYPTO, "SHA-512 failed");
  struct attest_td_report td;
  memset(&td, 0, sizeof(td));
  int rc;
  if (p->kind == ATTEST_POLICY_FAKE_TDX) {
    /* COCOON's fake TDX: the quote is the report data itself, every measurement zero. */
    if (quote_len != ATTEST_REPORT_DATA_LEN)
      return err_set(e, ERR_REFUSED, "fake_tdx quote must be the %d bytes of report data, got %zu",
                     ATTEST_REPORT_DATA_LEN, quote_len);
    memcpy(td.report_data, quote, ATTEST_REPORT_DATA_LEN);
  } else if ((rc = verified_td(p, quote, quote_len, &td, e)) != 0) {
    if (rc != ERR_PARSE && rc != ERR_LIMIT) return rc;
    char why[sizeof(e->msg)];
    snprintf(why, sizeof(why), "%s", e ? e->msg : "");
    return err_set(e, ERR_REFUSED, "%s quote: %.200s", name, why);
  }
  if (!util_ct_eq(td.report_data, rd, ATTEST_REPORT_DATA_LEN))
    return err_set(e, ERR_REFUSED,
                   "quote report data does not match the certificate key (SHA-512 of the key expected)");
  uint8_t ih[ATTEST_IMAGE_HASH_LEN];
  if (attest_image_hash(&td, ih) != 0) return err_set(e, ERR_CRYPTO, "SHA-256 failed");
  char hex[2 * ATTEST_MR_LEN + 1];
  if (p->n_image_hashes && !in_list(&p->image_hashes[0][0], p->n_image_hashes, ATTEST_IMAGE_HASH_LEN, ih)) {
    util_hex(ih, ATTEST_IMAGE_HASH_LEN, hex);
    return err_set(e, ERR_REFUSED, "image hash %s not in allowlist (%zu allowed)", hex, p->n_image_hashes);
  }
  if (p->n_mrtds && !in_list(&p->mrtds[0][0], p->n_mrtds, ATTEST_MR_LEN, td.mrtd)) {
    util_hex(td.mrtd, ATTEST_MR_LEN, hex);
    return err_set(e, ERR_REFUSED, "MRTD %s not in allowlist (%zu allowed)", hex, p->n_mrtds);
  }
  if (p->n_rtmr_sets && !in_list(&p->rtmr_sets[0][0], p->n_rtmr_sets, ATTEST_RTMR_SET_LEN, &td.rtmr[0][0])) {
    util_hex(td.rtmr[0], ATTEST_MR_LEN, hex);
    return err_set(e, ERR_REFUSED, "RTMR set (RTMR0 %.16s...) not in allowlist (%zu allowed)", hex, p->n_rtmr_sets);
  }
  if (p->n_croots && !in_list(&p->croots[0][0], p->n_croots, ATTEST_COLLATERAL_ROOT_HASH_LEN, p->root_hash)) {
    util_hex(p->root_hash, ATTEST_COLLATERAL_ROOT_HASH_LEN, hex);
    return err_set(e, ERR_REFUSED, "collateral root %s not in allowlist (%zu allowed)", hex, p->n_croots);
  }
  if ((rc = registry_check(p, ih, e)) != 0) return rc;
  if (peer) {
    peer->attested = 1;
    memcpy(peer->image_hash, ih, sizeof(ih));
    memcpy(peer->m.mr_td, td.mrtd, ATTEST_MR_LEN);
    memcpy(peer->m.mr_config_id, td.mrconfigid, ATTEST_MR_LEN);
    memcpy(peer->m.mr_owner, td.mrowner, ATTEST_MR_LEN);
    memcpy(peer->m.mr_owner_config, td.mrownerconfig, ATTEST_MR_LEN);
    memcpy(peer->m.rtmr, td.rtmr, sizeof(peer->m.rtmr));
    memcpy(peer->m.reportdata, td.report_data, ATTEST_REPORT_DATA_LEN);
    if (p->kind == ATTEST_POLICY_TDX)
      memcpy(peer->m.collateral_root_hash, p->root_hash, sizeof(peer->m.collateral_root_hash));
  }
  return 0;
}

int attest_policy_check(struct attest_policy *p, const uint8_t *quote, size_t quote_len,
                        const uint8_t pubkey[32], struct ratls_peer *peer, struct err *e) {
  int rc = check(p, quote, quote_len, pubkey, peer, e);
  pthread_mutex_lock(&p->lock);
  if (rc) p->stats.refused++;
  else p->stats.accepted++;
  pthread_mutex_unlock(&p->lock);
  return rc;
}
