// localton: a toncenter-v2-compatible HTTP server backed by @ton/sandbox, for tests and the demo.
// SPDX-License-Identifier: Apache-2.0
//
// Usage: node server.cjs [PORT] [--api-key KEY] [--delay-ms N] [--now UNIX]
// Listens on 127.0.0.1 only (PORT 0 or none: a free port) and prints its base URL
// (http://127.0.0.1:PORT/api/v2) as the first line of stdout.
//
// toncenter v2 methods (REST, GET query or POST JSON, and POST /api/v2/jsonRPC):
//   sendBoc, sendBocReturnHash, runGetMethod, getAddressInformation, getAddressBalance,
//   getWalletInformation, getTransactions, getMasterchainInfo
// Test-only routes (never on a real network):
//   POST /localton/fund   {address, amount}        credits nano-TON from a faucet (an internal message)
//   POST /localton/deploy {code, data, amount, workchain?}  deploys arbitrary code+data (base64 BoCs)
//   POST /localton/now    {now} or {advance}       sets or advances the chain's unix time
//   GET  /localton/health
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const { Blockchain, internal } = require('@ton/sandbox');
const { Address, Cell, beginCell, storeMessage, contractAddress, TupleReader } = require('@ton/core');

const MAX_BODY = 4 << 20;
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const port = Number(args.find((a, i) => /^\d+$/.test(a) && (i === 0 || !args[i - 1].startsWith('--'))) || 0);
const apiKey = opt('--api-key');
const delayMs = Number(opt('--delay-ms') || 0);

class ApiError extends Error {
  constructor(code, msg) {
    super(msg);
    this.code = code;
  }
}

// Every chain operation runs one at a time, in arrival order.
let queue = Promise.resolve();
const serial = (fn) => {
  const p = queue.then(fn);
  queue = p.catch(() => {});
  return p;
};

let bc;
const faucet = Address.parse('-1:' + '5'.repeat(64));
const txlog = new Map(); // raw address -> transactions, oldest first (sandbox's own getTransactions reverses in place)
let applied = 0;

function record(result) {
  for (const tx of result.transactions) {
    const a = new Address(0, Buffer.from(tx.address.toString(16).padStart(64, '0'), 'hex'));
    // The workchain is not in the transaction; take it from the in-message's destination.
    const dest = tx.inMessage && tx.inMessage.info.dest;
    const key = (Address.isAddress(dest) ? dest : a).toRawString();
    if (!txlog.has(key)) txlog.set(key, []);
    txlog.get(key).push(tx);
    applied++;
  }
}

const b64 = (buf) => Buffer.from(buf).toString('base64');
const parseAddr = (s) => {
  if (typeof s !== 'string' || !s) throw new ApiError(400, 'address is required');
  try {
    return Address.parse(s);
  } catch (e) {
    throw new ApiError(416, `Incorrect address: ${s}`);
  }
};
const parseBoc = (s, what) => {
  if (typeof s !== 'string' || !s) throw new ApiError(400, `${what} is required`);
  try {
    const cells = Cell.fromBoc(Buffer.from(s, 'base64'));
    if (cells.length !== 1) throw new Error('one root expected');
    return cells[0];
  } catch (e) {
    throw new ApiError(416, `Failed to deserialize ${what}: ${e.message}`);
  }
};
const now = () => bc.now ?? Math.floor(Date.now() / 1000);
const txId = (lt, hash) => ({ '@type': 'internal.transactionId', lt: String(lt), hash: b64(hash) });

function msgJson(m) {
  if (!m) return null;
  const info = m.info;
  const body = m.body;
  const o = {
    '@type': 'raw.message',
    source: info.type === 'internal' ? info.src.toString({ bounceable: true, urlSafe: true }) : '',
    destination: info.dest && Address.isAddress(info.dest) ? info.dest.toString({ bounceable: true, urlSafe: true }) : '',
    value: info.type === 'internal' ? String(info.value.coins) : '0',
    fwd_fee: info.type === 'internal' ? String(info.forwardFee) : '0',
    ihr_fee: info.type === 'internal' ? String(info.ihrFee) : '0',
    created_lt: info.type !== 'external-in' ? String(info.createdLt) : '0',
    body_hash: b64(body.hash()),
    msg_data: { '@type': 'msg.dataRaw', body: b64(body.toBoc()), init_state: m.init ? b64(beginCell().store(require('@ton/core').storeStateInit(m.init)).endCell().toBoc()) : '' },
    message: '',
  };
  if (info.type === 'internal') o.bounce = info.bounce;
  return o;
}

function txJson(tx, addrStr) {
  return {
    '@type': 'raw.transaction',
    address: { '@type': 'accountAddress', account_address: addrStr },
    utime: tx.now,
    data: b64(tx.raw.toBoc()),
    transaction_id: txId(tx.lt, tx.hash()),
    fee: String(tx.totalFees.coins),
    storage_fee: '0',
    other_fee: String(tx.totalFees.coins),
    in_msg: msgJson(tx.inMessage),
    out_msgs: tx.outMessages.values().map(msgJson),
  };
}

