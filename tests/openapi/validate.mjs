// Checks the JSON answers the integration tests got (BOOKING_ANSWERS: a
// JSON line an answer, t/lib/BookingTest/Client.pm) against the OpenAPI
// document: each answer's operation by its method and path (the location's
// prefix taken off), its schema by its status, so that the document and
// the module cannot drift apart.  An answer of no operation (an unknown
// path or method) must be an error; a path of one segment is not the
// API's (a test's own location).
//
//     node tests/openapi/validate.mjs conf/openapi.yaml build/answers.jsonl

import fs from 'node:fs';
import YAML from 'yaml';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const [docPath, answersPath] = process.argv.slice(2);
const doc = YAML.parse(fs.readFileSync(docPath, 'utf8'));

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'api', components: doc.components });

const templates = Object.keys(doc.paths).map((p) => ({
  path: p,
  re: new RegExp('^' + p.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+') + '$'),
}));

function deref(v) {
  while (v && v.$ref) {
    v = v.$ref.slice(2).split('/').reduce((o, k) => o[k.replace(/~1/g, '/')], doc);
  }
  return v;
}

const validators = new Map();
function validator(schema) {
  const key = schema.$ref ?? JSON.stringify(schema);
  if (!validators.has(key)) {
    // an inline schema (a oneOf of answers) refers to the document's own
    // components: through the schema ajv was given them in
    const inline = JSON.parse(JSON.stringify(schema).replace(/"\$ref":"#\//g, '"$ref":"api#/'));
    validators.set(key, ajv.compile(schema.$ref ? { $ref: 'api' + schema.$ref } : inline));
  }
  return validators.get(key);
}

const errorSchema = { $ref: '#/components/schemas/Error' };

// the operation of a path under any location: /api/..., /admin/..., /v1/x/...
function operation(method, url) {
  const segs = url.split('?')[0].split('/');
  for (let k = 2; k < segs.length; k++) {
    const rest = '/' + segs.slice(k).join('/');
    const t = templates.find((tp) => tp.re.test(rest));
    if (t) {
      const op = doc.paths[t.path][method.toLowerCase()];
      return op ? { name: `${method} ${t.path}`, op } : null;
    }
  }
  return null;
}

function responseOf(op, status) {
  const r = op.responses;
  return deref(r[String(status)] ?? r[`${Math.floor(status / 100)}XX`] ?? r.default);
}

const seen = new Map();
const failures = [];
let n = 0;

function fail(a, why) {
  failures.push(`${a.method} ${a.path} -> ${a.status}: ${why}\n    ${a.body.slice(0, 300)}`);
}

for (const line of fs.readFileSync(answersPath, 'utf8').split('\n')) {
  if (!line) continue;
  const a = JSON.parse(line);
  n++;
  if (a.method === 'HEAD' || (a.body === '' && (a.status === 304 || a.status === 204))) {
    continue;
  }
  // the API is under a location's prefix: /j (the harness's own) is not
  if (a.path.split('?')[0].split('/').length < 3) {
    continue;
  }
  let body;
  try {
    body = JSON.parse(a.body);
  } catch (e) {
    fail(a, 'not JSON');
    continue;
  }
  const o = operation(a.method, a.path);
  let schema;
  let name;
  if (o === null) {
    if (a.status < 400) {
      fail(a, 'a success of no operation of the document');
      continue;
    }
    schema = errorSchema;
    name = 'no operation';
  } else {
    const res = responseOf(o.op, a.status);
    name = o.name;
    if (!res) {
      fail(a, `status not in the document for ${o.name}`);
      continue;
    }
    schema = res.content?.['application/json']?.schema;
    if (!schema) {
      fail(a, `a JSON body where ${o.name} ${a.status} has none`);
      continue;
    }
  }
  const v = validator(schema);
  const key = `${name} ${a.status}`;
  seen.set(key, (seen.get(key) ?? 0) + 1);
  if (!v(body)) {
    fail(a, ajv.errorsText(v.errors, { separator: '; ' }));
  }
}

for (const [k, c] of [...seen].sort()) console.log(`${String(c).padStart(7)}  ${k}`);
console.log(`${n} answers, ${failures.length} not as the document says`);
for (const f of failures.slice(0, 40)) console.log(f);
process.exit(failures.length || n === 0 ? 1 : 0);
