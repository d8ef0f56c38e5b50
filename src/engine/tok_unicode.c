/* tok_unicode: strict UTF-8 decoding and Unicode class lookups over the generated range tables. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/tok_unicode.h"

uint32_t tok_utf8_next(const uint8_t *p, size_t n, size_t *len) {
  uint8_t b = p[0];
  *len = 1;
  if (b < 0x80) return b;
  size_t need;
  uint32_t cp, min;
  if (b >= 0xC2 && b <= 0xDF) need = 2, cp = b & 0x1Fu, min = 0x80;
  else if (b >= 0xE0 && b <= 0xEF) need = 3, cp = b & 0x0Fu, min = 0x800;
  else if (b >= 0xF0 && b <= 0xF4) need = 4, cp = b & 0x07u, min = 0x10000;
  else return TOK_UTF8_INVALID;
  if (n < need) return TOK_UTF8_INVALID;
  for (size_t i = 1; i < need; i++) {
    if ((p[i] & 0xC0) != 0x80) return TOK_UTF8_INVALID;
    cp = (cp << 6) | (p[i] & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return TOK_UTF8_INVALID;
  *len = need;
  return cp;
}

size_t tok_utf8_put(uint32_t cp, uint8_t out[4]) {
  if (cp < 0x80) {
    out[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (uint8_t)(0xC0 | (cp >> 6));
    out[1] = (uint8_t)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (uint8_t)(0xE0 | (cp >> 12));
    out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (uint8_t)(0xF0 | (cp >> 18));
  out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (uint8_t)(0x80 | (cp & 0x3F));
  return 4;
}

static int in_ranges(const struct tok_uni_range *r, size_t n, uint32_t cp) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp < r[mid].lo) hi = mid;
    else if (cp > r[mid].hi) lo = mid + 1;
    else return 1;
  }
  return 0;
}

int tok_uni_is_letter(uint32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return in_ranges(tok_uni_letters, sizeof(tok_uni_letters) / sizeof(tok_uni_letters[0]), cp);
}

int tok_uni_is_number(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_ranges(tok_uni_numbers, sizeof(tok_uni_numbers) / sizeof(tok_uni_numbers[0]), cp);
}

int tok_uni_is_whitespace(uint32_t cp) {
  switch (cp) {
  case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0: case 0x1680:
  case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
    return 1;
  default:
    return cp >= 0x2000 && cp <= 0x200A;
  }
}
