"""A data dir that cannot be used is one clear line, never a traceback.

A seller mistypes -d (a file, or a path under a file) or runs out of disk in the
middle of storing a version. Every command answers with one line that names the
path and what to do: exit 2 for a wrong -d (nothing was fetched or written),
exit 1 for a failure at run time such as a full disk.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.pageserver import PageServer
from tests.seller import CONDUCT, Seller, conduct_seller
from tests.test_daemon import ROOT, _env

COMMANDS = (
    ("check",),
    ("history", "conduct"),
    ("show", "conduct"),
    ("diff", "conduct"),
    ("alerts",),
    ("health",),
    ("run",),
)


@pytest.mark.parametrize("where", ["is a file", "is inside"])
def test_a_data_dir_that_is_not_a_directory_is_a_usage_error_for_every_command(
    tmp_path, capsys, pageserver: PageServer, where
):
    seller = conduct_seller(tmp_path, pageserver)
    blocker = tmp_path / "policywatch-data.tar"
    blocker.write_bytes(b"not a folder")
    seller = Seller(tmp_path, seller.config)
    seller.data = blocker if where == "is a file" else blocker / "data"
    for command in COMMANDS:
        code, out, err = seller(capsys, *command)
        assert code == 2, f"{command}: {out}{err}"
        assert f'File "{ROOT / "policywatch"}' not in err  # no traceback through our code
        assert f"the data directory {seller.data} {where}" in err, err
        assert [line for line in err.splitlines() if line.startswith("policywatch:")] == [
            line for line in err.splitlines() if "the data directory" in line
        ]


def _files_may_not_grow_past(limit: int) -> Callable[[], None]:
    """The disk is "full" for the child: files may not grow past `limit` bytes (EFBIG, no kill).

    A stand-in for a full disk that needs no root and no mount: the write fails
    with EFBIG where a full disk gives ENOSPC, and both take the same path.
    """

    def limit_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_files


@pytest.mark.parametrize(
    "room", [0, 1024], ids=["full before the lock is taken", "full while a version is stored"]
)
def test_a_full_disk_is_one_line_naming_the_data_dir(tmp_path, pageserver, room):
    pageserver.route("/conduct", CONDUCT)
    seller = conduct_seller(tmp_path, pageserver)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "policywatch",
            "-c",
            str(seller.config),
            "-d",
            str(seller.data),
            "check",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        preexec_fn=_files_may_not_grow_past(room),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    [error, hint] = result.stderr.strip().splitlines()
    assert error.startswith("policywatch: cannot write ") and f"{seller.data}" in error
    assert "File too large" in error and "hint:" in hint
