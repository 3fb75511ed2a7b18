"""Every table model passes pytest-qt's qtmodeltester with data in it, and updates the way the views need."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PySide6.QtCore import QSortFilterProxyModel, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from ggen_desktop.core.query import Query
from ggen_desktop.core.reputation import PeerStats
from ggen_desktop.core.search import QueryTrace, SearchEvent
from ggen_desktop.gui.list_models import ContactsModel, CountersModel, MyPackagesModel
from ggen_desktop.gui.peers_model import PeersModel
from ggen_desktop.gui.rate_limiter import BatchRateLimiter
from ggen_desktop.gui.results_model import SORT_ROLE, ResultsModel
from ggen_desktop.gui.results_view import ResultsProxy, ResultsView
from ggen_desktop.gui.trace_model import TraceModel
from tests.helpers.packages import make_record

KEY_A = Ed25519PrivateKey.generate()
KEY_B = Ed25519PrivateKey.generate()


def events(trace: QueryTrace, count: int, source: str = "peer-1", key: Ed25519PrivateKey = KEY_A) -> list[SearchEvent]:
    out = []
    for i in range(count):
        event = trace.add(make_record(f"acme/tool-{i}", key=key, version=f"1.{i}.0"), source)
        assert event is not None
        out.append(event)
    return out


def test_results_model_passes_modeltester_while_filling(qtbot: QtBot, qtmodeltester: ModelTester) -> None:
    trace = QueryTrace(Query(text="tool"))
    model = ResultsModel()
    model.reset(trace.query_id)
    qtmodeltester.check(model, force_py=True)  # checks every later signal too
    model.add_events(events(trace, 30))
    model.add_events([e for e in (trace.add(make_record("acme/tool-3", key=KEY_A, version="1.3.0"), "peer-2"),) if e])
    assert model.rowCount() == 30
    qtmodeltester.check(model, force_py=True)
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.sort(ResultsModel.Columns.VERSION, Qt.SortOrder.DescendingOrder)
    qtmodeltester.check(proxy, force_py=True)
    assert proxy.index(0, ResultsModel.Columns.VERSION).data() == "1.29.0"  # semver order, not text order


def test_one_insert_per_batch_and_sources_update_in_place(qtbot: QtBot) -> None:
    trace = QueryTrace(Query(text="tool"))
    model = ResultsModel()
    model.reset(trace.query_id)
    inserts: list[tuple[int, int]] = []
    changes: list[tuple[int, int, int]] = []
    model.rowsInserted.connect(lambda _p, first, last: inserts.append((first, last)))
    model.dataChanged.connect(lambda tl, br, _roles=(): changes.append((tl.row(), br.row(), tl.column())))
    model.add_events(events(trace, 50))
    assert inserts == [(0, 49)]
    more = trace.add(make_record("acme/tool-7", key=KEY_A, version="1.7.0"), "peer-2")
    assert more is not None and not more.is_new
    model.add_events([more])
    assert inserts == [(0, 49)]
    assert changes == [(7, 7, ResultsModel.Columns.SOURCES)]
    assert model.index(7, ResultsModel.Columns.SOURCES).data() == "2"


def test_stale_events_are_dropped() -> None:
    old, new = QueryTrace(Query(text="a")), QueryTrace(Query(text="b"))
    model = ResultsModel()
    model.reset(new.query_id)
    assert model.add_events(events(old, 5)) == 0
    assert model.rowCount() == 0


def test_same_name_from_two_publishers_is_two_marked_rows() -> None:
    trace = QueryTrace(Query(text="tool"))
    model = ResultsModel()
    model.reset(trace.query_id)
    model.add_events(events(trace, 1, key=KEY_A) + events(trace, 1, key=KEY_B))
    assert model.rowCount() == 2
    name = ResultsModel.Columns.NAME
    for row in range(2):
        assert model.index(row, name).data() == "acme/tool-0"
        assert "2 publishers use this name" in model.index(row, name).data(Qt.ItemDataRole.ToolTipRole)
        assert model.index(row, name).data(Qt.ItemDataRole.DecorationRole) is not None
    publishers = {model.index(r, ResultsModel.Columns.PUBLISHER).data() for r in range(2)}
    assert len(publishers) == 2 and all(p.endswith("✓") for p in publishers)


def test_a_name_flagged_for_two_publishers_is_flagged_once_not_rescanned_per_batch(qtbot: QtBot) -> None:
    """Every batch with a row of a name two keys use rescanned the whole table (30-60 ms at 100,000 rows) and
    signalled its rows again; the flag changes once, when the second key comes."""
    trace = QueryTrace(Query(text="tool"))
    model = ResultsModel()
    model.reset(trace.query_id)
    name = ResultsModel.Columns.NAME
    flagged: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda top, bottom, *_: flagged.append((top.row(), bottom.row()))
                              if top.column() == name else None)
    model.add_events(events(trace, 3) + [e for e in (trace.add(make_record(f"acme/other-{i}", key=KEY_A), "peer-1")
                                                       for i in range(3)) if e is not None])
    impostor = trace.add(make_record("acme/tool-1", key=KEY_B, version="9.0.0"), "peer-1")
    assert impostor is not None
    model.add_events([impostor])
    assert flagged == [(1, 1), (6, 6)]  # the rows of the name, once: when its second key comes
    more = [trace.add(make_record("acme/tool-1", key=key, version=f"9.{i}.0"), "peer-1") for i, key in
            enumerate((KEY_A, KEY_B), start=1)]
    model.add_events([e for e in more if e is not None])
    assert flagged == [(1, 1), (6, 6)] and model.rowCount() == 9
    assert all(model.index(r, name).data(Qt.ItemDataRole.DecorationRole) is not None for r in (1, 6, 7, 8))
    assert model.index(0, name).data(Qt.ItemDataRole.DecorationRole) is None


def test_peers_model_updates_in_place(qtmodeltester: ModelTester) -> None:
    model = PeersModel()
    peers = [PeerStats(f"{i:040x}", "127.0.0.1", 4000 + i, successes=i, avg_rtt_ms=1.0 + i, last_seen=time.time())
             for i in range(6)]
    model.update(peers)
    qtmodeltester.check(model, force_py=True)
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda tl, br, _roles=(): changed.append((tl.row(), br.row())))
    peers[2] = PeerStats(peers[2].peer_id, "127.0.0.1", 4002, successes=9, blocked=True)
    model.update(peers)
    assert changed == [(2, 2)] and not resets
    assert model.index(2, PeersModel.Columns.STATE).data() == "blocked"
    assert model.index(2, PeersModel.Columns.SUCCESSES).data() == "9"
    qtmodeltester.check(model, force_py=True)


def test_trace_contacts_and_my_packages_models(qtmodeltester: ModelTester) -> None:
    trace = QueryTrace(Query(text="x"))
    from ggen_desktop.core.search import PeerTrace

    trace.peers["a" * 40] = PeerTrace("a" * 40, "127.0.0.1:1", 0.0, answered_at_ms=3.5, results=4)
    model = TraceModel()
    model.show_trace(trace)
    qtmodeltester.check(model, force_py=True)
    trace.peers["b" * 40] = PeerTrace("b" * 40, "127.0.0.1:2", 1.0, timed_out=True)
    model.refresh()
    assert model.rowCount() == 2 and model.index(1, TraceModel.Columns.STATE).data() == "timed out"
    contacts = ContactsModel()
    contacts.set_rows([("ab" * 20, "127.0.0.1:4000"), ("cd" * 20, "127.0.0.1:4001")])
    qtmodeltester.check(contacts, force_py=True)
    mine = MyPackagesModel()
    mine.set_rows([("acme/tool", "1.0.0", "2026-01-01 10:00", "–", "8")])
    qtmodeltester.check(mine, force_py=True)
    counters = CountersModel()
    counters.set_counters({"datagrams_in": 1491, "timeouts": 0})
    qtmodeltester.check(counters, force_py=True)
    assert [counters.row(r) for r in range(2)] == [("Datagrams in", "1,491"), ("Timeouts", "0")]
    assert counters.headerData(1, Qt.Orientation.Horizontal) == "Value"
    assert counters.headerData(2, Qt.Orientation.Horizontal) is None  # past the last column


def test_rate_limiter_coalesces_a_burst_in_bounded_slices(qtbot: QtBot) -> None:
    batches: list[list[int]] = []
    limiter = BatchRateLimiter(batches.append, interval_ms=50, max_batch=256)
    for i in range(500):
        limiter.push(i)
    qtbot.waitUntil(lambda: sum(map(len, batches)) == 500, timeout=2000)
    assert [len(b) for b in batches] == [256, 244]
    assert [i for b in batches for i in b] == list(range(500))
    limiter.push(1)
    limiter.push(2)
    limiter.discard()
    limiter.push(-1)  # delivered in order: anything discarded but still delivered would come before it
    qtbot.waitUntil(lambda: len(batches) == 3, timeout=2000)
    assert batches[2] == [-1]
    for i in range(600):
        limiter.push(i)
    limiter.flush_all()
    assert [len(b) for b in batches[3:]] == [256, 256, 88] and limiter.pending == 0


def test_rate_limiter_cuts_slices_to_its_time_budget_at_the_cost_it_measured(qtbot: QtBot) -> None:
    """A dear consumer (a sorted view) gets smaller slices, so one loop turn stays near the budget."""
    batches: list[list[int]] = []

    def dear(items: list[int]) -> None:  # at least 1 ms per item, like a sorted insert into a large table
        batches.append(items)
        time.sleep(0.001 * len(items))

    limiter = BatchRateLimiter(dear, interval_ms=10, max_batch=64, budget_ms=10.0, min_batch=4)
    for i in range(200):
        limiter.push(i)
    qtbot.waitUntil(lambda: sum(map(len, batches)) == 200, timeout=10_000)
    assert len(batches[0]) == 64  # nothing measured yet: the plain cap
    assert all(4 <= len(b) <= 10 for b in batches[1:-1]) and len(batches[-1]) <= 10  # >= 1 ms each: <= 10 per 10 ms
    assert [i for b in batches for i in b] == list(range(200))
    cheap = BatchRateLimiter(batches.append, interval_ms=10, max_batch=64, budget_ms=10.0)
    for i in range(200):
        cheap.push(i)
    cheap.flush_all()
    assert [len(b) for b in batches[-4:]] == [64, 64, 64, 8]  # a cheap consumer keeps the cap


def test_a_sorted_proxy_stays_sorted_while_batches_stream_in() -> None:
    """The proxy compares the model's per-column key lists, which grow as rows arrive and empty on reset."""
    trace = QueryTrace(Query(text="tool"))
    model = ResultsModel()
    model.reset(trace.query_id)
    proxy = ResultsProxy(model)
    proxy.sort(ResultsModel.Columns.NAME, Qt.SortOrder.AscendingOrder)
    names = [f"acme/t{(i * 7919) % 1000:03}" for i in range(120)]
    for start in range(0, len(names), 25):
        model.add_events([trace.add(make_record(n, f"Title {n[-3:]}", key=KEY_A), "peer-1") for n in names[start:start + 25]])
        shown = [proxy.index(r, ResultsModel.Columns.NAME).data() for r in range(proxy.rowCount())]
        assert shown == sorted(names[:start + 25])
    proxy.sort(ResultsModel.Columns.TITLE, Qt.SortOrder.DescendingOrder)
    titles = [proxy.index(r, ResultsModel.Columns.TITLE).data() for r in range(proxy.rowCount())]
    assert titles == sorted(titles, reverse=True) and len(titles) == len(names)
    model.reset(QueryTrace(Query(text="other")).query_id)
    assert model.column_keys(ResultsModel.Columns.TITLE) == []  # a new query starts with no stale keys
    assert model.column_keys(ResultsModel.Columns.SOURCES) is None  # live: read from each hit


