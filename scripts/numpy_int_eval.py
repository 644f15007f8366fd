#!/usr/bin/python3
"""Independent check of mnistc's integer inference path (package infer,
integer.go) in NumPy: 8-bit activation codes times int8 weight levels summed
exactly in integers, one float32 rescale per output, requantization to the
next layer's codes, for a network of any depth. Written from the definition
in infer/integer.go, not from the Go code's structure, and meant to agree
with it bit for bit: every logit, not only the predictions.

Input: an .npz holding, for layers l = 1..N,
    w{l}  float32 (in, out)   the weights as the float evaluation sees them
    s{l}  float32 (out,)      the scale of each output column: w = s·k
    b{l}  float32 (out,)      the bias
and lo, hi float32 (N,) (the range of each layer's input: the pixels, then
each hidden ReLU output) and bits (the activation code width, 1..8).
The levels k = w/s are recovered here and checked to be int8 with s·k == w
exactly in float32.

    /usr/bin/python3 scripts/numpy_int_eval.py NET.npz DATA_DIR [--out LOGITS.npy]

prints {"correct": ..., "total": ..., "sizes": [...]} and writes the float32
logits of the 10,000 test images to LOGITS.npy when asked.
"""
import json, os, sys
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from numpy_eval import idx  # the IDX reader

f32, f64 = np.float32, np.float64


def levels(w, s):
    """The int8 levels k with s·k == w exactly (float32), per column."""
    with np.errstate(divide='ignore', invalid='ignore'):
        k = np.rint(w.astype(f64) / s.astype(f64)[None, :])
    k = np.where(w == 0, 0, k)
    assert np.all(np.abs(k) <= 127), 'a level outside int8'
    k = k.astype(np.int64)
    back = s[None, :] * k.astype(f32)
    assert np.array_equal(back, w), 'w is not s·k in float32'
    return k


def step_of(lo, hi, top):
    return (f32(hi) - f32(lo)) / f32(top)  # float32, as model.ActQuant


def pixel_codes(x, lo, hi, top):
    """ActQuant's level of each pixel: 0 at or below lo, else
    roundEven(min((min(x, hi) − lo)/step, top)), in float32."""
    st = step_of(lo, hi, top)
    if not st > 0:
        return np.zeros(x.shape, np.int64)
    xc = np.where(x < f32(hi), x, f32(hi))
    q = (xc - f32(lo)) / st
    q = np.where(q < f32(top), q, f32(top))
    return np.where(x > f32(lo), np.rint(q), 0).astype(np.int64)


def forward(layers, lo, hi, bits, x):
    top = 2 ** bits - 1
    q = pixel_codes(x, lo[0], hi[0], top)
    n = len(layers)
    for l, (k, s, b) in enumerate(layers):
        # exact: integer products and sums below 2^53 are exact in float64
        # (and BLAS makes it quick)
        acc = np.rint(q.astype(f64) @ k.astype(f64)).astype(np.int64)
        assert np.abs(acc).max(initial=0) < 2 ** 31, 'int32 overflow'
        K = k.sum(0).astype(f64)
        s64, step, lol = s.astype(f64), f64(step_of(lo[l], hi[l], top)), f64(lo[l])
        A = s64 * step
        B = s64 * lol * K + b.astype(f64)  # ((s·lo)·K) + b, in float64
        last = l == n - 1
        if not last:
            loN, stN = f64(lo[l + 1]), f64(step_of(lo[l + 1], hi[l + 1], top))
            if stN > 0:
                A, B = A / stN, (B - loN) / stN
                zlo, zhi = f32(min(max(0.0, -loN / stN), float(top))), f32(top)
            else:  # a collapsed next range: every code is 0
                A, B = np.zeros_like(A), np.zeros_like(B)
                zlo, zhi = f32(0), f32(0)
        z = acc.astype(f32) * A.astype(f32)  # float32, multiply then add
        z = z + B.astype(f32)
        if last:
            return z
        z = np.where(z > zlo, z, zlo)  # ReLU and the next range's bottom
        z = np.where(z < zhi, z, zhi)
        q = np.rint(z).astype(np.int64)


def main():
    args = sys.argv[1:]
    out = None
    if '--out' in args:
        i = args.index('--out')
        out = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit('usage: numpy_int_eval.py NET.npz DATA_DIR [--out LOGITS.npy]')
    net, d = args
    z = np.load(net)
    layers = []
    while f'w{len(layers) + 1}' in z.files:
        n = len(layers) + 1
        w, s, b = z[f'w{n}'], z[f's{n}'], z[f'b{n}']
        assert w.dtype == f32 and s.dtype == f32 and b.dtype == f32
        layers.append((levels(w, s), s, b))
    lo, hi, bits = z['lo'], z['hi'], int(z['bits'])
    assert layers and len(lo) == len(layers) == len(hi) and 1 <= bits <= 8
    x = idx(f'{d}/t10k-images-idx3-ubyte.gz').astype(f32) / f32(255)
    y = idx(f'{d}/t10k-labels-idx1-ubyte.gz')
    logits = forward(layers, lo, hi, bits, x)
    if out:
        np.save(out, np.ascontiguousarray(logits, dtype='<f4'))
    pred = logits.argmax(1)
    print(json.dumps({'correct': int((pred == y).sum()), 'total': int(len(y)),
                      'sizes': [int(layers[0][0].shape[0])] + [int(k.shape[1]) for k, _, _ in layers]}))


if __name__ == '__main__':
    main()
