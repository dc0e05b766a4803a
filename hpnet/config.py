"""Model configs (dataclasses whose defaults reproduce the paper) and named presets (`paper`, `half`, `cpu`, `tiny`).

A preset is a named set of architecture and input settings shared by M-net and HP-net; `hpnet.train`
pairs each with its training schedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

from hpnet.backbone import BLOCKS
from pa100k.registry import Registry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The nine attentive paths (i, k) of the AF-net: attention from block i applied to block k (§3.1).
ALL_PATHS: tuple[tuple[int, int], ...] = tuple((i, k) for i in BLOCKS for k in BLOCKS)

# Named path sets of the paper's component analysis (§4.3, Fig. 6).
MDA_ABLATIONS: Registry[tuple[tuple[int, int], ...]] = Registry("MDA ablation")
MDA_ABLATIONS.add("full", ALL_PATHS)
MDA_ABLATIONS.add("naive", ((1, 1), (2, 2), (3, 3)))  # blue: attention applied to its own block only
MDA_ABLATIONS.add("no_middle", tuple((i, k) for i, k in ALL_PATHS if i != 2 and k != 2))  # cyan
MDA_ABLATIONS.add("prune_one", tuple((i, k) for i, k in ALL_PATHS if i != 1))  # purple: drop F(α¹)
MDA_ABLATIONS.add("prune_two", tuple((i, k) for i, k in ALL_PATHS if i == 3))  # light purple: drop F(α¹), F(α²)


def _check_common(cfg: Any, where: str) -> None:
    if cfg.num_classes < 1:
        raise ValueError(f"{where}.num_classes must be >= 1, found {cfg.num_classes}")
    if not cfg.width > 0:
        raise ValueError(f"{where}.width must be > 0, found {cfg.width}")
    if len(cfg.input_size) != 2 or min(cfg.input_size) < 16:
        raise ValueError(f"{where}.input_size must be (H, W) with both >= 16, found {cfg.input_size}")
    if cfg.fc_dim is not None and cfg.fc_dim < 1:
        raise ValueError(f"{where}.fc_dim must be None or >= 1, found {cfg.fc_dim}")
    if not 0.0 <= cfg.dropout < 1.0:
        raise ValueError(f"{where}.dropout must be in [0, 1), found {cfg.dropout}")
    if cfg.attributes and len(cfg.attributes) != cfg.num_classes:
        raise ValueError(
            f"{where}.attributes names {len(cfg.attributes)} attributes but num_classes is {cfg.num_classes}"
        )
    if len(cfg.mean) != 3 or len(cfg.std) != 3 or min(cfg.std) <= 0:
        raise ValueError(f"{where}.mean/std must hold 3 values (std > 0), found {cfg.mean} / {cfg.std}")


@dataclass
class MNetConfig:
    """The main net (§3): BN-Inception → GAP → [FC-``fc_dim``-BN-ReLU-dropout] → FC to ``num_classes`` logits.

    ``fc_dim=None`` drops the hidden layer. ``input_size`` is (H, W); ``mean``/``std`` normalise RGB in [0, 1];
    ``attributes`` names the output columns (written into checkpoints and prediction CSVs).
    """

    num_classes: int = 26
    width: float = 1.0
    input_size: tuple[int, int] = (224, 224)
    fc_dim: int | None = 512
    dropout: float = 0.5
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    attributes: tuple[str, ...] = ()

    architecture: ClassVar[str] = "mnet_bninception"

    def __post_init__(self) -> None:
        self.input_size = tuple(int(v) for v in self.input_size)  # type: ignore[assignment]
        self.mean, self.std = tuple(self.mean), tuple(self.std)  # type: ignore[assignment]
        self.attributes = tuple(self.attributes)
        _check_common(self, "MNetConfig")


@dataclass
class HPNetConfig:
    """HydraPlus-Net (§3): M-net plus the AF-net's MDA modules, fused by GAP → concatenation → FC.

    ``attention_channels`` is L (8 in the paper). ``paths`` lists the attentive paths (i, k): attention
    generated from block i multiplies block k; the default is all nine (Fig. 2); `MDA_ABLATIONS` holds
    the Fig. 6 variants. ``mda_execution`` picks the L-loop (``"loop"``) or the batch-folded
    (``"folded"``, default) execution of each path; both compute the same function.
    ``attention_init_gain``/``attention_init_bias`` set the attention BN's initial scale and shift: with
    a small gain and a shift of 1, α starts close to 1 so every path starts as a copy of M-net.
    """

    num_classes: int = 26
    width: float = 1.0
    input_size: tuple[int, int] = (224, 224)
    fc_dim: int | None = 512
    dropout: float = 0.5
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    attributes: tuple[str, ...] = ()
    attention_channels: int = 8
    paths: tuple[tuple[int, int], ...] = ALL_PATHS
    mda_execution: str = "folded"
    attention_init_gain: float = 0.1
    attention_init_bias: float = 1.0

    architecture: ClassVar[str] = "hpnet_bninception"

    def __post_init__(self) -> None:
        self.input_size = tuple(int(v) for v in self.input_size)  # type: ignore[assignment]
        self.mean, self.std = tuple(self.mean), tuple(self.std)  # type: ignore[assignment]
        self.attributes = tuple(self.attributes)
        _check_common(self, "HPNetConfig")
        if self.attention_channels < 1:
            raise ValueError(f"HPNetConfig.attention_channels must be >= 1, found {self.attention_channels}")
        if self.mda_execution not in ("loop", "folded"):
            raise ValueError(f"HPNetConfig.mda_execution must be 'loop' or 'folded', found {self.mda_execution!r}")
        paths = []
        for path in self.paths:
            if not isinstance(path, (tuple, list)) or len(path) != 2:
                raise ValueError(f"HPNetConfig.paths: each path must be a pair (i, k), found {path!r}")
            i, k = int(path[0]), int(path[1])
            for role, block in (("attention block i", i), ("attended block k", k)):
                if block not in BLOCKS:
                    raise ValueError(
                        f"HPNetConfig.paths: path {tuple(path)} names {role} = {block}, but the inception "
                        f"blocks are {list(BLOCKS)}"
                    )
            paths.append((i, k))
        if not paths:
            raise ValueError("HPNetConfig.paths is empty: at least one attentive path (i, k) is needed")
        if len(set(paths)) != len(paths):
            raise ValueError(f"HPNetConfig.paths lists a path twice: {paths}")
        self.paths = tuple(sorted(paths))

    @property
    def attention_levels(self) -> tuple[int, ...]:
        """The blocks i that generate attention (one MDA module each)."""
        return tuple(sorted({i for i, _ in self.paths}))

    def directions(self, level: int) -> tuple[int, ...]:
        """The blocks k that attention α^level is applied to."""
        return tuple(k for i, k in self.paths if i == level)

    def mnet_config(self) -> MNetConfig:
        """The M-net this HP-net is built on."""
        shared = {f.name for f in fields(MNetConfig)}
        return MNetConfig(**{k: getattr(self, k) for k in shared})


@dataclass(frozen=True)
class ModelPreset:
    """Named architecture and input settings shared by M-net and HP-net."""

    name: str
    width: float
    input_size: tuple[int, int]
    attention_channels: int = 8
    fc_dim: int | None = 512
    dropout: float = 0.5
    description: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)

    def model_kwargs(self, architecture: str) -> dict[str, Any]:
        """Config fields this preset sets for ``architecture`` (``mnet_bninception`` or ``hpnet_bninception``)."""
        kwargs: dict[str, Any] = {"width": self.width, "input_size": self.input_size, "fc_dim": self.fc_dim,
                                  "dropout": self.dropout}
        if architecture.startswith("hpnet"):
            kwargs["attention_channels"] = self.attention_channels
        kwargs.update(self.overrides)
        return kwargs


PRESETS: Registry[ModelPreset] = Registry("model preset")
PRESETS.add("paper", ModelPreset(
    "paper", 1.0, (224, 224), description="the paper: full-width BN-Inception, L = 8, 224×224 inputs (299×299 with input_size)"))
PRESETS.add("half", ModelPreset(
    "half", 0.5, (224, 224), description="the official prototxt's half-width BN-Inception, L = 8"))
PRESETS.add("cpu", ModelPreset(
    "cpu", 0.25, (128, 64), attention_channels=4,
    description="quarter width, 128×64 inputs, L = 4 (half the paper's 8, which halves the AF-net's cost): "
                "stage-wise training on the synthetic small set in ~6 min on 2 cores"))
PRESETS.add("tiny", ModelPreset(
    "tiny", 0.125, (64, 32), attention_channels=2, fc_dim=32,
    description="eighth width, 64×32 inputs, L = 2: for tests (seconds)"))


def with_overrides(config: Any, **overrides: Any) -> Any:
    """A copy of a config dataclass with fields replaced; unknown field names raise listing the valid ones."""
    names = {f.name for f in fields(config)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"{type(config).__name__} has no field {unknown}; valid: {sorted(names)}")
    return replace(config, **overrides)
