/* payments: what a client or worker does with the proxy's signed payments: verify, keep the
 * highest, refuse one that goes backwards, and keep it across restarts. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "core/payments.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "ton/address.h"
#include "ton/payment.h"

void payments_held_init(struct payments_held *h) {
  memset(h, 0, sizeof(*h));
  buf_init(&h->boc, TON_PAYMENT_MAX_BOC);
}

void payments_held_free(struct payments_held *h) { buf_free(&h->boc); }

/* Verifies a signed payment for us from the proxy with this key; fills the total. */
static int verify(const struct payments_held *h, const uint8_t *boc, size_t len, uint32_t op, const char *owner,
                  const uint8_t pubkey[32], uint64_t *tokens, struct err *e) {
  struct ton_payment expect = {.op = op};
  if (ton_addr_parse(owner, &expect.target, NULL, e))
    return err_set(e, ERR_INVALID, "our owner address is not a TON address; cannot check payments");
  struct ton_payment got;
  int rc = ton_payment_verify(boc, len, pubkey, &expect, &got, e);
  /* A COCOON proxy signs for our contract; the signature and op are checked again with it. */
  if (rc == ERR_REFUSED && h->has_contract && !ton_addr_equal(&expect.target, &h->contract)) {
    struct err e2 = {0};
    expect.target = h->contract;
    if (ton_payment_verify(boc, len, pubkey, &expect, &got, &e2) == 0) {
      rc = 0;
      *e = (struct err){0};
    }
  }
  if (!rc) *tokens = got.tokens;
  return rc;
}

