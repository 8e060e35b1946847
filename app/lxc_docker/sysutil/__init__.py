"""sysutil package."""
