import gc
import os

from django.core.wsgi import get_wsgi_application

from config import embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# Sessions are read from the Redis cache before any query: the embedded servers run before a request.
embedded.start_configured()


def _load_what_requests_load() -> None:
    """What the first requests would load: the URLconf, with every view module (and library) it
    imports, and the comparison panel's compiled template. Loaded here, that is done once in the
    master under ``gunicorn --preload`` rather than in each worker's first request, and it is frozen
    below with the rest."""
    from django.template import engines
    from django.urls import get_resolver

    from annotate.views import PANEL_TEMPLATE

    get_resolver().url_patterns  # noqa: B018 (the property imports the URLconf)
    engines["jinja2"].get_template(PANEL_TEMPLATE)


_load_what_requests_load()

# Everything loaded so far (Django, the apps, their modules) lives as long as the process: kept out of
# the garbage collector's full passes, which would otherwise walk those hundreds of thousands of objects
# every so often in the middle of a request. Under `gunicorn --preload` it also keeps the workers'
# copies of those pages shared with the master.
gc.freeze()
