"""The Tune and Tuning job pages' parts."""
