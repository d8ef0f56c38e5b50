/* ledger_vfs: SQLite VFS shim that gathers a commit's WAL frame writes into one pwrite. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ledger/ledger_vfs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* SQLite writes each WAL frame as two pwrites (24-byte header, then the page): a group commit of
 * 15 requests touching ~33 pages made ~67 write syscalls. This shim keeps contiguous appends to a
 * WAL file in memory and writes them as one block before anything that could observe the file:
 * xSync (a commit with synchronous=FULL syncs before it is published), a read, the size, a
 * truncate, close, a file control, and the main database's xShmBarrier/xShmLock (the WAL index is
 * published through them, so even without a sync no reader sees a frame that is not in the file).
 * Durability is unchanged: SQLite counts on nothing before xSync. Other files pass straight through. */

/* One write at most this big. The unix VFS's write masks its length to 17 bits (seekAndWrite:
 * `nBuf &= 0x1ffff`) and reports SQLITE_FULL for the rest, so stay well below 128 KiB. */
#define VFS_WAL_BUF_MAX ((size_t)120 << 10)

struct vfile {
  sqlite3_file base;  /* pMethods: vfs_methods */
  sqlite3_file *real; /* the root VFS's file, allocated right after this struct */
  int is_wal;
  struct vfile *db;   /* WAL: its main database file (to unlink from it on close) */
  struct vfile *wal;  /* main database: its open WAL file, flushed on shm barrier/lock */
  unsigned char *buf; /* WAL only: pending bytes for file offset [off, off + len) */
  size_t len;
  sqlite3_int64 off;
  int werr;           /* a pending write that failed where no error could be returned */
};

static sqlite3_vfs *g_root;
static sqlite3_vfs g_vfs;
static int g_rc = SQLITE_ERROR;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static int flush(struct vfile *f) {
  if (!f) return SQLITE_OK;
  if (f->werr) return f->werr;
  if (f->len == 0) return SQLITE_OK;
  size_t n = f->len;
  f->len = 0;
  return f->real->pMethods->xWrite(f->real, f->buf, (int)n, f->off);
}

static int v_close(sqlite3_file *p) {
  struct vfile *f = (struct vfile *)p;
  int rc = flush(f);
  if (f->is_wal && f->db && f->db->wal == f) f->db->wal = NULL;
  if (f->wal) f->wal->db = NULL;
  int rc2 = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
  free(f->buf);
  f->buf = NULL;
  return rc != SQLITE_OK ? rc : rc2;
}

static int v_read(sqlite3_file *p, void *out, int amt, sqlite3_int64 ofst) {
  struct vfile *f = (struct vfile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, out, amt, ofst);
}

static int v_write(sqlite3_file *p, const void *data, int amt, sqlite3_int64 ofst) {
  struct vfile *f = (struct vfile *)p;
  if (!f->is_wal || amt <= 0) return f->real->pMethods->xWrite(f->real, data, amt, ofst);
  size_t n = (size_t)amt;
  if (f->len && (ofst != f->off + (sqlite3_int64)f->len || f->len + n > VFS_WAL_BUF_MAX)) {
    int rc = flush(f);
    if (rc != SQLITE_OK) return rc;
  }
  if (n > VFS_WAL_BUF_MAX) return f->real->pMethods->xWrite(f->real, data, amt, ofst);
  if (!f->buf && (f->buf = malloc(VFS_WAL_BUF_MAX)) == NULL)
    return f->real->pMethods->xWrite(f->real, data, amt, ofst); /* no memory to gather: as asked */
  if (f->len == 0) f->off = ofst;
  memcpy(f->buf + f->len, data, n);
  f->len += n;
  return SQLITE_OK;
}

