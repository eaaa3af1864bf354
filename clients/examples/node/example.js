#!/usr/bin/env node
// Even Hand from Node.js: a council system's integration, step by step.
//
//   node example.js --server=127.0.0.1:50051 --proto_dir=../../../proto
//
// Connects in local mode (plain text to a loopback server, as scripts/run
// starts it) and, in order: builds a political group (two councillors, an
// officer, the group), opens a written-query case and adds to it with an
// expected revision, retries an append with the same event ids, reads the
// stream, subscribes (history, then a live event, then a resume), asks for
// the fairness report, proves one event's inclusion in the Merkle tree,
// checks a signed checkpoint with the council's Ed25519 key, and reads the
// structured details of a wrong-expected-revision and an invalid-field
// error. One line per step; on any mismatch it says what and exits 1.
//
// Needs @grpc/grpc-js, @grpc/proto-loader and protobufjs (package.json):
// `npm ci` here, or NODE_PATH=<folder>/node_modules (see ../README.md).
// Everything it writes gets fresh ids, so it can run again and again; but
// the log is append-only: run it against a scratch server, not a real one.
'use strict';

const crypto = require('node:crypto');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

// ---- arguments -------------------------------------------------------------

function parseArgs(argv) {
  const args = { server: '127.0.0.1:50051', proto_dir: null, checkpoint_wait_seconds: 90 };
  for (const arg of argv) {
    const m = /^--([a-z_]+)=(.*)$/.exec(arg);
    if (!m || !(m[1] in args)) {
      fail(`unknown argument ${arg}; usage: node example.js --server=HOST:PORT --proto_dir=DIR ` +
           '[--checkpoint_wait_seconds=90]');
    }
    args[m[1]] = m[2];
  }
  if (!args.proto_dir) fail('--proto_dir=DIR is required (the repository\'s proto/ folder)');
  args.checkpoint_wait_seconds = Number(args.checkpoint_wait_seconds);
  return args;
}

function fail(message) {
  console.error(`FAILED: ${message}`);
  process.exit(1);
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

// ---- loading the protos ----------------------------------------------------

// keepCase: field names as in the .proto (snake_case), the same as the
// server's error paths (events[0].payload.written_query_received.member_id).
// Without it proto-loader turns them into lowerCamelCase (eventId).
// longs: String: uint64 positions and revisions arrive as decimal strings.
const LOADER_OPTIONS = {
  keepCase: true, longs: String, enums: String, arrays: true, oneofs: true, defaults: true,
};

function loadServices(protoDir) {
  const definition = protoLoader.loadSync(
    ['evenhand/v1/log.proto', 'evenhand/v1/audit.proto', 'evenhand/v1/fairness.proto'],
    { ...LOADER_OPTIONS, includeDirs: [protoDir] });
  return grpc.loadPackageDefinition(definition).evenhand.v1;
}

// protobufjs (what proto-loader is built on) for what the gRPC stubs do not
// give: decoding google.rpc error details, and walking RecordedEvent's
// fields for the canonical encoding. google/protobuf/*.proto come bundled.
function loadTypes(protoDir) {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) =>
    path.isAbsolute(target) ? target : path.join(protoDir, target);
  root.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto',
                 'evenhand/v1/events.proto'], { keepCase: true });
  return root;
}

// ---- calls -----------------------------------------------------------------

