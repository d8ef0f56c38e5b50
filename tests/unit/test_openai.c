/* test_openai: unit tests for request checks (client and worker), /v1/models and usage extraction. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "openai/openai_request.h"
#include "openai/openai_usage.h"

#define CHAT "/v1/chat/completions"
#define COMPL "/v1/completions"
#define WMODEL "Qwen/Qwen3-0.6B@abcdef"

/* ---- helpers ------------------------------------------------------------------------------- */

static int client(const char *body, struct openai_client_req *r, struct err *e) {
  return openai_client_prepare(CHAT, (const uint8_t *)body, strlen(body), r, e);
}

static void client_fails(const char *body, const char *msg) {
  struct openai_client_req r;
  struct err e = {0};
  int rc = client(body, &r, &e);
  if (rc == 0) fail_msg("accepted: %s", body);
  assert_int_equal(rc, ERR_PARSE);
  if (!strstr(e.msg, msg)) fail_msg("for %s: got '%s', want '%s'", body, e.msg, msg);
  assert_null(r.body);
  assert_null(r.model);
}

static int worker(const char *path, const char *body, struct openai_worker_req *r, struct err *e) {
  return openai_worker_validate(path, strlen(path), (const uint8_t *)body, strlen(body), WMODEL, r, e);
}

static void worker_ok(const char *path, const char *body) {
  struct openai_worker_req r;
  struct err e = {0};
  int rc = worker(path, body, &r, &e);
  if (rc) fail_msg("refused %s: %s", body, e.msg);
  openai_worker_req_free(&r);
}

static void worker_fails(const char *path, const char *body, int code, const char *msg) {
  struct openai_worker_req r;
  struct err e = {0};
  int rc = worker(path, body, &r, &e);
  if (rc == 0) fail_msg("accepted: %s", body);
  assert_int_equal(rc, code);
  if (!strstr(e.msg, msg)) fail_msg("for %s: got '%s', want '%s'", body, e.msg, msg);
  assert_null(r.body);
}

/* Parses the rewritten body for inspection. */
static json_t *reparse(const char *s) {
  json_error_t je;
  json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &je);
  assert_non_null(j);
  return j;
}

/* ---- client ------------------------------------------------------------------------------- */

static void test_client_defaults(void **state) {
  struct openai_client_req r;
  struct err e = {0};
  const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  assert_int_equal(client(body, &r, &e), 0);
  assert_string_equal(r.model, "m");
  assert_int_equal(r.max_coefficient, 4000);
  assert_true(r.timeout_s == 120.0);
  assert_int_equal(r.max_tokens, 1000);
  assert_false(r.enable_debug);
  assert_null(r.request_guid);
  assert_int_equal(r.endpoint, OPENAI_EP_CHAT);
  /* Compact, unchanged, and no max_tokens injected. */
  assert_string_equal(r.body, body);
  assert_int_equal(r.body_len, strlen(body));
  openai_client_req_free(&r);
  openai_client_req_free(&r);
  openai_client_req_free(NULL);
}

static void test_client_strip(void **state) {
  struct openai_client_req r;
  struct err e = {0};
  const char *body =
      "{ \"model\" : \"m\", \"max_coefficient\": 2500, \"timeout\": 30.5, \"request_guid\": \"g-1\","
      " \"enable_debug\": true, \"max_tokens\": 77, \"stream\": true }";
  assert_int_equal(client(body, &r, &e), 0);
  assert_int_equal(r.max_coefficient, 2500);
  assert_true(r.timeout_s == 30.5);
  assert_string_equal(r.request_guid, "g-1");
  assert_true(r.enable_debug);
  assert_int_equal(r.max_tokens, 77);
  assert_string_equal(r.body, "{\"model\":\"m\",\"max_tokens\":77,\"stream\":true}");
  openai_client_req_free(&r);

  /* Integer timeout, clamping of huge timeouts, other path. */
  const char *b2 = "{\"model\":\"m\",\"timeout\":100000}";
  assert_int_equal(openai_client_prepare("/v1/embeddings", (const uint8_t *)b2, strlen(b2), &r, &e), 0);
  assert_true(r.timeout_s == OPENAI_MAX_TIMEOUT_S);
  assert_int_equal(r.endpoint, OPENAI_EP_UNKNOWN);
  openai_client_req_free(&r);
  const char *b3 = "{\"model\":\"m\",\"timeout\":5}";
  assert_int_equal(openai_client_prepare(NULL, (const uint8_t *)b3, strlen(b3), &r, &e), 0);
  assert_true(r.timeout_s == 5.0);
  openai_client_req_free(&r);
}

