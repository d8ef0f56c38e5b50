/* crc: the two checksums TON uses: CRC16/XMODEM (addresses, get-method ids) and CRC32C (BoC). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_TON_CRC_H
#define COCOON_TON_CRC_H

#include <stddef.h>
#include <stdint.h>

/* CRC16/XMODEM: polynomial 0x1021, init 0, no reflection; crc16("123456789") == 0x31C3. */
uint16_t ton_crc16(const void *p, size_t n);
/* CRC32C (Castagnoli, reflected 0x82F63B78, init and final xor ~0); "123456789" -> 0xE3069283.
 * A BoC stores it little-endian. */
uint32_t ton_crc32c(const void *p, size_t n);

#endif
