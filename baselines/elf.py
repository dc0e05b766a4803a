"""ELF, the ensemble of localised features (Gray & Tao 2008) in the form the RAP and PETA baselines use.

An image is resized to a fixed size, split into 6 horizontal stripes, and described by 16-bin histograms
of 29 channels in every stripe: 8 colour channels (R, G, B; H, S of HSV; Y, Cb, Cr) and the absolute
responses of 21 texture filters (8 Gabor, 13 Schmid) on the luminance Y. That is 6 x 29 x 16 = 2784
dimensions, the size the RAP paper's ELF-mm baseline and its public re-implementations use; the channel
list (HSV without V, texture on luminance) and the filter parameters follow Prosser et al. 2010 and
Layne et al. 2012, who fixed ELF's filter bank for pedestrian images.

Choices where the references are silent or disagree (documented here, configurable in `ELFConfig`):

- resize to 128 x 48 (H x W, bilinear); stripes are the 6 row bands ``linspace(0, H, 7)`` rounded;
- colour channels lie in [0, 1] (HSV and full-range JPEG YCbCr) and are binned on [0, 1];
- texture kernels are made zero-mean and scaled to unit L1 norm, so on an image in [0, 1] a response's
  magnitude is at most 1/2; the histogram is taken of ``sqrt(2 |response|)`` on [0, 1], the square root
  spreading the heavy-tailed filter responses over the bins instead of piling them into the first one;
- filtering uses symmetric (mirror) padding, applied to a batch of images at once by FFT with the
  kernel spectra computed once per `ELFExtractor`;
- each stripe histogram is normalised to sum to 1 (fractions of the stripe's pixels).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import fft

from pa100k.attribute_set import AttributeSet, open_image

logger = logging.getLogger(__name__)

COLOUR_CHANNELS = ("R", "G", "B", "H", "S", "Y", "Cb", "Cr")

# (gamma, theta, lambda, sigma^2) per Gabor filter: horizontal and vertical orientations at two wavelengths.
GABOR_PARAMS: tuple[tuple[float, float, float, float], ...] = (
    (0.3, 0.0, 4.0, 2.0), (0.3, 0.0, 8.0, 2.0), (0.4, 0.0, 4.0, 1.0), (0.4, 0.0, 8.0, 2.0),
    (0.3, math.pi / 2, 4.0, 2.0), (0.3, math.pi / 2, 8.0, 2.0), (0.4, math.pi / 2, 4.0, 1.0),
    (0.4, math.pi / 2, 8.0, 2.0),
)
# (sigma, tau) per Schmid filter (Schmid 2001): rotation-invariant ring filters.
SCHMID_PARAMS: tuple[tuple[float, float], ...] = (
    (2, 1), (4, 1), (4, 2), (6, 1), (6, 2), (6, 3), (8, 1), (8, 2), (8, 3), (10, 1), (10, 2), (10, 3), (10, 4),
)


@dataclass(frozen=True)
class ELFConfig:
    """ELF feature settings; the defaults give the 2784-d descriptor of the RAP/PETA baselines."""

    height: int = 128
    width: int = 48
    stripes: int = 6
    bins: int = 16
    gabor: tuple[tuple[float, float, float, float], ...] = GABOR_PARAMS
    schmid: tuple[tuple[float, float], ...] = SCHMID_PARAMS

    def __post_init__(self) -> None:
        for field in ("height", "width", "stripes", "bins"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ELFConfig.{field} must be a positive integer, found {value!r}")
        if self.stripes > self.height:
            raise ValueError(f"ELFConfig.stripes ({self.stripes}) must not exceed height ({self.height})")

    @property
    def num_channels(self) -> int:
        """Colour plus texture channels (29 by default)."""
        return len(COLOUR_CHANNELS) + len(self.gabor) + len(self.schmid)

    @property
    def dim(self) -> int:
        """Length of the feature vector (2784 by default)."""
        return self.stripes * self.num_channels * self.bins

    def to_dict(self) -> dict:
        """A JSON-able description (the feature cache key)."""
        return {k: (list(map(list, v)) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


def gabor_kernel(gamma: float, theta: float, wavelength: float, sigma2: float) -> np.ndarray:
    """Real Gabor kernel ``exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) cos(2 pi x' / lambda)``, zero-mean, unit L1."""
    sigma = math.sqrt(sigma2)
    half = math.ceil(3 * sigma / min(gamma, 1.0))
    y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    xr = x * math.cos(theta) + y * math.sin(theta)
    yr = -x * math.sin(theta) + y * math.cos(theta)
    kernel = np.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma2)) * np.cos(2 * math.pi * xr / wavelength)
    return _zero_mean_unit_l1(kernel)


