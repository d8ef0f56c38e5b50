// logits: llama.cpp (node-llama-cpp) as the oracle for the forward pass: greedy ids and log-probabilities.
// SPDX-License-Identifier: Apache-2.0
//
// node logits.cjs run MODEL.gguf --tokens 1,2,3 [--n 32] [--out LOGPROBS]
//   Evaluates the prompt ids (no BOS added), then decodes greedily for n tokens without
//   stopping at end-of-generation tokens. Prints the greedy ids, one per line; with --out
//   writes one line per step: the log-probabilities of the whole vocabulary (the format of
//   `cocoon generate --dump-logprobs`). F32 KV cache, no flash attention, one thread.
// node logits.cjs compare OURS THEIRS TOLERANCE
//   Compares two log-probability files; prints the largest difference and exits 1 when it
//   exceeds the tolerance (only tokens with probability > 1e-30 in THEIRS count).
"use strict";
const fs = require("fs");
const path = require("path");

function die(msg) {
  process.stderr.write(`logits.cjs: ${msg}\n`);
  process.exit(2);
}

async function run(argv) {
  const model = argv[0];
  let tokens = null, n = 32, out = null;
  for (let i = 1; i < argv.length; i += 2) {
    if (argv[i] === "--tokens") tokens = argv[i + 1].split(/[, ]+/).filter(Boolean).map(Number);
    else if (argv[i] === "--n") n = Number(argv[i + 1]);
    else if (argv[i] === "--out") out = argv[i + 1];
    else die(`unknown option ${argv[i]}`);
  }
  if (!model || !tokens || !tokens.length || tokens.some((t) => !Number.isInteger(t))) die("MODEL and --tokens are required");
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const m = await llama.loadModel({ modelPath: path.resolve(model), gpuLayers: 0 });
  const ctx = await m.createContext({
    contextSize: tokens.length + n + 16,
    batchSize: 512,
    threads: { ideal: 1, min: 1 },
    flashAttention: false,
    experimentalKvCacheKeyType: "F32",
    experimentalKvCacheValueType: "F32",
  });
  const seq = ctx.getSequence();
  const nVocab = m.tokens ? undefined : undefined;
  void nVocab;
  const fd = out ? fs.openSync(out, "w") : null;
  const ids = [];
  const gen = seq.evaluateWithMetadata(tokens, { probabilities: true },
    { temperature: 1, topK: 0, topP: 1, minP: 0, yieldEogToken: true, seed: 1 });
  let next = await gen.next();
  while (!next.done) {
    const probs = next.value.probabilities;
    let best = -1, bestP = -1;
    let maxId = 0;
    for (const [t, p] of probs) {
      if (p > bestP || (p === bestP && t < best)) { best = t; bestP = p; }
      if (t > maxId) maxId = t;
    }
    if (fd !== null) {
      const lp = new Array(maxId + 1).fill("-inf");
      for (const [t, p] of probs) lp[t] = p > 0 ? Math.log(p).toPrecision(7) : "-inf";
      fs.writeSync(fd, lp.join(" ") + "\n");
    }
    ids.push(best);
    if (ids.length >= n) break;
    next = await gen.next(best);
  }
  await gen.return();
  if (fd !== null) fs.closeSync(fd);
  process.stdout.write(ids.join("\n") + "\n");
  await ctx.dispose();
  await m.dispose();
  await llama.dispose();
}

function compare(argv) {
  const [a, b, tolS] = argv;
  const tol = Number(tolS);
  const A = fs.readFileSync(a, "utf8").trim().split("\n");
  const B = fs.readFileSync(b, "utf8").trim().split("\n");
  if (A.length !== B.length) {
    console.log(`step count differs: ${A.length} vs ${B.length}`);
    process.exit(1);
  }
  let worst = 0, where = "";
  for (let s = 0; s < A.length; s++) {
    const x = A[s].split(" ").map(Number), y = B[s].split(" ").map(Number);
    // The oracle's list may end early when the last tokens have probability 0.
    if (y.length > x.length) {
      console.log(`step ${s}: vocabulary sizes differ: ${x.length} vs ${y.length}`);
      process.exit(1);
    }
    for (let t = 0; t < x.length; t++) {
      const yt = t < y.length ? y[t] : -Infinity;
      if (!(yt > Math.log(1e-30))) continue;
      const d = Math.abs(x[t] - yt);
      if (!(d <= worst)) { worst = d; where = `step ${s} token ${t}: ${x[t]} vs ${yt}`; }
    }
  }
  console.log(`max |dlogprob| ${worst.toExponential(2)} (${where})`);
  process.exit(worst <= tol ? 0 : 1);
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === "run") run(rest).catch((e) => { process.stderr.write(`logits.cjs: ${e.stack || e}\n`); process.exit(1); });
else if (cmd === "compare") compare(rest);
else die("usage: logits.cjs run MODEL --tokens IDS [--n N] [--out FILE] | compare OURS THEIRS TOL");
