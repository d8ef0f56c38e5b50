/* readyfile: tells scripts a daemon is up by writing its bound addresses to a file. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "core/readyfile.h"

#include <stdio.h>
#include <string.h>

int readyfile_write(const char *path, const char *content) {
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) return ERR_LIMIT;
  FILE *f = fopen(tmp, "w");
  if (!f) return ERR_IO;
  size_t n = strlen(content);
  int ok = fwrite(content, 1, n, f) == n;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    return ERR_IO;
  }
  return 0;
}
