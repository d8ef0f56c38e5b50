/* tok_unicode: Unicode class lookups over the generated range tables. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/tok_unicode.h"

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
