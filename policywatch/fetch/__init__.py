"""Fetch: get a page's bytes over HTTP or through a browser, within the network policy, and judge
whether what came back is the page at all (the gate)."""
