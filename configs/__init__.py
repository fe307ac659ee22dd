# Makes configs/ importable as the package `gantrain.configs` (see pyproject.toml), so Hydra
# finds these files from a wheel install as well as from a checkout.
