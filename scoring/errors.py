"""Scoring failures split as everywhere in the product: the user's data or script, or ours."""


class ScoringUserError(Exception):
    """Bad input data or a failing scoring script: counted against error_threshold, not our bug."""


class ScoringSystemError(Exception):
    """The scoring process itself failed (could not start, died)."""
