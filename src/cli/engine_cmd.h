/* engine_cmd: `cocoon model-info` and `cocoon gen-model`. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CLI_ENGINE_CMD_H
#define COCOON_CLI_ENGINE_CMD_H

int model_info_main(int argc, char **argv);
int gen_model_main(int argc, char **argv);

#endif
