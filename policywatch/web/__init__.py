"""The seller's desk: a read-only web view of the data directory (`serve`) and its static copy
(`site`). It comes after run/ and views/ because it shows what they know (heartbeat, alerts,
diffs), and before cli/, which only parses the two commands."""
