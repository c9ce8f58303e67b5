"""WSGI entry point, for serving the HTTP API alone under a WSGI server."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskflow.settings")

application = get_wsgi_application()
