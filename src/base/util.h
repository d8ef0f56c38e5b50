/* util: small helpers: hex, time, random bytes, constant-time compare. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_BASE_UTIL_H
#define COCOON_BASE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define CC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CC_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CC_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Writes 2*n hex chars plus NUL into out (size >= 2n+1). */
void util_hex(const void *p, size_t n, char *out);
/* Parses exactly 2*n hex chars into out; returns ERR_PARSE on bad input. */
CC_NODISCARD int util_unhex(const char *s, size_t slen, uint8_t *out, size_t n);
/* Monotonic milliseconds / microseconds, and wall-clock seconds as double. */
uint64_t util_mono_ms(void);
uint64_t util_mono_us(void);
double util_wall_time(void);
/* Cryptographically random bytes (OpenSSL RAND_bytes); aborts on RNG failure. */
void util_random(void *p, size_t n);
uint64_t util_random_u64(void);
/* Constant-time equality; returns 1 when equal. */
int util_ct_eq(const void *a, const void *b, size_t n);
/* Parses a decimal integer in [min,max] with nothing trailing; returns ERR_PARSE. */
CC_NODISCARD int util_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
CC_NODISCARD int util_parse_double(const char *s, double *out);
/* "host:port" -> host (NUL-terminated, size hostsz) and port. */
CC_NODISCARD int util_split_hostport(const char *s, char *host, size_t hostsz, int *port);
/* Duplicates n bytes into a NUL-terminated malloc'd string (caller frees); NULL on OOM. */
char *util_strndup(const char *s, size_t n);

#endif
