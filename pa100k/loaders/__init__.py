"""Loaders for the official releases; importing this package registers them."""
