"""numass: weigh the explanations of the negative neutrino mass preference on public data."""

__version__ = "0.1.0"
