/* registry: the root configuration (allowlists, proxies, prices) as a canonical signed text file. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "registry/registry.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "base/util.h"

static const char *const list_names[REGISTRY_LISTS] = {"proxy_image", "worker_image", "model"};

const char *registry_list_name(enum registry_list l) {
  return (unsigned)l < REGISTRY_LISTS ? list_names[l] : "?";
}

void registry_init(struct registry *r, const uint8_t owner[REGISTRY_KEY_LEN]) {
  memset(r, 0, sizeof(*r));
  r->version = 1;
  memcpy(r->owner, owner, REGISTRY_KEY_LEN);
  r->params = (struct registry_params){
      .price_per_token = 2,
      .worker_fee_per_token = 1,
      .prompt_mult = 10000,
      .cached_mult = 10000,
      .completion_mult = 10000,
      .reasoning_mult = 10000,
      .proxy_delay_before_close = 600,
      .client_delay_before_close = 300,
      .min_proxy_stake = 1000000000,
      .min_client_stake = 1000000000,
  };
}

/* ---------------------------------------------------------------- scalar fields, in order */

enum field_kind { F_PRICE, F_U32 };
struct field {
  const char *name;
  enum field_kind kind;
  size_t off;
};
#define PF(name, kind, member) {name, kind, offsetof(struct registry_params, member)}
static const struct field fields[] = {
    PF("price_per_token", F_PRICE, price_per_token),
    PF("worker_fee_per_token", F_PRICE, worker_fee_per_token),
    PF("prompt_multiplier", F_U32, prompt_mult),
    PF("cached_multiplier", F_U32, cached_mult),
    PF("completion_multiplier", F_U32, completion_mult),
    PF("reasoning_multiplier", F_U32, reasoning_mult),
    PF("proxy_delay_before_close", F_U32, proxy_delay_before_close),
    PF("client_delay_before_close", F_U32, client_delay_before_close),
    PF("min_proxy_stake", F_PRICE, min_proxy_stake),
    PF("min_client_stake", F_PRICE, min_client_stake),
};
#undef PF

static uint64_t field_get(const struct registry_params *p, const struct field *f) {
  const char *b = (const char *)p + f->off;
  if (f->kind == F_U32) {
    uint32_t v;
    memcpy(&v, b, sizeof(v));
    return v;
  }
  int64_t v;
  memcpy(&v, b, sizeof(v));
  return (uint64_t)v;
}

static void field_set(struct registry_params *p, const struct field *f, uint64_t v) {
  char *b = (char *)p + f->off;
  if (f->kind == F_U32) {
    uint32_t x = (uint32_t)v;
    memcpy(b, &x, sizeof(x));
  } else {
    int64_t x = (int64_t)v;
    memcpy(b, &x, sizeof(x));
  }
}

static uint64_t field_max(const struct field *f) {
  return f->kind == F_U32 ? UINT32_MAX : (uint64_t)REGISTRY_MAX_PRICE;
}

int registry_params_check(const struct registry_params *p, struct err *e) {
  for (size_t i = 0; i < CC_ARRAY_LEN(fields); i++) {
    uint64_t v = field_get(p, &fields[i]);
    if (fields[i].kind == F_PRICE && (int64_t)v < 0)
      return err_set(e, ERR_INVALID, "%s must not be negative", fields[i].name);
    if (v > field_max(&fields[i]))
      return err_set(e, ERR_INVALID, "%s %" PRIu64 " is above the maximum %" PRIu64, fields[i].name, v,
                     field_max(&fields[i]));
  }
  return 0;
}

/* ---------------------------------------------------------------- parsing */

struct line {
  const char *key; /* not NUL-terminated */
  size_t key_len;
  const char *val;
  size_t val_len;
  size_t start; /* offset of the line in the file */
  int no;       /* 1-based */
};

struct cursor {
  const uint8_t *p;
  size_t n, off;
  int no;
};

