# The xinglian image: one image for web, workers, beat and migrations (the compose file picks the command).
# Stage 1 builds the virtualenv and fetches the pinned front-end libraries; stage 2 is the runtime, with
# Debian's ffmpeg, no compilers, and a non-root user.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /src/requirements.txt
RUN /opt/venv/bin/pip install -r /src/requirements.txt
COPY scripts/vendor_assets.py /src/scripts/vendor_assets.py
COPY web/static/vendor.json /src/web/static/vendor.json
RUN /opt/venv/bin/python /src/scripts/vendor_assets.py

FROM python:3.11-slim-bookworm AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin xinglian
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root . /app
COPY --from=build /src/web/static/vendor /app/web/static/vendor
# Media scratch space and Celery beat's schedule live outside the (read-only) code.
RUN mkdir -p /var/lib/xinglian && chown xinglian /var/lib/xinglian
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MEDIA_WORK_DIR=/var/lib/xinglian/media-work \
    CELERY_BEAT_SCHEDULE=/var/lib/xinglian/celerybeat-schedule \
    LOG_FORMAT=json
USER xinglian
EXPOSE 8000
CMD ["gunicorn", "-c", "python:web.gunicorn_conf", "--bind", "0.0.0.0:8000", "web:create_app()"]
