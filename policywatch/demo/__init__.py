"""`policywatch demo`: the whole story on one machine, offline, in seconds.

A small help page written for the project (package data, never a copy of Amazon's text) is
served on 127.0.0.1, checked, edited the way policy pages really change, and checked again,
through the same check, diff and alert code a real watchlist uses. It comes after `run/` and
`views/` because it drives them; only `cli/` is later.
"""