const DEADLINE_SECONDS = 30;

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + DEADLINE_SECONDS * 1000 },
                   (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

// A server-streaming read, collected.
function collect(call) {
  return new Promise((resolve, reject) => {
    const messages = [];
    call.on('data', (m) => messages.push(m));
    call.on('error', reject);
    call.on('end', () => resolve(messages));
  });
}

// ---- structured errors -----------------------------------------------------

// The google.rpc.Status the server sends in the `grpc-status-details-bin`
// trailer, with each detail decoded and keyed by its type name:
// { code, message, 'google.rpc.ErrorInfo': {...}, 'google.rpc.BadRequest': ... }.
function statusDetails(types, err) {
  const raw = err.metadata ? err.metadata.get('grpc-status-details-bin')[0] : undefined;
  if (!raw) return null;
  const Status = types.lookupType('google.rpc.Status');
  const status = Status.decode(raw);
  const out = { code: status.code, message: status.message };
  for (const any of status.details) {
    const name = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    const type = types.lookup(name);
    if (!(type instanceof protobuf.Type)) continue;  // a detail type this client does not know
    out[name] = type.toObject(type.decode(any.value),
                              { longs: String, enums: String, defaults: true, arrays: true });
  }
  return out;
}

function describe(err) {
  return `${grpc.status[err.code] || err.code}: ${err.details}`;
}

// The error a call fails with, or null if it succeeds.
async function rpcError(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return null;
}

const RETRIED = new Set([grpc.status.UNAVAILABLE, grpc.status.RESOURCE_EXHAUSTED,
                         grpc.status.ABORTED]);

// Retries what the errors table says may be retried as it is, waiting as
// long as the server's RetryInfo asks (or a second), at most `tries` times.
async function retrying(types, call, tries = 5) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!RETRIED.has(err.code) || attempt >= tries) throw err;
      const retry = (statusDetails(types, err) || {})['google.rpc.RetryInfo'];
      const delay = retry && retry.retry_delay
        ? Number(retry.retry_delay.seconds) * 1000 + retry.retry_delay.nanos / 1e6 : 1000;
      await new Promise((r) => setTimeout(r, Math.max(delay, 100)));
    }
  }
}

// ---- integrity: docs/INTEGRITY.md -------------------------------------------

const sha256 = (...parts) => crypto.createHash('sha256').update(Buffer.concat(parts)).digest();
const leafHash = (canonical) => sha256(Buffer.from([0x00]), canonical);
const nodeHash = (left, right) => sha256(Buffer.from([0x01]), left, right);

// RFC 9162 §2.1.3.2: does `path` lead from leaf `index` to `root` in a tree of `size`?
function verifyInclusion(index, size, leaf, path, root) {
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  if (fn > sn) return false;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && r.equals(root);
}

// The canonical encoding ("EHR1" and the grammar of docs/INTEGRITY.md) of
// a RecordedEvent as the stubs return it, walking the message's fields with
// protobufjs reflection.
const TAGS = {
  int32: 1, int64: 1, sint32: 1, sint64: 1, sfixed32: 1, sfixed64: 1,
  uint32: 2, uint64: 2, fixed32: 2, fixed64: 2, bool: 3, string: 5, bytes: 6,
};

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function u64(v) {  // two's complement for negative int64 values
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(v)));
  return b;
}

function canonicalMessage(type, message) {
  const parts = [];
  for (const field of [...type.fieldsArray].sort((a, b) => a.id - b.id)) {
    field.resolve();
    if (field.map) throw new Error(`canonical: map field ${field.fullName} is not allowed`);
    const rt = field.resolvedType;
    const tag = rt instanceof protobuf.Type ? 7
      : rt instanceof protobuf.Enum ? 4 : TAGS[field.type];
    if (!tag) throw new Error(`canonical: ${field.fullName} has a type that is not allowed`);
    const enumNumber = (v) => (typeof v === 'number' ? v : rt.values[v]);
    const encode = (v) => {
      switch (tag) {
        case 1: case 2: return u64(v);
        case 3: return Buffer.from([v ? 1 : 0]);
        case 4: return u64(enumNumber(v));
        case 5: { const s = Buffer.from(v, 'utf8'); return Buffer.concat([u32(s.length), s]); }
        case 6: return Buffer.concat([u32(v.length), Buffer.from(v)]);
        default: { const m = canonicalMessage(rt, v); return Buffer.concat([u32(m.length), m]); }
      }
    };
    const value = message[field.name];
    if (field.repeated) {
      if (!value || value.length === 0) continue;
      parts.push(u32(field.id), Buffer.from([tag | 0x80]), u32(value.length), ...value.map(encode));
      continue;
    }
    if (value === undefined || value === null) continue;
    // Present: a message, a oneof member (or proto3 optional) that is there;
    // otherwise a scalar is set when it is not its default.
    const isSet = tag === 7 || field.partOf ||
      (tag <= 2 ? BigInt(value) !== 0n : tag === 3 ? value === true
        : tag === 4 ? enumNumber(value) !== 0 : value.length > 0);
    if (isSet) parts.push(u32(field.id), Buffer.from([tag]), encode(value));
  }
  return Buffer.concat(parts);
}

function canonicalRecord(types, recorded) {
  return Buffer.concat([Buffer.from('EHR1'),
                        canonicalMessage(types.lookupType('evenhand.v1.RecordedEvent'), recorded)]);
}

