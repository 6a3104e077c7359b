"""The dashboard's capabilities, one module each, talking to the cloud only through boto3.

Nothing here imports streamlit, so every function can be used from a script or a test, and nothing
here asks which cloud it talks to: `clients.CloudSettings` (endpoint URL, profile, region) is the only
difference between AWS and localcloud.
"""
