// gen: deterministic random cases built by @ton/core / @ton/ton, one JSON object per line.
// SPDX-License-Identifier: Apache-2.0
//
// Usage: node gen.cjs [SEED] > cases.jsonl
// The C side (`cocoon ton selftest-oracle FILE`) rebuilds every case from its inputs and
// compares hashes, depths, BoC bytes and address strings with the values recorded here.
'use strict';

const { beginCell, BitString, Address, contractAddress, Cell } = require('@ton/core');
const { WalletContractV4, WalletContractV5R1 } = require('@ton/ton');

// mulberry32: small, seedable, good enough to pick shapes and bytes.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seed = Number(process.argv[2] || 20240601);
const rnd = prng(seed);
const int = (n) => Math.floor(rnd() * n); // 0..n-1
const pick = (xs) => xs[int(xs.length)];
const bytes = (n) => Buffer.from(Array.from({ length: n }, () => int(256)));
const hex = (b) => Buffer.from(b).toString('hex');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

function bocs(cell) {
  return {
    none: hex(cell.toBoc({ idx: false, crc32: false })),
    crc: hex(cell.toBoc({ idx: false, crc32: true })),
    idx: hex(cell.toBoc({ idx: true, crc32: false })),
    idx_crc: hex(cell.toBoc({ idx: true, crc32: true })),
  };
}

function randBitLen(maxBits) {
  const edge = [0, 1, 7, 8, 9, 15, 16, 17, 255, 256, 257, 1015, 1016, 1017, 1022, 1023];
  const n = rnd() < 0.3 ? pick(edge) : rnd() < 0.5 ? int(64) : int(1024);
  return Math.min(n, maxBits);
}

// Raw cell data: ceil(n/8) bytes, bits past n zero.
function randData(n) {
  const b = bytes(Math.ceil(n / 8));
  if (n % 8) b[b.length - 1] &= (0xff00 >> (n % 8)) & 0xff;
  return b;
}

// A DAG of cells listed children first: {d: hex, n: bits, r: [earlier indices]}; root is last.
function genDag(count, shareBias) {
  const spec = [];
  const cells = [];
  for (let i = 0; i < count; i++) {
    const n = randBitLen(1023);
    const d = randData(n);
    const nrefs = i === 0 ? 0 : Math.min(int(5), i);
    const r = [];
    for (let k = 0; k < nrefs; k++) {
      // Mostly recent cells (deep chains), sometimes any earlier one (sharing, duplicates).
      r.push(rnd() < shareBias ? int(i) : Math.max(0, i - 1 - int(3)));
    }
    const b = beginCell().storeBits(new BitString(d, 0, n));
    for (const x of r) b.storeRef(cells[x]);
    cells.push(b.endCell());
    spec.push({ d: hex(d), n, r });
  }
  return { spec, root: cells[cells.length - 1] };
}

function cellCase(name, count, shareBias) {
  const { spec, root } = genDag(count, shareBias);
  out({ kind: 'cell', name, cells: spec, hash: hex(root.hash()), depth: root.depth(), boc: bocs(root) });
}

function randAddr() {
  const wc = rnd() < 0.6 ? 0 : rnd() < 0.5 ? -1 : int(256) - 128;
  return new Address(wc, bytes(32));
}

function randUint(nbits) {
  let v = 0n;
  for (let i = 0; i < nbits; i++) v = (v << 1n) | BigInt(int(2));
  return v;
}

