"""Reading an explanation figure back (``plot_explanation``'s): the texts drawn, the bars of each panel,
their tick labels, and a check that every text is inside the figure and no two tick labels overlap."""

from __future__ import annotations

from typing import Any

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text


def drawn_texts(figure: Figure) -> tuple[Any, list[Text]]:
    """(renderer, every Text artist drawn with some text): ticks out of view, and labels of hidden axes,
    are skipped, as they are in the file."""
    renderer = FigureCanvasAgg(figure).get_renderer()
    seen = {}
    draw = Text.draw

    def record(self, renderer):
        if self.get_visible() and self.get_text().strip():
            seen[id(self)] = self
        return draw(self, renderer)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Text, "draw", record)
        figure.draw(renderer)
    return renderer, list(seen.values())


def assert_readable(figure: Figure) -> None:
    """Every drawn text inside the figure; within each axis, no two drawn tick labels overlapping."""
    renderer, drawn = drawn_texts(figure)
    assert len(drawn) > 10
    box = figure.bbox
    for text in drawn:
        extent = text.get_window_extent(renderer)
        assert extent.x0 >= box.x0 - 1 and extent.x1 <= box.x1 + 1, f"{text.get_text()!r} leaves the figure sideways"
        assert extent.y0 >= box.y0 - 1 and extent.y1 <= box.y1 + 1, f"{text.get_text()!r} leaves the figure"
    ids = {id(t) for t in drawn}
    for ax in figure.axes:
        for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            shown = [t for t in labels if id(t) in ids]
            extents = [t.get_window_extent(renderer) for t in shown]
            for i in range(len(extents)):
                for j in range(i + 1, len(extents)):
                    a, b = extents[i], extents[j]
                    overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
                    overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
                    assert overlap_x <= 0.5 or overlap_y <= 0.5, (shown[i].get_text(), shown[j].get_text())


def bars(figure: Figure, kind: str) -> list[dict[str, Any]]:
    """{column or 'rest': patch} of the drawn bars of ``kind`` (shap, lime), per panel in drawing order."""
    panels = []
    for ax in figure.axes:
        found = {p.get_gid().split(":", 1)[1]: p for p in ax.patches if (p.get_gid() or "").startswith(kind + ":")}
        if found:
            panels.append(found)
    return panels


def y_labels(figure: Figure, kind: str) -> list[list[str]]:
    """The left tick labels of each ``kind`` panel, top to bottom, unwrapped."""
    out = []
    for ax in figure.axes:
        if any((p.get_gid() or "").startswith(kind + ":") for p in ax.patches):
            ticks = sorted(zip(ax.get_yticks(), ax.get_yticklabels(), strict=True), key=lambda t: -t[0])
            out.append([label.get_text().replace("\n", "") for _, label in ticks])
    return out


def all_text(figure: Figure) -> str:
    return "\n".join(t.get_text() for t in drawn_texts(figure)[1])
