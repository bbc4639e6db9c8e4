"""The catalog: identities and their references, prompts, methods and the videos they made."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from generation.backends import method_check
from generation.errors import MethodInvalid
from generation.storage import opaque_upload_to

# The seven aspects of a portrait video prompt, in the order prompts are written.
ASPECTS = ("shot", "hairstyle", "clothing", "accessories", "expression", "action", "setting")
# Aspects that a differential prompt may leave out so that they must be kept from the reference.
KEPT_ELEMENT_ASPECTS = ("hairstyle", "clothing", "accessories")


class Identity(models.Model):
    """An ID group: one (synthetic or consenting) person and all their reference media."""

    slug = models.SlugField(max_length=80, unique=True, help_text="Stable key used by imports and exports.")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    consent_note = models.TextField(
        blank=True, help_text="Licence or consent under which the media are used."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["slug"]
        verbose_name_plural = "identities"

    def __str__(self) -> str:
        return self.name


class Reference(models.Model):
    # The framing: how much of the person the reference shows (a clip may show any of them).
    class Kind(models.TextChoices):
        FACE = "face", "Face crop"
        PORTRAIT = "portrait", "Portrait / half body"
        FULL_BODY = "full_body", "Full body"
        VIDEO = "video", "Video clip"

    # Where the camera stands relative to the person's front.
    class Viewpoint(models.TextChoices):
        FRONT = "front", "Front"
        THREE_QUARTER_LEFT = "three_quarter_left", "Three-quarter left"
        THREE_QUARTER_RIGHT = "three_quarter_right", "Three-quarter right"
        PROFILE_LEFT = "profile_left", "Left profile"
        PROFILE_RIGHT = "profile_right", "Right profile"
        BACK = "back", "Back"
        UNKNOWN = "unknown", "Unknown"

    identity = models.ForeignKey(Identity, on_delete=models.CASCADE, related_name="references")
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name="framing")
    viewpoint = models.CharField(max_length=20, choices=Viewpoint.choices, default=Viewpoint.UNKNOWN)
    # One of the identity's canonical three-view references (front, side, back, each full body): either
    # none of an identity's references is, or a complete set is (generation.services.three_view_check).
    in_three_view = models.BooleanField(
        default=False,
        verbose_name="canonical three-view",
        help_text="Front, side or back of the full-body set.",
    )
    is_primary = models.BooleanField(
        default=False, help_text="The reference shown in prompt-controllability matchups and studies."
    )
    file = models.FileField(upload_to=opaque_upload_to, max_length=200, db_index=True)
    poster = models.FileField(upload_to=opaque_upload_to, max_length=200, blank=True, db_index=True)
    sha256 = models.CharField(max_length=64, unique=True)
    bytes = models.BigIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    duration = models.FloatField(null=True, blank=True, help_text="Seconds, for clips.")
    fps = models.FloatField(null=True, blank=True)
    num_frames = models.PositiveIntegerField(null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in the reference gallery.")
    note = models.CharField(max_length=200, blank=True, help_text="Pose, expression, licence.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["identity", "-is_primary", "position", "id"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["identity"], condition=Q(is_primary=True), name="one_primary_reference_per_identity"
            ),
        ]

    def __str__(self) -> str:
        primary = ", primary" if self.is_primary else ""
        return f"{self.identity} · {self.get_kind_display()}{primary}"

    @property
    def is_video(self) -> bool:
        return self.kind == self.Kind.VIDEO


class Prompt(models.Model):
    """A prompt in the seven-aspect form with its differential version."""

    class Task(models.TextChoices):
        FULL = "full", "Full prompt (every aspect may change)"
        DIFFERENTIAL = "differential", "Differential prompt (unmentioned aspects must be kept)"

    class Subject(models.TextChoices):
        MAN = "man", "Man"
        WOMAN = "woman", "Woman"
        ANY = "any", "Any"

    slug = models.SlugField(max_length=80, unique=True)
    task = models.CharField(max_length=16, choices=Task.choices, default=Task.DIFFERENTIAL)
    subject = models.CharField(max_length=8, choices=Subject.choices, default=Subject.ANY)
    shot = models.CharField(max_length=300, blank=True, help_text="Camera movement and framing.")
    hairstyle = models.CharField(max_length=300, blank=True)
    clothing = models.CharField(max_length=300, blank=True)
    accessories = models.CharField(max_length=300, blank=True)
    expression = models.CharField(max_length=300, blank=True)
    action = models.CharField(max_length=300, blank=True)
    setting = models.CharField(max_length=300, blank=True, help_text="Setting and lighting.")
    full_text = models.TextField()
    differential_text = models.TextField(
        blank=True,
        help_text="The full prompt without the aspects that must stay as in the primary reference.",
    )
    omitted_aspects = models.JSONField(
        default=list, blank=True, help_text="Aspects left out of the differential prompt (they must be kept)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def shown_text(self) -> str:
        """The text an annotator or participant reads: the differential version for differential tasks."""
        if self.task == self.Task.DIFFERENTIAL and self.differential_text:
            return self.differential_text
        return self.full_text

    @property
    def keeps_elements(self) -> bool:
        """Whether element consistency applies: hairstyle, clothing or accessories must be kept."""
        return bool(set(self.omitted_aspects) & set(KEPT_ELEMENT_ASPECTS))

    def aspects(self) -> dict[str, str]:
        """The aspects a generator is told, aspect name to text in the seven-aspect order: a differential
        prompt leaves out those that must be kept, and an empty aspect asks for nothing."""
        omitted = set(self.omitted_aspects) if self.task == self.Task.DIFFERENTIAL else set()
        return {name: text for name in ASPECTS if (text := getattr(self, name)) and name not in omitted}


class Story(models.Model):
    """A sequential narrative: one identity through 2 to 5 ordered shot prompts that form one storyline."""

    slug = models.SlugField(max_length=80, unique=True)
    identity = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="stories")
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["slug"]
        verbose_name_plural = "stories"

    def __str__(self) -> str:
        return self.slug

    def shot_prompts(self) -> list[Prompt]:
        return [shot.prompt for shot in self.shots.select_related("prompt").order_by("position")]


STORY_SHOTS_MIN, STORY_SHOTS_MAX = 2, 5


class StoryShot(models.Model):
    """One shot of a story: its place (1 = first) and its prompt."""

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="shots")
    position = models.PositiveSmallIntegerField()
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="story_shots")

    class Meta:
        ordering: ClassVar = ["story", "position"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["story", "position"], name="story_shot_position_unique"),
            models.CheckConstraint(
                condition=Q(position__gte=1) & Q(position__lte=STORY_SHOTS_MAX),
                name="story_shot_position_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.story} · shot {self.position}"


class Method(models.Model):
    """A way of making videos: the studied method ("ours") or a baseline. Never shown to raters."""

    class Role(models.TextChoices):
        OURS = "ours", "Ours (the studied method)"
        BASELINE = "baseline", "Baseline"

    class Backend(models.TextChoices):
        DIFFUSERS = "diffusers", "diffusers pipeline from a local model folder"
        PROCEDURAL = "procedural", "Procedural demo generator"
        IMPORTED = "imported", "Videos made elsewhere, imported"

    name = models.CharField(max_length=80, unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.BASELINE)
    backend = models.CharField(max_length=16, choices=Backend.choices, default=Backend.IMPORTED)
    checkpoint = models.CharField(max_length=500, blank=True, help_text="Local model folder.")
    revision = models.CharField(max_length=100, blank=True, help_text="Base model name and revision.")
    lora_path = models.CharField(max_length=500, blank=True)
    lora_sha256 = models.CharField(max_length=64, blank=True)
    settings = models.JSONField(default=dict, blank=True, help_text="Sampling settings.")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # The rules of a job launch, so that a method that cannot render is refused when it is saved
        # rather than when someone launches it.
        try:
            method_check(self)
        except MethodInvalid as error:
            raise ValidationError({error.field: str(error)} if error.field else str(error)) from error
        self.lora_sha256 = self.lora_sha256.lower()


class VideoQuerySet(models.QuerySet["Video"]):
    def of_methods(self) -> VideoQuerySet:
        """The videos the methods made: without the copies made for gold comparisons."""
        return self.filter(is_gold_stimulus=False)


class Video(models.Model):
    class Origin(models.TextChoices):
        GENERATED = "generated", "Generated here"
        IMPORTED = "imported", "Imported"

    method = models.ForeignKey(Method, on_delete=models.PROTECT, related_name="videos")
    identity = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="videos")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="videos")
    seed = models.BigIntegerField(default=0)
    file = models.FileField(upload_to=opaque_upload_to, max_length=200, db_index=True)
    poster = models.FileField(upload_to=opaque_upload_to, max_length=200, blank=True, db_index=True)
    sha256 = models.CharField(max_length=64, unique=True)
    bytes = models.BigIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    num_frames = models.PositiveIntegerField()
    fps = models.FloatField()
    duration = models.FloatField(help_text="Seconds.")
    codec = models.CharField(max_length=32)
    settings = models.JSONField(default=dict, blank=True, help_text="Every generation setting.")
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.GENERATED)
    # An imported or uploaded video is stored re-encoded (blinding): these describe the file as it came.
    original_sha256 = models.CharField(
        max_length=64, blank=True, help_text="sha256 of the imported file, before it was re-encoded."
    )
    original_metadata = models.JSONField(
        default=dict, blank=True, help_text="Container and stream tags of the imported file (not served)."
    )
    # A copy made for gold comparisons (a known answer), e.g. a degraded one: it keeps its source's method,
    # identity and prompt, but is no video of that method: tracks, studies, checks and lists leave it out.
    is_gold_stimulus = models.BooleanField(default=False, editable=False)
    gold_source = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="gold_copies", editable=False
    )
    # A shot of a story rendering (its position, 1 = first), or the rendering's joined file (no shot).
    rendering = models.ForeignKey(
        "StoryRendering",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="videos",
        editable=False,
    )
    shot = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = VideoQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["identity", "prompt", "method", "seed"]
        indexes: ClassVar = [models.Index(fields=["identity", "prompt"], name="video_case_idx")]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["original_sha256"],
                condition=~Q(original_sha256=""),
                name="video_original_sha256_unique",
            ),
            models.UniqueConstraint(fields=["gold_source"], name="video_one_gold_copy_per_source"),
            models.CheckConstraint(
                condition=Q(gold_source__isnull=True) | Q(is_gold_stimulus=True),
                name="video_gold_source_only_for_gold_stimuli",
            ),
            models.CheckConstraint(
                condition=Q(shot__isnull=True) | Q(rendering__isnull=False), name="video_shot_of_a_rendering"
            ),
            models.UniqueConstraint(fields=["rendering", "shot"], name="video_one_per_rendering_shot"),
            models.UniqueConstraint(
                fields=["rendering"],
                condition=Q(shot__isnull=True),
                name="video_one_joined_file_per_rendering",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} · {self.identity.slug} · {self.prompt.slug} · seed {self.seed}"


class StoryRendering(models.Model):
    """A story rendered by one method with one seed in one mode: its shot videos in order, and the joined
    file that plays them one after the other (a Video with no shot: what narrative comparisons pair; its
    prompt is the first shot's, its settings say the mode)."""

    class Mode(models.TextChoices):
        INDEPENDENT = "independent", "Independent: each shot from the references and its prompt"
        AUTOREGRESSIVE = (
            "autoregressive",
            "Autoregressive: each next shot from the last frame, with the references",
        )
        AUTOREGRESSIVE_NO_REFERENCES = (
            "autoregressive_no_references",
            "Autoregressive: each next shot from the last frame, without the references",
        )

    story = models.ForeignKey(Story, on_delete=models.PROTECT, related_name="renderings")
    method = models.ForeignKey(Method, on_delete=models.PROTECT, related_name="story_renderings")
    seed = models.BigIntegerField(default=0)
    mode = models.CharField(max_length=32, choices=Mode.choices, default=Mode.INDEPENDENT)
    # Seconds from the joined file's start at which each shot begins (first: 0.0), for the player's strip.
    shot_starts = models.JSONField(default=list, blank=True)
    settings = models.JSONField(default=dict, blank=True, help_text="Every generation setting.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["story", "method", "seed", "mode"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["story", "method", "seed", "mode"], name="story_rendering_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.story} · {self.method} · seed {self.seed} · {self.mode}"

    @property
    def joined(self) -> Video | None:
        return self.videos.filter(shot__isnull=True).first()

    def shot_videos(self) -> list[Video]:
        return list(self.videos.filter(shot__isnull=False).order_by("shot"))


# --- generation jobs ---------------------------------------------------------------------------------


class GenerationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = (GenerationStatus.DONE, GenerationStatus.FAILED, GenerationStatus.CANCELLED)


class GenerationJob(models.Model):
    """A launch of one method over identities × prompts × seeds; each video is a GenerationItem."""

    Status = GenerationStatus

    method = models.ForeignKey(Method, on_delete=models.PROTECT, related_name="generation_jobs")
    identities = models.ManyToManyField(Identity, related_name="generation_jobs")
    prompts = models.ManyToManyField(Prompt, related_name="generation_jobs")
    # A story job renders each story × seed in ``story_mode`` (one item per rendering) instead of clips.
    stories = models.ManyToManyField(Story, blank=True, related_name="generation_jobs")
    story_mode = models.CharField(max_length=32, choices=StoryRendering.Mode.choices, blank=True)
    seeds = models.JSONField(default=list)
    settings = models.JSONField(
        default=dict, blank=True, help_text="Overrides of the method's sampling settings for this job."
    )
    # Kept in step with the items by generation.services.jobs, so that lists need no per-job counting.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True, help_text="The first error that failed a video of this job.")
    # A plain id rather than a foreign key: tracks belong to the annotate app, which the catalog may not
    # import. annotate listens to generation.signals.job_finished and extends the track.
    extend_track_id = models.PositiveBigIntegerField(null=True, blank=True)
    # Whether the track also gets pairs of this method's videos with each other, which differ only by seed.
    extend_same_method_pairs = models.BooleanField(default=False)
    # A rematch: the job renders the (identity, prompt, seed) cases of this method's videos, and the track
    # it extends also gets each new video paired with this method's video of the same case.
    match_method = models.ForeignKey(
        Method, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Job {self.pk} · {self.method}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class GenerationItem(models.Model):
    """One unit of a job, its progress and its result: a clip (identity, prompt, seed) and its video, or
    a story rendering (story, seed; identity and prompt are the story's and its first shot's), all of its
    shots made in one task because each may start from the previous one."""

    Status = GenerationStatus

    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="items")
    identity = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="+")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="+")
    seed = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    # Counted when a worker takes the item: a task that kills its worker every time (out of memory) would
    # otherwise be handed back by the broker forever.
    attempts = models.PositiveSmallIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    steps_total = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    # When this attempt's first sampling step ended (the worker always writes step 1): the pace of the
    # steps is measured from here, without the loading, compiling and text encoding before it.
    first_step_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the last worker.")
    video = models.ForeignKey(
        Video, null=True, blank=True, on_delete=models.SET_NULL, related_name="generation_items"
    )
    story = models.ForeignKey(Story, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rendering = models.ForeignKey(
        StoryRendering, null=True, blank=True, on_delete=models.SET_NULL, related_name="generation_items"
    )

    class Meta:
        ordering: ClassVar = ["job", "identity", "prompt", "seed"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["job", "identity", "prompt", "seed"],
                condition=Q(story__isnull=True),
                name="generation_item_once",
            ),
            models.UniqueConstraint(
                fields=["job", "story", "seed"],
                condition=Q(story__isnull=False),
                name="generation_story_item_once",
            ),
        ]

    def __str__(self) -> str:
        if self.story_id is not None:
            return f"{self.job} · story {self.story} · seed {self.seed}"
        return f"{self.job} · {self.identity.slug} · {self.prompt.slug} · seed {self.seed}"

    @property
    def seconds_per_step(self) -> float | None:
        return step_pace(step=self.step, first_step_at=self.first_step_at, progress_at=self.progress_at)


