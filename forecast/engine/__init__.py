"""Fitting and judging forecasts: accuracy metrics, member combination, rolling-origin backtests,
band calibration, the provincial method, the headline-metric forecast and external validation."""
