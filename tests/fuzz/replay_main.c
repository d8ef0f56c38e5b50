/* replay_main: runs a libFuzzer harness over every file of a corpus directory (for ctest). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  uint8_t *data = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 4096;
      uint8_t *nd = realloc(data, cap);
      if (!nd) break;
      data = nd;
    }
    size_t n = fread(data + len, 1, cap - len, f);
    if (n == 0) break;
    len += n;
  }
  fclose(f);
  /* Copy to an exact-size allocation so ASan catches reads past the input. */
  uint8_t *exact = malloc(len ? len : 1);
  if (exact && len) memcpy(exact, data, len);
  free(data);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

int main(int argc, char **argv) {
  int files = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: cannot open %s\n", argv[i]);
      return 1;
    }
    if (S_ISDIR(st.st_mode)) {
      DIR *d = opendir(argv[i]);
      if (!d) return 1;
      struct dirent *e;
      while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name);
        if (run_file(p) == 0) files++;
      }
      closedir(d);
    } else if (run_file(argv[i]) == 0) {
      files++;
    }
  }
  /* Also run the empty input: every harness must accept it. */
  LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
  printf("replayed %d inputs\n", files);
  return files > 0 ? 0 : 1;
}