async function accountState(addr) {
  const c = await bc.getContract(addr);
  const st = c.accountState;
  let state = 'uninitialized', code = '', data = '', frozen = '';
  if (st && st.type === 'active') {
    state = 'active';
    code = st.state.code ? b64(st.state.code.toBoc()) : '';
    data = st.state.data ? b64(st.state.data.toBoc()) : '';
  } else if (st && st.type === 'frozen') {
    state = 'frozen';
    frozen = b64(Buffer.from(st.stateHash.toString(16).padStart(64, '0'), 'hex'));
  }
  return {
    '@type': 'raw.fullAccountState',
    balance: String(c.balance),
    extra_currencies: [],
    code, data,
    last_transaction_id: txId(c.lastTransactionLt, Buffer.from(c.lastTransactionHash.toString(16).padStart(64, '0'), 'hex')),
    block_id: { '@type': 'ton.blockIdExt', workchain: -1, shard: '-9223372036854775808', seqno: applied, root_hash: '', file_hash: '' },
    frozen_hash: frozen,
    sync_utime: now(),
    state,
  };
}

// toncenter's stack entries in: ["num", "0x.."] | ["tvm.Cell"|"cell", b64] | ["tvm.Slice"|"slice", b64]
function stackIn(stack) {
  if (stack === undefined) return [];
  if (!Array.isArray(stack)) throw new ApiError(400, 'stack must be an array');
  return stack.map((e) => {
    if (!Array.isArray(e) || e.length !== 2) throw new ApiError(400, 'bad stack entry');
    const [t, v] = e;
    if (t === 'num' || t === 'int') return { type: 'int', value: BigInt(v) };
    const bytes = typeof v === 'string' ? v : v && v.bytes;
    if (t === 'tvm.Cell' || t === 'cell') return { type: 'cell', cell: parseBoc(bytes, 'stack cell') };
    if (t === 'tvm.Slice' || t === 'slice') return { type: 'slice', cell: parseBoc(bytes, 'stack slice') };
    throw new ApiError(400, `stack entry type ${t} is not supported`);
  });
}
const hexNum = (n) => (n < 0n ? '-0x' + (-n).toString(16) : '0x' + n.toString(16));
function stackOut(items) {
  return items.map((it) => {
    switch (it.type) {
      case 'int': return ['num', hexNum(it.value)];
      case 'null': return ['null'];
      case 'cell': return ['cell', { bytes: b64(it.cell.toBoc()), object: {} }];
      case 'slice': return ['slice', { bytes: b64(it.cell.toBoc()), object: {} }];
      case 'builder': return ['cell', { bytes: b64(it.cell.toBoc()), object: {} }];
      default: return ['tuple', { '@type': 'tvm.tuple', elements: [] }];
    }
  });
}

async function applyExternal(cell) {
  try {
    record(await bc.sendMessage(cell));
  } catch (e) {
    throw new ApiError(500, `LITE_SERVER_UNKNOWN: cannot apply external message to current state : External message was not accepted\n${String(e.message).split('\n')[0]}`);
  }
}

const methods = {
  async sendBoc(p) {
    const cell = parseBoc(p.boc, 'boc');
    if (delayMs > 0) {
      setTimeout(() => serial(() => applyExternal(cell)).catch((e) => console.error(`localton: delayed external dropped: ${e.message}`)), delayMs);
    } else {
      await applyExternal(cell);
    }
    return { '@type': 'ok', hash: b64(cell.hash()) };
  },
  async sendBocReturnHash(p) {
    const r = await methods.sendBoc(p);
    return { '@type': 'raw.extMessageInfo', hash: r.hash };
  },
  async getAddressInformation(p) {
    return accountState(parseAddr(p.address));
  },
  async getAddressBalance(p) {
    return (await accountState(parseAddr(p.address))).balance;
  },
  async getWalletInformation(p) {
    const a = parseAddr(p.address);
    const st = await accountState(a);
    let seqno = null;
    if (st.state === 'active') {
      try {
        seqno = Number((await bc.runGetMethod(a, 'seqno')).stackReader.readBigNumber());
      } catch (e) { /* not a wallet */ }
    }
    return { wallet: seqno !== null, balance: st.balance, account_state: st.state, seqno, last_transaction_id: st.last_transaction_id };
  },
  async runGetMethod(p) {
    const a = parseAddr(p.address);
    const method = typeof p.method === 'number' || /^\d+$/.test(String(p.method)) ? Number(p.method) : p.method;
    if (method === undefined || method === '') throw new ApiError(400, 'method is required');
    const c = await bc.getContract(a);
    if (!c.accountState || c.accountState.type !== 'active') throw new ApiError(500, 'LITE_SERVER_UNKNOWN: account is not initialized');
    try {
      const r = await bc.runGetMethod(a, method, stackIn(typeof p.stack === 'string' ? JSON.parse(p.stack) : p.stack));
      return { '@type': 'smc.runResult', gas_used: Number(r.gasUsed), stack: stackOut(r.stack), exit_code: r.exitCode };
    } catch (e) {
      if (e && typeof e.exitCode === 'number') return { '@type': 'smc.runResult', gas_used: Number(e.gasUsed || 0), stack: [], exit_code: e.exitCode };
      throw e;
    }
  },
  async getTransactions(p) {
    const a = parseAddr(p.address);
    const limit = Math.min(Math.max(Number(p.limit || 10), 1), 100);
    const list = (txlog.get(a.toRawString()) || []).slice().reverse(); // newest first
    let start = 0;
    if (p.lt !== undefined && p.lt !== '') {
      start = list.findIndex((tx) => String(tx.lt) === String(p.lt) && (!p.hash || b64(tx.hash()) === p.hash || tx.hash().toString('hex') === p.hash));
      if (start < 0) throw new ApiError(404, 'LITE_SERVER_UNKNOWN: transaction not found');
    }
    const toLt = p.to_lt !== undefined && p.to_lt !== '' ? BigInt(p.to_lt) : 0n;
    const addrStr = a.toString({ bounceable: true, urlSafe: true });
    return list.slice(start).filter((tx) => tx.lt > toLt).slice(0, limit).map((tx) => txJson(tx, addrStr));
  },
  async getMasterchainInfo() {
    const last = { '@type': 'ton.blockIdExt', workchain: -1, shard: '-9223372036854775808', seqno: applied, root_hash: '', file_hash: '' };
    return { '@type': 'blocks.masterchainInfo', last, state_root_hash: '', init: last };
  },
};

