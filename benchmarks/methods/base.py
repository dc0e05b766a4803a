"""What a benchmark method is: a name, the paper row it reproduces, and ``run(data, ctx) -> MethodOutput``."""

from __future__ import annotations

import abc
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pa100k.attribute_set import AttributeSet
from pa100k.registry import Registry

logger = logging.getLogger(__name__)

PRESETS = ("tiny", "cpu", "paper")


@dataclass
class RunContext:
    """Everything a method needs from the runner.

    ``preset`` is ``cpu`` (a 2-core laptop, minutes), ``paper`` (the paper's sizes, a GPU) or ``tiny``
    (tests: one short epoch, tiny widths). ``work_dir`` is the method's own folder inside the run folder
    (checkpoints, caches); ``cache_dir`` is shared across runs (feature caches per dataset).
    """

    work_dir: Path
    preset: str = "cpu"
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    weights: Path | None = None
    progress: bool = True
    cache_dir: Path | None = None
    dataset_name: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, found {self.preset!r}")
        self.work_dir = Path(self.work_dir)


@dataclass
class MethodOutput:
    """Scores of one method on the val and test splits (probabilities in [0, 1], shape (N, A)).

    ``history`` holds one dict per epoch (keys ``stage``, ``epoch``, ``train_loss``, ``val_loss``,
    ``val_mA``, ``seconds``; absent values may be missing). ``companions`` holds test probabilities of
    models trained along the way that are worth reporting too (HP-net's stage-1 M-net), keyed by paper
    row name, with the seconds spent training each in ``companion_seconds``. ``checkpoint`` is the folder of
    the saved model, where there is one.
    """

    test_scores: np.ndarray
    val_scores: np.ndarray | None = None
    history: list[dict] = field(default_factory=list)
    checkpoint: Path | None = None
    companions: dict[str, np.ndarray] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    companion_seconds: dict[str, float] = field(default_factory=dict)


class Method(abc.ABC):
    """A registered benchmark method (a row of the paper's Table 2).

    ``runs_on_every_rank``: under torchrun, True means every process runs the method and its training is
    DistributedDataParallel (`hpnet.engine.fit`); False (methods without gradient training, e.g. the SVM
    baselines) means rank 0 runs it alone while the other processes wait.
    """

    name: ClassVar[str]
    paper_name: ClassVar[str]
    description: ClassVar[str] = ""
    needs_weights: ClassVar[bool] = False
    # A method whose model another method trains as a companion with the same settings (M-net is HP-net's
    # stage 1): when both are selected, this one is not trained twice and its row comes from the other.
    companion_of: ClassVar[str | None] = None
    runs_on_every_rank: ClassVar[bool] = False

    def override_keys(self) -> tuple[str, ...]:
        """The ``--set KEY=VALUE`` keys this method understands (the runner refuses keys no selected method has)."""
        return ()

    @abc.abstractmethod
    def run(self, data: AttributeSet, ctx: RunContext) -> MethodOutput:
        """Train on ``data``'s train split, select on val, return val and test probabilities."""

    def config(self, ctx: RunContext) -> dict[str, Any]:
        """The method's resolved hyper-parameters for ``ctx`` (written to config.json)."""
        return {}


METHODS: Registry[type[Method]] = Registry("method")


def check_overrides(methods: Sequence[Method], overrides: Mapping[str, Any]) -> None:
    """Raise a ValueError naming every ``--set`` key that none of ``methods`` accepts, with each method's valid keys.

    A key that one of several methods accepts is fine: each method reads its own keys and leaves the others.
    """
    accepted = {m.name: m.override_keys() for m in methods}
    unknown = [k for k in overrides if not any(k in keys for keys in accepted.values())]
    if not unknown:
        return
    which = ", ".join(accepted) or "none"
    valid = "; ".join(f"{name}: {', '.join(keys) or '(none)'}" for name, keys in accepted.items())
    raise ValueError(f"--set {', '.join(unknown)}: not a setting of the selected method(s) ({which}); "
                     f"valid keys per method: {valid}")


def register_method(cls: type[Method]) -> type[Method]:
    """Class decorator registering a Method subclass under its ``name``."""
    METHODS.add(cls.name, cls)
    return cls


class TrainedBaseline(Method):
    """A baseline trained by `hpnet.engine.fit` (ACN, DeepMar): a preset registry of a config dataclass, ``--set``
    overrides of its fields, and a ``run_*`` function of `baselines` that returns the `MethodOutput` fields."""

    runs_on_every_rank = True  # DDP training under torchrun
    presets: ClassVar[Any]  # Registry of config dataclasses, one per benchmark preset
    config_class: ClassVar[type]

    @abc.abstractmethod
    def train(self, data: AttributeSet, config: Any, ctx: RunContext) -> Any:
        """Train and score with ``config``; returns an object whose attributes are `MethodOutput`'s fields."""

    def notes(self, ctx: RunContext) -> dict[str, Any]:
        """What ``config.json`` should say about this method beyond its resolved settings."""
        return {}

    def override_keys(self) -> tuple[str, ...]:
        from baselines.common import override_keys

        return override_keys(self.config_class)

    def resolve(self, ctx: RunContext) -> Any:
        """The preset's config with the run's overrides applied."""
        from baselines.common import apply_overrides

        config, unused = apply_overrides(self.presets.get(ctx.preset), ctx.overrides, where=self.name)
        if unused:
            logger.info("%s: overrides %s are not %s settings; ignored", self.name, unused, self.paper_name)
        return config

    def config(self, ctx: RunContext) -> dict[str, Any]:
        return {"preset": ctx.preset, **asdict(self.resolve(ctx)), **self.notes(ctx),
                "selection": "epoch with the best val mA"}

    def run(self, data: AttributeSet, ctx: RunContext) -> MethodOutput:
        return MethodOutput(**vars(self.train(data, self.resolve(ctx), ctx)))
