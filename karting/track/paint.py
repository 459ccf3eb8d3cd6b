"""Painting -> asphalt: which pixels of a track PNG are asphalt, decided from the image's own
colours (any two paints, anti-aliased, on an opaque or transparent background)."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..numerics import gaussian_filter
from .errors import TrackError

DEFAULT_SCALE_M_PER_PX = 0.5
MAX_IMAGE_PIXELS = 16_000_000    # ~4000 x 4000; larger images are refused (decompression bombs)
MIN_IMAGE_PX = 32                # a smaller image cannot hold a loop with an infield
#: Otsu's eta (between-class / total variance) of two paints with anti-aliased edges is > 0.95;
#: one flat distribution (a gradient) gives 0.75, a bell curve (a photo of grass) ~0.64
MIN_SEPARABILITY = 0.85
MIN_CONTRAST = 20.0              # the two paints must differ by this much (0-255 levels)
SPECK_M = 2.0                    # grass specks inside the asphalt smaller than SPECK_M x SPECK_M are paint noise


def read_image_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) float32 RGB 0..255 with alpha composited on white (transparent = grass)."""
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            w, h = im.size
            if w * h > MAX_IMAGE_PIXELS:
                raise TrackError(f"{path}: image is {w}x{h} pixels, more than the {MAX_IMAGE_PIXELS:,} "
                                 "this loader accepts; scale it down (1000-3000 px a side is plenty)")
            if min(w, h) < MIN_IMAGE_PX:
                raise TrackError(f"{path}: image is only {w}x{h} pixels; a track needs at least "
                                 f"{MIN_IMAGE_PX}x{MIN_IMAGE_PX} (at {DEFAULT_SCALE_M_PER_PX} m/px a 1 km "
                                 "circuit is ~600x400 px): paint it on a larger canvas")
            has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
            rgba = np.asarray(im.convert("RGBA" if has_alpha else "RGB"), dtype=np.float32)
    except TrackError:
        raise
    except FileNotFoundError:
        raise TrackError(f"{path}: file not found") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise TrackError(f"{path}: image too large to handle safely ({e}); scale it down") from None
    except Exception as e:  # PIL raises many types for broken files
        raise TrackError(f"{path}: not a readable image ({type(e).__name__}: {e}); "
                         "save the track as a PNG (dark asphalt on light grass)") from None
    if not has_alpha:
        return rgba
    rgb, a = rgba[..., :3], rgba[..., 3:4] / 255.0
    return rgb * a + 255.0 * (1.0 - a)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(H, W) luminance 0..255 of an RGB image (ITU-R BT.601 weights)."""
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32)


@dataclass
class Split:
    """A two-tone split of one pixel feature (luminance or chroma) found by Otsu's method."""
    eta: float           # Otsu's separability: between-class / total variance (1 = two pure tones)
    low_mode: float      # the most common value of each class: the two paints
    high_mode: float

    @property
    def threshold(self) -> float:
        """Half way between the two paints."""
        # half way between the two paints: an anti-aliased edge pixel goes to the paint that
        # covers more than half of it (for black on white this is the old fixed 128)
        return (self.low_mode + self.high_mode) / 2.0

    @property
    def usable(self) -> bool:
        """Two distinct paints: separable enough and far enough apart in value."""
        return self.eta >= MIN_SEPARABILITY and self.high_mode - self.low_mode >= MIN_CONTRAST


