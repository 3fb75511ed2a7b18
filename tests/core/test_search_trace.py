"""A query's results are de-duplicated by (name, version, publisher) with their sources."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.query import Query
from ggen_desktop.core.record import sign
from ggen_desktop.core.search import THIS_NODE_SOURCE, PeerTrace, QueryStatus, QueryTrace, is_known, known_via
from tests.helpers.packages import make_package

PACKAGE = make_package("acme/cli", "Acme CLI")


def test_same_record_from_two_peers_is_one_hit_with_two_sources() -> None:
    trace = QueryTrace(Query("acme"))
    record = sign(PACKAGE, Ed25519PrivateKey.generate())
    first = trace.add(record, "peer-a")
    assert first is not None and first.is_new and first.query_id == trace.query_id
    again = trace.add(record, "peer-b")
    assert again is not None and not again.is_new
    assert trace.add(record, "peer-b") is None
    assert trace.result_count == 1
    assert trace.hits[record.identity].sources == {"peer-a", "peer-b"}
    assert trace.first_result_ms is not None


def test_same_name_from_two_publishers_is_two_hits() -> None:
    trace = QueryTrace(Query("acme"))
    trace.add(sign(PACKAGE, Ed25519PrivateKey.generate()), THIS_NODE_SOURCE)
    trace.add(sign(PACKAGE, Ed25519PrivateKey.generate()), THIS_NODE_SOURCE)
    assert trace.result_count == 2


def test_finish_is_final_and_summary_says_how_it_ended() -> None:
    trace = QueryTrace(Query("acme"))
    assert "searching" in trace.summary()
    trace.finish(QueryStatus.TIMED_OUT)
    trace.finish(QueryStatus.FINISHED)
    assert trace.status is QueryStatus.TIMED_OUT
    assert trace.summary().startswith("0 results in ")
    assert trace.summary().endswith("timed out, partial results")


def test_summary_counts_the_peers_whose_answers_held_results() -> None:
    trace = QueryTrace(Query("acme"))
    record = sign(PACKAGE, Ed25519PrivateKey.generate())
    trace.add(record, THIS_NODE_SOURCE)
    assert trace.summary().startswith("1 result (1 known) in ")
    trace.peers["a"] = PeerTrace("a", "127.0.0.1:1", 0.0, answered_at_ms=3.0, results=1)
    trace.peers["b"] = PeerTrace("b", "127.0.0.1:2", 0.0, answered_at_ms=4.0)  # holds no replica
    trace.peers["c"] = PeerTrace("c", "127.0.0.1:3", 0.0, timed_out=True)
    trace.peers["d"] = PeerTrace("d", "127.0.0.1:4", 0.0)
    trace.add(record, "a")
    assert trace.peer_counts() == (4, 2, 1, 1)
    assert trace.summary().endswith(" ms: searching, 2 answered")
    assert trace.summary().startswith("1 result from 1 of 4 peers asked in ")
    trace.finish(QueryStatus.CANCELLED)
    assert trace.summary().endswith(": cancelled")


def test_known_results_are_marked_and_only_answers_fill_a_page() -> None:
    trace = QueryTrace(Query("acme", limit=2))
    mine, gossiped, answered = (sign(PACKAGE, Ed25519PrivateKey.generate()) for _ in range(3))
    trace.add(mine, THIS_NODE_SOURCE)
    trace.add(gossiped, known_via("peer-g"))
    assert is_known(THIS_NODE_SOURCE) and is_known(known_via("peer-g")) and not is_known("peer-g")
    assert (trace.result_count, trace.answered_results, trace.known_results) == (2, 0, 2)
    assert not trace.page_full
    trace.add(gossiped, "peer-a")  # a peer's answer confirms what gossip said
    trace.add(answered, "peer-b")
    hit = trace.hits[gossiped.identity]
    assert hit.is_known and hit.answered_by == {"peer-a"}
    assert (trace.answered_results, trace.known_results) == (2, 1)
    assert trace.page_full
    trace.add(answered, "peer-c")  # a second source of the same answer is not a second result
    assert trace.answered_results == 2


def test_a_search_goes_on_page_by_page_and_says_when_more_exist_and_why_the_network_was_not_asked() -> None:
    trace = QueryTrace(Query("acme", limit=20))
    with pytest.raises(ValueError, match="still running"):
        trace.next_page()
    trace.more = True
    trace.finish(QueryStatus.FINISHED)
    assert trace.summary().endswith(": finished, more available")
    first = trace.duration_ms
    trace.next_page()
    assert trace.status is QueryStatus.RUNNING and trace.query.offset == 20 and trace.query.needed == 40
    assert not trace.more and trace.duration_ms is None
    trace.reason = "'kube' is part of a word; the network is searched by whole words: try 'kubernetes'"
    trace.finish(QueryStatus.FINISHED)
    assert trace.duration_ms is not None and first is not None and trace.duration_ms >= first
    assert trace.summary().endswith(": finished; 'kube' is part of a word; the network is searched by whole words: "
                                    "try 'kubernetes'")


def test_this_nodes_own_replicas_are_named_apart_from_the_peers() -> None:
    trace = QueryTrace(Query("acme"))
    record = sign(PACKAGE, Ed25519PrivateKey.generate())
    trace.own_source = "me"
    trace.add(record, "me")
    assert trace.answered_results == 1
    assert trace.summary().startswith("1 result from this node's replicas in ")
    trace.peers["a"] = PeerTrace("a", "127.0.0.1:1", 0.0, answered_at_ms=3.0)
    assert trace.summary().startswith("1 result from 0 of 1 peer asked and this node's replicas in ")
