"""A backup set as a thing on disk, shared by every command: naming and finding sets, opening one
and trusting it (signature), its environment and cell, its encryption keys, verifying it and the
record of that, its description for --json, and retention (list, prune)."""