def otsu_split(values: np.ndarray) -> Split:
    """Otsu (1979) on a 256-bin histogram of values in [0, 256)."""
    hist = np.bincount(np.clip(values.astype(np.int32), 0, 255).ravel(), minlength=256).astype(np.float64)
    p = hist / hist.sum()
    centres = np.arange(256) + 0.5
    omega = np.cumsum(p)
    mu = np.cumsum(p * centres)
    mu_t = mu[-1]
    var_t = float(np.sum(p * (centres - mu_t) ** 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        var_b = (mu_t * omega - mu) ** 2 / (omega * (1.0 - omega))
    var_b = np.nan_to_num(var_b[:-1], nan=0.0, posinf=0.0)
    if var_t <= 1e-9 or not var_b.any():
        return Split(0.0, float(centres[np.argmax(hist)]), float(centres[np.argmax(hist)]))
    k = int(np.argmax(var_b))
    return Split(float(var_b[k] / var_t), float(centres[np.argmax(hist[:k + 1])]),
                 float(centres[k + 1 + np.argmax(hist[k + 1:])]))


def _grass_coloured(rgb_mean) -> bool:
    """Saturated green, yellow-green or brown: a colour people paint grass (or earth) with."""
    r, g, b = (float(v) for v in rgb_mean)
    hi, lo = max(r, g, b), min(r, g, b)
    if hi - lo < 40:
        return False
    if hi == r:
        hue = 60.0 * (((g - b) / (hi - lo)) % 6)
    elif hi == g:
        hue = 60.0 * ((b - r) / (hi - lo) + 2)
    else:
        hue = 60.0 * ((r - g) / (hi - lo) + 4)
    return 20.0 <= hue <= 170.0


def classify_asphalt(path: Path, rgb: np.ndarray) -> np.ndarray:
    """(H, W) bool: which pixels are painted asphalt, decided from the image's own colours.

    The painting is taken to be two paints plus their anti-aliased mixtures. Otsu's threshold on
    luminance finds the two; the darker one is asphalt (black on white, grey on green, pencil on
    paper), unless the darker one is grass-coloured (saturated green/brown) and the lighter one
    is grey, e.g. a light grey track on dark green grass. Where the two paints have about the same
    luminance, the split is made on chroma instead: the grey one is asphalt. An image with no
    clear two-tone split (a photo, a gradient, noise) is refused."""
    lum = luminance(rgb)
    # the split is found on a lightly blurred copy (scanner or sensor noise averages out, the
    # two paints stay where they are); the pixels themselves are then classified unblurred
    split = otsu_split(gaussian_filter(lum, 1.0))
    step = max(1, int(math.sqrt(lum.size / 250_000)))     # colour means from ~250k pixels
    if split.usable:
        dark = lum < split.threshold
        sub, sub_dark = rgb[::step, ::step], dark[::step, ::step]
        dark_mean, light_mean = sub[sub_dark].mean(axis=0), sub[~sub_dark].mean(axis=0)
        light_grey = float(light_mean.max() - light_mean.min()) < 25.0
        return ~dark if (_grass_coloured(dark_mean) and light_grey) else dark
    chroma = rgb.max(axis=-1) - rgb.min(axis=-1)
    csplit = otsu_split(gaussian_filter(chroma, 1.0))
    if csplit.usable:
        grey = chroma < csplit.threshold
        if not _grass_coloured(rgb[::step, ::step][~grey[::step, ::step]].mean(axis=0)):
            raise TrackError(
                f"{path}: the two colours of the image have the same brightness and neither looks "
                "like grass; paint the track darker than the grass (e.g. dark grey on white or green)")
        return grey
    tone = "only one colour (nothing painted on it?)" if split.eta == 0.0 else (
        f"no clear two-tone split (separability {split.eta:.2f}, needs {MIN_SEPARABILITY}; "
        f"paints {split.low_mode:.0f} and {split.high_mode:.0f} of 255 in brightness)")
    raise TrackError(f"{path}: cannot tell asphalt from grass: the image has {tone}. Paint the "
                     "track in one dark colour on a light background (black on white, grey on "
                     "green), without shading or photos")


def asphalt_mask(path: Path, rgb: np.ndarray, scale: float = DEFAULT_SCALE_M_PER_PX) -> np.ndarray:
    """(H, W) bool: the one connected asphalt loop of the painting, clear of the image border,
    paint specks inside it filled; TrackError otherwise."""
    from scipy import ndimage
    dark = classify_asphalt(path, rgb)
    if not dark.any():
        raise TrackError(f"{path}: no dark (asphalt) pixels found; draw the track in black on white")
    labels, n = ndimage.label(dark, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel())[1:]
    big = np.flatnonzero(sizes >= max(200, 0.02 * sizes.max())) + 1
    if len(big) == 0:
        raise TrackError(f"{path}: the asphalt is only specks (largest {sizes.max()} px); paint the "
                         "track as one thick closed loop")
    if len(big) > 1:
        raise TrackError(f"{path}: {len(big)} separate asphalt areas found (sizes "
                         f"{sorted(sizes[big - 1].tolist(), reverse=True)} px); a track must be one "
                         "connected loop: join them or erase the extra ones")
    mask = labels == big[0]
    if mask[0, :].any() or mask[-1, :].any() or mask[:, 0].any() or mask[:, -1].any():
        raise TrackError(f"{path}: the asphalt touches the image border; leave a grass margin "
                         "(at least a few pixels) all around the track")
    # specks of the light paint inside the asphalt (scanner noise, a missed brush stroke) are
    # asphalt too; the infield and any real island are far larger
    holes, k = ndimage.label(~mask)
    if k > 2:
        hole_px = np.bincount(holes.ravel())
        speck = np.flatnonzero(hole_px < max(4.0, (SPECK_M / scale) ** 2))
        speck = speck[speck > 0]
        if len(speck):
            mask |= np.isin(holes, speck)
    return mask
