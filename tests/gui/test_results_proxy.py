"""ResultsProxy: the sorted and filtered order the results table shows, kept while batches stream in."""

from __future__ import annotations

import itertools
import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PySide6.QtCore import QEvent, QEventLoop, QItemSelectionModel, QObject, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from ggen_desktop.core.query import Query
from ggen_desktop.core.search import QueryTrace, SearchEvent, SearchHit
from ggen_desktop.gui.results_model import HIT_ROLE, ResultsModel
from ggen_desktop.gui.results_proxy import ResultsProxy
from ggen_desktop.gui.results_view import ResultsView
from tests.helpers.packages import make_record

KEY = Ed25519PrivateKey.generate()
NAME = ResultsModel.Columns.NAME
SOURCES = ResultsModel.Columns.SOURCES
VERSIONS = itertools.count()


def batch(trace: QueryTrace, names: list[str], peer: str = "peer-1") -> list[SearchEvent]:
    """One event per name; a name repeats as another version (a tie in the Name column)."""
    events = []
    for name in names:
        event = trace.add(make_record(name, key=KEY, version=f"1.{next(VERSIONS)}.0"), peer)
        assert event is not None
        events.append(event)
    return events


def shown_rows(proxy: ResultsProxy) -> list[int]:
    return [proxy.mapToSource(proxy.index(r, 0)).row() for r in range(proxy.rowCount())]


def expected_rows(model: ResultsModel, column: int, descending: bool) -> list[int]:
    """A stable full sort: ties stay in arrival order in both directions (as QSortFilterProxyModel kept them)."""
    return sorted(range(model.rowCount()), key=lambda r: model.sort_key(r, column), reverse=descending)


def empty_model() -> tuple[QueryTrace, ResultsModel]:
    """A search for "tool" and the empty results model showing it."""
    trace = QueryTrace(Query(text="tool"))
    model = ResultsModel()
    model.reset(trace.query_id)
    return trace, model


def empty_view(qtbot: QtBot) -> tuple[QueryTrace, ResultsModel, ResultsView]:
    """The same, shown in a results table."""
    trace, model = empty_model()
    view = ResultsView(model)
    qtbot.addWidget(view)
    return trace, model, view


def test_every_batch_lands_where_a_full_stable_sort_puts_it(qtbot: QtBot, qtmodeltester: ModelTester) -> None:
    """Names with many ties, in both directions: the bisection and list splicing match sorted() row for row."""
    rng = random.Random(7)
    for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
        trace, model = empty_model()
        proxy = ResultsProxy(model)
        qtmodeltester.check(proxy, force_py=True)  # and every signal after it
        proxy.sort(NAME, order)
        for _ in range(12):
            model.add_events(batch(trace, [f"acme/t{rng.randrange(40):02}" for _ in range(rng.randrange(1, 30))]))
            assert shown_rows(proxy) == expected_rows(model, NAME, order == Qt.SortOrder.DescendingOrder)
        proxy.sort(-1, Qt.SortOrder.AscendingOrder)  # back to arrival order
        assert shown_rows(proxy) == list(range(model.rowCount()))


def test_a_batch_is_one_insert_and_one_layout_change_however_scattered_its_rows(qtbot: QtBot) -> None:
    """QSortFilterProxyModel signalled every insertion point apart (one rowsInserted per run of rows), each
    costing the view and the proxy's remapping O(rows): 1.5 ms a row at 10,000 rows."""
    trace, model, view = empty_view(qtbot)
    view.sortByColumn(NAME, Qt.SortOrder.AscendingOrder)
    model.add_events(batch(trace, [f"acme/t{i:03}" for i in range(0, 400, 2)]))
    inserts: list[tuple[int, int]] = []
    layouts: list[int] = []
    view.model().rowsInserted.connect(lambda _parent, first, last: inserts.append((first, last)))
    view.model().layoutChanged.connect(lambda *_: layouts.append(1))
    model.add_events(batch(trace, [f"acme/t{i:03}" for i in range(1, 400, 20)]))  # 20 rows, 20 places
    assert inserts == [(200, 219)] and layouts == [1]
    names = [view.model().index(r, NAME).data() for r in range(view.model().rowCount())]
    assert names == sorted(names) and len(names) == 220


