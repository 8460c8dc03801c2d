"""System checks: filled in with the service."""
