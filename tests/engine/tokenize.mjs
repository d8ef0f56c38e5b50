// tokenize.mjs: llama.cpp (node-llama-cpp) as the tokenizer oracle: prints the token ids of every
// corpus string, one line of space-separated ids per string, with and without special-token parsing.
// SPDX-License-Identifier: Apache-2.0
// Usage: node tokenize.mjs MODEL.gguf CORPUS.jsonl OUT_SPECIAL OUT_PLAIN
import fs from "node:fs";
import path from "node:path";
import url from "node:url";

const here = path.dirname(url.fileURLToPath(import.meta.url));
const { getLlama, LlamaLogLevel } = await import(path.join(here, "node_modules/node-llama-cpp/dist/index.js"));

const [modelPath, corpusPath, outSpecial, outPlain] = process.argv.slice(2);
if (!outPlain) {
  console.error("usage: node tokenize.mjs MODEL.gguf CORPUS.jsonl OUT_SPECIAL OUT_PLAIN");
  process.exit(2);
}
const corpus = fs.readFileSync(corpusPath, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
// build: "never" so it can never try to download or compile llama.cpp.
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, vocabOnly: true });
// model.tokenize(text, specialTokens): specialTokens = true is llama.cpp's parse_special = true;
// the default (false) still matches user-defined tokens. Neither adds BOS.
for (const [special, out] of [[true, outSpecial], [false, outPlain]]) {
  const lines = corpus.map((s) => Array.from(model.tokenize(s, special)).join(" "));
  fs.writeFileSync(out, lines.join("\n") + "\n");
}
await model.dispose();
await llama.dispose();
