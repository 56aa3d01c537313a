"""Document: turn a page's HTML into the normalized text, sections, language and sentences
that every later stage compares."""
