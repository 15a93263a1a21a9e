"""Recordings: upload, list, read, edit and delete audio."""
