"""Export of judgments as versioned preference datasets (see shared/export-spec.md, schema v1).

``build.export_build`` writes one snapshot directory; ``runs`` wraps it as a tracked run with an archive
for the pages, the API and the Celery task. The app sits above ``annotate`` and ``studies`` and reads both.
"""