static void test_client_max_completion_tokens(void **state) {
  struct openai_client_req r;
  struct err e = {0};
  assert_int_equal(client("{\"max_tokens\":10,\"model\":\"m\",\"max_completion_tokens\":20}", &r, &e), 0);
  assert_int_equal(r.max_tokens, 20);
  assert_string_equal(r.body, "{\"model\":\"m\",\"max_completion_tokens\":20}");
  openai_client_req_free(&r);
  assert_int_equal(client("{\"model\":\"m\",\"max_completion_tokens\":0}", &r, &e), 0);
  assert_int_equal(r.max_tokens, 0);
  openai_client_req_free(&r);
}

/* n choices reserve and allow n x max_tokens; the body keeps n for the backend. */
static void test_client_n_choices(void **state) {
  struct openai_client_req r;
  struct err e = {0};
  assert_int_equal(client("{\"model\":\"m\",\"max_tokens\":10,\"n\":3}", &r, &e), 0);
  assert_int_equal(r.max_tokens, 30);
  assert_non_null(strstr(r.body, "\"n\":3"));
  openai_client_req_free(&r);
  assert_int_equal(client("{\"model\":\"m\",\"n\":2}", &r, &e), 0);
  assert_int_equal(r.max_tokens, 2 * OPENAI_DEFAULT_MAX_TOKENS);
  openai_client_req_free(&r);
  assert_int_equal(client("{\"model\":\"m\",\"max_tokens\":2147483647,\"n\":128}", &r, &e), 0);
  assert_int_equal(r.max_tokens, INT32_MAX);
  openai_client_req_free(&r);
  client_fails("{\"model\":\"m\",\"n\":0}", "field 'n' must be 1 to 128");
  client_fails("{\"model\":\"m\",\"n\":129}", "field 'n' must be 1 to 128");
  client_fails("{\"model\":\"m\",\"n\":\"2\"}", "field 'n' must be a non-negative integer");
}

static void test_client_errors(void **state) {
  client_fails("", "invalid JSON");
  client_fails("{\"model\":\"m\"", "invalid JSON");
  client_fails("{\"model\":\"m\"} x", "invalid JSON");
  client_fails("[1,2]", "expected json object");
  client_fails("\"str\"", "expected json object");
  client_fails("{\"model\":\"m\",\"model\":\"n\"}", "duplicate object key");
  client_fails("{\"model\":\"\xff\"}", "invalid JSON");
  client_fails("{\"model\":\"a\\u0000b\"}", "invalid JSON");
  client_fails("{}", "missing field 'model'");
  client_fails("{\"model\":5}", "field 'model' must be a string");
  client_fails("{\"model\":\"\"}", "field 'model' must be 1 to");
  client_fails("{\"model\":\"m\",\"max_tokens\":-1}", "field 'max_tokens' must be a non-negative integer");
  client_fails("{\"model\":\"m\",\"max_tokens\":1.5}", "field 'max_tokens' must be a non-negative integer");
  client_fails("{\"model\":\"m\",\"max_tokens\":null}", "field 'max_tokens' must be a non-negative integer");
  client_fails("{\"model\":\"m\",\"max_tokens\":2147483648}", "field 'max_tokens' must be at most 2147483647");
  client_fails("{\"model\":\"m\",\"max_completion_tokens\":\"5\"}",
               "field 'max_completion_tokens' must be a non-negative integer");
  client_fails("{\"model\":\"m\",\"max_coefficient\":-5}", "field 'max_coefficient' must be a non-negative integer");
  client_fails("{\"model\":\"m\",\"max_coefficient\":99999999999}", "field 'max_coefficient' must be at most");
  client_fails("{\"model\":\"m\",\"timeout\":\"5\"}", "field 'timeout' must be a positive number of seconds");
  client_fails("{\"model\":\"m\",\"timeout\":0}", "field 'timeout' must be a positive number of seconds");
  client_fails("{\"model\":\"m\",\"timeout\":-1.5}", "field 'timeout' must be a positive number of seconds");
  client_fails("{\"model\":\"m\",\"enable_debug\":1}", "field 'enable_debug' must be a boolean");
  client_fails("{\"model\":\"m\",\"request_guid\":7}", "field 'request_guid' must be a string");
  char big[600];
  int n = snprintf(big, sizeof(big), "{\"model\":\"m\",\"request_guid\":\"");
  memset(big + n, 'g', 300);
  memcpy(big + n + 300, "\"}", 3);
  client_fails(big, "field 'request_guid' must be at most 256 bytes");
  n = snprintf(big, sizeof(big), "{\"model\":\"");
  memset(big + n, 'm', 300);
  memcpy(big + n + 300, "\"}", 3);
  client_fails(big, "field 'model' must be 1 to 256");
}

static void test_client_too_large(void **state) {
  size_t len = OPENAI_MAX_REQUEST_BYTES + 1;
  uint8_t *b = malloc(len);
  assert_non_null(b);
  memset(b, ' ', len);
  struct openai_client_req r;
  struct err e = {0};
  assert_int_equal(openai_client_prepare(CHAT, b, len, &r, &e), ERR_LIMIT);
  assert_non_null(strstr(e.msg, "too large"));
  free(b);
}

