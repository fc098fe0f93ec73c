'use strict';
// The Node peer of tests/bench/bench.pl: the same booking endpoints as
// ngx_booking (availability, POST /bookings, confirm and cancel) with
// node:http and ioredis, the way a Node engineer would write them: one
// process, one Redis connection with auto-pipelining (the commands of all
// requests issued in one event-loop turn leave in one write), scripts
// through defineCommand, which sends EVALSHA and falls back to EVAL on
// NOSCRIPT.  It runs behind an nginx proxy_pass with upstream keepalive
// (bench.pl starts both).  Two stores behind the same HTTP code: "scripts",
// the SAME scripts as the module (the module's own functions by fcall, as
// bench.pl names them in <script>.fn, with its KEYS and ARGV), and "own", the peer's own scripts and key layout
// (tests/bench/peers/own, lib.lua put before each); both answer in the
// module's script replies.
//
//   node server.js CONFIG.json
//   {"port", "redis_port", "store", "scripts", "own_dir", "types",
//    "secret_file"}

const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const Redis = require('ioredis');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const secret = fs.readFileSync(cfg.secret_file);
const types = new Map();
const rules = [];

for (const t of JSON.parse(fs.readFileSync(cfg.types, 'utf8'))) {
  types.set(t.name, t);
  rules.push([t.name, t.slot, t.hold, t.min, t.max, t.buffer, t.lead,
              t.horizon, t.approval, t.max_active, t.longest,
              t.hold_max ?? t.hold].join(' '));
}

const redis = new Redis({
  host: '127.0.0.1',
  port: cfg.redis_port,
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
  commandTimeout: 1000,
});
redis.on('error', (e) => console.error('redis:', e.message));

const own = cfg.store === 'own';
const read = (dir, name) => fs.readFileSync(path.join(dir, name + '.lua'), 'utf8');

// the module's texts as its config puts them together (bench.pl writes them
// so), or the peer's own
for (const name of own ? ['availability', 'hold', 'act', 'listing']
                       : ['availability', 'booking_create', 'booking_act']) {
  redis.defineCommand(name, {
    lua: own ? read(cfg.own_dir, 'lib') + '\n' + read(cfg.own_dir, name)
             : read(cfg.scripts, name),
  });
  // the same scripts: the module's own function, as it calls it
  const fn = path.join(cfg.scripts || '', name + '.fn');
  if (!own && fs.existsSync(fn)) {
    const f = fs.readFileSync(fn, 'utf8').trim();
    redis[name] = (...a) => redis.fcall(f, ...a);
    redis[name + 'Buffer'] = (...a) => redis.fcallBuffer(f, ...a);
  }
}

// A script that found more expired holds than it may free at once answers
// AGAIN: sent again.
async function again(send) {
  for (let i = 0; i < 128; i++) {
    const r = await send();
    if (String(r) !== 'AGAIN') return r;
  }
  throw new Error('AGAIN 128 times');
}

// the module's key of a resource: the CRC16-XMODEM of its id modulo 64 is
// its hash tag (ngx_module/scripts/contract)
function rkey(id) {
  let crc = 0;
  for (const b of Buffer.from(id)) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) {
      crc = (crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1) & 0xffff;
    }
  }
  return `bk:{s${(crc % 64).toString(16).padStart(2, '0')}}:r:${id}`;
}
// a resource's keys, then its shard's event stream and index of holds due
const rkeys = (r) => [r, r + ':b', r + ':c', r + ':k', r + ':h', r + ':a',
                      r.replace(/:r:.*$/, ':events'), r.replace(/:r:.*$/, ':due')];
const okeys = (id) => [`res:{${id}}`, `res:{${id}}:used`, `res:{${id}}:holds`];