def test_the_selection_and_current_row_follow_their_result_as_batches_are_placed(qtbot: QtBot) -> None:
    trace, model, view = empty_view(qtbot)
    view.sortByColumn(NAME, Qt.SortOrder.DescendingOrder)
    model.add_events(batch(trace, [f"acme/t{i:03}" for i in range(0, 300, 3)]))
    view.selectionModel().setCurrentIndex(view.model().index(40, NAME), QItemSelectionModel.SelectionFlag.ClearAndSelect
                                          | QItemSelectionModel.SelectionFlag.Rows)
    picked = view.selected_hit()
    kept = QPersistentModelIndex(view.model().index(70, NAME))
    kept_hit = kept.data(HIT_ROLE)
    assert picked is not None and kept_hit is not None
    for start in (1, 2):
        model.add_events(batch(trace, [f"acme/t{i:03}" for i in range(start, 300, 3)]))  # before and after both
        assert view.selected_hit() is picked
        assert view.currentIndex().data(HIT_ROLE) is picked
        assert kept.data(HIT_ROLE) is kept_hit
    assert view.currentIndex().row() != 40  # it did move: 2 of every 3 rows arrived since, some above it


def test_a_sources_sort_follows_new_sources_and_a_filter_rechecks_changed_rows(qtbot: QtBot) -> None:
    trace, model = empty_model()
    proxy = ResultsProxy(model)
    proxy.sort(SOURCES, Qt.SortOrder.DescendingOrder)
    model.add_events(batch(trace, ["acme/a", "acme/b", "acme/c"]))
    again = trace.add(model.hit(2).record, "peer-2")  # acme/c gains a second source: it goes first
    assert again is not None
    model.add_events([again])
    assert [proxy.index(r, NAME).data() for r in range(3)] == ["acme/c", "acme/a", "acme/b"]
    proxy.set_row_filter(lambda hit: len(hit.answered_by) == 1)
    assert [proxy.index(r, NAME).data() for r in range(proxy.rowCount())] == ["acme/a", "acme/b"]
    third = trace.add(model.hit(0).record, "peer-3")  # acme/a gains one: it leaves the filtered view
    assert third is not None
    model.add_events([third])
    assert [proxy.index(r, NAME).data() for r in range(proxy.rowCount())] == ["acme/b"]
    model.add_events(batch(trace, ["acme/d"]))
    assert [proxy.index(r, NAME).data() for r in range(proxy.rowCount())] == ["acme/b", "acme/d"]
    assert proxy.mapFromSource(model.index(3, NAME)).row() == 1 and not proxy.mapFromSource(model.index(0, NAME)).isValid()


def counting_key_reads(model: ResultsModel) -> list[int]:
    """A count of the sort keys read from `model` (the proxy reads a Sources key through `sort_key`)."""
    reads = [0]
    read_key = model.sort_key

    def counted(row: int, column: int) -> object:
        reads[0] += 1
        return read_key(row, column)

    model.sort_key = counted  # type: ignore[method-assign]
    return reads


@pytest.mark.parametrize("order", [Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder])
def test_sorted_by_sources_a_batch_moves_only_its_changed_rows(qtbot: QtBot, order: Qt.SortOrder) -> None:
    """A full re-sort per batch read every row's Sources key in Python (~50 ms a batch at 100,000 rows): now a
    batch reads the keys of its own rows only, and lands where a full stable sort puts every row."""
    rng = random.Random(11)
    trace, model = empty_model()
    proxy = ResultsProxy(model)
    proxy.sort(SOURCES, order)
    model.add_events(batch(trace, [f"acme/t{i:03}" for i in range(300)]))
    reads = counting_key_reads(model)
    layouts: list[int] = []
    proxy.layoutChanged.connect(lambda *_: layouts.append(1))
    for round_ in range(6):
        reads[0] = 0
        layouts.clear()
        peer = f"peer-{rng.randrange(2, 5)}"
        again = [trace.add(model.hit(r).record, peer) for r in rng.sample(range(model.rowCount()), 25)]
        model.add_events([e for e in again if e is not None] + batch(trace, [f"acme/n{round_}{i}" for i in range(5)]))
        assert reads[0] <= 2 * 30  # the changed and the new rows' keys, not the 300 others'
        assert len(layouts) <= 2  # the moves in one step, the new rows in another
        assert shown_rows(proxy) == expected_rows(model, SOURCES, order == Qt.SortOrder.DescendingOrder)


def test_moves_and_filter_changes_pass_qts_model_checks(qtbot: QtBot, qtmodeltester: ModelTester) -> None:
    trace, model = empty_model()
    proxy = ResultsProxy(model)
    qtmodeltester.check(proxy, force_py=True)  # and every signal after it
    proxy.sort(SOURCES, Qt.SortOrder.DescendingOrder)
    model.add_events(batch(trace, [f"acme/t{i:02}" for i in range(30)]))
    for peer, rows in (("peer-2", (3, 17, 29)), ("peer-3", (17, 0))):
        model.add_events([e for e in (trace.add(model.hit(r).record, peer) for r in rows) if e is not None])
    assert shown_rows(proxy)[:4] == [17, 0, 3, 29]
    proxy.set_row_filter(lambda hit: len(hit.answered_by) == 1)  # a layout change that drops rows
    assert proxy.rowCount() == 26
    proxy.set_row_filter(None)
    assert shown_rows(proxy)[:4] == [17, 0, 3, 29] and proxy.rowCount() == 30


