"""The restore wing: the plan (steps, shared with RESTORE.md), the checks before anything stops,
the destinations, the operations, the run, the Component Pack part, and the leftovers it leaves."""
