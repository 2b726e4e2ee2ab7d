"""Connectors: one module per helpdesk, the CSV import and the demo generator."""
