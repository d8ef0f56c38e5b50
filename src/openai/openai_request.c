/* openai_request: checks and rewrites OpenAI-style request bodies on the client and the worker. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "openai/openai_request.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Field names from untrusted bodies are cut to this many bytes in messages. */
#define NAME_IN_MSG 64

enum openai_endpoint openai_endpoint_from_path(const char *path, size_t len) {
  if (!path) return OPENAI_EP_UNKNOWN;
  /* COCOON keeps the URL from its first '/'. */
  const char *slash = memchr(path, '/', len);
  if (!slash) return OPENAI_EP_UNKNOWN;
  len -= (size_t)(slash - path);
  static const char chat[] = "/v1/chat/completions";
  static const char compl[] = "/v1/completions";
  if (len == sizeof(chat) - 1 && memcmp(slash, chat, len) == 0) return OPENAI_EP_CHAT;
  if (len == sizeof(compl) - 1 && memcmp(slash, compl, len) == 0) return OPENAI_EP_COMPLETIONS;
  return OPENAI_EP_UNKNOWN;
}

size_t openai_model_base_len(const char *full) {
  const char *at = strchr(full, '@');
  return at ? (size_t)(at - full) : strlen(full);
}

/* Parses a request body into an object. Strings come out NUL-free (jansson refuses \u0000
 * without JSON_ALLOW_NUL) and valid UTF-8; integers beyond 64 bits and duplicate keys are refused;
 * so is anything after the value. */
