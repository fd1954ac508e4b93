"""script layer."""
