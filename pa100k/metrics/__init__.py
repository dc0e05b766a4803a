"""Metrics: attribute recognition (mA, instance accuracy/precision/recall/F1 under named toolkit
conventions), person re-identification (CMC, mAP, mINP) and bootstrap confidence intervals."""

from pa100k.metrics.attributes import (
    AttributeMetrics,
    AttributeScore,
    UndefinedMetricWarning,
    attribute_metrics,
    instance_accuracy,
    instance_f1,
    instance_precision,
    instance_recall,
    mean_accuracy,
    weighted_attribute_metrics,
)
from pa100k.metrics.reid import (
    DISTANCES,
    PROTOCOLS,
    ReIDMetrics,
    ReIDProtocol,
    list_distance_metrics,
    list_protocols,
    pairwise_distance,
    reid_metrics,
)
from pa100k.metrics.reference import reid_metrics_reference
from pa100k.metrics.bootstrap import ConfidenceInterval, bootstrap_ci, paired_bootstrap, sample_mean
from pa100k.metrics.conventions import (
    CONVENTIONS,
    ConventionConfig,
    get_convention,
    list_conventions,
    register_convention,
)

__all__ = [
    "AttributeMetrics", "AttributeScore", "CONVENTIONS", "ConventionConfig", "UndefinedMetricWarning",
    "attribute_metrics", "get_convention", "instance_accuracy", "instance_f1", "instance_precision",
    "instance_recall", "list_conventions", "mean_accuracy", "register_convention", "weighted_attribute_metrics",
    "DISTANCES", "PROTOCOLS", "ReIDMetrics", "ReIDProtocol", "list_distance_metrics", "list_protocols",
    "pairwise_distance", "reid_metrics", "reid_metrics_reference",
    "ConfidenceInterval", "bootstrap_ci", "paired_bootstrap", "sample_mean",
]
