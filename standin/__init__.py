"""A stand-in ImageBuilder for tests and the demo. Never imported by meshforge."""
