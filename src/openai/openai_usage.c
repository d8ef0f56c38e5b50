/* openai_usage: reads token usage from a backend's answer as it streams past, without altering it. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "openai/openai_usage.h"

#include <jansson.h>
#include <string.h>

/* After a large event the buffer is released rather than kept for the rest of the stream. */
#define KEEP_CAPACITY ((size_t)64 << 10)

enum line_state {
  LS_START = 0, /* at the start of a line */
  LS_FIELD,     /* reading the field name */
  LS_VALUE1,    /* right after "data:", where one space is dropped */
  LS_DATA,      /* inside a data value */
  LS_SKIP,      /* ignoring the rest of the line (comment or other field) */
};

void openai_usage_init(struct openai_usage *u, size_t max_event) {
  memset(u, 0, sizeof(*u));
  u->max_event = max_event ? max_event : OPENAI_USAGE_DEFAULT_MAX_EVENT;
  buf_init(&u->cur, u->max_event);
}

void openai_usage_free(struct openai_usage *u) {
  if (!u) return;
  buf_free(&u->cur);
  buf_init(&u->cur, u->max_event);
}

static bool is_blank(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static void take_max(int64_t *dst, const json_t *v) {
  if (json_is_integer(v) && json_integer_value(v) > *dst) *dst = json_integer_value(v);
}

static void extract(struct openai_usage *u, const json_t *root) {
  json_t *usage = json_object_get(root, "usage"); /* NULL unless root is an object */
  if (!json_is_object(usage)) return;             /* vLLM sends "usage": null in every chunk */
  u->seen = true;
  take_max(&u->prompt_tokens, json_object_get(usage, "prompt_tokens"));
  take_max(&u->cached_tokens,
           json_object_get(json_object_get(usage, "prompt_tokens_details"), "cached_tokens"));
  take_max(&u->completion_tokens, json_object_get(usage, "completion_tokens"));
  take_max(&u->reasoning_tokens,
           json_object_get(json_object_get(usage, "completion_tokens_details"), "reasoning_tokens"));
  take_max(&u->reasoning_tokens, json_object_get(usage, "reasoning_tokens"));
}

static void event_append(struct openai_usage *u, const uint8_t *p, size_t n) {
  if (u->overflow || n == 0) return;
  if (buf_append(&u->cur, p, n) != 0) {
    /* Over the cap (or out of memory): drop what we have and ignore the rest of this event. */
    u->overflow = true;
    buf_free(&u->cur);
    buf_init(&u->cur, u->max_event);
  }
}

static void event_reset(struct openai_usage *u) {
  u->overflow = false;
  if (u->cur.cap > KEEP_CAPACITY) {
    buf_free(&u->cur);
    buf_init(&u->cur, u->max_event);
  } else {
    buf_reset(&u->cur);
  }
}

/* True when text holds a `"usage"` key whose value is an object. Inside a JSON string a quote
 * is escaped, so the bare pattern only occurs as a real key. Most streamed chunks carry no
 * usage (or "usage": null): they are not parsed at all, which keeps the worker's per-chunk
 * cost to a memmem. */
static bool mentions_usage(const char *text, size_t len) {
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *k = memmem(p, (size_t)(end - p), "\"usage\"", 7);
    if (!k) return false;
    const char *q = k + 7;
    while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')) q++;
    if (q < end && *q == ':') {
      q++;
      while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')) q++;
      if (q < end && *q == '{') return true;
    }
    p = k + 1;
  }
  return false;
}

/* Examines the buffered event (a JSON text) and forgets it. */
static void event_end(struct openai_usage *u) {
  /* An empty event may come before any allocation: no pointer arithmetic on NULL. */
  const char *text = u->cur.data ? (const char *)buf_ptr(&u->cur) : "";
  if (u->overflow) {
    u->skipped++;
  } else if (u->cur.len == 6 && memcmp(text, "[DONE]", 6) == 0) {
    u->done = true;
  } else if (!mentions_usage(text, u->cur.len)) {
    u->events++;
  } else {
    json_error_t je;
    json_t *root = json_loadb(text, u->cur.len, JSON_DECODE_ANY, &je);
    if (root) {
      u->events++;
      extract(u, root);
      json_decref(root);
    } else {
      u->bad++;
    }
  }
  event_reset(u);
}

/* ---- concatenated JSON values ------------------------------------------------------------ */

/* Finds where each top-level value ends by tracking strings and bracket depth, so a value is
 * parsed once, when complete, and only its bytes are kept. */