// A cell built through typed builder operations; the C side replays the same ops.
function opsCase(name) {
  const b = beginCell();
  const ops = [];
  let bits = 0;
  let refs = 0;
  for (let step = 0; step < 40; step++) {
    const kind = pick(['uint', 'int', 'coins', 'addr', 'addr_none', 'bytes', 'bit', 'maybe_ref', 'ref']);
    if (kind === 'uint') {
      const n = 1 + int(64);
      if (bits + n > 1023) continue;
      const v = randUint(n);
      b.storeUint(v, n);
      ops.push(['uint', n, v.toString(16)]);
      bits += n;
    } else if (kind === 'int') {
      const n = 1 + int(64);
      if (bits + n > 1023) continue;
      let v = randUint(n);
      if (v >= 1n << BigInt(n - 1)) v -= 1n << BigInt(n); // two's complement range
      b.storeInt(v, n);
      ops.push(['int', n, v.toString(10)]);
      bits += n;
    } else if (kind === 'coins') {
      const len = pick([0, 1, 2, 4, 8, 9, 15]);
      let v = randUint(len * 8);
      if (rnd() < 0.2) v = 0n;
      const need = 4 + (v === 0n ? 0 : Math.ceil(v.toString(16).length / 2) * 8);
      if (bits + need > 1023) continue;
      b.storeCoins(v);
      ops.push(['coins', v.toString(16)]);
      bits += need;
    } else if (kind === 'addr') {
      if (bits + 267 > 1023) continue;
      const a = randAddr();
      b.storeAddress(a);
      ops.push(['addr', a.toRawString()]);
      bits += 267;
    } else if (kind === 'addr_none') {
      if (bits + 2 > 1023) continue;
      b.storeAddress(null);
      ops.push(['addr_none']);
      bits += 2;
    } else if (kind === 'bytes') {
      const n = 1 + int(24);
      if (bits + 8 * n > 1023) continue;
      const v = bytes(n);
      b.storeBuffer(v);
      ops.push(['bytes', hex(v)]);
      bits += 8 * n;
    } else if (kind === 'bit') {
      if (bits + 1 > 1023) continue;
      const v = int(2);
      b.storeBit(v);
      ops.push(['bit', v]);
      bits += 1;
    } else if (kind === 'maybe_ref') {
      if (bits + 1 > 1023) continue;
      if (rnd() < 0.4) {
        b.storeMaybeRef(null);
        ops.push(['maybe_ref', null]);
        bits += 1;
      } else {
        if (refs >= 4) continue;
        const n = int(100);
        const d = randData(n);
        b.storeMaybeRef(beginCell().storeBits(new BitString(d, 0, n)).endCell());
        ops.push(['maybe_ref', { d: hex(d), n }]);
        bits += 1;
        refs++;
      }
    } else if (kind === 'ref') {
      if (refs >= 4) continue;
      const n = int(100);
      const d = randData(n);
      b.storeRef(beginCell().storeBits(new BitString(d, 0, n)).endCell());
      ops.push(['ref', { d: hex(d), n }]);
      refs++;
    }
  }
  const c = b.endCell();
  out({ kind: 'ops', name, ops, hash: hex(c.hash()), depth: c.depth(), boc: bocs(c) });
}

function addrForms(a) {
  return {
    b_url: a.toString({ bounceable: true, testOnly: false, urlSafe: true }),
    nb_url: a.toString({ bounceable: false, testOnly: false, urlSafe: true }),
    tb_url: a.toString({ bounceable: true, testOnly: true, urlSafe: true }),
    tnb_url: a.toString({ bounceable: false, testOnly: true, urlSafe: true }),
    b_std: a.toString({ bounceable: true, testOnly: false, urlSafe: false }),
    nb_std: a.toString({ bounceable: false, testOnly: false, urlSafe: false }),
    tb_std: a.toString({ bounceable: true, testOnly: true, urlSafe: false }),
    tnb_std: a.toString({ bounceable: false, testOnly: true, urlSafe: false }),
  };
}

function addrCase(name) {
  const a = randAddr();
  out({ kind: 'addr', name, raw: a.toRawString(), wc: a.workChain, hash: hex(a.hash), forms: addrForms(a) });
}

// A mistyped friendly address: @ton/core's verdict (accept or throw) is the expected one.
function addrBadCase(name) {
  const a = randAddr();
  let s = a.toString({ bounceable: rnd() < 0.5, testOnly: rnd() < 0.3, urlSafe: true });
  const how = pick(['char', 'char', 'char', 'swap', 'truncate', 'extend']);
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  if (how === 'char') {
    const i = int(s.length);
    let c;
    do c = pick(alpha); while (c === s[i]);
    s = s.slice(0, i) + c + s.slice(i + 1);
  } else if (how === 'swap') {
    const i = int(s.length - 1);
    s = s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
  } else if (how === 'truncate') {
    s = s.slice(0, int(s.length));
  } else {
    s = s + pick(alpha);
  }
  let ok = true;
  let parsed = null;
  try {
    if (!Address.isFriendly(s)) throw new Error('not friendly');
    const p = Address.parseFriendly(s);
    parsed = { wc: p.address.workChain, hash: hex(p.address.hash), bounceable: p.isBounceable, testnet: p.isTestOnly };
  } catch (e) {
    ok = false;
  }
  out({ kind: 'addr_bad', name, s, ok, parsed });
}

