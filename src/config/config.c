/* config: INI-style role configuration checked against a per-role schema, plus CLI overrides. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "config/config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HOST_MAX 255 /* bytes of a host name or address */

struct config_value {
  bool set;
  char *raw; /* the text as given (unquoted) */
  int64_t i;
  double d;
  bool b;
  char *host;
  int port;
  char **items;
  size_t nitems;
  unsigned gen;  /* parse call that set it, to spot duplicates within one file */
  int line;      /* line of that file */
};

static void value_clear(struct config_value *v) {
  free(v->raw);
  free(v->host);
  for (size_t i = 0; i < v->nitems; i++) free(v->items[i]);
  free(v->items);
  memset(v, 0, sizeof(*v));
}

/* ---- value checks ------------------------------------------------------------------------- */

static bool bounded(const struct config_key *k) { return k->min != 0 || k->max != 0; }

static int parse_int(const char *s, int64_t *out) {
  bool neg = false;
  if (*s == '-' || *s == '+') neg = *s++ == '-';
  if (!*s) return -1;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
      return -1;
  }
  if (neg) {
    if (v > (uint64_t)INT64_MAX + 1) return -1;
    *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
  } else {
    if (v > (uint64_t)INT64_MAX) return -1;
    *out = (int64_t)v;
  }
  return 0;
}

static int parse_double(const char *s, double *out) {
  /* strtod alone would take "nan", "inf", hex floats and leading blanks. */
  if (!*s) return -1;
  for (const char *p = s; *p; p++)
    if (!strchr("0123456789+-.eE", *p)) return -1;
  errno = 0;
  char *end = NULL;
  double d = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(d)) return -1;
  *out = d;
  return 0;
}

static bool ieq(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
    if (x != *b) return false;
  }
  return *a == *b;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* Fills v from text (NUL-terminated, NUL-free) per the key's type, or writes why it fails. */
