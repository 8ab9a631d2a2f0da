"""One chart for the evaluation scripts (ask_eval.py, tools_eval.py): horizontal grouped bars of
shares (0..1), one group per metric and one bar per condition, as an SVG (matplotlib)."""


def grouped_bars(path, title, labels, series, height=4.0):
    """labels: the metrics' names; series: {condition: [value per metric]}. Does nothing without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(8, height))
    w = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        bars = ax.barh([j + i * w for j in range(len(labels))], values, w, label=name)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    ax.set_yticks([j + w * (len(series) - 1) / 2 for j in range(len(labels))], labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
