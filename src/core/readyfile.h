/* readyfile: tells scripts a daemon is up by writing its bound addresses to a file. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CORE_READYFILE_H
#define COCOON_CORE_READYFILE_H

#include "base/err.h"

/* Writes `content` (key=value lines) to path atomically (temp file + rename). */
CC_NODISCARD int readyfile_write(const char *path, const char *content);

#endif
