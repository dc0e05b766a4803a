"""How the pedestrian-attribute toolkits compute the "same" metrics differently, as named presets.

Every choice on which the public toolkits disagree is a field of :class:`ConventionConfig` (in the style
of scikit-learn's ``zero_division``); a convention name such as ``"deepmar"`` is a preset over those fields.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from pa100k.registry import Registry

ZeroDivision = float | str
F1_MODES = ("from_means", "per_sample")


def _check_zero_division(value: Any, name: str) -> None:
    if isinstance(value, str):
        if value != "warn":
            raise ValueError(f"{name}: expected 'warn', 0.0, 1.0 or nan, found {value!r}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected 'warn', 0.0, 1.0 or nan, found {value!r}")
    if not (math.isnan(value) or value in (0.0, 1.0)):
        raise ValueError(f"{name}: expected 'warn', 0.0, 1.0 or nan, found {value!r}")


@dataclass(frozen=True)
class ConventionConfig:
    """The parameters on which attribute-metric implementations differ.

    Parameters
    ----------
    name : str
        Name of the preset (``"custom"`` for a hand-made configuration).
    threshold : float, default 0.5
        Decision threshold on the probability scale, in [0, 1]. For ``score_type="logit"`` the scores are
        compared with ``log(threshold / (1 - threshold))`` (0.5 → logit 0); 0/1 predictions ignore it.
    inclusive : bool, default False
        If True a score equal to the threshold is a positive (``score >= threshold``, DeepMAR's
        ``logit >= 0``); otherwise only scores above it are (``score > threshold``, most toolkits).
    eps : float, default 0.0
        Added to every denominator before dividing (Rethinking_of_PAR and OpenPAR use 1e-20). With
        ``eps > 0`` no ratio is undefined: an empty set gives 0.
    sample_zero_division : {"warn", 0.0, 1.0, nan}, default "warn"
        Value of a per-sample ratio whose denominator is 0 (a sample with ``|Y ∪ Ŷ| = 0``, ``|Ŷ| = 0`` or
        ``|Y| = 0``). ``"warn"`` gives 0.0 and emits an :class:`UndefinedMetricWarning`.
    label_zero_division : {"warn", 0.0, 1.0, nan}, default "warn"
        Value of every other undefined ratio: a per-attribute ratio (``TP/P`` for an attribute without
        positives, ``TN/N`` without negatives, precision without predicted positives, F1), the F1 of the
        averaged precision and recall when both are 0, and an average over no samples. ``nan`` makes the
        affected aggregate NaN (DeepMAR).
    exclude_empty_true : bool, default False
        If True, samples without any true positive (``|Y| = 0``) are left out of the instance metrics
        (DeepMAR); otherwise every sample is averaged.
    f1 : {"from_means", "per_sample"}, default "from_means"
        ``"from_means"``: F1 = 2PR / (P + R) of the averaged instance precision P and recall R (Li et al.
        2016, Rethinking_of_PAR, DeepMAR); ``"per_sample"``: mean of the per-sample F1 (OpenPAR).
    reference : str
        The paper or repository whose behaviour the preset reproduces.
    description : str
        One line on what the preset does.
    """

    name: str = "custom"
    threshold: float = 0.5
    inclusive: bool = False
    eps: float = 0.0
    sample_zero_division: ZeroDivision = "warn"
    label_zero_division: ZeroDivision = "warn"
    exclude_empty_true: bool = False
    f1: str = "from_means"
    reference: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        try:
            t = float(self.threshold)
        except (TypeError, ValueError):
            raise ValueError(f"threshold: expected a number in [0, 1], found {self.threshold!r}") from None
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"threshold: expected a number in [0, 1] (probability scale), found {self.threshold!r}")
        object.__setattr__(self, "threshold", t)
        if not isinstance(self.inclusive, bool):
            raise ValueError(f"inclusive: expected True or False, found {self.inclusive!r}")
        eps = float(self.eps)
        if not (eps >= 0.0 and math.isfinite(eps)):
            raise ValueError(f"eps: expected a finite number >= 0, found {self.eps!r}")
        object.__setattr__(self, "eps", eps)
        _check_zero_division(self.sample_zero_division, "sample_zero_division")
        _check_zero_division(self.label_zero_division, "label_zero_division")
        if not isinstance(self.exclude_empty_true, bool):
            found = self.exclude_empty_true
            raise ValueError(f"exclude_empty_true: expected True or False, found {found!r}")
        if self.f1 not in F1_MODES:
            raise ValueError(f"f1: expected one of {', '.join(map(repr, F1_MODES))}, found {self.f1!r}")

    def using(self, **changes: Any) -> ConventionConfig:
        """A copy with some fields changed (the name becomes ``"<name>+custom"`` unless given)."""
        if "name" not in changes and changes:
            changes["name"] = self.name if self.name.endswith("+custom") else f"{self.name}+custom"
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-serialisable fields (NaN written as the string ``"nan"``)."""
        d = asdict(self)
        for key in ("sample_zero_division", "label_zero_division"):
            v = d[key]
            if isinstance(v, float) and math.isnan(v):
                d[key] = "nan"
        return d


