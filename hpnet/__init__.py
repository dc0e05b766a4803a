"""hpnet: HydraPlus-Net (Liu et al., ICCV 2017) for pedestrian attributes: BN-Inception, M-net, MDA, AF-net, training."""

from hpnet.afnet import AFNet, HydraPlusNet
from hpnet.backbone import BNInception
from hpnet.config import ALL_PATHS, MDA_ABLATIONS, PRESETS, HPNetConfig, MNetConfig, ModelPreset
from hpnet.mda import MDA
from hpnet.mnet import MNet
from hpnet.registry import MODELS, create_model, list_models, load_pretrained, register_model

__all__ = [
    "AFNet", "ALL_PATHS", "BNInception", "HPNetConfig", "HydraPlusNet", "MDA", "MDA_ABLATIONS", "MNet", "MNetConfig",
    "MODELS", "ModelPreset", "PRESETS", "create_model", "list_models", "load_pretrained", "register_model",
]