static int validate(const struct config_key *k, const char *text, struct config_value *v,
                    char *why, size_t whysz) {
  memset(v, 0, sizeof(*v));
  size_t len = strlen(text);
  switch (k->type) {
  case CONFIG_STRING: {
    size_t max = k->max > 0 && k->max < CONFIG_MAX_STRING ? (size_t)k->max : CONFIG_MAX_STRING;
    if (len > max) return snprintf(why, whysz, "too long (at most %zu bytes)", max), -1;
    if (k->min > 0 && len < (size_t)k->min)
      return snprintf(why, whysz, "too short (at least %lld bytes)", (long long)k->min), -1;
    break;
  }
  case CONFIG_INT:
    if (parse_int(text, &v->i)) return snprintf(why, whysz, "expected an integer"), -1;
    if (bounded(k) && (v->i < k->min || v->i > k->max))
      return snprintf(why, whysz, "must be between %lld and %lld", (long long)k->min,
                      (long long)k->max), -1;
    break;
  case CONFIG_BOOL:
    if (ieq(text, "true") || ieq(text, "yes") || ieq(text, "on") || strcmp(text, "1") == 0)
      v->b = true;
    else if (ieq(text, "false") || ieq(text, "no") || ieq(text, "off") || strcmp(text, "0") == 0)
      v->b = false;
    else
      return snprintf(why, whysz, "expected true or false"), -1;
    break;
  case CONFIG_DOUBLE:
    if (parse_double(text, &v->d)) return snprintf(why, whysz, "expected a number"), -1;
    if (bounded(k) && (v->d < (double)k->min || v->d > (double)k->max))
      return snprintf(why, whysz, "must be between %lld and %lld", (long long)k->min,
                      (long long)k->max), -1;
    break;
  case CONFIG_HOSTPORT: {
    const char *colon = strrchr(text, ':');
    if (!colon) return snprintf(why, whysz, "expected host:port"), -1;
    const char *h = text;
    size_t hl = (size_t)(colon - text);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
      h++;
      hl -= 2;
    } else if (memchr(h, ':', hl) || memchr(h, '[', hl) || memchr(h, ']', hl)) {
      return snprintf(why, whysz, "expected host:port (write IPv6 addresses as [addr]:port)"), -1;
    }
    if (hl == 0 || hl > HOST_MAX) return snprintf(why, whysz, "expected host:port"), -1;
    for (size_t i = 0; i < hl; i++)
      if (is_blank(h[i])) return snprintf(why, whysz, "blank in host name"), -1;
    int64_t port, lo = bounded(k) ? k->min : 1, hi = bounded(k) ? k->max : 65535;
    if (colon[1] < '0' || colon[1] > '9' || parse_int(colon + 1, &port))
      return snprintf(why, whysz, "expected host:port"), -1;
    if (port < lo || port > hi)
      return snprintf(why, whysz, "port must be between %lld and %lld", (long long)lo,
                      (long long)hi), -1;
    v->port = (int)port;
    v->host = malloc(hl + 1);
    if (!v->host) return snprintf(why, whysz, "out of memory"), -1;
    memcpy(v->host, h, hl);
    v->host[hl] = '\0';
    break;
  }
  case CONFIG_LIST: {
    if (len > CONFIG_MAX_STRING) return snprintf(why, whysz, "too long"), -1;
    size_t n = 0;
    if (len) {
      n = 1;
      for (const char *p = text; *p; p++) n += *p == ',';
    }
    if (n > CONFIG_MAX_LIST) return snprintf(why, whysz, "too many items (at most %d)", CONFIG_MAX_LIST), -1;
    if (bounded(k) && ((int64_t)n < k->min || (int64_t)n > k->max))
      return snprintf(why, whysz, "must have %lld to %lld items", (long long)k->min,
                      (long long)k->max), -1;
    if (n) {
      v->items = calloc(n, sizeof(char *));
      if (!v->items) return snprintf(why, whysz, "out of memory"), -1;
    }
    const char *p = text;
    for (size_t i = 0; i < n; i++) {
      const char *end = strchr(p, ',');
      if (!end) end = p + strlen(p);
      const char *a = p, *b = end;
      while (a < b && is_blank(*a)) a++;
      while (b > a && is_blank(b[-1])) b--;
      if (a == b) {
        value_clear(v);
        return snprintf(why, whysz, "empty item %zu in list", i + 1), -1;
      }
      v->items[i] = malloc((size_t)(b - a) + 1);
      if (!v->items[i]) {
        value_clear(v);
        return snprintf(why, whysz, "out of memory"), -1;
      }
      memcpy(v->items[i], a, (size_t)(b - a));
      v->items[i][b - a] = '\0';
      v->nitems = i + 1;
      p = *end ? end + 1 : end;
    }
    break;
  }
  default: return snprintf(why, whysz, "bad type in schema"), -1;
  }
  v->raw = malloc(len + 1);
  if (!v->raw) {
    value_clear(v);
    return snprintf(why, whysz, "out of memory"), -1;
  }
  memcpy(v->raw, text, len + 1);
  v->set = true;
  return 0;
}

/* ---- names -------------------------------------------------------------------------------- */

static bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

/* Copies a user-written name into out with '-' read as '_'; fails on other characters. */
static int norm_name(const char *s, size_t n, char *out, size_t outsz) {
  if (n == 0 || n >= outsz) return -1;
  for (size_t i = 0; i < n; i++) {
    if (!name_char(s[i])) return -1;
    out[i] = s[i] == '-' ? '_' : s[i];
  }
  out[n] = '\0';
  return 0;
}

static long find_key(const struct config_key *schema, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(schema[i].name, name) == 0) return (long)i;
  return -1;
}

/* The flag spelling of a schema name, for messages and help. */
static void flag_name(const char *name, char *out, size_t outsz) {
  size_t i = 0;
  for (; name[i] && i + 1 < outsz; i++) out[i] = name[i] == '_' ? '-' : name[i];
  out[i] = '\0';
}

/* ---- lifetime ----------------------------------------------------------------------------- */

struct config *config_new(const struct config_key *schema, struct err *e) {
  size_t n = 0;
  while (schema[n].name) {
    if (++n > CONFIG_MAX_KEYS) {
      err_set(e, ERR_LIMIT, "schema: more than %d keys", CONFIG_MAX_KEYS);
      return NULL;
    }
  }
  struct config *c = calloc(1, sizeof(*c));
  if (!c) goto nomem;
  c->schema = schema;
  c->nkeys = n;
  /* One extra slot carries the generation of parse calls (gen_slot), so that a key set by two
   * files parsed into one config is not taken for a duplicate; 0 means "not from a file". */
  c->values = calloc(n + 1, sizeof(struct config_value));
  if (!c->values) goto nomem;
  for (size_t i = 0; i < n; i++) {
    if ((long)i != find_key(schema, n, schema[i].name)) {
      err_set(e, ERR_INVALID, "schema: duplicate key '%s'", schema[i].name);
      goto fail;
    }
    if (!schema[i].default_value) continue;
    char why[128];
    if (validate(&schema[i], schema[i].default_value, &c->values[i], why, sizeof(why))) {
      err_set(e, ERR_INVALID, "schema: default of '%s': %s", schema[i].name, why);
      goto fail;
    }
  }
  return c;
nomem:
  err_set(e, ERR_NOMEM, "out of memory");
fail:
  config_free(c);
  return NULL;
}