// RFC 8410: an Ed25519 public key's DER is this prefix and the 32 raw bytes.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

// The PEM form of a raw key, exactly as docs/INTEGRITY.md defines it.
function pemOf(raw) {
  const der = Buffer.concat([SPKI_PREFIX, raw]).toString('base64');
  return `-----BEGIN PUBLIC KEY-----\n${der}\n-----END PUBLIC KEY-----\n`;
}

// Checks a SignedCheckpoint with the key and returns what its signed body
// says (the only part to trust): { log, size, root, chain, streams, time }.
function verifyCheckpoint(signed, publicKey) {
  const key = crypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey.raw]),
                                       format: 'der', type: 'spki' });
  if (!crypto.verify(null, signed.signed_body, key, signed.signature)) {
    throw new Error('the checkpoint signature does not verify with the council\'s key');
  }
  const lines = signed.signed_body.toString('utf8').split('\n');
  expect(lines.length === 8 && lines[0] === 'evenhand checkpoint v2' && lines[7] === '',
         `not a version 2 checkpoint body: ${JSON.stringify(signed.signed_body.toString())}`);
  const body = Object.fromEntries(lines.slice(1, 7).map((l) => l.split(' ')));
  const c = signed.checkpoint;
  const nanos = BigInt(c.timestamp.seconds) * 1000000000n + BigInt(c.timestamp.nanos);
  expect(body.log === c.log_id && body.size === c.tree_size &&
         body.root === c.root_hash.toString('base64') &&
         body.chain === c.chain_head.toString('base64') &&
         body.streams === c.stream_map_root.toString('base64') && body.time === String(nanos),
         'the checkpoint\'s fields do not say what its signed body says');
  return { ...body, root: Buffer.from(body.root, 'base64') };
}

// ---- the council's events ---------------------------------------------------

function now() {
  const ms = Date.now();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
}

// An event envelope; `payload` sets one member of the Payload oneof, e.g.
// { written_query_received: {...} }.
function event(payload) {
  return {
    event_id: crypto.randomUUID(), occurred_at: now(), source_system: 'example-node',
    actor: 'integration-example', payload,
  };
}

