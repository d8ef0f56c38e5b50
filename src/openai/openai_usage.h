/* openai_usage: reads token usage from a backend's answer as it streams past, without altering it. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_OPENAI_USAGE_H
#define COCOON_OPENAI_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Default cap on one JSON value or one SSE event's data; a larger one is skipped (counted in
 * `skipped`), never buffered further. */
#define OPENAI_USAGE_DEFAULT_MAX_EVENT ((size_t)1 << 20)

/* The answer's framing, decided by its first non-blank byte. */
enum openai_usage_format {
  OPENAI_USAGE_FMT_UNKNOWN = 0, /* nothing but blanks yet */
  OPENAI_USAGE_FMT_JSON,        /* one JSON object, or concatenated values (NDJSON) */
  OPENAI_USAGE_FMT_SSE,         /* text/event-stream: "data: {...}" events */
  OPENAI_USAGE_FMT_OTHER,       /* neither; ignored */
};

/* Counter state. The public fields are the results; the rest is private. Token counts are the
 * largest value seen for each (usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens,
 * usage.completion_tokens, usage.completion_tokens_details.reasoning_tokens or
 * usage.reasoning_tokens), as COCOON keeps them. */
struct openai_usage {
  int64_t prompt_tokens;
  int64_t cached_tokens;
  int64_t completion_tokens;
  int64_t reasoning_tokens;
  bool seen;           /* at least one "usage" object was seen */
  bool done;           /* SSE "data: [DONE]" was seen */
  uint64_t events;     /* JSON values / SSE events examined */
  uint64_t skipped;    /* events dropped for exceeding the cap (or memory) */
  uint64_t bad;        /* events with a usage object that were not JSON, stray bytes, or a truncated tail */
  enum openai_usage_format format;

  /* private */
  size_t max_event;
  struct buf cur;      /* the current value / event data, up to max_event */
  bool overflow;       /* the current value / event went past max_event */
  bool finished;
  /* JSON scanner */
  uint64_t depth;
  bool in_str, esc, in_garbage;
  /* SSE line state */
  uint8_t line_state;
  bool after_cr;
  bool has_data;
  char field[8];
  uint8_t field_len;
};

/* The usage object of one JSON text. Each count is the field's value when it is a
 * non-negative integer, else 0; reasoning is the larger of the two places it may be. */
struct openai_usage_counts {
  bool seen; /* the text is an object whose (last) "usage" member is an object */
  int64_t prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens;
};

/* Reads one JSON text as jansson would (duplicate keys: the last one counts) without building
 * it. Returns 0 when the text is valid JSON, -1 when not (out then says nothing). */
int openai_usage_parse(const char *text, size_t len, struct openai_usage_counts *out);

/* Prepares u; max_event 0 means OPENAI_USAGE_DEFAULT_MAX_EVENT. */
void openai_usage_init(struct openai_usage *u, size_t max_event);
/* Observes the next `len` bytes of the answer body (borrowed, any split). Never fails: what it
 * cannot examine is counted in `skipped` or `bad`. */
void openai_usage_feed(struct openai_usage *u, const void *data, size_t len);
/* Ends the body: examines a final SSE event lacking its blank line, and counts an unfinished
 * JSON value in `bad`. Further feeds are ignored. */
void openai_usage_finish(struct openai_usage *u);
/* Releases the buffer. NULL-safe; the results stay readable. */
void openai_usage_free(struct openai_usage *u);

#endif
