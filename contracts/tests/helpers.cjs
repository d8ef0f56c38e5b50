// helpers: a sandbox with a deployed proxy, client and worker; signing; exact balance bookkeeping.
// SPDX-License-Identifier: Apache-2.0
'use strict';
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { Blockchain, internal } = require('@ton/sandbox');
const { beginCell, toNano, Address } = require('@ton/core');
const build = require('../build.cjs');

const OP = {
  excesses: 0x2565934c, payout: 0xc59a7cd3, doNotProcess: 0x9a1247c0, proxySaveState: 0x53109c0f,
  clientChargeSigned: 0xbb63ff93, clientGrantRefundSigned: 0xefd711e1,
  workerPayoutSigned: 0xa040ad28, workerLastPayoutSigned: 0xf5f26a36,
  proxyCloseSigned: 0x636a4391, proxyCloseCompleteSigned: 0xe511abc7,
  clientTopUp: 0xf172e6c2, clientRegister: 0xc45f9f3b, clientChangeSecretHash: 0xa9357034,
  clientIncreaseStake: 0x6a1f6a60, clientWithdraw: 0xda068e78, clientRequestRefund: 0xfafa6cc1,
  proxyPayoutRequest: 0x7610e6eb, proxyIncreaseStake: 0x9713f187, ownerProxyClose: 0xb51d5a01,
  workerRegister: 0x26ed7f65, clientProxyRequest: 0x65448ff4, workerProxyRequest: 0x4d725d2c,
};

const ERR = {
  replayed: 1000, lowSmcBalance: 1001, badSignature: 1002, lowMsgValue: 1003, signedMismatch: 1004,
  closed: 1006, lowerTotal: 1007, notOwner: 1009, notUnlocked: 1011, unknownOp: 1012,
  senderMismatch: 1014, misaddressed: 1015, badArgument: 1016, notFound: 1020,
};

// Ed25519 from a 32-byte seed with node:crypto (tweetnacl is ~200x slower).
function keyFromSeed(seed) {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const priv = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const pub = crypto.createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(-32);
  return { seed, priv, pub, sign: (msg) => crypto.sign(null, msg, priv) };
}

// COCOON's signed message: outer op qid excess sig ^payload; payload op qid <fields>.
function signedBody(key, { op, qid = 0, fields, excess = null, innerOp, innerQid }) {
  const payload = fields(beginCell().storeUint(innerOp ?? op, 32).storeUint(innerQid ?? qid, 64)).endCell();
  const sig = key.sign(payload.hash());
  return beginCell().storeUint(op, 32).storeUint(qid, 64).storeAddress(excess).storeBuffer(sig, 64)
    .storeRef(payload).endCell();
}

const payment = (key, op, total, target, opts = {}) => signedBody(key, {
  op, qid: opts.qid ?? 7, excess: opts.excess ?? null, innerOp: opts.innerOp, innerQid: opts.innerQid,
  fields: (b) => b.storeUint(BigInt(total), 64).storeAddress(target),
});

const closeSigned = (key, op, target, opts = {}) => signedBody(key, {
  op, qid: opts.qid ?? 9, excess: opts.excess ?? null, fields: (b) => b.storeAddress(target),
});

const body = (op, qid, f = (b) => b) => f(beginCell().storeUint(op, 32).storeUint(qid, 64)).endCell();

// ---- transactions and money ----

const txAddr = (tx) => Address.parse('0:' + tx.address.toString(16).padStart(64, '0'));
const txsOn = (res, a) => res.transactions.filter((t) => txAddr(t).equals(a));

function txInfo(tx) {
  const d = tx.description;
  const info = tx.inMessage?.info;
  const outs = [...tx.outMessages.values()];
  return {
    on: txAddr(tx),
    from: info?.type === 'internal' ? info.src : undefined,
    op: tx.inMessage && tx.inMessage.body.bits.length >= 32 ? tx.inMessage.body.beginParse().loadUint(32) : undefined,
    value: info?.type === 'internal' ? info.value.coins : 0n,
    exitCode: d.computePhase?.type === 'vm' ? d.computePhase.exitCode : undefined,
    ok: d.computePhase?.type === 'vm' && d.computePhase.success && !d.aborted && (d.actionPhase?.success ?? true),
    fees: tx.totalFees.coins,
    storage: d.storagePhase?.storageFeesCollected ?? 0n,
    outs: outs.map((m) => ({
      to: m.info.dest, value: m.info.type === 'internal' ? m.info.value.coins : 0n,
      fwd: m.info.type === 'internal' ? m.info.forwardFee : 0n,
      op: m.body.bits.length >= 32 ? m.body.beginParse().loadUint(32) : undefined, body: m.body,
    })),
  };
}

// What a transaction did to its account's balance: in - (out values + forward fees) - total fees.
function txDelta(tx) {
  const i = txInfo(tx);
  return i.value - i.outs.reduce((s, o) => s + o.value + o.fwd, 0n) - i.fees;
}

// Sends and checks, for every account touched, that its balance moved by exactly the sum of its
// transactions' deltas (value in, values and forward fees out, total fees), to the nanoTON.
// `accounts` lists every address that may be touched; their balances are read before and after.
async function sendChecked(bc, accounts, from, to, value, msgBody, init) {
  const before = new Map();
  for (const a of accounts) before.set(a.toRawString(), await balance(bc, a));
  const res = await from.send({ to, value, body: msgBody, init });
  res.before = before;
  res.after = new Map();
  for (const t of res.transactions) {
    const a = txAddr(t);
    const k = a.toRawString();
    if (res.after.has(k)) continue;
    assert.ok(before.has(k), `unexpected account ${k} touched`);
    res.after.set(k, await balance(bc, a));
    const sum = txsOn(res, a).reduce((x, tx) => x + txDelta(tx), 0n);
    assert.equal(res.after.get(k) - before.get(k), sum, `balance of ${k} moved by its transactions' own figures`);
  }
  res.delta = (a) => (res.after.get(a.toRawString()) ?? before.get(a.toRawString())) - before.get(a.toRawString());
  return res;
}

