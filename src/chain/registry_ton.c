/* registry_ton: a registry source (registry/source.h) that reads the COCOON root contract's state
 * through toncenter. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "chain/registry_ton.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/root.h"
#include "chain/root_registry.h"
#include "chain/toncenter.h"
#include "http/http_client.h"
#include "loop/loop.h"
#include "ton/address.h"

struct fetch {
  int done, rc;
  char err[256];
  struct ton_cell *data; /* owned */
  uint64_t lt;
  uint8_t hash[32];
};

struct ton_source {
  struct registry_source base;
  char *endpoint, *api_key;
  struct ton_addr root;
  uint32_t timeout_ms;
  /* On the watcher's loop after attach. */
  struct loop *loop;
  struct http_client *hc;
  struct toncenter *tc;
  int in_flight;
  struct fetch f;
  /* What the last poll handed over or reported. */
  int delivered;
  uint64_t last_lt;
  uint8_t last_hash[32];
  char reported[256];
  struct chain_root *scratch;
  struct loop *blocking; /* the private loop of a blocking fetch, stopped by its callback */
};

static void fetch_clear(struct fetch *f) {
  ton_cell_unref(f->data);
  memset(f, 0, sizeof(*f));
}

static void account_cb(int rc, const char *errmsg, const struct toncenter_account *a, void *arg) {
  struct ton_source *s = arg;
  struct fetch *f = &s->f;
  fetch_clear(f);
  f->done = 1;
  s->in_flight = 0;
  if (rc) {
    f->rc = rc;
    snprintf(f->err, sizeof(f->err), "%s", errmsg && errmsg[0] ? errmsg : "toncenter: request failed");
  } else if (a->state != TONCENTER_ACTIVE || !a->data) {
    f->rc = ERR_NOTFOUND;
    snprintf(f->err, sizeof(f->err), "the root contract is not deployed (account %s)",
             a->state == TONCENTER_FROZEN ? "frozen" : "uninitialized");
  } else {
    f->data = ton_cell_ref(a->data);
    f->lt = a->last_lt;
    memcpy(f->hash, a->last_hash, 32);
  }
  if (s->blocking) loop_stop(s->blocking);
}

static int open_client(struct ton_source *s, struct loop *l, struct http_client **hc, struct toncenter **tc,
                       struct err *e) {
  struct toncenter_config cfg = {.endpoint = s->endpoint, .api_key = s->api_key, .timeout_ms = s->timeout_ms};
  *hc = NULL;
  *tc = NULL;
  if (http_client_new(l, NULL, hc)) return err_set(e, ERR_NOMEM, "cannot start the HTTP client");
  int rc = toncenter_new(l, *hc, &cfg, tc, e);
  if (rc) {
    http_client_free(*hc);
    *hc = NULL;
  }
  return rc;
}

/* The first load: a private loop until the answer (toncenter always answers within its timeout). */
static int fetch_blocking(struct ton_source *s, struct err *e) {
  struct loop *l = NULL;
  struct http_client *hc = NULL;
  struct toncenter *tc = NULL;
  if (loop_new(&l)) return err_set(e, ERR_NOMEM, "cannot create a loop");
  int rc = open_client(s, l, &hc, &tc, e);
  if (!rc) {
    s->blocking = l;
    fetch_clear(&s->f);
    if ((rc = toncenter_get_account(tc, &s->root, account_cb, s, e)) == 0)
      while (!s->f.done) (void)loop_run(l);
    s->blocking = NULL;
  }
  toncenter_free(tc);
  http_client_free(hc);
  loop_free(l);
  return rc;
}

/* Equal but for digits: curl's messages carry timings ("after 0 ms") that vary between tries. */
static int same_reason(const char *a, const char *b) {
  for (;;) {
    while (*a >= '0' && *a <= '9') a++;
    while (*b >= '0' && *b <= '9') b++;
    if (*a != *b) return 0;
    if (!*a) return 1;
    a++, b++;
  }
}

/* Reports a failure once: the same reason again is "nothing new". */
static int report(struct ton_source *s, int force, int rc, const char *msg, struct err *e) {
  if (!force && s->reported[0] && same_reason(s->reported, msg)) return 0;
  snprintf(s->reported, sizeof(s->reported), "%s", msg);
  return err_set(e, rc, "%s", msg);
}

