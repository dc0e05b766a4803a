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
from pa100k.metrics.bootstrap import ConfidenceInterval, bootstrap_ci, paired_bootstrap, sample_mean
from pa100k.metrics.conventions import (
    CONVENTIONS,
    ConventionConfig,
    get_convention,
    list_conventions,
    register_convention,
)
from pa100k.metrics.reference import reid_metrics_reference
from pa100k.metrics.reid import (
    DISTANCES,
    PROTOCOLS,
    ReIDMetrics,
    ReIDProtocol,
    list_distance_metrics,
    list_precisions,
    list_protocols,
    pairwise_distance,
    reid_metrics,
)

__all__ = [
    "CONVENTIONS",
    "DISTANCES",
    "PROTOCOLS",
    "AttributeMetrics",
    "AttributeScore",
    "ConfidenceInterval",
    "ConventionConfig",
    "ReIDMetrics",
    "ReIDProtocol",
    "UndefinedMetricWarning",
    "attribute_metrics",
    "bootstrap_ci",
    "get_convention",
    "instance_accuracy",
    "instance_f1",
    "instance_precision",
    "instance_recall",
    "list_conventions",
    "list_distance_metrics",
    "list_precisions",
    "list_protocols",
    "mean_accuracy",
    "paired_bootstrap",
    "pairwise_distance",
    "register_convention",
    "reid_metrics",
    "reid_metrics_reference",
    "sample_mean",
    "weighted_attribute_metrics",
]
