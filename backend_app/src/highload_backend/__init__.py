"""The backend service that highload.cluster balances."""

__version__ = "0.1.0"