def test_versions_sort_by_semver_precedence_not_as_text() -> None:
    trace = QueryTrace(Query(text="tool"))
    model = ResultsModel()
    model.reset(trace.query_id)
    versions = ["1.0.0", "1.0.0-rc.10", "1.0.0-rc.2", "0.9.0"]
    model.add_events([trace.add(make_record("acme/tool", key=KEY_A, version=v), "peer-1") for v in versions])
    proxy = ResultsProxy(model)
    proxy.sort(ResultsModel.Columns.VERSION, Qt.SortOrder.AscendingOrder)
    shown = [proxy.index(r, ResultsModel.Columns.VERSION).data() for r in range(proxy.rowCount())]
    assert shown == ["0.9.0", "1.0.0-rc.2", "1.0.0-rc.10", "1.0.0"]


def test_a_peer_still_waiting_when_the_query_ends_gets_a_final_state(qtmodeltester: ModelTester) -> None:
    from ggen_desktop.core.search import PeerTrace, QueryStatus

    for status, final in ((QueryStatus.FINISHED, "not needed"), (QueryStatus.CANCELLED, "cancelled"),
                          (QueryStatus.TIMED_OUT, "no answer")):
        trace = QueryTrace(Query(text="x"))
        trace.peers["a" * 40] = PeerTrace("a" * 40, "127.0.0.1:1", 0.0, answered_at_ms=3.5, results=4)
        trace.peers["b" * 40] = PeerTrace("b" * 40, "127.0.0.1:2", 1.0)
        trace.peers["c" * 40] = PeerTrace("c" * 40, "127.0.0.1:3", 1.0, error="malformed answer")
        model = TraceModel()
        model.show_trace(trace)
        states = [model.index(r, TraceModel.Columns.STATE).data() for r in range(3)]
        assert states == ["answered", "waiting", "malformed answer"]  # while it runs
        trace.finish(status)
        model.refresh()
        states = [model.index(r, TraceModel.Columns.STATE).data() for r in range(3)]
        assert states == ["answered", final, "malformed answer"], status
        qtmodeltester.check(model, force_py=True)


