#!/usr/bin/python3
"""Independent check of an mnistc checkpoint in NumPy: loads the .npz, runs
the forward pass of a network of any depth, a_l = relu(a_{l-1}·w_l + b_l) and
logits = a_{N-1}·w_N + b_N, in float32 on the test set, and prints the number
of correct predictions and the total. When the metadata holds an activation
quantizer ("actquant"), each layer's input (the pixels, then each hidden ReLU
output) is fake-quantized as mnistc does: round-half-even onto 2^bits levels
over its range [lo, hi], or the article's round(a/2^(b-1))*2^(b-1).

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
    layers = []
    while f'w{len(layers) + 1}' in z.files:
        n = len(layers) + 1
        layers.append((z[f'w{n}'], z[f'b{n}']))
    assert layers and all(w.dtype == np.float32 and b.dtype == np.float32 for w, b in layers)
    meta = json.loads(z['meta.json']) if 'meta.json' in z.files else {}
    x = idx(f'{d}/t10k-images-idx3-ubyte.gz').astype(np.float32) / np.float32(255)
    y = idx(f'{d}/t10k-labels-idx1-ubyte.gz')
    aq = meta.get('actquant')
    ranges = []
    if aq:  # format 1 recorded "input" and "hidden"; format 2 one range per layer input
        ranges = aq['ranges'] if 'ranges' in aq else [aq['input'], aq['hidden']]
    a = x
    for l, (w, b) in enumerate(layers):
        if aq:
            a = fake_quant(a, aq, ranges[l] if l < len(ranges) else None)
        a = a @ w + b
        if l < len(layers) - 1:
            a = np.maximum(a, 0)
    pred = a.argmax(1)
    print(json.dumps({'correct': int((pred == y).sum()), 'total': int(len(y)),
                      'sizes': [int(layers[0][0].shape[0])] + [int(w.shape[1]) for w, _ in layers],
                      'meta_format': meta.get('format')}))


if __name__ == '__main__':
    main()
