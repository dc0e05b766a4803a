"""Scene backgrounds, occluders and image degradations of the synthetic dataset.

A scene is a place with its own palette (street, plaza, indoor mall, park); each of its cameras sees
its own stretch of it under its own light, as a panorama from which a tracklet's frames are cropped.
Degradations are those of surveillance crops: blur, JPEG quality, noise, illumination and colour cast,
partial occlusion at the edges of the box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Color = tuple[int, int, int]

SCENE_KINDS = ("street", "plaza", "indoor", "park")

WALLS: tuple[Color, ...] = (
    (196, 180, 160), (170, 150, 130), (140, 128, 120), (210, 206, 196), (160, 90, 70), (120, 120, 128),
    (220, 200, 160), (96, 92, 90), (184, 196, 204), (150, 160, 140),
)
GROUNDS: tuple[Color, ...] = (
    (128, 126, 122), (150, 146, 138), (100, 100, 104), (170, 160, 142), (84, 82, 84), (186, 180, 170), (120, 110, 96),
)
ACCENTS: tuple[Color, ...] = (
    (200, 40, 40), (40, 90, 180), (230, 190, 40), (40, 140, 80), (230, 120, 30), (240, 240, 240), (30, 30, 30),
    (120, 60, 150),
)


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([int(k) for k in key])


def _jitter(rng: np.random.Generator, c: Color, amount: float) -> Color:
    return tuple(int(np.clip(v + rng.normal(0, amount), 0, 255)) for v in c)  # type: ignore[return-value]


@dataclass(frozen=True)
class SceneStyle:
    """The palette and kind of one scene."""

    kind: str
    wall: Color
    ground: Color
    accents: tuple[Color, ...]


def scene_style(seed: int, scene: int) -> SceneStyle:
    """The style of ``scene`` (deterministic in ``seed`` and ``scene``)."""
    rng = _rng(seed, 11, scene)
    kind = SCENE_KINDS[int(rng.integers(len(SCENE_KINDS)))]
    wall = _jitter(rng, WALLS[int(rng.integers(len(WALLS)))], 10)
    ground = _jitter(rng, GROUNDS[int(rng.integers(len(GROUNDS)))], 8)
    if kind == "park":
        ground = _jitter(rng, (96, 140, 70), 14)
    accents = tuple(ACCENTS[int(i)] for i in rng.choice(len(ACCENTS), 3, replace=False))
    return SceneStyle(kind, wall, ground, accents)


def camera_background(seed: int, scene: int, camera: int, height: int = 192, width: int = 640) -> Image.Image:
    """The panorama that camera ``camera`` of ``scene`` sees, ``width`` x ``height`` pixels (RGB)."""
    st = scene_style(seed, scene)
    rng = _rng(seed, 12, camera)
    hy = int(height * rng.uniform(0.28, 0.6))  # where the far wall meets the ground
    img = Image.new("RGB", (width, height), st.wall)
    d = ImageDraw.Draw(img)
    if st.kind in ("plaza", "park"):
        sky = _jitter(rng, (170, 196, 224) if rng.random() < 0.7 else (200, 200, 204), 10)
        d.rectangle([0, 0, width, hy], fill=sky)
        x = 0
        while x < width:  # distant buildings or trees along the horizon
            w = int(rng.integers(30, 110))
            top = int(hy * rng.uniform(0.05, 0.6))
            if st.kind == "park":
                tree = _jitter(rng, (50, 100, 50), 16)
                d.ellipse([x, top, x + w, hy + 10], fill=tree)
                d.rectangle([x + w // 2 - 3, hy - 10, x + w // 2 + 3, hy + 4], fill=(90, 64, 40))
            else:
                bc = _jitter(rng, st.wall, 24)
                d.rectangle([x, top, x + w, hy], fill=bc)
                for wy in range(top + 6, hy - 8, 14):
                    for wx in range(x + 5, x + w - 8, 12):
                        d.rectangle([wx, wy, wx + 5, wy + 7], fill=_jitter(rng, (90, 110, 130), 12))
            x += w + int(rng.integers(0, 30))
    else:
        x = 0
        while x < width:  # facades or shop fronts
            w = int(rng.integers(60, 180))
            wc = _jitter(rng, st.wall, 22)
            d.rectangle([x, 0, x + w, hy], fill=wc)
            if st.kind == "street":
                for wy in range(int(rng.integers(4, 14)), hy - 40, int(rng.integers(24, 36))):
                    for wx in range(x + 8, x + w - 16, int(rng.integers(20, 30))):
                        d.rectangle([wx, wy, wx + 10, wy + 14], fill=_jitter(rng, (70, 84, 100), 10))
                door = x + int(rng.integers(5, max(6, w - 30)))
                d.rectangle([door, hy - 38, door + 18, hy], fill=_jitter(rng, (60, 44, 34), 10))
                if rng.random() < 0.6:
                    sign = st.accents[int(rng.integers(3))]
                    d.rectangle([x + 4, hy - 54, x + w - 4, hy - 44], fill=sign)
            else:  # indoor: shop windows and pillars
                d.rectangle([x + 6, hy - int(hy * 0.7), x + w - 6, hy - 2], fill=_jitter(rng, (200, 214, 220), 12))
                d.rectangle([x + w - 8, 0, x + w, hy], fill=_jitter(rng, (210, 210, 206), 8))
                d.rectangle([x + 10, hy - int(hy * 0.8), x + w - 14, hy - int(hy * 0.72)], fill=st.accents[int(rng.integers(3))])
            x += w
    # Ground with perspective tile lines (or grass with a path).
    d.rectangle([0, hy, width, height], fill=st.ground)
    line = tuple(int(v * 0.8) for v in st.ground)
    if st.kind == "park":
        path = _jitter(rng, (180, 170, 150), 10)
        d.polygon([(width * 0.3, hy), (width * 0.7, hy), (width * 0.95, height), (width * 0.05, height)], fill=path)
    else:
        y, step = hy + 3, 3.0
        while y < height:
            d.line([0, int(y), width, int(y)], fill=line, width=1)
            step *= 1.35
            y += step
        vx = width * rng.uniform(0.2, 0.8)
        for k in range(-12, 13):
            d.line([vx + k * 14, hy, vx + k * 90, height], fill=line, width=1)
        if st.kind == "street" and rng.random() < 0.5:
            d.rectangle([0, hy, width, hy + 4], fill=_jitter(rng, (170, 170, 166), 8))
    arr = np.asarray(img, dtype=np.float32)
    # Texture, a soft light falloff across the view and the camera's light and colour cast.
    low = rng.normal(0, 10, (height // 32 + 2, width // 32 + 2, 1)).astype(np.float32)
    low = np.asarray(Image.fromarray(low[..., 0]).resize((width, height), Image.BILINEAR))[..., None]
    arr = arr + low + rng.normal(0, 3.0, arr.shape).astype(np.float32)
    falloff = 1.0 + rng.uniform(-0.15, 0.15) * np.linspace(-1, 1, width, dtype=np.float32)[None, :, None]
    gain = rng.uniform(0.75, 1.15) * (1 + rng.normal(0, 0.05, 3)).astype(np.float32)
    arr = arr * falloff * gain
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


@dataclass(frozen=True)
class Degradation:
    """How one tracklet's frames are spoilt: light, colour cast, gamma, noise, blur, JPEG quality, occluder."""

    gain: float
    tint: tuple[float, float, float]
    gamma: float
    noise: float
    blur: float
    jpeg_quality: int
    occluder: str | None
    occluder_side: int
    occluder_color: Color
    occluder_size: float