// The one transaction on `a` caused by the message from `from` (or the first on `a`).
function txOn(res, a, pred = () => true) {
  const t = txsOn(res, a).map(txInfo).filter(pred);
  assert.ok(t.length >= 1, `no transaction on ${a}`);
  return t[0];
}

function expectRefused(res, a, code) {
  const t = txOn(res, a);
  assert.equal(t.exitCode, code, `exit code on ${a}`);
  assert.equal(t.ok, false);
}

function expectOk(res) {
  for (const t of res.transactions.map(txInfo)) {
    if (t.exitCode !== undefined) assert.ok(t.ok, `transaction on ${t.on} failed with ${t.exitCode}`);
  }
}

// ---- get methods ----
async function clientData(bc, a) {
  const r = (await bc.runGetMethod(a, 'get_cocoon_client_data')).stackReader;
  return { owner: r.readAddress(), proxy: r.readAddress(), key: r.readBigNumber(), state: r.readNumber(),
    balance: r.readBigNumber(), stake: r.readBigNumber(), tokensUsed: r.readBigNumber(),
    unlockTs: r.readNumber(), secretHash: r.readBigNumber() };
}

async function proxyData(bc, a) {
  const r = (await bc.runGetMethod(a, 'get_cocoon_proxy_data')).stackReader;
  return { owner: r.readAddress(), key: r.readBigNumber(), root: r.readAddress(), state: r.readNumber(),
    balance: r.readBigNumber(), stake: r.readBigNumber(), unlockTs: r.readNumber(), price: r.readBigNumber(),
    workerFee: r.readBigNumber(), minProxyStake: r.readBigNumber(), minClientStake: r.readBigNumber(),
    paramsVersion: r.readNumber() };
}

async function workerData(bc, a) {
  const r = (await bc.runGetMethod(a, 'get_cocoon_worker_data')).stackReader;
  return { owner: r.readAddress(), proxy: r.readAddress(), key: r.readBigNumber(), state: r.readNumber(),
    tokens: r.readBigNumber() };
}

const balance = async (bc, a) => (await bc.getContract(a)).balance;

// ---- a network: proxy (staked), client (topped up), worker ----
const PARAMS = { pricePerToken: 20n, workerFeePerToken: 19n, minClientStake: toNano('1'), minProxyStake: toNano('2'),
  clientDelayBeforeClose: 300, proxyDelayBeforeClose: 600 };

// key: the proxy key ({pub, sign}); default a fixed test seed.
async function network({ topUp = toNano('10'), params = PARAMS, key = keyFromSeed(Buffer.alloc(32, 0x42)) } = {}) {
  const bc = await Blockchain.create();
  bc.now = 1_800_000_000;
  const proxyOwner = await bc.treasury('proxy-owner');
  const clientOwner = await bc.treasury('client-owner');
  const workerOwner = await bc.treasury('worker-owner');
  const stranger = await bc.treasury('stranger');
  const root = await bc.treasury('root');  // the proxy only records the root's address
  const proxy = await build.contract('proxy', { owner: proxyOwner.address, proxyPublicKey: key.pub,
    root: root.address, params });
  const client = await build.contract('client', { owner: clientOwner.address, proxy: proxy.address,
    proxyPublicKey: key.pub, params });
  const worker = await build.contract('worker', { owner: workerOwner.address, proxy: proxy.address,
    proxyPublicKey: key.pub, params });
  const n = { bc, key, proxyOwner, clientOwner, workerOwner, stranger, root, proxy, client, worker, params };
  n.accounts = [proxyOwner.address, clientOwner.address, workerOwner.address, stranger.address, root.address,
    proxy.address, client.address, worker.address];
  n.send = (from, to, value, b, init) => sendChecked(bc, n.accounts, from, to, value, b, init);
  // proxy: deploy with its stake
  let r = await proxyOwner.send({ to: proxy.address, value: params.minProxyStake + toNano('0.2'), init: proxy.init,
    body: body(OP.proxyIncreaseStake, 1, (b) => b.storeCoins(params.minProxyStake).storeAddress(proxyOwner.address)) });
  expectOk(r);
  // client: deploy with a top-up
  if (topUp > 0n) {
    r = await clientOwner.send({ to: client.address, value: topUp + toNano('0.3'), init: client.init,
      body: body(OP.clientTopUp, 2, (b) => b.storeCoins(topUp).storeAddress(clientOwner.address)) });
    expectOk(r);
  }
  // worker: deploy by registering
  r = await workerOwner.send({ to: worker.address, value: toNano('0.3'), init: worker.init,
    body: body(OP.workerRegister, 3, (b) => b.storeAddress(workerOwner.address)) });
  expectOk(r);
  return n;
}

module.exports = { OP, ERR, keyFromSeed, signedBody, payment, closeSigned, body, txInfo, txDelta, txsOn, txOn,
  sendChecked, expectRefused, expectOk, clientData, proxyData, workerData, balance, network, PARAMS, build,
  internal, toNano };
