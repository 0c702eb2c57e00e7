"""Rendering: reports and charts. Never queries; takes computed results."""
