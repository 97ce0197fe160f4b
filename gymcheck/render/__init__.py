"""Renderers: each turns a finished ``Report`` into one format and computes nothing."""