def test_a_result_from_a_single_source_is_flagged_until_a_second_source_returns_it(qtbot: QtBot) -> None:
    from ggen_desktop.core.search import THIS_NODE_SOURCE, known_via

    trace = QueryTrace(Query(text="tool"))
    model = ResultsModel()
    model.reset(trace.query_id)
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda tl, br, _roles=(): changed.append((tl.row(), tl.column())))
    lone = make_record("acme/lone", key=KEY_A)
    told = make_record("acme/told", key=KEY_A)
    mine = make_record("acme/mine", key=KEY_A)
    added = [trace.add(lone, "peer-1"), trace.add(told, known_via("peer-2")), trace.add(told, "peer-2"),
             trace.add(mine, THIS_NODE_SOURCE), trace.add(mine, "my-node-id")]
    model.own_source = "my-node-id"  # this node's replica answered too: still only this node
    model.add_events([e for e in added if e is not None])
    sources = ResultsModel.Columns.SOURCES

    def flag(row: int) -> tuple[bool, str]:
        index = model.index(row, sources)
        decoration = model.data(index, Qt.ItemDataRole.DecorationRole)
        return decoration is not None and not decoration.isNull(), model.data(index, Qt.ItemDataRole.ToolTipRole)

    flagged, tip = flag(0)
    assert flagged and tip.startswith("Only source: peer peer-1. A single peer could be lying about this result, "
                                      "or be the only one that holds it")
    flagged, tip = flag(1)  # told of it by peer-2 before, then answered by peer-2: one party, not two
    assert flagged and tip.startswith("Only source: peer peer-2.")
    flagged, tip = flag(2)
    assert flagged and tip.startswith("Only source: this node") and "others may not be able to find it" in tip
    assert model.data(model.index(0, ResultsModel.Columns.NAME), Qt.ItemDataRole.DecorationRole) is None

    second = trace.add(lone, "peer-3")
    assert second is not None
    model.add_events([second])
    assert (0, sources) in changed  # the Sources cell repaints: its flag goes
    flagged, tip = flag(0)
    assert not flagged and "Only source" not in tip and "peer-1" in tip and "peer-3" in tip
    assert model.data(model.index(0, sources)) == "2"


