"""Runs the pure libraries (documents, liveness) on uploads, off the event loop and bounded:
intake first, then the step's analyser; every model loaded once at start-up."""
