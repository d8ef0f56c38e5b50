/* utf8: strict UTF-8 decoding and encoding of single code points. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_BASE_UTF8_H
#define COCOON_BASE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Returned by utf8_next for a byte that does not start a well-formed sequence. */
#define UTF8_INVALID 0xFFFFFFFFu

/* Decodes the code point at p[0..n) (n >= 1) strictly (no overlongs, surrogates or values
 * above U+10FFFF). Sets *len to the bytes consumed: the sequence length, or 1 with the
 * result UTF8_INVALID for an invalid byte (the caller decides what to do with it). */
uint32_t utf8_next(const uint8_t *p, size_t n, size_t *len);
/* Writes the UTF-8 of cp (<= 0x10FFFF) to out, returns its length (1..4). */
size_t utf8_put(uint32_t cp, uint8_t out[4]);

#endif
