"""Worker entry point: `celery -A workers.main worker -Q media,default`.

Like gunicorn's `web:create_app()`, this is a process boundary, so it is the
one place that builds settings from the environment at import.
"""

from web import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
