"""Who signed a request and what they may do: SigV4 (and SigV2) verification, access keys, IAM's policy language and
the authorizer, and the role sessions the services that run code ask STS for."""
