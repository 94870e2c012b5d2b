"""Widgets that render a run record: panels, charts, tables, images."""
