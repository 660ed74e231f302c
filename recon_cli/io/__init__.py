"""Readers and writers. ``read_scan`` detects the format from the file's content."""

from recon_cli.io.detect import detect_format, read_scan

__all__ = ["detect_format", "read_scan"]
