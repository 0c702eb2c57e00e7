"""impactlens: measure the customer impact of engineering work."""

__version__ = "0.1.0"
