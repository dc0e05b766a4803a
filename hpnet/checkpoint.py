"""Checkpoint folders (``config.json`` + ``model.safetensors``) and a Hugging Face Hub style mixin.

``save_pretrained(dir)`` writes the model's dataclass config and weights; ``from_pretrained(dir_or_hub_id)``
reads them back (a hub id is fetched with ``huggingface_hub``, only when asked). Every error names the
file, the key and what was expected.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn
from typing_extensions import Self

from pa100k.fileio import atomic_path, atomic_write

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1

M = TypeVar("M", bound="HubMixin")


# ------------------------------------------------------------------------------------------- tensor files
def save_safetensors(tensors: dict[str, torch.Tensor], path: str | os.PathLike,
                     metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` to ``path`` atomically (contiguous CPU copies; shared storage is broken up)."""
    from safetensors.torch import save_file

    clean = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(clean, str(tmp), metadata=metadata)


def load_safetensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a safetensors file into CPU tensors; a missing or corrupt file raises naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weights file not found")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable safetensors file ({exc})") from exc


def load_state_dict_into(model: nn.Module, state: dict[str, torch.Tensor], *, source: str | os.PathLike = "<state>",
                         strict: bool = True) -> tuple[list[str], list[str]]:
    """Load ``state`` into ``model`` after checking names and shapes; mismatches raise a ValueError naming them.

    Returns ``(missing, unexpected)`` key lists (both empty when ``strict``).
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [
        f"{k}: expected {tuple(own[k].shape)}, found {tuple(state[k].shape)}"
        for k in sorted(set(own) & set(state))
        if tuple(own[k].shape) != tuple(state[k].shape)
    ]
    if wrong:
        shown = "; ".join(wrong[:10]) + (f"; ... ({len(wrong)} in all)" if len(wrong) > 10 else "")
        raise ValueError(f"{source}: tensors with the wrong shape for {type(model).__name__}: {shown}")
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:10]}" + (f" ... ({len(missing)} in all)" if len(missing) > 10 else ""))
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:10]}" + (f" ... ({len(unexpected)} in all)" if len(unexpected) > 10 else ""))
        raise ValueError(f"{source}: state does not match {type(model).__name__}: " + "; ".join(parts))
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return missing, unexpected


# ------------------------------------------------------------------------------------------ config JSON
def config_to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as JSON-able data (tuples become lists)."""
    if not is_dataclass(config):
        raise TypeError(f"config must be a dataclass, found {type(config).__name__}")
    return json.loads(json.dumps(asdict(config)))


def _as_tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_as_tuples(v) for v in value)
    return value


def config_from_dict(cls: type, data: dict[str, Any], *, source: str = "config") -> Any:
    """Build dataclass ``cls`` from JSON data; unknown fields raise naming them, lists become tuples."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{source}: unknown fields {unknown} for {cls.__name__}; valid: {sorted(names)}")
    return cls(**{k: _as_tuples(v) for k, v in data.items()})


def read_config_file(folder: str | os.PathLike) -> dict[str, Any]:
    """Parse ``folder/config.json``; a missing folder or file raises FileNotFoundError naming it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: checkpoint folder not found")
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing; a checkpoint folder must hold {CONFIG_NAME} and {WEIGHTS_NAME} (written by save_pretrained)"
        )
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    for key in ("architecture", "config"):
        if key not in data:
            raise ValueError(f"{path}: field {key!r} is missing (found fields {sorted(data)})")
    return data


def resolve_checkpoint(dir_or_hub_id: str | os.PathLike, *, revision: str | None = None) -> Path:
    """A local checkpoint folder: ``dir_or_hub_id`` itself, or a Hub snapshot when it names no local folder."""
    path = Path(dir_or_hub_id).expanduser()
    if path.exists():
        return path
    text = str(dir_or_hub_id)
    if text.count("/") == 1 and not text.startswith((".", "/", "~")):
        from huggingface_hub import snapshot_download

        logger.info("fetching %s from the Hugging Face Hub", text)
        return Path(snapshot_download(repo_id=text, revision=revision, allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, "*.md"]))
    raise FileNotFoundError(f"{path}: checkpoint folder not found (and not a Hub id of the form owner/name)")


# ------------------------------------------------------------------------------------------------ mixin
class HubMixin:
    """``save_pretrained`` / ``from_pretrained`` for models with a dataclass ``config`` (PyTorchModelHubMixin style).

    Subclasses set ``config_class`` and ``architecture`` and build from ``cls(config)``.
    """

    config_class: ClassVar[type]
    architecture: ClassVar[str]

    def save_pretrained(self, save_directory: str | os.PathLike, *, extra: dict[str, Any] | None = None) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``save_directory`` (created if needed)."""
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        assert isinstance(self, nn.Module)
        save_safetensors(self.state_dict(), folder / WEIGHTS_NAME, metadata={"format": "pt"})
        payload = {
            "architecture": self.architecture,
            "format_version": FORMAT_VERSION,
            "config": config_to_dict(self.config),  # type: ignore[attr-defined]
        }
        if extra:
            payload["extra"] = extra
        with atomic_write(folder / CONFIG_NAME) as fh:
            json.dump(payload, fh, indent=2)
            fh.write("\n")
        return folder

    @classmethod
    def from_pretrained(cls, dir_or_hub_id: str | os.PathLike, *, map_location: str = "cpu",
                        revision: str | None = None, **overrides: Any) -> Self:
        """Load a model saved by ``save_pretrained`` from a folder or a Hub id, in eval mode; ``overrides`` replace config fields."""
        folder = resolve_checkpoint(dir_or_hub_id, revision=revision)
        data = read_config_file(folder)
        if data["architecture"] != cls.architecture:
            raise ValueError(
                f"{folder / CONFIG_NAME}: architecture is {data['architecture']!r}, expected {cls.architecture!r} "
                f"(load it with hpnet.load_pretrained to pick the class from the file)"
            )
        config_data = dict(data["config"])
        config_data.update(overrides)
        config = config_from_dict(cls.config_class, config_data, source=str(folder / CONFIG_NAME))
        model = cls(config)  # type: ignore[call-arg]
        state = load_safetensors(folder / WEIGHTS_NAME)
        load_state_dict_into(model, state, source=folder / WEIGHTS_NAME)  # type: ignore[arg-type]
        return model.to(map_location).eval()  # type: ignore[attr-defined,return-value]
