"""Families (households) and their members."""
