"""A query's results are de-duplicated by (name, version, publisher) with their sources."""

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggen_desktop.core.query import Query
from ggen_desktop.core.record import sign
from ggen_desktop.core.search import THIS_NODE_SOURCE, PeerTrace, QueryStatus, QueryTrace
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
    assert trace.summary().startswith("1 result from this node in ")
    trace.peers["a"] = PeerTrace("a", "127.0.0.1:1", 0.0, answered_at_ms=3.0, results=1)
    trace.peers["b"] = PeerTrace("b", "127.0.0.1:2", 0.0, answered_at_ms=4.0)  # holds no replica
    trace.peers["c"] = PeerTrace("c", "127.0.0.1:3", 0.0, timed_out=True)
    trace.peers["d"] = PeerTrace("d", "127.0.0.1:4", 0.0)
    assert trace.peer_counts() == (4, 2, 1, 1)
    assert trace.summary().endswith(" ms: searching, 2 of 4 peers answered")
    assert trace.summary().startswith("1 result from 1 peer in ")
    trace.finish(QueryStatus.CANCELLED)
    assert trace.summary().endswith(": cancelled")
