"""Comparisons, tracks, the assignment of work, and judgments: one judgment shape for tracks and studies."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, F, OuterRef, Q

from annotate.adaptive import ItemStatus, StoppingRule, Tally, VoteMode, VotePlan, votes_wanted
from annotate.watch import watch_needed
from generation.models import Identity, Prompt, Video


class Criterion(models.TextChoices):
    IDENTITY_FIDELITY = "identity_fidelity", "Identity fidelity"
    ELEMENT_CONSISTENCY = "element_consistency", "Element consistency"
    PROMPT_CONTROLLABILITY = "prompt_controllability", "Prompt controllability"
    VISUAL_QUALITY = "visual_quality", "Visual quality"
    TEXT_ALIGNMENT = "text_alignment", "Text alignment"
    DYNAMIC_DEGREE = "dynamic_degree", "Dynamic degree"
    OVERALL_QUALITY = "overall_quality", "Overall quality"
    IDENTITY_CONSISTENCY = "identity_consistency", "Identity consistency"
    BODY_CONSISTENCY = "body_consistency", "Body consistency"
    NARRATIVE_ADHERENCE = "narrative_adherence", "Narrative adherence"
    CONTINUITY = "continuity", "Continuity"
    FACIAL_MOTION_ALIGNMENT = "facial_motion_alignment", "Facial motion alignment"
    FACIAL_MOTION_NATURALNESS = "facial_motion_naturalness", "Facial motion naturalness"


class Side(models.TextChoices):
    A = "A", "A"
    B = "B", "B"


class Choice(models.TextChoices):
    A = "A", "A"
    B = "B", "B"
    TIE = "tie", "Tie"
    BOTH_BAD = "both_bad", "Both bad"


class Comparison(models.Model):
    """Two videos of the same identity and prompt, in canonical order (``video_a.pk < video_b.pk``).

    A made gold comparison may pair videos of two identities or two prompts: its identity and prompt are
    those the question is about, those of the right video (see ``annotate.gold``)."""

    video_a = models.ForeignKey(Video, on_delete=models.PROTECT, related_name="+")
    video_b = models.ForeignKey(Video, on_delete=models.PROTECT, related_name="+")
    # Copied from the videos so that tracks, statistics and splits filter without joins.
    identity = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="comparisons")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="comparisons")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["video_a", "video_b"], name="comparison_pair_once"),
            models.CheckConstraint(condition=Q(video_a__lt=F("video_b")), name="comparison_canonical_order"),
        ]

    def __str__(self) -> str:
        return f"Comparison {self.pk}"


class Rater(models.Model):
    """Whoever gives judgments: an annotator (a user) or a study participant (no personal data)."""

    class Kind(models.TextChoices):
        ANNOTATOR = "annotator", "Annotator"
        PARTICIPANT = "participant", "Study participant"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="rater"
    )
    # Withdrawn or excluded raters' judgments count nowhere: no statistic, no export.
    excluded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(kind="annotator", user__isnull=False) | Q(kind="participant", user__isnull=True),
                name="rater_user_only_for_annotators",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk}"


class AnnotatorSettings(models.Model):
    """An annotator's own choices about their work page; no row means the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="annotator_settings",
    )
    # The next pair starts playing (muted) as soon as both videos can play: vote, watch, vote.
    autoplay_next = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"Settings of user {self.user_id}"


QUALITY_RATE_MAX = 0.5

VOTE_MODES = [(VoteMode.FIXED, "Fixed votes per comparison"), (VoteMode.ADAPTIVE, "Until decided")]
STOPPING_RULES = [
    (StoppingRule.POSTERIOR, "Posterior error below a target"),
    (StoppingRule.MARGIN, "One side ahead by a margin (δ)"),
]
ITEM_STATUSES = [
    (ItemStatus.OPEN, "Open"),
    (ItemStatus.DECIDED, "Decided"),
    (ItemStatus.UNDECIDED_AT_MAX, "Undecided at maximum"),
    (ItemStatus.REMOVED, "Removed"),
]


NARRATIVE_CRITERIA = (
    Criterion.IDENTITY_CONSISTENCY,
    Criterion.BODY_CONSISTENCY,
    Criterion.NARRATIVE_ADHERENCE,
    Criterion.CONTINUITY,
)
NARRATIVE_KINDS = frozenset(str(c) for c in NARRATIVE_CRITERIA)


