/* b64: base64 for toncenter's JSON (BoCs travel as base64; both alphabets are accepted). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "chain/b64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int chain_b64_encode(const uint8_t *p, size_t n, struct buf *out) {
  size_t need;
  if (__builtin_mul_overflow((n + 2) / 3, 4, &need) || __builtin_add_overflow(need, 1, &need)) return ERR_LIMIT;
  int rc = buf_reserve(out, need);
  if (rc) return rc;
  char *o = (char *)buf_tail(out);
  size_t k = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    o[k++] = alphabet[(v >> 18) & 63];
    o[k++] = alphabet[(v >> 12) & 63];
    o[k++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
    o[k++] = i + 2 < n ? alphabet[v & 63] : '=';
  }
  o[k] = '\0';
  buf_added(out, k);
  return 0;
}

static int val(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

int chain_b64_decode(const char *s, size_t n, struct buf *out) {
  size_t pad = 0;
  while (n > 0 && s[n - 1] == '=' && pad < 2) {
    n--;
    pad++;
  }
  if (n % 4 == 1 || (pad && (n + pad) % 4)) return ERR_PARSE;
  int rc = buf_reserve(out, n / 4 * 3 + 3);
  if (rc) return rc;
  uint8_t *o = buf_tail(out);
  size_t k = 0;
  uint32_t acc = 0;
  unsigned bits = 0;
  for (size_t i = 0; i < n; i++) {
    int d = val((unsigned char)s[i]);
    if (d < 0) return ERR_PARSE;
    acc = (acc << 6) | (uint32_t)d;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      o[k++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return ERR_PARSE; /* non-canonical trailing bits */
  buf_added(out, k);
  return 0;
}
