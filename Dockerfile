# clinicsync: one image for every run mode.
#   docker run ... clinicsync run --serve        (the default: service + HTTP server, /healthz)
#   docker run ... clinicsync sync --once        (the cron path; exit 1 when a connector failed)
# Settings are mounted at /etc/clinicsync/settings.yaml (a Kubernetes ConfigMap), secrets as
# files or environment variables (a Kubernetes Secret); nothing secret is baked in.

FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never PIP_NO_CACHE_DIR=1
RUN pip install --no-cache-dir "uv>=0.5,<1"
WORKDIR /app
# Dependencies first (a layer that changes only with uv.lock), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-install-project --no-editable
COPY connectors ./connectors
COPY mappings ./mappings
COPY notifiers ./notifiers
COPY sync ./sync
COPY clinicsync ./clinicsync
RUN uv sync --frozen --no-editable

FROM python:3.11-slim
RUN groupadd --system --gid 10001 clinicsync \
    && useradd --system --uid 10001 --gid clinicsync --home-dir /var/lib/clinicsync --create-home \
       --shell /usr/sbin/nologin clinicsync
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CLINICSYNC_CONFIG=/etc/clinicsync/settings.yaml
WORKDIR /var/lib/clinicsync
USER 10001:10001
EXPOSE 8080
# The HTTP server of `run --serve` answers /healthz on server.port (8080; settings must set
# server.host: 0.0.0.0 in a container). `sync --once` containers have no server: run them
# with --no-healthcheck (Kubernetes ignores HEALTHCHECK and uses its own probes).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
# SIGTERM (docker stop, Kubernetes) stops `run` cleanly: work in flight ends at a safe
# point within service.shutdown_grace (25s by default, under Docker's and Kubernetes' 30s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["clinicsync"]
CMD ["run", "--serve"]