function smallCell() {
  const { spec, root } = genDag(1 + int(4), 0.5);
  return { spec, root };
}

function stateInitCase(name) {
  const init = {};
  const rec = {};
  if (rnd() < 0.3) {
    init.splitDepth = int(32);
    rec.split_depth = init.splitDepth;
  }
  if (rnd() < 0.3) {
    init.special = { tick: rnd() < 0.5, tock: rnd() < 0.5 };
    rec.special = init.special;
  }
  if (rnd() < 0.85) {
    const c = smallCell();
    init.code = c.root;
    rec.code = c.spec;
  }
  if (rnd() < 0.85) {
    const d = smallCell();
    init.data = d.root;
    rec.data = d.spec;
  }
  const wc = rnd() < 0.7 ? 0 : -1;
  const addr = contractAddress(wc, init);
  const { storeStateInit } = require('@ton/core');
  const si = beginCell().store(storeStateInit(init)).endCell();
  out({ kind: 'stateinit', name, wc, ...rec, hash: hex(si.hash()), boc: bocs(si), address: addr.toRawString() });
}

function walletCase(name, ver, wc, testnet) {
  const publicKey = bytes(32);
  let w;
  if (ver === 'v4r2') {
    w = WalletContractV4.create({ workchain: wc, publicKey });
  } else {
    w = WalletContractV5R1.create({
      workchain: wc,
      publicKey,
      walletId: {
        networkGlobalId: testnet ? -3 : -239,
        context: { workchain: wc, walletVersion: 'v5r1', subwalletNumber: 0 },
      },
    });
  }
  const si = beginCell().store(require('@ton/core').storeStateInit(w.init)).endCell();
  out({
    kind: 'wallet', name, ver, wc, testnet, pubkey: hex(publicKey),
    code_hash: hex(w.init.code.hash()), data_boc: hex(w.init.data.toBoc({ idx: false, crc32: false })),
    stateinit_hash: hex(si.hash()), address: w.address.toRawString(),
    friendly_b: w.address.toString({ bounceable: true, testOnly: testnet, urlSafe: true }),
    friendly_nb: w.address.toString({ bounceable: false, testOnly: testnet, urlSafe: true }),
  });
}

// Re-serialization of BoCs made elsewhere: @ton/core's parse, hash and canonical re-encoding.
function reencodeCase(name, bocHex) {
  const c = Cell.fromBoc(Buffer.from(bocHex, 'hex'))[0];
  out({ kind: 'reencode', name, input: bocHex, hash: hex(c.hash()), depth: c.depth(), boc: bocs(c) });
}

// ---- messages (src/ton/message.c, wallet_transfer.c, cocoon_msg.c) ----
const { internal, external, storeMessage, storeMessageRelaxed, comment, SendMode } = require('@ton/core');
const { keyPairFromSeed, sign } = require('@ton/crypto');
const u64 = () => randUint(rnd() < 0.3 ? 1 + int(16) : 64);
const coinsv = () => (rnd() < 0.15 ? 0n : randUint(1 + int(63)));
const maybeAddr = () => (rnd() < 0.2 ? null : randAddr());
const rawOrNull = (a) => (a ? a.toRawString() : null);

// A body of random size, so both inline and ref placement of bodies happen.
function randBody() {
  if (rnd() < 0.15) return { spec: null, cell: Cell.EMPTY };
  const { spec, root } = genDag(1 + int(3), 0.5);
  return { spec, cell: root };
}
function randInit() {
  if (rnd() < 0.6) return { spec: null, init: undefined };
  const c = smallCell(), d = smallCell();
  return { spec: { code: c.spec, data: d.spec }, init: { code: c.root, data: d.root } };
}

