"""The one error of the track package."""


class TrackError(ValueError):
    """A track PNG or its checkpoints.json entry cannot be used; the message says why and what to do."""
