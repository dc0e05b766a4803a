"""One class-balanced linear SVM per attribute, C chosen per attribute on the val split (the "-mm" baselines).

Every attribute j gets the L2-regularised squared-hinge SVM of scikit-learn's ``LinearSVC`` with
``class_weight="balanced"`` (each class weighs ``n_known / (2 n_class)``)::

    min_w,b  1/2 |w|^2 + C sum_i s_ij max(0, 1 - y_ij (w . x_i + b))^2,    y_ij in {-1, +1}

on standardised features, for every C of a small grid; the C with the best val mean accuracy
(``(TPR + TNR) / 2`` at decision 0) is kept, per attribute. Two solvers give the same minimiser:

- ``"torch"`` (default): all attributes and all C of the grid as one batched full-gradient L-BFGS
  problem (the objectives are independent, so their sum has the same minimisers); the bias is not
  regularised. On 8000 x 2784 features, 26 attributes x 3 C take about a minute on 2 cores, where
  liblinear needs seconds to minutes per fit; it also runs on a GPU.
- ``"liblinear"``: scikit-learn's ``LinearSVC`` per (attribute, C), in parallel with joblib (liblinear
  regularises the bias as a feature of value ``intercept_scaling``).

Scores: `AttributeSVMs.predict_proba` maps the decision value ``d`` to ``sigmoid(d)``, a monotone map
with ``sigmoid(0) = 0.5``, so the usual threshold 0.5 on the probability is exactly the SVM's own
decision ``d > 0`` and ranking metrics see the SVM's order. It is not a calibrated probability (Platt
scaling with an intercept would move the threshold away from ``d = 0``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SVMConfig:
    """Per-attribute linear SVM settings."""

    C_grid: tuple[float, ...] = (0.001, 0.01, 0.1)
    solver: str = "torch"
    standardize: bool = True
    max_iter: int = 500
    tol: float = 1e-6
    n_jobs: int = -1  # liblinear: parallel fits
    device: str = "auto"  # torch: "auto" | "cpu" | "cuda"
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.C_grid or any(not (c > 0) for c in self.C_grid):
            raise ValueError(f"SVMConfig.C_grid must hold positive values, found {self.C_grid!r}")
        object.__setattr__(self, "C_grid", tuple(sorted(float(c) for c in self.C_grid)))  # ties keep the smallest C
        if self.solver not in SOLVERS:
            raise ValueError(f"SVMConfig.solver must be one of {', '.join(sorted(SOLVERS))}, found {self.solver!r}")
        if self.max_iter < 1:
            raise ValueError(f"SVMConfig.max_iter must be positive, found {self.max_iter}")


@dataclass
class AttributeSVMs:
    """Fitted per-attribute linear SVMs: ``decision = ((X - mean) / scale) @ coef.T + intercept``."""

    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,)
    coef: np.ndarray  # (A, D)
    intercept: np.ndarray  # (A,)
    C: np.ndarray  # (A,) the chosen C per attribute (NaN: constant classifier)
    val_mA: np.ndarray  # (A,) val mean accuracy at the chosen C (NaN: not measurable)
    val_mA_grid: np.ndarray | None = None  # (K, A) val mean accuracy of every C of the grid

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """SVM decision values (N, A)."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.coef.shape[1]:
            raise ValueError(f"features must have shape (N, {self.coef.shape[1]}), found {X.shape}")
        return ((X - self.mean) / self.scale) @ self.coef.T + self.intercept

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """``sigmoid(decision)`` (N, A) in [0, 1]; 0.5 is the SVM's decision boundary."""
        d = self.decision_function(X).astype(np.float64)
        return (0.5 * (1.0 + np.tanh(0.5 * d))).astype(np.float32)  # the sigmoid, without overflow


def balanced_weights(Y: np.ndarray, known: np.ndarray) -> np.ndarray:
    """scikit-learn's ``class_weight="balanced"`` per entry: ``n_known / (2 n_class)``, 0 where unknown."""
    pos = (Y.astype(bool) & known).sum(0)
    neg = known.sum(0) - pos
    n = known.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(Y.astype(bool), n / (2.0 * pos), n / (2.0 * neg))
    return np.where(known, w, 0.0)


