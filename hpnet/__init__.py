"""hpnet: HydraPlus-Net (Liu et al., ICCV 2017) for pedestrian attributes: BN-Inception, M-net, MDA, AF-net, training.

    model = hpnet.create_model("hpnet_bninception", num_classes=26, preset="cpu")   # or "mnet_bninception", ".paper"
    result = hpnet.train_stagewise(pa100k.load("synthetic", preset="small"), preset="cpu", out_dir="runs/hp")
    probs = result.test_probabilities()                      # {"mnet": (N, 26), "hpnet": (N, 26)}
    model = hpnet.load_pretrained("runs/hp/hpnet")            # config.json + model.safetensors

Command line: ``python -m hpnet predict|export|summary|train`` (see ``python -m hpnet COMMAND --help``).
"""

from hpnet.afnet import AFNet, HydraPlusNet
from hpnet.backbone import BNInception
from hpnet.config import ALL_PATHS, MDA_ABLATIONS, PRESETS, HPNetConfig, MNetConfig, ModelPreset
from hpnet.engine import TrainConfig, TrainResult, fit, predict_scores
from hpnet.losses import WeightedBCELoss, positive_ratio_from
from hpnet.mda import MDA
from hpnet.mnet import MNet
from hpnet.registry import MODELS, create_model, list_models, load_pretrained, register_model
from hpnet.train import TRAIN_PRESETS, StagewiseResult, TrainPreset, train_mnet, train_stagewise
from hpnet.weights import load_imagenet_weights, map_pretrainedmodels_bninception

__all__ = [
    "ALL_PATHS",
    "MDA",
    "MDA_ABLATIONS",
    "MODELS",
    "PRESETS",
    "TRAIN_PRESETS",
    "AFNet",
    "BNInception",
    "HPNetConfig",
    "HydraPlusNet",
    "MNet",
    "MNetConfig",
    "ModelPreset",
    "StagewiseResult",
    "TrainConfig",
    "TrainPreset",
    "TrainResult",
    "WeightedBCELoss",
    "create_model",
    "fit",
    "list_models",
    "load_imagenet_weights",
    "load_pretrained",
    "map_pretrainedmodels_bninception",
    "positive_ratio_from",
    "predict_scores",
    "register_model",
    "train_mnet",
    "train_stagewise",
]
