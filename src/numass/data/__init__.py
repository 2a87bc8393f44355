"""Data layer: registry of public data sets, the data directory, verification, fetching, loading."""
