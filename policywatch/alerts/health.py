"""Alerts about a page rather than its wording: unreachable, recovered, history lost, flapping,
settled, a translation lagging behind, and the probe `notify-test` sends."""

from __future__ import annotations

from collections.abc import Sequence

from policywatch.alerts.compose import (
    Alert,
    AlertKind,
    Body,
    cli_command,
    html_page,
    md_link,
    page_name,
    when,
)
from policywatch.content import Snapshot
from policywatch.diff.markdown import markdown_escape
from policywatch.models import PageSpec, Severity, sha256_hex, short_id
from policywatch.redact import redact_page_url

# --------------------------------------------------------------------------- page health alerts


def unreachable_alert(
    page: PageSpec,
    failures: int,
    last_reason: str,
    since: str,
    *,
    config_path: str | None = None,
    data_dir: str | None = None,
    severity: Severity = Severity.MAJOR,
) -> Alert:
    """A page we could not check several times in a row: changes there would go unseen.

    One per episode (keyed by when it started); `recovered_alert` closes it.
    """
    name = page_name(page)
    times = "failure" if failures == 1 else "failures"
    title = f"[unreachable] {name} could not be checked ({failures} {times} in a row)"
    command = cli_command("-v", "check", page.id, config_path=config_path, data_dir=data_dir)
    facts = [
        ("Page", name),
        ("URL", redact_page_url(page.url)),
        ("Failing since", when(since)),
        ("Last reason", last_reason),
        ("What to do", f"open the URL in a browser; then run {command}"),
    ]
    return _health_alert("unreachable", page, since, severity, title, facts, command)


def recovered_alert(
    page: PageSpec, down_since: str, *, severity: Severity = Severity.MAJOR
) -> Alert:
    """The page answers with the policy again; it goes to whoever got the unreachable alert."""
    name = page_name(page)
    title = f"[recovered] {name} can be checked again"
    facts = [
        ("Page", name),
        ("URL", redact_page_url(page.url)),
        ("Failing since", when(down_since)),
    ]
    return _health_alert("recovered", page, down_since, severity, title, facts, "")


def history_lost_alert(
    page: PageSpec, lost: Snapshot, problem: str, *, severity: Severity = Severity.MAJOR
) -> Alert:
    """The stored latest version is unreadable: the new one is a baseline, not a diff.

    Without it a real change would be compared with nothing and never announced.
    """
    name = page_name(page)
    title = f"[unreachable history] {name}: the last stored version is lost; watching anew"
    facts = [
        ("Page", name),
        ("URL", page.url),
        ("Lost version", f"{lost.id[:12]} (captured {when(lost.captured_at)})"),
        ("Problem", problem),
        ("What to do", "compare the page by hand; run `policywatch fsck` on the data directory"),
    ]
    return _health_alert("history_lost", page, lost.id, severity, title, facts, "")


def _health_alert(
    kind: AlertKind,
    page: PageSpec,
    since: str,
    severity: Severity,
    title: str,
    facts: Sequence[tuple[str, str]],
    command: str,
) -> Alert:
    text = "\n".join(f"{k}: {v}" for k, v in facts)
    markdown = "\n".join(
        f"{k}: {md_link(v, v) if k == 'URL' else markdown_escape(v)}" for k, v in facts
    )
    return Alert(
        key=sha256_hex("\n".join((kind, page.id, since))),
        kind=kind,
        page_id=page.id,
        severity=severity,
        title=title,
        text_body=Body(text),
        markdown_body=Body(markdown),
        html=html_page(title, facts),
        command=command,
    )


def flapping_alert(
    page: PageSpec,
    versions: Sequence[Snapshot],
    since: str,
    settle: str,
    severity: Severity,
    *,
    config_path: str | None = None,
    data_dir: str | None = None,
) -> Alert:
    """One notice for a page flipping back and forth, instead of an alert per flip.

    Keyed by when the flapping began: one per episode; it ends with one "settled" alert.
    """
    name = page_name(page, versions[-1] if versions else None)
    title = f"[flapping] {name} is flipping between two versions"
    shown = ", ".join(f"{short_id(v.id)} (first seen {when(v.captured_at)})" for v in versions)
    command = cli_command("history", page.id, config_path=config_path, data_dir=data_dir)
    facts = [
        ("Page", name),
        ("URL", page.url),
        ("Flipping since", when(since)),
        ("Versions", shown),
        (
            "What next",
            f"every flip is kept, with no alert per flip; one alert will say which version "
            f"the page settled on once it stays on one for {settle}",
        ),
        ("History", command),
    ]
    return _health_alert("flapping", page, since, severity, title, facts, command)


def settled_alert(
    page: PageSpec,
    snapshot: Snapshot,
    announced: Snapshot,
    since: str,
    severity: Severity,
) -> Alert:
    """The flapping ended on the very wording of the last change alert: that alert holds."""
    name = page_name(page, snapshot)
    title = f"[settled] {name} settled on the version of the last change alert"
    facts = [
        ("Page", name),
        ("URL", page.url),
        ("Flipping since", when(since)),
        (
            "Settled on",
            f"{short_id(snapshot.id)}: the same wording as {short_id(announced.id)} "
            f"(first seen {when(announced.captured_at)}), as announced then",
        ),
    ]
    return _health_alert("settled", page, snapshot.id, severity, title, facts, "")


def translation_lag_alert(
    page: PageSpec,
    sibling: str,
    changed: Snapshot,
    lag: str,
    *,
    config_path: str | None = None,
    data_dir: str | None = None,
) -> Alert:
    """This language has not followed a change of the same policy in another language.

    Keyed by the other language's changed version: sent once, and its next change
    that goes unfollowed makes a new one.
    """
    name = page_name(page, changed)
    title = f"[translation lag] {name}: {lag}"
    policy, _, mine = page.id.rpartition("@")
    theirs = sibling.rpartition("@")[2]
    command = cli_command(
        "compare", policy, theirs, mine, config_path=config_path, data_dir=data_dir
    )
    facts = [
        ("Page", name),
        ("URL", redact_page_url(page.url)),
        ("Translation lag", lag),
        ("Changed version", f"{sibling} {short_id(changed.id)}"),
        ("What to do", f"read the difference with {command}"),
    ]
    key = f"{sibling}\n{changed.id}"
    return _health_alert("translation_lag", page, key, Severity.MAJOR, title, facts, command)


def probe_alert() -> Alert:
    """What `policywatch notify-test` sends: proves the route works, changes nothing."""
    title = "[test] policywatch can reach this channel"
    line = "Policy change alerts for your watched pages will arrive here."
    return Alert(
        key=sha256_hex("test"),
        kind="test",
        page_id="",
        severity=Severity.MINOR,
        title=title,
        text_body=Body(line),
        markdown_body=Body(line),
        html=html_page(title, [("Message", line)]),
    )
