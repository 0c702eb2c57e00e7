"""Customers, not just clicks: account health, churn risk and the voice of the customer."""
