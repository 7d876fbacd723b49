"""The defaults every layer shares, defined once: the members, the ensemble's name, band levels,
the seed and the number of sample paths. The CLI, the API and the engine all read them from here."""

MEMBERS = ("arima", "prophet", "ets", "theta")  # the forecasting models every run fits
ENSEMBLE = "ensemble"  # the name under which the combination of the members is stored and served
LEVELS = (80, 95)  # central band levels (percent) served unless a request asks for others
SEED = 20260101  # the default random seed of runs, backtests and validations
N_PATHS = 2000  # sample paths per model in a run
MAX_N_PATHS = 10_000  # the most a refit may ask for (a run stores n_paths x years x models x scenarios floats)
