"""Fan charts: history, median and the bands (`defaults.LEVELS`: 80 and 95%), one colour per scenario.

Rendered with matplotlib's Agg backend (no display needed), to PNG or SVG bytes.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from smfcast.defaults import LEVELS  # noqa: E402

COLOURS = {"baseline": "#1f77b4", "policy_targets": "#2ca02c", "adverse": "#d62728", "policy_targets_adverse": "#9467bd"}
_EXTRA = ["#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def fan_chart(title: str, unit: str, history: list[dict], bands: dict[str, list[dict]], fmt: str = "png") -> bytes:
    """`history`: [{period, value}]; `bands`: scenario -> forecast rows with median, lo-/hi-80/95."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    hx = [_x(h["period"]) for h in history]
    ax.plot(hx, [h["value"] for h in history], "o-", color="black", label="observed", zorder=5)
    for i, (scenario, rows) in enumerate(bands.items()):
        colour = COLOURS.get(scenario, _EXTRA[i % len(_EXTRA)])
        x = [_x(r["period"]) for r in rows]
        for level, alpha in zip(sorted(LEVELS, reverse=True), (0.12, 0.25)):  # the wider band paler, underneath
            if rows and f"lo-{level}" in rows[0]:
                ax.fill_between(x, [r[f"lo-{level}"] for r in rows], [r[f"hi-{level}"] for r in rows], color=colour, alpha=alpha, lw=0)
        ax.plot(x, [r["median"] for r in rows], "-", color=colour, lw=2, label=f"{scenario} (median, {'/'.join(map(str, LEVELS))}%)")
    ax.set_title(title)
    ax.set_ylabel(unit)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    plt.close(fig)
    return buf.getvalue()


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
