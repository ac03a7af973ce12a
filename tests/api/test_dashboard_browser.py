"""The dashboard in a real headless browser (Debian's chromium driven by Playwright, no browser download).

The service runs on 127.0.0.1 over a ledger with a finished, a running and a waiting query; the page is
checked for what a person would look at: one heat-map cell per block whose state and remaining budget
match ``dpgw blocks list --json``, the queue, and that an analyst signed in through the login form sees
no other analyst's query.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from gateway.api import create_app
from gateway.cli.main import main
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.spec import parse_spec
from gateway.ledger import FileLedgerStore
from tests.api.conftest import Team, make_team, spec_doc

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (make test installs it: apt-get install chromium)"
)


@pytest.fixture
def busy(tmp_path: Path) -> Iterator[tuple[Team, str, dict[str, str]]]:
    team = make_team(tmp_path, store=FileLedgerStore(tmp_path / "ledger"), policy="dpf-n")  # N = 3
    gw = team.gateway()
    gw.add_blocks("events", dt.date(2026, 9, 20), dt.date(2026, 9, 30), Budget.capacity(1))  # more days to show
    ids = {}
    ids["finished"] = gw.submit(parse_spec(spec_doc(0.3, client_id="done")), analyst="ann").id
    team.launcher.finish_all()
    gw.schedule()
    ids["waiting"] = gw.submit(parse_spec(spec_doc(0.5, client_id="wait", blocks={"last": 3})), analyst="bob").id
    ids["running"] = gw.submit(parse_spec(spec_doc(0.2, client_id="run")), analyst="ann").id
    states = {name: gw.status(i).state for name, i in ids.items()}
    assert states == {
        "finished": ClaimState.SUCCEEDED,
        "waiting": ClaimState.PENDING,
        "running": ClaimState.RUNNING,
    }
    server = uvicorn.Server(uvicorn.Config(create_app(team.gateway), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield team, f"http://127.0.0.1:{port}", ids
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                "--disable-background-networking", "--disable-component-update",
            ],
        )  # fmt: skip
        yield chromium
        chromium.close()


def blocks_list_json(team: Team, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["blocks", "list", "--json", "--ledger", str(team.store.root)]) == 0
    return json.loads(capsys.readouterr().out)


def test_operator_sees_every_block_and_the_queue(busy, browser, capsys, tmp_path):
    team, url, ids = busy
    context = browser.new_context(
        extra_http_headers={"Authorization": f"Bearer {team.tokens['ops']}"}, viewport={"width": 1000, "height": 900}
    )
    page = context.new_page()
    page.goto(url + "/")
    cells = page.locator("svg.heatmap rect.cell")
    expected = blocks_list_json(team, capsys)
    assert cells.count() == len(expected)
    for i, block in enumerate(expected):
        cell = cells.nth(i)
        assert cell.get_attribute("data-block") == block["block"]
        assert cell.get_attribute("data-state") == block["state"]
        assert cell.get_attribute("data-remaining-epsilon") == block["remaining"]["epsilon"]
    queue = page.locator("table.queue tbody tr")
    assert queue.count() == 1 and ids["waiting"] in queue.first.inner_text()
    assert "estimate" in queue.first.inner_text() or "unknown" in queue.first.inner_text()
    recent = page.locator("table.recent").inner_text()
    assert ids["finished"] in recent and ids["running"] in recent  # both granted
    # DPGW_SCREENSHOT=path keeps a picture of the page (the README's is tests/api/screenshots/dashboard.png).
    path = Path(os.environ.get("DPGW_SCREENSHOT", str(tmp_path / "dashboard.png")))
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:4] == b"\x89PNG"
    context.close()


def test_an_analyst_signs_in_and_sees_only_their_queries(busy, browser):
    team, url, ids = busy
    page = browser.new_page()
    response = page.goto(url + "/")
    assert response is not None and response.status == 401  # no token: the sign-in form
    page.fill("input[name=token]", "not-a-token")
    page.click("button[type=submit]")
    assert "not valid" in page.content()
    page.fill("input[name=token]", team.tokens["ann"])
    page.click("button[type=submit]")
    page.wait_for_selector("svg.heatmap")
    text = page.content()
    assert ids["finished"] in text and ids["running"] in text  # her own decisions
    assert ids["waiting"] not in text and "bob" not in text  # bob's waiting query stays his
    assert page.locator("table.queue").count() == 0  # she has nothing waiting
    assert page.locator("svg.heatmap rect.cell").count() > 0  # budgets are public
