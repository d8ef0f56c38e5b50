// build: compiles cocoon's Tolk contracts with @ton/tolk-js and builds their initial data.
// SPDX-License-Identifier: Apache-2.0
//
// require('./build.cjs') gives:
//   compile(name)            -> Promise<{ code: Cell, codeBoc64, codeHashHex }>   (cached in build/)
//   compileAll()             -> Promise<{ root, proxy, client, worker }>
//   paramsCell(p, codes?)    -> Cell   (the params cell; codes {proxy, worker, client} are optional refs)
//   rootData(cfg) / proxyData(cfg) / clientData(cfg) / workerData(cfg) -> Cell (initial data)
//   contract(name, cfg)      -> Promise<{ code, data, address, stateInit }>
// `node build.cjs [OUTDIR]` compiles every contract and writes OUTDIR/<name>.boc (default build/).
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { Cell, beginCell, Dictionary, contractAddress, Address } = require('@ton/core');

const DIR = __dirname;
const NAMES = ['root', 'proxy', 'client', 'worker'];
const cache = new Map();

// Compiled code is cached in build/ (ignored by git), keyed by the compiler version and every
// source file, so that test processes do not each spend seconds in the compiler.
function cacheFile() {
  const h = crypto.createHash('sha256');
  h.update(require('@ton/tolk-js/package.json').version);
  for (const f of fs.readdirSync(DIR).filter((x) => x.endsWith('.tolk')).sort()) {
    h.update(f).update(fs.readFileSync(path.join(DIR, f)));
  }
  return path.join(DIR, 'build', `code-${h.digest('hex').slice(0, 16)}.json`);
}

async function compileFresh(name) {
  const { runTolkCompiler } = require('@ton/tolk-js');  // loaded only on a cache miss
  const r = await runTolkCompiler({
    entrypointFileName: `${name}.tolk`,
    fsReadCallback: (p) => fs.readFileSync(path.join(DIR, p), 'utf8'),
    optimizationLevel: 2,
  });
  if (r.status !== 'ok') throw new Error(`tolk: ${name}.tolk: ${r.message}`);
  return { codeBoc64: r.codeBoc64, codeHashHex: r.codeHashHex };
}

async function compileAllRaw() {
  const file = cacheFile();
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    const out = {};
    for (const n of NAMES) out[n] = await compileFresh(n);
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(out));
      fs.renameSync(tmp, file);
    } catch { /* a read-only tree: no cache */ }
    return out;
  }
}

async function compile(name) {
  if (!NAMES.includes(name)) throw new Error(`unknown contract ${name}`);
  if (!cache.has('all')) cache.set('all', compileAllRaw());
  const r = (await cache.get('all'))[name];
  const code = Cell.fromBase64(r.codeBoc64);
  return { code, codeBoc64: r.codeBoc64, codeHashHex: r.codeHashHex };
}

async function compileAll() {
  const out = {};
  for (const n of NAMES) out[n] = await compile(n);
  return out;
}

// Strings or Address objects (possibly from another copy of @ton/core: go through the text form).
const addr = (a) => Address.parse(a.toString());

// Defaults follow COCOON's fake-TON config where it gives one (price 2, worker fee 1, delays
// 600/300 s, stakes 1 TON); multipliers are 10000 (1.0x).
const PARAM_DEFAULTS = {
  paramsVersion: 1, uniqueId: 1, isTest: true,
  pricePerToken: 2n, workerFeePerToken: 1n,
  promptMult: 10000, cachedMult: 10000, completionMult: 10000, reasoningMult: 10000,
  proxyDelayBeforeClose: 600, clientDelayBeforeClose: 300,
  minProxyStake: 1000000000n, minClientStake: 1000000000n,
};

// struct_version 3 layout (ton.md §2.4).
function paramsCell(params = {}, codes = {}) {
  const p = { ...PARAM_DEFAULTS, ...params };
  const maybe = (b, c) => (c ? b.storeBit(1).storeRef(c) : b.storeBit(0));
  let b = beginCell()
    .storeUint(3, 8).storeUint(p.paramsVersion, 32).storeUint(p.uniqueId, 32).storeBit(p.isTest ? 1 : 0)
    .storeCoins(BigInt(p.pricePerToken)).storeCoins(BigInt(p.workerFeePerToken))
    .storeUint(p.promptMult, 32).storeUint(p.cachedMult, 32).storeUint(p.completionMult, 32)
    .storeUint(p.reasoningMult, 32)
    .storeUint(p.proxyDelayBeforeClose, 32).storeUint(p.clientDelayBeforeClose, 32)
    .storeCoins(BigInt(p.minProxyStake)).storeCoins(BigInt(p.minClientStake));
  b = maybe(b, codes.proxy);
  b = maybe(b, codes.worker);
  b = maybe(b, codes.client);
  return b.endCell();
}

