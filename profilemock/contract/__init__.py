"""Contract testing against the real API: the validating proxy and the recorder.

They sit above the fake server (they reuse its journal, admin API, error envelope and
serving) and below the test API and the command line.
"""