/* ---- worker ------------------------------------------------------------------------------- */

#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
#define M "\"model\":\"Qwen/Qwen3-0.6B\""

static void test_worker_paths(void **state) {
  assert_int_equal(openai_endpoint_from_path(CHAT, strlen(CHAT)), OPENAI_EP_CHAT);
  assert_int_equal(openai_endpoint_from_path(COMPL, strlen(COMPL)), OPENAI_EP_COMPLETIONS);
  assert_int_equal(openai_endpoint_from_path("x" CHAT, strlen(CHAT) + 1), OPENAI_EP_CHAT);
  assert_int_equal(openai_endpoint_from_path(CHAT "?a=1", strlen(CHAT) + 4), OPENAI_EP_UNKNOWN);
  assert_int_equal(openai_endpoint_from_path("/v1/models", 10), OPENAI_EP_UNKNOWN);
  assert_int_equal(openai_endpoint_from_path("v1", 2), OPENAI_EP_UNKNOWN);
  assert_int_equal(openai_endpoint_from_path(NULL, 0), OPENAI_EP_UNKNOWN);
  assert_int_equal(openai_model_base_len("a@b@c"), 1);
  assert_int_equal(openai_model_base_len("abc"), 3);
  worker_fails("/v1/embeddings", "{" M "}", ERR_NOTFOUND, "unsupported method");
  worker_fails("/v1/chat/completions/", "{" M "}", ERR_NOTFOUND, "unsupported method");
}

static void test_worker_chat_allowed(void **state) {
  static const char *const extra[] = {
      "\"frequency_penalty\":-2",
      "\"frequency_penalty\":2.0",
      "\"frequency_penalty\":0.5",
      "\"max_completion_tokens\":0",
      "\"max_tokens\":100",
      "\"n\":1",
      "\"parallel_tool_calls\":false",
      "\"prediction\":{\"type\":\"content\",\"content\":\"x\"}",
      "\"presence_penalty\":-7.5",
      "\"reasoning_effort\":\"low\"",
      "\"response_format\":{\"type\":\"json_object\"}",
      "\"response_format\":null",
      "\"stop\":[\"a\",\"b\"]",
      "\"stop\":\"x\"",
      "\"stream\":false",
      "\"stream\":true",
      "\"stream_options\":{}",
      "\"stream_options\":{\"include_usage\":false,\"include_obfuscation\":true}",
      "\"temperature\":0",
      "\"temperature\":1.3",
      "\"top_logprobs\":0",
      "\"top_p\":1",
      "\"verbosity\":\"high\"",
      "\"chat_template_kwargs\":{}",
      "\"chat_template_kwargs\":{\"enable_thinking\":false}",
  };
  char body[512];
  for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
    snprintf(body, sizeof(body), "{" MSGS "," M ",%s}", extra[i]);
    worker_ok(CHAT, body);
  }
  worker_ok(CHAT, "{" M "," MSGS "}");
  /* The worker may be configured with a bare name too. */
  struct openai_worker_req r;
  struct err e = {0};
  const char *b = "{" M "," MSGS "}";
  assert_int_equal(openai_worker_validate(CHAT, strlen(CHAT), (const uint8_t *)b, strlen(b), "Qwen/Qwen3-0.6B",
                                          &r, &e),
                   0);
  openai_worker_req_free(&r);
}

static void test_worker_completions_allowed(void **state) {
  static const char *const extra[] = {
      "\"best_of\":2",         "\"echo\":true",          "\"frequency_penalty\":1",
      "\"max_tokens\":5",      "\"n\":3",                "\"presence_penalty\":0.1",
      "\"seed\":-42",          "\"stop\":null",          "\"stream\":true",
      "\"stream_options\":{}", "\"suffix\":\"tail\"",   "\"temperature\":0.2",
      "\"top_p\":0.9",         "\"skip_special_tokens\":false",
  };
  char body[512];
  for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
    snprintf(body, sizeof(body), "{\"prompt\":\"p\"," M ",%s}", extra[i]);
    worker_ok(COMPL, body);
  }
  worker_ok(COMPL, "{\"prompt\":[1,2,3]," M "}");
  worker_ok(COMPL, "{\"prompt\":[\"a\",\"b\"]," M "}");
}