const OWNER_OPS = {
  top_up: [0xf172e6c2, 'coins'], register: [0xc45f9f3b, 'nonce'], change_secret: [0xa9357034, 'secret'],
  change_secret_top_up: [0x8473b408, 'coins', 'secret'], increase_stake: [0x6a1f6a60, 'coins'],
  withdraw: [0xda068e78], request_refund: [0xfafa6cc1], proxy_payout: [0x7610e6eb],
  proxy_increase_stake: [0x9713f187, 'coins'], owner_proxy_close: [0xb51d5a01],
};
function cocoonMsgCase(name, which) {
  const [op, ...fields] = OWNER_OPS[which];
  const qid = u64(), coins = coinsv(), nonce = u64(), secret = bytes(32), excess = maybeAddr();
  const b = beginCell().storeUint(op, 32).storeUint(qid, 64);
  if (fields.includes('coins')) b.storeCoins(coins);
  if (fields.includes('nonce')) b.storeUint(nonce, 64);
  if (fields.includes('secret')) b.storeBuffer(secret);
  b.storeAddress(excess);
  const c = b.endCell();
  out({ kind: 'cocoon_msg', name, op, qid: qid.toString(16), coins: coins.toString(16), nonce: nonce.toString(16),
        secret: hex(secret), excess: rawOrNull(excess), hash: hex(c.hash()), boc: hex(c.toBoc()) });
}
function saveStateCase(name) {
  const qid = u64(), seqno = int(2 ** 32) - 2 ** 31, h = bytes(32);
  const c = beginCell().storeUint(0x9a1247c0, 32).storeUint(qid, 64).storeUint(0x53109c0f, 32)
    .storeInt(seqno, 32).storeBuffer(h).endCell();
  out({ kind: 'cocoon_save', name, qid: qid.toString(16), seqno, unique_hash: hex(h), hash: hex(c.hash()), boc: hex(c.toBoc()) });
}
const SIGNED_OPS = [[0xbb63ff93, true], [0xefd711e1, true], [0xa040ad28, true], [0xf5f26a36, true],
                    [0x636a4391, false], [0xe511abc7, false]];
function signedCase(name, k) {
  const [op, withTokens] = SIGNED_OPS[k];
  const qid = u64(), tokens = u64(), target = randAddr(), excess = maybeAddr(), seed = bytes(32);
  const pb = beginCell().storeUint(op, 32).storeUint(qid, 64);
  if (withTokens) pb.storeUint(tokens, 64);
  const payload = pb.storeAddress(target).endCell();
  const sig = sign(payload.hash(), keyPairFromSeed(seed).secretKey);
  const c = beginCell().storeUint(op, 32).storeUint(qid, 64).storeAddress(excess).storeBuffer(sig)
    .storeRef(payload).endCell();
  out({ kind: 'cocoon_signed', name, op, qid: qid.toString(16), tokens: tokens.toString(16), target: target.toRawString(),
        excess: rawOrNull(excess), seed: hex(seed), hash: hex(c.hash()), boc: hex(c.toBoc()) });
}
function randOut() {
  const dest = randAddr(), value = coinsv(), bounce = rnd() < 0.5, body = randBody(), init = randInit();
  const m = internal({ to: dest, value, bounce, body: body.cell, init: init.init });
  return { rec: { dest: dest.toRawString(), value: value.toString(16), bounce, body: body.spec, init: init.spec }, m };
}
function intMsgCase(name) {
  const { rec, m } = randOut();
  const force = rnd() < 0.3;
  const c = beginCell().store(storeMessageRelaxed(m, { forceRef: force })).endCell();
  out({ kind: 'intmsg', name, ...rec, force_ref: force, hash: hex(c.hash()), boc: hex(c.toBoc()) });
}
function extMsgCase(name) {
  const dest = randAddr(), body = randBody(), init = randInit(), force = rnd() < 0.3;
  const c = beginCell().store(storeMessage(external({ to: dest, body: body.cell, init: init.init }), { forceRef: force })).endCell();
  out({ kind: 'extmsg', name, dest: dest.toRawString(), body: body.spec, init: init.spec, force_ref: force, hash: hex(c.hash()), boc: hex(c.toBoc()) });
}
function commentCase(name) {
  const n = pick([0, 1, 50, 122, 123, 124, 200, 249, 250, 251, 400]);
  const text = Array.from({ length: n }, () => pick('abcdefghijklmnopqrstuvwxyz0123456789 .,:')).join('');
  const c = comment(text);
  out({ kind: 'comment', name, text, hash: hex(c.hash()) });
}
// A wallet transfer signed by @ton/ton's createTransfer, and the external message around it.
function walletTxCase(name, ver) {
  const seed = bytes(32), kp = keyPairFromSeed(seed), wc = rnd() < 0.8 ? 0 : -1, testnet = rnd() < 0.3;
  const w = ver === 'v4r2' ? WalletContractV4.create({ workchain: wc, publicKey: kp.publicKey })
    : WalletContractV5R1.create({ workchain: wc, publicKey: kp.publicKey,
        walletId: { networkGlobalId: testnet ? -3 : -239, context: { workchain: wc, walletVersion: 'v5r1', subwalletNumber: 0 } } });
  const n = ver === 'v4r2' ? int(5) : pick([0, 1, 2, 3, 4, 7]);
  const outs = Array.from({ length: n }, randOut);
  const seqno = rnd() < 0.3 ? 0 : int(1000000), validUntil = 1700000000 + int(100000000);
  const mode = pick([0, 1, 2, 3, 64, 128 + 32, 1 + 2]);
  const body = w.createTransfer({ seqno, secretKey: kp.secretKey, messages: outs.map((o) => o.m), sendMode: mode, timeout: validUntil });
  const withInit = seqno === 0;
  const ext = beginCell().store(storeMessage(external({ to: w.address, init: withInit ? w.init : undefined, body }))).endCell();
  out({ kind: 'wallet_tx', name, ver, wc, testnet, seed: hex(seed), seqno, valid_until: validUntil, mode, with_init: withInit,
        msgs: outs.map((o) => o.rec), msg_hashes: outs.map((o) => hex(beginCell().store(storeMessageRelaxed(o.m)).endCell().hash())),
        body_hash: hex(body.hash()), ext_hash: hex(ext.hash()), ext_boc: hex(ext.toBoc()) });
}

