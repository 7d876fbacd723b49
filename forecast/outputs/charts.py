"""Fan charts: history, median and the 80/95% bands, one colour per scenario.

Rendered with matplotlib's Agg backend (no display needed), to PNG or SVG bytes.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

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
        for level, alpha in ((95, 0.12), (80, 0.25)):
            if rows and f"lo-{level}" in rows[0]:
                ax.fill_between(x, [r[f"lo-{level}"] for r in rows], [r[f"hi-{level}"] for r in rows], color=colour, alpha=alpha, lw=0)
        ax.plot(x, [r["median"] for r in rows], "-", color=colour, lw=2, label=f"{scenario} (median, 80/95%)")
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
    from forecast.registry.periods import parse_period
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
