"""What every capability shares: the boto3 clients, errors people can act on, who may do what, and prices."""
