#!/usr/bin/python3
"""Independent check of an mnistc checkpoint in NumPy: loads the .npz, runs
the article's forward pass relu(x·w1 + b1)·w2 + b2 in float32 on the test
set, and prints the number of correct predictions and the total. When the
metadata holds an activation quantizer ("actquant"), the input pixels and the
hidden ReLU output are fake-quantized as mnistc does: round-half-even onto
2^bits levels over [lo, hi], or the article's round(a/2^(b-1))*2^(b-1).

    /usr/bin/python3 scripts/numpy_eval.py MODEL.npz DATA_DIR
"""
import gzip, json, struct, sys
import numpy as np


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    magic, n = struct.unpack('>II', data[:8])
    if magic == 2051:
        r, c = struct.unpack('>II', data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, r * c)
    return np.frombuffer(data, np.uint8, offset=8)


def fake_quant(a, aq, rng):
    f32 = np.float32
    if aq.get('literal'):
        step = f32(2.0 ** (aq['bits'] - 1))
        return np.round(a / step) * step
    lo, hi = f32(rng['lo']), f32(rng['hi'])
    scale = (hi - lo) / f32(2 ** aq['bits'] - 1)
    if scale <= 0:
        return np.full_like(a, lo)
    return lo + np.round((np.clip(a, lo, hi) - lo) / scale) * scale


def main():
    model, d = sys.argv[1], sys.argv[2]
    z = np.load(model)
    w1, b1, w2, b2 = (z[k] for k in ('w1', 'b1', 'w2', 'b2'))
    assert w1.dtype == np.float32 and w1.shape[0] == 784 and w2.shape[1] == 10
    meta = json.loads(z['meta.json']) if 'meta.json' in z.files else {}
    x = idx(f'{d}/t10k-images-idx3-ubyte.gz').astype(np.float32) / np.float32(255)
    y = idx(f'{d}/t10k-labels-idx1-ubyte.gz')
    aq = meta.get('actquant')
    if aq:
        x = fake_quant(x, aq, aq['input'])
    h = np.maximum(x @ w1 + b1, 0)
    if aq:
        h = fake_quant(h, aq, aq['hidden'])
    pred = (h @ w2 + b2).argmax(1)
    print(json.dumps({'correct': int((pred == y).sum()), 'total': int(len(y)), 'hidden': int(w1.shape[1]),
                      'meta_format': meta.get('format')}))


if __name__ == '__main__':
    main()