void config_free(struct config *c) {
  if (!c) return;
  if (c->values)
    for (size_t i = 0; i < c->nkeys; i++) value_clear(&c->values[i]);
  free(c->values);
  free(c);
}

static unsigned *gen_slot(struct config *c) { return &c->values[c->nkeys].gen; }

/* ---- files -------------------------------------------------------------------------------- */

/* Unquotes a "..." value (\" and \\ only) from s[0..n) into out; what follows the closing quote
 * may only be blanks or a comment. */
static int unquote(const char *s, size_t n, char *out, const char **why) {
  size_t o = 0, i = 1;
  for (; i < n; i++) {
    if (s[i] == '"') break;
    if (s[i] == '\\') {
      if (i + 1 >= n || (s[i + 1] != '"' && s[i + 1] != '\\')) {
        *why = "bad escape in quoted value (only \\\" and \\\\ are allowed)";
        return -1;
      }
      i++;
    }
    out[o++] = s[i];
  }
  if (i >= n) {
    *why = "unterminated quoted value";
    return -1;
  }
  for (i++; i < n; i++) {
    if (s[i] == '#' || s[i] == ';') break;
    if (!is_blank(s[i])) {
      *why = "text after closing quote";
      return -1;
    }
  }
  out[o] = '\0';
  return 0;
}

int config_parse_buf(struct config *c, const char *name, const char *data, size_t len, struct err *e) {
  if (len > CONFIG_MAX_FILE)
    return err_set(e, ERR_LIMIT, "%s: file too large (at most %zu bytes)", name, CONFIG_MAX_FILE);
  unsigned gen = ++*gen_slot(c);
  if (gen == 0) gen = ++*gen_slot(c);
  char section[CONFIG_MAX_NAME] = "";
  char value[CONFIG_MAX_LINE + 1];
  size_t pos = 0;
  int line = 0;
  while (pos < len) {
    line++;
    const char *s = data + pos;
    const char *nl = memchr(s, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - s) : len - pos;
    pos += n + (nl ? 1 : 0);
    if (n && s[n - 1] == '\r') n--;
    if (n > CONFIG_MAX_LINE)
      return err_set(e, ERR_LIMIT, "%s:%d: line too long (at most %d bytes)", name, line, CONFIG_MAX_LINE);
    for (size_t i = 0; i < n; i++) {
      unsigned char ch = (unsigned char)s[i];
      if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
        return err_set(e, ERR_PARSE, "%s:%d: control character 0x%02x", name, line, ch);
    }
    while (n && is_blank(*s)) s++, n--;
    while (n && is_blank(s[n - 1])) n--;
    if (n == 0 || s[0] == '#' || s[0] == ';') continue;

    if (s[0] == '[') {
      if (s[n - 1] != ']') return err_set(e, ERR_PARSE, "%s:%d: expected ']' to close the section", name, line);
      const char *a = s + 1, *b = s + n - 1;
      while (a < b && is_blank(*a)) a++;
      while (b > a && is_blank(b[-1])) b--;
      if (norm_name(a, (size_t)(b - a), section, sizeof(section)))
        return err_set(e, ERR_PARSE, "%s:%d: bad section name (letters, digits, '_', '-', '.')", name, line);
      continue;
    }

    const char *eq = memchr(s, '=', n);
    if (!eq) return err_set(e, ERR_PARSE, "%s:%d: expected 'key = value'", name, line);
    const char *kb = s, *ke = eq;
    while (ke > kb && is_blank(ke[-1])) ke--;
    char key[CONFIG_MAX_NAME], full[CONFIG_MAX_NAME];
    if (norm_name(kb, (size_t)(ke - kb), key, sizeof(key)))
      return err_set(e, ERR_PARSE, "%s:%d: bad key name (letters, digits, '_', '-', '.')", name, line);
    int fl = section[0] ? snprintf(full, sizeof(full), "%s.%s", section, key)
                        : snprintf(full, sizeof(full), "%s", key);
    if (fl < 0 || (size_t)fl >= sizeof(full))
      return err_set(e, ERR_PARSE, "%s:%d: key name too long", name, line);
    long idx = find_key(c->schema, c->nkeys, full);
    if (idx < 0) return err_set(e, ERR_PARSE, "%s:%d: unknown key '%s'", name, line, full);
    struct config_value *cur = &c->values[idx];
    if (cur->gen == gen)
      return err_set(e, ERR_PARSE, "%s:%d: duplicate key '%s' (first set on line %d)", name, line, full,
                     cur->line);

    const char *vb = eq + 1, *ve = s + n;
    while (vb < ve && is_blank(*vb)) vb++;
    if (vb < ve && *vb == '"') {
      const char *why = NULL;
      if (unquote(vb, (size_t)(ve - vb), value, &why))
        return err_set(e, ERR_PARSE, "%s:%d: %s", name, line, why);
    } else {
      /* Unquoted values run to the end of the line: '#' inside them is kept. */
      memcpy(value, vb, (size_t)(ve - vb));
      value[ve - vb] = '\0';
    }
    struct config_value nv;
    char why[128];
    if (validate(&c->schema[idx], value, &nv, why, sizeof(why)))
      return err_set(e, ERR_PARSE, "%s:%d: key '%s': %s", name, line, full, why);
    value_clear(cur);
    *cur = nv;
    cur->gen = gen;
    cur->line = line;
  }
  return 0;
}

