"""Test doubles for product APIs that cannot run on this machine (Avi, NSX-T).

Each module here is a DOUBLE, not the product: it says at its top which vendor schema it enforces.
`tls.serve_https` gives every double a real HTTPS listener on 127.0.0.1 with a throw-away CA.
"""
