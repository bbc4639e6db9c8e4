import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """ExportRun, moved here from annotate: only the state is created, the table annotate_exportrun exists.

    annotate's 0002 created the table (on a fresh database as on an old one) and its 0008 dropped the model
    from annotate's state only, so this runs after it and touches no row.
    """

    initial = True

    dependencies = [
        ("annotate", "0008_exportrun_moved_to_exports"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ExportRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "options",
                            models.JSONField(
                                default=dict, help_text="ExportOptions.to_json(): filters and aggregation."
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("running", "Running"),
                                    ("done", "Done"),
                                    ("failed", "Failed"),
                                ],
                                default="queued",
                                max_length=8,
                            ),
                        ),
                        ("progress", models.FloatField(default=0.0, help_text="0 to 1.")),
                        ("progress_message", models.CharField(blank=True, max_length=200)),
                        ("archive", models.CharField(blank=True, max_length=300)),
                        ("archive_bytes", models.BigIntegerField(blank=True, null=True)),
                        ("archive_sha256", models.CharField(blank=True, max_length=64)),
                        (
                            "counts",
                            models.JSONField(
                                blank=True,
                                default=dict,
                                help_text="The manifest's counts, for the list page.",
                            ),
                        ),
                        ("error", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="export_runs",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "annotate_exportrun",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
