"""Publisher continuity in the window: a result shows its key as a petname and a 16-digit fingerprint, the
details say since when the key has signed the name, and a name first seen from another key is flagged
even when only the new key's row is in the results."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PySide6.QtWidgets import QInputDialog, QStyleOptionViewItem
from pytestqt.qtbot import QtBot

from ggen_desktop.core.petnames import group_fingerprint
from ggen_desktop.core.record import SignedRecord
from ggen_desktop.core.search import SearchHit
from ggen_desktop.gui.main_window import MainWindow
from ggen_desktop.gui.results_model import ResultsModel
from tests.gui.conftest import Runner
from tests.gui.test_search import search
from tests.helpers.packages import make_record


def shown_cell(window: MainWindow, row: int, column: int) -> QStyleOptionViewItem:
    """The cell as the view paints it: the option its delegate fills in."""
    view = window.results_view
    index = view.model().index(row, column)
    option = QStyleOptionViewItem()
    view.itemDelegateForIndex(index).initStyleOption(option, index)  # type: ignore[union-attr]
    return option


def name_publisher(qtbot: QtBot, window: MainWindow, text: str) -> None:
    window.area.result_actions.name_publisher.trigger()
    dialog = window.findChild(QInputDialog, "petnameDialog")
    assert isinstance(dialog, QInputDialog) and dialog.isVisible()
    dialog.setTextValue(text)
    dialog.accept()
    qtbot.waitUntil(lambda: window.findChild(QInputDialog, "petnameDialog") is None, timeout=2000)  # deleted


def test_an_impostor_alone_in_the_results_is_flagged_by_the_names_history(qtbot: QtBot, window: MainWindow,
                                                                          run: Runner) -> None:
    assert window.app is not None and window.app.demo is not None
    search(qtbot, window, "postgres")
    window.results_view.selectRow(0)
    original: SearchHit = window.results_view.selected_hit()  # type: ignore[assignment]
    name = original.identity[0]
    assert "signed by the same key since" in window.details.toPlainText()
    name_publisher(qtbot, window, "Original")
    assert shown_cell(window, 0, ResultsModel.Columns.PUBLISHER).text == \
        f"Original ({group_fingerprint(original.record.fingerprint)})"
    # another key publishes the same name, with a word only its copy has
    impostor = make_record(name, "Zebrafinch edition", key=Ed25519PrivateKey.generate(), version="9.9.9",
                           tags=("zebrafinch",))
    run(window.app.demo.nodes[3].publish(impostor))
    search(qtbot, window, "zebrafinch")
    model = window.results_model
    assert model.rowCount() == 1 and model.hit(0).record.fingerprint == impostor.fingerprint
    assert model.publishers_of(name) == 1  # the results alone cannot tell: the original's row is absent
    name_cell = shown_cell(window, 0, ResultsModel.Columns.NAME)
    assert not name_cell.icon.isNull() and name_cell.features & QStyleOptionViewItem.ViewItemFeature.HasDecoration
    assert shown_cell(window, 0, ResultsModel.Columns.PUBLISHER).text == group_fingerprint(impostor.fingerprint)
    window.results_view.selectRow(0)
    details = window.details.toPlainText()
    assert f"⚠ Another key published {name} before this one: Original ({group_fingerprint(original.record.fingerprint)})" \
        in details
    assert "may be an impostor" in details
    assert "signed by the same key since 9.9.9 (1 release)" in details
    view = window.area.publishers.view(model.hit(0).record)
    assert view is not None and view.tooltip().startswith("⚠ Another key published")
    # the original is not flagged by its history: it came first (with both rows in view, the table's own
    # two-publishers warning marks both)
    search(qtbot, window, "postgres")
    assert model.publishers_of(name) == 2
    original_view = window.area.publishers.view(original.record)
    assert original_view is not None and not original_view.flagged
    assert [group_fingerprint(h.fingerprint) for h in original_view.continuity.later_keys] == \
        [group_fingerprint(impostor.fingerprint)]


def test_a_petname_is_one_per_key_and_a_taken_one_is_refused_in_the_status_bar(qtbot: QtBot,
                                                                               window: MainWindow) -> None:
    search(qtbot, window, "postgres")
    model = window.results_model
    keys = {model.hit(r).record.fingerprint: r for r in range(model.rowCount())}
    assert len(keys) >= 2
    first, second = list(keys.values())[:2]
    window.results_view.selectRow(window.results_view.proxy.mapFromSource(model.index(first, 0)).row())
    name_publisher(qtbot, window, "Northwind")
    assert window.status.currentMessage().startswith("Northwind (")
    assert "Northwind" in window.details.toPlainText()
    window.results_view.selectRow(window.results_view.proxy.mapFromSource(model.index(second, 0)).row())
    name_publisher(qtbot, window, "northwind")
    assert window.status.currentMessage().startswith("Petname not set: 'Northwind' already names the key")
    assert window.app is not None and window.app.petnames.get(model.hit(second).record.fingerprint) is None


def test_a_burst_of_rows_reaches_the_history_a_slice_per_loop_turn(qtbot: QtBot, tmp_path: Path) -> None:
    from ggen_desktop.app import App
    from ggen_desktop.core.search import SearchEvent
    from ggen_desktop.gui.results_area import OBSERVE_SLICE, ResultsArea
    from ggen_desktop.gui.search_session import SearchSession
    from ggen_desktop.gui.tasks import TaskGroup

    app = App(data_dir=tmp_path / "data", config_dir=tmp_path / "config", demo_size=1)
    try:
        model = ResultsModel()
        area = ResultsArea(SearchSession(model, TaskGroup()))
        qtbot.addWidget(area)
        area.attach(app)
        batches: list[int] = []
        observe = app.observe_records

        def counted(records: Iterable[SignedRecord]) -> None:
            batch = list(records)
            batches.append(len(batch))
            observe(batch)

        app.observe_records = counted  # type: ignore[method-assign]
        key = Ed25519PrivateKey.generate()
        model.reset("q")
        total = 2 * OBSERVE_SLICE + 50
        model.add_events([SearchEvent("q", SearchHit(make_record(f"acme/p{n}", key=key), {"peer"}, 1.0), True)
                          for n in range(total)])
        assert len(app.provenance) == 0  # nothing in the same turn as the insert
        qtbot.waitUntil(lambda: len(app.provenance) == total, timeout=5000)
        assert batches == [OBSERVE_SLICE, OBSERVE_SLICE, 50]  # one slice per loop turn, not all at once
    finally:
        app.database.close()  # type: ignore[union-attr]
