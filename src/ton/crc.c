/* crc: the two checksums TON uses: CRC16/XMODEM (addresses, get-method ids) and CRC32C (BoC). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ton/crc.h"

#include <pthread.h>

uint16_t ton_crc16(const void *p, size_t n) {
  const uint8_t *s = p;
  uint16_t crc = 0;
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint16_t)(s[i] << 8);
    for (int k = 0; k < 8; k++)
      crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
  }
  return crc;
}

/* Table-driven, since BoCs can be megabytes; the table is built once per process. */
static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc32c_table[i] = c;
  }
}

uint32_t ton_crc32c(const void *p, size_t n) {
  (void)pthread_once(&crc32c_once, crc32c_init);
  const uint8_t *s = p;
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) crc = crc32c_table[(crc ^ s[i]) & 0xFFu] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}
