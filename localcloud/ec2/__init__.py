"""Amazon EC2: instances as local machines that run their user data."""