// Each answers the module's script reply; availability's and create's as
// Buffers (counters are bytes).
const store = own ? {
  availability: (id, from, to) => redis.availabilityBuffer(3, ...okeys(id), from, to),
  create: (p) => redis.holdBuffer(3, ...okeys(p.resource), `${p.resource}.${p.rand}`,
                                  p.rand, p.user, p.kind, p.hold, p.start, p.end,
                                  p.quantity, p.note, ...rules),
  act: (rid, op, rand, user, tok) => redis.act(3, ...okeys(rid), `${rid}.${rand}`, rand,
                                               op, user, tok),
  listing: (t, after, limit, from, to, qty) => redis.listing(1, `type:${t}`, after, limit,
                                                             from, to, qty),
} : {
  availability: (id, from, to) => redis.availabilityBuffer(8, ...rkeys(rkey(id)), from, to,
                                                          '100000', ''),
  create: (p) => {
    const r = rkey(p.resource);
    return redis.booking_createBuffer(11, ...rkeys(r), `${r}:x`, `${r}:v`, `${r}:i:${p.scope}`,
                                      p.rand, p.user, p.kind,
                                      p.hold, p.start, p.end, p.quantity, p.note, '0',
                                      p.groups, p.scope, p.fingerprint, '', '', '', ...rules);
  },
  act: (rid, op, rand, user, tok) => redis.booking_act(10, ...rkeys(rkey(rid)),
                                                       `${rkey(rid)}:x`, `${rkey(rid)}:v`, op, rand,
                                                       user, '0', tok, '', ...rules),
};

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const RAND_RE = /^[A-Za-z0-9_-]{16}$/;
const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2}))?$/;
const AVAIL_RE = /^\/api\/resources\/([^/]+)\/availability$/;
const ACT_RE = /^\/api\/bookings\/([^/]+)\/(confirm|cancel)$/;
const CTRL_RE = /[\x00-\x1f\x7f]/;
const MAX_RANGE = 366 * 86400;
const FIELDS = new Set(['resource', 'start', 'end', 'quantity', 'hold',
                        'kind', 'note']);

// RFC 3339 date-time or plain date -> [seconds, fraction?]; null when bad
function parseTime(s) {
  if (typeof s !== 'string') return null;
  const m = TIME_RE.exec(s);
  if (!m) return null;
  const y = +m[1], mo = +m[2], d = +m[3];
  if (y < 1 || mo < 1 || mo > 12 || d < 1) return null;
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (d > days) return null;
  let t = Date.UTC(y, mo - 1, d) / 1000;
  if (y < 100) return null;   // Date.UTC maps 0..99 to 1900..1999
  if (m[4] === undefined) return [t, false];
  const h = +m[4], mi = +m[5], se = +m[6];
  if (h > 23 || mi > 59 || se > 59) return null;
  let off = 0;
  const z = m[8];
  if (z !== 'Z' && z !== 'z') {
    const oh = +z.slice(1, 3), om = +z.slice(4, 6);
    if (oh > 23 || om > 59) return null;
    off = (oh * 3600 + om * 60) * (z[0] === '-' ? -1 : 1);
  }
  t += h * 3600 + mi * 60 + se - off;
  if (t < 0) return null;
  return [t, m[7] !== undefined && /[1-9]/.test(m[7])];
}

function fmtTime(t, date) {
  const s = new Date(t * 1000).toISOString();
  return date ? s.slice(0, 10) : s.slice(0, 19) + 'Z';
}

function token(id) {
  return crypto.createHmac('sha256', secret).update(id).digest('base64url');
}

function send(res, status, obj, headers) {
  const body = JSON.stringify(obj);
  res.writeHead(status, Object.assign({
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  }, headers));
  res.end(body);
}

function sendError(res, status, code, message, field) {
  const e = { code, message };
  if (field) e.field = field;
  send(res, status, { error: e });
}

function backendError(res, err) {
  console.error('redis:', err.message);
  if (/^(LOADING|BUSY)/.test(err.message)) {
    return sendError(res, 503, 'backend_unavailable', 'Redis cannot take the request now');
  }
  if (/timed out/i.test(err.message)) {
    return sendError(res, 504, 'backend_timeout', 'Redis did not answer in time');
  }
  if (/Connection|ECONNREFUSED|closed/i.test(err.message)) {
    return sendError(res, 503, 'backend_unavailable', 'Redis cannot be reached');
  }
  return sendError(res, 500, 'internal', 'internal error');
}

const str = (v) => (Buffer.isBuffer(v) ? v.toString() : v);

// {'err', status, code, message, field}
function scriptError(res, r) {
  if (Array.isArray(r) && str(r[0]) === 'err') {
    sendError(res, Number(r[1]), str(r[2]), str(r[3]), str(r[4]));
    return true;
  }
  return false;
}

function userOf(req) {
  const u = req.headers['x-user-id'] || '';
  if (u.length > 128 || CTRL_RE.test(u)) return null;
  return u;
}

// the booking, as the module writes it
function bookingJson(e, withToken) {
  const slot = Number(e[13]) || 0;
  const date = slot > 0 && slot % 86400 === 0;
  const id = e[2];
  const b = { id, resource: id.slice(0, id.lastIndexOf('.')), type: e[3],
              status: e[4], kind: e[5] };
  if (e[6] !== '') b.start = fmtTime(Number(e[6]), date);
  if (e[7] !== '') b.end = fmtTime(Number(e[7]), date);
  b.quantity = Number(e[8]);
  if (e[9] !== '') b.user = e[9];
  b.created_at = fmtTime(Number(e[10]), false);
  if (e[11] !== '') b.expires_at = fmtTime(Number(e[11]), false);
  if (e[12] !== '') b.note = e[12];
  if (withToken) b.token = token(id);
  return b;
}