static void feed_json(struct openai_usage *u, const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (u->depth == 0) {
      uint8_t c = p[i];
      if (is_blank(c)) {
        i++;
        continue;
      }
      if (c != '{' && c != '[') {
        /* A bare scalar or stray byte: nothing to bill from; count the run once. */
        if (!u->in_garbage) u->bad++;
        u->in_garbage = true;
        i++;
        continue;
      }
      u->in_garbage = false;
    }
    size_t start = i;
    bool ended = false;
    for (; i < n; i++) {
      uint8_t c = p[i];
      if (u->in_str) {
        if (u->esc)
          u->esc = false;
        else if (c == '\\')
          u->esc = true;
        else if (c == '"')
          u->in_str = false;
      } else if (c == '"') {
        u->in_str = true;
      } else if (c == '{' || c == '[') {
        u->depth++;
      } else if (c == '}' || c == ']') {
        if (--u->depth == 0) {
          i++;
          ended = true;
          break;
        }
      }
    }
    event_append(u, p + start, i - start);
    if (ended) event_end(u);
  }
}

/* ---- server-sent events ------------------------------------------------------------------ */

static void sse_line_end(struct openai_usage *u) {
  switch ((enum line_state)u->line_state) {
  case LS_START: /* blank line: dispatch */
    if (u->has_data) event_end(u);
    u->has_data = false;
    break;
  case LS_FIELD: /* a field name alone has an empty value */
    if (u->field_len == 4 && memcmp(u->field, "data", 4) == 0) {
      if (u->has_data) event_append(u, (const uint8_t *)"\n", 1);
      u->has_data = true;
    }
    break;
  default: break;
  }
  u->line_state = LS_START;
  u->field_len = 0;
}

/* Index of the first CR or LF in p[i, n), or n (memchr is vectorised; data lines are long). */
static size_t line_end(const uint8_t *p, size_t i, size_t n) {
  const uint8_t *lf = memchr(p + i, '\n', n - i);
  size_t end = lf ? (size_t)(lf - p) : n;
  const uint8_t *cr = memchr(p + i, '\r', end - i);
  return cr ? (size_t)(cr - p) : end;
}

static void feed_sse(struct openai_usage *u, const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (u->after_cr) {
      u->after_cr = false;
      if (c == '\n') { /* the LF of a CRLF */
        i++;
        continue;
      }
    }
    if (c == '\r' || c == '\n') {
      u->after_cr = c == '\r';
      sse_line_end(u);
      i++;
      continue;
    }
    switch ((enum line_state)u->line_state) {
    case LS_START:
      u->line_state = LS_FIELD;
      u->field_len = 0;
      /* fall through */
    case LS_FIELD:
      if (c == ':') {
        if (u->field_len == 4 && memcmp(u->field, "data", 4) == 0) {
          if (u->has_data) event_append(u, (const uint8_t *)"\n", 1);
          u->has_data = true;
          u->line_state = LS_VALUE1;
        } else {
          u->line_state = LS_SKIP; /* comment (empty name) or event/id/retry */
        }
      } else if (u->field_len < sizeof(u->field)) {
        u->field[u->field_len++] = (char)c;
      } else {
        u->line_state = LS_SKIP; /* longer than any field we care about */
      }
      i++;
      break;
    case LS_VALUE1:
      u->line_state = LS_DATA;
      if (c == ' ') {
        i++;
        break;
      }
      /* fall through */
    case LS_DATA: {
      size_t start = i;
      i = line_end(p, i, n);
      event_append(u, p + start, i - start);
      break;
    }
    case LS_SKIP:
      i = line_end(p, i, n);
      break;
    }
  }
}

/* ---- entry points ------------------------------------------------------------------------ */

void openai_usage_feed(struct openai_usage *u, const void *data, size_t len) {
  const uint8_t *p = data;
  if (u->finished) return;
  while (u->format == OPENAI_USAGE_FMT_UNKNOWN && len > 0) {
    uint8_t c = p[0];
    if (is_blank(c)) {
      p++;
      len--;
    } else if (c == '{' || c == '[') {
      u->format = OPENAI_USAGE_FMT_JSON;
    } else if (c == 'd' || c == 'e' || c == 'i' || c == 'r' || c == ':') {
      u->format = OPENAI_USAGE_FMT_SSE; /* data:, event:, id:, retry:, comment */
    } else {
      u->format = OPENAI_USAGE_FMT_OTHER;
      u->bad++;
    }
  }
  if (len == 0) return;
  if (u->format == OPENAI_USAGE_FMT_JSON)
    feed_json(u, p, len);
  else if (u->format == OPENAI_USAGE_FMT_SSE)
    feed_sse(u, p, len);
}

void openai_usage_finish(struct openai_usage *u) {
  if (u->finished) return;
  u->finished = true;
  if (u->format == OPENAI_USAGE_FMT_SSE) {
    /* Be lenient with a last event lacking its blank line: the usage is often in it. */
    if (u->line_state != LS_START) sse_line_end(u);
    if (u->has_data) event_end(u);
    u->has_data = false;
  } else if (u->format == OPENAI_USAGE_FMT_JSON && u->depth > 0) {
    u->bad++; /* truncated value */
    u->depth = 0;
  }
  buf_free(&u->cur);
  buf_init(&u->cur, u->max_event);
}
