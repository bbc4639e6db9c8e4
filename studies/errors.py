"""Domain errors of studies. Views turn them into form errors or clear 4xx pages; each carries its status."""

from __future__ import annotations


class StudyError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StudySetupError(StudyError):
    """The design cannot run: no baseline, no case with videos of ours and a baseline, …"""


class StudyFrozen(StudyError):
    """A change to the design of a study that has opened: answers would no longer be comparable."""

    status = 409


class StudyNotOpen(StudyError):
    status = 409


class AlreadyTookPart(StudyError):
    status = 409


class StudyFull(StudyError):
    status = 409


class InvitationOnly(StudyError):
    status = 403


class NotYours(StudyError):
    status = 404


class ParticipantWithdrawn(StudyError):
    status = 409


class ConsentRequired(StudyError):
    status = 400


class IncompleteAnswers(StudyError):
    """Not every question of the page (or not every page) has an answer yet."""

    def __init__(self, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


class InvalidAnswer(StudyError):
    pass


class WatchRuleNotMet(StudyError):
    """An answer to a matchup whose videos have not played as much as the study asks."""


class ParticipantScreenedOut(StudyError):
    """A crowd participant the study's screen-out rule has ended; the message never says why."""

    status = 409


class ParticipantDecisionError(StudyError):
    """An exclusion without a reason, or a withdrawn participant included again."""