class Track(models.Model):
    """A pairwise annotation track: one criterion, a pool of comparisons, a team of annotators."""

    class Kind(models.TextChoices):
        IDENTITY_FIDELITY = "identity_fidelity", "Identity fidelity"
        PROMPT_CONTROLLABILITY = "prompt_controllability", "Prompt controllability"
        # Narrative tracks: comparisons of two renderings of one story (their joined files), one question.
        IDENTITY_CONSISTENCY = "identity_consistency", "Narrative: identity consistency across shots"
        BODY_CONSISTENCY = "body_consistency", "Narrative: body consistency"
        NARRATIVE_ADHERENCE = "narrative_adherence", "Narrative: narrative adherence"
        CONTINUITY = "continuity", "Narrative: continuity"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    instructions = models.TextField(blank=True)
    votes_needed = models.PositiveSmallIntegerField(default=3)
    # Fixed votes per comparison (votes_needed), or adaptive: until the stopping rule decides, between
    # min_votes and max_votes (annotate/adaptive.py). Set when the track is made.
    vote_mode = models.CharField(max_length=8, choices=VOTE_MODES, default=VoteMode.FIXED)
    min_votes = models.PositiveSmallIntegerField(default=2)
    max_votes = models.PositiveSmallIntegerField(default=9)
    stopping_rule = models.CharField(max_length=10, choices=STOPPING_RULES, default=StoppingRule.POSTERIOR)
    error_target = models.FloatField(
        default=0.2, help_text="Posterior rule: stop once the other side has less than this probability."
    )
    decision_margin = models.PositiveSmallIntegerField(
        default=2, help_text="Margin rule: stop once one side leads by this many votes."
    )
    # Adaptive: each vote weighs its annotator's TrackSeat.vote_weight (from the quality page's last
    # Dawid–Skene reliability, annotate.adaptive.reliability_weight) instead of 1.
    weight_by_reliability = models.BooleanField(default=False)
    allow_tie = models.BooleanField(default=False)
    allow_both_bad = models.BooleanField(default=False)
    # A fraction of each video, 0 to 1: the server records at most one full play of each (see
    # assignment_watch_record), so a rule above 1 could never be met.
    min_watch_fraction = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="How much of each video must have played before voting (1 = all of it, 0 = no rule).",
    )
    lease_seconds = models.PositiveIntegerField(
        default=600, help_text="An assignment not answered within this time goes back to the pool."
    )
    # Rater quality (../README "Rater quality"): shares of the comparisons handed out that are gold
    # (known answer) and repeats (one already answered by this rater, shown again with sides swapped).
    # Neither is a vote of the dataset. Above half, more checks than real work would be asked.
    gold_rate = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(0.0), MaxValueValidator(QUALITY_RATE_MAX)],
        help_text="Share of comparisons handed out that are gold, 0 to 0.5 (0 = none).",
    )
    repeat_rate = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(0.0), MaxValueValidator(QUALITY_RATE_MAX)],
        help_text="Share of comparisons shown again later with sides swapped, 0 to 0.5 (0 = none).",
    )
    is_paused = models.BooleanField(default=False)
    annotators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TrackSeat", blank=True, related_name="tracks"
    )
    comparisons = models.ManyToManyField(Comparison, through="TrackItem", related_name="tracks")
    # Progress counters, kept by the services in the same transaction as each vote, undo and new
    # comparison: progress pages read one row instead of counting over every item of the track.
    items_total = models.PositiveIntegerField(default=0, editable=False)
    items_complete = models.PositiveIntegerField(default=0, editable=False)
    votes_stored = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["name"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(min_watch_fraction__gte=0) & Q(min_watch_fraction__lte=1),
                name="track_watch_fraction_0_to_1",
            ),
            models.CheckConstraint(
                condition=Q(gold_rate__gte=0) & Q(gold_rate__lte=QUALITY_RATE_MAX),
                name="track_gold_rate_0_to_half",
            ),
            models.CheckConstraint(
                condition=Q(repeat_rate__gte=0) & Q(repeat_rate__lte=QUALITY_RATE_MAX),
                name="track_repeat_rate_0_to_half",
            ),
            models.CheckConstraint(
                condition=Q(min_votes__gte=1) & Q(min_votes__lte=F("max_votes")),
                name="track_min_votes_1_to_max",
            ),
            models.CheckConstraint(
                condition=Q(error_target__gt=0) & Q(error_target__lt=0.5), name="track_error_target_0_to_half"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def criterion(self) -> str:
        return str(self.kind)  # every kind is named after the criterion it asks

    @property
    def is_narrative(self) -> bool:
        """Whether the track compares renderings of stories (joined shot files) rather than single clips."""
        return self.kind in NARRATIVE_KINDS

    @property
    def watch_needed(self) -> float:
        """The fraction of each video, as the server recorded it, that a vote needs."""
        return watch_needed(self.min_watch_fraction)

    @property
    def vote_plan(self) -> VotePlan:
        return VotePlan(
            mode=VoteMode(self.vote_mode),
            fixed_votes=self.votes_needed,
            min_votes=self.min_votes,
            max_votes=self.max_votes,
            rule=StoppingRule(self.stopping_rule),
            error_target=self.error_target,
            margin=self.decision_margin,
        )

    @staticmethod
    def plan_fields(plan: VotePlan) -> dict[str, object]:
        """The track's fields that hold ``plan``: the one mapping, for making a track and editing it."""
        return {
            "votes_needed": plan.fixed_votes,
            "vote_mode": str(plan.mode),
            "min_votes": plan.min_votes,
            "max_votes": plan.max_votes,
            "stopping_rule": str(plan.rule),
            "error_target": plan.error_target,
            "decision_margin": plan.margin,
        }

    @property
    def first_needed(self) -> int:
        """The votes a comparison wants before it has any."""
        return votes_wanted(self.vote_plan, Tally())

    @property
    def is_adaptive(self) -> bool:
        return self.vote_mode == VoteMode.ADAPTIVE

    @property
    def votes_total(self) -> int:
        """Votes the whole track needs: fixed, its comparisons times their votes; adaptive, at most."""
        return self.items_total * (self.max_votes if self.is_adaptive else self.votes_needed)

    @property
    def allowed_choices(self) -> list[str]:
        choices = [Choice.A, Choice.B]
        if self.allow_tie:
            choices.append(Choice.TIE)
        if self.allow_both_bad:
            choices.append(Choice.BOTH_BAD)
        return [str(choice) for choice in choices]


class TrackSeat(models.Model):
    """An annotator's place on a track, with the counters of their work on it.

    The services serialise one annotator's requests with a transaction-level advisory lock on the user
    (a double click cannot hand out two comparisons), not with this row's lock: other annotators' votes
    update ``votes_on_open`` here, and they take seat rows in id order to stay clear of deadlocks.
    """

    # Each vote writes a seat row and two to four others, and each index on a table makes a write
    # more: foreign keys here and below whose lookups an index in Meta already serves (by its leading
    # column) have no index of their own (db_index=False).
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="seats", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="track_seats")
    # The user's rater, kept here so that a vote does not look it up (or create it) every time.
    rater = models.ForeignKey(
        Rater, null=True, blank=True, on_delete=models.CASCADE, related_name="seats", editable=False
    )
    # Assignments handed out so far: its parity keeps the left/right sides balanced.
    assigned = models.PositiveIntegerField(default=0)
    # My stored votes on the track, and how many of them are on comparisons that still need votes:
    # what is left for me is (items_total - items_complete) - votes_on_open, without counting anything.
    votes_given = models.PositiveIntegerField(default=0, editable=False)
    votes_on_open = models.PositiveIntegerField(default=0, editable=False)
    # My answers to checks (gold comparisons and repeats), kept apart from the dataset's counters above:
    # the annotator's own progress line counts them as done, so that a check never shows as one.
    checks_given = models.PositiveIntegerField(default=0, editable=False)
    # What a vote of mine weighs in an adaptive track that weights by reliability: set each time the
    # track's quality table is computed (1 until then, or without an estimate).
    vote_weight = models.FloatField(default=1.0, editable=False)
    # The judgment that "Undo last vote" may take back; cleared once used, so only the last one can.
    # Not indexed: every vote sets it, and without an index on it that update stays in place (a "HOT"
    # update, which writes no index at all). It is looked up only when judgments are deleted, in a
    # table of one row per annotator and track.
    undoable = models.ForeignKey(
        "Judgment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    # Set by a study admin from the quality page (never automatically in tracks): the annotator's votes
    # on this track then count nowhere. The history of these decisions is in TrackRaterDecision.
    excluded = models.BooleanField(default=False, db_default=False, editable=False)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["track", "user"], name="track_seat_once"),
            # Finding the seats of a comparison's other raters when it completes (or is reopened by undo).
            models.UniqueConstraint(fields=["track", "rater"], name="track_seat_rater_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.track}"


class TrackItem(models.Model):
    """A comparison in a track, with the count that assignment works from.

    ``claimed`` = stored votes + open leases. A new assignment is handed out only while
    ``claimed < needed``, under a row lock, so concurrent annotators never push a comparison past
    its needed votes (on an adaptive track, past its maximum, nor beyond a decision).
    """

    # Served by track_item_once (track, comparison) and track_item_open_pick_idx (track, claimed, id:
    # open work only).
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="items", db_index=False)
    comparison = models.ForeignKey(Comparison, on_delete=models.PROTECT, related_name="track_items")
    claimed = models.PositiveIntegerField(default=0)
    votes = models.PositiveIntegerField(default=0)
    # How many votes the comparison wants in all for now: the track's votes_needed, or on an adaptive
    # track what annotate.adaptive.votes_wanted says after each vote (its votes once it is closed).
    # The services set it as they add items; 0 (never picked) for check items, which SQL inserts.
    needed = models.PositiveSmallIntegerField(db_default=0)
    # The votes by outcome (both bad counts as a tie), which the stopping rule reads, and where it
    # stands: open, decided, or stopped at the maximum undecided. Closed is closed: a late vote on an
    # open lease is stored and counted but does not reopen it.
    tally_a = models.FloatField(db_default=0.0)
    tally_b = models.FloatField(db_default=0.0)
    tally_tie = models.FloatField(db_default=0.0)
    status = models.CharField(max_length=16, choices=ITEM_STATUSES, db_default=ItemStatus.OPEN)
    # A gold comparison put in the track only to be handed out as a check (``vote_path``): never picked
    # as work, never counted in the track's progress. It is an item, rather than a comparison the
    # assignment names on its own, so that the vote path, the page and the media permission treat it
    # exactly like the others (one join, one URL shape), with nothing extra on the hot statements.
    is_check = models.BooleanField(default=False, db_default=False, editable=False)
    # Out of the pool until a study admin resolves its problem reports: set in the report's transaction
    # when a second annotator reports it (PROBLEM_REPORTS_TO_HOLD), and kept when it is removed.
    held = models.BooleanField(default=False, db_default=False, editable=False)

    class Meta:
        ordering: ClassVar = ["id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["track", "comparison"], name="track_item_once"),
        ]
        # The next pick walks this index in order: fewest claimed first, and stops at the first fit.
        # Check items and held ones are not in it: they are never picked.
        indexes: ClassVar = [
            models.Index(
                fields=["track", "claimed", "id"],
                condition=Q(is_check=False, held=False, claimed__lt=F("needed")),
                name="track_item_open_pick_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.comparison} in {self.track}"

    @property
    def open_leases(self) -> int:
        """Assignments of it handed out and not answered yet (``claimed`` counts them with the votes)."""
        return max(self.claimed - self.votes, 0)


class Assignment(models.Model):
    """One comparison handed to one annotator, with the side shown left and the watch record."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"
        EXPIRED = "expired", "Expired"
        # The annotator could not judge it and said why (ProblemReport): no vote, never handed to
        # them again (unless a study admin marks the problem fixed).
        REPORTED = "reported", "Reported a problem"

    class Purpose(models.TextChoices):
        VOTE = "vote", "Vote of the dataset"
        GOLD = "gold", "Gold comparison"
        REPEAT = "repeat", "Repeat of an answered comparison, sides swapped"

    # Served by assignment_once_per_rater (item, rater) and assignment_rater_status_idx (rater, …).
    item = models.ForeignKey(TrackItem, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    rater = models.ForeignKey(Rater, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    shown_left = models.CharField(max_length=1, choices=Side.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    # Fractions of each video seen, as recorded by the server from the player's reports.
    watched_a = models.FloatField(default=0.0)
    watched_b = models.FloatField(default=0.0)
    watch_reported_at = models.DateTimeField(null=True, blank=True)
    # Milliseconds from the answer before this comparison until both its videos could play through,
    # as the player reported it (clipped by ``watch.wait_plausible``); null: no report.
    wait_ms = models.PositiveIntegerField(null=True, blank=True)
    # Gold and repeat assignments are quality checks: they claim nothing and their judgments count in
    # no progress (see ``vote_path``). db_default: the vote path inserts rows in SQL.
    purpose = models.CharField(max_length=8, choices=Purpose.choices, default=Purpose.VOTE, db_default="vote")
    # The rater's handout number on the track (their seat's ``assigned`` then): a repeat shows only
    # comparisons answered at least ten handouts earlier.
    position = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        constraints: ClassVar = [
            # An annotator never gets the same comparison of a track twice, but for the one repeat of it.
            models.UniqueConstraint(
                fields=["item", "rater"], condition=~Q(purpose="repeat"), name="assignment_once_per_rater"
            ),
            models.UniqueConstraint(
                fields=["item", "rater"], condition=Q(purpose="repeat"), name="assignment_repeat_once"
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["expires_at"], condition=Q(status="open"), name="assignment_open_expiry_idx"
            ),
            models.Index(fields=["rater", "status", "answered_at"], name="assignment_rater_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Assignment {self.pk}"


# Distinct annotators whose open reports take a comparison out of the pool.
PROBLEM_REPORTS_TO_HOLD = 2


class ProblemReport(models.Model):
    """An annotator could not judge a comparison of a track, and why. Not a vote: it counts nowhere;
    it ends their lease, and two open reports take the comparison out of the pool (``TrackItem.held``)
    until a study admin resolves them: fixed or dismissed (back in the pool), or removed."""

    class Reason(models.TextChoices):
        BROKEN_VIDEO = "broken_video", "A video is broken (frozen, garbled, cut short)"
        NOT_LOADING = "not_loading", "A video does not load"
        WRONG_PERSON = "wrong_person", "Wrong person (neither video shows the person)"
        OFFENSIVE = "offensive", "Offensive content"

    class Resolution(models.TextChoices):
        OPEN = "", "Open"
        FIXED = "fixed", "Fixed"
        REMOVED = "removed", "Comparison removed"
        DISMISSED = "dismissed", "Dismissed"

    item = models.ForeignKey(TrackItem, on_delete=models.CASCADE, related_name="problem_reports")
    rater = models.ForeignKey(Rater, on_delete=models.CASCADE, related_name="problem_reports")
    assignment = models.ForeignKey(
        "Assignment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering: ClassVar = ["id"]
        constraints: ClassVar = [
            # One open report per annotator and comparison: a second one is refused, not counted.
            models.UniqueConstraint(
                fields=["item", "rater"], condition=Q(resolution=""), name="problem_report_open_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} on {self.item}"


class JudgmentQuerySet(models.QuerySet["Judgment"]):
    def dataset(self) -> JudgmentQuerySet:
        """The votes of the dataset: what every pair, count, statistic, result and adapter reads.

        Left out: gold and repeat judgments (quality checks, read only by the raters' quality figures),
        the judgments of withdrawn or excluded raters (``Rater.excluded``), and those an annotator gave
        on a track where their seat is excluded (they still count on the other tracks).
        """
        excluded_seat = TrackSeat.objects.filter(
            track_id=OuterRef("track_id"), rater_id=OuterRef("rater_id"), excluded=True
        )
        return self.filter(is_gold=False, is_repeat=False, rater__excluded=False).exclude(
            Exists(excluded_seat)
        )


class Judgment(models.Model):
    """One answer to one criterion about one comparison, in the comparison's canonical A/B terms."""

    # comparison and track: served by judgment_comparison_idx and judgment_track_rater_idx.
    comparison = models.ForeignKey(
        Comparison, on_delete=models.PROTECT, related_name="judgments", db_index=False
    )
    criterion = models.CharField(max_length=40, choices=Criterion.choices)
    choice = models.CharField(max_length=8, choices=Choice.choices)
    shown_left = models.CharField(max_length=1, choices=Side.choices)
    rater = models.ForeignKey(Rater, on_delete=models.PROTECT, related_name="judgments")
    track = models.ForeignKey(
        Track, null=True, blank=True, on_delete=models.PROTECT, related_name="judgments", db_index=False
    )
    assignment = models.OneToOneField(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="judgment"
    )
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    watched_a = models.FloatField(null=True, blank=True)
    watched_b = models.FloatField(null=True, blank=True)
    # Quality checks, not votes of the dataset: they count in no pair, statistic, result, progress or
    # adapter, only in the raters' quality figures. db_default: the vote path inserts rows in SQL.
    is_gold = models.BooleanField(default=False, db_default=False)
    is_repeat = models.BooleanField(default=False, db_default=False)
    # The judgment a repeat shows again (same rater, comparison and criterion, sides swapped). Not
    # indexed: read with the whole track's judgments by the quality computation, never looked up alone.
    repeat_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    selection_policy = models.CharField(max_length=40, default="fewest_votes_first")
    selection_probability = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = JudgmentQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["id"]
        indexes: ClassVar = [
            models.Index(fields=["comparison", "criterion"], name="judgment_comparison_idx"),
            models.Index(fields=["track", "rater"], name="judgment_track_rater_idx"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(repeat_of__isnull=True) | Q(is_repeat=True), name="judgment_repeat_of_a_repeat"
            ),
            models.CheckConstraint(
                condition=~(Q(is_gold=True) & Q(is_repeat=True)), name="judgment_gold_or_repeat"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.criterion}: {self.choice} on comparison {self.comparison_id}"


class GoldAnswer(models.Model):
    """The known answer of a comparison for one criterion: a gold comparison, by which raters are checked.

    An admin marks one after looking at it (``admin``), or the platform makes the pair so that the answer
    is known by construction (``made``): the right identity, the asked prompt, the undegraded video.
    The answer is in the comparison's canonical A/B terms, like every judgment.
    """

    class Source(models.TextChoices):
        ADMIN = "admin", "Marked by an admin"
        MADE = "made", "Made by the platform"

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="gold_answers")
    criterion = models.CharField(max_length=40, choices=Criterion.choices)
    answer = models.CharField(max_length=8, choices=[(Choice.A, "A"), (Choice.B, "B")])
    source = models.CharField(max_length=8, choices=Source.choices)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["comparison", "criterion"], name="gold_answer_once"),
            models.CheckConstraint(condition=Q(answer__in=["A", "B"]), name="gold_answer_a_or_b"),
        ]

    def __str__(self) -> str:
        return f"{self.criterion}: {self.answer} on comparison {self.comparison_id} (gold)"


class RaterDecision(models.Model):
    """One change of a rater's standing (excluded or included again), with who made it and why.

    The current standing lives on the seat or participant; these rows are its history, shown on the
    quality page and never edited.
    """

    class Action(models.TextChoices):
        EXCLUDE = "exclude", "Excluded"
        INCLUDE = "include", "Included again"
        SCREEN_OUT = "screen_out", "Screened out automatically"

    action = models.CharField(max_length=16, choices=Action.choices)
    reason = models.CharField(max_length=500)
    # Null for the automatic screen-out rule of studies.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering: ClassVar = ["-decided_at", "-id"]


class TrackRaterDecision(RaterDecision):
    seat = models.ForeignKey(TrackSeat, on_delete=models.CASCADE, related_name="decisions")

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.seat}"


class QualityReport(models.Model):
    """The last computed quality table of a track or study, kept so that the page shows it at once.

    Computing it fits crowd models over every judgment (seconds to a minute), so a Celery task does it
    and the page shows this row's table with the time it was computed.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Computing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # "track:<id>" or "study:<id>": one report per scope, replaced by each computation.
    scope = models.CharField(max_length=40, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    step = models.CharField(max_length=200, blank=True)  # what the computation is doing now
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    # The rater rows (annotate.quality's columns, JSON-safe) of the last finished computation.
    raters = models.JSONField(default=list)
    judgments = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Quality of {self.scope}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return round(self.progress * 100)