def selected_in_sorted_view(qtbot: QtBot, column: int, order: Qt.SortOrder,
                            row: int) -> tuple[QueryTrace, ResultsModel, ResultsView, SearchHit]:
    """A table of 100 results sorted by `column`, with the result shown at `row` selected."""
    trace, model, view = empty_view(qtbot)
    view.sortByColumn(column, order)
    model.add_events(batch(trace, [f"acme/t{i:03}" for i in range(100)]))
    view.selectRow(row)
    picked = view.selected_hit()
    assert picked is not None
    return trace, model, view, picked


def test_sorted_by_sources_the_selection_follows_a_result_that_moves(qtbot: QtBot) -> None:
    trace, model, view, picked = selected_in_sorted_view(qtbot, SOURCES, Qt.SortOrder.DescendingOrder, 60)
    model.add_events([e for e in (trace.add(picked.record, "peer-2"), trace.add(model.hit(3).record, "peer-2")) if e])
    assert view.selected_hit() is picked and view.currentIndex().data(HIT_ROLE) is picked
    assert view.currentIndex().row() in (0, 1)  # two sources now: among the first


def test_a_filter_change_keeps_the_selected_result_selected_while_it_passes(qtbot: QtBot) -> None:
    """A filter change reset the table, and with it the selection: the details pane went blank."""
    _trace, _model, view, picked = selected_in_sorted_view(qtbot, NAME, Qt.SortOrder.AscendingOrder, 41)
    view.proxy.set_row_filter(lambda hit: hit.identity[0] >= "acme/t030")  # rows above it go: it moves up
    assert view.proxy.rowCount() == 70
    assert view.selected_hit() is picked and view.currentIndex().data(HIT_ROLE) is picked
    assert view.currentIndex().row() == 11
    view.proxy.set_row_filter(None)
    assert view.selected_hit() is picked and view.currentIndex().row() == 41
    view.proxy.set_row_filter(lambda hit: hit is not picked)  # it no longer passes: nothing is selected
    assert view.selected_hit() is None and view.proxy.rowCount() == 99


class PaintCounter(QObject):
    """Counts the paint events a widget receives, and the rows of the table they cover."""

    def __init__(self, view: ResultsView) -> None:
        super().__init__(view)
        self.view = view
        self.painted: list[tuple[int, int]] = []  # (first row, last row) of each paint's region
        view.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            rect = event.rect()  # type: ignore[attr-defined]
            self.painted.append((self.view.rowAt(rect.top()), self.view.rowAt(rect.bottom())))
        return False


def settled(qtbot: QtBot, view: ResultsView, scroll_range: int) -> None:
    """Wait until the view has laid out the last rows (its scroll range changed), then let any repaint happen."""
    qtbot.waitUntil(lambda: view.verticalScrollBar().maximum() != scroll_range)
    QApplication.processEvents()
    QApplication.processEvents()


def shown_view(qtbot: QtBot, sorted_by: int | None) -> tuple[QueryTrace, ResultsModel, ResultsView]:
    """A shown table of 200 results, the first screen of them on screen."""
    trace, model, view = empty_view(qtbot)
    view.resize(900, 400)
    view.show()
    qtbot.waitExposed(view)
    if sorted_by is not None:
        view.sortByColumn(sorted_by, Qt.SortOrder.AscendingOrder)
    model.add_events(batch(trace, [f"acme/m{i:03}" for i in range(200)]))
    settled(qtbot, view, 0)
    return trace, model, view


@pytest.mark.parametrize("sorted_by", [None, NAME])
def test_rows_landing_below_the_screen_repaint_nothing_on_it(qtbot: QtBot, sorted_by: int | None) -> None:
    """Every batch repainted the whole table (~8 ms): the header re-laid out its columns at each layout change,
    and an insert repainted every row on screen, even with all new rows below it."""
    trace, model, view = shown_view(qtbot, sorted_by)
    widths = [view.columnWidth(c) for c in range(model.columnCount())]
    counter = PaintCounter(view)
    model.add_events(batch(trace, [f"acme/z{i:03}" for i in range(50)]))  # last, in either order
    settled(qtbot, view, view.verticalScrollBar().maximum())
    assert counter.painted == []
    assert [view.columnWidth(c) for c in range(model.columnCount())] == widths


def test_a_row_landing_on_screen_repaints_from_its_row_down(qtbot: QtBot) -> None:
    trace, model, view = shown_view(qtbot, NAME)
    counter = PaintCounter(view)
    model.add_events(batch(trace, ["acme/m004x", "acme/m150x"]))  # shown as row 5, and far below the screen
    qtbot.waitUntil(lambda: bool(counter.painted))
    assert view.model().index(5, NAME).data() == "acme/m004x"
    assert all(first >= 5 for first, _last in counter.painted)  # the five rows above it are not repainted


