"""meshforge: firmware images on demand and LibreNet6 for community networks."""

__version__ = "0.1.0"
