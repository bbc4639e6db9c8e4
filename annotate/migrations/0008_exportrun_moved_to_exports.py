from django.db import migrations


class Migration(migrations.Migration):
    """ExportRun moved to the exports app: gone from annotate's state, its table and rows stay."""

    dependencies = [
        ("annotate", "0007_queue_tables_vacuumed_often"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ExportRun")],
            database_operations=[],
        ),
    ]
