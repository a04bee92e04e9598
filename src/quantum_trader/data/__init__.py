"""See DESIGN.md for what this layer holds and may import."""
