"""Stories of a seller's first minutes: a starter watchlist, rules that add to the built-ins,
and mistakes that are refused at once instead of silently accepted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from policywatch.watchlist.rules import DEFAULT_RULES
from tests.seller import CONDUCT, REWORDED, pages_at, write_watchlist
from tests.test_daemon import Watcher, wait_for

ROOT = Path(__file__).resolve().parent.parent


def policywatch(*args: str, cwd: Path, env: dict[str, str] | None = None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POLICYWATCH_")}
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), clean.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "policywatch", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=clean | (env or {}),
    )


def test_init_writes_a_starter_for_the_named_marketplaces_that_validate_accepts(tmp_path):
    written = policywatch("init", "--marketplaces", "us,UK", cwd=tmp_path)

    assert written.returncode == 0, written.stderr
    assert "policywatch validate" in written.stdout and "policywatch check" in written.stdout
    validated = policywatch("validate", cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr
    assert "seller-code-of-conduct@UK" in validated.stdout
    assert "seller-code-of-conduct@DE" not in validated.stdout


def test_the_starters_schema_line_names_the_schema_policywatch_prints_next_to_it(tmp_path):
    assert policywatch("init", "config/watchlist.yaml", cwd=tmp_path).returncode == 0

    first = (tmp_path / "config" / "watchlist.yaml").read_text(encoding="utf-8").splitlines()[0]
    named = tmp_path / "config" / first.removeprefix("# yaml-language-server: $schema=")
    assert named.read_text(encoding="utf-8") == policywatch("schema", cwd=tmp_path).stdout


def test_validate_after_init_warns_of_nothing_and_keeps_the_built_in_rules(tmp_path):
    assert policywatch("init", cwd=tmp_path).returncode == 0

    validated = policywatch("validate", cwd=tmp_path)

    assert validated.returncode == 0, validated.stderr
    # The one warning left is a machine's, not the file's: no browser to render pages with.
    assert [line for line in validated.stderr.splitlines() if "need the browser" not in line] == []
    assert "REPLACES" not in validated.stdout
    assert f"rules: the {len(DEFAULT_RULES)} built-in rules and 1 of yours" in validated.stdout
    assert "rule buyer-messaging  critical  en" in validated.stdout
    assert "rule account-health  major  en" in validated.stdout
    assert "notify route 'slack' skipped: SLACK_WEBHOOK_URL not set" in validated.stdout


def test_init_never_overwrites_a_watchlist_and_says_how_to_go_on(tmp_path):
    mine = tmp_path / "watchlist.yaml"
    mine.write_text("pages: []  # mine\n", encoding="utf-8")

    refused = policywatch("init", cwd=tmp_path)

    assert refused.returncode == 2
    assert "already exists" in refused.stderr and "policywatch init other.yaml" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert mine.read_text(encoding="utf-8") == "pages: []  # mine\n"


def test_init_refuses_a_marketplace_amazon_does_not_have(tmp_path):
    refused = policywatch("init", "--marketplaces", "US,XX", cwd=tmp_path)

    assert refused.returncode == 2
    assert "unknown marketplace 'XX'" in refused.stderr
    assert not (tmp_path / "watchlist.yaml").exists()


def test_a_missing_watchlist_points_at_init(tmp_path):
    missing = policywatch("validate", cwd=tmp_path)

    assert missing.returncode == 2
    assert "policywatch init watchlist.yaml" in missing.stderr


def test_the_packaged_starter_is_the_shipped_watchlist_byte_for_byte():
    packaged = ROOT / "policywatch" / "watchlist" / "starter.yaml"

    assert packaged.read_bytes() == (ROOT / "watchlist.yaml").read_bytes()


EDITED = REWORDED.replace(
    "<li>Always provide accurate information to Amazon and our customers</li>",
    "<li>Always provide accurate information, including Brand Registry details</li>",
)


def test_rules_added_to_the_built_ins_fire_beside_them(tmp_path, pageserver):
    pageserver.route("/conduct", CONDUCT)
    config = tmp_path / "watchlist.yaml"
    write_watchlist(config, pages_at({"conduct": pageserver.url("/conduct")}), notify=())
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    document["rules"] = {
        "builtin": True,
        "add": [{"name": "brand-registry", "severity": "major", "terms": ["Brand Registry"]}],
    }
    config.write_text(yaml.safe_dump(document), encoding="utf-8")

    validated = policywatch("validate", cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr
    assert f"rules: the {len(DEFAULT_RULES)} built-in rules and 1 of yours" in validated.stdout
    assert "rule brand-registry  major  any language" in validated.stdout
    assert "rule buyer-messaging  critical  en" in validated.stdout
    assert policywatch("check", cwd=tmp_path).returncode == 0
    pageserver.route("/conduct", EDITED)
    assert policywatch("check", cwd=tmp_path).returncode == 0

    shown = policywatch("diff", "conduct", "--format", "text", "--no-color", cwd=tmp_path)
    assert 'critical term "unsolicited"' in shown.stdout
    assert 'major term "Brand Registry"' in shown.stdout


def test_an_added_rule_named_like_a_built_in_one_is_refused_at_its_line(tmp_path):
    config = tmp_path / "watchlist.yaml"
    write_watchlist(config, pages_at({"conduct": "http://127.0.0.1:9/conduct"}), notify=())
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    document["rules"] = {"add": [{"name": "reviews", "language": "en", "terms": ["star"]}]}
    config.write_text(yaml.safe_dump(document), encoding="utf-8")

    refused = policywatch("validate", cwd=tmp_path)

    assert refused.returncode == 2
    assert "rules.add[0]: rule name 'reviews' is a built-in rule's" in refused.stderr


def test_a_plain_rules_list_is_said_to_replace_the_built_ins(tmp_path):
    config = tmp_path / "watchlist.yaml"
    write_watchlist(config, pages_at({"conduct": "http://127.0.0.1:9/conduct"}), notify=())
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    document["rules"] = [{"name": "brand-registry", "terms": ["Brand Registry"]}]
    config.write_text(yaml.safe_dump(document), encoding="utf-8")

    validated = policywatch("validate", cwd=tmp_path)

    assert validated.returncode == 0, validated.stderr
    assert "your list of 1 REPLACES the built-in rules" in validated.stdout
    assert "rules: {builtin: true, add: [...]}" in validated.stdout
    assert "rule buyer-messaging" not in validated.stdout


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("diff", "conduct", "--context", "-3"), "--context"),
        (("check", "--wait", "-5"), "--wait"),
        (("health", "--max-age", "-1"), "--max-age"),
        (("compare", "conduct", "US", "UK", "--lag-days", "-2"), "--lag-days"),
    ],
)
def test_a_negative_count_or_duration_is_refused_at_once(tmp_path, args, option):
    refused = policywatch(*args, cwd=tmp_path)

    assert refused.returncode == 2
    assert f"argument {option}: must be 0 or more" in refused.stderr
    assert "Traceback" not in refused.stderr


SLACK = {"name": "slack", "url": "${PW_TEST_UNSET_SLACK_URL}", "optional": True}


def test_an_optional_route_waiting_for_its_variable_is_reported_by_validate_and_run_only(
    tmp_path, pageserver
):
    pageserver.route("/conduct", CONDUCT)
    config = tmp_path / "watchlist.yaml"
    write_watchlist(config, pages_at({"conduct": pageserver.url("/conduct")}), notify=[SLACK])
    skipped = "notify route 'slack' skipped: PW_TEST_UNSET_SLACK_URL not set"

    validated = policywatch("validate", cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr
    assert f"  {config.name}:" in validated.stdout and skipped in validated.stdout
    assert validated.stderr == ""  # listed, not a warning: the route waits by its owner's choice
    for command in (("check",), ("history", "conduct"), ("diff", "conduct", "latest", "latest")):
        quiet = policywatch(*command, cwd=tmp_path)
        assert quiet.returncode == 0, quiet.stderr
        assert skipped not in quiet.stderr, command

    watcher = Watcher(config, tmp_path / "data")
    try:
        wait_for(lambda: watcher.logged("started"), "the run to start")
    finally:
        watcher.terminate()
    assert len(watcher.logged(skipped)) == 1, watcher.lines
