"""Run: one check of the watchlist (fetch, gate, extract, compare, store, queue alerts) and the
daemon that repeats it."""