static int v_truncate(sqlite3_file *p, sqlite3_int64 size) {
  struct vfile *f = (struct vfile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int v_sync(sqlite3_file *p, int flags) {
  struct vfile *f = (struct vfile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int v_file_size(sqlite3_file *p, sqlite3_int64 *size) {
  struct vfile *f = (struct vfile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int v_lock(sqlite3_file *p, int lock) {
  struct vfile *f = (struct vfile *)p;
  return f->real->pMethods->xLock(f->real, lock);
}

static int v_unlock(sqlite3_file *p, int lock) {
  struct vfile *f = (struct vfile *)p;
  return f->real->pMethods->xUnlock(f->real, lock);
}

static int v_check_reserved(sqlite3_file *p, int *out) {
  struct vfile *f = (struct vfile *)p;
  return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int v_file_control(sqlite3_file *p, int op, void *arg) {
  struct vfile *f = (struct vfile *)p;
  int rc = flush(f);
  if (rc != SQLITE_OK) return rc;
  if (op == SQLITE_FCNTL_VFSNAME) {
    /* Name the shim in front of the root's name, as other shims do. */
    char **name = arg;
    rc = f->real->pMethods->xFileControl(f->real, op, arg);
    if (rc == SQLITE_OK && *name) {
      char *nn = sqlite3_mprintf("%s/%s", g_vfs.zName, *name);
      sqlite3_free(*name);
      *name = nn;
    }
    return rc;
  }
  return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int v_sector_size(sqlite3_file *p) {
  struct vfile *f = (struct vfile *)p;
  return f->real->pMethods->xSectorSize(f->real);
}

static int v_device_characteristics(sqlite3_file *p) {
  struct vfile *f = (struct vfile *)p;
  return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int v_shm_map(sqlite3_file *p, int pg, int pgsz, int extend, void volatile **out) {
  struct vfile *f = (struct vfile *)p;
  if (f->real->pMethods->iVersion < 2) return SQLITE_IOERR_SHMMAP;
  return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, out);
}

static int v_shm_lock(sqlite3_file *p, int offset, int n, int flags) {
  struct vfile *f = (struct vfile *)p;
  int rc = flush(f->wal);
  if (rc == SQLITE_OK && f->real->pMethods->iVersion < 2) rc = SQLITE_IOERR_SHMLOCK;
  return rc != SQLITE_OK ? rc : f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void v_shm_barrier(sqlite3_file *p) {
  struct vfile *f = (struct vfile *)p;
  /* No way to report an error here: it sticks to the WAL file and fails what follows. */
  if (f->wal) {
    int rc = flush(f->wal);
    if (rc != SQLITE_OK) f->wal->werr = rc;
  }
  if (f->real->pMethods->iVersion >= 2) f->real->pMethods->xShmBarrier(f->real);
}

static int v_shm_unmap(sqlite3_file *p, int del) {
  struct vfile *f = (struct vfile *)p;
  if (f->real->pMethods->iVersion < 2) return SQLITE_OK;
  return f->real->pMethods->xShmUnmap(f->real, del);
}

static int v_fetch(sqlite3_file *p, sqlite3_int64 ofst, int amt, void **out) {
  struct vfile *f = (struct vfile *)p;
  *out = NULL;
  int rc = flush(f);
  if (rc != SQLITE_OK || f->real->pMethods->iVersion < 3) return rc; /* NULL: SQLite reads instead */
  return f->real->pMethods->xFetch(f->real, ofst, amt, out);
}

static int v_unfetch(sqlite3_file *p, sqlite3_int64 ofst, void *ptr) {
  struct vfile *f = (struct vfile *)p;
  if (f->real->pMethods->iVersion < 3) return SQLITE_OK;
  return f->real->pMethods->xUnfetch(f->real, ofst, ptr);
}

static const sqlite3_io_methods vfs_methods = {
    3,       v_close,       v_read,        v_write,      v_truncate,   v_sync,
    v_file_size, v_lock,    v_unlock,      v_check_reserved, v_file_control, v_sector_size,
    v_device_characteristics, v_shm_map, v_shm_lock, v_shm_barrier, v_shm_unmap, v_fetch,
    v_unfetch,
};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags, int *out_flags) {
  (void)vfs;
  struct vfile *f = (struct vfile *)p;
  memset(f, 0, sizeof(*f));
  f->real = (sqlite3_file *)(f + 1);
  int rc = g_root->xOpen(g_root, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    /* SQLite calls xClose only when pMethods is set. */
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    f->base.pMethods = NULL;
    return rc;
  }
  if ((flags & SQLITE_OPEN_WAL) && name) {
    f->is_wal = 1;
    sqlite3_file *db = sqlite3_database_file_object(name);
    if (db && db->pMethods == &vfs_methods) {
      f->db = (struct vfile *)db;
      f->db->wal = f;
    }
  }
  f->base.pMethods = &vfs_methods;
  return SQLITE_OK;
}

static void vfs_init(void) {
  g_root = sqlite3_vfs_find(NULL);
  if (!g_root) return;
  g_vfs = *g_root;
  g_vfs.iVersion = g_root->iVersion;
  g_vfs.szOsFile = (int)sizeof(struct vfile) + g_root->szOsFile;
  g_vfs.pNext = NULL;
  g_vfs.zName = LEDGER_VFS_NAME;
  /* The root's other methods are called with &g_vfs: keep its pAppData, mxPathname and all. */
  g_vfs.xOpen = v_open;
  g_rc = sqlite3_vfs_register(&g_vfs, 0);
}

const char *ledger_vfs_name(void) {
  pthread_once(&g_once, vfs_init);
  return g_rc == SQLITE_OK ? LEDGER_VFS_NAME : NULL;
}
