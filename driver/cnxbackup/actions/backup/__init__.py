"""The backup wing: the gate, the phases in their order (wsadmin, files and levels, databases,
Component Pack), the record (manifest, REPORT.md, RESTORE.md), the estimate, the dry run and
monitoring. It never imports the restore wing, but for RESTORE.md (the restore's plan, written at
backup time: ``record`` -> ``restore.plan``)."""
