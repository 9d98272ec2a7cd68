// PyTorch's autograd tutorial on tensord from Node.js, with @grpc/grpc-js and @grpc/proto-loader
// and nothing but the .proto files (docs/raw-grpc.md explains every step). It checks its own
// results -- values against the same arithmetic done here in JavaScript, grad_fn names against
// PyTorch's -- and exits non-zero on any mismatch.
//
//   node tutorial.js [--address=127.0.0.1:50051] [--proto=../../proto]
'use strict';

const crypto = require('crypto');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const args = Object.fromEntries(
    process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')).map(([k, v]) => [k, v]));
const address = args.address || '127.0.0.1:50051';
const protoRoot = args.proto || path.join(__dirname, '..', '..', 'proto');

// proto-loader's defaults are wrong for tensord: without keepCase, snake_case fields must be
// written in camelCase (a snake_case key such as session_id is silently dropped); without
// longs: String, uint64 ids arrive as Long objects (and JavaScript numbers lose ids above 2^53);
// without enums: String, dtypes are bare numbers.
const definition = protoLoader.loadSync('tensord/v1/tensord.proto', {
  includeDirs: [protoRoot],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const tensord = grpc.loadPackageDefinition(definition).tensord.v1;
const client = new tensord.Tensord(address, grpc.credentials.createInsecure());

// The client chooses the session id (128 random bits) and sends it in x-tensord-session on every
// session call, CreateSession included: a proxy routes on it, and the server refuses session
// calls without it (INVALID_ARGUMENT).
const sessionId = crypto.randomBytes(16).toString('hex');
const metadata = new grpc.Metadata();
metadata.set('x-tensord-session', sessionId);

function call(method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 10000);
    client[method](request, metadata, {deadline}, (err, response) => {
      if (err) reject(err);
      else resolve(response);
    });
  });
}

let failures = 0;
function check(ok, what) {
  if (!ok) {
    console.error(`CHECK FAILED: ${what}`);
    failures++;
  }
}
function near(a, b, tol = 1e-5) {
  return Math.abs(a - b) <= tol * (1 + Math.abs(b));
}
function allNear(a, b, what) {
  check(a.length === b.length && a.every((v, i) => near(v, b[i])),
        `${what}: got [${a}], want [${b}]`);
}

// Values travel as raw little-endian bytes: float32 here.
function floats(values, shape) {
  return {dtype: 'DTYPE_FLOAT32', shape: shape.map(String),
          data: Buffer.from(new Float32Array(values).buffer)};
}
function valuesOf(data) {
  const bytes = Buffer.from(data.data);  // a copy: Float32Array needs 4-byte alignment
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
}

