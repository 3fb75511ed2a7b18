"""What a node knows before asking: tagged with whom it came from, counted by keyword, close words suggested."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from ggen_desktop.core.query import Query
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.core.search import THIS_NODE_SOURCE, known_via
from ggen_desktop.net.discovered import DiscoveredRecords
from ggen_desktop.net.known_records import KnownRecords
from ggen_desktop.store.database import Database
from tests.helpers.packages import make_record
from tests.net.conftest import Network, forget_locally


def test_discovered_records_are_tagged_with_the_peer_that_sent_them_also_after_a_restart(tmp_path: Path) -> None:
    record = make_record("acme/widget", "Widget", tags=("widget",))
    with closing(Database(tmp_path)) as database:
        discovered = DiscoveredRecords(database.upsert_discovered, lambda identity: False)
        discovered.add(record, "peer-a")
        discovered.add(record, "peer-b")
        assert discovered.sourced() == [(record, "peer-b")]
    with closing(Database(tmp_path)) as database:
        again = DiscoveredRecords(database.upsert_discovered, lambda identity: False)
        again.load(database.discovered_records())
        assert again.sourced() == [(record, "peer-b")]


def test_keyword_counts_follow_what_is_known_and_steer_the_plan_and_the_suggestions() -> None:
    mine: list[SignedRecord] = [make_record("acme/kube-tool", "Kubernetes tool", tags=("kubernetes", "cli"))]
    others: list[tuple[SignedRecord, str]] = [
        (make_record(f"other/cli{i}", f"Command line {i}", tags=("cli",)), "peer-a") for i in range(3)]
    known = KnownRecords(lambda: mine, lambda: others)
    assert known.keyword_counts()["cli"] == 4 and known.keyword_counts()["kubernetes"] == 1
    assert known.plan(Query("cli kubernetes")).keyword == "kubernetes"  # the most selective word
    assert known.suggestions(Query("kubernets")) == ["kubernetes"]
    assert [source for _, source in known.matches(Query("cli"))] == [THIS_NODE_SOURCE] + [known_via("peer-a")] * 3

    others.pop()  # forgotten (evicted), and another learnt: counted again only after `changed()`
    others.append((make_record("other/helm", "Helm charts", tags=("helm",)), "peer-b"))
    assert known.keyword_counts()["cli"] == 4
    known.changed()
    assert known.keyword_counts()["cli"] == 3 and known.keyword_counts()["helm"] == 1
    mine[0] = make_record("acme/kube-tool", "Kube tool", tags=("kubectl",), updated_at=mine[0].package.updated_at + 1)
    known.changed()  # my package re-signed with other tags: its old keywords no longer count
    counts = known.keyword_counts()
    assert "kubernetes" not in counts and counts["kubectl"] == 1
    plan = known.plan(Query("kubect"))
    assert plan.keyword is None and "'kubectl'" in plan.reason


@pytest.mark.asyncio
async def test_the_node_suggests_keywords_it_learnt_from_its_searches_and_gossip(network: Network, publisher) -> None:
    nodes = await network(3)
    await nodes[0].publish(make_record("acme/widget", "Widget", publisher, tags=("widget",)))
    searcher = nodes[-1]
    forget_locally(searcher)
    assert searcher.suggestions(Query("widgte")) == []
    await searcher.search(Query("widget")).wait()
    assert searcher.suggestions(Query("widgte")) == ["widget"]
    trace = await searcher.search(Query("widgte")).wait()
    assert trace.result_count == 0 and trace.suggestions == ["widget"]
    assert "Did you mean" not in trace.summary()  # the front ends say it, each in its own way
