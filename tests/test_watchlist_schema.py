"""Stories about the watchlist's JSON Schema: what an editor reads to help a seller type it.

The schema is generated from the same models that validate the watchlist, shipped in
the package, and named at the top of the shipped watchlist.yaml; an editor then
completes keys and flags a typo before `policywatch validate` ever runs.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "watchlist.yaml"
SHIPPED_SCHEMA = ROOT / "policywatch" / "watchlist" / "watchlist.schema.json"


def policywatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policywatch", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SHIPPED_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture()
def shipped() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def test_the_shipped_schema_is_what_policywatch_schema_prints_so_it_never_goes_stale():
    printed = policywatch("schema")

    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == SHIPPED_SCHEMA.read_text(encoding="utf-8")


def test_the_shipped_watchlist_points_editors_at_the_shipped_schema():
    first = SHIPPED.read_text(encoding="utf-8").splitlines()[0]

    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    assert (SHIPPED.parent / first.removeprefix(prefix)).resolve() == SHIPPED_SCHEMA.resolve()


def test_the_shipped_watchlist_passes_the_schema_an_editor_checks_it_with(validator, shipped):
    assert list(validator.iter_errors(shipped)) == []


@pytest.mark.parametrize(
    ("path", "typo"),
    [
        (("pages", 0), "selct"),
        (("defaults",), "intervall"),
        (("rules", "add", 0), "term"),
        (("notify", 0), "min_severty"),
        ((), "page"),
    ],
)
def test_an_editor_flags_a_typod_key(validator, shipped, path, typo):
    typed = copy.deepcopy(shipped)
    where = typed
    for step in path:
        where = where[step]
    where[typo] = "x"

    errors = list(validator.iter_errors(typed))

    assert errors, f"{typo!r} was not flagged"
    assert any(typo in error.message for error in errors)


def test_an_editor_flags_an_unknown_severity_fetch_mode_and_marketplace(validator, shipped):
    for key, value in (("severity", "loud"), ("fetch", "chrome"), ("marketplaces", ["GB"])):
        typed = copy.deepcopy(shipped)
        target = typed["rules"]["add"][0] if key == "severity" else typed["pages"][0]
        target[key] = value

        assert list(validator.iter_errors(typed)), f"{key}: {value!r} was not flagged"


def test_the_schema_says_what_each_page_key_means(validator):
    page = validator.schema["$defs"]["Page"]

    assert page["required"] == ["id", "url"]
    assert page["additionalProperties"] is False
    for key, spec in page["properties"].items():
        if "$ref" in spec:  # a mapping of its own: its definition carries the description
            spec = validator.schema["$defs"][spec["$ref"].rsplit("/", 1)[1]]
        assert spec.get("description"), key


def test_the_wheel_carries_the_schema_an_editor_points_at(tmp_path):
    from tests.test_install import missing_build_requirements, run

    missing = missing_build_requirements()
    if missing:
        pytest.skip(f"building the wheel offline needs {', '.join(missing)} installed here")
    source = tmp_path / "src"
    shutil.copytree(
        ROOT / "policywatch", source / "policywatch", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    built = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "-w", wheels, ".", cwd=source,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr

    [wheel] = wheels.glob("policywatch-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packed = archive.read("policywatch/watchlist/watchlist.schema.json").decode("utf-8")
    assert packed == SHIPPED_SCHEMA.read_text(encoding="utf-8")


def test_an_editor_accepts_the_spellings_the_loader_accepts(validator, shipped, tmp_path):
    from policywatch.watchlist.load import load_config

    shipped["pages"][0]["marketplaces"] = ["us", "Uk"]
    shipped["pages"][1].update(fetch="HTTP", marketplace="de", profile="Seller-Central")
    shipped["rules"]["add"][0]["severity"] = "Critical"
    shipped["rules"]["add"][0]["links"] = "ALERT"
    shipped["notify"][0]["min_severity"] = " Major "
    path = tmp_path / "watchlist.yaml"
    path.write_text(yaml.safe_dump(shipped, allow_unicode=True), encoding="utf-8")

    assert load_config(path, env={}).page("seller-code-of-conduct@UK")
    assert list(validator.iter_errors(shipped)) == []


def test_an_editor_accepts_rules_added_to_the_built_ins_and_flags_a_typo_in_them(
    validator, shipped
):
    own = shipped["rules"]["add"][0]

    assert list(validator.iter_errors({**shipped, "rules": {"builtin": False, "add": [own]}})) == []
    assert list(validator.iter_errors({**shipped, "rules": [own]})) == []  # the plain list form
    assert list(validator.iter_errors({**shipped, "rules": {"builtin": True, "ad": []}}))
