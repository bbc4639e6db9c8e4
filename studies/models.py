"""User studies: a study's design, its questions, participants, their matchup plans and answers.

Answers are stored twice on purpose: an :class:`Answer` row remembers what the participant picked on
the page (so Previous / Next can show and change it), and the annotate ``Judgment`` rows it links to are
the one judgment shape that statistics and export read, for tracks and studies alike.
"""

from __future__ import annotations

import secrets
from typing import ClassVar

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator, URLValidator
from django.db import models
from django.db.models import F, Q

from annotate.models import Comparison, Criterion, Judgment, Rater, RaterDecision
from annotate.watch import watch_needed
from generation.models import Identity, Method, Prompt, Story, Video


def new_public_slug() -> str:
    # Random, so that a study cannot be found by guessing its name; short enough to read out.
    return secrets.token_urlsafe(8).replace("_", "x").replace("-", "y").lower()


def new_token() -> str:
    return secrets.token_urlsafe(24)


# Codes are typed or pasted into a crowd platform by hand: letters, digits, "-" and "_" only, the
# characters every platform accepts and nobody misreads for a space.
return_code_validator = RegexValidator(
    r"^[A-Za-z0-9_-]*$",
    "Use only letters, digits, “-” and “_” in a code (no spaces or other characters).",
)
# Where participants are sent on: a web address, never another scheme (javascript:, ftp:, data:).
return_url_validator = URLValidator(
    schemes=["http", "https"], message="Enter a web address starting with https:// or http://."
)


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    class Preset(models.TextChoices):
        ANYID = "anyid", "Four questions, ours against one baseline (AnyID-style)"
        PERSONALVIDEO = "personalvideo", "Best of all methods, four criteria (PersonalVideo-style)"
        CONCATID = "concatid", "Facial motion, three questions (Concat-ID-style)"
        NARRATIVE = "narrative", "Actor-Bench style: sequential narrative"

    class Kind(models.TextChoices):
        CLIPS = "clips", "Clips: one video per case (a person and a prompt)"
        NARRATIVE = "narrative", "Narratives: the joined file of each method's rendering of a story"

    class Format(models.TextChoices):
        PAIRWISE = "pairwise", "Two videos: ours against one baseline, answered Left / Right"
        BEST_OF_ALL = "best_of_all", "All methods side by side: pick the best (a pick beats every other)"

    class ElementPolicy(models.TextChoices):
        WHERE_APPLIES = "where_applies", "On every matchup where it applies"
        FRACTION = "fraction", "On a share of the matchups where it applies"

    name = models.CharField(max_length=200, help_text="For study admins: participants see the public title.")
    # The name may say what the study is for ("ours against the baselines"); participants must not read that.
    public_title = models.CharField(
        max_length=200, blank=True, help_text="The title participants see; empty: the name."
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    preset = models.CharField(max_length=16, choices=Preset.choices, default=Preset.ANYID)
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.PAIRWISE)
    # What a case is, which follows the preset like the format: a clip study draws its cases from
    # identities x prompts and never shows a story's videos; a narrative study draws them from stories.
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CLIPS)
    public_slug = models.SlugField(max_length=40, unique=True, default=new_public_slug)
    public_join = models.BooleanField(
        default=True, help_text="Anyone with the public link may join; otherwise personal links only."
    )

    # The design: frozen once the study opens, so that every answer was given to the same question.
    ours = models.ForeignKey(Method, on_delete=models.PROTECT, related_name="studies_as_ours")
    baselines = models.ManyToManyField(Method, related_name="studies_as_baseline")
    # A clip study's cases; a narrative study has none of these (its stories name person and prompts).
    identities = models.ManyToManyField(Identity, related_name="studies", blank=True)
    prompts = models.ManyToManyField(Prompt, related_name="studies", blank=True)
    stories = models.ManyToManyField(Story, related_name="studies", blank=True)
    matchups_per_participant = models.PositiveSmallIntegerField(
        default=40, validators=[MinValueValidator(1), MaxValueValidator(500)]
    )
    element_policy = models.CharField(
        max_length=16, choices=ElementPolicy.choices, default=ElementPolicy.WHERE_APPLIES
    )
    element_fraction = models.FloatField(
        default=1.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    # As in tracks: the server records at most one full play of each video, so a rule above 1 could
    # never be met.
    min_watch_fraction = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        verbose_name="watch rule",
        help_text="How much of each video must have played before answering (1 = all of it, 0 = no rule).",
    )

    # Quality checks, part of the design: a gold matchup has a known answer on at least one question, a
    # repeat shows a matchup answered earlier again with the sides swapped. Each at most a quarter of
    # the matchups; 0 turns it off. Participants cannot tell either from a real matchup.
    gold_matchups_per_participant = models.PositiveSmallIntegerField(
        default=2, verbose_name="gold matchups per participant"
    )
    repeat_matchups_per_participant = models.PositiveSmallIntegerField(
        default=2, verbose_name="repeated matchups per participant"
    )
    # Crowd participants only (joined with a crowd id): after this many failed gold matchups they are
    # screened out politely. Prolific expects at least two failures before a rejection; 0 turns it off.
    screen_out_after_failed_gold = models.PositiveSmallIntegerField(
        default=2, verbose_name="screen out after failed gold matchups"
    )

    # Texts and crowd settings: may be fixed while the study runs.
    instructions = models.TextField()
    consent_text = models.TextField()
    contact = models.CharField(max_length=300, blank=True)
    # The crowd platform's return paths, one per way of leaving: finished, screened out, withdrawn. Each
    # is a code to enter on the platform and/or an address that sends the participant back to it.
    completion_code = models.CharField(max_length=100, blank=True, validators=[return_code_validator])
    redirect_url = models.URLField(
        max_length=500, blank=True, validators=[return_url_validator], verbose_name="redirect after finishing"
    )
    # Given to crowd participants who were screened out, so the platform can tell them apart.
    screened_out_code = models.CharField(
        max_length=100, blank=True, validators=[return_code_validator], verbose_name="screened-out code"
    )
    screened_out_redirect_url = models.URLField(
        max_length=500,
        blank=True,
        validators=[return_url_validator],
        verbose_name="redirect when screened out",
    )
    withdrawn_code = models.CharField(
        max_length=100, blank=True, validators=[return_code_validator], verbose_name="withdrawal code"
    )
    withdrawn_redirect_url = models.URLField(
        max_length=500,
        blank=True,
        validators=[return_url_validator],
        verbose_name="redirect after withdrawing",
    )
    target_participants = models.PositiveIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        verbose_name_plural = "studies"
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(min_watch_fraction__gte=0) & Q(min_watch_fraction__lte=1),
                name="study_watch_fraction_0_to_1",
            ),
            # Integer division: g <= n // 4 is the same as g <= n / 4 for whole numbers.
            models.CheckConstraint(
                condition=Q(gold_matchups_per_participant__lte=F("matchups_per_participant") / 4)
                & Q(repeat_matchups_per_participant__lte=F("matchups_per_participant") / 4),
                name="study_checks_at_most_a_quarter",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def participant_title(self) -> str:
        """What participants read as the study's title."""
        return self.public_title or self.name

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def closed_message(self) -> str | None:
        """Why nobody can take part right now, or None while the study is open."""
        if self.status == self.Status.DRAFT:
            return "This study has not opened yet. Please come back later."
        if self.status == self.Status.CLOSED:
            return "This study is closed and takes no more answers. Thank you for your interest."
        return None

    @property
    def design_frozen(self) -> bool:
        return self.status != self.Status.DRAFT

    @property
    def is_pairwise(self) -> bool:
        return self.format == self.Format.PAIRWISE

    @property
    def is_narrative(self) -> bool:
        return self.kind == self.Kind.NARRATIVE

    @property
    def watch_needed(self) -> float:
        """The fraction of each video, as the server recorded it, that an answer needs."""
        return watch_needed(self.min_watch_fraction)


class Question(models.Model):
    """One question of a study, asked about every matchup (element consistency only where it applies)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField()
    criterion = models.CharField(max_length=40, choices=Criterion.choices)
    text = models.CharField(max_length=300)
    hint = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering: ClassVar = ["study", "position"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["study", "criterion"], name="study_question_criterion_once"),
            models.UniqueConstraint(fields=["study", "position"], name="study_question_position_once"),
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def is_element_consistency(self) -> bool:
        return self.criterion == Criterion.ELEMENT_CONSISTENCY


class Participant(models.Model):
    """Someone taking part, known only by a random token kept in their session cookie.

    No name, e-mail or IP address is stored. A crowd-platform id is kept only as a salted hash, which is
    enough to refuse a second join and cannot be turned back into the id.
    """

    class Status(models.TextChoices):
        INVITED = "invited", "Invited (personal link not yet opened)"
        JOINED = "joined", "Read the instructions"
        ACTIVE = "active", "Consented, answering"
        COMPLETED = "completed", "Completed"
        WITHDRAWN = "withdrawn", "Withdrawn"
        SCREENED_OUT = "screened_out", "Screened out"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    rater = models.OneToOneField(Rater, on_delete=models.PROTECT, related_name="study_participant")
    token = models.CharField(max_length=64, unique=True, default=new_token)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.JOINED)
    # When the automatic screen-out rule ended the participation; its reason is in ``decisions``.
    screened_out_at = models.DateTimeField(null=True, blank=True)
    personal_link = models.BooleanField(default=False)
    crowd_hash = models.CharField(max_length=64, blank=True)
    crowd_session_hash = models.CharField(max_length=64, blank=True)
    # The matchup the participant was last on, so that a resumed session continues there.
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["study", "id"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["study", "crowd_hash"], condition=~Q(crowd_hash=""), name="participant_crowd_id_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Participant {self.pk} of {self.study}"

    @property
    def has_plan(self) -> bool:
        return self.consented_at is not None

    @property
    def is_withdrawn(self) -> bool:
        return self.status == self.Status.WITHDRAWN

    @property
    def is_screened_out(self) -> bool:
        return self.status == self.Status.SCREENED_OUT

    @property
    def is_crowd(self) -> bool:
        """Joined with a crowd-platform id: the screen-out rule applies only to these participants."""
        return bool(self.crowd_hash)


class ParticipantDecision(RaterDecision):
    """One change of a participant's standing: the automatic screen-out, or a study admin's decision."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="decisions")

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.participant}"


