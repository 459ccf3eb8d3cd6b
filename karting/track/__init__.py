"""Tracks: a PNG painted in two colours plus an optional entry in ``checkpoints.json``.

Modules, each importing only those above it: ``errors``; ``geometry`` (curvature, resampling,
frames, areas, distance transform); ``paint`` (which pixels are asphalt); ``entry`` (one
checkpoints.json entry); ``raceline`` (racing line, QSS lap time); ``build`` (PNG -> Track);
``catalog`` (names, checkpoints.json, the disk cache, :func:`load_track`); ``gates``,
``generate`` (painting, CSV import, procedural tracks) and ``trackset`` (several tracks as flat
per-kart lookups). The names below are the package's public API.
"""
from .build import (
                    ASPHALT,
                    BARRIER,
                    CENTRE_SPACING_M,
                    DEFAULT_TRACKS_DIR,
                    GATE_SPACING_M,
                    GRASS,
                    KERB,
                    MIN_TRACK_WIDTH_M,
                    RACING_MARGIN_M,
                    WALL_RUNOFF_M,
                    Track,
                    build_track,
                    check_entry_on_image,
)
from .catalog import (
                    TRACK_FORMAT_VERSION,
                    cache_dir,
                    load_checkpoints_file,
                    load_track,
                    resolve_track_path,
                    save_track_entry,
                    track_cache_key,
                    track_list,
)
from .entry import SCHEMA_VERSION, default_checkpoints_path, track_content_key, validate_entry
from .errors import TrackError
from .geometry import curvature, curvature_energy, distance_px, frame, resample_closed, signed_area
from .paint import DEFAULT_SCALE_M_PER_PX, MAX_IMAGE_PIXELS, classify_asphalt, otsu_split

__all__ = [
    "ASPHALT", "BARRIER", "CENTRE_SPACING_M", "DEFAULT_SCALE_M_PER_PX", "DEFAULT_TRACKS_DIR",
    "GATE_SPACING_M", "GRASS", "KERB", "MAX_IMAGE_PIXELS", "MIN_TRACK_WIDTH_M", "RACING_MARGIN_M",
    "SCHEMA_VERSION", "TRACK_FORMAT_VERSION", "WALL_RUNOFF_M", "Track", "TrackError", "build_track",
    "cache_dir", "check_entry_on_image", "classify_asphalt", "curvature", "curvature_energy",
    "default_checkpoints_path", "distance_px", "frame", "load_checkpoints_file", "load_track",
    "otsu_split", "resample_closed", "resolve_track_path", "save_track_entry", "signed_area",
    "track_cache_key", "track_content_key", "track_list", "validate_entry",
]
