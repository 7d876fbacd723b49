"""The data registry: series metadata, observations and their sources, periods, the regular grid
models need, and the transforms between natural units and model space. Knows nothing of models."""
