# The orchestrator: web (daphne) and worker (django-q2 and the fast loops) from one image.
# `docker compose up -d` runs them as two services (compose.yml); `docker run` of this image alone
# runs both in one container through `manage.py runorchestrator`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# A user of its own, owner of /data (a named volume mounted there starts with this owner).
# Talking to Docker needs the group of /var/run/docker.sock on the host, which differs from host to
# host: compose adds it with `group_add: ["${DOCKER_GID}"]`; with `docker run` use
# `--group-add "$(stat -c %g /var/run/docker.sock)"`. Whoever can use that socket controls the
# host's Docker, so the non-root user limits mistakes, not what a compromise could reach.
RUN useradd --system --uid 10001 --no-create-home --home-dir /app orchestrator \
    && mkdir -p /data \
    && chown orchestrator /data
USER orchestrator
VOLUME ["/data"]

EXPOSE 8000
# /health answers 503 when the database, Docker, the worker's heartbeats (or the VPN)
# is down; the first heartbeats come within about a minute of the start.
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=8).status != 200)"]

CMD ["python", "manage.py", "runorchestrator"]
