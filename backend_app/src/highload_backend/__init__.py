"""The backend service that highload.cluster balances."""

from importlib.metadata import version

# Written once, in pyproject.toml; the installed package's metadata carries it.
__version__ = version("highload-backend")
