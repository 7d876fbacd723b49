"""Fan charts: history, median and central bands (`defaults.LEVELS` unless asked), one colour per
scenario; several scenarios as small multiples on one scale, so no band hides another.

Rendered with matplotlib's Agg backend (no display needed), to PNG or SVG bytes.
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from smfcast.defaults import LEVELS  # noqa: E402

COLOURS = {"baseline": "#1f77b4", "policy_targets": "#2ca02c", "adverse": "#d62728", "policy_targets_adverse": "#9467bd"}
_EXTRA = ["#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
CHART_FORMATS = ("png", "svg")
_AXIS_UNITS = {"100m_cny": "100 million CNY", "trillion_cny": "trillion CNY"}  # the charts' fonts hold Latin text only


def axis_label(unit: str) -> str:
    """A registry unit as a chart's y-axis says it."""
    return _AXIS_UNITS.get(unit, unit)


def fan_chart(title: str, unit: str, history: list[dict], bands: dict[str, list[dict]], fmt: str = "png",
              levels: tuple[int, ...] = LEVELS, titles: dict[str, str] | None = None) -> bytes:
    """`fan_figure` rendered to PNG or SVG bytes."""
    buf = io.BytesIO()
    fan_figure(title, unit, history, bands, levels, titles).savefig(buf, format=fmt)
    return buf.getvalue()


def fan_figure(title: str, unit: str, history: list[dict], bands: dict[str, list[dict]], levels: tuple[int, ...] = LEVELS,
               titles: dict[str, str] | None = None):
    """`history`: [{period, value}]; `bands`: scenario -> forecast rows with median and lo-/hi-L
    for each of `levels`. One scenario is one panel; several are small multiples (two columns,
    one y scale), each titled by `titles` (scenario -> title). The median and the bands start at
    the last observation, so the forecast continues the history line. A matplotlib Figure made
    without pyplot's global state, so threads of one server may draw at once."""
    n = max(len(bands), 1)
    cols = 1 if n == 1 else 2
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(8, 4.5) if n == 1 else (10, 3.4 * rows + 0.6), dpi=100)
    axes = fig.subplots(rows, cols, sharey=True, squeeze=False)
    hx, hy = [_x(h["period"]) for h in history], [h["value"] for h in history]
    widest_first = sorted(levels, reverse=True)
    alphas = [0.12 + 0.2 * i / max(len(levels) - 1, 1) for i in range(len(levels))]  # the wider band paler, underneath
    for i, (scenario, forecast) in enumerate(bands.items()):
        ax = axes[i // cols][i % cols]
        colour = COLOURS.get(scenario, _EXTRA[i % len(_EXTRA)])
        if hx:
            ax.plot(hx, hy, "o-", color="black", ms=4, label="observed", zorder=5)
        x = [_x(r["period"]) for r in forecast]
        join = bool(hx) and bool(x) and hx[-1] < x[0]
        x0 = [hx[-1]] if join else []
        for level, alpha in zip(widest_first, alphas):
            lo, hi = [r.get(f"lo-{level}") for r in forecast], [r.get(f"hi-{level}") for r in forecast]
            if forecast and None not in lo + hi:
                start = [hy[-1]] if join else []
                ax.fill_between(x0 + x, start + lo, start + hi, color=colour, alpha=alpha, lw=0, label=f"{level}% band")
        ax.plot(x0 + x, ([hy[-1]] if join else []) + [r["median"] for r in forecast], "-", color=colour, lw=2, label="median")
        if n > 1:
            ax.set_title((titles or {}).get(scenario, scenario), fontsize=10)
        ax.set_ylabel(unit if i % cols == 0 else "")
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=8, loc="upper left")
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    if n == 1:
        axes[0][0].set_title(title)
    else:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _x(period: str) -> float:
    """Decimal year of a period label (2026 -> 2026.0 at year-end, 2025Q2 -> 2025.5)."""
    from smfcast.registry.periods import parse_period
    p = parse_period(period)
    return p.year + p.month / 12.0 - 1.0 if p.month != 12 else float(p.year)