async function main() {
  const created = await call('CreateSession', {session_id: sessionId, seed: '1'});
  check(created.session_id === sessionId, 'the session has the id we proposed');

  // x = torch.ones(5); y = torch.zeros(3); w, b leaves that require grad (fixed values instead
  // of randn, so that the expectations below are computed independently).
  const w = Array.from({length: 15}, (_, k) => 0.25 * (k % 5) - 0.5);
  const b = [0.5, -0.25, 0.125];
  const X = '1', Y = '2', W = '3', B = '4', XW = '5', Z = '6', LOSS = '7';
  await call('CreateTensor', {session_id: sessionId, id: X, data: floats([1, 1, 1, 1, 1], [5])});
  await call('CreateTensor', {session_id: sessionId, id: Y, data: floats([0, 0, 0], [3])});
  await call('CreateTensor',
             {session_id: sessionId, id: W, data: floats(w, [5, 3]), requires_grad: true});
  await call('CreateTensor',
             {session_id: sessionId, id: B, data: floats(b, [3]), requires_grad: true});

  // z = torch.matmul(x, w) + b; loss = binary_cross_entropy_with_logits(z, y)
  await call('ApplyOp', {session_id: sessionId, op: 'matmul', inputs: [X, W], outputs: [XW]});
  const z = (await call('ApplyOp',
                        {session_id: sessionId, op: 'add', inputs: [XW, B], outputs: [Z]}))
                .tensors[0];
  const loss = (await call('ApplyOp', {
                  session_id: sessionId,
                  op: 'binary_cross_entropy_with_logits',
                  inputs: [Z, Y],
                  outputs: [LOSS],
                })).tensors[0];
  console.log(`Gradient function for z = <${z.grad_fn}>`);
  console.log(`Gradient function for loss = <${loss.grad_fn}>`);
  check(z.grad_fn === 'AddBackward0', `z.grad_fn is AddBackward0, got ${z.grad_fn}`);
  check(loss.grad_fn === 'BinaryCrossEntropyWithLogitsBackward0',
        `loss.grad_fn is BinaryCrossEntropyWithLogitsBackward0, got ${loss.grad_fn}`);
  check(z.dtype === 'DTYPE_FLOAT32' && z.shape.join(',') === '3', 'z is float32 [3]');

  // The same arithmetic in JavaScript.
  const zWant = [0, 1, 2].map((j) => [0, 1, 2, 3, 4].reduce((s, i) => s + w[i * 3 + j], 0) + b[j]);
  const sigmoid = (v) => 1 / (1 + Math.exp(-v));
  const lossWant = zWant.reduce((s, v) => s + Math.log1p(Math.exp(v)), 0) / 3;  // y = 0
  const dz = zWant.map((v) => sigmoid(v) / 3);

  const zGot = await call('GetTensor', {session_id: sessionId, id: Z});
  allNear(valuesOf(zGot.value), zWant, 'z');
  const lossGot = await call('GetTensor', {session_id: sessionId, id: LOSS});
  allNear(valuesOf(lossGot.value), [lossWant], 'loss');

  // loss.backward(); then read .grad with GetTensor(include_grad).
  await call('Backward', {session_id: sessionId, tensors: [LOSS]});
  const wGot = await call('GetTensor', {session_id: sessionId, id: W, include_grad: true});
  const bGot = await call('GetTensor', {session_id: sessionId, id: B, include_grad: true});
  console.log(`w.grad = [${valuesOf(wGot.grad).map((v) => v.toFixed(4))}]`);
  console.log(`b.grad = [${valuesOf(bGot.grad).map((v) => v.toFixed(4))}]`);
  allNear(valuesOf(wGot.grad), [0, 1, 2, 3, 4].flatMap(() => dz), 'w.grad');
  allNear(valuesOf(bGot.grad), dz, 'b.grad');
  check(wGot.info.has_grad && wGot.info.is_leaf, 'w is a leaf with a grad');

  // A Python number as an operand (z * 2): a 0-dim tensor marked wrapped_number, so that it
  // does not promote the float32 tensor (a float64 0-dim tensor without the mark would).
  const TWO = '8', DOUBLED = '9';
  await call('CreateTensor', {
    session_id: sessionId, id: TWO, wrapped_number: true,
    data: {dtype: 'DTYPE_FLOAT64', shape: [], data: Buffer.from(new Float64Array([2]).buffer)},
  });
  const doubled = (await call('ApplyOp', {
                     session_id: sessionId, op: 'mul', inputs: [Z, TWO], outputs: [DOUBLED],
                   })).tensors[0];
  check(doubled.dtype === 'DTYPE_FLOAT32', `z * 2 stays float32, got ${doubled.dtype}`);
  check(doubled.grad_fn === 'MulBackward0', `(z * 2).grad_fn is MulBackward0, got ${doubled.grad_fn}`);
  allNear(valuesOf((await call('GetTensor', {session_id: sessionId, id: DOUBLED})).value),
          zWant.map((v) => 2 * v), 'z * 2');

  // A Scalar argument of the schema (add's alpha) is an attribute: AttrValue.f for a float.
  const SCALED = '10';
  await call('ApplyOp', {
    session_id: sessionId, op: 'add', inputs: [Z, Z], outputs: [SCALED],
    attrs: {alpha: {f: 0.5}},
  });
  allNear(valuesOf((await call('GetTensor', {session_id: sessionId, id: SCALED})).value),
          zWant.map((v) => 1.5 * v), 'torch.add(z, z, alpha=0.5)');

  // Ids are uint64: strings keep 2^53 + 1 exact (a JavaScript number would not).
  const BIG = '9007199254740993';
  const big = (await call('Factory', {session_id: sessionId, id: BIG, name: 'zeros', shape: ['2']}))
                  .tensors[0];
  check(big.id === BIG, `id 2^53 + 1 comes back exact, got ${big.id}`);

  // Errors are gRPC statuses with PyTorch's message where PyTorch has one.
  try {
    await call('ApplyOp', {session_id: sessionId, op: 'no_such_op', inputs: [X]});
    check(false, 'an unknown op fails');
  } catch (err) {
    check(err.code === grpc.status.NOT_FOUND, `unknown op: NOT_FOUND, got ${err.code}`);
    console.log(`unknown op -> ${grpc.status[err.code]}: ${err.details}`);
  }
  try {
    await call('Backward', {session_id: sessionId, tensors: [LOSS]});
    check(false, 'a second backward through the freed graph fails');
  } catch (err) {
    check(err.code === grpc.status.FAILED_PRECONDITION &&
              err.details.includes('Trying to backward through the graph a second time'),
          `second backward: FAILED_PRECONDITION with PyTorch's text, got ${err.code} ${err.details}`);
  }

  await call('CloseSession', {session_id: sessionId});
  client.close();
  if (failures > 0) {
    console.error(`${failures} check(s) failed`);
    process.exit(1);
  }
  console.log('all checks passed');
}

main().catch((err) => {
  console.error(`tutorial failed: ${err.code !== undefined ? grpc.status[err.code] + ': ' : ''}` +
                `${err.details || err.message}`);
  process.exit(1);
});
