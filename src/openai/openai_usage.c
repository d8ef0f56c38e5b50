/* openai_usage: reads token usage from a backend's answer as it streams past, without altering it. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "openai/openai_usage.h"

#include <string.h>

#include "base/json_scan.h"

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

/* ---- the usage object of one JSON text -------------------------------------------------- */

enum { UR_OTHER = 0, UR_ROOT, UR_USAGE, UR_PTD, UR_CTD };               /* container roles */
enum { UK_NONE = 0, UK_USAGE, UK_PT, UK_CT, UK_RT, UK_PTD, UK_CTD, UK_CACHED }; /* member names */
#define UR_LEVELS 3 /* root, usage, *_details: nothing deeper matters */

/* The fields as read so far; a member seen again replaces what the earlier one said. */
struct ufields {
  int64_t pt, ct, rt, cached, ctd_rt;
};

struct uscan {
  uint8_t role[UR_LEVELS]; /* role of the open container at each depth */
  uint8_t key[UR_LEVELS];  /* the member name last read in it */
  bool seen;               /* the last root "usage" member is an object */
  struct ufields f;
};

static bool key_is(const struct json_scan_tok *t, const char *name) {
  size_t n = strlen(name);
  return !t->key_truncated && t->key_len == n && memcmp(t->key, name, n) == 0;
}

static uint8_t key_id(uint8_t role, const struct json_scan_tok *t) {
  switch (role) {
  case UR_ROOT: return key_is(t, "usage") ? UK_USAGE : UK_NONE;
  case UR_USAGE:
    if (key_is(t, "prompt_tokens")) return UK_PT;
    if (key_is(t, "completion_tokens")) return UK_CT;
    if (key_is(t, "reasoning_tokens")) return UK_RT;
    if (key_is(t, "prompt_tokens_details")) return UK_PTD;
    if (key_is(t, "completion_tokens_details")) return UK_CTD;
    return UK_NONE;
  case UR_PTD: return key_is(t, "cached_tokens") ? UK_CACHED : UK_NONE;
  case UR_CTD: return key_is(t, "reasoning_tokens") ? UK_RT : UK_NONE;
  default: return UK_NONE;
  }
}

static int64_t nonneg_int(const struct json_scan_tok *t) {
  return t->ev == JSON_SCAN_INT && t->i > 0 ? t->i : 0;
}

static void on_tok(void *arg, const struct json_scan_tok *t) {
  struct uscan *u = arg;
  struct ufields *f = &u->f;
  size_t d = t->depth;
  if (t->ev == JSON_SCAN_OBJ_END || t->ev == JSON_SCAN_ARR_END) return;
  if (t->ev == JSON_SCAN_KEY) {
    if (d - 1 < UR_LEVELS) u->key[d - 1] = key_id(u->role[d - 1], t);
    return;
  }
  uint8_t role = UR_OTHER;
  if (d == 0) {
    if (t->ev == JSON_SCAN_OBJ_BEGIN) role = UR_ROOT;
  } else if (d - 1 < UR_LEVELS) {
    bool obj = t->ev == JSON_SCAN_OBJ_BEGIN;
    switch (u->role[d - 1]) {
    case UR_ROOT:
      if (u->key[d - 1] == UK_USAGE) {
        u->seen = obj;
        memset(f, 0, sizeof(*f));
        if (obj) role = UR_USAGE;
      }
      break;
    case UR_USAGE:
      switch (u->key[d - 1]) {
      case UK_PT: f->pt = nonneg_int(t); break;
      case UK_CT: f->ct = nonneg_int(t); break;
      case UK_RT: f->rt = nonneg_int(t); break;
      case UK_PTD:
        f->cached = 0;
        if (obj) role = UR_PTD;
        break;
      case UK_CTD:
        f->ctd_rt = 0;
        if (obj) role = UR_CTD;
        break;
      default: break;
      }
      break;
    case UR_PTD:
      if (u->key[d - 1] == UK_CACHED) f->cached = nonneg_int(t);
      break;
    case UR_CTD:
      if (u->key[d - 1] == UK_RT) f->ctd_rt = nonneg_int(t);
      break;
    default: break;
    }
  }
  if ((t->ev == JSON_SCAN_OBJ_BEGIN || t->ev == JSON_SCAN_ARR_BEGIN) && d < UR_LEVELS) {
    u->role[d] = role;
    u->key[d] = UK_NONE;
  }
}

int openai_usage_parse(const char *text, size_t len, struct openai_usage_counts *out) {
  struct uscan u;
  memset(&u, 0, sizeof(u));
  memset(out, 0, sizeof(*out));
  if (json_scan(text, len, on_tok, &u) != 0) return -1;
  if (u.seen) {
    out->seen = true;
    out->prompt_tokens = u.f.pt;
    out->cached_tokens = u.f.cached;
    out->completion_tokens = u.f.ct;
    out->reasoning_tokens = u.f.ctd_rt > u.f.rt ? u.f.ctd_rt : u.f.rt;
  }
  return 0;
}

static void take_max(int64_t *dst, int64_t v) {
  if (v > *dst) *dst = v;
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
    struct openai_usage_counts c;
    if (openai_usage_parse(text, u->cur.len, &c) == 0) {
      u->events++;
      if (c.seen) {
        u->seen = true;
        take_max(&u->prompt_tokens, c.prompt_tokens);
        take_max(&u->cached_tokens, c.cached_tokens);
        take_max(&u->completion_tokens, c.completion_tokens);
        take_max(&u->reasoning_tokens, c.reasoning_tokens);
      }
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