/* Next line split at its first space; 1 with *l filled, 0 at the end, <0 on a malformed line. */
static int next_line(struct cursor *c, struct line *l, struct err *e) {
  if (c->off >= c->n) return 0;
  c->no++;
  const uint8_t *s = c->p + c->off;
  size_t left = c->n - c->off;
  const uint8_t *nl = memchr(s, '\n', CC_MIN(left, (size_t)REGISTRY_MAX_LINE + 1));
  if (!nl) {
    if (left > REGISTRY_MAX_LINE)
      return err_set(e, ERR_LIMIT, "line %d: longer than %d bytes", c->no, REGISTRY_MAX_LINE);
    return err_set(e, ERR_PARSE, "line %d: the file must end with a newline", c->no);
  }
  size_t len = (size_t)(nl - s);
  if (len == 0) return err_set(e, ERR_PARSE, "line %d: empty line", c->no);
  for (size_t i = 0; i < len; i++)
    if (s[i] < 0x20 || s[i] > 0x7e)
      return err_set(e, ERR_PARSE, "line %d: byte 0x%02x at column %zu is not printable ASCII", c->no, s[i], i + 1);
  const uint8_t *sp = memchr(s, ' ', len);
  if (!sp || sp == s || (size_t)(sp - s) + 1 == len)
    return err_set(e, ERR_PARSE, "line %d: expected 'key value'", c->no);
  if (s[len - 1] == ' ') return err_set(e, ERR_PARSE, "line %d: trailing space", c->no);
  l->key = (const char *)s;
  l->key_len = (size_t)(sp - s);
  l->val = (const char *)sp + 1;
  l->val_len = len - l->key_len - 1;
  l->start = c->off;
  l->no = c->no;
  c->off += len + 1;
  return 1;
}

static int key_is(const struct line *l, const char *k) {
  return l->key_len == strlen(k) && memcmp(l->key, k, l->key_len) == 0;
}

/* Canonical unsigned decimal in [min, max]. */
static int parse_u64(const struct line *l, uint64_t min, uint64_t max, uint64_t *out, struct err *e) {
  const char *s = l->val;
  size_t n = l->val_len;
  if (n > 20 || (n > 1 && s[0] == '0'))
    return err_set(e, ERR_PARSE, "line %d: %.*s: '%.*s' is not a canonical decimal number", l->no,
                   (int)l->key_len, l->key, (int)CC_MIN(n, 40), s);
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9' ||
        __builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
      return err_set(e, ERR_PARSE, "line %d: %.*s: '%.*s' is not a decimal number below 2^64", l->no,
                     (int)l->key_len, l->key, (int)CC_MIN(n, 40), s);
  }
  if (v < min || v > max)
    return err_set(e, ERR_PARSE, "line %d: %.*s %" PRIu64 " is outside %" PRIu64 "..%" PRIu64, l->no,
                   (int)l->key_len, l->key, v, min, max);
  *out = v;
  return 0;
}

/* Lowercase hex of exactly n bytes. */
static int parse_hex(const struct line *l, uint8_t *out, size_t n, struct err *e) {
  int ok = l->val_len == 2 * n;
  for (size_t i = 0; ok && i < l->val_len; i++) {
    char ch = l->val[i];
    ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
  }
  if (!ok || util_unhex(l->val, l->val_len, out, n) != 0)
    return err_set(e, ERR_PARSE, "line %d: %.*s wants %zu lowercase hex digits", l->no, (int)l->key_len, l->key, 2 * n);
  return 0;
}

/* One "host:port": host of letters, digits, '.', '-' (or a bracketed IPv6 literal), port 1..65535. */
static int check_hostport(const char *s, size_t n) {
  char tmp[REGISTRY_MAX_ADDR + 1], host[REGISTRY_MAX_ADDR + 1];
  if (n == 0 || n > REGISTRY_MAX_ADDR) return -1;
  memcpy(tmp, s, n);
  tmp[n] = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
          ch == ':' || ch == '[' || ch == ']'))
      return -1;
  }
  int port = 0;
  if (util_split_hostport(tmp, host, sizeof(host), &port) != 0 || !host[0] || port < 1 || port > 65535) return -1;
  /* The port is written canonically (no leading zeros), so equal addresses are equal strings. */
  const char *colon = strrchr(tmp, ':');
  char canon[8];
  snprintf(canon, sizeof(canon), "%d", port);
  return strcmp(colon + 1, canon) == 0 ? 0 : -1;
}

static int check_proxy_addr(const char *s, size_t n) {
  if (n == 0 || n > REGISTRY_MAX_ADDR) return -1;
  const char *sp = memchr(s, ' ', n);
  if (!sp) return check_hostport(s, n);
  size_t a = (size_t)(sp - s);
  return check_hostport(s, a) == 0 && check_hostport(sp + 1, n - a - 1) == 0 ? 0 : -1;
}