CONVENTIONS: Registry[ConventionConfig] = Registry("attribute metric convention")


def register_convention(config: ConventionConfig) -> ConventionConfig:
    """Add a preset under its name."""
    CONVENTIONS.add(config.name, config)
    return config


def get_convention(convention: str | ConventionConfig) -> ConventionConfig:
    """The preset called ``convention`` (a :class:`ConventionConfig` is returned unchanged)."""
    if isinstance(convention, ConventionConfig):
        return convention
    if not isinstance(convention, str):
        raise ValueError(f"convention: expected a name or a ConventionConfig, found {convention!r}")
    try:
        return CONVENTIONS.get(convention)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None


def list_conventions() -> list[str]:
    """Names of the registered conventions."""
    return CONVENTIONS.names()


LI2016 = register_convention(
    ConventionConfig(
        name="li2016",
        threshold=0.5,
        inclusive=False,
        eps=0.0,
        sample_zero_division="warn",
        label_zero_division="warn",
        exclude_empty_true=False,
        f1="from_means",
        reference=(
            "D. Li, Z. Zhang, X. Chen, H. Ling, K. Huang, 'A Richly Annotated Dataset for Pedestrian Attribute "
            "Recognition', arXiv:1603.07054, 2016 (RAP), section 4: mA and the instance-based accuracy, "
            "precision, recall and F1; the HydraPlus-Net paper (Liu et al., ICCV 2017) uses these definitions."
        ),
        description=(
            "The paper's definitions: probability > 0.5, every sample averaged, F1 from the averaged precision "
            "and recall; an undefined ratio (empty set) counts 0 and raises an UndefinedMetricWarning."
        ),
    )
)

RETHINKING = register_convention(
    ConventionConfig(
        name="rethinking",
        threshold=0.5,
        inclusive=False,
        eps=1e-20,
        sample_zero_division=0.0,
        label_zero_division=0.0,
        exclude_empty_true=False,
        f1="from_means",
        reference=(
            "J. Jia, H. Huang, W. Yang, X. Chen, K. Huang, 'Rethinking of Pedestrian Attribute Recognition: "
            "Realistic Datasets with Efficient Method', arXiv:2005.11909, 2020; github.com/valencebond/"
            "Rethinking_of_PAR, metrics/pedestrian_metrics.py, get_pedestrian_metrics."
        ),
        description=(
            "probability > 0.5, eps = 1e-20 added to every denominator, all samples averaged, F1 from the "
            "averaged precision and recall (an attribute without positives gets mA_j <= 0.5)."
        ),
    )
)

DEEPMAR = register_convention(
    ConventionConfig(
        name="deepmar",
        threshold=0.5,
        inclusive=True,
        eps=0.0,
        sample_zero_division=0.0,
        label_zero_division=float("nan"),
        exclude_empty_true=True,
        f1="from_means",
        reference=(
            "D. Li, X. Chen, K. Huang, 'Multi-attribute Learning for Pedestrian Attribute Recognition in "
            "Surveillance Scenarios' (DeepMAR), ACPR 2015; github.com/dangweili/pedestrian-attribute-recognition-"
            "pytorch, baseline/utils/evaluate.py, attribute_evaluate_lidw (logits binarised with >= 0)."
        ),
        description=(
            "logit >= 0, samples without a true positive excluded from the instance metrics, an empty "
            "prediction has precision 0, NaN for an attribute without positives (or negatives) and for mA."
        ),
    )
)

OPENPAR = register_convention(
    ConventionConfig(
        name="openpar",
        threshold=0.45,
        inclusive=False,
        eps=1e-20,
        sample_zero_division=0.0,
        label_zero_division=0.0,
        exclude_empty_true=False,
        f1="per_sample",
        reference=(
            "github.com/Event-AHU/OpenPAR (X. Wang et al., 'Pedestrian Attribute Recognition: A Survey', "
            "Pattern Recognition 2022, and the methods collected there), get_pedestrian_metrics with "
            "threshold=0.45 and instance_f1 = np.mean(per-sample F1)."
        ),
        description=(
            "probability > 0.45, eps = 1e-20 added to every denominator, all samples averaged, F1 as the mean "
            "of the per-sample F1."
        ),
    )
)