static void test_worker_rejected_keys(void **state) {
  static const char *const chat_bad[] = {
      "tools", "tool_choice", "logprobs", "logit_bias", "audio", "metadata", "modalities", "store",
      "service_tier", "user", "seed", "web_search_options", "prompt_cache_key", "functions",
      "safety_identifier", "best_of", "echo", "suffix", "prompt", "Model",
  };
  char body[512], msg[128];
  for (size_t i = 0; i < sizeof(chat_bad) / sizeof(chat_bad[0]); i++) {
    snprintf(body, sizeof(body), "{" MSGS "," M ",\"%s\":1}", chat_bad[i]);
    snprintf(msg, sizeof(msg), "unknown option '%s' in request", chat_bad[i]);
    worker_fails(CHAT, body, ERR_PARSE, msg);
  }
  static const char *const compl_bad[] = {
      "messages", "logprobs", "logit_bias", "user", "max_completion_tokens", "tools",
      "chat_template_kwargs", "reasoning_effort", "top_logprobs",
  };
  for (size_t i = 0; i < sizeof(compl_bad) / sizeof(compl_bad[0]); i++) {
    snprintf(body, sizeof(body), "{\"prompt\":\"x\"," M ",\"%s\":1}", compl_bad[i]);
    snprintf(msg, sizeof(msg), "unknown option '%s' in request", compl_bad[i]);
    worker_fails(COMPL, body, ERR_PARSE, msg);
  }
}

static void test_worker_type_errors(void **state) {
  struct {
    const char *field, *msg;
  } chat[] = {
      {"\"messages\":{}", "messages must be an array"},
      {"\"frequency_penalty\":\"1\"", "frequency_penalty must be a number"},
      {"\"frequency_penalty\":2.5", "frequency_penalty must be between -2.0 and 2.0"},
      {"\"frequency_penalty\":-3", "frequency_penalty must be between -2.0 and 2.0"},
      {"\"max_completion_tokens\":1.0", "max_completion_tokens must be an integer"},
      {"\"max_completion_tokens\":-1", "max_completion_tokens must be non-negative"},
      {"\"max_tokens\":\"10\"", "max_tokens must be an integer"},
      {"\"max_tokens\":-10", "max_tokens must be non-negative"},
      {"\"n\":0", "n must be positive"},
      {"\"n\":1.5", "n must be an integer"},
      {"\"parallel_tool_calls\":0", "parallel_tool_calls must be a boolean"},
      {"\"prediction\":1", "prediction must be an object"},
      {"\"presence_penalty\":true", "presence_penalty must be a number"},
      {"\"reasoning_effort\":1", "reasoning_effort must be a string"},
      {"\"stream\":\"true\"", "stream must be a boolean"},
      {"\"stream_options\":true", "stream_options must be an object"},
      {"\"stream_options\":{\"include_usage\":1}", "stream_options.include_usage must be a boolean"},
      {"\"stream_options\":{\"include_obfuscation\":null}", "stream_options.include_obfuscation must be a boolean"},
      {"\"stream_options\":{\"x\":true}", "unknown option 'x' in stream_options"},
      {"\"temperature\":\"hot\"", "temperature must be a number"},
      {"\"top_logprobs\":-1", "top_logprobs must be a non-negative integer"},
      {"\"top_logprobs\":2.0", "top_logprobs must be a non-negative integer"},
      {"\"top_p\":[]", "top_p must be a number"},
      {"\"verbosity\":false", "verbosity must be a string"},
      {"\"chat_template_kwargs\":[]", "chat_template_kwargs must be an object"},
      {"\"chat_template_kwargs\":{\"enable_thinking\":\"y\"}", "chat_template_kwargs.enable_thinking must be a boolean"},
      {"\"chat_template_kwargs\":{\"foo\":true}", "unknown suboption 'foo' in chat_template_kwargs in request"},
  };
  char body[512];
  for (size_t i = 0; i < sizeof(chat) / sizeof(chat[0]); i++) {
    snprintf(body, sizeof(body), "{" MSGS "," M ",%s}", chat[i].field);
    if (strncmp(chat[i].field, "\"messages\"", 10) == 0) snprintf(body, sizeof(body), "{" M ",%s}", chat[i].field);
    worker_fails(CHAT, body, ERR_PARSE, chat[i].msg);
  }
  worker_fails(CHAT, "{" MSGS ",\"model\":1}", ERR_PARSE, "model must be a string");
  struct {
    const char *field, *msg;
  } compl[] = {
      {"\"best_of\":-1", "best_of must be a non-negative integer"},
      {"\"echo\":\"no\"", "echo must be a boolean"},
      {"\"frequency_penalty\":3", "frequency_penalty must be between -2.0 and 2.0"},
      {"\"max_tokens\":-1", "max_tokens must be non-negative"},
      {"\"n\":-1", "n must be positive"},
      {"\"presence_penalty\":\"x\"", "presence_penalty must be a number"},
      {"\"seed\":1.5", "seed must be an integer"},
      {"\"stream\":1", "stream must be a boolean"},
      {"\"suffix\":true", "suffix must be a string"},
      {"\"temperature\":null", "temperature must be a number"},
      {"\"top_p\":\"1\"", "top_p must be a number"},
      {"\"skip_special_tokens\":1", "skip_special_tokens must be a boolean"},
  };
  for (size_t i = 0; i < sizeof(compl) / sizeof(compl[0]); i++) {
    snprintf(body, sizeof(body), "{\"prompt\":\"p\"," M ",%s}", compl[i].field);
    worker_fails(COMPL, body, ERR_PARSE, compl[i].msg);
  }
  worker_fails(COMPL, "{\"prompt\":5," M "}", ERR_PARSE, "prompt must be an array or a string");
  worker_fails(COMPL, "{\"prompt\":null," M "}", ERR_PARSE, "prompt must be an array or a string");
}

