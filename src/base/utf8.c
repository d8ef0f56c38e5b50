/* utf8: strict UTF-8 decoding and encoding of single code points. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "base/utf8.h"

uint32_t utf8_next(const uint8_t *p, size_t n, size_t *len) {
  uint8_t b = p[0];
  *len = 1;
  if (b < 0x80) return b;
  size_t need;
  uint32_t cp, min;
  if (b >= 0xC2 && b <= 0xDF) need = 2, cp = b & 0x1Fu, min = 0x80;
  else if (b >= 0xE0 && b <= 0xEF) need = 3, cp = b & 0x0Fu, min = 0x800;
  else if (b >= 0xF0 && b <= 0xF4) need = 4, cp = b & 0x07u, min = 0x10000;
  else return UTF8_INVALID;
  if (n < need) return UTF8_INVALID;
  for (size_t i = 1; i < need; i++) {
    if ((p[i] & 0xC0) != 0x80) return UTF8_INVALID;
    cp = (cp << 6) | (p[i] & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return UTF8_INVALID;
  *len = need;
  return cp;
}

size_t utf8_put(uint32_t cp, uint8_t out[4]) {
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