int config_parse_file(struct config *c, const char *path, struct err *e) {
  FILE *f = fopen(path, "rb");
  if (!f) return err_set(e, ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  int rc = 0;
  char *data = NULL;
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    rc = err_set(e, ERR_IO, "%s: not a regular file", path);
    goto out;
  }
  if ((uint64_t)st.st_size > CONFIG_MAX_FILE) {
    rc = err_set(e, ERR_LIMIT, "%s: file too large (at most %zu bytes)", path, CONFIG_MAX_FILE);
    goto out;
  }
  /* Read one byte more than allowed so a file that grew meanwhile is still caught. */
  data = malloc(CONFIG_MAX_FILE + 1);
  if (!data) {
    rc = err_set(e, ERR_NOMEM, "out of memory");
    goto out;
  }
  size_t n = fread(data, 1, CONFIG_MAX_FILE + 1, f);
  if (ferror(f)) {
    rc = err_set(e, ERR_IO, "%s: read error", path);
    goto out;
  }
  rc = config_parse_buf(c, path, data, n, e);
out:
  free(data);
  fclose(f);
  return rc;
}

/* ---- overrides ---------------------------------------------------------------------------- */

int config_set_override(struct config *c, const char *key, const char *value, struct err *e) {
  if (key[0] == '-' && key[1] == '-') key += 2;
  char k[CONFIG_MAX_NAME];
  if (norm_name(key, strlen(key), k, sizeof(k)))
    return err_set(e, ERR_PARSE, "--%.64s: bad option name", key);
  char flag[CONFIG_MAX_NAME];
  flag_name(k, flag, sizeof(flag));
  long idx = find_key(c->schema, c->nkeys, k);
  if (idx < 0) return err_set(e, ERR_PARSE, "--%s: unknown option", flag);
  struct config_value nv;
  char why[128];
  if (validate(&c->schema[idx], value, &nv, why, sizeof(why)))
    return err_set(e, ERR_PARSE, "--%s: %s", flag, why);
  value_clear(&c->values[idx]);
  c->values[idx] = nv;
  return 0;
}

int config_apply_args(struct config *c, int argc, char *const *argv, int *next, struct err *e) {
  int i = 0;
  int rc = 0;
  while (i < argc) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (a[0] != '-' || a[1] != '-') break;
    const char *eq = strchr(a, '=');
    if (eq) {
      char k[CONFIG_MAX_NAME];
      size_t kl = (size_t)(eq - a);
      if (kl >= sizeof(k)) {
        rc = err_set(e, ERR_PARSE, "%.64s: bad option name", a);
        break;
      }
      memcpy(k, a, kl);
      k[kl] = '\0';
      rc = config_set_override(c, k, eq + 1, e);
      if (rc) break;
      i++;
      continue;
    }
    char k[CONFIG_MAX_NAME];
    if (norm_name(a + 2, strlen(a + 2), k, sizeof(k))) {
      rc = err_set(e, ERR_PARSE, "%.64s: bad option name", a);
      break;
    }
    long idx = find_key(c->schema, c->nkeys, k);
    if (idx >= 0 && c->schema[idx].type == CONFIG_BOOL) {
      rc = config_set_override(c, a, "true", e);
      if (rc) break;
      i++;
      continue;
    }
    if (idx >= 0 && i + 1 >= argc) {
      rc = err_set(e, ERR_PARSE, "%.64s: missing value", a);
      break;
    }
    rc = config_set_override(c, a, idx >= 0 ? argv[i + 1] : "", e);
    if (rc) break;
    i += 2;
  }
  if (next) *next = i;
  return rc;
}