static int load_object(const uint8_t *body, size_t len, size_t max, json_t **out, struct err *e) {
  *out = NULL;
  if (len > max) return err_set(e, ERR_LIMIT, "request body too large (%zu bytes, at most %zu)", len, max);
  json_error_t je;
  json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
  if (!root) {
    if (json_error_code(&je) == json_error_out_of_memory) return err_set(e, ERR_NOMEM, "out of memory");
    return err_set(e, ERR_PARSE, "invalid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
  }
  if (!json_is_object(root)) {
    json_decref(root);
    return err_set(e, ERR_PARSE, "expected json object");
  }
  *out = root;
  return 0;
}

static int dump_compact(const json_t *root, char **body, size_t *len, struct err *e) {
  /* %.17g round-trips every double; the text of a real may change (0.7 -> 0.69999999999999996)
   * but never its value. */
  char *s = json_dumps(root, JSON_COMPACT);
  if (!s) return err_set(e, ERR_NOMEM, "out of memory");
  *body = s;
  *len = strlen(s);
  return 0;
}

/* ---- client side ---------------------------------------------------------------------- */

static bool is_uint(const json_t *v) { return json_is_integer(v) && json_integer_value(v) >= 0; }

/* A non-negative integer that fits the int32 fields of client.runQueryEx. */
static int get_u31(json_t *root, const char *name, int64_t *out, struct err *e) {
  json_t *v = json_object_get(root, name);
  if (!v) return 1;
  if (!is_uint(v)) return err_set(e, ERR_PARSE, "field '%s' must be a non-negative integer", name);
  if (json_integer_value(v) > INT32_MAX)
    return err_set(e, ERR_PARSE, "field '%s' must be at most %d", name, INT32_MAX);
  *out = json_integer_value(v);
  return 0;
}

int openai_client_prepare(const char *path, const uint8_t *body, size_t len,
                          struct openai_client_req *out, struct err *e) {
  memset(out, 0, sizeof(*out));
  json_t *root = NULL;
  int rc = load_object(body, len, OPENAI_MAX_REQUEST_BYTES, &root, e);
  if (rc) return rc;

  out->endpoint = path ? openai_endpoint_from_path(path, strlen(path)) : OPENAI_EP_UNKNOWN;
  out->max_coefficient = OPENAI_DEFAULT_MAX_COEFFICIENT;
  out->timeout_s = OPENAI_DEFAULT_TIMEOUT_S;
  out->max_tokens = OPENAI_DEFAULT_MAX_TOKENS;

  json_t *model = json_object_get(root, "model");
  if (!model) {
    rc = err_set(e, ERR_PARSE, "missing field 'model'");
    goto out;
  }
  if (!json_is_string(model)) {
    rc = err_set(e, ERR_PARSE, "field 'model' must be a string");
    goto out;
  }
  if (json_string_length(model) == 0 || json_string_length(model) > OPENAI_MAX_MODEL_NAME) {
    rc = err_set(e, ERR_PARSE, "field 'model' must be 1 to %d bytes long", OPENAI_MAX_MODEL_NAME);
    goto out;
  }

  int64_t v;
  int r = get_u31(root, "max_tokens", &v, e);
  if (r < 0) {
    rc = r;
    goto out;
  }
  if (r == 0) out->max_tokens = (int32_t)v;
  r = get_u31(root, "max_completion_tokens", &v, e);
  if (r < 0) {
    rc = r;
    goto out;
  }
  if (r == 0) {
    /* max_completion_tokens supersedes the deprecated max_tokens, which the backend must not see. */
    out->max_tokens = (int32_t)v;
    json_object_del(root, "max_tokens");
  }
  /* n choices may each run to max_tokens: the reservation and the proxy's completion check
   * cover all of them (COCOON reserves for one). */
  r = get_u31(root, "n", &v, e);
  if (r < 0) {
    rc = r;
    goto out;
  }
  if (r == 0) {
    if (v < 1 || v > OPENAI_MAX_CHOICES) {
      rc = err_set(e, ERR_PARSE, "field 'n' must be 1 to %d", OPENAI_MAX_CHOICES);
      goto out;
    }
    int64_t total = (int64_t)out->max_tokens * v;
    out->max_tokens = total > INT32_MAX ? INT32_MAX : (int32_t)total;
  }
  r = get_u31(root, "max_coefficient", &v, e);
  if (r < 0) {
    rc = r;
    goto out;
  }
  if (r == 0) {
    out->max_coefficient = (uint32_t)v;
    json_object_del(root, "max_coefficient");
  }

  json_t *t = json_object_get(root, "timeout");
  if (t) {
    if (!json_is_number(t) || !(json_number_value(t) > 0)) {
      rc = err_set(e, ERR_PARSE, "field 'timeout' must be a positive number of seconds");
      goto out;
    }
    double d = json_number_value(t);
    out->timeout_s = d > OPENAI_MAX_TIMEOUT_S ? OPENAI_MAX_TIMEOUT_S : d;
    json_object_del(root, "timeout");
  }

  json_t *dbg = json_object_get(root, "enable_debug");
  if (dbg) {
    if (!json_is_boolean(dbg)) {
      rc = err_set(e, ERR_PARSE, "field 'enable_debug' must be a boolean");
      goto out;
    }
    out->enable_debug = json_is_true(dbg);
    json_object_del(root, "enable_debug");
  }

  json_t *guid = json_object_get(root, "request_guid");
  if (guid) {
    if (!json_is_string(guid)) {
      rc = err_set(e, ERR_PARSE, "field 'request_guid' must be a string");
      goto out;
    }
    if (json_string_length(guid) > OPENAI_MAX_GUID) {
      rc = err_set(e, ERR_PARSE, "field 'request_guid' must be at most %d bytes long", OPENAI_MAX_GUID);
      goto out;
    }
    out->request_guid = strdup(json_string_value(guid));
    if (!out->request_guid) {
      rc = err_set(e, ERR_NOMEM, "out of memory");
      goto out;
    }
    json_object_del(root, "request_guid");
  }

  out->model = strdup(json_string_value(model));
  if (!out->model) {
    rc = err_set(e, ERR_NOMEM, "out of memory");
    goto out;
  }
  rc = dump_compact(root, &out->body, &out->body_len, e);

out:
  json_decref(root);
  if (rc) openai_client_req_free(out);
  return rc;
}

void openai_client_req_free(struct openai_client_req *r) {
  if (!r) return;
  free(r->body);
  free(r->model);
  free(r->request_guid);
  memset(r, 0, sizeof(*r));
}

/* ---- worker side ---------------------------------------------------------------------- */

enum vtype {
  V_ANY,            /* not checked (COCOON passes response_format and stop through) */
  V_ARRAY,
  V_STRING,
  V_STRING_OR_ARRAY,
  V_NUMBER,
  V_PENALTY,        /* number in [-2, 2] */
  V_INT,
  V_UINT,           /* integer >= 0 */
  V_POS_INT,        /* integer >= 1 */
  V_MAX_TOKENS,     /* integer >= 0, remembered */
  V_BOOL,
  V_OBJECT,
  V_STREAM,
  V_STREAM_OPTIONS,
  V_TEMPLATE_KWARGS,
  V_MODEL,
};

struct rule {
  const char *name;
  enum vtype type;
};

/* Keys COCOON accepts for /v1/chat/completions. Everything else (tools, tool_choice, logprobs,
 * logit_bias, audio, metadata, modalities, store, service_tier, user, seed, ...) is refused. */
static const struct rule chat_rules[] = {
    {"messages", V_ARRAY},
    {"model", V_MODEL},
    {"frequency_penalty", V_PENALTY},
    {"max_completion_tokens", V_MAX_TOKENS},
    {"max_tokens", V_MAX_TOKENS},
    {"n", V_POS_INT},
    {"parallel_tool_calls", V_BOOL},
    /* COCOON checks prediction as a number; OpenAI defines an object
     * ({"type":"content","content":...}), which is what backends accept. */
    {"prediction", V_OBJECT},
    {"presence_penalty", V_NUMBER},
    {"reasoning_effort", V_STRING},
    {"response_format", V_ANY},
    {"stop", V_ANY},
    {"stream", V_STREAM},
    {"stream_options", V_STREAM_OPTIONS},
    {"temperature", V_NUMBER},
    {"top_logprobs", V_UINT},
    {"top_p", V_NUMBER},
    {"verbosity", V_STRING},
    {"chat_template_kwargs", V_TEMPLATE_KWARGS},
};

static const struct rule completions_rules[] = {
    {"prompt", V_STRING_OR_ARRAY},
    {"model", V_MODEL},
    {"best_of", V_UINT},
    {"echo", V_BOOL},
    {"frequency_penalty", V_PENALTY},
    {"max_tokens", V_MAX_TOKENS},
    {"n", V_POS_INT},
    {"presence_penalty", V_NUMBER},
    {"seed", V_INT},
    {"stop", V_ANY},
    {"stream", V_STREAM},
    {"stream_options", V_STREAM_OPTIONS},
    /* COCOON checks suffix as a boolean; OpenAI defines a string. */
    {"suffix", V_STRING},
    {"temperature", V_NUMBER},
    {"top_p", V_NUMBER},
    {"skip_special_tokens", V_BOOL}, /* non-standard, vLLM/SGLang */
};

struct vstate {
  bool has_stream, stream, has_stream_options;
  int64_t max_tokens;
  const char *model; /* borrowed from the tree */
};

static int check_stream_options(json_t *v, struct err *e) {
  if (!json_is_object(v)) return err_set(e, ERR_PARSE, "stream_options must be an object");
  const char *k;
  json_t *sv;
  json_object_foreach(v, k, sv) {
    if (strcmp(k, "include_usage") == 0 || strcmp(k, "include_obfuscation") == 0) {
      if (!json_is_boolean(sv)) return err_set(e, ERR_PARSE, "stream_options.%s must be a boolean", k);
    } else {
      return err_set(e, ERR_PARSE, "unknown option '%.*s' in stream_options", NAME_IN_MSG, k);
    }
  }
  return 0;
}

static int check_template_kwargs(json_t *v, struct err *e) {
  if (!json_is_object(v)) return err_set(e, ERR_PARSE, "chat_template_kwargs must be an object");
  const char *k;
  json_t *sv;
  json_object_foreach(v, k, sv) {
    if (strcmp(k, "enable_thinking") != 0)
      return err_set(e, ERR_PARSE, "unknown suboption '%.*s' in chat_template_kwargs in request",
                     NAME_IN_MSG, k);
    if (!json_is_boolean(sv))
      return err_set(e, ERR_PARSE, "chat_template_kwargs.enable_thinking must be a boolean");
  }
  return 0;
}

static int check_value(const struct rule *r, json_t *v, struct vstate *st, struct err *e) {
  const char *n = r->name;
  switch (r->type) {
  case V_ANY: return 0;
  case V_ARRAY:
    return json_is_array(v) ? 0 : err_set(e, ERR_PARSE, "%s must be an array", n);
  case V_STRING:
    return json_is_string(v) ? 0 : err_set(e, ERR_PARSE, "%s must be a string", n);
  case V_MODEL:
    if (!json_is_string(v)) return err_set(e, ERR_PARSE, "%s must be a string", n);
    st->model = json_string_value(v);
    return 0;
  case V_STRING_OR_ARRAY:
    return json_is_string(v) || json_is_array(v)
               ? 0
               : err_set(e, ERR_PARSE, "%s must be an array or a string", n);
  case V_NUMBER:
    return json_is_number(v) ? 0 : err_set(e, ERR_PARSE, "%s must be a number", n);
  case V_PENALTY:
    if (!json_is_number(v)) return err_set(e, ERR_PARSE, "%s must be a number", n);
    if (json_number_value(v) < -2.0 || json_number_value(v) > 2.0)
      return err_set(e, ERR_PARSE, "%s must be between -2.0 and 2.0", n);
    return 0;
  case V_INT:
    return json_is_integer(v) ? 0 : err_set(e, ERR_PARSE, "%s must be an integer", n);
  case V_UINT:
    return is_uint(v) ? 0 : err_set(e, ERR_PARSE, "%s must be a non-negative integer", n);
  case V_POS_INT:
    if (!json_is_integer(v)) return err_set(e, ERR_PARSE, "%s must be an integer", n);
    return json_integer_value(v) >= 1 ? 0 : err_set(e, ERR_PARSE, "%s must be positive", n);
  case V_MAX_TOKENS:
    if (!json_is_integer(v)) return err_set(e, ERR_PARSE, "%s must be an integer", n);
    if (json_integer_value(v) < 0) return err_set(e, ERR_PARSE, "%s must be non-negative", n);
    /* max_completion_tokens wins when both are given, as on the client. */
    if (strcmp(n, "max_completion_tokens") == 0 || st->max_tokens < 0)
      st->max_tokens = json_integer_value(v);
    return 0;
  case V_BOOL:
    return json_is_boolean(v) ? 0 : err_set(e, ERR_PARSE, "%s must be a boolean", n);
  case V_OBJECT:
    return json_is_object(v) ? 0 : err_set(e, ERR_PARSE, "%s must be an object", n);
  case V_STREAM:
    if (!json_is_boolean(v)) return err_set(e, ERR_PARSE, "%s must be a boolean", n);
    st->has_stream = true;
    st->stream = json_is_true(v);
    return 0;
  case V_STREAM_OPTIONS:
    st->has_stream_options = true;
    return check_stream_options(v, e);
  case V_TEMPLATE_KWARGS: return check_template_kwargs(v, e);
  }
  return err_set(e, ERR_PARSE, "internal: bad rule for %s", n);
}

static int apply_stream_rewrites(json_t *root, struct vstate *st, struct err *e) {
  if (st->has_stream_options && !st->has_stream) {
    if (json_object_set_new(root, "stream", json_true())) return err_set(e, ERR_NOMEM, "out of memory");
    st->has_stream = st->stream = true;
  }
  if (!st->stream) {
    /* COCOON forwards stream_options with stream=false; vLLM then answers 400 ("Stream options can
     * only be defined when stream=True"), so we drop them: they mean nothing without streaming. */
    if (st->has_stream_options) json_object_del(root, "stream_options");
    return 0;
  }
  json_t *so = json_object_get(root, "stream_options");
  if (!so) {
    so = json_object();
    if (!so || json_object_set_new(root, "stream_options", so))
      return err_set(e, ERR_NOMEM, "out of memory");
  }
  if (json_object_set_new(so, "include_usage", json_true())) return err_set(e, ERR_NOMEM, "out of memory");
  return 0;
}

int openai_worker_validate(const char *path, size_t path_len, const uint8_t *body, size_t len,
                           const char *worker_model, struct openai_worker_req *out, struct err *e) {
  memset(out, 0, sizeof(*out));
  enum openai_endpoint ep = openai_endpoint_from_path(path, path_len);
  if (ep == OPENAI_EP_UNKNOWN) return err_set(e, ERR_NOTFOUND, "unsupported method");

  json_t *root = NULL;
  int rc = load_object(body, len, OPENAI_MAX_REQUEST_BYTES, &root, e);
  if (rc) return rc;

  const struct rule *rules = ep == OPENAI_EP_CHAT ? chat_rules : completions_rules;
  size_t nrules = ep == OPENAI_EP_CHAT ? sizeof(chat_rules) / sizeof(chat_rules[0])
                                       : sizeof(completions_rules) / sizeof(completions_rules[0]);
  const char *required = ep == OPENAI_EP_CHAT ? "messages" : "prompt";
  struct vstate st = {.max_tokens = -1};

  const char *key;
  json_t *v;
  json_object_foreach(root, key, v) {
    const struct rule *r = NULL;
    for (size_t i = 0; i < nrules; i++) {
      if (strcmp(rules[i].name, key) == 0) {
        r = &rules[i];
        break;
      }
    }
    if (!r) {
      rc = err_set(e, ERR_PARSE, "unknown option '%.*s' in request", NAME_IN_MSG, key);
      goto out;
    }
    rc = check_value(r, v, &st, e);
    if (rc) goto out;
  }
  if (!json_object_get(root, required)) {
    rc = err_set(e, ERR_PARSE, "missing required field '%s'", required);
    goto out;
  }
  if (!st.model) {
    rc = err_set(e, ERR_PARSE, "missing required field 'model'");
    goto out;
  }
  size_t base = openai_model_base_len(worker_model);
  if (strlen(st.model) != base || memcmp(st.model, worker_model, base) != 0) {
    rc = err_set(e, ERR_REFUSED, "model name mismatch: requested '%.*s', this worker serves '%.*s'",
                 NAME_IN_MSG, st.model, NAME_IN_MSG, worker_model);
    goto out;
  }
  rc = apply_stream_rewrites(root, &st, e);
  if (rc) goto out;

  out->stream = st.stream;
  out->max_tokens = st.max_tokens;
  out->endpoint = ep;
  rc = dump_compact(root, &out->body, &out->body_len, e);

out:
  json_decref(root);
  if (rc) openai_worker_req_free(out);
  return rc;
}

void openai_worker_req_free(struct openai_worker_req *r) {
  if (!r) return;
  free(r->body);
  memset(r, 0, sizeof(*r));
}

/* ---- /v1/models ----------------------------------------------------------------------- */

int openai_models_contains(const uint8_t *body, size_t len, const char *model, bool *found,
                           struct err *e) {
  *found = false;
  if (len > OPENAI_MAX_MODELS_BYTES)
    return err_set(e, ERR_LIMIT, "models answer too large (%zu bytes)", len);
  /* Duplicates are tolerated here: this is our own backend's answer, and COCOON's client emits
   * "object" twice in its /v1/models. */
  json_error_t je;
  json_t *root = json_loadb((const char *)body, len, 0, &je);
  if (!root) return err_set(e, ERR_PARSE, "models answer: %s at line %d column %d", je.text, je.line, je.column);
  int rc = 0;
  json_t *data = json_object_get(root, "data");
  if (!json_is_array(data)) {
    rc = err_set(e, ERR_PARSE, "models answer: 'data' must be an array");
    goto out;
  }
  size_t i;
  json_t *m;
  json_array_foreach(data, i, m) {
    json_t *id = json_object_get(m, "id");
    if (json_is_string(id) && strcmp(json_string_value(id), model) == 0) {
      *found = true;
      break;
    }
  }
out:
  json_decref(root);
  return rc;
}
