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
# Two stages: the first installs policywatch and every dependency into a virtualenv and trims
# it (Playwright's Node driver stripped of debug symbols, its UI apps and tests removed); the
# second copies only that virtualenv (no pip, no build tools, no wheel files) next to Debian's
# Chromium, which the browser fetcher drives through Playwright for Seller Central's
# client-rendered pages. No browser is ever downloaded.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# binutils only for `strip`; this stage is thrown away.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends binutils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY policywatch ./policywatch
# policywatch with the [browser] extra (the playwright package, never its browser download) and
# the [web] extra (`policywatch serve`: jinja2, waitress, feedgen).
# The virtualenv gets no pip of its own; the base image's pip installs into it. Playwright's
# bundled Node (the driver) ships with debug symbols (~33 MB); its trace viewer, recorder and
# HTML report apps, type definitions and Chrome/Edge reinstall scripts are never used to drive
# a headless Chromium. The bytecode stays: without it every `policywatch` command, the
# health check included, recompiles its imports (about 4 s instead of 1 s on a busy host).
# DL3013: what is installed is this checkout; its dependencies float like Debian's packages.
# hadolint ignore=DL3013
RUN python -m venv --without-pip /opt/policywatch \
 && pip --python /opt/policywatch/bin/python install --no-cache-dir ".[browser,web]" \
 && site=$(/opt/policywatch/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && strip --strip-unneeded "$site/playwright/driver/node" \
 && rm -rf "$site/playwright/driver/package/lib/vite" "$site/playwright/driver/package/types" \
           "$site/playwright/driver/package/bin" \
 && find "$site" -depth -type d -name tests -exec rm -rf {} +

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="policywatch" \
      org.opencontainers.image.description="Watch marketplace policy pages, keep every version, and alert in plain words when wording that matters changes." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/policywatch/policywatch"

# Chromium renders the JavaScript-only Seller Central pages; fonts-liberation gives it the
# standard metric-compatible fonts; libatomic1 is a runtime library of Playwright's Node driver
# that slim images lack (without it the driver dies at start and every browser page errors).
# Versions float with Debian's security updates on purpose. While these packages unpack, dpkg
# skips what a headless Chromium never reads: documentation, manuals and translations, GTK's
# icons (no window is ever drawn; the small .theme files stay for the cursor alternative) and
# the Mesa GPU drivers with the LLVM they pull in (Chromium runs with --disable-gpu and renders
# in software with its own SwiftShader). The exclusions are removed again, so packages a user
# adds later install whole. No .deb files or package lists stay in the layer.
# hadolint ignore=DL3008
RUN printf 'path-exclude=%s\n' '/usr/share/doc/*' '/usr/share/man/*' '/usr/share/info/*' \
      '/usr/share/locale/*' '/usr/share/icons/*' \
      '/usr/lib/*/dri/*' '/usr/lib/*/libLLVM-*' '/usr/lib/*/libz3.so*' \
      '/usr/lib/chromium/libVkLayer_khronos_validation.so*' \
      > /etc/dpkg/dpkg.cfg.d/policywatch-slim \
 && printf 'path-include=%s\n' '/usr/share/doc/*/copyright' '/usr/share/icons/*.theme' \
      >> /etc/dpkg/dpkg.cfg.d/policywatch-slim \
 && apt-get update \
 && apt-get install -y --no-install-recommends chromium fonts-liberation libatomic1 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /etc/dpkg/dpkg.cfg.d/policywatch-slim

COPY --from=build /opt/policywatch /opt/policywatch

RUN groupadd --system --gid 10001 policywatch \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/policywatch policywatch \
 && mkdir -p /data /config \
 && chown 10001:10001 /data
# The shipped example; mount your own over it (read-only) at the same path.
COPY watchlist.yaml /config/watchlist.yaml

ENV PATH=/opt/policywatch/bin:$PATH \
    POLICYWATCH_DATA=/data \
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
