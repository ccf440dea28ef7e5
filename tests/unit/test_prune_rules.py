"""``cnxbackup prune`` and ``list``: the rules (unit), then real sets: what is kept, what is removed
with its database images, and the images a forged or altered set names are left alone."""

from __future__ import annotations

import os

from cnxbackup.actions.sets.retention import SetEntry, decide

DAY = 86400.0

NOW = 1_800_000_000.0


def entry(name: str, days_ago: float, state: str, restore: bool = False) -> SetEntry:
    return SetEntry(f"/t/{name}", name, NOW - days_ago * DAY, state, restore_running="/t/r" if restore else None)


def kept(decisions) -> list:
    return [d.entry.name for d in decisions if d.keep]


def test_keep_counts_only_complete_sets_and_warnings_count_as_complete():
    entries = [entry("c1", 9, "complete"), entry("p1", 8, "partial"), entry("c2", 7, "complete-with-warnings"),
               entry("u1", 6, "unfinished"), entry("c3", 5, "complete")]
    assert kept(decide(entries, 2, None, NOW)) == ["c2", "c3"]
    assert kept(decide(entries, 5, None, NOW)) == ["c1", "c2", "c3"]  # the partial and unfinished older ones go


def test_partial_and_unfinished_sets_newer_than_the_newest_complete_are_kept():
    entries = [entry("p_old", 8, "partial"), entry("c1", 7, "complete"), entry("p_new", 1, "partial"),
               entry("u_new", 0.5, "unfinished")]
    assert kept(decide(entries, 1, None, NOW)) == ["c1", "p_new", "u_new"] and not decide(entries, 9, None, NOW)[0].keep


def test_keep_within_keeps_complete_sets_in_addition_and_never_a_partial_one():
    entries = [entry("c1", 30, "complete"), entry("c2", 10, "complete"), entry("p", 5, "partial"), entry("c3", 3, "complete"),
               entry("c4", 1, "complete")]
    assert kept(decide(entries, 1, 12, NOW)) == ["c2", "c3", "c4"]
    assert kept(decide(entries, 1, 2, NOW)) == ["c4"]


def test_never_the_newest_complete_one_an_unfinished_restore_names_or_an_untrusted_one():
    entries = [entry("c1", 9, "complete", restore=True), entry("x", 8, "untrusted"), entry("c2", 7, "complete"),
               entry("c3", 1, "complete")]
    decisions = decide(entries, 1, None, NOW)
    assert kept(decisions) == ["c1", "x", "c3"]
    assert "unfinished restore" in decisions[0].reason and "signature" in decisions[1].reason
    assert decide([entry("only", 400, "complete")], 1, 0, NOW)[0].keep


def decisions(document) -> dict:
    return {os.path.basename(s["path"]): s for s in document["details"]["sets"]}