/* Turns a finished fetch into a poll result and consumes it. */
static int take(struct ton_source *s, int force, struct registry *out, struct err *e) {
  struct fetch *f = &s->f;
  int rc;
  f->done = 0;
  if (f->rc) {
    rc = report(s, force, f->rc, f->err, e);
    fetch_clear(f);
    return rc;
  }
  if (!force && s->delivered && f->lt == s->last_lt && !memcmp(f->hash, s->last_hash, 32)) {
    fetch_clear(f);
    s->reported[0] = 0;
    return 0;
  }
  struct err pe = {0};
  rc = chain_root_parse_data(f->data, s->scratch, &pe);
  if (!rc) rc = chain_root_to_registry(s->scratch, out, &pe);
  if (rc) {
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", pe.msg);
    fetch_clear(f);
    return report(s, force, rc, msg, e);
  }
  s->delivered = 1;
  s->last_lt = f->lt;
  memcpy(s->last_hash, f->hash, 32);
  s->reported[0] = 0;
  fetch_clear(f);
  return 1;
}

static int ton_poll(struct registry_source *base, int force, struct registry *out, struct err *e) {
  struct ton_source *s = (struct ton_source *)base;
  if (force || !s->tc) {
    int rc = fetch_blocking(s, e);
    if (rc) return report(s, force, rc, e ? e->msg : "toncenter request failed", e);
    return take(s, force, out, e);
  }
  int rc = s->f.done ? take(s, 0, out, e) : 0;
  if (!s->in_flight) {
    struct err re = {0};
    if (toncenter_get_account(s->tc, &s->root, account_cb, s, &re) == 0) s->in_flight = 1;
    else if (rc == 0) rc = report(s, 0, re.code ? re.code : ERR_IO, re.msg, e);
  }
  return rc;
}

static int ton_attach(struct registry_source *base, struct loop *loop, struct err *e) {
  struct ton_source *s = (struct ton_source *)base;
  if (s->tc) return 0;
  int rc = open_client(s, loop, &s->hc, &s->tc, e);
  if (!rc) s->loop = loop;
  return rc;
}

static void ton_free(struct registry_source *base) {
  struct ton_source *s = (struct ton_source *)base;
  toncenter_free(s->tc);
  http_client_free(s->hc);
  fetch_clear(&s->f);
  free(s->endpoint);
  if (s->api_key) {
    OPENSSL_cleanse(s->api_key, strlen(s->api_key));
    free(s->api_key);
  }
  free(s->scratch);
  free(s);
}

static const struct registry_source_ops ton_ops = {
    .kind = "ton", .poll_cb = ton_poll, .free_cb = ton_free, .attach_cb = ton_attach};

int chain_registry_ton_new(const struct chain_registry_ton_config *c, struct registry_source **out, struct err *e) {
  *out = NULL;
  if (!c->endpoint || !c->endpoint[0]) return err_set(e, ERR_INVALID, "no toncenter endpoint given");
  if (strlen(c->endpoint) > TONCENTER_MAX_URL / 2) return err_set(e, ERR_INVALID, "the toncenter endpoint is too long");
  if (!c->root || !c->root[0]) return err_set(e, ERR_INVALID, "no root contract address given");
  struct ton_source *s = calloc(1, sizeof(*s));
  if (!s) return err_set(e, ERR_NOMEM, "out of memory");
  s->base.ops = &ton_ops;
  struct err ae = {0};
  int rc = 0;
  if (ton_addr_parse(c->root, &s->root, NULL, &ae)) {
    rc = err_set(e, ERR_INVALID, "root contract address: %s", ae.msg);
    goto fail;
  }
  if (!(s->endpoint = strdup(c->endpoint)) || (c->api_key && c->api_key[0] && !(s->api_key = strdup(c->api_key))) ||
      !(s->scratch = calloc(1, sizeof(*s->scratch)))) {
    rc = err_set(e, ERR_NOMEM, "out of memory");
    goto fail;
  }
  s->timeout_ms = c->timeout_ms;
  /* The URL without its query, where a key might sit. */
  char raw[TON_ADDR_RAW_MAX];
  ton_addr_to_raw(&s->root, raw, sizeof(raw));
  size_t ul = strcspn(c->endpoint, "?#");
  snprintf(s->base.where, sizeof(s->base.where), "ton root %s via %.*s", raw, (int)(ul > 200 ? 200 : ul),
           c->endpoint);
  *out = &s->base;
  return 0;
fail:
  ton_free(&s->base);
  return rc;
}
