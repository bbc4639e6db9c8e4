"""Export of judgments as versioned preference datasets (see shared/export-spec.md, schema v1).

``export_build`` writes one snapshot directory; ``runs`` wraps it as a tracked run with an archive
for the pages, the API and the Celery task.
"""

from __future__ import annotations

from annotate.export.build import ExportError, ExportResult, export_build
from annotate.export.options import ExportOptions, ExportOptionsError

__all__ = ["ExportError", "ExportOptions", "ExportOptionsError", "ExportResult", "export_build"]
