"""The metrics layer: metrics.yaml definitions compiled to Ibis expressions."""
