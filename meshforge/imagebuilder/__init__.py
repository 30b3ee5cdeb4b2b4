"""imagebuilder."""
