# Tallybook's image: `tallybook serve` by default; `docker run IMAGE worker` for a worker,
# `docker run IMAGE migrate` to bring the schema up to date (see docs/deployment.md).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# A virtual environment to copy whole into the runtime stage; `s3` adds boto3 for
# TALLYBOOK_FILES_URL=s3://…, `clickhouse` the client of a ClickHouse server. Every
# dependency ships a manylinux wheel: no compiler needed.
RUN python -m venv /opt/tallybook \
 && /opt/tallybook/bin/pip install ".[s3,clickhouse]"

FROM python:3.11-slim
ENV PATH=/opt/tallybook/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TALLYBOOK_DATA_DIR=/data \
    TALLYBOOK_HOST=0.0.0.0 \
    TALLYBOOK_PORT=8000
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin tallybook \
 && mkdir /data \
 && chown tallybook:tallybook /data
COPY --from=build /opt/tallybook /opt/tallybook
USER tallybook
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# The API's liveness; a worker container has no HTTP API (compose.yaml checks its metrics).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('TALLYBOOK_PORT', '8000') + '/healthz', timeout=4)"]
ENTRYPOINT ["tallybook"]
CMD ["serve"]
