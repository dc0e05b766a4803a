"""ONNX export of a trained M-net or HP-net (logits for a fixed input size, dynamic batch) and its check with onnxruntime."""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pa100k.fileio import atomic_path

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17


@dataclass
class OnnxCheck:
    """Largest absolute difference between PyTorch and onnxruntime logits on a random batch."""

    max_abs_diff: float
    atol: float
    batch_size: int

    @property
    def ok(self) -> bool:
        """Whether the difference is within ``atol``."""
        return self.max_abs_diff <= self.atol


def export_onnx(model: nn.Module, path: str | os.PathLike, *, input_size: tuple[int, int] | None = None,
                opset: int = DEFAULT_OPSET) -> Path:
    """Write ``model`` (eval mode, CPU) to ``path`` with input ``image`` (B, 3, H, W) and output ``logits`` (B, A)."""
    size = tuple(input_size or model.config.input_size)  # type: ignore[attr-defined]
    model = model.to("cpu").eval()
    dummy = torch.zeros(2, 3, *size)
    path = Path(path)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter warns about its deprecation
        torch.onnx.export(
            model, (dummy,), str(tmp), input_names=["image"], output_names=["logits"], opset_version=opset,
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False, do_constant_folding=True,
        )
    logger.info("wrote %s (%.1f MB)", path, path.stat().st_size / 2**20)
    return path


def check_onnx(model: nn.Module, path: str | os.PathLike, *, atol: float = 1e-4, batch_size: int = 3,
               seed: int = 0) -> OnnxCheck:
    """Run the ONNX file with onnxruntime and PyTorch on the same random batch; raise if they differ by more than ``atol``."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: ONNX file not found")
    size = tuple(model.config.input_size)  # type: ignore[attr-defined]
    x = torch.randn(batch_size, 3, *size, generator=torch.Generator().manual_seed(seed))
    model = model.to("cpu").eval()
    with torch.no_grad():
        expected = model(x).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(["logits"], {"image": x.numpy()})
    diff = float(np.abs(got - expected).max())
    check = OnnxCheck(diff, atol, batch_size)
    if not check.ok:
        raise ValueError(f"{path}: onnxruntime logits differ from PyTorch by {diff:.3g} (> atol {atol})")
    return check
