"""The Security page's parts."""
