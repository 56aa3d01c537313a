"""Diff: align two versions of a document, say which sentences changed and how much that
matters, and render the change for people."""
