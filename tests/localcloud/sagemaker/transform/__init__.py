"""Batch transform: jobs against a real localcloud (the real classifier on real photos, a probe model for the rest)
and record handling in-process."""