def _solve_torch(X: np.ndarray, Y: np.ndarray, known: np.ndarray, config: SVMConfig) -> tuple[np.ndarray, np.ndarray]:
    """Batched L-BFGS over every (C, attribute): returns coef (K, A, D), intercept (K, A)."""
    import torch

    device = torch.device("cuda" if config.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if config.device == "auto" else config.device))
    n, d = X.shape
    k, a = len(config.C_grid), Y.shape[1]
    x = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device)
    y = torch.from_numpy(np.where(Y.astype(bool), 1.0, -1.0).astype(np.float32)).to(device).repeat(1, k)
    s = torch.from_numpy(balanced_weights(Y, known).astype(np.float32)).to(device).repeat(1, k)
    c = torch.tensor(config.C_grid, dtype=torch.float32, device=device).repeat_interleave(a)  # (K*A,)
    w = torch.zeros(d, k * a, device=device, requires_grad=True)
    b = torch.zeros(k * a, device=device, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=config.max_iter, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=config.tol, tolerance_change=1e-12)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        margin = torch.clamp(1.0 - y * (x @ w + b), min=0.0)
        loss = (0.5 * (w * w).sum(0) + c * (s * margin * margin).sum(0)).sum() / n  # /n: scale only
        loss.backward()
        return loss

    opt.step(closure)
    iterations = opt.state[w]["n_iter"]
    if iterations >= config.max_iter:
        logger.warning("torch SVM solver stopped at max_iter=%d before reaching tol=%g", config.max_iter, config.tol)
    logger.info("torch SVM solver: %d L-BFGS iterations for %d attributes x %d C", iterations, a, k)
    coef = w.detach().cpu().numpy().T.reshape(k, a, d)
    return coef, b.detach().cpu().numpy().reshape(k, a)


def _liblinear_fit(X: np.ndarray, y: np.ndarray, known: np.ndarray, C: float, config: SVMConfig) -> tuple[np.ndarray, float, bool]:
    """One ``LinearSVC`` on the rows with a known label; returns coef (D,), intercept, converged."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    if not known.all():
        X, y = X[known], y[known]
    clf = LinearSVC(C=C, class_weight="balanced", max_iter=config.max_iter * 4, tol=max(config.tol, 1e-4),
                    dual="auto", random_state=config.seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(X, y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return clf.coef_[0].astype(np.float32), float(clf.intercept_[0]), converged


def _solve_liblinear(X: np.ndarray, Y: np.ndarray, known: np.ndarray, config: SVMConfig) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn ``LinearSVC`` per (C, attribute), in parallel: returns coef (K, A, D), intercept (K, A)."""
    from joblib import Parallel, delayed

    k, a = len(config.C_grid), Y.shape[1]
    X = np.ascontiguousarray(X, dtype=np.float64)  # liblinear's dtype: convert once, share with the workers
    jobs = [delayed(_liblinear_fit)(X, Y[:, j].astype(int), known[:, j], C, config)
            for C in config.C_grid for j in range(a)]
    results = Parallel(n_jobs=1 if len(jobs) == 1 else config.n_jobs)(jobs)
    not_converged = sum(not r[2] for r in results)
    if not_converged:
        logger.warning("liblinear: %d of %d SVM fits hit max_iter before converging", not_converged, len(jobs))
    coef = np.stack([r[0] for r in results]).reshape(k, a, X.shape[1])
    return coef, np.array([r[1] for r in results], dtype=np.float32).reshape(k, a)


SOLVERS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray, SVMConfig], tuple[np.ndarray, np.ndarray]]] = {
    "torch": _solve_torch,
    "liblinear": _solve_liblinear,
}