int payments_held_set_contract(struct payments_held *h, const uint8_t *addr, size_t len, struct err *e) {
  if (len == 0) {
    h->has_contract = 0;
    return 0;
  }
  char s[TON_ADDR_RAW_MAX + 16];
  if (len >= sizeof(s)) return err_set(e, ERR_PARSE, "contract address too long (%zu bytes)", len);
  memcpy(s, addr, len);
  s[len] = 0;
  struct ton_addr a;
  if (ton_addr_parse(s, &a, NULL, e)) return err_set(e, ERR_PARSE, "contract address is not a TON address");
  h->contract = a;
  h->has_contract = 1;
  return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Replaces h->path with the held message: temporary file, fsync, rename, fsync of the folder. */
static int save(struct payments_held *h, struct err *e) {
  char tmp[PAYMENTS_PATH_MAX + 8];
  snprintf(tmp, sizeof(tmp), "%s.tmp", h->path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return err_set(e, ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  int bad = fchmod(fd, 0600) != 0 || write_all(fd, buf_ptr(&h->boc), h->boc.len) != 0 || fsync(fd) != 0;
  int saved = errno;
  if (close(fd) != 0 && !bad) {
    bad = 1;
    saved = errno;
  }
  if (bad || rename(tmp, h->path) != 0) {
    if (!bad) saved = errno;
    unlink(tmp);
    return err_set(e, ERR_IO, "cannot write %s: %s", h->path, strerror(saved));
  }
  /* The rename itself is durable only once the folder is synced. */
  char dir[PAYMENTS_PATH_MAX];
  snprintf(dir, sizeof(dir), "%s", h->path);
  char *slash = strrchr(dir, '/');
  if (slash) {
    if (slash == dir) slash[1] = 0;
    else *slash = 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)fsync(dfd);
      close(dfd);
    }
  }
  return 0;
}

int payments_held_bind(struct payments_held *h, const char *dir, const uint8_t proxy_pubkey[32], uint32_t op,
                       const char *owner, struct err *e) {
  if (h->bound && memcmp(h->proxy_key, proxy_pubkey, 32) == 0) return 0;
  h->bound = 1;
  memcpy(h->proxy_key, proxy_pubkey, 32);
  h->tokens = 0;
  h->received = 0;
  h->path[0] = 0;
  buf_reset(&h->boc);
  if (!dir || !dir[0]) return 0;
  char hex[65];
  util_hex(proxy_pubkey, 32, hex);
  int n = snprintf(h->path, sizeof(h->path), "%s/held-%08x-%s.boc", dir, op, hex);
  if (n < 0 || (size_t)n >= sizeof(h->path)) {
    h->path[0] = 0;
    return err_set(e, ERR_LIMIT, "key_dir path too long for the held-payment file");
  }
  FILE *f = fopen(h->path, "rb");
  if (!f) {
    if (errno == ENOENT) return 0;
    return err_set(e, ERR_IO, "cannot read %s: %s", h->path, strerror(errno));
  }
  uint8_t data[TON_PAYMENT_MAX_BOC + 1];
  size_t len = fread(data, 1, sizeof(data), f);
  int rerr = ferror(f);
  fclose(f);
  if (rerr) return err_set(e, ERR_IO, "cannot read %s", h->path);
  if (len == 0 || len > TON_PAYMENT_MAX_BOC) return err_set(e, ERR_PARSE, "%s: not a signed payment (%zu bytes)", h->path, len);
  uint64_t tokens = 0;
  struct err ve = {0};
  if (verify(h, data, len, op, owner, proxy_pubkey, &tokens, &ve))
    return err_set(e, ERR_CRYPTO, "%s does not verify: %s", h->path, ve.msg);
  if (tokens > (uint64_t)INT64_MAX) return err_set(e, ERR_PARSE, "%s: total out of range", h->path);
  int rc = buf_append(&h->boc, data, len);
  if (rc) return err_set(e, rc, "out of memory");
  h->tokens = (int64_t)tokens;
  return 0;
}

int payments_accept(struct payments_held *h, const struct tl_signed_payment *sp, uint32_t op, const char *owner,
                    const uint8_t proxy_pubkey[32], struct err *e) {
  if (sp->id != TL_ID_PROXY_SIGNED_PAYMENT || sp->data.n == 0) return 0;
  /* The proxy repeats its latest signed message until it signs a new total: verify once. */
  if (sp->data.n == h->boc.len && h->boc.len && memcmp(sp->data.p, buf_ptr(&h->boc), sp->data.n) == 0) return 0;
  uint64_t tokens = 0;
  int rc = verify(h, sp->data.p, sp->data.n, op, owner, proxy_pubkey, &tokens, e);
  if (rc) return rc;
  if (tokens > (uint64_t)INT64_MAX) return err_set(e, ERR_PROTO, "signed total out of range");
  if ((int64_t)tokens < h->tokens)
    return err_set(e, ERR_REFUSED, "signed total %llu is below the %lld already held (proxy ledger lost or rolled back)",
                   (unsigned long long)tokens, (long long)h->tokens);
  h->received++;
  int higher = (int64_t)tokens > h->tokens || h->boc.len == 0;
  h->tokens = (int64_t)tokens;
  buf_reset(&h->boc);
  if ((rc = buf_append(&h->boc, sp->data.p, sp->data.n)) != 0) return err_set(e, rc, "out of memory");
  if (higher && h->path[0]) {
    struct err se = {0};
    if (save(h, &se)) {
      h->save_failures++;
      log_error("payment_save_failed", "error=\"%s\"", se.msg);
    } else {
      h->saves++;
    }
  }
  return 0;
}

int payments_check_status(struct payments_held *h, const struct tl_signed_payment *sp, int64_t db_tokens,
                           uint32_t op, const char *owner, const uint8_t proxy_pubkey[32], struct err *e) {
  int rc = payments_accept(h, sp, op, owner, proxy_pubkey, e);
  if (rc) return rc;
  if (db_tokens < h->tokens)
    return err_set(e, ERR_REFUSED,
                   "tokens_committed_to_db is too low: the proxy has %lld, we hold a signed total of %lld "
                   "(proxy ledger lost or rolled back)",
                   (long long)db_tokens, (long long)h->tokens);
  return 0;
}
