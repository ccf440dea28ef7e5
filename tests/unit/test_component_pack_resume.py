"""What a resume decides after a crash or a failed snapshot: is this fsync lock ours (the journal's
record, written before the lock), and what becomes of an earlier snapshot of the same name."""
from __future__ import annotations

import json
import os

import pytest

from cnxbackup.componentpack import opensearch
from cnxbackup.componentpack.mongo import own_lock
from cnxbackup.demo import fakekube
from cnxbackup.journal import Journal

RUN = "demo-20261207T210000"
RECORD = {"member": "mongo7-2", "time": "2026-12-07T21:00:05+0000", "runId": RUN}


@pytest.mark.parametrize("record, run_id, expected", [
    (RECORD, RUN, "mongo7-2"),
    (None, RUN, None),  # no record: a lock of someone else
    ({**RECORD, "runId": "demo-20261201T000000"}, RUN, None),  # a record of another run
    ({**RECORD, "runId": ""}, "", None),
    ({k: v for k, v in RECORD.items() if k != "time"}, RUN, None),  # not whole
    ({**RECORD, "member": ""}, RUN, None),
    ({**RECORD, "member": ["mongo7-2"]}, RUN, None),
    ("mongo7-2", RUN, None),
])
def test_a_lock_is_ours_only_by_this_runs_whole_record(record, run_id, expected):
    assert own_lock(record, run_id) == expected


@pytest.mark.parametrize("state, action", [
    (None, opensearch.TAKE), ("SUCCESS", opensearch.KEEP), ("IN_PROGRESS", opensearch.BUSY),
    ("PARTIAL", opensearch.DELETE), ("FAILED", opensearch.DELETE), ("INCOMPATIBLE", opensearch.DELETE),
    ("SOMETHING_NEW", opensearch.DELETE),
])
def test_an_earlier_snapshot_is_kept_only_when_whole(state, action):
    assert opensearch.earlier_attempt(state) == action


class Cluster:
    """The fake OpenSearch, in process: requests go to fakekube's handler on one state."""

    def __init__(self, tmp: str, partial: bool) -> None:
        self.state = {"pv_root": tmp, "faults": {"snapshot_partial": partial},
                      "opensearch": {"version": "2.19.2", "repos": {"repo": {"location": "/backup"}}, "snapshots": {},
                                     "indices": {"quickresults": {"health": "green", "docs": 3}}}}
        self.calls: list = []

    def __call__(self, _kube, _search, method, path, body=None, missing=""):
        self.calls.append((method, path))
        answer = fakekube._opensearch(self.state, self.state["opensearch"], method, path.split("?", 1)[0], path, body)
        error = answer.get("error") if isinstance(answer, dict) else None
        if error:
            if missing and error.get("type") == missing:
                return None
            raise opensearch.SearchError(f"{method} {path}: {error.get('reason')} (status {answer.get('status')})")
        return answer


def put(cluster: Cluster, name: str):
    return cluster(None, None, "PUT", f"/_snapshot/repo/{name}?wait_for_completion=true", {"indices": "quickresults"})


def test_the_fake_refuses_a_name_it_holds_as_opensearch_does(tmp_path):
    cluster = Cluster(str(tmp_path), partial=True)
    put(cluster, "snap")
    with pytest.raises(opensearch.SearchError) as refused:
        put(cluster, "snap")
    assert "[repo:snap] Invalid snapshot name [snap], snapshot with the same name already exists (status 400)" \
        in str(refused.value)
    raw = fakekube._name_taken("repo", "snap")
    assert raw["status"] == 400 and raw["error"]["type"] == "invalid_snapshot_name_exception"
    assert raw["error"]["root_cause"][0]["type"] == "invalid_snapshot_name_exception"


@pytest.mark.parametrize("partial", [True, False])
def test_a_failed_earlier_attempt_is_deleted_until_gone_and_a_whole_one_kept(tmp_path, monkeypatch, partial):
    cluster = Cluster(str(tmp_path), partial=partial)
    monkeypatch.setattr(opensearch, "request", cluster)
    put(cluster, "snap")
    kept = opensearch.clear_earlier(None, None, "repo", "snap", pause=0)
    if partial:
        assert kept is None and "snap" not in cluster.state["opensearch"]["snapshots"]
        assert ("DELETE", "/_snapshot/repo/snap") in cluster.calls and cluster.calls[-1][0] == "GET"
    else:
        assert kept is not None and kept["state"] == "SUCCESS"
        assert not any(method == "DELETE" for method, _ in cluster.calls)


def test_an_earlier_attempt_still_running_is_not_deleted(tmp_path, monkeypatch):
    cluster = Cluster(str(tmp_path), partial=False)
    monkeypatch.setattr(opensearch, "request", cluster)
    put(cluster, "snap")
    cluster.state["opensearch"]["snapshots"]["snap"]["state"] = "IN_PROGRESS"
    with pytest.raises(opensearch.SearchError, match="still IN_PROGRESS"):
        opensearch.clear_earlier(None, None, "repo", "snap", pause=0)
    assert "snap" in cluster.state["opensearch"]["snapshots"]


def test_a_journal_record_is_written_at_once_and_removed(tmp_path):
    journal = Journal.create(str(tmp_path), run_id=RUN)
    journal.put("cpLock", RECORD)
    assert json.load(open(os.path.join(str(tmp_path), "journal.json")))["cpLock"] == RECORD
    journal.put("cpLock", None)
    assert "cpLock" not in Journal.load(str(tmp_path)).data