def test_sources_changed_on_scattered_rows_make_a_proxy_recheck_only_those_rows(qtbot: QtBot) -> None:
    trace = QueryTrace(Query(text="tool"))
    model = ResultsModel()
    model.reset(trace.query_id)
    model.add_events(events(trace, 1000))
    proxy = ResultsProxy(model)
    checked: list[int] = []
    proxy.set_row_filter(lambda hit: checked.append(1) is None)
    checked.clear()
    again = [trace.add(model.hit(row).record, "peer-2") for row in (0, 1, 500, 999)]
    model.add_events([e for e in again if e is not None])
    assert len(checked) == 4  # one check per changed row, not the 1,000 rows from the first to the last
    assert model.data(model.index(999, ResultsModel.Columns.SOURCES)) == "2" and proxy.rowCount() == 1000


def test_the_sources_column_has_room_for_the_flag_beside_its_text(qtbot: QtBot) -> None:
    """Was 60 pixels: with the single-source icon, "known" read "kn…"."""
    view = ResultsView(ResultsModel())
    qtbot.addWidget(view)
    width = view.columnWidth(ResultsModel.Columns.SOURCES)
    metrics = view.fontMetrics()
    icon = view.style().pixelMetric(view.style().PixelMetric.PM_SmallIconSize)
    assert width >= icon + metrics.horizontalAdvance("known") + 16  # icon, text, the cell's margins
    assert width >= metrics.horizontalAdvance("3 + known") + 12