// The runs of slots with as many units free, from the counters (4 bytes
// big-endian a slot, units in use) of n slots from start: [start, end,
// free] each, and where the last ends.
function runsOf(c, n, start, slot, cap) {
  const runs = [];
  let last = -1, runStart = start, at = start;
  for (let i = 0; i < n; i++) {
    let units = cap <= 0 ? 0 : cap - c.readUInt32BE(i * 4);
    if (units < 0) units = 0;
    if (units !== last) {
      if (last >= 0) runs.push([runStart, at, last]);
      last = units;
      runStart = at;
    }
    at += slot;
  }
  if (last >= 0) runs.push([runStart, at, last]);
  return { runs, at };
}

// 409: ['unavailable', capacity, 0, free] of a stock, or ['unavailable',
// capacity, slot, start, quantity, counters] of a calendar: the runs with
// fewer units free than asked are the conflicts (50 at most)
function unavailable(res, r) {
  const cap = Number(r[1]), slot = Number(r[2]);
  if (slot === 0) {
    const free = Math.max(Number(r[3]), 0);
    return send(res, 409, { error: { code: 'unavailable',
                                     message: `${cap - free} of ${cap} units are taken`,
                                     conflicts: [{ free }] } });
  }
  const date = slot % 86400 === 0;
  const qty = Number(r[4]);
  const short = runsOf(r[5], r[5].length / 4, Number(r[3]), slot, cap).runs
    .filter((x) => x[2] < qty);
  const f = short[0];
  return send(res, 409, { error: {
    code: 'unavailable',
    message: `${cap - f[2]} of ${cap} units are taken from ${fmtTime(f[0], date)} to ${fmtTime(f[1], date)}`,
    conflicts: short.slice(0, 50).map(([s0, s1, free]) => ({ start: fmtTime(s0, date),
                                                            end: fmtTime(s1, date), free })) } });
}

async function availability(req, res, id, query) {
  let from = -1, to = -1;
  const f = query.get('from'), t = query.get('to');
  if (f !== null) {
    const p = parseTime(f);
    if (!p) return sendError(res, 400, 'bad_request', 'not an RFC 3339 date or date-time', 'from');
    from = p[0];
  }
  if (t !== null) {
    const p = parseTime(t);
    if (!p) return sendError(res, 400, 'bad_request', 'not an RFC 3339 date or date-time', 'to');
    to = p[0];
  }
  if (from >= 0 && to >= 0) {
    if (to <= from) return sendError(res, 422, 'invalid', 'to must be after from', 'to');
    if (to - from > MAX_RANGE) {
      return sendError(res, 422, 'invalid', 'the range is longer than the longest allowed', 'to');
    }
  }
  let r;
  try {
    r = await again(() => store.availability(id, from >= 0 ? String(from) : '',
                                             to >= 0 ? String(to) : ''));
  } catch (err) {
    return backendError(res, err);
  }
  if (scriptError(res, r)) return;
  const type = r[1].toString();
  const slot = Number(r[2]), cap = Number(r[3]);
  const tp = types.get(type);
  const slotText = tp && tp.slot === slot ? tp.slot_text : slot + 's';
  if (slot === 0) {
    return send(res, 200, { resource: id, type, slot: 'none', capacity: cap,
                            free: Math.max(0, cap - Number(r[4])) });
  }
  const start = Number(r[4]), n = Number(r[5]);
  const c = Buffer.concat(r.slice(6));
  const date = slot % 86400 === 0;
  const { runs, at } = runsOf(c, n, start, slot, cap);
  const free = runs.map(([s0, s1, units]) => ({ start: fmtTime(s0, date),
                                                end: fmtTime(s1, date), units }));
  return send(res, 200, { resource: id, type, slot: slotText, capacity: cap,
                          from: fmtTime(start, date), to: fmtTime(at, date), free });
}

