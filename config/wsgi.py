import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Everything loaded so far (Django, the apps, their modules) lives as long as the process: kept out of
# the garbage collector's full passes, which would otherwise walk those hundreds of thousands of objects
# every so often in the middle of a request. Under `gunicorn --preload` it also keeps the workers'
# copies of those pages shared with the master.
gc.freeze()
