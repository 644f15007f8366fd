// Runs an ONNX model exported by `mnistc export` in ONNX Runtime (onnxruntime-node, CPU) on a set of images,
// all of them in one call, and prints JSON: the image count, the timed calls (ms) and their median, and
// optionally writes the predicted class of each image (argmax of the logits, first maximum on ties, as mnistc
// does) as little-endian int32.
//
//   node scripts/onnx/run.mjs --model M.onnx --images X [--dim 784] [--threads 2] [--repeat 5] [--predictions P.i32]
//                             [--logits L.f32] [--optimize all|extended|basic|disabled] [--save-optimized O.onnx]
//                             [--disable OPTIMIZER,…]   (e.g. WeightBiasQuantization: see onnx.WeightBiasNote)
//
// X is either raw little-endian float32 values (N×dim, as the Go tests write the test set) or an MNIST IDX
// image file (.gz or not), whose bytes are scaled to float32(p)/255 exactly as package data does.
// One untimed call warms the session up before the --repeat timed ones. Set-up: scripts/setup.sh
// (npm ci --ignore-scripts in scripts/onnx).
import fs from 'node:fs';
import zlib from 'node:zlib';
import ort from 'onnxruntime-node';

function args() {
  const a = { dim: 784, threads: 2, repeat: 5 };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) {
    const k = v[i].replace(/^--/, '');
    if (!['model', 'images', 'dim', 'threads', 'repeat', 'predictions', 'logits', 'optimize', 'save-optimized', 'disable'].includes(k) || i + 1 >= v.length) {
      throw new Error(`run.mjs: unknown or incomplete flag ${v[i]}`);
    }
    a[k] = ['dim', 'threads', 'repeat'].includes(k) ? Number(v[i + 1]) : v[i + 1];
  }
  if (!a.model || !a.images) throw new Error('run.mjs: --model and --images are required');
  return a;
}

// float32(p)/255 for each byte value, as Go computes it: Math.fround(p/255) rounds the double quotient to float32,
// which equals the correctly rounded float32 quotient (double rounding is harmless for a division when the wider
// format has at least 2·24+2 bits: 53 ≥ 50).
const scale = Float32Array.from({ length: 256 }, (_, p) => Math.fround(p / 255));

function images(path, dim) {
  let b = fs.readFileSync(path);
  if (b[0] === 0x1f && b[1] === 0x8b) b = zlib.gunzipSync(b);
  if (b.length >= 16 && b.readUInt32BE(0) === 0x803) {
    const n = b.readUInt32BE(4), d = b.readUInt32BE(8) * b.readUInt32BE(12);
    const x = new Float32Array(n * d);
    for (let i = 0; i < x.length; i++) x[i] = scale[b[16 + i]];
    return { x, n, dim: d };
  }
  if (b.length % (4 * dim) !== 0) throw new Error(`run.mjs: ${path}: ${b.length} bytes is not a whole number of ${dim}-value float32 images`);
  const x = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  return { x, n: x.length / dim, dim };
}

const a = args();
const { x, n, dim } = images(a.images, a.dim);
const session = await ort.InferenceSession.create(a.model, {
  executionProviders: ['cpu'],
  intraOpNumThreads: a.threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: a.optimize || 'all',
  ...(a.disable ? { extra: { optimization: { disable_specified_optimizers: a.disable } } } : {}),
  ...(a['save-optimized'] ? { optimizedModelFilePath: a['save-optimized'] } : {}),
});
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x, [n, dim]) };
let out = await session.run(feeds); // warm-up
const ms = [];
for (let r = 0; r < a.repeat; r++) {
  const t0 = process.hrtime.bigint();
  out = await session.run(feeds);
  ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
const logits = out[session.outputNames[0]];
const classes = logits.dims[1];
if (a.predictions) {
  const pred = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits.data[i * classes + c] > logits.data[i * classes + best]) best = c;
    pred[i] = best;
  }
  fs.writeFileSync(a.predictions, Buffer.from(pred.buffer));
}
if (a.logits) fs.writeFileSync(a.logits, Buffer.from(logits.data.buffer, logits.data.byteOffset, logits.data.byteLength));
const sorted = [...ms].sort((p, q) => p - q);
console.log(JSON.stringify({ images: n, classes, threads: a.threads, ms, median_ms: sorted.length ? sorted[sorted.length >> 1] : null }));
