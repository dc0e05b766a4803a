"""A procedural pedestrian drawn with PIL in which each of PA-100K's 26 attributes has a visible cue.

The drawing works in fractions of the person's height ``h`` around a centre line, mirrored for side
views facing left. Global attributes are global shape cues (gender: proportions, hair, clothing priors;
age: head-to-body ratio, grey hair, stoop; orientation: face, profile, back of the head), local ones
are small contrasting marks in their body region (hat on the head, glasses across the eyes, a logo on
the chest...). Which parts are visible depends on the orientation: a backpack is a full pack from the
back, a hump behind the neck with two straps from the front and a box behind the back from the side;
glasses are hidden from the back.

``render_person(attributes, seed)`` draws one person from an explicit 26-vector on a plain background;
the dataset renderer (:mod:`pa100k.synthetic.render`) draws the same person into scene backgrounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from pa100k.synthetic.priors import ATTRIBUTES, IDX

Color = tuple[int, int, int]

FRONT, SIDE, BACK = 0, 1, 2

SKIN: tuple[Color, ...] = (
    (248, 220, 196), (236, 198, 164), (222, 176, 136), (196, 146, 104), (164, 116, 78), (122, 84, 56), (92, 62, 44),
)
HAIR: tuple[Color, ...] = ((24, 20, 20), (58, 38, 28), (102, 68, 44), (136, 62, 36), (206, 170, 96), (92, 30, 44))
HAIR_P = (0.45, 0.25, 0.14, 0.05, 0.08, 0.03)
GREY_HAIR: tuple[Color, ...] = ((168, 168, 166), (200, 200, 196), (232, 230, 224), (146, 146, 144))

# Clothing colours with a female and a male weight (a prior, not a rule).
CLOTH: tuple[tuple[Color, float, float], ...] = (
    ((24, 24, 28), 1.0, 2.2), ((62, 62, 68), 0.8, 1.6), ((128, 128, 132), 0.8, 1.2), ((190, 190, 190), 0.8, 0.8),
    ((236, 236, 232), 1.4, 1.0), ((30, 40, 92), 0.7, 1.5), ((44, 84, 172), 0.8, 1.0), ((116, 164, 222), 0.9, 0.6),
    ((22, 122, 122), 0.5, 0.5), ((40, 116, 52), 0.4, 0.6), ((100, 108, 52), 0.3, 0.8), ((182, 166, 120), 0.6, 0.8),
    ((216, 200, 168), 0.9, 0.6), ((98, 64, 40), 0.5, 0.8), ((172, 120, 70), 0.5, 0.5), ((112, 26, 38), 0.8, 0.4),
    ((196, 34, 40), 1.0, 0.4), ((230, 122, 32), 0.5, 0.3), ((232, 204, 44), 0.6, 0.3), ((234, 140, 172), 1.2, 0.1),
    ((112, 52, 142), 0.7, 0.2), ((174, 152, 214), 0.8, 0.1), ((72, 96, 142), 0.8, 1.2),
)
ACCENT: tuple[Color, ...] = (
    (236, 236, 232), (24, 24, 28), (210, 30, 36), (248, 210, 40), (40, 110, 220), (30, 160, 70), (240, 120, 20),
    (236, 120, 180), (120, 60, 170), (60, 200, 220), (140, 90, 50), (250, 250, 120),
)
BAG: tuple[Color, ...] = (
    (26, 24, 24), (92, 56, 32), (168, 116, 64), (186, 34, 40), (34, 44, 96), (214, 196, 160), (232, 232, 228),
    (226, 130, 166), (110, 110, 114), (46, 104, 58), (236, 176, 40), (60, 120, 200),
)
BOOT: tuple[Color, ...] = ((22, 20, 20), (84, 52, 30), (150, 102, 58), (104, 26, 34), (120, 120, 124), (196, 168, 120))
SHOE: tuple[Color, ...] = ((30, 30, 30), (236, 236, 236), (90, 60, 40), (60, 60, 70), (150, 40, 40))
GLASSES_SUN: tuple[Color, ...] = ((16, 16, 20), (52, 34, 20), (24, 36, 78), (60, 20, 24))
GLASSES_FRAME: tuple[Color, ...] = ((16, 16, 16), (150, 20, 30), (24, 40, 120), (196, 160, 40), (20, 110, 60))
OBJECT: tuple[Color, ...] = ((170, 128, 80), (236, 236, 232), (40, 120, 200), (210, 40, 40), (246, 206, 60), (40, 150, 80))

HAT_STYLES = ("cap", "beanie", "brim")
LOGO_SHAPES = ("circle", "square", "triangle", "diamond", "text", "ring")
SPLICE_STYLES = ("yoke", "halves", "diagonal", "blocks")
LOWER_PATTERNS = ("dots", "checks", "blots")


def _dist(a: Color, b: Color) -> float:
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))


def _shade(c: Color, f: float) -> Color:
    return tuple(int(max(0, min(255, round(v * f)))) for v in c)  # type: ignore[return-value]


def _pick(u: float, colors, weights=None, avoid: tuple[Color, ...] = (), min_dist: float = 0.0) -> Color:
    """Choose a colour with the uniform draw ``u``, among those at least ``min_dist`` from every colour in ``avoid``."""
    colors = list(colors)
    weights = [1.0] * len(colors) if weights is None else list(weights)
    ok = [i for i, c in enumerate(colors) if all(_dist(c, a) >= min_dist for a in avoid)]
    if not ok:
        ok = [max(range(len(colors)), key=lambda i: min(_dist(colors[i], a) for a in avoid))]
    w = np.array([weights[i] for i in ok], dtype=float)
    k = int(np.searchsorted(np.cumsum(w) / w.sum(), u, side="right"))
    return colors[ok[min(k, len(ok) - 1)]]


class _Draws:
    """A fixed block of uniform draws consumed in order, so that a style's draws do not depend on the attributes."""

    def __init__(self, rng: np.random.Generator, n: int = 96) -> None:
        self.u = rng.random(n)
        self.i = 0

    def __call__(self, lo: float = 0.0, hi: float = 1.0) -> float:
        v = self.u[self.i]
        self.i += 1
        return lo + (hi - lo) * float(v)


@dataclass
class Style:
    """The look of one identity: colours, hair, body build and the shapes of its accessories."""

    skin: Color
    hair: Color
    hair_style: str  # short, long, ponytail, bald
    hair_len: float
    fringe: float
    width: float
    shoulder: float
    hip: float
    stance: float
    upper: Color
    upper2: Color
    upper3: Color
    coat: Color
    coat_open: bool
    coat_len: float
    lower: Color
    lower2: Color
    legwear: Color | None  # tights under a skirt
    shoe: Color
    boot: Color
    boot_len: float
    hem: float
    shorts_len: float
    skirt_len: float
    skirt_flare: float
    dress: bool
    hat: Color
    hat2: Color
    hat_style: str
    glasses: Color
    sunglasses: bool
    handbag: Color
    handbag_size: tuple[float, float]
    hand_side: int
    shoulderbag: Color
    shoulderbag_size: tuple[float, float]
    strap: Color
    backpack: Color
    backpack_size: tuple[float, float]
    logo: Color
    logo2: Color
    logo_shape: str
    logo_pos: tuple[float, float]
    logo_size: float
    stripe_width: float
    stripe_gap: float
    stripe_vertical: bool
    plaid_gap: float
    plaid_width: float
    splice_style: str
    splice_at: float
    splice_sleeves: bool
    lower_pattern: str
    obj: Color
    obj_size: tuple[float, float]
    lean: float


