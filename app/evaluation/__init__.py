"""The Evaluate page's parts: the form that starts an evaluation, its results, and the comparison of two."""
