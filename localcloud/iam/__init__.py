"""IAM in localcloud: policy documents, their evaluation, the roles that hold them, and their enforcement."""
