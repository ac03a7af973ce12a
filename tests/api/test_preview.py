"""``dpgw preview``: its verdict and its copy count against what ``dpgw submit`` then does, remote and embedded."""

from __future__ import annotations

import json
import time

from tests.api.test_remote_cli import cli, served, write_spec  # noqa: F401 - the served fixture


def test_preview_matches_what_submit_then_does(served, tmp_path, capsys, monkeypatch):  # noqa: F811
    team, url = served  # FCFS, two blocks of ε = 1, queries on both
    ledger = str(tmp_path / "ledger")

    def remote(*args):
        return cli(capsys, monkeypatch, *args, url=url, token=team.tokens["ann"])

    def embedded(*args):
        return cli(capsys, monkeypatch, *args, "--ledger", ledger)

    spec = write_spec(tmp_path, "q", eps=0.3, analyst="ann")
    code, out, _ = remote("preview", spec, "--json")
    assert code == 0, out
    first = json.loads(out)
    assert first["fits"] is True and first["copies"] == 3  # 3 x 0.3 <= 1 < 4 x 0.3
    assert json.loads(embedded("preview", spec, "--json")[1]) == first  # one use case, two ways in
    code, text, _ = remote("preview", spec)
    assert code == 0 and text.startswith("Fits:") and "3 more copies" in text
    assert text == embedded("preview", spec)[1]
    assert json.loads(remote("status", "--json")[1]) == []  # a preview records nothing

    states = []
    for i in range(3):  # exactly the copies the preview promised are admitted at once ...
        code, out, _ = remote("submit", write_spec(tmp_path, f"c{i}", eps=0.3, client_id=f"c{i}"), "--json")
        states.append(json.loads(out)["state"])
        code, out, _ = remote("preview", spec, "--json")
        left = json.loads(out)
        assert left["copies"] == 2 - i and left["fits"] is (i < 2)
    assert states == ["running"] * 3
    assert "events/2026-10-01" in left["reason"] and "below the demand" in left["reason"]  # why, and where
    assert left["would_be"] == "rejected"
    code, out, _ = remote("submit", write_spec(tmp_path, "c3", eps=0.3, client_id="c3"), "--json")
    deadline = time.monotonic() + 20
    while (state := json.loads(out)["state"]) == "pending":  # ... and one more is refused
        assert time.monotonic() < deadline
        time.sleep(0.2)
        out = remote("status", json.loads(out)["id"], "--json")[1]
    assert state == "rejected"