static int find_proxy(const struct registry *r, const char *s, size_t n) {
  for (size_t i = 0; i < r->n_proxy_addrs; i++)
    if (strlen(r->proxy_addrs[i]) == n && memcmp(r->proxy_addrs[i], s, n) == 0) return 1;
  return 0;
}

int registry_parse(const uint8_t *p, size_t n, struct registry *r, struct err *e) {
  memset(r, 0, sizeof(*r));
  if (n > REGISTRY_MAX_FILE)
    return err_set(e, ERR_LIMIT, "registry file of %zu bytes is larger than %zu", n, REGISTRY_MAX_FILE);
  if (n == 0) return err_set(e, ERR_PARSE, "registry file is empty");
  struct cursor c = {.p = p, .n = n};
  struct line l;
  int rc;
  uint64_t v;
  /* Header. */
  if ((rc = next_line(&c, &l, e)) <= 0) return rc ? rc : err_set(e, ERR_PARSE, "registry file is empty");
  if (!key_is(&l, REGISTRY_MAGIC))
    return err_set(e, ERR_PARSE, "line 1: not a registry file (expected '%s %d')", REGISTRY_MAGIC, REGISTRY_FORMAT);
  if ((rc = parse_u64(&l, 0, UINT32_MAX, &v, e))) return rc;
  if (v != REGISTRY_FORMAT)
    return err_set(e, ERR_PARSE, "line 1: registry format %" PRIu64 " is not supported (only %d)", v, REGISTRY_FORMAT);
  /* Fixed fields, all present, in order. */
  static const char *const head[] = {"version", "owner"};
  for (size_t i = 0; i < CC_ARRAY_LEN(head) + CC_ARRAY_LEN(fields); i++) {
    const char *want = i < CC_ARRAY_LEN(head) ? head[i] : fields[i - CC_ARRAY_LEN(head)].name;
    if ((rc = next_line(&c, &l, e)) < 0) return rc;
    if (rc == 0) return err_set(e, ERR_PARSE, "line %d: missing '%s' (the file ends early)", c.no + 1, want);
    if (!key_is(&l, want))
      return err_set(e, ERR_PARSE, "line %d: expected '%s', got '%.*s'", l.no, want, (int)CC_MIN(l.key_len, 40), l.key);
    if (i == 0) {
      if ((rc = parse_u64(&l, 1, UINT64_MAX, &r->version, e))) return rc;
    } else if (i == 1) {
      if ((rc = parse_hex(&l, r->owner, REGISTRY_KEY_LEN, e))) return rc;
    } else {
      const struct field *f = &fields[i - CC_ARRAY_LEN(head)];
      if ((rc = parse_u64(&l, 0, field_max(f), &v, e))) return rc;
      field_set(&r->params, f, v);
    }
  }
  /* Lists, in the order proxy_image, worker_image, model, proxy_addr; then the signature. */
  int section = 0; /* index into list_names; REGISTRY_LISTS = proxy_addr */
  while ((rc = next_line(&c, &l, e)) > 0) {
    if (key_is(&l, "signature")) {
      if ((rc = parse_hex(&l, r->signature, REGISTRY_SIG_LEN, e))) return rc;
      if (c.off != n) return err_set(e, ERR_PARSE, "line %d: the signature must be the last line", l.no);
      r->is_signed = 1;
      r->body_len = l.start;
      return 0;
    }
    int k = -1;
    for (int i = 0; i < REGISTRY_LISTS && k < 0; i++)
      if (key_is(&l, list_names[i])) k = i;
    if (k < 0 && key_is(&l, "proxy_addr")) k = REGISTRY_LISTS;
    if (k < 0) return err_set(e, ERR_PARSE, "line %d: unknown key '%.*s'", l.no, (int)CC_MIN(l.key_len, 40), l.key);
    if (k < section)
      return err_set(e, ERR_PARSE, "line %d: '%.*s' entries must come before '%s' entries", l.no, (int)l.key_len, l.key,
                     section < REGISTRY_LISTS ? list_names[section] : "proxy_addr");
    section = k;
    if (k == REGISTRY_LISTS) {
      if (r->n_proxy_addrs >= REGISTRY_MAX_PROXIES)
        return err_set(e, ERR_LIMIT, "line %d: more than %d proxy_addr entries", l.no, REGISTRY_MAX_PROXIES);
      if (check_proxy_addr(l.val, l.val_len) != 0)
        return err_set(e, ERR_PARSE, "line %d: proxy_addr '%.*s' is not 'host:port' or 'host:port host:port'", l.no,
                       (int)CC_MIN(l.val_len, 60), l.val);
      if (find_proxy(r, l.val, l.val_len)) return err_set(e, ERR_PARSE, "line %d: proxy_addr repeated", l.no);
      memcpy(r->proxy_addrs[r->n_proxy_addrs], l.val, l.val_len);
      r->proxy_addrs[r->n_proxy_addrs++][l.val_len] = 0;
      continue;
    }
    size_t *cnt = &r->n_hashes[k];
    if (*cnt >= REGISTRY_MAX_HASHES)
      return err_set(e, ERR_LIMIT, "line %d: more than %d %s entries", l.no, REGISTRY_MAX_HASHES, list_names[k]);
    if ((rc = parse_hex(&l, r->hashes[k][*cnt], REGISTRY_HASH_LEN, e))) return rc;
    if (*cnt && memcmp(r->hashes[k][*cnt - 1], r->hashes[k][*cnt], REGISTRY_HASH_LEN) >= 0)
      return err_set(e, ERR_PARSE, "line %d: %s entries must be sorted ascending without repeats", l.no, list_names[k]);
    (*cnt)++;
  }
  if (rc < 0) return rc;
  r->body_len = n;
  return 0;
}

