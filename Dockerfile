# medtalk image: `docker build -t medtalk .` then `docker run -p 8089:8089 --env-file .env medtalk`.
# Stage 1 builds a virtualenv with the pinned runtime dependencies; stage 2 copies only that
# venv into a slim image and runs it as an unprivileged user. The same image runs
# `medtalk serve` (default), `medtalk worker` and `medtalk migrate`.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m pip install uv
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
# The lock file pins every version; runtime packages only (no dev extras) go into the venv.
RUN uv venv /opt/medtalk \
 && uv pip install --python /opt/medtalk/bin/python --no-cache \
      --constraint requirements.lock .

FROM python:3.11-slim AS runtime
ENV PATH=/opt/medtalk/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MEDTALK_HOST=0.0.0.0 \
    MEDTALK_PORT=8089 \
    MEDTALK_DATA_DIR=/var/lib/medtalk \
    MEDTALK_LOG_FORMAT=json
# ffmpeg/ffprobe remux and measure assembled call recordings (docs/recording.md).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 medtalk \
 && useradd --system --uid 10001 --gid medtalk --home-dir /var/lib/medtalk --shell /usr/sbin/nologin medtalk \
 && install -d -o medtalk -g medtalk -m 0750 /var/lib/medtalk
COPY --from=build /opt/medtalk /opt/medtalk
USER 10001:10001
WORKDIR /var/lib/medtalk
EXPOSE 8089
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8089/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["medtalk"]
CMD ["serve"]
