"""Alerts: compose an alert from a change and deliver it to the configured routes."""
