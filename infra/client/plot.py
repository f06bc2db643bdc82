"""How an explained row is drawn with matplotlib: a SHAP waterfall and the LIME weights per explained
class, the accuracy fields and warnings under them; PNG or SVG by the file's extension.

``figure_of(panels.picture(response, index, ...))`` is the ``Figure`` (``panels`` decides what it
shows; ``api.plot_explanation`` is the library's entry); ``save_figure(figure, path)`` writes it. The
figure is sized from its content (a row of height per bar, long labels wrapped or cut in the middle,
notes wrapped to the figure's width) and laid out by matplotlib's constrained layout, so no text
leaves the figure and no tick labels overlap at any number of columns.
matplotlib is imported only here, and only by the commands that draw.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from litelens.infra.client.api import PlotError
from litelens.infra.client.panels import PLOT_FORMATS, Bar, LimeBars, Picture, Waterfall, number, signed

POSITIVE = "#d62728"  # pushes the output up
NEGATIVE = "#1f77b4"  # pushes it down
REST = "#8c8c8c"  # folded columns: grey, whatever their sign
FONT_SIZE = 9.0
LABEL_CHARS = 30  # a y tick label wraps at this many characters...
LABEL_LINES = 3  # ...onto at most this many lines (the last ends in "…")
INCH_PER_LINE = 0.2  # a bar's row height per line of its label
PANEL_EXTRA = 1.5  # title, x axis and padding of a panel row, inches
ONE_PANEL_WIDTH = 7.5
TWO_PANEL_WIDTH = 13.0


def wrap_label(text: str, width: int = LABEL_CHARS, lines: int = LABEL_LINES, tail: int = 0) -> str:
    """``text`` cut into lines of ``width`` characters (long words broken), at most ``lines`` of them: a
    longer text loses its middle to "…", keeping its last ``tail`` characters (the value, the condition)."""
    parts = textwrap.wrap(text, width) or [""]
    keep = min(tail, width * lines // 2)
    room = width * lines
    while len(parts) > lines and room > keep + 1:
        room -= 2
        head = text[: max(0, room - keep - 1)]
        parts = textwrap.wrap(head + "…" + (text[len(text) - keep :] if keep else ""), width)
    return "\n".join(parts[:lines])


def _tail(bar: Bar) -> int:
    """How much of a label's end to keep when it is cut: what follows the column's name in it."""
    if bar.column and bar.label.startswith(bar.column):
        return len(bar.label) - len(bar.column) + 6
    return 12


def _colour(bar: Bar) -> str:
    if bar.is_rest:
        return REST
    return POSITIVE if bar.value > 0 else NEGATIVE


def _value_text(bar: Bar) -> str:
    text = signed(bar.value)
    return text + (f" ± {number(bar.std_error)}" if bar.std_error else "")


def _bars(ax: Any, bars: Sequence[Bar], kind: str) -> None:
    """Horizontal bars, the first on top; the column label on the left, the signed value on the right."""
    y = list(range(len(bars) - 1, -1, -1))
    drawn = ax.barh(y, [b.value for b in bars], left=[b.start for b in bars], color=[_colour(b) for b in bars],
                    height=0.7, zorder=2)  # fmt: skip
    for patch, bar in zip(drawn, bars, strict=True):
        patch.set_gid(f"{kind}:{'rest' if bar.is_rest else bar.column}")
    errors = [(b.end, yi, b.std_error) for b, yi in zip(bars, y, strict=True) if b.std_error]
    if errors:
        ends, ys, xerr = zip(*errors, strict=True)
        ax.errorbar(ends, ys, xerr=xerr, fmt="none", ecolor="black", elinewidth=1, capsize=3, zorder=3)
    ax.set_yticks(y, [wrap_label(b.label, tail=_tail(b)) for b in bars], fontsize=FONT_SIZE)
    ax.set_ylim(-0.6, len(bars) - 0.4)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: number(v, 3)))
    ax.tick_params(axis="x", labelsize=FONT_SIZE)
    ax.grid(axis="x", color="#e5e5e5", zorder=0)
    right = ax.twinx()
    right.set_ylim(ax.get_ylim())
    right.set_yticks(y, [_value_text(b) for b in bars], fontsize=FONT_SIZE)
    right.tick_params(axis="y", length=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
        right.spines[side].set_visible(False)


def _limits(ax: Any, points: Sequence[float]) -> None:
    low, high = min(points), max(points)
    pad = (high - low) * 0.06 or abs(high) * 0.06 or 0.01
    ax.set_xlim(low - pad, high + pad)


def _draw_waterfall(ax: Any, drawn: Waterfall, target: str | None) -> None:
    _bars(ax, drawn.bars, "shap")
    ax.axvline(drawn.base, color="#555555", linestyle="--", linewidth=1, zorder=1)
    ax.axvline(drawn.end, color="black", linewidth=1, zorder=1)
    points = [drawn.base, drawn.end] + [x for b in drawn.bars for x in (b.start, b.end)]
    points += [b.end + s * (b.std_error or 0) for b in drawn.bars for s in (-1, 1)]
    _limits(ax, points)
    space = f" ({drawn.output_space})" if drawn.output_space else ""
    about = f", class {target}" if target is not None else ""
    ax.set_title(wrap_label(f"SHAP{about}: base {number(drawn.base)} → f(x) {number(drawn.end)}{space}", 60, 2),
                 fontsize=FONT_SIZE + 1, loc="left")  # fmt: skip
    ax.set_xlabel("cumulative output: base value (dashed) + contributions = f(x) (solid)", fontsize=FONT_SIZE)


def _draw_lime(ax: Any, drawn: LimeBars, target: str | None) -> None:
    _bars(ax, drawn.bars, "lime")
    ax.axvline(0, color="black", linewidth=1, zorder=1)
    _limits(ax, [0.0] + [b.value for b in drawn.bars])
    about = f", class {target}" if target is not None else ""
    measures = (("R²", drawn.score), ("local error", drawn.local_error))
    fit = ", ".join(f"{name} {number(value)}" for name, value in measures if value is not None)
    ax.set_title(wrap_label(f"LIME{about}: {fit}" if fit else f"LIME{about}", 60, 2), fontsize=FONT_SIZE + 1,
                 loc="left")  # fmt: skip
    ax.set_xlabel("weight in the local linear model", fontsize=FONT_SIZE)


def _blank(ax: Any) -> None:
    """An axes that only holds text (or nothing): no frame, no ticks."""
    ax.set_axis_off()
    ax.set_xticks([])
    ax.set_yticks([])


def _label_lines(bars: Sequence[Bar]) -> int:
    return sum(wrap_label(b.label, tail=_tail(b)).count("\n") + 1 for b in bars)


def _notes(drawing: Picture, chars: int) -> list[str]:
    lines: list[str] = []
    for panel in drawing.panels:
        head = f"class {panel.target}: " if panel.target is not None and len(drawing.panels) > 1 else ""
        for line in panel.quality:
            lines += textwrap.wrap(head + line, chars, subsequent_indent="    ")
        for warning in panel.warnings:
            lines += textwrap.wrap(f"warning ({panel.target}): {warning}" if head else f"warning: {warning}", chars,
                                   subsequent_indent="    ")  # fmt: skip
    for note in drawing.notes:
        lines += textwrap.wrap(f"input: {note}", chars, subsequent_indent="    ")
    return lines


def figure_of(drawing: Picture) -> Figure:
    """The matplotlib figure of a ``Picture``."""
    with_lime = any(p.lime for p in drawing.panels)
    with_shap = any(p.waterfall for p in drawing.panels)
    width = TWO_PANEL_WIDTH if with_lime and with_shap else ONE_PANEL_WIDTH
    chars = int(width * 72 / (FONT_SIZE * 0.62))  # DejaVu Sans averages ~0.55 em a character
    notes = _notes(drawing, chars)
    heights = []
    for panel in drawing.panels:
        lines = max(_label_lines(panel.waterfall.bars) if panel.waterfall else 0,
                    _label_lines(panel.lime.bars) if panel.lime else 0)  # fmt: skip
        heights.append(lines * INCH_PER_LINE + PANEL_EXTRA)
    notes_height = len(notes) * FONT_SIZE * 1.45 / 72 + 0.15
    heading = textwrap.fill(drawing.title, int(chars * 0.85))
    title_height = (heading.count("\n") + 1) * 0.25 + 0.2
    figure = Figure(figsize=(width, sum(heights) + notes_height + title_height), layout="constrained")
    columns = int(with_shap) + int(with_lime)
    grid = figure.add_gridspec(len(drawing.panels) + 1, columns, height_ratios=[*heights, notes_height])
    for row, panel in enumerate(drawing.panels):
        column = 0
        if with_shap:
            ax = figure.add_subplot(grid[row, column])
            column += 1
            if panel.waterfall:
                _draw_waterfall(ax, panel.waterfall, panel.target)
            else:
                _blank(ax)
        if with_lime:
            ax = figure.add_subplot(grid[row, column])
            if panel.lime:
                _draw_lime(ax, panel.lime, panel.target)
            else:
                _blank(ax)
    text_ax = figure.add_subplot(grid[-1, :])
    _blank(text_ax)
    if notes:
        text_ax.text(0, 1, "\n".join(notes), va="top", ha="left", fontsize=FONT_SIZE, transform=text_ax.transAxes)
    figure.suptitle(heading, fontsize=FONT_SIZE + 3, x=0.01, ha="left")
    return figure


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` as PNG or SVG, by ``path``'s extension."""
    out = Path(path)
    if out.suffix.lower() not in PLOT_FORMATS:
        raise PlotError(f"cannot draw {out.name}: the plot is written as .png or .svg")
    figure.savefig(out, dpi=150 if out.suffix.lower() == ".png" else None, format=out.suffix.lower()[1:])
    return out
