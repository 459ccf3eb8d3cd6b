"""The one video writer of the commands (play, demo): MP4 through imageio-ffmpeg, or a GIF."""
from __future__ import annotations

from pathlib import Path


def write_video(path, frames, fps=20):
    """Write RGB frames ((H, W, 3) uint8) as an MP4 (or, by suffix, a GIF at half the frame rate)."""
    from .extras import require
    imageio = require("imageio.v2", "video")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        imageio.mimsave(path, frames[::2], duration=0.1, loop=0)
    else:
        imageio.mimsave(path, frames, fps=fps, macro_block_size=16)
    return path