OCCLUDERS = ("pole", "bollard", "passerby")


def sample_degradation(rng: np.random.Generator) -> Degradation:
    """Draw one tracklet's degradations (about one tracklet in eight is partly occluded)."""
    u = rng.random(12)
    occluder = OCCLUDERS[int(u[7] * len(OCCLUDERS)) % len(OCCLUDERS)] if u[6] < 0.12 else None
    return Degradation(
        gain=float(0.65 + 0.6 * u[0]),
        tint=tuple(float(1 + 0.14 * (v - 0.5)) for v in u[1:4]),  # type: ignore[arg-type]
        gamma=float(0.8 + 0.4 * u[4]),
        noise=float(0.0 if u[5] < 0.3 else 1.0 + 8.0 * u[5] ** 2),
        blur=float(0.0 if u[8] < 0.45 else 0.3 + 1.0 * u[8] ** 2),
        jpeg_quality=int(40 + 55 * u[9]),
        occluder=occluder,
        occluder_side=1 if u[10] < 0.5 else -1,
        occluder_color=tuple(int(40 + 180 * v) for v in rng.random(3)),  # type: ignore[arg-type]
        occluder_size=float(0.08 + 0.07 * u[11]),
    )


def draw_occluder(img: Image.Image, deg: Degradation, shift: float = 0.0) -> None:
    """Draw the tracklet's occluder at the edge of the box (in place), clear of the person's middle."""
    if deg.occluder is None:
        return
    w, h = img.size
    d = ImageDraw.Draw(img)
    ow = max(2, int(w * deg.occluder_size))
    x0 = int(shift) if deg.occluder_side < 0 else w - ow + int(shift)
    c = deg.occluder_color
    if deg.occluder == "pole":
        d.rectangle([x0, 0, x0 + ow, h], fill=c)
        d.rectangle([x0 + ow // 3, 0, x0 + ow // 3 + 1, h], fill=tuple(min(255, v + 40) for v in c))
    elif deg.occluder == "bollard":
        bw = int(ow * 1.6)
        bx = 0 if deg.occluder_side < 0 else w - bw
        d.rectangle([bx, int(h * 0.84), bx + bw, h], fill=c)
        d.rectangle([bx, int(h * 0.84), bx + bw, int(h * 0.86)], fill=tuple(max(0, v - 40) for v in c))
    else:  # a passer-by at the edge of the box
        cx = x0 + (ow if deg.occluder_side < 0 else 0)
        d.ellipse([cx - ow * 0.7, h * 0.06, cx + ow * 0.7, h * 0.16], fill=(200, 160, 130))
        d.rectangle([cx - ow, h * 0.16, cx + ow, h * 0.62], fill=c)
        d.rectangle([cx - ow * 0.8, h * 0.62, cx + ow * 0.8, h], fill=tuple(max(0, v - 60) for v in c))


def noise_field(deg: Degradation, size: tuple[int, int], rng: np.random.Generator, margin: int = 8) -> np.ndarray | None:
    """One tracklet's sensor noise, ``margin`` pixels larger than ``size`` (each frame crops it at its own offset)."""
    if deg.noise <= 0:
        return None
    w, h = size
    return np.round(rng.standard_normal((h + margin, w + margin, 3), dtype=np.float32) * deg.noise).astype(np.int16)


def light_table(deg: Degradation) -> list[int]:
    """The 768-entry lookup table (R, G, B) of a degradation's light level, colour cast and gamma."""
    x = np.arange(256, dtype=np.float64)[None, :] / 255.0
    gain = deg.gain * np.asarray(deg.tint, dtype=np.float64)[:, None]
    return np.clip(255.0 * np.power(x * gain, deg.gamma) + 0.5, 0, 255).astype(np.uint8).ravel().tolist()


def degrade(img: Image.Image, deg: Degradation, rng: np.random.Generator, noise: np.ndarray | None = None,
            lut: list[int] | None = None) -> Image.Image:
    """Apply illumination, colour cast, gamma, noise and blur to a final-size frame (JPEG comes at saving).

    ``noise`` is the tracklet's :func:`noise_field` (drawn here when omitted); ``lut`` the cached
    light/colour/gamma table of ``deg``.
    """
    out = img.point(lut if lut is not None else light_table(deg))
    if deg.noise > 0:
        if noise is None:
            noise = noise_field(deg, img.size, rng)
        mh, mw = noise.shape[0] - img.height, noise.shape[1] - img.width
        if mh < 0 or mw < 0:
            raise ValueError(f"noise field {noise.shape[1]}x{noise.shape[0]} is smaller than the image {img.size}")
        dy, dx = int(rng.integers(0, mh + 1)), int(rng.integers(0, mw + 1))
        arr = np.asarray(out, dtype=np.int16) + noise[dy:dy + img.height, dx:dx + img.width]
        out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if deg.blur > 0:
        out = out.filter(ImageFilter.BoxBlur(deg.blur))
    return out
