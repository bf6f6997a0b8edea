"""The officers' web interface and the terminal lookup (see docs/WEB.md)."""