async function create(req, res, body) {
  const ct = (req.headers['content-type'] || '').toLowerCase();
  if (!/^application\/json\s*(;|$)/.test(ct)) {
    return sendError(res, 415, 'unsupported_media_type', 'the body must be application/json');
  }
  const user = userOf(req);
  if (user === null) {
    return sendError(res, 400, 'bad_request', 'the user of the request holds control characters', 'user');
  }
  let j;
  try {
    j = JSON.parse(body);
  } catch (err) {
    return sendError(res, 400, 'invalid_json', err.message);
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j)) {
    return sendError(res, 400, 'bad_request', 'the body must be a JSON object');
  }
  for (const k of Object.keys(j)) {
    if (!FIELDS.has(k)) return sendError(res, 422, 'invalid', 'unknown field', k);
  }
  if (typeof j.resource !== 'string') {
    return sendError(res, 400, 'bad_request',
                     j.resource === undefined ? 'resource is required' : 'resource must be a string',
                     'resource');
  }
  let s = -1, e = -1;
  for (const f of ['start', 'end']) {
    if (j[f] === undefined) continue;
    const p = parseTime(j[f]);
    if (!p) return sendError(res, 400, 'bad_request', 'not an RFC 3339 date or date-time', f);
    if (p[1]) return sendError(res, 422, 'invalid', 'not on a slot boundary', f);
    if (f === 'start') s = p[0]; else e = p[0];
  }
  if (s >= 0 && e >= 0 && e <= s) return sendError(res, 422, 'invalid', 'end must be after start', 'end');
  let qty = 1;
  if (j.quantity !== undefined) {
    if (!Number.isInteger(j.quantity)) {
      return sendError(res, 400, 'bad_request', 'quantity must be an integer', 'quantity');
    }
    qty = j.quantity;
    if (qty < 1 || qty > 1000000) {
      return sendError(res, 422, 'invalid', 'quantity must be at least 1 and at most the capacity', 'quantity');
    }
  }
  let hold = false;
  if (j.hold !== undefined) {
    if (typeof j.hold !== 'boolean') return sendError(res, 400, 'bad_request', 'hold must be true or false', 'hold');
    hold = j.hold;
  }
  let kind = 'booking';
  if (j.kind !== undefined) {
    if (typeof j.kind !== 'string') return sendError(res, 400, 'bad_request', 'kind must be a string', 'kind');
    if (j.kind !== 'booking' && j.kind !== 'block') {
      return sendError(res, 422, 'invalid', 'kind is "booking" or "block"', 'kind');
    }
    kind = j.kind;
  }
  let note = '';
  if (j.note !== undefined) {
    if (typeof j.note !== 'string') return sendError(res, 400, 'bad_request', 'note must be a string', 'note');
    if (Buffer.byteLength(j.note) > 1000) return sendError(res, 422, 'invalid', 'note is longer than 1000 bytes', 'note');
    note = j.note;
  }
  if (user === '') return sendError(res, 401, 'unauthenticated', 'a user is needed');
  if (!ID_RE.test(j.resource)) return sendError(res, 404, 'not_found', 'no such resource', 'resource');

  let scope = '';
  const idem = req.headers['idempotency-key'];
  if (idem !== undefined) {
    if (idem.length === 0 || idem.length > 255 || CTRL_RE.test(idem)) {
      return sendError(res, 400, 'bad_request', 'Idempotency-Key must be 1 to 255 printable bytes', 'Idempotency-Key');
    }
    scope = `${Buffer.byteLength(user)}:${user}:${idem}`;
  }
  const fp = [j.resource, s, e, qty, hold ? 1 : 0, kind, note].join('\n');
  const rand = crypto.randomBytes(12).toString('base64url');
  let r;
  try {
    r = await again(() => store.create({
      resource: j.resource, user, rand, kind, hold: hold ? '1' : '0',
      start: s >= 0 ? String(s) : '', end: e >= 0 ? String(e) : '',
      quantity: String(qty), note, groups: req.headers['x-user-groups'] || '',
      scope, fingerprint: fp }));
  } catch (err) {
    return backendError(res, err);
  }
  if (scriptError(res, r)) return;
  if (str(r[0]) === 'unavailable') return unavailable(res, r);
  r = r.map(str);
  if (r[0] !== 'ok') return backendError(res, new Error('unexpected reply'));
  const held = r[4] === 'held';
  const headers = {};
  if (held) headers['Booking-Token'] = token(r[2]);
  if (Number(r[14]) === 1) headers['Idempotent-Replayed'] = 'true';
  return send(res, Number(r[1]), bookingJson(r, held), headers);
}

