"""warmray."""
