/* ledger_vfs: SQLite VFS shim that gathers a commit's WAL frame writes into one pwrite. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_LEDGER_LEDGER_VFS_H
#define COCOON_LEDGER_LEDGER_VFS_H

#include <sqlite3.h>

#define LEDGER_VFS_NAME "cocoon-walbatch"

/* Registers the shim over the default VFS once (thread-safe) and returns its name for
 * sqlite3_open_v2, or NULL when it could not be registered (then open with the default). The
 * files it opens behave as the default VFS's; only a WAL file's contiguous appends are held in
 * memory until the next sync, read, size query, truncate, close, file control or WAL-index
 * barrier/lock of its database, then written in one call. */
const char *ledger_vfs_name(void);

#endif
