"""ReID evaluation (§6.1): L2-normalised features, cosine distance, CMC/mAP/mINP under each dataset's protocol with
bootstrap intervals over query identities, chance level, top-k ranked lists, and the ``features.npz`` submission.

Features (`FEATURES`): ``pooled`` is the model's ``forward_features`` (M-net: pooled F³; HP-net: pooled F³
and every attentive path's pooled features, concatenated), ``fc`` the FC embedding of its head (the fused
feature of §3, trained in stage 3 for HP-net). With ``flip`` the features of an image and of its mirror
image are summed before the L2 normalisation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from pa100k.fileio import atomic_path
from pa100k.registry import Registry

logger = logging.getLogger(__name__)

RANKS = (1, 5, 10, 20)
NPZ_KEYS = ("query_features", "gallery_features", "query_names", "gallery_names")

FeatureFn = Callable[[nn.Module, torch.Tensor], torch.Tensor]
FEATURES: Registry[FeatureFn] = Registry("ReID feature")


@FEATURES.register("pooled")
def _pooled(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``forward_features``: the pooled backbone (and, for HP-net, attentive) features."""
    return model.forward_features(x)


@FEATURES.register("fc")
def _fc(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The head's FC embedding (FC-BN-ReLU before the identity classifier)."""
    return model.head.hidden(model.forward_features(x))


@torch.no_grad()
def extract_features(model: nn.Module, dataset: Dataset, *, feature: str = "pooled", flip: bool = False,
                     batch_size: int = 64, device: str | torch.device = "auto", progress: bool = False,
                     desc: str = "features") -> np.ndarray:
    """L2-normalised features (N, D) float32 of ``dataset``'s images (items ``(image, ...)``), in dataset order."""
    from tqdm.auto import tqdm

    from hpnet.engine import resolve_device

    fn = FEATURES.get(feature)
    dev = resolve_device(device)
    was_training = model.training
    model.to(dev).eval()
    out = []
    for batch in tqdm(DataLoader(dataset, batch_size=batch_size, shuffle=False), desc=desc, disable=not progress,
                      leave=False):
        x = batch[0].to(dev)
        with torch.autocast(dev.type, dtype=torch.float16, enabled=dev.type == "cuda"):
            f = fn(model, x).float()
            if flip:
                f = f + fn(model, x.flip(-1)).float()
        out.append(F.normalize(f, dim=1).cpu())
    model.train(was_training)
    if not out:
        raise ValueError(f"extract_features: the dataset of {desc} is empty")
    return torch.cat(out).numpy().astype(np.float32)


def random_ranking_top1(q_pids: np.ndarray, g_pids: np.ndarray, q_camids: np.ndarray, g_camids: np.ndarray,
                        protocol: str = "market1501") -> float:
    """Expected rank-1 accuracy of a uniformly random ranking (chance level) under ``protocol``.

    Market-1501: per valid query, true matches / ranked gallery images (junk and same-identity-same-camera
    images removed). Single-gallery-shot: 1 / number of gallery identities (distractors count as one).
    Averaged over the queries that have a true match.
    """
    from pa100k.metrics import PROTOCOLS

    qp, qc = np.asarray(q_pids, dtype=np.int64), np.asarray(q_camids, dtype=np.int64)
    keep = np.asarray(g_pids) != -1
    gp, gc = np.asarray(g_pids, dtype=np.int64)[keep], np.asarray(g_camids, dtype=np.int64)[keep]
    if len(gp) == 0:
        raise ValueError("random_ranking_top1: every gallery image is junk (pid -1)")
    ncam = int(max(gc.max(), qc.max(initial=0))) + 1

    def count(keys_g: np.ndarray, keys_q: np.ndarray) -> np.ndarray:
        """How many gallery keys equal each query key."""
        uniq, cnt = np.unique(keys_g, return_counts=True)
        pos = np.minimum(np.searchsorted(uniq, keys_q), len(uniq) - 1)
        return np.where(uniq[pos] == keys_q, cnt[pos], 0)

    same_pid = count(gp, qp)
    same_pid_cam = count(gp * ncam + gc, qp * ncam + qc)
    matches = np.where(qp > 0, same_pid - same_pid_cam, 0)
    valid = matches > 0
    if not valid.any():
        raise ValueError("random_ranking_top1: no query has a true match in the gallery")
    if PROTOCOLS.get(protocol).single_gallery_shot:
        return float(1.0 / len(np.unique(gp)))
    candidates = len(gp) - same_pid_cam
    return float(np.mean(matches[valid] / candidates[valid]))


def evaluate_features(query_features: np.ndarray, gallery_features: np.ndarray, q_pids: np.ndarray,
                      g_pids: np.ndarray, q_camids: np.ndarray, g_camids: np.ndarray, *, protocol: str = "market1501",
                      repeats: int = 100, seed: int = 0, n_bootstrap: int = 1000, max_rank: int = 50) -> dict[str, Any]:
    """Cosine-distance ranking scored by `pa100k.metrics.reid_metrics` under ``protocol``, as a JSON-able dict.

    Keys: ``top1``/``top5``/``top10``/``top20`` (CMC, fractions), ``mAP``, ``mINP``, ``cmc`` (the curve to
    ``max_rank``), ``ci95`` (``{key: [low, high]}``, percentile bootstrap over query identities, ``n_bootstrap``
    replicates; empty when 0), ``random_top1`` (chance level), counts, ``protocol`` and ``repeats``.
    """
    from pa100k.metrics import bootstrap_ci, reid_metrics, sample_mean

    q_pids, g_pids = np.asarray(q_pids, dtype=np.int64), np.asarray(g_pids, dtype=np.int64)
    m = reid_metrics(query_features, gallery_features, q_pids, g_pids, q_camids, g_camids, metric="cosine",
                     max_rank=max_rank, protocol=protocol, repeats=repeats, seed=seed)
    out: dict[str, Any] = {f"top{k}": float(m.cmc[k - 1]) for k in RANKS if k <= len(m.cmc)}
    out.update(mAP=float(m.mAP), mINP=float(m.mINP))
    ci95: dict[str, list[float]] = {}
    if n_bootstrap > 0:
        groups = q_pids[m.valid]
        per_query = {f"top{k}": m.query_cmc[:, k - 1] for k in RANKS if k <= len(m.cmc)}
        per_query.update(mAP=m.query_ap, mINP=m.query_inp)
        for key, values in per_query.items():
            ci = bootstrap_ci(sample_mean, values, n=n_bootstrap, seed=seed, groups=groups)
            ci95[key] = [ci.low, ci.high]
    keep = g_pids != -1
    out.update(
        ci95=ci95, cmc=[float(v) for v in m.cmc], protocol=m.protocol, metric="cosine",
        repeats=int(m.repeats), num_query=len(q_pids), num_valid=int(m.num_valid),
        num_skipped=int(m.num_skipped), num_gallery=int(keep.sum()),
        num_gallery_ids=len(np.unique(g_pids[keep & (g_pids > 0)])),
        random_top1=random_ranking_top1(q_pids, g_pids, q_camids, g_camids, protocol),
        feature_dim=int(np.asarray(query_features).shape[1]),
        valid=np.flatnonzero(m.valid).tolist(),
    )
    return out


@torch.no_grad()
def top_k_lists(query_features: np.ndarray, gallery_features: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray,
                q_camids: np.ndarray, g_camids: np.ndarray, *, k: int = 10,
                queries: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest gallery images (cosine) of each query, as the evaluation ranks them (junk and
    same-identity-same-camera images removed; ties by gallery index): ``(indices (n, k), true_match (n, k))``,
    index -1 (and False) past the end of a short gallery."""
    qi = np.arange(len(q_pids)) if queries is None else np.asarray(queries, dtype=np.int64)
    q = F.normalize(torch.as_tensor(np.asarray(query_features)[qi], dtype=torch.float32), dim=1)
    g = F.normalize(torch.as_tensor(np.asarray(gallery_features), dtype=torch.float32), dim=1)
    gp, gc = torch.as_tensor(np.asarray(g_pids)), torch.as_tensor(np.asarray(g_camids))
    qp, qc = torch.as_tensor(np.asarray(q_pids)[qi]), torch.as_tensor(np.asarray(q_camids)[qi])
    dist = 1.0 - q @ g.T
    removed = (gp.unsqueeze(0) == -1) | ((gp.unsqueeze(0) == qp.unsqueeze(1)) & (gc.unsqueeze(0) == qc.unsqueeze(1)))
    dist = dist.masked_fill(removed, float("inf"))
    order = torch.sort(dist, dim=1, stable=True).indices[:, :k]
    kept = torch.gather(~removed, 1, order)
    idx = torch.where(kept, order, torch.full_like(order, -1))
    match = kept & (gp[order] == qp.unsqueeze(1)) & (qp.unsqueeze(1) > 0)
    if idx.shape[1] < k:
        pad = k - idx.shape[1]
        idx = F.pad(idx, (0, pad), value=-1)
        match = F.pad(match, (0, pad), value=False)
    return idx.numpy(), match.numpy()


def write_features_npz(path: str | Path, query_features: np.ndarray, gallery_features: np.ndarray,
                       query_names: Sequence[str], gallery_names: Sequence[str]) -> None:
    """The leaderboard's ReID submission: ``query_features``/``gallery_features`` float32 and unicode name arrays."""
    qf = np.ascontiguousarray(query_features, dtype=np.float32)
    gf = np.ascontiguousarray(gallery_features, dtype=np.float32)
    if qf.ndim != 2 or gf.ndim != 2 or qf.shape[1] != gf.shape[1]:
        raise ValueError(f"{path}: query and gallery features must be 2-D with one dimension, found {qf.shape} and {gf.shape}")
    for side, feats, names in (("query", qf, query_names), ("gallery", gf, gallery_names)):
        if len(names) != len(feats):
            raise ValueError(f"{path}: {len(names)} {side} names for {len(feats)} {side} feature rows")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, query_features=qf, gallery_features=gf, query_names=np.asarray(query_names, dtype=str),
                 gallery_names=np.asarray(gallery_names, dtype=str))
