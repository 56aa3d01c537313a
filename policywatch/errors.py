"""Errors a user can act on: each says what went wrong and what to do next.

The CLI maps them to exit codes: UsageError (and its subclasses) exit 2,
nothing having been fetched or written.
"""

from __future__ import annotations


class PolicywatchError(Exception):
    """Base for errors shown to the user as a message plus a hint."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class UsageError(PolicywatchError):
    """Bad command-line input or configuration: exit 2, nothing fetched or written."""

    exit_code = 2


class ConfigError(UsageError):
    """A problem in watchlist.yaml, located by file, line and key."""

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = file if line is None else f"{file}:{line}"
        if key:
            where += f": {key}"
        super().__init__(f"{where}: {message}", hint)
        self.detail = message  # without the place, for a caller that names it better
        self.file = file
        self.line = line
        self.key = key


class RefError(UsageError):
    """A snapshot reference (id prefix, latest~N, date) that names no single snapshot."""


class StoreLocked(PolicywatchError):
    """Another policywatch process holds the store lock for longer than we wait."""


class StoreError(PolicywatchError):
    """The data directory is unreadable or damaged."""