def step_pace(*, step: int, first_step_at: datetime | None, progress_at: datetime | None) -> float | None:
    """Seconds per sampling step of a running item, measured from its first step's end to the last step
    written; None until two steps have ended."""
    if step < 2 or first_step_at is None or progress_at is None:
        return None
    return max(0.0, (progress_at - first_step_at).total_seconds()) / (step - 1)


class VideoMetric(models.Model):
    """One automatic metric of one video, under one exact definition of the metric.

    ``definition`` is a digest of the metric's name, version, model file hashes and settings: a changed
    metric gets new rows and never mixes with values computed the old way (``generation/metrics``).
    """

    class Status(models.TextChoices):
        COMPUTED = "computed", "Computed"
        # The metric ran but the video gives it nothing to measure (no face found on any sampled frame).
        NO_FACE = "no_face", "No face found"
        # The metric cannot run on this machine (text alignment without local weights): never a stand-in.
        UNAVAILABLE = "unavailable", "Unavailable"
        FAILED = "failed", "Failed"

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=40)
    version = models.CharField(max_length=20)
    definition = models.CharField(max_length=64, help_text="Digest of name, version, model hashes, settings.")
    model_hash = models.CharField(max_length=64, blank=True, help_text="sha256 of the model files, if any.")
    settings = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    value = models.FloatField(null=True, blank=True, help_text="The headline number (see the metric).")
    details = models.JSONField(default=dict, blank=True, help_text="Every aggregate the metric reports.")
    note = models.CharField(max_length=300, blank=True, help_text="Why there is no value, if none.")
    seconds = models.FloatField(default=0.0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["video", "name"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["video", "definition"], name="video_metric_one_per_definition"),
            models.CheckConstraint(
                condition=Q(value__isnull=True) | Q(status="computed"),
                name="video_metric_value_only_computed",
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["name", "definition"], name="video_metric_name_def_idx")]

    def __str__(self) -> str:
        return f"{self.name} {self.version} of video {self.video_id}: {self.status}"


class MetricRun(models.Model):
    """A request to compute the current metrics of many videos (the whole catalog), with its progress.

    The per-video work is one Celery task each on the ``metrics`` queue; the run counts what is done.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    video_count = models.PositiveIntegerField(default=0)
    definitions = models.JSONField(default=dict, help_text="Metric name → definition digest computed.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"metric run {self.pk} of {self.video_count} videos ({self.status})"
