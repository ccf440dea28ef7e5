"""Monitoring around ``backup``: pings to a loopback listener in order, a dead monitor that does not
fail the backup, the Prometheus textfile, the hooks and their environment, and ``--json``."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from cnxbackup.actions.backup import monitoring


def test_textfile_is_prometheus_text_and_escapes_the_label():
    text = monitoring.textfile('we"ird\\env', {"cnxbackup_last_status": 3, "cnxbackup_last_bytes": None,
                                               "cnxbackup_last_duration_seconds": 12.5})
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(families) == {"cnxbackup_last_status", "cnxbackup_last_duration_seconds"}
    assert families["cnxbackup_last_status"].samples[0].labels == {"environment": 'we"ird\\env'}
    assert families["cnxbackup_last_duration_seconds"].samples[0].value == 12.5
