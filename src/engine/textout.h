/* textout: generated tokens to text for one sequence: UTF-8 safe pieces and stop strings. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_TEXTOUT_H
#define COCOON_ENGINE_TEXTOUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define TEXTOUT_MAX_STOPS 4u       /* stop strings per request (OpenAI's limit) */
#define TEXTOUT_MAX_STOP_LEN 256u  /* bytes of one stop string */

struct tok;
struct textout;

/* Text of one sequence. Control tokens (end of turn, ...) produce no text. The text given out
 * is always valid UTF-8 (a character split across tokens waits for its end; invalid bytes
 * become U+FFFD) and never contains a stop string, nor a prefix of one that later tokens
 * might complete. stops[0..n_stops) are copied; t is borrowed. */
CC_NODISCARD int textout_new(const struct tok *t, const char *const *stops, const size_t *stop_lens, size_t n_stops,
                             struct textout **out, struct err *e);
void textout_free(struct textout *o);

/* Adds a token's text and appends to emit what can be given out now. Returns 1 when a stop
 * string was completed (the text before it has been emitted; the rest is dropped and later
 * feeds are ignored), 0 otherwise, or a negative error (ERR_LIMIT, ERR_NOMEM). */
CC_NODISCARD int textout_feed(struct textout *o, int32_t token, struct buf *emit);
/* At the end of the sequence: appends the text still held back (an unfinished character as
 * U+FFFD). */
CC_NODISCARD int textout_flush(struct textout *o, struct buf *emit);

#endif
