/* tok_unicode: the Unicode classes the tokenizers' pre-tokenizers need (UTF-8 itself: base/utf8). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_TOK_UNICODE_H
#define COCOON_ENGINE_TOK_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "base/utf8.h" /* utf8_next, utf8_put: the tokenizers use them with these classes */

/* An inclusive range of code points. */
struct tok_uni_range {
  uint32_t lo, hi;
};

/* Generated tables (tok_unicode_data.c), sorted and disjoint. */
extern const struct tok_uni_range tok_uni_letters[648];
extern const struct tok_uni_range tok_uni_numbers[134];

int tok_uni_is_letter(uint32_t cp);     /* \p{L} */
int tok_uni_is_number(uint32_t cp);     /* \p{N} */
int tok_uni_is_whitespace(uint32_t cp); /* the White_Space property (PropList.txt) */

#endif