static void test_worker_structure(void **state) {
  worker_fails(CHAT, "{" M "}", ERR_PARSE, "missing required field 'messages'");
  worker_fails(CHAT, "{" MSGS "}", ERR_PARSE, "missing required field 'model'");
  worker_fails(COMPL, "{" M "}", ERR_PARSE, "missing required field 'prompt'");
  worker_fails(COMPL, "{\"prompt\":\"x\"}", ERR_PARSE, "missing required field 'model'");
  worker_fails(CHAT, "[]", ERR_PARSE, "expected json object");
  worker_fails(CHAT, "null", ERR_PARSE, "expected json object");
  worker_fails(CHAT, "42", ERR_PARSE, "expected json object");
  worker_fails(CHAT, "", ERR_PARSE, "invalid JSON");
  worker_fails(CHAT, "{" MSGS "," M "}{}", ERR_PARSE, "invalid JSON");
  worker_fails(CHAT, "{" MSGS "," M ",\"n\":1,\"n\":2}", ERR_PARSE, "duplicate object key");
  worker_fails(CHAT, "{" MSGS "," M ",\"stream_options\":{\"include_usage\":true,\"include_usage\":true}}", ERR_PARSE,
               "duplicate object key");
  worker_fails(CHAT, "{\"messages\":[{\"content\":\"\xc3\x28\"}]," M "}", ERR_PARSE, "invalid JSON");
  worker_fails(CHAT, "{\"messages\":[{\"content\":\"\xed\xa0\x80\"}]," M "}", ERR_PARSE, "invalid JSON");
  worker_fails(CHAT, "{" MSGS "," M ",\"n\":99999999999999999999}", ERR_PARSE, "invalid JSON");
  worker_fails(CHAT, "{" MSGS ",\"model\":\"Qwen/Qwen3-8B\"}", ERR_REFUSED, "model name mismatch");
  worker_fails(CHAT, "{" MSGS ",\"model\":\"Qwen/Qwen3-0.6B@abcdef\"}", ERR_REFUSED, "model name mismatch");
  worker_fails(CHAT, "{" MSGS ",\"model\":\"Qwen/Qwen3-0.6\"}", ERR_REFUSED, "model name mismatch");
  worker_fails(CHAT, "{" MSGS ",\"model\":\"\"}", ERR_REFUSED, "model name mismatch");
  /* Valid UTF-8 in content passes through unchanged. */
  struct openai_worker_req r;
  struct err e = {0};
  assert_int_equal(worker(CHAT, "{\"messages\":[{\"content\":\"\xc3\xa9\xf0\x9f\x98\x80\"}]," M "}", &r, &e), 0);
  assert_non_null(strstr(r.body, "\xc3\xa9\xf0\x9f\x98\x80"));
  openai_worker_req_free(&r);
}

static void check_rewrite(const char *path, const char *body, bool want_stream, int want_stream_field,
                          int want_usage_field) {
  struct openai_worker_req r;
  struct err e = {0};
  int rc = worker(path, body, &r, &e);
  if (rc) fail_msg("%s: %s", body, e.msg);
  assert_int_equal(r.stream, want_stream);
  json_t *j = reparse(r.body);
  json_t *s = json_object_get(j, "stream");
  /* want_stream_field: -1 absent, 0 false, 1 true */
  if (want_stream_field < 0)
    assert_null(s);
  else
    assert_int_equal(json_is_true(s), want_stream_field);
  json_t *so = json_object_get(j, "stream_options");
  if (want_usage_field < 0) {
    assert_null(so);
  } else {
    assert_true(json_is_object(so));
    assert_int_equal(json_is_true(json_object_get(so, "include_usage")), want_usage_field);
  }
  json_decref(j);
  openai_worker_req_free(&r);
}

