"""Export runs: one tracked export of judgments as a preference dataset, with its downloadable archive."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models


class ExportRun(models.Model):
    """One export of judgments as a preference dataset, run by a Celery task into a downloadable archive."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    options = models.JSONField(default=dict, help_text="ExportOptions.to_json(): filters and aggregation.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0 to 1.")
    progress_message = models.CharField(max_length=200, blank=True)
    # Relative to the exports folder (settings.EXPORT_ROOT), never a URL: downloads pass a permission check.
    archive = models.CharField(max_length=300, blank=True)
    archive_bytes = models.BigIntegerField(null=True, blank=True)
    archive_sha256 = models.CharField(max_length=64, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="The manifest's counts, for the list page.")
    error = models.TextField(blank=True)
    # The earlier run whose snapshot this one extends (same options): its manifest records the diff.
    extends = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="extended_by"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="export_runs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table kept the name it had when exports lived in annotate: the model moved, the rows stayed.
        db_table = "annotate_exportrun"
        ordering: ClassVar = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return round(100 * min(max(self.progress, 0.0), 1.0))
