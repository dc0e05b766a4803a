"""One class-balanced linear SVM per attribute, C chosen per attribute on the val split (the "-mm" baselines).

Every attribute j gets scikit-learn's ``LinearSVC`` problem (squared hinge, L2 penalty, bias as a
regularised feature of value 1, i.e. ``intercept_scaling=1``) with ``class_weight="balanced"`` (each class
weighs ``n_known / (2 n_class)``)::

    min_w,b  1/2 (|w|^2 + b^2) + C sum_i s_ij max(0, 1 - y_ij (w . x_i + b))^2,    y_ij in {-1, +1}

on standardised features, for every C of a grid; the C with the best val mean accuracy (``(TPR + TNR)
/ 2`` at decision 0) is kept, per attribute. Two solvers give the same minimiser:

- ``"newton"`` (default): liblinear's primal method (Newton steps whose systems are solved by conjugate
  gradients) written in torch and run on all (C, attribute) problems at once, so that every step is a
  few large matrix products (CPU threads or a GPU). Each problem stops when its gradient norm falls below
  ``tol`` times its initial one; converged problems drop out of the products.
- ``"liblinear"``: scikit-learn's ``LinearSVC`` per (attribute, C), in parallel with joblib. The
  reference; on 8000 x 2784 features a single fit takes seconds to minutes on 2 cores.

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

    C_grid: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2)
    solver: str = "newton"
    standardize: bool = True
    max_iter: int = 50  # Newton steps (liblinear: 20 x this many coordinate-descent epochs)
    tol: float = 1e-3  # stop when |gradient| <= tol x |initial gradient|
    n_jobs: int = -1  # liblinear: parallel fits
    device: str = "auto"  # newton: "auto" | "cpu" | "cuda"
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


def _solve_newton(X: np.ndarray, Y: np.ndarray, known: np.ndarray, config: SVMConfig) -> tuple[np.ndarray, np.ndarray]:
    """Batched Newton-CG (liblinear's primal L2-loss SVC) over every (C, attribute): coef (K, A, D), intercept (K, A).

    Columns m = (C, attribute) are independent problems in ``v = [w; b]`` with gradient
    ``v - 2C X~^T (s y max(0, 1 - y X~v))`` and generalised Hessian ``I + 2C X~^T diag(s [margin > 0]) X~``
    (``X~ = [X, 1]``). Each Newton direction comes from conjugate gradients (stopped at 0.1 x |gradient|, as
    liblinear), then a backtracking (Armijo) line search per column.
    """
    import torch

    from hpnet.engine import resolve_device

    device = resolve_device(config.device)
    d = X.shape[1]
    k, a = len(config.C_grid), Y.shape[1]
    x = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device)
    y_all = torch.from_numpy(np.where(Y.astype(bool), 1.0, -1.0).astype(np.float32)).to(device).repeat(1, k)
    s_all = torch.from_numpy(balanced_weights(Y, known).astype(np.float32)).to(device).repeat(1, k)
    c2_all = 2 * torch.tensor(config.C_grid, dtype=torch.float32, device=device).repeat_interleave(a)  # (M,)
    v_all = torch.zeros(d + 1, k * a, device=device)  # [w; b] per column

    def xmul(v: torch.Tensor) -> torch.Tensor:  # (D+1, M) -> (N, M): X~ v
        return x @ v[:-1] + v[-1]

    def xtmul(r: torch.Tensor) -> torch.Tensor:  # (N, M) -> (D+1, M): X~^T r
        return torch.cat([x.T @ r, r.sum(0, keepdim=True)])

    def objective(v: torch.Tensor, z: torch.Tensor, y: torch.Tensor, s: torch.Tensor, c2: torch.Tensor) -> torch.Tensor:
        margin = torch.clamp(1 - y * z, min=0)
        return 0.5 * (v * v).sum(0) + 0.5 * c2 * (s * margin * margin).sum(0)

    live = torch.arange(k * a, device=device)  # columns not yet converged
    g0 = None
    steps = cg_steps = 0
    for steps in range(1, config.max_iter + 1):
        v, y, s, c2 = v_all[:, live], y_all[:, live], s_all[:, live], c2_all[live]
        z = xmul(v)
        margin = 1 - y * z
        active = s * (margin > 0)
        grad = v - c2 * xtmul(active * y * margin)
        gnorm = grad.norm(dim=0)
        if g0 is None:
            g0 = gnorm.clamp(min=1e-12)
        keep = gnorm > config.tol * g0[live]
        if not keep.any():
            break
        if not keep.all():  # converged columns leave the products
            live, v, y, s, c2, z, active, grad, gnorm = (
                t[..., keep] for t in (live, v, y, s, c2, z, active, grad, gnorm))
        # conjugate gradients on H dv = -grad; columns stop at |residual| <= 0.1 |grad| (as liblinear). A
        # preconditioner by diag(H) was tried: on standardised ELF histograms it needed more steps, not fewer.
        dv = torch.zeros_like(grad)
        r = -grad
        p = r.clone()
        rr = (r * r).sum(0)
        on = torch.ones_like(rr, dtype=torch.bool)
        for _ in range(d + 1):
            cg_steps += 1
            hp = p + c2 * xtmul(active * xmul(p))
            alpha = torch.where(on, rr / (p * hp).sum(0).clamp(min=1e-30), torch.zeros_like(rr))
            dv += alpha * p
            r -= alpha * hp
            rr_new = (r * r).sum(0)
            on &= rr_new.sqrt() > 0.1 * gnorm
            if not on.any():
                break
            p = r + torch.where(on, rr_new / rr.clamp(min=1e-30), torch.zeros_like(rr)) * p
            rr = rr_new
        # backtracking line search per column (Armijo, factor 1/2)
        xd = xmul(dv)
        f = objective(v, z, y, s, c2)
        slope = (grad * dv).sum(0)
        step = torch.ones_like(f)
        for _ in range(30):
            ok = objective(v + step * dv, z + step * xd, y, s, c2) <= f + 0.01 * step * slope
            if ok.all():
                break
            step = torch.where(ok, step, step / 2)
        v_all[:, live] = v + step * dv
    else:
        logger.warning("newton SVM solver: %d of %d problems not converged after max_iter=%d Newton steps",
                       len(live), k * a, config.max_iter)
    logger.info("newton SVM solver: %d Newton steps, %d CG steps for %d attributes x %d C", steps, cg_steps, a, k)
    v_all = v_all.cpu().numpy()
    return v_all[:-1].T.reshape(k, a, d), v_all[-1].reshape(k, a)


def _liblinear_fit(X: np.ndarray, y: np.ndarray, known: np.ndarray, C: float, config: SVMConfig) -> tuple[np.ndarray, float, bool]:
    """One ``LinearSVC`` on the rows with a known label; returns coef (D,), intercept, converged."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    if not known.all():
        X, y = X[known], y[known]
    clf = LinearSVC(C=C, class_weight="balanced", max_iter=config.max_iter * 20, dual="auto",
                    random_state=config.seed)
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
    "newton": _solve_newton,
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