static void test_worker_rewrites(void **state) {
  check_rewrite(CHAT, "{" MSGS "," M "}", false, -1, -1);
  check_rewrite(CHAT, "{" MSGS "," M ",\"stream\":false}", false, 0, -1);
  check_rewrite(CHAT, "{" MSGS "," M ",\"stream\":true}", true, 1, 1);
  check_rewrite(CHAT, "{" MSGS "," M ",\"stream_options\":{}}", true, 1, 1);
  check_rewrite(CHAT, "{" MSGS "," M ",\"stream_options\":{\"include_usage\":false}}", true, 1, 1);
  check_rewrite(CHAT, "{" MSGS "," M ",\"stream\":true,\"stream_options\":{\"include_usage\":false}}", true, 1, 1);
  /* stream=false with options: options are dropped (backends refuse them). */
  check_rewrite(CHAT, "{" MSGS "," M ",\"stream\":false,\"stream_options\":{\"include_usage\":true}}", false, 0, -1);
  check_rewrite(COMPL, "{\"prompt\":\"p\"," M ",\"stream\":true}", true, 1, 1);
  check_rewrite(COMPL, "{\"prompt\":\"p\"," M ",\"stream_options\":{\"include_obfuscation\":false}}", true, 1, 1);

  /* include_obfuscation is kept; order of keys is kept. */
  struct openai_worker_req r;
  struct err e = {0};
  assert_int_equal(worker(CHAT, "{" M ",\"stream\":true,\"stream_options\":{\"include_obfuscation\":false}," MSGS
                                ",\"max_tokens\":9,\"max_completion_tokens\":12}",
                          &r, &e),
                   0);
  assert_string_equal(r.body, "{" M ",\"stream\":true,\"stream_options\":{\"include_obfuscation\":false,"
                              "\"include_usage\":true}," MSGS ",\"max_tokens\":9,\"max_completion_tokens\":12}");
  assert_int_equal(r.max_tokens, 12);
  assert_int_equal(r.endpoint, OPENAI_EP_CHAT);
  openai_worker_req_free(&r);
  assert_int_equal(worker(COMPL, "{\"prompt\":\"p\"," M ",\"max_tokens\":9}", &r, &e), 0);
  assert_int_equal(r.max_tokens, 9);
  assert_int_equal(r.endpoint, OPENAI_EP_COMPLETIONS);
  openai_worker_req_free(&r);
  assert_int_equal(worker(COMPL, "{\"prompt\":\"p\"," M "}", &r, &e), 0);
  assert_int_equal(r.max_tokens, -1);
  openai_worker_req_free(&r);
  openai_worker_req_free(NULL);
}

/* ---- /v1/models --------------------------------------------------------------------------- */

static void test_models(void **state) {
  bool found = true;
  struct err e = {0};
  const char *ans = "{\"object\":\"list\",\"data\":[{\"id\":\"a\",\"object\":\"model\"},{\"id\":\"Qwen/Qwen3-0.6B\"}]}";
  assert_int_equal(openai_models_contains((const uint8_t *)ans, strlen(ans), "Qwen/Qwen3-0.6B", &found, &e), 0);
  assert_true(found);
  assert_int_equal(openai_models_contains((const uint8_t *)ans, strlen(ans), "b", &found, &e), 0);
  assert_false(found);
  /* COCOON's own answer carries "object" twice. */
  const char *dup = "{\"object\":\"list\",\"data\":[{\"id\":\"b\"},5,{\"id\":7}],\"object\":\"list\"}";
  assert_int_equal(openai_models_contains((const uint8_t *)dup, strlen(dup), "b", &found, &e), 0);
  assert_true(found);
  const char *bad[] = {"{\"data\":{}}", "{}", "[]", "nope", ""};
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(openai_models_contains((const uint8_t *)bad[i], strlen(bad[i]), "b", &found, &e), ERR_PARSE);
    assert_false(found);
  }
}

/* ---- usage -------------------------------------------------------------------------------- */

static void feed_all(struct openai_usage *u, const char *s, size_t len, size_t chunk) {
  for (size_t i = 0; i < len; i += chunk) openai_usage_feed(u, s + i, len - i < chunk ? len - i : chunk);
  openai_usage_finish(u);
}

static void expect_usage(const struct openai_usage *u, int64_t p, int64_t c, int64_t comp, int64_t r) {
  assert_true(u->seen);
  assert_int_equal(u->prompt_tokens, p);
  assert_int_equal(u->cached_tokens, c);
  assert_int_equal(u->completion_tokens, comp);
  assert_int_equal(u->reasoning_tokens, r);
}

static void test_usage_plain_json(void **state) {
  const char *s = "{\"id\":\"x\",\"choices\":[{\"message\":{\"content\":\"a } ] \\\" {\"}}],"
                  "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":30,\"total_tokens\":42,"
                  "\"prompt_tokens_details\":{\"cached_tokens\":4},"
                  "\"completion_tokens_details\":{\"reasoning_tokens\":7}}}\n";
  struct openai_usage u;
  openai_usage_init(&u, 0);
  feed_all(&u, s, strlen(s), strlen(s));
  assert_int_equal(u.format, OPENAI_USAGE_FMT_JSON);
  expect_usage(&u, 12, 4, 30, 7);
  assert_int_equal(u.events, 1);
  assert_int_equal(u.bad, 0);
  openai_usage_free(&u);
  openai_usage_free(NULL);

  /* No usage at all. */
  openai_usage_init(&u, 0);
  const char *err_body = "{\"error\":{\"message\":\"x\"}}";
  feed_all(&u, err_body, strlen(err_body), 5);
  assert_false(u.seen);
  assert_int_equal(u.events, 1);
  assert_int_equal(u.prompt_tokens, 0);
  openai_usage_free(&u);
}

