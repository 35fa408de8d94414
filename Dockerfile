# SalesOps production image: `docker compose up` (compose.yaml) or `docker run … salesops`.
# The image runs the supervisor (python -m salesops.opstools.supervise); compose picks the
# processes per service with --processes web | worker | scheduler.
FROM python:3.13-slim-trixie

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATIC_ROOT=/app/staticfiles MEDIA_ROOT=/data/media BACKUP_DIR=/data/backups
# Runtime system packages: the CJK font for PDFs, poppler for PDF checks, ffmpeg for audio
# evidence, the PostgreSQL client for backup/restore (pg_dump/pg_restore).
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-zenhei poppler-utils poppler-data ffmpeg postgresql-client gettext \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Static files are part of the image (hashed names + .gz/.br); SECRET_KEY here is a build-only dummy.
RUN DEBUG=0 SECRET_KEY=build-only-collectstatic ALLOWED_HOSTS=build python manage.py collectstatic --noinput -v 0 \
 && useradd --system --uid 10001 --home /app salesops && mkdir -p /data/media /data/backups && chown -R salesops /data
USER salesops
EXPOSE 8000
ENV BIND=0.0.0.0:8000 PDF_TTF_FONT=/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
HEALTHCHECK --interval=15s --timeout=3s --retries=3 CMD python -c "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:8000/healthz', headers={'X-Forwarded-Proto': 'https', 'Host': 'localhost'}), timeout=2)"
CMD ["python", "-m", "salesops.opstools.supervise", "--no-prepare", "--processes", "web"]
