"""Security: the dashboard's users and viewer identity, the account's roles, policy audits and least privilege."""
