"""Actions: plan, backup, verify, restore."""
