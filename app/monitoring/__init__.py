"""The Monitor page's parts: traffic and answers from the captures, drift and its alarm, and the review queue."""
