"""Person re-identification with M-net and HP-net (§3.2, §6): identity-softmax training stage by stage, JSTL
merging of several datasets' training identities, feature extraction and evaluation.

``ReIDTrainer(pa100k.reid.merge_train(sets), preset="cpu", out_dir=...)`` trains on request: ``.mnet()``,
``.hpnet(paths)``; ``extract_features`` and ``evaluate_features`` score them on a ReIDSet's query/gallery.
"""

from hpnet.reid.data import IdentityBatchSampler, ImageStore, ReIDImageDataset, holdout_split, image_names
from hpnet.reid.evaluate import (
    FEATURES,
    NPZ_KEYS,
    evaluate_features,
    extract_features,
    random_ranking_top1,
    top_k_lists,
    write_features_npz,
)
from hpnet.reid.fit import IDENTITY, PKBatches, StageRecord, fit_identity, identity_accuracy
from hpnet.reid.losses import IdentityLoss, batch_hard_triplet_loss
from hpnet.reid.train import (
    REID_TRAIN_PRESETS,
    ReIDTrainer,
    ReIDTrainPreset,
    ReIDTrainResult,
    apply_overrides,
    paths_tag,
    train_reid,
)

__all__ = [
    "FEATURES",
    "IDENTITY",
    "NPZ_KEYS",
    "REID_TRAIN_PRESETS",
    "IdentityBatchSampler",
    "IdentityLoss",
    "ImageStore",
    "PKBatches",
    "ReIDImageDataset",
    "ReIDTrainPreset",
    "ReIDTrainResult",
    "ReIDTrainer",
    "StageRecord",
    "apply_overrides",
    "batch_hard_triplet_loss",
    "evaluate_features",
    "extract_features",
    "fit_identity",
    "holdout_split",
    "identity_accuracy",
    "image_names",
    "paths_tag",
    "random_ranking_top1",
    "top_k_lists",
    "train_reid",
    "write_features_npz",
]
