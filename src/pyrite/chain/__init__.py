"""chain layer."""
