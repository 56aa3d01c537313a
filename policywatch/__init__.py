"""policywatch: watch policy pages, keep every version, say in plain words what changed."""

__version__ = "0.1.0"
