"""Full garbage collections wait while a results model holds a search's rows, and resume when it lets them go."""

from __future__ import annotations

import gc

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pytestqt.qtbot import QtBot

from ggen_desktop.core.query import Query
from ggen_desktop.core.search import QueryTrace
from ggen_desktop.gui import collector
from ggen_desktop.gui.collector import LET_GO_AFTER_IDLE_MS
from ggen_desktop.gui.results_model import ResultsModel
from tests.helpers.packages import make_record

KEY = Ed25519PrivateKey.generate()


def filled_model(rows: int = 3) -> ResultsModel:
    trace = QueryTrace(Query(text="tool"))
    model = ResultsModel()
    model.reset(trace.query_id)
    model.add_events([e for e in (trace.add(make_record(f"acme/tool-{i}", key=KEY), "peer") for i in range(rows)) if e])
    return model


def full_collections_run() -> bool:
    """True when a full collection would run as usual: gen-2's threshold is the normal one."""
    return gc.get_threshold()[2] < collector.HELD_THRESHOLD


def test_rows_hold_off_full_collections_until_a_new_search_lets_them_go(qtbot: QtBot) -> None:
    gc.collect()  # models of earlier tests, gone: their finalizers let go
    normal = gc.get_threshold()
    assert full_collections_run()
    model = filled_model()
    assert collector.holding() and not full_collections_run()
    assert gc.get_threshold()[:2] == normal[:2]  # young collections go on as before
    other = filled_model()
    model.reset("next query")  # one model let go, another still holds
    assert not full_collections_run()
    other.reset(None)
    assert not collector.holding() and gc.get_threshold() == normal
    model.reset("again")  # empty: nothing held
    assert full_collections_run()


def test_a_model_deleted_with_its_rows_lets_go(qtbot: QtBot) -> None:
    gc.collect()
    normal = gc.get_threshold()
    model = filled_model()
    assert not full_collections_run()
    del model
    gc.collect()
    assert not collector.holding() and gc.get_threshold() == normal


def test_a_countdown_lets_go_after_the_last_rows_with_no_session_left_to_do_it(qtbot: QtBot) -> None:
    """A window closed mid-stream leaves no session to end the hold: the module's countdown still does."""
    gc.collect()
    model = filled_model()  # its rows started the countdown
    assert collector.holding()  # not at once: a next page may follow
    qtbot.waitUntil(lambda: not collector.holding(), timeout=LET_GO_AFTER_IDLE_MS + 5000)
    assert full_collections_run() and model.rowCount() == 3  # the rows stay; only the hold ended
