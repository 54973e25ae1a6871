"""Evaluations of targets over closed periods, and the per-target schedule the worker keeps."""