// ---- the root contract's data cell (src/chain/root.c) ----
const { Dictionary } = require('@ton/core');
// Hash-set values: the parser ignores them, so vary them (empty, a bit, a few bits).
const markerValue = { serialize: (v, b) => { if (v.n) b.storeUint(v.x, v.n); }, parse: () => null };
function rootSummary(r) {
  const h = (xs) => xs.map(hex).sort().join(',');
  const code = (c) => (c ? hex(c.hash()) : '-');
  return [`v=${r.version}`, `seq=${r.lastSeqno}`, `owner=${r.owner ? r.owner.toRawString() : 'none'}`,
    `sv=${r.p.sv}`, `pv=${r.p.pv}`, `uid=${r.p.uid}`, `test=${r.p.test ? 1 : 0}`, `price=${r.p.price}`, `fee=${r.p.fee}`,
    `mult=${r.p.mult.join(',')}`, `delay=${r.p.delay.join(',')}`, `stake=${r.p.stake.join(',')}`,
    `code=${r.p.code.map(code).join(',')}`, `ph=${h(r.ph)}`, `wh=${h(r.wh)}`, `mh=${h(r.mh)}`,
    `px=${r.px.slice().sort((a, b) => a[0] - b[0]).map(([s, a]) => `${s}@${a}`).join(',')}`].join(';');
}
function rootDataCase(name) {
  const sv = int(4);
  const p = { sv, pv: int(2 ** 32), uid: int(2 ** 32), test: rnd() < 0.5, price: coinsv(), fee: coinsv(),
    mult: [sv >= 3 ? int(2 ** 32) : 0, sv >= 2 ? int(2 ** 32) : 0, sv >= 3 ? int(2 ** 32) : 0, sv >= 2 ? int(2 ** 32) : 0],
    delay: [int(2 ** 32), int(2 ** 32)], stake: sv >= 1 ? [coinsv(), coinsv()] : [0n, 0n],
    code: [0, 1, 2].map(() => (rnd() < 0.5 ? smallCell().root : null)) };
  const pb = beginCell().storeUint(sv, 8).storeUint(p.pv, 32).storeUint(p.uid, 32).storeBit(p.test)
    .storeCoins(p.price).storeCoins(p.fee);
  if (sv >= 3) pb.storeUint(p.mult[0], 32);
  if (sv >= 2) pb.storeUint(p.mult[1], 32);
  if (sv >= 3) pb.storeUint(p.mult[2], 32);
  if (sv >= 2) pb.storeUint(p.mult[3], 32);
  pb.storeUint(p.delay[0], 32).storeUint(p.delay[1], 32);
  if (sv >= 1) pb.storeCoins(p.stake[0]).storeCoins(p.stake[1]);
  for (const c of p.code) pb.storeMaybeRef(c);
  const hashes = () => Array.from({ length: pick([0, 1, 2, 3, 5, 17, 40]) }, () => bytes(32));
  const ph = hashes(), wh = hashes(), mh = hashes();
  const mkSet = (xs) => {
    const d = Dictionary.empty(Dictionary.Keys.BigUint(256), markerValue);
    const n = pick([0, 0, 1, 8]);
    for (const x of xs) d.set(BigInt('0x' + hex(x)), { n, x: n ? int(2 ** n) : 0 });
    return d;
  };
  const pxVal = { serialize: (v, b) => b.storeUint(0, 1).storeUint(v.length, 7).storeBuffer(Buffer.from(v)), parse: () => null };
  const px = [];
  const pd = Dictionary.empty(Dictionary.Keys.Uint(32), pxVal);
  const npx = pick([0, 1, 2, 6]);
  for (let i = 0; i < npx; i++) {
    const seq = rnd() < 0.5 ? i + 1 : int(2 ** 32);
    if (px.some(([s]) => s === seq)) continue;
    const a = `10.${int(256)}.${int(256)}.${int(256)}:${1 + int(65535)}` + (rnd() < 0.3 ? ` 192.168.0.${int(256)}:${1 + int(65535)}` : '');
    px.push([seq, a]);
    pd.set(seq, a);
  }
  const owner = rnd() < 0.9 ? randAddr() : null;
  const version = int(2 ** 32), lastSeqno = int(2 ** 32);
  const data = beginCell().storeAddress(owner)
    .storeRef(beginCell().storeDict(mkSet(ph)).storeDict(pd).storeUint(lastSeqno, 32).storeDict(mkSet(wh)).storeDict(mkSet(mh)))
    .storeRef(pb.endCell()).storeUint(version, 32).endCell();
  out({ kind: 'root_data', name, boc: hex(data.toBoc()), summary: rootSummary({ version, lastSeqno, owner, p, ph, wh, mh, px }) });
}

