"""Screens: the dashboard and the quit confirmation."""