class Matchup(models.Model):
    """One page of a participant's plan: one case (identity, prompt) and the videos shown, left to right.

    Gold and repeated matchups are quality checks: their pages look exactly like a real one, and their
    judgments are flagged (``is_gold``, ``is_repeat``) so that they count only in the quality figures.
    """

    class Purpose(models.TextChoices):
        REAL = "real", "Real matchup"
        GOLD = "gold", "Gold matchup (known answer)"
        REPEAT = "repeat", "Repeat of an earlier matchup, sides swapped"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="matchups")
    position = models.PositiveSmallIntegerField()
    identity = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="+")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="+")
    # Pairwise studies: the baseline of this matchup and its comparison (canonical A/B order).
    baseline = models.ForeignKey(Method, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    comparison = models.ForeignKey(
        Comparison, null=True, blank=True, on_delete=models.PROTECT, related_name="study_matchups"
    )
    # Video ids in display order, left to right; the media policy checks membership here.
    video_ids = models.JSONField()
    asks_element_consistency = models.BooleanField(default=False)
    purpose = models.CharField(max_length=8, choices=Purpose.choices, default=Purpose.REAL)
    repeat_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="repeats"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    # Time spent answering, summed over visits (a change later adds the time it took).
    time_ms = models.PositiveIntegerField(default=0)
    # Server clocks: when the page was first shown, and from then to the first full answer. Speed
    # figures read these, not the page's own timer.
    shown_at = models.DateTimeField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    # The fraction of each video (display order) that the player reported and the server believed.
    watched = models.JSONField(default=list, blank=True)
    watch_reported_at = models.DateTimeField(null=True, blank=True)
    # Milliseconds from the answer before this matchup until both its videos could play through, as
    # the player reported it (clipped by ``annotate.watch.wait_plausible``); null: no report.
    wait_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["participant", "position"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["participant", "position"], name="matchup_position_once"),
            models.CheckConstraint(
                condition=Q(purpose="repeat", repeat_of__isnull=False)
                | (~Q(purpose="repeat") & Q(repeat_of__isnull=True)),
                name="matchup_repeat_has_original",
            ),
            models.UniqueConstraint(
                fields=["repeat_of"], condition=Q(repeat_of__isnull=False), name="matchup_repeated_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Matchup {self.position + 1} of participant {self.participant_id}"

    @property
    def number(self) -> int:
        return self.position + 1

    def watched_of(self, index: int) -> float:
        return float(self.watched[index]) if index < len(self.watched) else 0.0


class Answer(models.Model):
    """What a participant picked for one question of one matchup; changing it updates this row."""

    matchup = models.ForeignKey(Matchup, on_delete=models.CASCADE, related_name="answers")
    criterion = models.CharField(max_length=40, choices=Criterion.choices)
    # Display position of the picked video: 0 is the left one.
    picked = models.PositiveSmallIntegerField()
    picked_video = models.ForeignKey(Video, on_delete=models.PROTECT, related_name="+")
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    # The matchup's watched fractions (display order) when this answer was stored.
    watched = models.JSONField(default=list, blank=True)
    # One judgment for a pairwise matchup; one per other shown video for "best of all".
    judgments = models.ManyToManyField(Judgment, related_name="study_answers")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["matchup", "id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["matchup", "criterion"], name="answer_once_per_question"),
        ]

    def __str__(self) -> str:
        return f"{self.criterion}: video {self.picked} on {self.matchup}"


class RankingRun(models.Model):
    """The last computed leaderboard for one set of options (tracks, studies, criterion, bootstrap).

    A bootstrap over a million judgments takes seconds to half a minute, so a large one runs as a Celery
    task; the page shows this row's result with the time it was computed and the options it used.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Computing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # The sha256 of the options' canonical text (studies.rankings.RankingOptions.key): one row per choice.
    key = models.CharField(max_length=64, unique=True)
    options = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    step = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)  # how long the last computation took
    judgments = models.PositiveIntegerField(default=0)
    # Per criterion: annotate.rankings.Leaderboard.as_dict() of the last finished computation.
    boards = models.JSONField(default=dict)

    class Meta:
        ordering: ClassVar = ["-requested_at"]

    def __str__(self) -> str:
        return f"Ranking {self.key}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return round(self.progress * 100)