// client: state balance stake tokens_used unlock_ts secret_hash ^[owner proxy key] ^params
function clientData(cfg) {
  const p = { ...PARAM_DEFAULTS, ...(cfg.params || {}) };
  return beginCell()
    .storeUint(0, 2).storeCoins(0).storeCoins(BigInt(p.minClientStake)).storeUint(0, 64).storeUint(0, 32)
    .storeUint(0, 256)
    .storeRef(beginCell().storeAddress(addr(cfg.owner)).storeAddress(addr(cfg.proxy))
      .storeBuffer(Buffer.from(cfg.proxyPublicKey), 32).endCell())
    .storeRef(paramsCell(p))
    .endCell();
}

// worker: owner proxy key state tokens ^params
function workerData(cfg) {
  return beginCell()
    .storeAddress(addr(cfg.owner)).storeAddress(addr(cfg.proxy)).storeBuffer(Buffer.from(cfg.proxyPublicKey), 32)
    .storeUint(0, 2).storeUint(0, 64)
    .storeRef(paramsCell(cfg.params || {}))
    .endCell();
}

// proxy: owner key root state balance stake unlock_ts ^params(with worker and client code)
async function proxyData(cfg) {
  const [worker, client] = [await compile('worker'), await compile('client')];
  return beginCell()
    .storeAddress(addr(cfg.owner)).storeBuffer(Buffer.from(cfg.proxyPublicKey), 32).storeAddress(addr(cfg.root))
    .storeUint(0, 2).storeCoins(0).storeCoins(0).storeUint(0, 32)
    .storeRef(paramsCell(cfg.params || {}, { worker: worker.code, client: client.code }))
    .endCell();
}

// root: owner ^[proxy_hashes registered_proxies last_proxy_seqno worker_hashes model_hashes] ^params version
async function rootData(cfg) {
  const hashes = (list) => {
    const d = Dictionary.empty(Dictionary.Keys.BigUint(256), {
      serialize: () => {}, parse: () => null,
    });
    for (const h of list || []) d.set(BigInt('0x' + Buffer.from(h).toString('hex')), null);
    return d;
  };
  const proxies = Dictionary.empty(Dictionary.Keys.Uint(32), {
    serialize: (v, b) => { b.storeUint(0, 1).storeUint(Buffer.byteLength(v), 7).storeBuffer(Buffer.from(v)); },
    parse: (s) => { s.loadUint(1); return s.loadBuffer(s.loadUint(7)).toString(); },
  });
  (cfg.proxies || []).forEach((ep, i) => proxies.set(i + 1, ep));
  const c = await compileAll();
  const data = beginCell()
    .storeDict(hashes(cfg.proxyHashes)).storeDict(proxies).storeUint((cfg.proxies || []).length, 32)
    .storeDict(hashes(cfg.workerHashes)).storeDict(hashes(cfg.modelHashes))
    .endCell();
  return beginCell()
    .storeAddress(addr(cfg.owner)).storeRef(data)
    .storeRef(paramsCell(cfg.params || {}, { proxy: c.proxy.code, worker: c.worker.code, client: c.client.code }))
    .storeUint(cfg.version || 0, 32)
    .endCell();
}

const DATA = { root: rootData, proxy: proxyData, client: clientData, worker: workerData };

// Code, initial data and address of one contract from a config object (see README.md).
async function contract(name, cfg, workchain = 0) {
  const { code } = await compile(name);
  const data = await DATA[name](cfg);
  const init = { code, data };
  return { code, data, init, address: contractAddress(workchain, init) };
}

// The same as plain data, for callers with their own copy of @ton/core: base64 BoCs and a raw address.
async function contractBocs(name, cfg, workchain = 0) {
  const c = await contract(name, cfg, workchain);
  return { codeBoc64: c.code.toBoc().toString('base64'), dataBoc64: c.data.toBoc().toString('base64'),
    address: c.address.toRawString() };
}

module.exports = { compile, compileAll, paramsCell, clientData, workerData, proxyData, rootData, contract,
  contractBocs, PARAM_DEFAULTS, NAMES };

if (require.main === module) {
  (async () => {
    const out = path.resolve(process.argv[2] || path.join(DIR, 'build'));
    fs.mkdirSync(out, { recursive: true });
    for (const n of NAMES) {
      const r = await compile(n);
      fs.writeFileSync(path.join(out, `${n}.boc`), r.code.toBoc());
      console.log(`${n}: ${r.code.toBoc().length} bytes, code hash ${r.codeHashHex}`);
    }
  })().catch((e) => { console.error(e.message); process.exit(1); });
}