def sample_style(attributes: np.ndarray, rng: np.random.Generator) -> Style:
    """Draw an identity's look; gender and age shift the priors (hair, build, colours), none decides alone."""
    a = np.asarray(attributes).astype(bool)
    female, senior, child = a[IDX["Female"]], a[IDX["AgeOver60"]], a[IDX["AgeLess18"]]
    r = _Draws(rng)
    cloth = [c for c, _, _ in CLOTH]
    weights = [wf if female else wm for _, wf, wm in CLOTH]
    skin = SKIN[min(int(r() * len(SKIN)), len(SKIN) - 1)]
    u_hair = r()
    hair = _pick(r(), GREY_HAIR) if senior and u_hair < 0.9 else _pick(r(), HAIR, HAIR_P)
    u_style = r()
    p_long = 0.75 if female else 0.06
    if senior and not female and u_style > 0.6:
        hair_style = "bald"
    elif u_style < p_long * 0.78:
        hair_style = "long"
    elif u_style < p_long:
        hair_style = "ponytail"
    else:
        hair_style = "short"
    hair_len = r(0.02, 0.13)
    fringe = r(0.24, 0.40)
    width = r(0.93, 1.07)
    shoulder = (r(0.108, 0.122) if female else r(0.118, 0.134)) * (0.9 if child else 1.0)
    hip = (r(0.104, 0.118) if female else r(0.094, 0.106))
    stance = r(0.0, 0.015)
    upper = _pick(r(), cloth, weights, avoid=(skin,), min_dist=90)
    upper2 = _pick(r(), ACCENT + tuple(cloth), avoid=(upper,), min_dist=150)
    upper3 = _pick(r(), cloth, avoid=(upper, upper2), min_dist=110)
    coat = _pick(r(), ((24, 24, 28), (62, 62, 68), (128, 128, 132), (182, 150, 100), (30, 40, 92), (100, 108, 52),
                        (112, 26, 38), (216, 200, 168), (98, 64, 40)), avoid=(skin,), min_dist=80)
    coat_open = r() < 0.5
    coat_len = r(0.0, 0.08)
    lower = _pick(r(), cloth, [w * (3.0 if c in ((24, 24, 28), (30, 40, 92), (72, 96, 142)) else 1.0)
                               for c, w in zip(cloth, weights)], avoid=(skin,), min_dist=90)
    lower2 = _pick(r(), ACCENT, avoid=(lower, upper), min_dist=130)  # a dress's skirt is the upper colour
    legwear = _pick(r(), ((24, 24, 28), (60, 44, 40), (200, 170, 150))) if female and r() < 0.3 else None
    if legwear is None:
        r()
    shoe = _pick(r(), SHOE)
    legs = lower if legwear is None else legwear
    boot = _pick(r(), BOOT, avoid=(legs, skin), min_dist=110)
    boot_len = r(0.09, 0.15)
    hem = r(-0.035, 0.015)
    shorts_len = r(0.45, 0.85)
    skirt_len = r(0.32, 0.78)
    skirt_flare = r(1.15, 1.6)
    dress = r() < 0.35
    hat = _pick(r(), ACCENT + tuple(cloth), avoid=(hair, skin), min_dist=120)
    hat2 = _shade(hat, 0.6)
    hat_style = HAT_STYLES[min(int(r() * 3), 2)]
    sunglasses = r() < 0.45
    glasses = _pick(r(), GLASSES_SUN if sunglasses else GLASSES_FRAME, avoid=(skin,), min_dist=110)
    handbag = _pick(r(), BAG, avoid=(lower, upper), min_dist=130)
    handbag_size = (r(0.07, 0.11), r(0.055, 0.09))
    hand_side = 1 if r() < 0.5 else -1
    shoulderbag = _pick(r(), BAG, avoid=(upper, lower), min_dist=110)
    shoulderbag_size = (r(0.065, 0.095), r(0.06, 0.085))
    strap = _pick(r(), BAG + ((24, 24, 28),), avoid=(upper,), min_dist=120)
    backpack = _pick(r(), BAG + ACCENT, avoid=(upper, hair), min_dist=120)
    backpack_size = (r(0.75, 0.95), r(0.0, 0.05))
    logo = _pick(r(), ACCENT, avoid=(upper, upper2), min_dist=130)
    logo2 = _pick(r(), ACCENT, avoid=(logo,), min_dist=120)
    logo_shape = LOGO_SHAPES[min(int(r() * len(LOGO_SHAPES)), len(LOGO_SHAPES) - 1)]
    logo_pos = (r(-0.035, 0.035), r(0.04, 0.10))
    logo_size = r(0.042, 0.065)
    stripe_width = r(0.016, 0.026)
    stripe_gap = r(1.8, 2.8)
    stripe_vertical = r() < 0.2
    plaid_gap = r(0.028, 0.042)
    plaid_width = r(0.009, 0.014)
    splice_style = SPLICE_STYLES[min(int(r() * len(SPLICE_STYLES)), len(SPLICE_STYLES) - 1)]
    splice_sleeves = r() < 0.5
    splice_at = r(0.06, 0.12)
    lower_pattern = LOWER_PATTERNS[min(int(r() * len(LOWER_PATTERNS)), len(LOWER_PATTERNS) - 1)]
    obj = _pick(r(), OBJECT, avoid=(upper,), min_dist=110)
    obj_size = (r(0.27, 0.34), r(0.08, 0.13))
    lean = r(0.12, 0.24) if senior else r(0.0, 0.04)
    return Style(**{k: v for k, v in locals().items() if k in Style.__dataclass_fields__})


@dataclass
class Pose:
    """Where and how one frame shows the person: facing (side views), walking phase, centre, top and height in pixels.

    The view itself (front, side, back) is an attribute (Front/Side/Back) of the vector drawn.
    """

    direction: int = 1
    phase: float = 0.0
    cx: float = 48.0
    top: float = 8.0
    height: float = 176.0


@dataclass
class _Body:
    head_top: float
    head_h: float
    head_w: float
    shoulder_y: float
    waist_y: float
    hip_y: float
    knee_y: float
    ankle_y: float
    sh: float
    wh: float
    hh: float
    arm_w: float
    elbow_y: float
    wrist_y: float


def _body(a: np.ndarray, style: Style) -> _Body:
    child, senior = a[IDX["AgeLess18"]], a[IDX["AgeOver60"]]
    female = a[IDX["Female"]]
    if child:
        head_h, shoulder_y, waist_y, hip_y, knee_y = 0.175, 0.19, 0.45, 0.55, 0.765
    else:
        head_h, shoulder_y, waist_y, hip_y, knee_y = 0.125, 0.152, 0.42, 0.50, 0.725
    if senior:
        shoulder_y -= 0.008
    w = style.width
    wh = (0.082 if female else 0.100) * w * (0.95 if child else 1.0)
    return _Body(
        head_top=0.004 + (0.01 if senior else 0.0), head_h=head_h, head_w=head_h * (0.8 if child else 0.78),
        shoulder_y=shoulder_y, waist_y=waist_y, hip_y=hip_y, knee_y=knee_y, ankle_y=0.958,
        sh=style.shoulder * w, wh=wh, hh=style.hip * w * (0.92 if child else 1.0),
        arm_w=0.036 if child else 0.042, elbow_y=shoulder_y + 0.6 * (waist_y - shoulder_y), wrist_y=hip_y - 0.015,
    )