// GET /resources?type=&from=&to=&quantity=&limit=&cursor= (the own store
// only): the cursor is the last id looked at
async function listing(req, res, query) {
  const t = types.get(query.get('type') || '');
  if (!t) return sendError(res, 422, 'invalid', 'no such type', 'type');
  const limit = Number(query.get('limit') || 20);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    return sendError(res, 422, 'invalid', 'limit is 1 to 100', 'limit');
  }
  const qty = Number(query.get('quantity') || 1);
  if (!Number.isInteger(qty) || qty < 1) {
    return sendError(res, 422, 'invalid', 'quantity must be at least 1', 'quantity');
  }
  let from = '', to = '';
  if (query.get('from') !== null || query.get('to') !== null) {
    const f = parseTime(query.get('from')), e = parseTime(query.get('to'));
    if (!f || !e || e[0] <= f[0] || t.slot === 0) {
      return sendError(res, 422, 'invalid', 'not a range of this type', 'to');
    }
    from = String(f[0]);
    to = String(e[0]);
  }
  const after = query.get('cursor') || '';
  if (after !== '' && !ID_RE.test(after)) return sendError(res, 400, 'bad_request', 'not a cursor', 'cursor');
  if (!store.listing) return sendError(res, 404, 'not_found', 'no such route');
  let r;
  try {
    r = await store.listing(t.name, after, String(limit), from, to, String(qty));
  } catch (err) {
    return backendError(res, err);
  }
  const items = [];
  for (let i = 2; i + 1 < r.length; i += 2) {
    const free = Number(r[i + 1]);
    items.push(free >= 0 ? `${r[i].slice(0, -1)},"free":${free}}` : r[i]);
  }
  const next = r[1] !== '' ? `,"next":${JSON.stringify(r[1])}` : '';
  const body = `{"items":[${items.join(',')}]${next}}`;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  return res.end(body);
}

async function act(req, res, id, op) {
  const dot = id.lastIndexOf('.');
  if (dot < 0) return sendError(res, 404, 'not_found', 'no such booking');
  const rid = id.slice(0, dot), rand = id.slice(dot + 1);
  if (!ID_RE.test(rid) || !RAND_RE.test(rand)) return sendError(res, 404, 'not_found', 'no such booking');
  const user = userOf(req);
  if (user === null) {
    return sendError(res, 400, 'bad_request', 'the user of the request holds control characters', 'user');
  }
  const tok = req.headers['booking-token'];
  let hasToken = false;
  if (typeof tok === 'string' && tok.length === 43) {
    hasToken = crypto.timingSafeEqual(Buffer.from(token(id)), Buffer.from(tok));
  }
  if (user === '' && !hasToken) {
    return sendError(res, 401, 'unauthenticated', "a user or the booking's token is needed");
  }
  let r;
  try {
    r = await again(() => store.act(rid, op, rand, user, hasToken ? '1' : '0'));
  } catch (err) {
    return backendError(res, err);
  }
  if (scriptError(res, r)) return;
  if (r[0] !== 'ok') return backendError(res, new Error('unexpected reply'));
  return send(res, Number(r[1]), bookingJson(r, false));
}

function notAllowed(res, allow) {
  const body = JSON.stringify({ error: { code: 'method_not_allowed', message: 'method not allowed' } });
  res.writeHead(405, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Allow: allow });
  res.end(body);
}

function handle(req, res) {
  const url = req.url;
  const q = url.indexOf('?');
  const pathname = q < 0 ? url : url.slice(0, q);
  let m = AVAIL_RE.exec(pathname);
  if (m) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return notAllowed(res, 'GET, HEAD');
    if (!ID_RE.test(m[1])) return sendError(res, 400, 'bad_request', 'not a valid resource id', 'id');
    return availability(req, res, m[1], new URLSearchParams(q < 0 ? '' : url.slice(q + 1)));
  }
  if (pathname === '/api/resources') {
    if (req.method !== 'GET' && req.method !== 'HEAD') return notAllowed(res, 'GET, HEAD');
    return listing(req, res, new URLSearchParams(q < 0 ? '' : url.slice(q + 1)));
  }
  if (pathname === '/api/bookings') {
    if (req.method !== 'POST') return notAllowed(res, 'POST');
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 1048576) {
        sendError(res, 413, 'too_large', 'the body is too large');
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (size <= 1048576) create(req, res, Buffer.concat(chunks).toString('utf8'));
    });
    return undefined;
  }
  m = ACT_RE.exec(pathname);
  if (m) {
    if (req.method !== 'POST') return notAllowed(res, 'POST');
    req.resume();
    return act(req, res, m[1], m[2]);
  }
  req.resume();
  return sendError(res, 404, 'not_found', 'no such route');
}

const server = http.createServer(handle);
// nginx keeps upstream connections open: outlive its keepalive_timeout
server.keepAliveTimeout = 75000;
server.headersTimeout = 76000;
server.listen(cfg.port, '127.0.0.1', () => console.log(`listening on ${cfg.port}`));

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    redis.disconnect();
    process.exit(0);
  });
}
