# syntax=docker/dockerfile:1
# policywatch: watch policy pages (Amazon Seller Central help pages and others), keep every
# version, alert when watched wording changes.
#
#   docker build -t policywatch .
#   docker run -d --init --name policywatch \
#     -v "$PWD/watchlist.yaml:/config/watchlist.yaml:ro" -v policywatch-data:/data \
#     -e SLACK_WEBHOOK_URL policywatch            # `run`: poll forever (see compose.yaml)
#   docker run --rm -v policywatch-data:/data policywatch check     # any other command works too
#
# Two stages: the first builds policywatch and every dependency into wheels; the second
# installs only those wheels (no build tools, no pip cache, no wheel files left in a layer)
# next to Debian's Chromium, which the browser fetcher drives through Playwright for Seller
# Central's client-rendered pages. Needs BuildKit (the default builder of current Docker).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY policywatch ./policywatch
# policywatch with the [browser] extra (the playwright package, not its browser download).
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[browser]"

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="policywatch" \
      org.opencontainers.image.description="Watch marketplace policy pages, keep every version, and alert in plain words when wording that matters changes." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/policywatch/policywatch"

# Chromium renders the JavaScript-only Seller Central pages; fonts-liberation gives it the
# standard metric-compatible fonts. Versions float with Debian's security updates on purpose.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium fonts-liberation \
 && rm -rf /var/lib/apt/lists/*

# The wheels are mounted for this one step, not copied: no layer keeps them.
RUN --mount=type=bind,from=build,source=/wheels,target=/tmp/wheels \
    pip install --no-cache-dir --no-index --find-links=/tmp/wheels /tmp/wheels/*.whl

RUN groupadd --system --gid 10001 policywatch \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/policywatch policywatch \
 && mkdir -p /data /config \
 && chown 10001:10001 /data
# The shipped example; mount your own over it (read-only) at the same path.
COPY watchlist.yaml /config/watchlist.yaml

ENV POLICYWATCH_DATA=/data \
    POLICYWATCH_CONFIG=/config/watchlist.yaml \
    POLICYWATCH_CHROMIUM=/usr/bin/chromium \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 10001:10001
WORKDIR /data
VOLUME /data

HEALTHCHECK --interval=60s --timeout=15s --start-period=30s --retries=3 \
  CMD ["policywatch", "health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["policywatch"]
CMD ["run"]
