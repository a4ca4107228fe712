"""Writes the example files that hold real, public data (see README.md for sources and licences).

Needs scikit-learn, which ships both data sets: pip install scikit-learn; python3 real_data.py
"""
import csv
import statistics

from sklearn.datasets import load_breast_cancer, load_diabetes

cancer = load_breast_cancer()
with open("wdbc.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(list(cancer.feature_names) + ["malignant"])
    for row, target in zip(cancer.data, cancer.target):
        # scikit-learn codes benign as 1; the examples predict malignancy.
        w.writerow([repr(float(v)) for v in row] + [1 if target == 0 else 0])

# LANGUAGE.md's first example: four of the columns, z-scored, under the contract's names.
columns = {"radius": 0, "texture": 1, "smoothness mean": 4, "area": 3}
z = {}
for name, k in columns.items():
    v = [float(row[k]) for row in cancer.data]
    mean, sd = statistics.fmean(v), statistics.pstdev(v)
    z[name] = [(x - mean) / sd for x in v]
with open("cancer.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(list(columns) + ["malignant"])
    for i, target in enumerate(cancer.target):
        w.writerow(["%.6f" % z[name][i] for name in columns] + [1 if target == 0 else 0])

diabetes = load_diabetes(scaled=False)
with open("diabetes.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(list(diabetes.feature_names) + ["progression"])
    for row, target in zip(diabetes.data, diabetes.target):
        w.writerow([repr(float(v)) for v in row] + [repr(float(target))])
