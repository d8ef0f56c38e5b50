/* tokenize_cmd: `cocoon tokenize --model F.gguf`: token ids of stdin's text, one per line. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CLI_TOKENIZE_CMD_H
#define COCOON_CLI_TOKENIZE_CMD_H

int tokenize_main(int argc, char **argv);

#endif