def balanced_accuracy(y: np.ndarray, decision: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """Per column, ``(TPR + TNR) / 2`` of ``decision > 0`` on the known entries (an attribute's mA); NaN
    for a column without known positives or negatives."""
    y = np.asarray(y).astype(bool)
    known = np.ones(y.shape, bool) if known is None else np.asarray(known, bool)
    pred = np.asarray(decision) > 0
    pos, neg = y & known, ~y & known
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = (pred & pos).sum(0) / pos.sum(0)
        tnr = (~pred & neg).sum(0) / neg.sum(0)
    return 0.5 * (tpr + tnr)


def fit_attribute_svms(
    X_train: np.ndarray,
    Y_train: np.ndarray,
    X_val: np.ndarray,
    Y_val: np.ndarray,
    *,
    mask_train: np.ndarray | None = None,
    mask_val: np.ndarray | None = None,
    config: SVMConfig | None = None,
    attribute_names: list[str] | tuple[str, ...] | None = None,
) -> AttributeSVMs:
    """Train one linear SVM per attribute and C on ``X_train``, keep per attribute the C with the best val mA.

    Entries whose mask is False (unknown labels) are left out of training and selection. Ties and
    attributes whose val split lacks a class keep the smallest C of the grid. An attribute whose known
    training labels are all of one class gets a constant decision (+1 or -1; 0 when no label is known)
    and a warning.
    """
    config = config or SVMConfig()
    X_train = np.asarray(X_train, dtype=np.float32)
    X_val = np.asarray(X_val, dtype=np.float32)
    Y_train, Y_val = np.asarray(Y_train), np.asarray(Y_val)
    if X_train.ndim != 2 or Y_train.ndim != 2 or len(X_train) != len(Y_train):
        raise ValueError(f"X_train (N, D) and Y_train (N, A) must agree on N, found {X_train.shape} and {Y_train.shape}")
    if X_val.ndim != 2 or X_val.shape[1] != X_train.shape[1] or Y_val.shape != (len(X_val), Y_train.shape[1]):
        raise ValueError(
            f"X_val must be (M, {X_train.shape[1]}) and Y_val (M, {Y_train.shape[1]}), found {X_val.shape} and {Y_val.shape}"
        )
    num_attributes, dim = Y_train.shape[1], X_train.shape[1]
    names = list(attribute_names) if attribute_names is not None else [str(j) for j in range(num_attributes)]
    mask_train = np.ones(Y_train.shape, bool) if mask_train is None else np.asarray(mask_train, bool)
    mask_val = np.ones(Y_val.shape, bool) if mask_val is None else np.asarray(mask_val, bool)

    mean = X_train.mean(0) if config.standardize and len(X_train) else np.zeros(dim, np.float32)
    scale = X_train.std(0) if config.standardize and len(X_train) else np.ones(dim, np.float32)
    scale = np.where(scale < 1e-6, 1.0, scale).astype(np.float32)  # constant features stay 0 after centring
    Xs_train = (X_train - mean) / scale
    Xs_val = (X_val - mean) / scale

    result = AttributeSVMs(mean=mean.astype(np.float32), scale=scale, coef=np.zeros((num_attributes, dim), np.float32),
                           intercept=np.zeros(num_attributes, np.float32), C=np.full(num_attributes, np.nan),
                           val_mA=np.full(num_attributes, np.nan),
                           val_mA_grid=np.full((len(config.C_grid), num_attributes), np.nan))
    pos = (Y_train.astype(bool) & mask_train).sum(0)
    cnt = mask_train.sum(0)
    trainable = np.flatnonzero((pos > 0) & (pos < cnt))
    for j in np.setdiff1d(np.arange(num_attributes), trainable):
        result.intercept[j] = 0.0 if cnt[j] == 0 else (1.0 if pos[j] == cnt[j] else -1.0)
        logger.warning("attribute %s: training labels are %s; using a constant decision %+.0f", names[j],
                       "all unknown" if cnt[j] == 0 else f"all {int(pos[j] == cnt[j])}", result.intercept[j])
    if len(trainable) == 0:
        return result

    coef, intercept = SOLVERS[config.solver](Xs_train, Y_train[:, trainable], mask_train[:, trainable], config)
    decisions = np.einsum("nd,kad->kna", Xs_val, coef) + intercept[:, None, :]  # (K, M, A')
    scores = np.stack([balanced_accuracy(Y_val[:, trainable], dk, mask_val[:, trainable]) for dk in decisions])
    best = np.argmax(np.nan_to_num(scores, nan=-1.0), axis=0)  # first maximum: the smallest C on ties
    cols = np.arange(len(trainable))
    result.coef[trainable] = coef[best, cols]
    result.intercept[trainable] = intercept[best, cols]
    result.C[trainable] = np.asarray(config.C_grid)[best]
    result.val_mA[trainable] = scores[best, cols]
    result.val_mA_grid[:, trainable] = scores
    return result
