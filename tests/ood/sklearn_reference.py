#!/usr/bin/python3
"""Generator of the expected values hard-coded in tests/ood/test_ood_metrics.cpp.

Run by hand (not by the tests; CI needs no Python), with Debian's python3-sklearn / python3-numpy:
    /usr/bin/python3 tests/ood/sklearn_reference.py
and paste its output into the test. Values printed with repr() so the C++ literals are the same doubles.

The conventions are those of the TrustDD evaluation (utils/ood_utils.py + test_ood_model_syn.py of
mashijie1028/TrustDD, i.e. the Hendrycks OE code):
  auroc    = sklearn roc_auc_score(labels, scores), InD label 1
  aupr_in  = sklearn average_precision_score(labels, scores), InD label 1
  aupr_out = sklearn average_precision_score(1 - labels, -scores), OOD label 1
  fpr95    = fps[cutoff] / #OOD, the curve from sklearn's _binary_clf_curve (every distinct score a
             threshold, no dropping), kept up to the first point of full recall, walked from there
             towards the highest threshold with (recall 1, fps 0) appended, cutoff = the first argmin of
             |recall - 0.95| in that order.  sklearn has no FPR-at-TPR function; this re-derivation uses
             only its public curve primitive and numpy.
All four in percent.
"""
import numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score, roc_curve
from sklearn.metrics._ranking import _binary_clf_curve


def fpr_at_95(labels, scores, level=0.95):
    fps, tps, _ = _binary_clf_curve(labels, scores)  # decreasing thresholds
    recall = tps / tps[-1]
    first_full = int(np.searchsorted(tps, tps[-1]))
    order = np.arange(first_full, -1, -1)
    recall = np.r_[recall[order], 1.0]
    fps = np.r_[fps[order], 0.0]
    cutoff = int(np.argmin(np.abs(recall - level)))
    return fps[cutoff] / np.sum(labels == 0)


def fpr_at_95_roc_curve(labels, scores, level=0.95):
    # The other reading (sklearn roc_curve, drop_intermediate=True, increasing order): printed only to
    # show where it differs; the tests use fpr_at_95 above.
    fpr, tpr, _ = roc_curve(labels, scores)
    return fpr[int(np.argmin(np.abs(tpr - level)))]


rng = np.random.RandomState(11)
cases = {
    "ties": ([0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.5, 0.4, 0.3, 0.2],
             [0.8, 0.6, 0.6, 0.5, 0.35, 0.1, 0.05]),
    "perfect": ([3.0, 2.5, 2.0, 1.5], [1.0, 0.5, 0.0, -1.0, -2.0]),
    "reversed": ([1.0, 0.5, 0.0, -1.0, -2.0], [3.0, 2.5, 2.0, 1.5]),
    "all_equal": ([0.5] * 5, [0.5] * 3),
    "duplicates": ([0.9] * 7 + [0.5] * 5 + [0.1] * 3, [0.5] * 6 + [0.1] * 9),
    "ten_ind": ([1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.1],
                [0.72, 0.5, 0.3, 0.2, 0.15, 0.05]),
    "random": (list(np.round(rng.normal(0.6, 0.2, 40), 2)), list(np.round(rng.normal(0.4, 0.2, 37), 2))),
}

for name, (ind, ood) in cases.items():
    ind = np.asarray(ind, dtype=np.float64)
    ood = np.asarray(ood, dtype=np.float64)
    scores = np.r_[ind, ood]
    labels = np.r_[np.ones(len(ind), dtype=np.int32), np.zeros(len(ood), dtype=np.int32)]
    auroc = 100 * roc_auc_score(labels, scores)
    aupr_in = 100 * average_precision_score(labels, scores)
    aupr_out = 100 * average_precision_score(1 - labels, -scores)
    fpr95 = 100 * fpr_at_95(labels, scores)
    alt = 100 * fpr_at_95_roc_curve(labels, scores)
    print(f"// {name}: roc_curve-reading fpr95 would be {alt!r}")
    print(f'{{"{name}", {{{", ".join(repr(float(v)) for v in ind)}}},')
    print(f' {{{", ".join(repr(float(v)) for v in ood)}}},')
    print(f" {fpr95!r}, {auroc!r}, {aupr_in!r}, {aupr_out!r}}},")
