# Makes configs/ importable as the package `gantrain.configs` (see pyproject.toml), so Hydra
# finds these files from a wheel install as well as from a checkout.
# Resolvers the YAMLs use (`${gantrain.stylegan2_ada_auto:...}` in experiment/stylegan2_ada.yaml)
# are registered on import, so any composition of these configs can resolve them.
import gantrain.recipes  # noqa: F401
