"""The watchlist's JSON Schema, as editors read it to complete keys and flag typos.

Generated from the pydantic models in `schema`, so validation and completion can never
disagree; `policywatch schema` prints it and a test keeps the shipped copy equal to it.
"""

from __future__ import annotations

import json
from typing import Any

from policywatch.watchlist.schema import Watchlist


def _without_null_defaults(value: Any) -> Any:
    """The schema without `default: null`: an unset key means "use the default", not null."""
    if isinstance(value, dict):
        return {
            k: _without_null_defaults(v)
            for k, v in value.items()
            if not (k == "default" and v is None)
        }
    if isinstance(value, list):
        return [_without_null_defaults(v) for v in value]
    return value


def json_schema() -> str:
    """The JSON Schema editors read to complete keys and flag typos as the seller types."""
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **Watchlist.model_json_schema(),
    }
    return json.dumps(_without_null_defaults(document), indent=2, ensure_ascii=False) + "\n"
