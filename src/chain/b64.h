/* b64: base64 for toncenter's JSON (BoCs travel as base64; both alphabets are accepted). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CHAIN_B64_H
#define COCOON_CHAIN_B64_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Appends the standard base64 (with padding) of p[0..n) to out, NUL-terminated (the NUL is not
 * counted in out->len). */
CC_NODISCARD int chain_b64_encode(const uint8_t *p, size_t n, struct buf *out);
/* Decodes standard or URL-safe base64, padding optional, no whitespace; appends to out.
 * ERR_PARSE for any other character, misplaced padding or non-zero trailing bits. */
CC_NODISCARD int chain_b64_decode(const char *s, size_t n, struct buf *out);

#endif
