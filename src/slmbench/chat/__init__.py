"""`slmbench chat`: a Chainlit web UI over one or several model endpoints.

launcher.py runs Chainlit as a supervised child process on a free port; app.py is the
Chainlit app itself (run only inside that child); engine.py holds what the app does that
needs no Chainlit (requests, history trimming, documents), so that it can be tested alone.
"""
