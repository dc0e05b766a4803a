"""Person re-identification datasets (Market-1501, CUHK03, VIPeR, synthetic) as `ReIDSet`s; paper section 6.1.

``load_reid(name, root=None, **options)`` loads a registered dataset (default ``"synthetic_reid"``);
importing this package registers the built-in loaders.
"""

from pa100k.reid.base import (
    DEFAULT_REID_DATASET,
    PROTOCOLS,
    REID_DATASETS,
    ReIDSet,
    atomic_directory,
    list_reid_datasets,
    load_reid,
    merge_train,
    register_reid,
    relabel,
)
from pa100k.reid.cuhk03 import load_cuhk03
from pa100k.reid.market1501 import load_market1501, parse_market_name
from pa100k.reid.synthetic import SyntheticReIDConfig, SyntheticReIDExport, export_market1501, load_synthetic_reid
from pa100k.reid.viper import load_viper, viper_splits

__all__ = [
    "DEFAULT_REID_DATASET", "PROTOCOLS", "REID_DATASETS", "ReIDSet", "SyntheticReIDConfig", "SyntheticReIDExport",
    "atomic_directory", "export_market1501", "list_reid_datasets", "load_cuhk03", "load_market1501", "load_reid",
    "load_synthetic_reid", "load_viper", "merge_train", "parse_market_name", "register_reid", "relabel", "viper_splits",
]
