"""Query metrics dock: counters, the duration chart and the trace of the current query."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ggen_desktop.core.metrics import MetricsSnapshot
from ggen_desktop.core.overview import describe
from ggen_desktop.core.search import QueryStatus, QueryTrace
from ggen_desktop.gui.duration_chart import DurationChart
from ggen_desktop.gui.table_model import make_compact
from ggen_desktop.gui.trace_model import UNANSWERED, TraceModel


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


class MetricsPanel(QWidget):
    """Fed by the window's poll timer with `metrics.snapshot()` and the trace being shown."""

    FIELDS = (
        ("total", "Queries"),
        ("successful", "Finished"),
        ("timed_out", "Timed out"),
        ("cancelled", "Cancelled"),
        ("in_flight", "In flight"),
        ("avg_duration", "Average duration"),
        ("avg_results", "Average results"),
        ("first_result", "Time to first result"),
        ("percentiles", "p50 / p95 duration"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels: dict[str, QLabel] = {}
        form = QFormLayout()
        for key, title in self.FIELDS:
            label = QLabel("–")
            label.setAccessibleName(title)
            self.labels[key] = label
            form.addRow(title + ":", label)
        self.chart = DurationChart()
        self.trace_title = QLabel("Trace: no query yet. Search, and each peer asked appears here.")
        self.trace_title.setWordWrap(True)
        self.trace_model = TraceModel(self)
        self.trace_view = QTableView()
        self.trace_view.setModel(self.trace_model)
        self.trace_view.setAccessibleName("Query trace per peer")
        self.trace_view.setToolTip("Every peer the last query asked: its state, how many results it sent, "
                                   "and how long it took to answer")
        make_compact(self.trace_view)
        header = self.trace_view.horizontalHeader()
        header.setStretchLastSection(True)
        # widths from the font, not from measuring rows: right from the first row, and no jumping as rows come
        for column, sample in ((TraceModel.Columns.PEER, "0123456789ab"), (TraceModel.Columns.STATE, "timed out"),
                               (TraceModel.Columns.RESULTS, "Results")):
            header.resizeSection(column, self.fontMetrics().horizontalAdvance(sample) + 18)
        # the address is in the Peer column's tooltip (and in Peer reputation): the dock is narrow
        self.trace_view.setColumnHidden(TraceModel.Columns.ADDRESS, True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.chart)
        layout.addWidget(self.trace_title)
        layout.addWidget(self.trace_view, 1)

    def show_metrics(self, snap: MetricsSnapshot) -> None:
        values = {
            "total": str(snap.total),
            "successful": str(snap.successful),
            "timed_out": str(snap.timed_out),
            "cancelled": str(snap.cancelled),
            "in_flight": str(snap.in_flight),
            "avg_duration": _ms(snap.avg_duration_ms if snap.total - snap.in_flight else None),
            "avg_results": f"{snap.avg_results:.1f}",
            "first_result": _ms(snap.avg_first_result_ms),
            "percentiles": f"{_ms(snap.p50_duration_ms)} / {_ms(snap.p95_duration_ms)}",
        }
        for key, text in values.items():
            if self.labels[key].text() != text:
                self.labels[key].setText(text)
        self.chart.set_values(snap.recent_durations_ms)

    def show_trace(self, trace: QueryTrace | None) -> None:
        self.trace_model.show_trace(trace)
        if trace is not None:
            asked, answered, timed_out, _ = trace.peer_counts()
            text = f"Trace of {describe(trace.query)}: {asked} peers asked, {answered} answered, {timed_out} timed out"
            unanswered = sum(1 for peer in trace.peers.values() if peer.state == "waiting")
            if unanswered and trace.status is not QueryStatus.RUNNING:
                text += f", {unanswered} {UNANSWERED[trace.status]}"
            text += f" — {trace.status.value}"
            if self.trace_title.text() != text:
                self.trace_title.setText(text)