// ---- notifications COCOON contracts send (src/ton/cocoon_notify.c) ----
function notifySummary(n) {
  const a = (x) => (x ? x.toRawString() : 'none');
  const h8 = (x) => (x >>> 0).toString(16).padStart(8, '0');
  return [`op=${h8(n.op)}`, `qid=${n.qid}`, `owner=${a(n.owner)}`, `state=${n.state || 0}`, `tokens=${n.tokens || 0n}`,
    `balance=${n.balance || 0n}`, `stake=${n.stake || 0n}`, `secret=${n.secret ? hex(n.secret) : '0'.repeat(64)}`,
    `pop=${h8(n.pop || 0)}`, `coins=${n.coins || 0n}`, `save=${n.save || 0n}`, `nonce=${n.nonce || 0n}`,
    `excess=${a(n.excess)}`].join(';');
}
function notifyCase(name, kind) {
  const n = { qid: u64() };
  const b = beginCell();
  if (kind === 'excesses' || kind === 'payout') {
    n.op = kind === 'excesses' ? 0x2565934c : 0xc59a7cd3;
    b.storeUint(n.op, 32).storeUint(n.qid, 64);
  } else if (kind === 'worker') {
    n.op = 0x4d725d2c;
    n.owner = maybeAddr();
    n.state = int(4);
    n.tokens = u64();
    b.storeUint(n.op, 32).storeUint(n.qid, 64).storeAddress(n.owner).storeUint(n.state, 2).storeUint(n.tokens, 64);
    if (rnd() < 0.7) {
      n.pop = 0x08e7d036; n.coins = coinsv(); n.save = coinsv(); n.excess = maybeAddr();
      b.storeMaybeRef(beginCell().storeUint(n.pop, 32).storeCoins(n.coins).storeCoins(n.save).storeAddress(n.excess).endCell());
    } else b.storeMaybeRef(null);
  } else {
    n.op = 0x65448ff4;
    n.owner = maybeAddr();
    n.state = int(4); n.balance = coinsv(); n.stake = coinsv(); n.tokens = u64(); n.secret = bytes(32);
    b.storeUint(n.op, 32).storeUint(n.qid, 64).storeAddress(n.owner)
      .storeRef(beginCell().storeUint(n.state, 2).storeCoins(n.balance).storeCoins(n.stake).storeUint(n.tokens, 64).storeBuffer(n.secret));
    const which = pick(['none', 'top_up', 'register', 'refund_granted', 'refund_force']);
    if (which === 'none') b.storeMaybeRef(null);
    else if (which === 'register') {
      n.pop = 0xa35cb580; n.nonce = u64();
      b.storeMaybeRef(beginCell().storeUint(n.pop, 32).storeUint(n.nonce, 64).endCell());
    } else {
      n.pop = { top_up: 0x5cfc6b87, refund_granted: 0xc68ebc7b, refund_force: 0xf4c354c9 }[which];
      n.coins = coinsv(); n.excess = maybeAddr();
      b.storeMaybeRef(beginCell().storeUint(n.pop, 32).storeCoins(n.coins).storeAddress(n.excess).endCell());
    }
  }
  const c = b.endCell();
  out({ kind: 'notify', name, boc: hex(c.toBoc()), summary: notifySummary(n) });
}

