/* engine_cmd: `cocoon model-info` and `cocoon gen-model` (placeholder until the engine lands). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/engine_cmd.h"

#include <stdio.h>

int model_info_main(int argc, char **argv) {
  (void)argc;
  fprintf(stderr, "cocoon %s: not available in this build yet\n", argv[0]);
  return 2;
}

int gen_model_main(int argc, char **argv) { return model_info_main(argc, argv); }
