"""The dashboard's capabilities, one package each (data, training, tuning, serving, functions, security,
overview) over a small core (clients and their base class, errors, access, pricing), talking to the cloud only
through boto3.

Nothing here imports streamlit, so every function can be used from a script or a test, and nothing
here asks which cloud it talks to: `core.clients.CloudSettings` (endpoint URL, profile, region) is the only
difference between AWS and localcloud.
"""