// ---- the steps ----------------------------------------------------------------

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const protoDir = path.resolve(args.proto_dir);
  const v1 = loadServices(protoDir);
  const types = loadTypes(protoDir);
  const credentials = grpc.credentials.createInsecure();  // local mode; TLS: docs/INTEGRATING.md
  const log = new v1.EventLog(args.server, credentials);
  const audit = new v1.Audit(args.server, credentials);
  const fairness = new v1.Fairness(args.server, credentials);
  const step = (name, text) => console.log(`${name.padEnd(12)} ${text}`);

  const status = await unary(log, 'GetStatus', {});
  step('status', `log ${status.log_id} at position ${status.last_position}, ` +
                 `server ${status.server_version}`);

  // Fresh ids for everything this run records.
  const run = crypto.randomBytes(4).toString('hex');
  const m1 = `m-ex-${run}-1`;
  const m2 = `m-ex-${run}-2`;
  const officer = `o-ex-${run}`;
  const group = `g-ex-${run}`;
  const queryId = `Q-ex-${run}`;
  const stream = `query-${queryId}`;

  // 1. A new political group, in the order the server checks references:
  // its councillors, then the group naming them; the officer has no
  // references. Each opens its own case (stream), so NO_STREAM.
  const setup = [
    [`member-${m1}`, { member_registered: {
      member_id: m1, name: 'Cllr Ada Example', ward: 'North' } }],
    [`member-${m2}`, { member_registered: {
      member_id: m2, name: 'Cllr Ben Example', ward: 'South' } }],
    [`officer-${officer}`, { officer_registered: {
      officer_id: officer, name: 'Carys Officer', role: 'HEAD_OF_SERVICE',
      department: 'Housing' } }],
    [`group-${group}`, { political_group_recognised: {
      group_id: group, name: `Example Group ${run}`, member_ids: [m1, m2],
      leader_member_id: m1 } }],
  ];
  const setupPositions = [];
  for (const [id, payload] of setup) {
    const reply = await unary(log, 'Append', {
      stream_id: id, expected_state: 'NO_STREAM', events: [event(payload)] });
    setupPositions.push(reply.positions[0]);
  }
  step('group', `councillors ${m1}, ${m2}, officer ${officer}, group ${group} ` +
                `at positions ${setupPositions.join(', ')}`);

  // 2. A case-opening event (NO_STREAM: the server would force it anyway),
  // then a follow-up that expects the case to be at revision 0.
  const received = event({ written_query_received: {
    query_id: queryId, member_id: m1, addressed_to_officer_id: officer,
    subject: 'Bin collections in North ward', channel: 'email' } });
  const openRequest = { stream_id: stream, expected_state: 'NO_STREAM', events: [received] };
  const opened = await unary(log, 'Append', openRequest);
  expect(opened.stream_revision === '0' && !opened.idempotent_replay,
         `opening append: expected revision 0, got ${JSON.stringify(opened)}`);
  const due = new Date(Date.now() + 5 * 86400e3);
  const acknowledged = event({ written_query_acknowledged: {
    query_id: queryId, officer_id: officer,
    reply_due_at: { seconds: String(Math.floor(due / 1000)), nanos: 0 } } });
  const followRequest = { stream_id: stream, exact_revision: '0', events: [acknowledged] };
  const followed = await unary(log, 'Append', followRequest);
  expect(followed.stream_revision === '1',
         `follow-up append: expected revision 1, got ${followed.stream_revision}`);
  step('append', `${stream}: WrittenQueryReceived at position ${opened.positions[0]} ` +
                 `(revision 0), WrittenQueryAcknowledged at ${followed.positions[0]} (revision 1)`);

  // 3. A retry after, say, a timeout: the very same request, same event ids.
  const retried = await unary(log, 'Append', followRequest);
  expect(retried.idempotent_replay && retried.positions.join() === followed.positions.join() &&
         retried.stream_revision === followed.stream_revision,
         `retry: expected the original positions ${followed.positions}, ` +
         `got ${JSON.stringify(retried)}`);
  const reopened = await unary(log, 'Append', openRequest);
  expect(reopened.idempotent_replay && reopened.positions.join() === opened.positions.join(),
         `retry of the opening append: got ${JSON.stringify(reopened)}`);
  // The same id with different content is not a retry.
  const reused = await rpcError(unary(log, 'Append', {
    ...followRequest, events: [{ ...acknowledged, actor: 'someone-else' }] }));
  expect(reused && reused.code === grpc.status.ALREADY_EXISTS,
         'same event id, different content: expected ALREADY_EXISTS, ' +
         `got ${reused ? describe(reused) : 'OK'}`);
  step('retry', `same ids: idempotent_replay, positions ${retried.positions} and ` +
                `${reopened.positions} again; same id, other content: ALREADY_EXISTS`);

  // 4. Read the case back.
  const chunks = await collect(log.ReadStream({ stream_id: stream }));
  const events = chunks.flatMap((c) => c.events);
  expect(events.length === 2 && events[0].event.event_id === received.event_id &&
         events[1].event.event_id === acknowledged.event_id &&
         events[0].event.type === 'WrittenQueryReceived' &&
         events[0].event.payload.kind === 'written_query_received' &&
         events[0].position === opened.positions[0] && events[1].stream_revision === '1',
         `read: got ${JSON.stringify(events.map((e) => [e.position, e.event.type]))}`);
  const listed = events.map((e) => `${e.stream_revision}:${e.event.type}@${e.position}`);
  step('read', `${stream}: ${listed.join(' ')}`);

  // 5. Subscribe from the start (filtered to this case): the two recorded
  // events, then caught_up, then a live one; then cancel and resume from
  // the last position seen + 1.
  // `onMessage(message, call)` sees every message; the promise resolves
  // with the events received once the call is cancelled.
  const subscribe = (request, onMessage) => new Promise((resolve, reject) => {
    const got = [];
    const call = log.Subscribe(request);
    const timer = setTimeout(() => {
      call.cancel();
      reject(new Error(`subscribe: not done within ${DEADLINE_SECONDS} s`));
    }, DEADLINE_SECONDS * 1000);
    call.on('data', (m) => {
      if (m.content === 'events') got.push(...m.events.events);
      try {
        onMessage(m, call, got);
      } catch (err) {
        call.cancel();
        reject(err);
      }
    });
    call.on('error', (err) => {
      clearTimeout(timer);
      if (err.code === grpc.status.CANCELLED) resolve(got); else reject(err);
    });
    call.on('end', () => reject(new Error('subscribe: the server ended the subscription')));
  });
  let live = null;
  const seen = await subscribe(
    { from_position: '1', filter: { stream_prefixes: [stream] } }, (m, call, got) => {
      if (m.content === 'caught_up' && !live) {
        expect(got.length === 2, `subscribe: ${got.length} events before caught_up, expected 2`);
        live = event({ written_query_timescale_revised: {
          query_id: queryId, officer_id: officer, explanation: 'Waiting for the contractor',
          reply_due_at: { seconds: String(Math.floor(due / 1000) + 3 * 86400), nanos: 0 } } });
        unary(log, 'Append', { stream_id: stream, exact_revision: '1', events: [live] })
          .catch((err) => {
            console.error(`FAILED: the live append: ${describe(err)}`);
            call.cancel();
          });
      }
      if (live && got.length === 3) call.cancel();
    });
  expect(seen.length === 3 && seen[2].event.event_id === live.event_id,
         'subscribe: the live event is not the one appended');
  // Resuming after the last position processed: nothing is repeated.
  const resumeFrom = String(BigInt(seen[2].position) + 1n);
  const repeated = await subscribe(
    { from_position: resumeFrom, filter: { stream_prefixes: [stream] } }, (m, call) => {
      if (m.content === 'caught_up') call.cancel();
    });
  expect(repeated.length === 0, `resume from ${resumeFrom}: ${repeated.length} events repeated`);
  step('subscribe', `positions ${seen[0].position},${seen[1].position} caught up, ` +
                    `${seen[2].position} live (${seen[2].event.type}); ` +
                    `resumed from ${resumeFrom}: nothing repeated`);

  // 6. The standards committee's report (UNAVAILABLE while the projection
  // catches up: retried as RetryInfo says).
  const report = await retrying(types, () => unary(fairness, 'GetReport', {}));
  const metrics = report.groups.find((g) => g.group_id === group);
  expect(metrics && metrics.councillors === 2 && metrics.queries_received === 1,
         `report: expected ${group} with 2 councillors and 1 query, ` +
         `got ${JSON.stringify(metrics)}`);
  step('report', `as of position ${report.as_of_position}: groups ${report.groups.length}, ` +
                 `findings ${report.findings.length}; ${group}: ${metrics.councillors} ` +
                 `councillors, ${metrics.queries_received} query received, ` +
                 `${metrics.queries_replied_in_time} replied in time`);

  // 7. Inclusion: the event we read, hashed as docs/INTEGRITY.md says, is
  // leaf position-1 of the tree whose root the server reports.
  const target = events[0];
  const leaf = leafHash(canonicalRecord(types, target));
  const head = await unary(audit, 'GetTreeHead', {});
  const proof = await unary(audit, 'GetInclusionProof', {
    position: target.position, tree_size: head.tree_size });
  expect(leaf.equals(proof.leaf_hash), `inclusion: our leaf hash ${leaf.toString('hex')} ` +
                                       `is not the server's ${proof.leaf_hash.toString('hex')}`);
  expect(verifyInclusion(proof.leaf_index, proof.tree_size, leaf, proof.hashes, head.root_hash),
         `inclusion: the proof for position ${target.position} does not lead to the root ` +
         `of tree ${head.tree_size}`);
  step('inclusion', `position ${target.position}: leaf ${leaf.toString('hex').slice(0, 16)}… ` +
                    `is in the tree of ${head.tree_size} (${proof.hashes.length} hashes to root ` +
                    `${head.root_hash.toString('hex').slice(0, 16)}…)`);

  // 8. A signed checkpoint that covers the event, checked with the
  // council's key, and the event proven against its signed root.
  // GetCheckpoint({}) signs one of the tree as it stands if the latest is
  // older; the loop only guards against a server that would not.
  // (A real client pins the council's published key instead of asking.)
  const key = await unary(audit, 'GetPublicKey', {});
  const keyId = sha256(key.raw).toString('hex').slice(0, 16);
  expect(key.algorithm === 'Ed25519' && key.raw.length === 32 && key.key_id === keyId &&
         key.pem === pemOf(key.raw), 'the public key\'s id or PEM is not that of its raw bytes');
  const deadline = Date.now() + args.checkpoint_wait_seconds * 1000;
  let checkpoint = await unary(audit, 'GetCheckpoint', {});
  while (BigInt(checkpoint.checkpoint.tree_size) < BigInt(target.position)) {
    expect(Date.now() < deadline, `no checkpoint covered position ${target.position} within ` +
                                  `${args.checkpoint_wait_seconds} s`);
    await new Promise((r) => setTimeout(r, 500));
    checkpoint = await unary(audit, 'GetCheckpoint', {});
  }
  const signed = verifyCheckpoint(checkpoint, key);
  expect(checkpoint.key_id === keyId, 'the checkpoint names another key');
  const signedProof = await unary(audit, 'GetInclusionProof', {
    position: target.position, tree_size: signed.size });
  expect(verifyInclusion(signedProof.leaf_index, signed.size, leaf, signedProof.hashes,
                         signed.root),
         `checkpoint: position ${target.position} is not in the signed tree of ${signed.size}`);
  step('checkpoint', `size ${signed.size} signed by key ${keyId} (Ed25519 verified); ` +
                     `position ${target.position} proven against its signed root`);

  // 9. A wrong expected revision: the case is at revision 2 and we say 1.
  // The error's details say where it really is: no need to parse the text.
  const answered = event({ written_query_answered: { query_id: queryId, officer_id: officer } });
  const wrong = await rpcError(unary(log, 'Append', {
    stream_id: stream, exact_revision: '1', events: [answered] }));
  expect(wrong && wrong.code === grpc.status.FAILED_PRECONDITION,
         'wrong expected revision: expected FAILED_PRECONDITION, ' +
         `got ${wrong ? describe(wrong) : 'OK'}`);
  const details = statusDetails(types, wrong);
  expect(details, 'wrong expected revision: no grpc-status-details-bin trailer ' +
                  `(${describe(wrong)})`);
  const info = details['google.rpc.ErrorInfo'];
  expect(info && info.domain === 'evenhand.council' && info.reason === 'WRONG_EXPECTED_REVISION',
         `wrong expected revision: ErrorInfo ${JSON.stringify(info)}`);
  expect(info.metadata.stream === stream && info.metadata.expected_revision === '1' &&
         info.metadata.actual_revision === '2',
         `wrong expected revision: metadata ${JSON.stringify(info.metadata)}, ` +
         'expected actual_revision 2');
  // Re-read, decide again (here: the answer still stands), append at the
  // revision the server reported.
  const tail = await collect(log.ReadStream({
    stream_id: stream, direction: 'BACKWARDS', max_count: '1' }));
  expect(tail[0].events[0].stream_revision === info.metadata.actual_revision,
         'the stream re-read is not at the revision the error reported');
  const fixed = await unary(log, 'Append', {
    stream_id: stream, exact_revision: info.metadata.actual_revision, events: [answered] });
  step('precondition', `FAILED_PRECONDITION ${info.reason}: expected ` +
                       `${info.metadata.expected_revision}, actual ${info.metadata.actual_revision}; ` +
                       `appended at revision ${fixed.stream_revision} instead`);

  // 10. An invalid field: the BadRequest names it as a path into the request.
  const undated = event({ written_query_answered: { query_id: queryId, officer_id: officer } });
  delete undated.occurred_at;
  const invalid = await rpcError(unary(log, 'Append', { stream_id: stream, events: [undated] }));
  expect(invalid && invalid.code === grpc.status.INVALID_ARGUMENT,
         `missing occurred_at: expected INVALID_ARGUMENT, got ${invalid ? describe(invalid) : 'OK'}`);
  const bad = statusDetails(types, invalid) || {};
  const badInfo = bad['google.rpc.ErrorInfo'];
  const violation = (bad['google.rpc.BadRequest'] || { field_violations: [] }).field_violations[0];
  expect(badInfo && badInfo.reason === 'INVALID_FIELD' &&
         violation && violation.field === 'events[0].occurred_at',
         'missing occurred_at: expected INVALID_FIELD naming events[0].occurred_at, ' +
         `got ${JSON.stringify(bad)}`);
  step('invalid', `INVALID_ARGUMENT ${badInfo.reason}: ${violation.field}: ${violation.description}`);

  for (const client of [log, audit, fairness]) client.close();
  console.log('OK: every step checked');
}

main().catch((err) => fail(err.code !== undefined && err.details !== undefined
  ? describe(err) : err.message));
