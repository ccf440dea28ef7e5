"""Tests of the mocked wsadmin.sh (driver/cnxbackup/demo/mock_wsadmin). Each launch costs ~2.5 s of JVM start,
so every test combines several checks per launch."""

from __future__ import annotations

from cnxbackup.demo import mockcell  # noqa: E402


def test_helpers_prepare_and_state_roundtrip(tmp_path):
    env = mockcell.prepare(tmp_path, "was905", dmgrPort=1234)
    state = mockcell.load_state(env)
    assert state["dmgrPort"] == 1234 and state["runtime"] == {"servers": {}, "clusters": {}}
    state["runtime"]["servers"]["n/s"] = {"action": "stop", "at": 1.0}
    mockcell.save_state(env, state)
    assert mockcell.load_state(env)["runtime"]["servers"]["n/s"]["at"] == 1.0
    assert mockcell.read_log(env) == []


def test_fixtures_cover_required_cells():
    import json
    cells = {p.stem: json.loads(p.read_text()) for p in mockcell.CELLS_DIR.glob("*.json")}
    assert {"was855", "was905", "noccm", "stuck"} <= set(cells)
    assert cells["was855"]["wasVersion"].startswith("8.5")
    assert any(a["alias"] == "ICNode01/filenetAdmin" for a in cells["was855"]["authData"])
    assert not any(a["alias"].endswith("filenetAdmin") for a in cells["noccm"]["authData"])
    assert any(s.get("neverStops") for s in cells["stuck"]["servers"])
    for cell in cells.values():
        names = [a["name"] for a in cell["applications"]]
        assert "Mobile Administration" in names and len(names) >= 25
