"""Read finished sweeps back from MLflow, label each curve and draw the figures.

Modules:
    regimes: classify one loss curve into a regime from its late window.
    runs: load an experiment's runs, params, metrics and curves.
    regime_map: heatmap and regime map over the (a, b) plane, and cells.csv.
    curves: loss curves of every config, by step or by time = lr * step.
"""