/* ---------------------------------------------------------------- serializing */

static int serialize_body(const struct registry *r, struct buf *out) {
  char hex[2 * REGISTRY_SIG_LEN + 1];
  util_hex(r->owner, REGISTRY_KEY_LEN, hex);
  int rc = buf_appendf(out, "%s %d\nversion %" PRIu64 "\nowner %s\n", REGISTRY_MAGIC, REGISTRY_FORMAT, r->version, hex);
  for (size_t i = 0; i < CC_ARRAY_LEN(fields) && !rc; i++)
    rc = buf_appendf(out, "%s %" PRIu64 "\n", fields[i].name, field_get(&r->params, &fields[i]));
  for (int k = 0; k < REGISTRY_LISTS && !rc; k++)
    for (size_t i = 0; i < r->n_hashes[k] && !rc; i++) {
      util_hex(r->hashes[k][i], REGISTRY_HASH_LEN, hex);
      rc = buf_appendf(out, "%s %s\n", list_names[k], hex);
    }
  for (size_t i = 0; i < r->n_proxy_addrs && !rc; i++) rc = buf_appendf(out, "proxy_addr %s\n", r->proxy_addrs[i]);
  return rc;
}

int registry_serialize(const struct registry *r, struct buf *out) {
  int rc = serialize_body(r, out);
  if (!rc && r->is_signed) {
    char hex[2 * REGISTRY_SIG_LEN + 1];
    util_hex(r->signature, REGISTRY_SIG_LEN, hex);
    rc = buf_appendf(out, "signature %s\n", hex);
  }
  return rc;
}

/* ---------------------------------------------------------------- signature */

int registry_verify(const struct registry *r, const uint8_t owner[REGISTRY_KEY_LEN], struct err *e) {
  char want[2 * REGISTRY_KEY_LEN + 1], got[2 * REGISTRY_KEY_LEN + 1];
  if (!r->is_signed) return err_set(e, ERR_REFUSED, "registry version %" PRIu64 " is not signed", r->version);
  if (memcmp(r->owner, owner, REGISTRY_KEY_LEN) != 0) {
    util_hex(r->owner, REGISTRY_KEY_LEN, got);
    util_hex(owner, REGISTRY_KEY_LEN, want);
    return err_set(e, ERR_REFUSED, "registry owner %.16s... is not the expected owner %.16s...", got, want);
  }
  /* The signature covers the canonical body, which is the file's bytes before the signature. */
  struct buf body;
  buf_init(&body, REGISTRY_MAX_FILE);
  int rc = serialize_body(r, &body);
  if (rc) {
    buf_free(&body);
    return err_set(e, ERR_NOMEM, "out of memory");
  }
  EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, owner, REGISTRY_KEY_LEN);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int ok = k && md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) == 1 &&
           EVP_DigestVerify(md, r->signature, REGISTRY_SIG_LEN, buf_ptr(&body), body.len) == 1;
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(k);
  ERR_clear_error();
  buf_free(&body);
  if (!ok)
    return err_set(e, ERR_REFUSED, "registry version %" PRIu64 ": bad signature (not signed by the owner key)",
                   r->version);
  return 0;
}