class _Painter:
    """Draws shapes given in fractions of the person's height, mirrored by ``d``."""

    def __init__(self, img: Image.Image, pose: Pose, d: int = 1) -> None:
        self.img = img
        self.draw = ImageDraw.Draw(img)
        self.cx, self.top, self.h, self.d = pose.cx, pose.top, pose.height, d
        self.lean = None  # (amount, hip_y) for side views of a stooping person

    def p(self, fx: float, fy: float) -> tuple[float, float]:
        if self.lean is not None and fy < self.lean[1]:
            fx = fx + self.lean[0] * (self.lean[1] - fy)
        return (self.cx + self.d * fx * self.h, self.top + fy * self.h)

    def px(self, f: float) -> int:
        return max(1, round(f * self.h))

    def poly(self, pts, fill: Color) -> None:
        self.draw.polygon([self.p(x, y) for x, y in pts], fill=fill)

    def box(self, x0: float, y0: float, x1: float, y1: float) -> list[float]:
        (ax, ay), (bx, by) = self.p(x0, y0), self.p(x1, y1)
        return [min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)]

    def ellipse(self, x0, y0, x1, y1, fill: Color | None, outline: Color | None = None, width: float = 0.0) -> None:
        self.draw.ellipse(self.box(x0, y0, x1, y1), fill=fill, outline=outline,
                          width=self.px(width) if outline else 0)

    def rect(self, x0, y0, x1, y1, fill: Color | None, outline: Color | None = None, width: float = 0.0) -> None:
        self.draw.rectangle(self.box(x0, y0, x1, y1), fill=fill, outline=outline,
                            width=self.px(width) if outline else 0)

    def line(self, pts, fill: Color, width: float) -> None:
        self.draw.line([self.p(x, y) for x, y in pts], fill=fill, width=self.px(width), joint="curve")

    def upper_half(self, x0, y0, x1, y1, fill: Color) -> None:
        self.draw.chord(self.box(x0, y0, x1, y1), 180, 360, fill=fill)

    def fill_pattern(self, shapes, paint) -> None:
        """Draw ``paint(draw, x0, y0, x1, y1)`` clipped to the union of polygons ``shapes`` (fractional points)."""
        polys = [[self.p(x, y) for x, y in pts] for pts in shapes]
        xs = [x for pl in polys for x, _ in pl]
        ys = [y for pl in polys for _, y in pl]
        x0, y0 = max(0, int(min(xs)) - 1), max(0, int(min(ys)) - 1)
        x1, y1 = min(self.img.width, int(max(xs)) + 2), min(self.img.height, int(max(ys)) + 2)
        if x1 <= x0 or y1 <= y0:
            return
        size = (x1 - x0, y1 - y0)
        mask = Image.new("L", size, 0)
        md = ImageDraw.Draw(mask)
        for pl in polys:
            md.polygon([(x - x0, y - y0) for x, y in pl], fill=255)
        layer = self.img.crop((x0, y0, x1, y1))
        paint(ImageDraw.Draw(layer), size[0], size[1], x0, y0)
        self.img.paste(layer, (x0, y0), mask)


def _orientation(a: np.ndarray) -> int:
    for k, name in enumerate(("Front", "Side", "Back")):
        if a[IDX[name]]:
            return k
    return FRONT


def draw_person(img: Image.Image, attributes: np.ndarray, style: Style, pose: Pose) -> None:
    """Draw one pedestrian into ``img`` (in place) showing exactly the positive ``attributes``.

    Orientation comes from the attributes (Front/Side/Back; none: front); ``pose.direction`` only
    mirrors side views. What a view cannot show is not drawn: glasses from the back, a logo on the back
    under a backpack.
    """
    a = np.asarray(attributes).astype(bool)
    if a.shape != (len(ATTRIBUTES),):
        raise ValueError(f"attributes must be a vector of {len(ATTRIBUTES)} PA-100K labels, found shape {a.shape}")
    o = _orientation(a)
    b = _body(a, style)
    if o == SIDE:
        _draw_side(_Painter(img, pose, pose.direction), a, b, style, pose)
    else:
        _draw_front_back(_Painter(img, pose, 1), a, b, style, pose, back=(o == BACK))


# ----------------------------------------------------------------------------------------------------
# pieces shared by the views


def _lower_color_legs(a: np.ndarray, s: Style) -> Color:
    if a[IDX["Trousers"]]:
        return s.lower
    if a[IDX["Skirt&Dress"]] and s.legwear is not None:
        return s.legwear
    return s.skin


def _sleeve_color(a: np.ndarray, s: Style) -> Color:
    if a[IDX["LongCoat"]]:
        return s.coat
    if a[IDX["UpperSplice"]] and s.splice_sleeves:
        return s.upper2
    return s.upper


def _skirt_color(a: np.ndarray, s: Style) -> Color:
    return s.upper if s.dress and not a[IDX["LongCoat"]] else s.lower