static const char sse_body[] =
    ": keep-alive\n\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"data: {\\\"usage\\\"\"}}],\"usage\":null}\n\n"
    "event: message\nid: 5\nretry: 10\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}\n\n"
    "data:{\"choices\":[],\n"
    "data: \"usage\":{\"prompt_tokens\":5,\"completion_tokens\":9,\"reasoning_tokens\":3,"
    "\"prompt_tokens_details\":{\"cached_tokens\":2}}}\n\n"
    "data: {\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}}\n\n"
    "data: [DONE]\n\n";

static void test_usage_sse_every_split(void **state) {
  size_t len = strlen(sse_body);
  for (size_t cut = 0; cut <= len; cut++) {
    struct openai_usage u;
    openai_usage_init(&u, 0);
    openai_usage_feed(&u, sse_body, cut);
    openai_usage_feed(&u, sse_body + cut, len - cut);
    openai_usage_finish(&u);
    assert_int_equal(u.format, OPENAI_USAGE_FMT_SSE);
    expect_usage(&u, 5, 2, 9, 3);
    assert_true(u.done);
    assert_int_equal(u.events, 4);
    assert_int_equal(u.bad, 0);
    openai_usage_free(&u);
  }
  /* One byte at a time. */
  struct openai_usage u;
  openai_usage_init(&u, 0);
  feed_all(&u, sse_body, len, 1);
  expect_usage(&u, 5, 2, 9, 3);
  assert_true(u.done);
  openai_usage_free(&u);
}

static void test_usage_sse_crlf(void **state) {
  /* The same stream with CRLF and with bare CR line ends, at every split. */
  size_t len = strlen(sse_body);
  char *crlf = malloc(len * 2 + 1), *cr = malloc(len + 1);
  assert_non_null(crlf);
  assert_non_null(cr);
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (sse_body[i] == '\n') crlf[n++] = '\r';
    crlf[n++] = sse_body[i];
    cr[i] = sse_body[i] == '\n' ? '\r' : sse_body[i];
  }
  for (size_t cut = 0; cut <= n; cut++) {
    struct openai_usage u;
    openai_usage_init(&u, 0);
    openai_usage_feed(&u, crlf, cut);
    openai_usage_feed(&u, crlf + cut, n - cut);
    openai_usage_finish(&u);
    expect_usage(&u, 5, 2, 9, 3);
    assert_true(u.done);
    assert_int_equal(u.events, 4);
    openai_usage_free(&u);
  }
  struct openai_usage u;
  openai_usage_init(&u, 0);
  feed_all(&u, cr, len, 3);
  expect_usage(&u, 5, 2, 9, 3);
  assert_true(u.done);
  openai_usage_free(&u);
  free(crlf);
  free(cr);
}

static void test_usage_sse_middle_and_tail(void **state) {
  /* Usage in a middle event, then a last event without its blank line. */
  const char *s = "data: {\"usage\":{\"prompt_tokens\":3,\"completion_tokens_details\":{\"reasoning_tokens\":8}}}\n\n"
                  "data: {\"choices\":[]}\n\n"
                  "data: {\"usage\":{\"completion_tokens\":11}}";
  struct openai_usage u;
  openai_usage_init(&u, 0);
  feed_all(&u, s, strlen(s), 7);
  expect_usage(&u, 3, 0, 11, 8);
  assert_false(u.done);
  assert_int_equal(u.events, 3);
  openai_usage_free(&u);

  /* A broken event is counted, the rest still read; feeds after finish are ignored. */
  s = "data: {\"usage\":{\"prompt_tokens\":1}\n\ndata: {\"usage\":{\"prompt_tokens\":6}}\n\n";
  openai_usage_init(&u, 0);
  feed_all(&u, s, strlen(s), 4);
  assert_int_equal(u.bad, 1);
  assert_int_equal(u.prompt_tokens, 6);
  const char *late = "data: {\"usage\":{\"prompt_tokens\":60}}\n\n";
  openai_usage_feed(&u, late, strlen(late));
  assert_int_equal(u.prompt_tokens, 6);
  openai_usage_free(&u);
}

static void test_usage_ndjson(void **state) {
  const char *s = "{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":1}}\n"
                  "{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":50,\"completion_tokens_details\":"
                  "{\"reasoning_tokens\":20}}}{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":100}}"
                  "  [1,2]\n{\"text\":\"}{\\\\\"}\n";
  size_t len = strlen(s);
  for (size_t chunk = 1; chunk <= len; chunk++) {
    struct openai_usage u;
    openai_usage_init(&u, 0);
    feed_all(&u, s, len, chunk);
    assert_int_equal(u.format, OPENAI_USAGE_FMT_JSON);
    expect_usage(&u, 10, 0, 100, 20);
    assert_int_equal(u.events, 5);
    assert_int_equal(u.bad, 0);
    openai_usage_free(&u);
  }
}

