#!/usr/bin/python3
"""Peer for speed and accuracy comparisons (scripts/bench.sh runs it): the article's 784-128-10 MLP
(Dense 128 ReLU, Dense 10 softmax, Adam lr 1e-3, cross-entropy) trained in PyTorch
on the same MNIST IDX files, timed per epoch on the same machine. --layers 300,100
trains LeNet-300-100 (784-300-100-10, ReLU between) instead.

Set-up (Debian packages; the Debian PyTorch build needs OpenBLAS or it falls back
to the slow reference BLAS):
    apt-get install -y python3-torch python3-numpy libopenblas0-pthread
Run with Debian's interpreter, not a pyenv one:
    /usr/bin/python3 scripts/torch_mlp.py --data DIR [--epochs 10] [--batch 128] [--threads 2] [--layers 128] [--save w.npz]
DIR holds train-images-idx3-ubyte.gz and the three other MNIST files.
--save writes w1 (784,h1), b1 (h1), w2 (h1,h2), b2, ... as float32 into an .npz.
"""
import argparse, time
import numpy as np
import torch
import torch.nn as nn

from numpy_eval import idx  # the IDX reader beside it (scripts/ is on the path when run as a script)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--layers', default='128', help='hidden layer sizes, e.g. 300,100')
    ap.add_argument('--save')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    d = a.data
    xtr = torch.tensor(idx(f'{d}/train-images-idx3-ubyte.gz'), dtype=torch.float32) / 255
    ytr = torch.tensor(idx(f'{d}/train-labels-idx1-ubyte.gz').astype(np.int64))
    xte = torch.tensor(idx(f'{d}/t10k-images-idx3-ubyte.gz'), dtype=torch.float32) / 255
    yte = torch.tensor(idx(f'{d}/t10k-labels-idx1-ubyte.gz').astype(np.int64))
    sizes = [784] + [int(h) for h in a.layers.split(',')] + [int(ytr.max()) + 1]
    mods = []
    for i in range(len(sizes) - 1):
        mods.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            mods.append(nn.ReLU())
    model = nn.Sequential(*mods)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    lossf = nn.CrossEntropyLoss()
    train_s, eval_s = [], []
    acc = 0.0
    for ep in range(a.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), a.batch):
            j = perm[i:i + a.batch]
            opt.zero_grad()
            loss = lossf(model(xtr[j]), ytr[j])
            loss.backward()
            opt.step()
        train_s.append(time.perf_counter() - t0)
        with torch.no_grad():
            t1 = time.perf_counter()
            acc = (model(xte).argmax(1) == yte).float().mean().item()
            eval_s.append(time.perf_counter() - t1)
        print(f'epoch {ep + 1} train_s {train_s[-1]:.3f} eval_s {eval_s[-1]:.4f} test_acc {acc:.4f}', flush=True)
    med = lambda v: sorted(v)[len(v) // 2]
    print(f'median_epoch_s {med(train_s):.3f} median_eval_s {med(eval_s):.4f} final_test_acc {acc:.4f}')
    if a.save:
        lin = [m for m in model if isinstance(m, nn.Linear)]
        arrs = {}
        for i, m in enumerate(lin, 1):
            arrs[f'w{i}'] = m.weight.detach().numpy().T.copy()
            arrs[f'b{i}'] = m.bias.detach().numpy().copy()
        np.savez(a.save, **arrs)


if __name__ == '__main__':
    main()