const admin = {
  async fund(p) {
    const to = parseAddr(p.address);
    const amount = BigInt(p.amount);
    if (amount <= 0n) throw new ApiError(400, 'amount must be positive');
    const r = await bc.sendMessage(internal({ from: faucet, to, value: amount, bounce: false }));
    record(r);
    return { address: to.toRawString(), balance: String((await bc.getContract(to)).balance), transactions: r.transactions.length };
  },
  async deploy(p) {
    const code = parseBoc(p.code, 'code');
    const data = parseBoc(p.data, 'data');
    const init = { code, data };
    const to = contractAddress(Number(p.workchain || 0), init);
    const amount = BigInt(p.amount || 1000000000);
    const body = p.body ? parseBoc(p.body, 'body') : undefined;
    const r = await bc.sendMessage(internal({ from: faucet, to, value: amount, bounce: false, stateInit: init, body }));
    record(r);
    const st = await accountState(to);
    return { address: to.toRawString(), state: st.state, balance: st.balance };
  },
  async now(p) {
    if (p.now !== undefined) bc.now = Number(p.now);
    else if (p.advance !== undefined) bc.now = now() + Number(p.advance);
    else throw new ApiError(400, 'now or advance is required');
    return { now: bc.now };
  },
  async health() {
    return { now: now(), transactions: applied };
  },
};

function send(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > MAX_BODY) {
        reject(new ApiError(413, 'request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  let params = Object.fromEntries(url.searchParams);
  if (req.method === 'POST') {
    const text = await readBody(req);
    if (text) {
      try {
        params = { ...params, ...JSON.parse(text) };
      } catch (e) {
        throw new ApiError(400, 'bad JSON body');
      }
    }
  }
  const path = url.pathname;
  if (path.startsWith('/localton/')) {
    const fn = admin[path.slice('/localton/'.length)];
    if (!fn) throw new ApiError(404, 'no such route');
    return send(res, 200, { ok: true, result: await serial(() => fn(params)) });
  }
  if (!path.startsWith('/api/v2/')) throw new ApiError(404, 'not found');
  if (apiKey !== undefined) {
    const got = req.headers['x-api-key'] || url.searchParams.get('api_key');
    if (got !== apiKey) throw new ApiError(401, 'API key does not exist');
  }
  let name = path.slice('/api/v2/'.length);
  let id;
  if (name === 'jsonRPC') {
    id = params.id;
    name = params.method;
    params = params.params || {};
  }
  const fn = Object.prototype.hasOwnProperty.call(methods, name) ? methods[name] : undefined;
  if (!fn) throw new ApiError(404, `method ${name} is not implemented`);
  const result = await serial(() => fn(params));
  send(res, 200, id !== undefined ? { ok: true, result, jsonrpc: '2.0', id } : { ok: true, result });
}

async function main() {
  bc = await Blockchain.create();
  if (opt('--now')) bc.now = Number(opt('--now'));
  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      const code = e instanceof ApiError ? e.code : 500;
      if (!(e instanceof ApiError)) console.error(`localton: ${e && e.stack ? e.stack : e}`);
      send(res, code >= 400 && code < 600 ? code : 500, { ok: false, error: String(e.message || e), code });
    });
  });
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`http://127.0.0.1:${server.address().port}/api/v2\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error(`localton: ${e.stack || e}`);
  process.exit(1);
});