def _upper_patterns(pt: _Painter, a: np.ndarray, s: Style, shapes, b: _Body, logo_at, logo_scale: float) -> None:
    """Splice blocks, stripes and plaid clipped to the upper garment, then the logo."""
    h = pt.h
    if a[IDX["UpperSplice"]]:
        y_split = pt.p(0, b.shoulder_y + s.splice_at)[1]
        mode = s.splice_style

        def splice(dr, w, hgt, ox, oy):
            ys = y_split - oy
            cx = pt.cx - ox
            if mode == "yoke":
                dr.rectangle([0, 0, w, ys], fill=s.upper2)
            elif mode == "halves":
                dr.rectangle([0, 0, cx, hgt], fill=s.upper2)
            elif mode == "diagonal":
                dr.polygon([(0, 0), (w, 0), (0, hgt * 0.75)], fill=s.upper2)
            else:
                dr.rectangle([0, 0, w, ys], fill=s.upper2)
                dr.rectangle([0, ys + 0.5 * (hgt - ys), w, hgt], fill=s.upper3)

        pt.fill_pattern(shapes, splice)
    if a[IDX["UpperStride"]]:
        sw = max(2, round(s.stripe_width * h))
        period = max(sw + 2, round(sw * (1 + s.stripe_gap)))

        def stripes(dr, w, hgt, ox, oy):
            if s.stripe_vertical:
                for x in range(-int((pt.cx - ox) % period) + period // 2, w, period):
                    dr.rectangle([x, 0, x + sw - 1, hgt], fill=s.upper2)
            else:
                for y in range(period // 2, hgt, period):
                    dr.rectangle([0, y, w, y + sw - 1], fill=s.upper2)

        pt.fill_pattern(shapes, stripes)
    if a[IDX["UpperPlaid"]]:
        gap = max(4, round(s.plaid_gap * h))
        lw = max(1, round(s.plaid_width * h))
        thin = _shade(s.upper2, 0.75) if _dist(s.upper2, (0, 0, 0)) > 120 else s.upper3

        def plaid(dr, w, hgt, ox, oy):
            for y in range(gap // 3, hgt, gap):
                dr.rectangle([0, y, w, y + lw - 1], fill=s.upper2)
            for x in range(gap // 3, w, gap):
                dr.rectangle([x, 0, x + lw - 1, hgt], fill=s.upper2)
            for y in range(gap // 3 + gap // 2, hgt, gap):
                dr.line([0, y, w, y], fill=thin, width=1)

        pt.fill_pattern(shapes, plaid)
    if a[IDX["UpperLogo"]] and logo_at is not None:
        x, y = logo_at
        r = s.logo_size * logo_scale / 2
        _logo(pt, x, y, r, s)


def _logo(pt: _Painter, x: float, y: float, r: float, s: Style) -> None:
    shape = s.logo_shape
    if shape == "circle":
        pt.ellipse(x - r, y - r, x + r, y + r, fill=s.logo)
    elif shape == "ring":
        pt.ellipse(x - r, y - r, x + r, y + r, fill=s.logo2, outline=s.logo, width=r * 0.55)
    elif shape == "square":
        pt.rect(x - r, y - r, x + r, y + r, fill=s.logo)
        pt.rect(x - r * 0.4, y - r * 0.4, x + r * 0.4, y + r * 0.4, fill=s.logo2)
    elif shape == "triangle":
        pt.poly([(x - r * 1.1, y + r), (x + r * 1.1, y + r), (x, y - r)], fill=s.logo)
    elif shape == "diamond":
        pt.poly([(x - r * 1.1, y), (x, y - r * 1.1), (x + r * 1.1, y), (x, y + r * 1.1)], fill=s.logo)
    else:  # "text": a few letters as bars
        pt.rect(x - r * 1.3, y - r * 0.8, x + r * 1.3, y - r * 0.15, fill=s.logo)
        pt.rect(x - r * 1.3, y + r * 0.2, x + r * 0.6, y + r * 0.8, fill=s.logo)


def _lower_decor(pt: _Painter, a: np.ndarray, s: Style, shapes, stripes_along) -> None:
    """Lower-body stripes (side stripes on trousers/shorts, bands on a skirt) and patterns, clipped to the garment."""
    h = pt.h
    if a[IDX["LowerPattern"]] and shapes:
        gap = max(4, round(0.034 * h))
        kind = s.lower_pattern

        def pattern(dr, w, hgt, ox, oy):
            if kind == "dots":
                rr = max(1, gap // 4)
                for j, y in enumerate(range(gap // 2, hgt, gap)):
                    for x in range((j % 2) * gap // 2, w, gap):
                        dr.ellipse([x - rr, y - rr, x + rr, y + rr], fill=s.lower2)
            elif kind == "checks":
                for y in range(0, hgt, gap):
                    for x in range(((y // gap) % 2) * (gap // 2), w, gap):
                        dr.rectangle([x, y, x + gap // 2 - 1, y + gap // 2 - 1], fill=s.lower2)
            else:
                rng = np.random.default_rng(int(s.lower2[0] * 7 + s.lower[1]))
                for _ in range(max(3, w * hgt // (gap * gap))):
                    x, y = rng.integers(0, max(1, w)), rng.integers(0, max(1, hgt))
                    rr = int(rng.integers(max(1, gap // 4), max(2, gap // 2)))
                    dr.ellipse([x - rr, y - rr // 2, x + rr, y + rr // 2], fill=s.lower2)

        pt.fill_pattern(shapes, pattern)
    if a[IDX["LowerStripe"]]:
        if stripes_along is None and shapes:  # skirt: horizontal bands
            bw = max(2, round(0.016 * h))

            def bands(dr, w, hgt, ox, oy):
                for y in range(bw * 2, hgt, bw * 3):
                    dr.rectangle([0, y, w, y + bw - 1], fill=s.lower2)

            pt.fill_pattern(shapes, bands)
        elif stripes_along:
            for seg in stripes_along:
                pt.line(seg, s.lower2, 0.016)


def _shoe_and_boot(pt: _Painter, a: np.ndarray, s: Style, ax: float, ay: float, side_view: bool) -> None:
    if a[IDX["boots"]]:
        top = ay - s.boot_len
        if side_view:
            pt.line([(ax - 0.004, top), (ax, ay)], s.boot, 0.05)
            pt.line([(ax, ay + 0.012), (ax + 0.045, ay + 0.026)], s.boot, 0.032)
            pt.line([(ax - 0.004, top), (ax - 0.004, top + 0.008)], _shade(s.boot, 1.5), 0.05)
        else:
            pt.rect(ax - 0.026, top, ax + 0.026, ay + 0.012, fill=s.boot)
            pt.ellipse(ax - 0.03, ay - 0.004, ax + 0.03, ay + 0.04, fill=s.boot)
            pt.rect(ax - 0.026, top, ax + 0.026, top + 0.008, fill=_shade(s.boot, 1.5))
    else:
        if side_view:
            pt.line([(ax - 0.008, ay + 0.022), (ax + 0.042, ay + 0.026)], s.shoe, 0.028)
        else:
            pt.ellipse(ax - 0.026, ay - 0.004, ax + 0.026, ay + 0.04, fill=s.shoe)


# ----------------------------------------------------------------------------------------------------
# front and back views


def _draw_front_back(pt: _Painter, a: np.ndarray, b: _Body, s: Style, pose: Pose, back: bool) -> None:
    phase = 2 * math.pi * pose.phase
    sh, wh, hh = b.sh, b.wh, b.hh
    hem_y = b.hip_y + s.hem
    coat = a[IDX["LongCoat"]]
    hold = a[IDX["HoldObjectsInFront"]]
    hand_side = s.hand_side * (-1 if back else 1)  # the same hand is on the other side of the picture from behind
    bag_side = -hand_side if a[IDX["HandBag"]] else hand_side

    # Legs: quads from the hips to the ankles, the forward foot a little lower.
    legs = {}
    for side in (-1, 1):
        ax = side * (0.046 + s.stance) + 0.006 * math.sin(phase) * side
        ay = b.ankle_y + 0.01 * side * math.sin(phase)
        legs[side] = (ax, ay, [(side * 0.004, b.hip_y - 0.04), (side * hh, b.hip_y - 0.04),
                               (ax + side * 0.022, ay), (ax - side * 0.02, ay)])

    def leg_part(side, y_end):
        _ax, ay, q = legs[side]
        t = (y_end - q[0][1]) / (ay - q[0][1])
        xi = q[0][0] + t * (q[3][0] - q[0][0])
        xo = q[1][0] + t * (q[2][0] - q[1][0])
        return [q[0], q[1], (xo, y_end), (xi, y_end)]

    # Things behind the body: a backpack's top seen from the front, an object held in front seen from behind.
    if a[IDX["Backpack"]] and not back:
        bw = sh * s.backpack_size[0]
        pt.rect(-bw, b.shoulder_y - 0.03 - s.backpack_size[1] * 0.4, bw, b.shoulder_y + 0.06, fill=s.backpack)
    if hold and back:
        ow, oh = s.obj_size
        oy = b.elbow_y - 0.02
        pt.rect(-ow / 2, oy, ow / 2, oy + oh, fill=s.obj)

    leg_col = _lower_color_legs(a, s)
    for side in (-1, 1):
        pt.poly(legs[side][2], leg_col)
    lower_shapes: list = []
    stripes_along: list | None = []
    if a[IDX["Trousers"]]:
        lower_shapes = [legs[-1][2], legs[1][2]]
        stripes_along = [[(side * hh * 0.98, b.hip_y - 0.03), (legs[side][0] + side * 0.018, legs[side][1] - 0.01)]
                         for side in (-1, 1)]
    if a[IDX["Shorts"]]:
        y_end = b.hip_y + s.shorts_len * (b.knee_y - b.hip_y)
        parts = [leg_part(side, y_end) for side in (-1, 1)]
        for q in parts:
            pt.poly(q, s.lower)
        lower_shapes = lower_shapes + parts
        stripes_along = [[(side * hh * 0.98, b.hip_y - 0.03), (q[2][0] - side * 0.004, y_end)] for side, q in zip((-1, 1), parts)]
    if not (a[IDX["Trousers"]] or a[IDX["Shorts"]] or a[IDX["Skirt&Dress"]]):
        for side in (-1, 1):  # underwear only
            pt.poly(leg_part(side, b.hip_y + 0.04), _shade(s.lower, 0.8))
    for side in (-1, 1):
        _shoe_and_boot(pt, a, s, legs[side][0], legs[side][1], False)
    if a[IDX["Skirt&Dress"]]:
        hem = b.hip_y + s.skirt_len * (b.ankle_y - b.hip_y)
        fl = s.skirt_flare * (1.0 + 0.5 * s.skirt_len)
        skirt = [(-wh * 1.02, b.waist_y), (wh * 1.02, b.waist_y), (hh * fl, hem), (-hh * fl, hem)]
        pt.poly(skirt, _skirt_color(a, s))
        lower_shapes = [skirt]
        stripes_along = None
    _lower_decor(pt, a, s, lower_shapes, stripes_along)

    # Upper garment (a long coat replaces it and reaches the knees).
    top = [(-sh * 0.45, b.shoulder_y - 0.006), (sh * 0.45, b.shoulder_y - 0.006), (sh, b.shoulder_y + 0.014),
           (sh * 0.96, b.shoulder_y + 0.075), (wh, b.waist_y)]
    if coat:
        coat_y = b.knee_y + s.coat_len - 0.02
        torso = top + [(hh * 1.28, coat_y), (-hh * 1.28, coat_y)]
        base = s.coat
    else:
        torso = top + [(hh * 1.02, hem_y), (-hh * 1.02, hem_y)]
        base = s.upper
    torso = torso + [(-x, y) for x, y in reversed(top)]
    torso = [p for i, p in enumerate(torso) if p not in torso[:i]]
    if a[IDX["Skirt&Dress"]] and s.dress and not coat:
        base = _skirt_color(a, s)
    shapes = [torso]
    if coat and s.coat_open and not back:
        # An open coat: the shirt shows between two panels, and below it whatever is worn on the legs.
        shirt = top + [(hh * 1.02, hem_y), (-hh * 1.02, hem_y)] + [(-x, y) for x, y in reversed(top)]
        pt.poly(shirt, s.upper)
        right = [(0.012, b.shoulder_y - 0.006)] + top[1:] + [(hh * 1.28, coat_y), (0.05, coat_y)]
        shapes = [right, [(-x, y) for x, y in right]]
        for panel in shapes:
            pt.poly(panel, base)
    else:
        pt.poly(torso, base)
    if coat:
        if not (s.coat_open and not back):
            pt.line([(0, b.waist_y if not back else b.shoulder_y + 0.05), (0, coat_y)], _shade(s.coat, 0.7), 0.008)
        for side in (-1, 1):
            pt.line([(side * 0.03, b.waist_y), (side * wh * 1.05, b.waist_y)], _shade(s.coat, 0.7), 0.012)
    logo_at = (s.logo_pos[0], b.shoulder_y + s.logo_pos[1] + (0.02 if back else 0.0))
    if back and a[IDX["Backpack"]]:
        logo_at = None  # under the pack
    _upper_patterns(pt, a, s, shapes, b, logo_at, 1.15 if back else 1.0)
    if not back:  # neckline
        pt.poly([(-0.018, b.shoulder_y - 0.006), (0.018, b.shoulder_y - 0.006), (0, b.shoulder_y + 0.022)], s.skin)
    pt.rect(-b.head_w * 0.2, b.head_top + b.head_h - 0.012, b.head_w * 0.2, b.shoulder_y - 0.004, fill=s.skin)

    # Backpack from behind: the whole pack; from the front: straps.
    if a[IDX["Backpack"]]:
        bw = sh * s.backpack_size[0]
        if back:
            y0 = b.shoulder_y - 0.02 - s.backpack_size[1] * 0.4
            y1 = b.waist_y + 0.02 + s.backpack_size[1]
            pt.draw.rounded_rectangle(pt.box(-bw, y0, bw, y1), radius=pt.px(0.02), fill=s.backpack)
            pt.rect(-bw * 0.65, y0 + (y1 - y0) * 0.55, bw * 0.65, y1 - 0.012, fill=_shade(s.backpack, 0.72))
            pt.line([(-bw * 0.8, y0 + 0.02), (bw * 0.8, y0 + 0.02)], _shade(s.backpack, 0.6), 0.008)
        else:
            for side in (-1, 1):
                pt.line([(side * sh * 0.55, b.shoulder_y - 0.004), (side * sh * 0.62, b.shoulder_y + 0.17)], s.backpack, 0.024)
            pt.line([(-sh * 0.6, b.shoulder_y + 0.1), (sh * 0.6, b.shoulder_y + 0.1)], s.backpack, 0.01)

    # Shoulder bag: a diagonal strap across the torso to a bag on the opposite hip.
    if a[IDX["ShoulderBag"]]:
        bw, bh = s.shoulderbag_size
        bx = bag_side * (hh + 0.018)
        by = b.hip_y - 0.075
        pt.line([(-bag_side * sh * 0.55, b.shoulder_y - 0.004), (bx - bag_side * 0.01, by + 0.005)], s.strap, 0.016)

    # Arms, with the sleeve pattern given by the sleeve attributes.
    sleeve = _sleeve_color(a, s)
    long_sleeve = a[IDX["LongSleeve"]] or coat
    short_sleeve = a[IDX["ShortSleeve"]] and not long_sleeve
    for side in (-1, 1):
        sway = 0.006 * math.sin(phase + (0 if side > 0 else math.pi))
        sj = (side * (sh - b.arm_w * 0.45), b.shoulder_y + 0.018)
        if hold and not back:
            ow, oh = s.obj_size
            el = (side * (sh + 0.006), b.elbow_y - 0.005)
            wr = (side * (ow / 2 - 0.012), b.elbow_y + oh * 0.5)
        elif hold and back:
            el = (side * (sh + 0.028), b.elbow_y - 0.01)
            wr = (side * (sh + 0.005), b.elbow_y + 0.03)
        elif a[IDX["HandBag"]] and side == hand_side:
            el = (side * (sh + 0.012), b.elbow_y)
            wr = (side * (sh + 0.014), b.wrist_y)
        else:
            el = (side * (sh + 0.008) + sway, b.elbow_y)
            wr = (side * (sh - 0.002) + 1.5 * sway, b.wrist_y)
        if long_sleeve:
            pt.line([sj, el], sleeve, b.arm_w)
            pt.line([el, wr], sleeve, b.arm_w * 0.86)
        else:
            pt.line([sj, el], s.skin, b.arm_w * 0.9)
            pt.line([el, wr], s.skin, b.arm_w * 0.8)
            if short_sleeve:
                mid = (sj[0] + 0.55 * (el[0] - sj[0]), sj[1] + 0.55 * (el[1] - sj[1]))
                pt.line([sj, mid], sleeve, b.arm_w * 1.18)
        if not (hold and back):
            pt.ellipse(wr[0] - 0.017, wr[1] - 0.008, wr[0] + 0.017, wr[1] + 0.026, fill=s.skin)

    if a[IDX["ShoulderBag"]]:
        bw, bh = s.shoulderbag_size
        bx = bag_side * (hh + 0.018)
        by = b.hip_y - 0.075
        pt.rect(bx - bw / 2, by, bx + bw / 2, by + bh, fill=s.shoulderbag)
        pt.rect(bx - bw / 2, by, bx + bw / 2, by + bh * 0.35, fill=_shade(s.shoulderbag, 0.75))
    if a[IDX["HandBag"]]:
        bw, bh = s.handbag_size
        hx, hy = hand_side * (sh + 0.014), b.wrist_y + 0.012
        bx = hx + hand_side * 0.008
        by = hy + 0.03
        dark = _shade(s.handbag, 0.6)
        pt.line([(bx - bw * 0.3, by), (hx, hy), (bx + bw * 0.3, by)], dark, 0.008)
        pt.draw.rounded_rectangle(pt.box(bx - bw / 2, by, bx + bw / 2, by + bh), radius=pt.px(0.008), fill=s.handbag)
    if hold and not back:
        ow, oh = s.obj_size
        oy = b.elbow_y + 0.005
        pt.rect(-ow / 2, oy, ow / 2, oy + oh, fill=s.obj)
        pt.line([(-ow / 2, oy + oh * 0.5), (ow / 2, oy + oh * 0.5)], _shade(s.obj, 0.7), 0.01)
        for side in (-1, 1):
            x = side * (ow / 2 - 0.004)
            pt.ellipse(x - 0.016, oy + oh * 0.35, x + 0.016, oy + oh * 0.35 + 0.03, fill=s.skin)

    _head_front_back(pt, a, b, s, back)


def _head_front_back(pt: _Painter, a: np.ndarray, b: _Body, s: Style, back: bool) -> None:
    hw, hh_, top = b.head_w, b.head_h, b.head_top
    bot = top + hh_
    hair_style = s.hair_style
    if back:
        if hair_style == "bald":
            pt.ellipse(-hw * 0.5, top, hw * 0.5, bot, fill=s.skin)
            pt.ellipse(-hw * 0.52, top + hh_ * 0.45, hw * 0.52, bot + 0.004, fill=s.hair)
        else:
            pt.ellipse(-hw * 0.54, top - 0.005, hw * 0.54, bot + 0.002, fill=s.hair)
        if hair_style == "long":
            pt.poly([(-hw * 0.55, top + hh_ * 0.5), (hw * 0.55, top + hh_ * 0.5),
                     (hw * 0.62, b.shoulder_y + s.hair_len), (-hw * 0.62, b.shoulder_y + s.hair_len)], s.hair)
        elif hair_style == "ponytail":
            pt.ellipse(-hw * 0.16, bot - 0.01, hw * 0.16, b.shoulder_y + s.hair_len * 0.6, fill=s.hair)
    else:
        if hair_style != "bald":
            pt.ellipse(-hw * 0.54, top - 0.005, hw * 0.54, top + hh_ * 0.78, fill=s.hair)
        pt.ellipse(-hw * 0.46, top + hh_ * (s.fringe if hair_style != "bald" else 0.04), hw * 0.46, bot, fill=s.skin)
        if hair_style == "bald":
            for side in (-1, 1):
                pt.ellipse(side * hw * 0.5 - hw * 0.08, top + hh_ * 0.3, side * hw * 0.5 + hw * 0.08, top + hh_ * 0.6, fill=s.hair)
        if hair_style == "long":  # hair falls beside the face onto the shoulders
            for side in (-1, 1):
                pt.poly([(side * hw * 0.36, top + hh_ * 0.3), (side * hw * 0.56, top + hh_ * 0.3),
                         (side * hw * 0.68, b.shoulder_y + s.hair_len), (side * hw * 0.42, b.shoulder_y + s.hair_len)], s.hair)
        ey = top + hh_ * 0.53
        eye = (34, 26, 26)
        r = max(0.0045, 0.6 / pt.h)
        for side in (-1, 1):
            pt.ellipse(side * hw * 0.2 - r, ey - r, side * hw * 0.2 + r, ey + r, fill=eye)
        pt.line([(-hw * 0.12, top + hh_ * 0.8), (hw * 0.12, top + hh_ * 0.8)], _shade(s.skin, 0.7), 0.006)
        if a[IDX["Glasses"]]:
            lw, lh = hw * 0.19, hh_ * 0.09
            for side in (-1, 1):
                x = side * hw * 0.21
                if s.sunglasses:
                    pt.rect(x - lw, ey - lh, x + lw, ey + lh, fill=s.glasses)
                else:
                    pt.rect(x - lw, ey - lh, x + lw, ey + lh, fill=_shade(s.skin, 1.1), outline=s.glasses, width=0.008)
                pt.line([(side * (hw * 0.21 + lw), ey - lh * 0.5), (side * hw * 0.5, ey - lh * 0.7)], s.glasses, 0.007)
            pt.line([(-hw * 0.03, ey - lh * 0.3), (hw * 0.03, ey - lh * 0.3)], s.glasses, 0.008)
    if a[IDX["Hat"]]:
        _hat(pt, b, s, side_view=False)


def _hat(pt: _Painter, b: _Body, s: Style, side_view: bool) -> None:
    hw, hh_, top = b.head_w, b.head_h, b.head_top
    if s.hat_style == "cap":
        pt.upper_half(-hw * 0.57, top - 0.014, hw * 0.57, top + hh_ * 0.66, s.hat)
        if side_view:
            pt.rect(hw * 0.3, top + hh_ * 0.25, hw * 1.05, top + hh_ * 0.35, fill=s.hat2)
        else:
            pt.rect(-hw * 0.6, top + hh_ * 0.24, hw * 0.6, top + hh_ * 0.36, fill=s.hat2)
    elif s.hat_style == "beanie":
        pt.upper_half(-hw * 0.58, top - 0.02, hw * 0.58, top + hh_ * 0.84, s.hat)
        pt.rect(-hw * 0.58, top + hh_ * 0.26, hw * 0.58, top + hh_ * 0.4, fill=s.hat2)
    else:  # a hat with a crown and a wide brim
        pt.rect(-hw * 0.44, top - 0.03, hw * 0.44, top + hh_ * 0.3, fill=s.hat)
        pt.rect(-hw * 0.44, top + hh_ * 0.14, hw * 0.44, top + hh_ * 0.24, fill=s.hat2)
        pt.ellipse(-hw * 0.95, top + hh_ * 0.22, hw * 0.95, top + hh_ * 0.38, fill=s.hat)


# ----------------------------------------------------------------------------------------------------
# side view (facing +x; the painter mirrors it for people facing left)


def _seg_quad(p0, p1, width: float):
    """The quad covered by a segment drawn ``width`` wide (fractional coordinates)."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    n = math.hypot(dx, dy) or 1.0
    ox, oy = -dy / n * width / 2, dx / n * width / 2
    return [(p0[0] + ox, p0[1] + oy), (p1[0] + ox, p1[1] + oy), (p1[0] - ox, p1[1] - oy), (p0[0] - ox, p0[1] - oy)]


def _draw_side(pt: _Painter, a: np.ndarray, b: _Body, s: Style, pose: Pose) -> None:
    phase = 2 * math.pi * pose.phase
    th = b.sh * 0.56  # half depth of the torso
    hem_y = b.hip_y + s.hem
    coat = a[IDX["LongCoat"]]
    hold = a[IDX["HoldObjectsInFront"]]
    pt.lean = (s.lean, b.hip_y)

    leg_col = _lower_color_legs(a, s)
    hip = (0.0, b.hip_y - 0.03)
    thigh = b.knee_y - hip[1]
    shin = b.ankle_y - b.knee_y

    def leg(angle_sign):
        sw = angle_sign * 0.34 * math.sin(phase)
        knee = (hip[0] + thigh * math.sin(sw), hip[1] + thigh * math.cos(sw))
        bend = 0.12 + 0.35 * max(0.0, -angle_sign * math.cos(phase))
        ank = (knee[0] + shin * math.sin(sw - bend), knee[1] + shin * math.cos(sw - bend))
        return knee, ank

    leg_shapes: list = []

    def draw_leg(knee, ank, shade):
        col = _shade(leg_col, shade)
        pt.line([hip, knee], col, 0.062)
        pt.line([knee, ank], col, 0.048)
        if a[IDX["Trousers"]]:
            leg_shapes.extend([_seg_quad(hip, knee, 0.062), _seg_quad(knee, ank, 0.048)])
        elif a[IDX["Shorts"]]:
            f = s.shorts_len
            end = (hip[0] + f * (knee[0] - hip[0]), hip[1] + f * (knee[1] - hip[1]))
            pt.line([hip, end], _shade(s.lower, shade), 0.072)
            leg_shapes.append(_seg_quad(hip, end, 0.072))
        _shoe_and_boot(pt, a, s, ank[0], ank[1], True)

    far_knee, far_ank = leg(-1)
    near_knee, near_ank = leg(1)
    swing = 0.3 * math.sin(phase)

    def arm(sw, shade, holding=False, bag=False):
        sj = (th * 0.05, b.shoulder_y + 0.022)
        up = b.elbow_y - b.shoulder_y
        fore = b.wrist_y - b.elbow_y
        if holding:
            el = (sj[0] + up * 0.35, sj[1] + up * 0.94)
            wr = (el[0] + fore * 0.85, el[1] - 0.01)
        else:
            sw = 0.03 if bag else sw
            el = (sj[0] + up * math.sin(sw), sj[1] + up * math.cos(sw))
            wr = (el[0] + fore * math.sin(sw + 0.2), el[1] + fore * math.cos(sw + 0.2))
        return sj, el, wr

    def draw_arm(sj, el, wr, shade):
        sleeve = _shade(_sleeve_color(a, s), shade * 0.88 if shade == 1.0 else shade)
        skin = _shade(s.skin, shade)
        if a[IDX["LongSleeve"]] or coat:
            pt.line([sj, el], sleeve, b.arm_w)
            pt.line([el, wr], sleeve, b.arm_w * 0.86)
        else:
            pt.line([sj, el], skin, b.arm_w * 0.9)
            pt.line([el, wr], skin, b.arm_w * 0.8)
            if a[IDX["ShortSleeve"]]:
                mid = (sj[0] + 0.55 * (el[0] - sj[0]), sj[1] + 0.55 * (el[1] - sj[1]))
                pt.line([sj, mid], sleeve, b.arm_w * 1.18)
        pt.ellipse(wr[0] - 0.016, wr[1] - 0.008, wr[0] + 0.016, wr[1] + 0.024, fill=skin)

    # Far side: arm and leg, darker.
    draw_arm(*arm(swing, 0.8, holding=hold), 0.8)
    draw_leg(far_knee, far_ank, 0.82)
    if a[IDX["Backpack"]]:
        depth = 0.055 + s.backpack_size[1]
        pt.draw.rounded_rectangle(pt.box(-th - depth, b.shoulder_y - 0.01, -th * 0.6, b.waist_y + 0.015),
                                  radius=pt.px(0.015), fill=s.backpack)
        pt.rect(-th - depth - 0.01, b.shoulder_y + 0.11, -th - depth * 0.4, b.waist_y, fill=_shade(s.backpack, 0.75))
    draw_leg(near_knee, near_ank, 1.0)
    lower_shapes: list = []
    stripes_along: list | None = []
    if a[IDX["Trousers"]] or a[IDX["Shorts"]]:
        pelvis = [(-th * 1.0, hem_y - 0.03), (th * 0.95, hem_y - 0.03), (th * 0.85, b.hip_y + 0.04), (-th * 0.9, b.hip_y + 0.04)]
        pt.poly(pelvis, s.lower)
        lower_shapes = [pelvis] + leg_shapes
        f = s.shorts_len if a[IDX["Shorts"]] and not a[IDX["Trousers"]] else 1.0
        end = (hip[0] + f * (near_knee[0] - hip[0]), hip[1] + f * (near_knee[1] - hip[1])) if f < 1 else near_ank
        stripes_along = [[(0.0, b.hip_y - 0.02), near_knee if f >= 1 else end] + ([near_ank] if f >= 1 else [])]
    elif not a[IDX["Skirt&Dress"]]:
        pt.poly([(-th * 1.0, hem_y - 0.03), (th * 0.95, hem_y - 0.03), (th * 0.85, b.hip_y + 0.03), (-th * 0.9, b.hip_y + 0.03)],
                _shade(s.lower, 0.8))
    if a[IDX["Skirt&Dress"]]:
        hem = b.hip_y + s.skirt_len * (b.ankle_y - b.hip_y)
        fl = s.skirt_flare * (1.2 + 0.6 * s.skirt_len)
        skirt = [(-th, b.waist_y), (th, b.waist_y), (th * fl, hem), (-th * fl, hem)]
        pt.poly(skirt, _skirt_color(a, s))
        lower_shapes = [skirt]
        stripes_along = None
    _lower_decor(pt, a, s, lower_shapes, stripes_along)

    top = [(-th * 0.4, b.shoulder_y - 0.008), (th * 0.6, b.shoulder_y - 0.002), (th * 1.05, b.shoulder_y + 0.07),
           (th * 0.9, b.waist_y)]
    back_side = [(-th * 0.85, b.waist_y), (-th * 1.05, b.shoulder_y + 0.08), (-th * 0.9, b.shoulder_y + 0.01)]
    if coat:
        coat_y = b.knee_y + s.coat_len - 0.02
        torso = top + [(th * 1.35, coat_y), (-th * 1.4, coat_y)] + back_side
        base = s.coat
    else:
        torso = top + [(th * 0.95, hem_y), (-th * 1.0, hem_y)] + back_side
        base = _skirt_color(a, s) if a[IDX["Skirt&Dress"]] and s.dress else s.upper
    pt.poly(torso, base)
    if coat:
        pt.line([(th * 0.9, b.waist_y), (th * 1.3, coat_y)], _shade(s.coat, 0.7), 0.008)
    _upper_patterns(pt, a, s, [torso], b, (th * 0.45, b.shoulder_y + s.logo_pos[1] + 0.01), 0.8)
    pt.rect(-b.head_w * 0.22, b.head_top + b.head_h - 0.015, b.head_w * 0.18, b.shoulder_y + 0.004, fill=s.skin)

    if a[IDX["Backpack"]]:
        pt.line([(th * 0.25, b.shoulder_y - 0.004), (th * 0.55, b.shoulder_y + 0.13)], s.backpack, 0.02)
    if a[IDX["ShoulderBag"]]:
        bw, bh = s.shoulderbag_size
        by = b.hip_y - 0.075
        pt.line([(0.0, b.shoulder_y - 0.004), (-th * 0.15, by + 0.004)], s.strap, 0.016)
        pt.rect(-th * 0.2 - bw * 0.6, by, -th * 0.2 + bw * 0.4, by + bh, fill=s.shoulderbag)
        pt.rect(-th * 0.2 - bw * 0.6, by, -th * 0.2 + bw * 0.4, by + bh * 0.35, fill=_shade(s.shoulderbag, 0.75))
    if hold:
        ow, oh = s.obj_size
        sj, el, wr = arm(0, 1.0, holding=True)
        pt.rect(th * 0.8, wr[1] - oh * 0.6, th * 0.8 + ow * 0.5, wr[1] + oh * 0.4, fill=s.obj)
        pt.line([(th * 0.8, wr[1] - oh * 0.1), (th * 0.8 + ow * 0.5, wr[1] - oh * 0.1)], _shade(s.obj, 0.7), 0.01)
        draw_arm(sj, el, wr, 1.0)
    else:
        sj, el, wr = arm(-swing, 1.0, bag=a[IDX["HandBag"]])
        draw_arm(sj, el, wr, 1.0)
    if a[IDX["HandBag"]]:
        bw, bh = s.handbag_size
        bw *= 0.8
        dark = _shade(s.handbag, 0.6)
        by = wr[1] + 0.03
        bx = wr[0] if not hold else -th * 0.3
        pt.line([(bx - bw * 0.3, by), (bx, wr[1] + 0.01 if not hold else by - 0.03), (bx + bw * 0.3, by)], dark, 0.008)
        pt.draw.rounded_rectangle(pt.box(bx - bw / 2, by, bx + bw / 2, by + bh), radius=pt.px(0.008), fill=s.handbag)

    _head_side(pt, a, b, s)


def _head_side(pt: _Painter, a: np.ndarray, b: _Body, s: Style) -> None:
    hw, hh_, top = b.head_w, b.head_h, b.head_top
    bot = top + hh_
    x0, x1 = -hw * 0.48, hw * 0.5
    if s.hair_style == "long":
        pt.poly([(-hw * 0.55, top + hh_ * 0.4), (-hw * 0.05, top + hh_ * 0.4), (-hw * 0.1, b.shoulder_y + s.hair_len),
                 (-hw * 0.62, b.shoulder_y + s.hair_len)], s.hair)
    pt.ellipse(x0, top, x1, bot, fill=s.skin)
    if s.hair_style == "bald":
        pt.ellipse(x0 - 0.003, top + hh_ * 0.4, 0.0, top + hh_ * 0.75, fill=s.hair)
    else:
        pt.ellipse(x0 - 0.004, top - 0.005, x1 + 0.002, top + hh_ * 0.62, fill=s.hair)
        pt.poly([(x0 - 0.004, top + hh_ * 0.3), (0.0, top + hh_ * 0.3), (0.0, top + hh_ * 0.78),
                 (x0 + 0.004, top + hh_ * 0.82)], s.hair)
        pt.ellipse(-hw * 0.05, top + hh_ * s.fringe, x1, bot, fill=s.skin)
        if s.hair_style == "ponytail":
            pt.ellipse(x0 - hw * 0.35, top + hh_ * 0.3, x0 + hw * 0.1, top + hh_ * 0.75, fill=s.hair)
    pt.ellipse(-hw * 0.1, top + hh_ * 0.45, hw * 0.06, top + hh_ * 0.65, fill=_shade(s.skin, 0.85))  # ear
    pt.poly([(x1 - 0.004, top + hh_ * 0.45), (x1 + hw * 0.16, top + hh_ * 0.62), (x1 - 0.004, top + hh_ * 0.68)], s.skin)
    ey = top + hh_ * 0.53
    r = max(0.0045, 0.6 / pt.h)
    pt.ellipse(hw * 0.3 - r, ey - r, hw * 0.3 + r, ey + r, fill=(34, 26, 26))
    if a[IDX["Glasses"]]:
        lw, lh = hw * 0.14, hh_ * 0.09
        if s.sunglasses:
            pt.rect(hw * 0.32 - lw, ey - lh, hw * 0.32 + lw, ey + lh, fill=s.glasses)
        else:
            pt.rect(hw * 0.32 - lw, ey - lh, hw * 0.32 + lw, ey + lh, fill=_shade(s.skin, 1.1), outline=s.glasses, width=0.008)
        pt.line([(hw * 0.32 - lw, ey - lh * 0.5), (-hw * 0.05, ey - lh * 0.2)], s.glasses, 0.008)
    if a[IDX["Hat"]]:
        _hat(pt, b, s, side_view=True)


def render_person(
    attributes, seed: int = 0, size: tuple[int, int] = (64, 128), background: Color = (176, 176, 172),
    direction: int = 1, phase: float = 0.25, base_height: int = 192,
) -> Image.Image:
    """One pedestrian from an explicit 26-vector of PA-100K labels, ``size`` = (width, height), on a plain background.

    The look (colours, hair, accessory shapes) is drawn from ``seed`` with a fixed number of draws, so the
    same seed with one attribute switched changes only what that attribute shows (and, for gender and
    age, the priors they shift).
    """
    a = np.asarray(attributes)
    if a.shape != (len(ATTRIBUTES),):
        raise ValueError(f"attributes must have shape ({len(ATTRIBUTES)},), found {a.shape}")
    if not np.isin(a, (0, 1)).all():
        raise ValueError("attributes must be 0/1 labels")
    w, h = size
    if w < 8 or h < 16:
        raise ValueError(f"size must be at least (8, 16), found {size}")
    style = sample_style(a, np.random.default_rng([int(seed), 3]))
    bw = max(16, round(base_height * w / h))
    img = Image.new("RGB", (bw, base_height), background)
    pose = Pose(direction=1 if direction >= 0 else -1, phase=phase, cx=bw / 2, top=base_height * 0.05,
                height=base_height * 0.9)
    draw_person(img, a, style, pose)
    if (bw, base_height) != (w, h):
        img = img.resize((w, h), Image.BILINEAR)
    return img
