"""Modal volumes shared by ``track_cli.py sync`` and ``remote/train.py``.

Tracks live in the ``karting-tracks`` volume (``/NAME.png`` and ``/checkpoints.json``), training
outputs in ``karting-outputs``. Nothing here runs at import: ``modal`` is imported on use, so
the package works without it and without credentials.
"""
from __future__ import annotations

from pathlib import Path

TRACKS_VOLUME = "karting-tracks"
OUTPUTS_VOLUME = "karting-outputs"


class CloudError(RuntimeError):
    """Modal is missing, not logged in, or the upload failed; the message says what to do."""


def open_volume(name: str):
    try:
        import modal
    except ImportError:
        raise CloudError("the modal package is not installed: pip install modal, then run "
                         "`modal setup` once to log in") from None
    try:
        return modal.Volume.from_name(name, create_if_missing=True)
    except Exception as e:  # noqa: BLE001 - modal raises AuthError, ConnectionError, grpc errors
        raise CloudError(_explain(e)) from None


def _explain(e):
    text = f"{type(e).__name__}: {e}"
    if "Token" in text or "AuthError" in text or "authenticate" in text:
        return (f"Modal refused the request ({text.splitlines()[0]}); log in with `modal setup` "
                "(or set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET) and run the command again")
    return f"Modal request failed ({text.splitlines()[0]}); check the network and `modal token info`"


def _remote_entries(vol) -> dict:
    """The tracks entries of the volume's checkpoints.json ({} when there is none)."""
    import json
    try:
        data = b"".join(vol.read_file("/checkpoints.json"))
    except Exception as e:  # noqa: BLE001 - modal: NotFoundError / FileNotFoundError
        if "not found" in str(e).lower() or isinstance(e, FileNotFoundError) or "NotFound" in type(e).__name__:
            return {}
        raise CloudError(_explain(e)) from None
    try:
        return dict(json.loads(data).get("tracks", {}))
    except (ValueError, AttributeError):
        return {}   # a broken remote file: replaced by the merged one


def sync_tracks(pngs, checkpoints: Path | None, volume_name: str = TRACKS_VOLUME, volume=None):
    """Upload track PNGs to the tracks volume, and their checkpoints.json entries merged into
    the volume's own checkpoints.json (entries of other tracks there are kept). Returns the
    remote paths written."""
    import json
    import tempfile
    from .track import SCHEMA_VERSION, load_checkpoints_file
    pngs = [Path(p) for p in pngs]
    local = load_checkpoints_file(checkpoints)["tracks"] if checkpoints is not None else {}
    vol = volume if volume is not None else open_volume(volume_name)
    try:
        entries = _remote_entries(vol)
        entries.update({p.name: local[p.name] for p in pngs if p.name in local})
        with tempfile.TemporaryDirectory() as tmp:
            merged = Path(tmp) / "checkpoints.json"
            merged.write_text(json.dumps({"version": SCHEMA_VERSION, "tracks": entries},
                                         indent=2, sort_keys=True) + "\n")
            with vol.batch_upload(force=True) as batch:
                for p in pngs:
                    batch.put_file(str(p), f"/{p.name}")
                batch.put_file(str(merged), "/checkpoints.json")
    except CloudError:
        raise
    except Exception as e:  # noqa: BLE001
        raise CloudError(_explain(e)) from None
    return [f"/{p.name}" for p in pngs] + ["/checkpoints.json"]
