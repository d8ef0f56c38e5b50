/* cli: the `cocoon <command>` dispatcher. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "cli/attest_cmd.h"
#include "cli/demo.h"
#include "cli/engine_cmd.h"
#include "cli/generate_cmd.h"
#include "cli/keygen.h"
#include "cli/ledger_cmd.h"
#include "cli/registry_cmd.h"
#include "cli/ton_cmd.h"
#include "cli/tokenize_cmd.h"
#include "client/client.h"
#include "proxy/proxy.h"
#include "worker/worker.h"

struct command {
  const char *name;
  int (*main_fn)(int argc, char **argv);
  const char *help;
};

static const struct command commands[] = {
    {"client", client_main, "run the client daemon (OpenAI API on localhost)"},
    {"proxy", proxy_main, "run a proxy"},
    {"worker", worker_main, "run a worker"},
    {"keygen", keygen_main, "create a node key and RA-TLS certificate"},
    {"demo", demo_main, "start a local network and send one request (--serve keeps it up)"},
    {"attest", attest_cmd_main, "inspect and verify attestation quotes (attest quote FILE)"},
    {"registry", registry_cmd_main, "edit and verify the signed root configuration (registry init|add|sign|show|verify)"},
    {"ledger", ledger_cmd_main, "inspect and verify a proxy ledger (ledger verify|show DB)"},
    {"ton", ton_cmd_main, "TON utilities: address, boc, parse-address"},
    {"model-info", model_info_main, "print a GGUF model's architecture, shapes and tensor types"},
    {"gen-model", gen_model_main, "write a small deterministic GGUF test model"},
    {"generate", generate_main, "run a GGUF model on the CPU: print the continuation of a prompt"},
    {"tokenize", tokenize_main, "print the token ids of stdin with a GGUF model's tokenizer"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: cocoon <command> [options]\ncommands:\n");
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
  fprintf(f, "run `cocoon <command> --help` for its options\n");
}

int cli_main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].main_fn(argc - 1, argv + 1);
  fprintf(stderr, "cocoon: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