int registry_load(const uint8_t *p, size_t n, const uint8_t owner[REGISTRY_KEY_LEN], struct registry *r,
                  struct err *e) {
  int rc = registry_parse(p, n, r, e);
  if (!rc) rc = registry_verify(r, owner, e);
  return rc;
}

/* ---------------------------------------------------------------- editing */

int registry_has_hash(const struct registry *r, enum registry_list l, const uint8_t h[REGISTRY_HASH_LEN]) {
  if ((unsigned)l >= REGISTRY_LISTS) return 0;
  for (size_t i = 0; i < r->n_hashes[l]; i++)
    if (memcmp(r->hashes[l][i], h, REGISTRY_HASH_LEN) == 0) return 1;
  return 0;
}

int registry_add_hash(struct registry *r, enum registry_list l, const uint8_t h[REGISTRY_HASH_LEN], struct err *e) {
  if ((unsigned)l >= REGISTRY_LISTS) return err_set(e, ERR_INVALID, "unknown registry list");
  if (registry_has_hash(r, l, h)) return err_set(e, ERR_INVALID, "%s is already in the registry", list_names[l]);
  size_t n = r->n_hashes[l];
  if (n >= REGISTRY_MAX_HASHES)
    return err_set(e, ERR_LIMIT, "the registry holds at most %d %s entries", REGISTRY_MAX_HASHES, list_names[l]);
  size_t at = 0;
  while (at < n && memcmp(r->hashes[l][at], h, REGISTRY_HASH_LEN) < 0) at++;
  memmove(r->hashes[l][at + 1], r->hashes[l][at], (n - at) * REGISTRY_HASH_LEN);
  memcpy(r->hashes[l][at], h, REGISTRY_HASH_LEN);
  r->n_hashes[l] = n + 1;
  return 0;
}

int registry_remove_hash(struct registry *r, enum registry_list l, const uint8_t h[REGISTRY_HASH_LEN], struct err *e) {
  if ((unsigned)l >= REGISTRY_LISTS) return err_set(e, ERR_INVALID, "unknown registry list");
  size_t n = r->n_hashes[l];
  for (size_t i = 0; i < n; i++) {
    if (memcmp(r->hashes[l][i], h, REGISTRY_HASH_LEN) != 0) continue;
    memmove(r->hashes[l][i], r->hashes[l][i + 1], (n - i - 1) * REGISTRY_HASH_LEN);
    r->n_hashes[l] = n - 1;
    return 0;
  }
  return err_set(e, ERR_NOTFOUND, "%s is not in the registry", list_names[l]);
}

int registry_add_proxy(struct registry *r, const char *addr, struct err *e) {
  size_t n = strlen(addr);
  if (check_proxy_addr(addr, n) != 0)
    return err_set(e, ERR_INVALID, "proxy address '%.60s' is not 'host:port' or 'host:port host:port'", addr);
  if (find_proxy(r, addr, n)) return err_set(e, ERR_INVALID, "proxy address %.60s is already in the registry", addr);
  if (r->n_proxy_addrs >= REGISTRY_MAX_PROXIES)
    return err_set(e, ERR_LIMIT, "the registry holds at most %d proxy addresses", REGISTRY_MAX_PROXIES);
  memcpy(r->proxy_addrs[r->n_proxy_addrs], addr, n + 1);
  r->n_proxy_addrs++;
  return 0;
}

int registry_model_hash(const char *name, size_t len, uint8_t out[REGISTRY_HASH_LEN]) {
  unsigned int hl = 0;
  if (EVP_Digest(name, len, out, &hl, EVP_sha256(), NULL) != 1 || hl != REGISTRY_HASH_LEN) {
    ERR_clear_error();
    return ERR_CRYPTO;
  }
  return 0;
}