def backtest_chart(title: str, unit: str, periods: list[str], actual: list[float], origins: list[dict]) -> bytes:
    """Actuals against the forecasts made from each origin: `origins` holds, per cutoff, the
    period labels, median and 80% band of one model."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    xs = [_x(p) for p in periods]
    ax.plot(xs, actual, "o-", color="black", ms=3, label="actual", zorder=5)
    cmap = plt.get_cmap("viridis")
    for i, o in enumerate(origins):
        colour = cmap(i / max(len(origins) - 1, 1))
        x = [_x(p) for p in o["periods"]]
        ax.fill_between(x, o["lo"], o["hi"], color=colour, alpha=0.15, lw=0)
        ax.plot(x, o["median"], "-", color=colour, lw=1.5, label=f"from {o['origin']}")
    ax.set_title(title)
    ax.set_ylabel(unit)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best", ncol=2)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()



def tornado_svg(title: str, xlabel: str, bars: list[dict]) -> str:
    """A tornado as inline SVG, drawn directly (a page answers in milliseconds, not a matplotlib
    render): one row per lever in the given order, a bar from zero to the change with the lever at
    the low end of its range and one to the change at the high end. `bars`: {lever, low, high}."""
    import math
    from html import escape
    width, left, right, top, row = 640, 180, 24, 34, 26
    height = top + row * max(len(bars), 1) + 62
    values = [0.0] + [b[k] for b in bars for k in ("low", "high")]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        lo, hi = lo - 1.0, hi + 1.0
    magnitude = 10.0 ** math.floor(math.log10((hi - lo) / 4))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= (hi - lo) / 4)  # ticks at 1, 2 or 5 x 10^k
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    ticks = [lo + k * step for k in range(round((hi - lo) / step) + 1)]
    decimals = max(0, -math.floor(math.log10(step)))
    span = hi - lo

    def x(v: float) -> float:
        return left + (v - lo) / span * (width - left - right)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'font-family="sans-serif" font-size="11" role="img" aria-label="{escape(title)}">',
             f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>']
    bottom = top + row * len(bars)
    for t in ticks:
        parts.append(f'<line x1="{x(t):.1f}" y1="{top - 4}" x2="{x(t):.1f}" y2="{bottom}" stroke="#ddd"/>'
                     f'<text x="{x(t):.1f}" y="{bottom + 14}" text-anchor="middle">{"0" if abs(t) < step / 2 else f"{t:+,.{decimals}f}"}</text>')
    for i, b in enumerate(bars):
        y = top + i * row
        parts.append(f'<text x="{left - 6}" y="{y + row / 2 + 4}" text-anchor="end">{escape(b["lever"])}</text>')
        for key, colour in (("low", "#d62728"), ("high", "#1f77b4")):
            a, z = sorted((x(0.0), x(b[key])))
            parts.append(f'<rect class="bar-{key}" x="{a:.1f}" y="{y + 4}" width="{max(z - a, 0.5):.1f}" height="{row - 8}" '
                         f'fill="{colour}" fill-opacity="0.8"><title>{escape(b["lever"])} at the {key} end: {b[key]:+.4g}</title></rect>')
    parts.append(f'<line x1="{x(0.0):.1f}" y1="{top - 4}" x2="{x(0.0):.1f}" y2="{bottom}" stroke="#000"/>')
    parts.append(f'<text x="{left + (width - left - right) / 2}" y="{bottom + 32}" text-anchor="middle">{escape(xlabel)}</text>')
    legend = bottom + 50
    parts.append(f'<rect x="{left}" y="{legend - 9}" width="10" height="10" fill="#d62728"/>'
                 f'<text x="{left + 14}" y="{legend}">lever at the low end of its range</text>'
                 f'<rect x="{left + 230}" y="{legend - 9}" width="10" height="10" fill="#1f77b4"/>'
                 f'<text x="{left + 244}" y="{legend}">lever at the high end of its range</text>')
    parts.append("</svg>")
    return "".join(parts)
