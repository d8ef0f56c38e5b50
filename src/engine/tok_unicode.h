/* tok_unicode: UTF-8 decoding and the Unicode classes the tokenizers' pre-tokenizers need. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_TOK_UNICODE_H
#define COCOON_ENGINE_TOK_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* An inclusive range of code points. */
struct tok_uni_range {
  uint32_t lo, hi;
};

/* Generated tables (tok_unicode_data.c), sorted and disjoint. */
extern const struct tok_uni_range tok_uni_letters[648];
extern const struct tok_uni_range tok_uni_numbers[134];

/* Returned by tok_utf8_next for a byte that does not start a well-formed sequence. */
#define TOK_UTF8_INVALID 0xFFFFFFFFu

/* Decodes the code point at p[0..n) (n >= 1) strictly (no overlongs, surrogates or values
 * above U+10FFFF). Sets *len to the bytes consumed: the sequence length, or 1 with the
 * result TOK_UTF8_INVALID for an invalid byte (the caller keeps it as a raw byte). */
uint32_t tok_utf8_next(const uint8_t *p, size_t n, size_t *len);
/* Writes the UTF-8 of cp (<= 0x10FFFF) to out, returns its length (1..4). */
size_t tok_utf8_put(uint32_t cp, uint8_t out[4]);

int tok_uni_is_letter(uint32_t cp);     /* \p{L} */
int tok_uni_is_number(uint32_t cp);     /* \p{N} */
int tok_uni_is_whitespace(uint32_t cp); /* the White_Space property (PropList.txt) */

#endif