class TurnCounter(QObject):
    """Counts the event loop's turns (a 0 ms timer) and notes the turn each paint of a view's table fell in."""

    def __init__(self, view: ResultsView) -> None:
        super().__init__(view)
        self.view, self.turn = view, 0
        self.painted: list[tuple[int, int, int]] = []  # (turn, top, height) of each paint of the table
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.timer.start(0)
        view.viewport().installEventFilter(self)

    def _tick(self) -> None:
        self.turn += 1

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            rect = event.rect()  # type: ignore[attr-defined]
            self.painted.append((self.turn, rect.top(), rect.height()))
        return False


def on_screen(view: ResultsView) -> QImage:
    """What the window shows now (its backing store), not a fresh rendering of the widget as `grab()` makes."""
    return view.screen().grabWindow(view.winId()).toImage()


def bands_of_four(view: ResultsView) -> int:
    """Bands of 4 rows whatever a paint costs on this machine; their height in pixels."""
    view.paint_bands.FIRST_BAND_ROWS, view.paint_bands.BUDGET_S = 4, 0.0
    return 4 * view.rowHeight(0)


def test_a_screen_of_moved_rows_repaints_a_band_per_turn_and_ends_as_a_fresh_paint(qtbot: QtBot) -> None:
    """A batch landing at the top of a sorted table repainted every row on screen in one turn (7-10 ms for a
    1200x800 table, 16-20 ms on a busy machine); now a band per turn, and the screen ends as a full repaint
    would leave it."""
    trace, model, view = shown_view(qtbot, NAME)
    band = bands_of_four(view)
    turns = TurnCounter(view)
    model.add_events(batch(trace, [f"acme/a{i:03}" for i in range(30)]))  # before every shown row
    qtbot.waitUntil(lambda: not view.paint_bands.pending and len(turns.painted) >= 2)
    QApplication.processEvents()
    table = [(turn, top, height) for turn, top, height in turns.painted if height > view.rowHeight(0) // 2]
    assert all(height <= band for _turn, _top, height in table)
    assert len({turn for turn, _top, _height in table}) == len(table)  # one band per turn of the loop
    covered = sorted((top, top + height) for _turn, top, height in table)
    assert covered[0][0] == 0 and covered[-1][1] >= view.viewport().height()
    assert all(later[0] <= earlier[1] for earlier, later in itertools.pairwise(covered))  # no row left out
    assert on_screen(view) == view.grab().toImage()
    assert view.model().index(0, NAME).data() == "acme/a000"


def test_rows_scrolled_while_bands_are_pending_are_repainted_too(qtbot: QtBot) -> None:
    """Scrolling moves the stale pixels (Qt blits them): the bands still to come must move with them."""
    trace, model, view = shown_view(qtbot, NAME)
    bands_of_four(view)
    model.add_events(batch(trace, [f"acme/a{i:03}" for i in range(30)]))
    for _ in range(100):  # turn by turn, until the first band is out and the rest are to come
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 1)
        if view.paint_bands.pending:
            break
    assert view.paint_bands.pending and on_screen(view) != view.grab().toImage()
    view.verticalScrollBar().setValue(view.verticalScrollBar().value() + 3)  # the content moves up 3 rows
    qtbot.waitUntil(lambda: not view.paint_bands.pending)
    QApplication.processEvents()
    QApplication.processEvents()
    assert on_screen(view) == view.grab().toImage()


@pytest.mark.parametrize("column", [NAME, SOURCES])
@pytest.mark.parametrize("order", [Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder])
def test_rows_above_the_first_changed_row_stay_as_they_were(qtbot: QtBot, column: int, order: Qt.SortOrder) -> None:
    """The view repaints only from `take_changed_from()` down: every row above it must show what it showed."""
    rng = random.Random(5)
    trace, model = empty_model()
    proxy = ResultsProxy(model)
    proxy.sort(column, order)
    model.add_events(batch(trace, [f"acme/t{rng.randrange(60):02}" for _ in range(80)]))
    proxy.take_changed_from()
    for _ in range(15):
        before = shown_rows(proxy)
        again = [trace.add(model.hit(r).record, f"peer-{rng.randrange(2, 6)}") for r in rng.sample(range(len(before)), 6)]
        model.add_events([e for e in again if e is not None] + batch(trace, [f"acme/t{rng.randrange(60):02}"
                                                                             for _ in range(rng.randrange(0, 6))]))
        changed_from = proxy.take_changed_from()
        after = shown_rows(proxy)
        if changed_from is None:
            assert after == before
        else:
            assert after[:changed_from] == before[:changed_from]