static void test_usage_garbage(void **state) {
  struct openai_usage u;
  /* Garbage tail after a good value: counted, usage kept. */
  const char *s = "{\"usage\":{\"prompt_tokens\":2}} garbage! {\"unterminated\":";
  openai_usage_init(&u, 0);
  feed_all(&u, s, strlen(s), 3);
  assert_int_equal(u.prompt_tokens, 2);
  assert_int_equal(u.bad, 2); /* the stray run and the truncated value */
  openai_usage_free(&u);

  /* Not JSON, not SSE. */
  openai_usage_init(&u, 0);
  feed_all(&u, "<html>oops</html>", strlen("<html>oops</html>"), 4);
  assert_int_equal(u.format, OPENAI_USAGE_FMT_OTHER);
  assert_false(u.seen);
  assert_int_equal(u.bad, 1);
  openai_usage_free(&u);

  /* Empty body, blanks only. */
  openai_usage_init(&u, 0);
  feed_all(&u, " \r\n", 3, 1);
  assert_int_equal(u.format, OPENAI_USAGE_FMT_UNKNOWN);
  assert_false(u.seen);
  openai_usage_free(&u);

  /* Negative or non-integer counts are ignored; a usage-bearing value with mismatched brackets
   * counts as bad (values without a usage object are not parsed at all). */
  s = "{\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":2.5,\"reasoning_tokens\":\"9\"}}{\"usage\":{]";
  openai_usage_init(&u, 0);
  feed_all(&u, s, strlen(s), 100);
  assert_true(u.seen);
  assert_int_equal(u.prompt_tokens, 0);
  assert_int_equal(u.completion_tokens, 0);
  assert_int_equal(u.reasoning_tokens, 0);
  assert_int_equal(u.bad, 1);
  openai_usage_free(&u);
}

static void test_usage_oversized(void **state) {
  /* An event over the cap is skipped whole; the following ones are still read. */
  size_t pad = 5000;
  size_t len = pad + 200;
  char *s = malloc(len);
  assert_non_null(s);
  int n = snprintf(s, len, "data: {\"usage\":{\"prompt_tokens\":999},\"x\":\"");
  memset(s + n, 'a', pad);
  n += (int)pad;
  n += snprintf(s + n, len - (size_t)n, "\"}\n\ndata: {\"usage\":{\"prompt_tokens\":7}}\n\n");
  for (size_t chunk = 1; chunk < 5000; chunk = chunk * 3 + 1) {
    struct openai_usage u;
    openai_usage_init(&u, 1024);
    feed_all(&u, s, (size_t)n, chunk);
    assert_int_equal(u.skipped, 1);
    assert_int_equal(u.prompt_tokens, 7);
    assert_int_equal(u.events, 1);
    openai_usage_free(&u);
  }
  /* The same in JSON framing. */
  n = snprintf(s, len, "{\"usage\":{\"prompt_tokens\":999},\"x\":\"");
  memset(s + n, '{', pad);
  n += (int)pad;
  n += snprintf(s + n, len - (size_t)n, "\"}\n{\"usage\":{\"prompt_tokens\":8}}");
  struct openai_usage u;
  openai_usage_init(&u, 1024);
  feed_all(&u, s, (size_t)n, 100);
  assert_int_equal(u.skipped, 1);
  assert_int_equal(u.prompt_tokens, 8);
  openai_usage_free(&u);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client_defaults),
      cmocka_unit_test(test_client_strip),
      cmocka_unit_test(test_client_max_completion_tokens),
      cmocka_unit_test(test_client_n_choices),
      cmocka_unit_test(test_client_errors),
      cmocka_unit_test(test_client_too_large),
      cmocka_unit_test(test_worker_paths),
      cmocka_unit_test(test_worker_chat_allowed),
      cmocka_unit_test(test_worker_completions_allowed),
      cmocka_unit_test(test_worker_rejected_keys),
      cmocka_unit_test(test_worker_type_errors),
      cmocka_unit_test(test_worker_structure),
      cmocka_unit_test(test_worker_rewrites),
      cmocka_unit_test(test_models),
      cmocka_unit_test(test_usage_plain_json),
      cmocka_unit_test(test_usage_sse_every_split),
      cmocka_unit_test(test_usage_sse_crlf),
      cmocka_unit_test(test_usage_sse_middle_and_tail),
      cmocka_unit_test(test_usage_ndjson),
      cmocka_unit_test(test_usage_garbage),
      cmocka_unit_test(test_usage_oversized),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
