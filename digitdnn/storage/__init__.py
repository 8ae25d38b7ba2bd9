"""What outlives a session: saved models (and the checks on `.keras` files), the class's drawings, the server's
default model."""
