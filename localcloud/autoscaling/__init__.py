"""Application Auto Scaling: scalable targets, target-tracking and step policies, scheduled actions, and the engine
that scales what it is handed."""
