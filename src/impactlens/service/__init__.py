"""Analyses that combine the warehouse, the metrics layer and the statistics."""
