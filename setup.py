"""Package discovery that pyproject.toml cannot express (metadata lives in pyproject.toml).

`configs/` sits at the top of the checkout, where users look for it, and ships inside the
package as `gantrain.configs`, so Hydra finds the same configs from a wheel install as from
a checkout (hydra#717, #2448).
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["gantrain", "gantrain.*"]), "gantrain.configs"],
    package_dir={"gantrain.configs": "configs"},
)
