"""Generates the synthetic data sets of the examples, deterministically (seeded).

Run from this folder: python3 generate.py. Standard library only.
"""
import csv
import math
import random


def write(name, header, rows):
    with open(name, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in r])


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


rng = random.Random(20261123)

# y = 1.5 x1 - 2 x2 + 0.5 x3 + 3 + noise
rows = []
for _ in range(200):
    x = [rng.gauss(0, 1) for _ in range(3)]
    y = 1.5 * x[0] - 2 * x[1] + 0.5 * x[2] + 3 + rng.gauss(0, 0.1)
    rows.append(x + [y])
write("linear.csv", ["x1", "x2", "x3", "y"], rows)

# Logistic regression with 10 features.
true_w = [rng.uniform(-2, 2) for _ in range(10)]
rows = []
for _ in range(500):
    x = [rng.gauss(0, 1) for _ in range(10)]
    p = sigmoid(sum(a * b for a, b in zip(true_w, x)) - 0.5)
    rows.append(x + [1 if rng.random() < p else 0])
write("logistic.csv", [f"f{i}" for i in range(10)] + ["label"], rows)

# Formerly a synthetic stand-in for cancer.csv, which is now the real Wisconsin data written by
# real_data.py. The draws are kept so that the files after it stay byte-for-byte the same.
rows = []
for _ in range(300):
    m = rng.random() < 0.4
    shift = 1.0 if m else -0.7
    radius = rng.gauss(shift, 1)
    texture = rng.gauss(0.5 * shift, 1)
    smooth = rng.gauss(0.3 * shift, 1)
    area = radius * 0.8 + rng.gauss(0, 0.5)
    rows.append([radius, texture, smooth, area, 1 if m else 0])
del rows

# Three Gaussian classes in the plane, one-hot encoded.
centers = [(-2.0, 0.0), (2.0, 0.5), (0.0, 2.5)]
rows = []
for _ in range(300):
    k = rng.randrange(3)
    cx, cy = centers[k]
    onehot = [1 if i == k else 0 for i in range(3)]
    rows.append([rng.gauss(cx, 1), rng.gauss(cy, 1)] + onehot)
write("three_classes.csv", ["x1", "x2", "c0", "c1", "c2"], rows)

# Two interleaving half-moons with noise (as scikit-learn's make_moons).
rows = []
for i in range(400):
    t = math.pi * rng.random()
    if i % 2 == 0:
        x1, x2, label = math.cos(t), math.sin(t), 0
    else:
        x1, x2, label = 1 - math.cos(t), 0.5 - math.sin(t), 1
    rows.append([x1 + rng.gauss(0, 0.1), x2 + rng.gauss(0, 0.1), label])
write("moons.csv", ["x1", "x2", "label"], rows)

# One neuron: y = sigmoid(2x - 1) + noise, clipped to [0, 1].
rows = []
for _ in range(100):
    x = rng.uniform(-3, 3)
    y = min(1.0, max(0.0, sigmoid(2 * x - 1) + rng.gauss(0, 0.05)))
    rows.append([x, y])
write("neuron.csv", ["x", "y"], rows)
