"""Domain errors of annotation. Views turn them into clear 4xx answers; each carries its status."""

from __future__ import annotations


class AnnotationError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotYours(AnnotationError):
    status = 404


class TrackPaused(AnnotationError):
    status = 409


class AssignmentExpired(AnnotationError):
    status = 410


class InvalidChoice(AnnotationError):
    status = 400


class WatchRuleNotMet(AnnotationError):
    status = 400


class NothingToUndo(AnnotationError):
    status = 409


class TrackSetupError(AnnotationError):
    status = 400


class GoldAnswerError(AnnotationError):
    status = 400


class NotTakingPart(AnnotationError):
    """An annotator excluded from a track asks for work on it (the page says no more than that)."""

    status = 403


class RaterDecisionError(AnnotationError):
    status = 400


class ProblemReportError(AnnotationError):
    """A problem report that cannot be stored as sent: an unknown reason, a note too long."""

    status = 400


class AlreadyReported(AnnotationError):
    status = 409


class ProblemResolveError(AnnotationError):
    status = 409


class PeopleError(AnnotationError):
    """A list of people, or a change to one person, that was refused; ``problems``: one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems
