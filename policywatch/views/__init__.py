"""Views: what a person reads of the results: terminal text and JSON."""