int config_check_required(const struct config *c, struct err *e) {
  for (size_t i = 0; i < c->nkeys; i++) {
    if ((c->schema[i].flags & CONFIG_F_REQUIRED) && !c->values[i].set) {
      char flag[CONFIG_MAX_NAME];
      flag_name(c->schema[i].name, flag, sizeof(flag));
      return err_set(e, ERR_INVALID, "missing required setting '%s' (or --%s)", c->schema[i].name, flag);
    }
  }
  return 0;
}

/* ---- getters ------------------------------------------------------------------------------ */

static const struct config_value *get(const struct config *c, const char *key, int type) {
  long idx = find_key(c->schema, c->nkeys, key);
  if (idx < 0 || (type >= 0 && (int)c->schema[idx].type != type)) {
    /* A typo in the code, not in the input: fail loudly. */
    fprintf(stderr, "config: no %s key '%s' in schema\n", type >= 0 ? "such typed" : "such", key);
    abort();
  }
  return &c->values[idx];
}

bool config_is_set(const struct config *c, const char *key) { return get(c, key, -1)->set; }

const char *config_get_str(const struct config *c, const char *key) {
  return get(c, key, CONFIG_STRING)->raw;
}

int64_t config_get_int(const struct config *c, const char *key) { return get(c, key, CONFIG_INT)->i; }

bool config_get_bool(const struct config *c, const char *key) { return get(c, key, CONFIG_BOOL)->b; }

double config_get_double(const struct config *c, const char *key) {
  return get(c, key, CONFIG_DOUBLE)->d;
}

const char *config_get_host(const struct config *c, const char *key, int *port) {
  const struct config_value *v = get(c, key, CONFIG_HOSTPORT);
  if (port) *port = v->port;
  return v->host;
}

size_t config_get_list_len(const struct config *c, const char *key) {
  return get(c, key, CONFIG_LIST)->nitems;
}

const char *config_get_list_item(const struct config *c, const char *key, size_t i) {
  const struct config_value *v = get(c, key, CONFIG_LIST);
  return i < v->nitems ? v->items[i] : NULL;
}

/* ---- help --------------------------------------------------------------------------------- */

static const char *type_name(enum config_type t) {
  switch (t) {
  case CONFIG_STRING: return "string";
  case CONFIG_INT: return "int";
  case CONFIG_BOOL: return "bool";
  case CONFIG_DOUBLE: return "number";
  case CONFIG_HOSTPORT: return "host:port";
  case CONFIG_LIST: return "list";
  }
  return "?";
}

void config_print_help(FILE *out, const struct config_key *schema) {
  for (const struct config_key *k = schema; k->name; k++) {
    char flag[CONFIG_MAX_NAME];
    flag_name(k->name, flag, sizeof(flag));
    fprintf(out, "  --%s=<%s>%s\n", flag, type_name(k->type),
            (k->flags & CONFIG_F_REQUIRED) ? " (required)" : "");
    fprintf(out, "      %s\n", k->help ? k->help : "");
    fprintf(out, "      config key: %s", k->name);
    if (k->default_value)
      fprintf(out, "; default: %s", (k->flags & CONFIG_F_SECRET) ? "(hidden)" : k->default_value);
    if (k->type == CONFIG_HOSTPORT) {
      if (bounded(k)) fprintf(out, "; port %lld..%lld", (long long)k->min, (long long)k->max);
    } else if (bounded(k)) {
      const char *what = k->type == CONFIG_STRING ? "; length " : k->type == CONFIG_LIST ? "; items " : "; range ";
      fprintf(out, "%s%lld..%lld", what, (long long)k->min, (long long)k->max);
    }
    fprintf(out, "\n");
  }
}