// ---- the case list ----
out({ kind: 'meta', seed, core: require('@ton/core/package.json').version, ton: require('@ton/ton/package.json').version });
cellCase('empty', 1, 0);
for (let i = 0; i < 40; i++) cellCase(`dag${i}`, 1 + int(12), 0.4);
for (let i = 0; i < 4; i++) cellCase(`chain${i}`, 40 + int(60), 0);
cellCase('wide300', 300, 1.0); // more than 255 cells: 2-byte ref indices
for (let i = 0; i < 25; i++) opsCase(`ops${i}`);
for (let i = 0; i < 25; i++) addrCase(`addr${i}`);
for (let i = 0; i < 25; i++) addrBadCase(`addrbad${i}`);
for (let i = 0; i < 15; i++) stateInitCase(`stateinit${i}`);
for (const ver of ['v4r2', 'v5r1'])
  for (const wc of [0, -1])
    for (const testnet of [false, true]) walletCase(`wallet_${ver}_${wc}_${testnet ? 'test' : 'main'}`, ver, wc, testnet);
for (let i = 0; i < 3; i++) walletCase(`wallet_v4r2_rand${i}`, 'v4r2', 0, false);
for (let i = 0; i < 3; i++) walletCase(`wallet_v5r1_rand${i}`, 'v5r1', 0, false);
// The wallet code BoCs as published (their cell order differs from @ton/core's).
{
  const v4 = WalletContractV4.create({ workchain: 0, publicKey: Buffer.alloc(32) }).init.code;
  const v5 = WalletContractV5R1.create({ workchain: 0, publicKey: Buffer.alloc(32) }).init.code;
  reencodeCase('v4r2_code', hex(v4.toBoc({ idx: true, crc32: true })));
  reencodeCase('v5r1_code', hex(v5.toBoc({ idx: false, crc32: false })));
}
// Messages: every owner op, save-state, every signed op, internal/external messages, comments,
// and wallet transfers of both versions.
for (let i = 0; i < 3; i++) for (const k of Object.keys(OWNER_OPS)) cocoonMsgCase(`cocoon_${k}_${i}`, k);
for (let i = 0; i < 5; i++) saveStateCase(`save_state${i}`);
for (let i = 0; i < 3; i++) for (let k = 0; k < SIGNED_OPS.length; k++) signedCase(`signed_${k}_${i}`, k);
for (let i = 0; i < 30; i++) intMsgCase(`intmsg${i}`);
for (let i = 0; i < 20; i++) extMsgCase(`extmsg${i}`);
for (let i = 0; i < 10; i++) commentCase(`comment${i}`);
for (let i = 0; i < 30; i++) walletTxCase(`wallet_tx_v4r2_${i}`, 'v4r2');
for (let i = 0; i < 30; i++) walletTxCase(`wallet_tx_v5r1_${i}`, 'v5r1');
for (let i = 0; i < 30; i++) rootDataCase(`root_data${i}`);
for (let i = 0; i < 5; i++) for (const k of ['excesses', 'payout', 'worker', 'worker', 'client', 'client', 'client']) notifyCase(`notify_${k}_${i}`, k);
