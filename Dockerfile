# syntax=docker/dockerfile:1
# runledger container image.
#
#   docker build -t runledger:0.1.0 .
#   docker run --rm runledger:0.1.0 --help
#
# Two stages: the builder turns pyproject.toml and the three import packages
# into wheels (runledger's and its dependencies'); the runtime stage installs
# those wheels offline, so it never sees a compiler, the sources or a network.
#
# Reproducible: the base image is pinned by digest (a tag moves, a digest does
# not; bump both together, e.g. from `docker buildx imagetools inspect
# python:3.12-slim`), and every dependency's version comes from constraints.txt
# (regenerate with .ci/update-constraints.sh).

ARG PYTHON_IMAGE=python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea
# Extras baked into the image: msk-iam so Amazon MSK IAM works with the published image.
ARG EXTRAS=msk-iam

# --- builder -----------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ARG EXTRAS

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
# Only what the wheel is built from (see .dockerignore): editing tests or the
# chart does not invalidate this layer.
COPY pyproject.toml README.md LICENSE constraints.txt ./
COPY contracts ./contracts
COPY consumer ./consumer
COPY sinks ./sinks

# runledger's wheel (built by hatchling, per pyproject.toml) plus a wheel for
# every runtime dependency at the version constraints.txt pins, all in /wheels.
RUN python -m pip wheel --wheel-dir /wheels --constraint constraints.txt ".[${EXTRAS}]"

# --- runtime -----------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG EXTRAS

LABEL org.opencontainers.image.title="runledger" \
      org.opencontainers.image.description="Idempotent Kafka consumer group writing orchestration telemetry to PostgreSQL and Neo4j" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# A fixed, numeric non-root user: Kubernetes' runAsNonRoot can verify it and
# the Helm chart's securityContext (runAsUser 10001) matches it.
RUN groupadd --system --gid 10001 runledger \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
            --home-dir /nonexistent --shell /usr/sbin/nologin runledger

# Install the built wheel, resolving dependencies from the builder's wheels only
# (--no-index). The wheels are bind-mounted, so they leave no layer behind.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links=/wheels "runledger[${EXTRAS}]"

USER 10001:10001
# A writable working directory (an emptyDir under the chart's read-only root
# filesystem); runledger keeps no state of its own on disk.
WORKDIR /tmp

# /metrics, /healthz and /readyz (RUNLEDGER_METRICS__PORT).
EXPOSE 9108

# runledger drains, commits and exits on SIGTERM (docker stop / pod deletion).
# Health is probed by Kubernetes on /healthz and /readyz, hence no HEALTHCHECK.
STOPSIGNAL SIGTERM
ENTRYPOINT ["runledger"]
CMD ["run"]