def schmid_kernel(sigma: float, tau: float) -> np.ndarray:
    """Schmid's rotation-invariant kernel ``cos(2 pi tau r / sigma) exp(-r^2 / (2 sigma^2))``, zero-mean, unit L1."""
    half = math.ceil(3 * sigma)
    y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    r = np.hypot(x, y)
    kernel = np.cos(2 * math.pi * tau * r / sigma) * np.exp(-(r**2) / (2 * sigma**2))
    return _zero_mean_unit_l1(kernel)


def _zero_mean_unit_l1(kernel: np.ndarray) -> np.ndarray:
    kernel = kernel - kernel.mean()
    return kernel / np.abs(kernel).sum()


def rgb_to_colour_channels(rgb: np.ndarray) -> np.ndarray:
    """(B, H, W, 3) RGB in [0, 1] -> (B, 8, H, W): R, G, B, H, S (HSV), Y, Cb, Cr (full-range BT.601), all in [0, 1]."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    vmax = rgb.max(-1)
    vmin = rgb.min(-1)
    delta = vmax - vmin
    with np.errstate(invalid="ignore", divide="ignore"):
        sat = np.where(vmax > 0, delta / vmax, 0.0)
        safe = np.where(delta > 0, delta, 1.0)
        hue = np.select(
            [delta == 0, vmax == r, vmax == g],
            [0.0, ((g - b) / safe) % 6.0, (b - r) / safe + 2.0],
            (r - g) / safe + 4.0,
        ) / 6.0
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 0.5 + (b - y) * (0.5 / (1 - 0.114))
    cr = 0.5 + (r - y) * (0.5 / (1 - 0.299))
    out = np.stack([r, g, b, hue, sat, y, cb, cr], axis=1)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


class ELFExtractor:
    """Computes ELF descriptors for batches of images; the filter bank's spectra are built once."""

    def __init__(self, config: ELFConfig | None = None) -> None:
        self.config = config or ELFConfig()
        c = self.config
        kernels = [gabor_kernel(*p) for p in c.gabor] + [schmid_kernel(*p) for p in c.schmid]
        self.pad = max((k.shape[0] // 2 for k in kernels), default=0)
        self.fft_shape = (
            fft.next_fast_len(c.height + 2 * self.pad, real=True),
            fft.next_fast_len(c.width + 2 * self.pad, real=True),
        )
        self.kernel_spectra = self._spectra(kernels) if kernels else None
        edges = np.round(np.linspace(0, c.height, c.stripes + 1)).astype(int)
        self.row_stripe = np.searchsorted(edges[1:], np.arange(c.height), side="right")  # (H,) stripe of each row
        self.stripe_pixels = np.diff(edges) * c.width

    def _spectra(self, kernels: list[np.ndarray]) -> np.ndarray:
        """Kernel spectra on the FFT grid, each kernel centred on the origin (the kernels are point-symmetric,
        so the FFT's convolution equals the correlation that ``imfilter`` computes)."""
        bank = np.zeros((len(kernels), *self.fft_shape), dtype=np.float64)
        for i, k in enumerate(kernels):
            h = k.shape[0] // 2
            bank[i, : k.shape[0], : k.shape[1]] = k
            bank[i] = np.roll(bank[i], (-h, -h), axis=(0, 1))
        return fft.rfft2(bank).astype(np.complex64)

    def texture_channels(self, luminance: np.ndarray) -> np.ndarray:
        """(B, H, W) luminance in [0, 1] -> (B, F, H, W) ``sqrt(2 |filter response|)`` in [0, 1]."""
        c = self.config
        p = self.pad
        padded = np.pad(luminance, ((0, 0), (p, p), (p, p)), mode="symmetric")
        spectrum = fft.rfft2(padded.astype(np.float32), s=self.fft_shape)
        response = fft.irfft2(spectrum[:, None] * self.kernel_spectra[None], s=self.fft_shape)
        response = response[:, :, p:p + c.height, p:p + c.width]
        return np.sqrt(np.clip(2.0 * np.abs(response), 0.0, 1.0)).astype(np.float32)

    def channels(self, rgb: np.ndarray) -> np.ndarray:
        """(B, H, W, 3) RGB in [0, 1] at the configured size -> (B, 29, H, W) channel stack in [0, 1]."""
        c = self.config
        if rgb.ndim != 4 or rgb.shape[1:] != (c.height, c.width, 3):
            raise ValueError(f"rgb must have shape (B, {c.height}, {c.width}, 3), found {rgb.shape}")
        colour = rgb_to_colour_channels(rgb)
        if self.kernel_spectra is None:
            return colour
        texture = self.texture_channels(colour[:, COLOUR_CHANNELS.index("Y")])
        return np.concatenate([colour, texture], axis=1)

    def histograms(self, channels: np.ndarray) -> np.ndarray:
        """(B, C, H, W) values in [0, 1] -> (B, stripes * C * bins) stripe histograms, each summing to 1."""
        c = self.config
        b, nc = channels.shape[:2]
        bins = np.minimum((channels * c.bins).astype(np.int64), c.bins - 1)  # value 1.0 goes to the last bin
        stripe = np.broadcast_to(self.row_stripe[None, None, :, None], bins.shape)
        image = np.arange(b)[:, None, None, None]
        channel = np.arange(nc)[None, :, None, None]
        flat = ((image * c.stripes + stripe) * nc + channel) * c.bins + bins  # (image, stripe, channel, bin)
        counts = np.bincount(flat.ravel(), minlength=b * c.stripes * nc * c.bins)
        hist = counts.reshape(b, c.stripes, nc, c.bins).astype(np.float32)
        hist /= self.stripe_pixels[None, :, None, None]
        return hist.reshape(b, -1)

    def load(self, refs: Sequence, names: Sequence[str]) -> np.ndarray:
        """Open and resize images (paths or bytes) to a (B, H, W, 3) float array in [0, 1]."""
        from PIL import Image

        c = self.config
        out = np.empty((len(refs), c.height, c.width, 3), dtype=np.float32)
        for i, (ref, name) in enumerate(zip(refs, names)):
            img = open_image(ref, name=str(name)).resize((c.width, c.height), Image.BILINEAR)
            out[i] = np.asarray(img, dtype=np.float32) / 255.0
        return out

    def extract_rgb(self, rgb: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """ELF descriptors (B, dim) of resized RGB images (B, H, W, 3) in [0, 1]."""
        feats = [self.histograms(self.channels(rgb[i:i + batch_size])) for i in range(0, len(rgb), batch_size)]
        return np.concatenate(feats) if feats else np.zeros((0, self.config.dim), dtype=np.float32)

    def extract_files(self, refs: Sequence, names: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """ELF descriptors (N, dim) of images given as paths or encoded bytes."""
        feats = [
            self.extract_rgb(self.load(refs[i:i + batch_size], names[i:i + batch_size]), batch_size)
            for i in range(0, len(refs), batch_size)
        ]
        return np.concatenate(feats) if feats else np.zeros((0, self.config.dim), dtype=np.float32)


def _extract_chunk(config: ELFConfig, refs: list, names: list, batch_size: int) -> np.ndarray:
    """Worker entry point: one extractor per chunk (the filter bank costs milliseconds to build)."""
    return ELFExtractor(config).extract_files(refs, names, batch_size)


def extract_elf(
    data: AttributeSet,
    indices: np.ndarray | None = None,
    config: ELFConfig | None = None,
    *,
    n_jobs: int = -1,
    chunk_size: int = 256,
    batch_size: int = 32,
    progress: bool = False,
) -> np.ndarray:
    """ELF descriptors (len(indices), dim) of ``data``'s images at ``indices`` (all images when None).

    Images are processed in chunks of ``chunk_size``; with ``n_jobs`` other than 1 the chunks run in
    parallel worker processes (joblib; ``-1``: one per CPU core). Results are in the order of ``indices``.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    config = config or ELFConfig()
    if indices is None:
        indices = np.arange(len(data))
    indices = np.asarray(indices, dtype=np.int64)
    if chunk_size < 1 or batch_size < 1:
        raise ValueError(f"chunk_size and batch_size must be positive, found {chunk_size} and {batch_size}")
    chunks = [indices[i:i + chunk_size] for i in range(0, len(indices), chunk_size)]
    if not chunks:
        return np.zeros((0, config.dim), dtype=np.float32)
    n_jobs = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    n_jobs = max(1, min(n_jobs, len(chunks)))
    args = [(config, [data.images[i] for i in c], [f"{data.dataset}:{data.names[i]}" for i in c], batch_size)
            for c in chunks]
    logger.info("ELF: %d images in %d chunks on %d worker(s)", len(indices), len(chunks), n_jobs)
    if n_jobs == 1:
        results = (_extract_chunk(*a) for a in args)
    else:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_extract_chunk)(*a) for a in args)
    return np.concatenate(list(tqdm(results, total=len(chunks), desc="ELF", disable=not progress)))
