// engine_llama: llama.cpp's speed (through node-llama-cpp, the oracle of tests/engine) on one GGUF file,
// measured the way cocoon-bench-engine measures ours.
// SPDX-License-Identifier: Apache-2.0
//
// node bench/engine_llama.cjs MODEL.gguf THREADS [PROMPT_TOKENS=128] [DECODE_TOKENS=64] [REPS=3]
//   Prints one line: threads=, ppN= (tok/s, best of REPS), tgN= (tok/s, best of REPS). Prompt: a fresh
//   context, one batch of PROMPT_TOKENS tokens with logits for the last one; decode: DECODE_TOKENS
//   single-token steps from an empty context, each with logits and a greedy pick. One warm-up first.
"use strict";
const path = require("path");
const { pathToFileURL } = require("url");

async function main() {
  const [model, threadsArg, ppArg = "128", tgArg = "64", repsArg = "3"] = process.argv.slice(2);
  const threads = Number(threadsArg), nPp = Number(ppArg), nTg = Number(tgArg), reps = Number(repsArg);
  if (!model || ![threads, nPp, nTg, reps].every((v) => Number.isInteger(v) && v > 0)) {
    process.stderr.write("usage: node engine_llama.cjs MODEL.gguf THREADS [PROMPT_TOKENS] [DECODE_TOKENS] [REPS]\n");
    process.exit(2);
  }
  const lib = require.resolve("node-llama-cpp", { paths: [path.join(__dirname, "..", "tests", "engine")] });
  const { getLlama, LlamaLogLevel } = await import(pathToFileURL(lib).href);
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const m = await llama.loadModel({ modelPath: path.resolve(model), gpuLayers: 0 });
  const ctx = await m.createContext({
    contextSize: Math.max(nPp, nTg) + 16,
    batchSize: Math.max(nPp, 1),
    threads: { ideal: threads, min: threads },
    flashAttention: false,
  });
  const seq = ctx.getSequence();
  const prompt = [];
  for (let i = 0; i < nPp; i++) prompt.push((i * 7919 + 13) % 32000);
  const gen = { generateNext: { token: true, options: { temperature: 0 } } };
  let bestPp = 0, bestTg = 0;
  for (let r = 0; r <= reps; r++) {
    await seq.clearHistory();
    let t0 = process.hrtime.bigint();
    await seq.controlledEvaluate(prompt.map((t, i) => (i === nPp - 1 ? [t, gen] : t)));
    const pp = nPp / (Number(process.hrtime.bigint() - t0) / 1e9);
    await seq.clearHistory();
    t0 = process.hrtime.bigint();
    let next = prompt[0];
    for (let i = 0; i < nTg; i++) {
      await seq.controlledEvaluate([[next, gen]]);
      next = (next + 1) % 32000;
    }
    const tg = nTg / (Number(process.hrtime.bigint() - t0) / 1e9);
    if (r === 0) continue;
    bestPp = Math.max(bestPp, pp);
    bestTg = Math.max(bestTg, tg);
  }
  process.stdout.write(`threads=${threads} pp${nPp}=${bestPp.toFixed(1)} tg${nTg}=${bestTg.toFixed(1)}\n`);
  await ctx.dispose();
  await m.dispose();
  await llama.dispose();
}

main().catch((e) => {
  process.stderr.write(`engine_llama: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
