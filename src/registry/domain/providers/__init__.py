"""Providers of social services and their register."""
