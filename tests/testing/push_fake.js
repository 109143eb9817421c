// Fake push providers for the tests: records every request it receives.
//
//   node push_fake.js --tls-key K --tls-cert C --apns-key P8 --fcm-key PEM
//
// Serves HTTP/1.1 (webhooks, the FCM OAuth2 token endpoint at /token and FCM
// sends) and HTTP/2 over TLS (APNs), and prints one line {"http":P,"apns":P}.
// JWTs are verified here with Node's own crypto against the public halves of
// the keys the server signs with, independently of the server's OpenSSL code.
// Control (on the HTTP/1.1 port): GET /_control/requests, POST
// /_control/reset, POST /_control/script {"match","status","body"?,"times"?}:
// the next `times` requests whose path contains `match` get that answer.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const http2 = require('http2');

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
const apnsPublic = crypto.createPublicKey(fs.readFileSync(args['apns-key']));
const fcmPublic = crypto.createPublicKey(fs.readFileSync(args['fcm-key']));

let records = [];
let scripts = [];
let tokensIssued = 0;

function verifyJwt(jwt, key) {
  try {
    const parts = (jwt || '').split('.');
    if (parts.length !== 3) return { valid: false };
    const decode = (s) => JSON.parse(Buffer.from(s, 'base64url').toString());
    const header = decode(parts[0]);
    const claims = decode(parts[1]);
    const data = Buffer.from(parts[0] + '.' + parts[1]);
    const signature = Buffer.from(parts[2], 'base64url');
    const valid = header.alg === 'ES256'
        ? crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature)
        : crypto.verify('sha256', data, key, signature);
    return { header, claims, valid };
  } catch (e) {
    return { valid: false, error: String(e) };
  }
}

// The scripted answer for `path`, if any is left.
function scripted(path) {
  const s = scripts.find((x) => path.includes(x.match) && x.times > 0);
  if (!s) return null;
  s.times--;
  return s;
}

function readBody(req, done) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => done(Buffer.concat(chunks).toString()));
}

function reply(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function control(req, res, body) {
  if (req.url === '/_control/requests') return reply(res, 200, records);
  if (req.url === '/_control/reset') {
    records = [];
    scripts = [];
    tokensIssued = 0;
    return reply(res, 200, {});
  }
  if (req.url === '/_control/script') {
    const s = JSON.parse(body);
    scripts.push({ match: s.match, status: s.status, body: s.body || {}, times: s.times || 1,
                   headers: s.headers || {} });
    return reply(res, 200, {});
  }
  return reply(res, 404, {});
}

const plain = http.createServer((req, res) => readBody(req, (body) => {
  if (req.url.startsWith('/_control/')) return control(req, res, body);
  const record = { server: 'http', method: req.method, path: req.url, headers: req.headers, body,
                   at: Date.now() };
  if (req.url === '/token') {
    const form = new URLSearchParams(body);
    record.grant_type = form.get('grant_type');
    record.jwt = verifyJwt(form.get('assertion'), fcmPublic);
  }
  records.push(record);
  const s = scripted(req.url);
  if (s) return reply(res, s.status, s.body, s.headers);
  if (req.url === '/token') {
    tokensIssued++;
    return reply(res, 200, { access_token: 'fake-access-' + tokensIssued, expires_in: 3600,
                             token_type: 'Bearer' });
  }
  return reply(res, 200, req.url.includes('messages:send') ? { name: 'projects/p/messages/1' } : {});
}));

const apns = http2.createSecureServer({ key: fs.readFileSync(args['tls-key']),
                                        cert: fs.readFileSync(args['tls-cert']) },
                                      (req, res) => readBody(req, (body) => {
  const auth = req.headers.authorization || '';
  records.push({ server: 'apns', method: req.method, path: req.url, headers: req.headers, body,
                 http_version: req.httpVersion, at: Date.now(),
                 jwt: verifyJwt(auth.replace(/^bearer /, ''), apnsPublic) });
  const s = scripted(req.url);
  if (s) return reply(res, s.status, s.body, s.headers);
  reply(res, 200, '', { 'apns-id': crypto.randomUUID() });
}));

plain.listen(0, '127.0.0.1', () => apns.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ http: plain.address().port, apns: apns.address().port }));
}));
process.on('SIGTERM', () => process.exit(0));
